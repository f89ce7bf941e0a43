"""Every environment variable mist reads, in one place: ``MIST_*`` here, ``OTEL_*`` for the OTLP sink.

Each function reads the environment when called (so a test or a late ``os.environ`` change is
seen by the next ``configure()``) and returns None when the variable is unset or blank. A malformed
value raises :class:`mist.errors.ConfigError` naming the variable and what it accepts.

=========================  ================================================================
variable                   meaning
=========================  ================================================================
MIST_DISABLED              1: every tracing call is a near-free no-op (read once, at import)
MIST_PURE_PYTHON           1: use the pure-Python core even when the native one is built
MIST_SINK                  where traces go (``file://…``, ``stdout://``, ``http://…``, ``otlp://…``);
                           unset: ``otlp://`` when an OTLP endpoint variable is set, else
                           ``file://mist-traces.jsonl``
MIST_SOURCE                the envelopes' ``source`` (default: OTEL_SERVICE_NAME, else the program's name)
MIST_CAPTURE_CONTENT       1: record prompts and answers of instrumented calls (redacted)
MIST_REDACT                extra redaction regexes: one, or a JSON list
MIST_ALERTS                0: no live regression alerts
MIST_ALERT_STATE           a file that keeps the detectors' state across restarts
MIST_ALERT_FLOORS          the alerts' practical-significance floors: ``latency_ms=0.3,cost_usd=0.1``
MIST_PRICES                a price table file (or JSON) added to the bundled one
MIST_BATCH_BYTES           bytes per batch handed to the sinks
MIST_FLUSH_INTERVAL        seconds between flushes
MIST_MAX_BUFFER_BYTES      memory bound of the span buffer
MIST_SAMPLE                fraction of traces kept (0..1)
MIST_EXIT_TIMEOUT          seconds the exit flush may take (default 5)
MIST_FLUSH_ON_SIGTERM      1: flush on SIGTERM, then die as SIGTERM would
MIST_HTTP_HEADERS          ``k=v,k2=v2`` headers of the HTTP sink (also MIST_HTTP_TIMEOUT…)
OTEL_EXPORTER_OTLP_*       endpoint, headers, timeout, compression of the OTLP sink;
                           ``…_ENDPOINT`` or ``…_TRACES_ENDPOINT`` alone (no MIST_SINK) selects it
OTEL_SERVICE_NAME          the OTLP resource's service.name (wins over OTEL_RESOURCE_ATTRIBUTES')
OTEL_RESOURCE_ATTRIBUTES   ``k=v,…`` (values percent-decoded): the OTLP resource's attributes
=========================  ================================================================

The sinks read their own ``MIST_HTTP_*`` / ``OTEL_*`` variables through the ``environ`` mapping
they are given (``os.environ`` by default), so a sink can be built for another environment.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .errors import ConfigError

__all__ = [
    "flag", "env_bool", "env_number", "env_str", "disabled", "pure_python", "alert_state", "exit_timeout",
    "flush_on_sigterm", "default_sink", "otlp_var", "otlp_endpoint", "otlp_headers", "otel_resource", "http_headers", "spool_dir",
    "ALERT_FLOORS", "alert_floors", "parse_alert_floors",
]

OTLP_TRACES_PATH = "/v1/traces"


def env_str(name: str) -> Optional[str]:
    """The variable's value, None when unset or blank."""
    v = os.environ.get(name)
    return v if v is not None and v.strip() else None


def flag(name: str) -> bool:
    """A switch that is on unless unset, blank or ``0`` (MIST_DISABLED, MIST_PURE_PYTHON…)."""
    return os.environ.get(name, "").strip() not in ("", "0")


def env_bool(name: str) -> Optional[bool]:
    v = env_str(name)
    if v is None:
        return None
    v = v.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={v!r}: expected 1/0, true/false, yes/no or on/off")


def env_number(name: str, kind: Callable[[str], Any]) -> Any:
    v = env_str(name)
    if v is None:
        return None
    try:
        return kind(v.strip())
    except ValueError:
        raise ConfigError(f"{name}={v!r}: expected a {kind.__name__}") from None


def disabled() -> bool:
    return flag("MIST_DISABLED")


def pure_python() -> bool:
    return flag("MIST_PURE_PYTHON")


def flush_on_sigterm() -> bool:
    return flag("MIST_FLUSH_ON_SIGTERM")


def alert_state() -> Optional[str]:
    return env_str("MIST_ALERT_STATE")


def exit_timeout() -> float:
    try:
        return float(env_str("MIST_EXIT_TIMEOUT") or 5)
    except ValueError:
        return 5.0


def default_sink(fallback: str) -> str:
    """The sink when neither ``configure(sink=…)`` nor ``MIST_SINK`` names one: ``otlp://`` (the
    endpoint from the environment) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set -- *instead of* the file sink, as an OpenTelemetry
    SDK exports only where it is told; ``MIST_SINK=file://mist-traces.jsonl,otlp://`` keeps both --
    else ``fallback`` (the file sink)."""
    return "otlp://" if otlp_endpoint(os.environ) else fallback


