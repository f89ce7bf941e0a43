"""Every environment variable mist reads, in one place: ``MIST_*`` here, ``OTEL_*`` for the OTLP sink.

Each function reads the environment when called (so a test or a late ``os.environ`` change is
seen by the next ``configure()``) and returns None when the variable is unset or blank. A malformed
value raises :class:`mist.errors.ConfigError` naming the variable and what it accepts.

=========================  ================================================================
variable                   meaning
=========================  ================================================================
MIST_DISABLED              1: every tracing call is a near-free no-op (read once, at import)
MIST_PURE_PYTHON           1: use the pure-Python core even when the native one is built
MIST_SINK                  where traces go (``file://…``, ``stdout://``, ``http://…``, ``otlp://…``)
MIST_SOURCE                the envelopes' ``source`` (default: the program's name)
MIST_CAPTURE_CONTENT       1: record prompts and answers of instrumented calls (redacted)
MIST_REDACT                extra redaction regexes: one, or a JSON list
MIST_ALERTS                0: no live regression alerts
MIST_ALERT_STATE           a file that keeps the detectors' state across restarts
MIST_PRICES                a price table file (or JSON) added to the bundled one
MIST_BATCH_BYTES           bytes per batch handed to the sinks
MIST_FLUSH_INTERVAL        seconds between flushes
MIST_MAX_BUFFER_BYTES      memory bound of the span buffer
MIST_SAMPLE                fraction of traces kept (0..1)
MIST_EXIT_TIMEOUT          seconds the exit flush may take (default 5)
MIST_FLUSH_ON_SIGTERM      1: flush on SIGTERM, then die as SIGTERM would
MIST_HTTP_HEADERS          ``k=v,k2=v2`` headers of the HTTP sink (also MIST_HTTP_TIMEOUT…)
OTEL_EXPORTER_OTLP_*       endpoint, headers, timeout, compression of the OTLP sink
OTEL_SERVICE_NAME          the OTLP resource's service.name
=========================  ================================================================

The sinks read their own ``MIST_HTTP_*`` / ``OTEL_*`` variables through the ``environ`` mapping
they are given (``os.environ`` by default), so a sink can be built for another environment.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional

from .errors import ConfigError

__all__ = [
    "flag", "env_bool", "env_number", "env_str", "disabled", "pure_python", "alert_state", "exit_timeout",
    "flush_on_sigterm", "otlp_var", "otlp_endpoint", "otlp_headers", "http_headers", "spool_dir",
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


def otlp_headers(environ: Mapping[str, str]) -> "list[tuple[str, Optional[str]]]":
    """(variable, raw ``k=v,…`` value) of the OTLP header variables, the traces-specific one last."""
    return [(v, environ.get(v)) for v in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")]


def http_headers(environ: Mapping[str, str]) -> Optional[str]:
    """``MIST_HTTP_HEADERS``: ``k=v,…`` headers of the HTTP sink (never sent to OTLP endpoints)."""
    return environ.get("MIST_HTTP_HEADERS")


def spool_dir(environ: Mapping[str, str]) -> Optional[str]:
    """``MIST_SPOOL_DIR`` (else the sinks spool under ``$XDG_STATE_HOME``)."""
    return environ.get("MIST_SPOOL_DIR")