# ---- the sinks' variables, read from the mapping a sink is built with (os.environ by default) ----


def otlp_var(environ: Mapping[str, str], name: str) -> Optional[str]:
    """``OTEL_EXPORTER_OTLP_TRACES_<name>`` or ``OTEL_EXPORTER_OTLP_<name>``, stripped, or None."""
    for var in (f"OTEL_EXPORTER_OTLP_TRACES_{name}", f"OTEL_EXPORTER_OTLP_{name}"):
        value = environ.get(var)
        if value is not None and value.strip():
            return value.strip()
    return None


def otlp_endpoint(environ: Mapping[str, str]) -> Optional[str]:
    """The traces endpoint: ``…_TRACES_ENDPOINT`` as given, or ``…_ENDPOINT`` + ``/v1/traces``."""
    traces = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return base.rstrip("/") + OTLP_TRACES_PATH
    return None


def otel_resource(environ: Mapping[str, str]) -> "tuple[Optional[str], list[tuple[str, str]]]":
    """``(service_name, [(key, value), …])`` of the OTLP resource, from ``OTEL_SERVICE_NAME`` and
    ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, values percent-decoded, as the OpenTelemetry SDKs
    read it). ``service_name`` is ``OTEL_SERVICE_NAME``, else the ``service.name`` of the attributes,
    else None (the sink then uses each envelope's ``source``). A malformed attributes value is
    ignored whole with a ``RuntimeWarning``, as the OpenTelemetry specification says."""
    import urllib.parse
    import warnings

    attrs: "list[tuple[str, str]]" = []
    raw = environ.get("OTEL_RESOURCE_ATTRIBUTES", "").strip()
    if raw:
        parsed = []
        for part in raw.split(","):
            if not part.strip():
                continue
            key, eq, value = part.partition("=")
            key = key.strip()
            if not eq or not key:
                warnings.warn(f"OTEL_RESOURCE_ATTRIBUTES: {part.strip()!r} is not key=value; the variable is ignored",
                              RuntimeWarning, stacklevel=2)
                parsed = []
                break
            parsed.append((key, urllib.parse.unquote(value.strip(), errors="strict")
                           if "%" in value else value.strip()))
        seen: Dict[str, int] = {}
        for key, value in parsed:  # a repeated key: the last value wins, at its first place
            if key in seen:
                attrs[seen[key]] = (key, value)
            else:
                seen[key] = len(attrs)
                attrs.append((key, value))
    service = environ.get("OTEL_SERVICE_NAME", "").strip() or dict(attrs).get("service.name") or None
    return service, [(k, v) for k, v in attrs if k != "service.name"]


def otlp_headers(environ: Mapping[str, str]) -> "list[tuple[str, Optional[str]]]":
    """(variable, raw ``k=v,…`` value) of the OTLP header variables, the traces-specific one last."""
    return [(v, environ.get(v)) for v in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")]


def http_headers(environ: Mapping[str, str]) -> Optional[str]:
    """``MIST_HTTP_HEADERS``: ``k=v,…`` headers of the HTTP sink (never sent to OTLP endpoints)."""
    return environ.get("MIST_HTTP_HEADERS")


def spool_dir(environ: Mapping[str, str]) -> Optional[str]:
    """``MIST_SPOOL_DIR`` (else the sinks spool under ``$XDG_STATE_HOME``)."""
    return environ.get("MIST_SPOOL_DIR")


# ---- the alerts' practical-significance floors (MIST_ALERT_FLOORS, configure(alert_floors=…)) ----

#: The default floors: an alert fires only when its change is at least this big (and the detector
#: found it statistically).  ``latency_ms``, ``tokens_out``, ``cost_usd``, ``trace_cost_usd``: a
#: relative rise of the median, as a fraction (0.2 = +20 %).  ``error_rate``: ``(points, ratio)``,
#: a rise of at least ``points`` (0.02 = 2 percentage points) *and* to at least ``ratio`` × the
#: baseline rate.  ``score`` (every ``score.<name>`` series): an absolute drop in the score's own
#: units (0.05), which for a pass/fail score is its pass rate (0.05 = 5 points).
ALERT_FLOORS: Dict[str, Any] = {
    "latency_ms": 0.20, "tokens_out": 0.20, "cost_usd": 0.15, "trace_cost_usd": 0.15,
    "error_rate": (0.02, 1.5), "score": 0.05,
}
_RELATIVE_FLOORS = ("latency_ms", "tokens_out", "cost_usd", "trace_cost_usd")
_FLOOR_KEYS = ("latency_ms, cost_usd, tokens_out, trace_cost_usd, error_rate, score or "
               "score.<name>, optionally after OPERATION: or OPERATION/MODEL:")


def alert_floors() -> Optional[Dict[str, Any]]:
    """``MIST_ALERT_FLOORS`` parsed (:func:`parse_alert_floors`), None when unset."""
    v = env_str("MIST_ALERT_FLOORS")
    return None if v is None else parse_alert_floors(v, "MIST_ALERT_FLOORS")


def parse_alert_floors(value: Any, option: str = "alert_floors") -> Dict[str, Any]:
    """The floors a user gave, checked and normalised: ``{key: float}``, ``{key: (points, ratio)}``
    for ``error_rate`` keys.  Only the given keys: the others keep their defaults
    (:data:`ALERT_FLOORS`).  Raises :class:`ConfigError` naming ``option``.

    ``value``: a dict ``{key: floor}``, or a string ``key=floor,key=floor`` (or a JSON object).
    A key is a metric -- ``latency_ms``, ``cost_usd``, ``tokens_out``, ``trace_cost_usd``,
    ``error_rate``, ``score`` (every score series) or ``score.<name>`` -- optionally after the
    series it applies to: ``OPERATION:metric`` (any model) or ``OPERATION/MODEL:metric``, as the
    alert messages name series.  A floor is a number (a string may end in ``%``: ``20%`` = 0.2;
    ``off`` = 0, no floor); an ``error_rate`` floor is ``points`` or ``(points, ratio)`` -- as a
    string ``points:ratio``, e.g. ``0.02:1.5``; given alone, ``points`` keeps the default ratio."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                raise ConfigError(f"{option}={value!r}: not a valid JSON object") from None
        else:
            items: Dict[str, Any] = {}
            for part in text.split(","):
                if not part.strip():
                    continue
                key, eq, floor = part.rpartition("=")
                if not eq or not key.strip():
                    raise ConfigError(f"{option}: {part.strip()!r}: expected metric=floor, "
                                      "e.g. latency_ms=0.3")
                items[key.strip()] = floor.strip()
            value = items
    if not isinstance(value, dict):
        raise ConfigError(f"{option}={value!r}: expected a dict {{metric: floor}} or a string "
                          "'metric=floor,…', e.g. 'latency_ms=0.3,cost_usd=0.1'")
    out: Dict[str, Any] = {}
    for key, floor in value.items():
        k = _floor_key(key, option)
        metric = k.rpartition(":")[2]
        if metric == "error_rate":
            out[k] = _error_floor(floor, option, k)
        elif metric in _RELATIVE_FLOORS:
            out[k] = _floor_number(floor, option, k, 10.0,
                                   "a relative rise from 0 to 10 (0.2 = +20%; 0 = no floor)")
        else:
            out[k] = _floor_number(floor, option, k, math.inf,
                                   "an absolute drop >= 0 in the score's units (0.05; for a "
                                   "pass rate 0.05 = 5 points; 0 = no floor)")
    return out


def _floor_key(key: Any, option: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ConfigError(f"{option}: {key!r} is not a metric (expected {_FLOOR_KEYS})")
    series, sep, metric = key.strip().rpartition(":")
    metric = metric.strip()
    if not (metric in ALERT_FLOORS or (metric.startswith("score.") and len(metric) > 6)) or (
            sep and not series.strip()):
        raise ConfigError(f"{option}: unknown floor {key.strip()!r} (expected {_FLOOR_KEYS})")
    return f"{series.strip()}:{metric}" if sep else metric


def _floor_number(v: Any, option: str, key: str, hi: float, what: str) -> float:
    x: Optional[float] = None
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("off", "none"):
            return 0.0
        pct = s.endswith("%")
        try:
            x = float(s[:-1] if pct else s)
        except ValueError:
            x = None
        if x is not None and pct:
            x /= 100.0
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        x = float(v)
    if x is None or not (0.0 <= x <= hi):  # (False for NaN)
        raise ConfigError(f"{option}: {key}={v!r}: expected {what}")
    return x


def _error_floor(v: Any, option: str, key: str) -> Tuple[float, float]:
    what = ("points from 0 to 1 (0.02 = 2 points), or points and a ratio >= 1: (0.02, 1.5), "
            "as a string 0.02:1.5")
    ratio: Any = ALERT_FLOORS["error_rate"][1]
    if isinstance(v, str) and ":" in v:
        v, _, ratio = v.partition(":")
        ratio = ratio.strip().rstrip("x×")
    elif isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise ConfigError(f"{option}: {key}={v!r}: expected {what}")
        v, ratio = v
    elif isinstance(v, str) and v.strip().lower() in ("off", "none"):
        return (0.0, 1.0)
    points = _floor_number(v, option, key, 1.0, what)
    r = _floor_number(ratio, option, key, 1e6, what)
    if r < 1.0:
        raise ConfigError(f"{option}: {key}: ratio {ratio!r}: expected a number >= 1 (1.5 = the "
                          "rate must at least be 1.5 × its baseline; 1 = no relative floor)")
    return (points, r)
