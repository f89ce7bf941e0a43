"""Process-wide state: configuration, the writer, flush/shutdown, stats, fork and exit hooks."""
from __future__ import annotations

import atexit
import json
import os
import re
import signal
import sys
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .. import config
from ..costs.table import PriceTable
from ..errors import ConfigError
from ..redact import Redactor
from ..sinks import open_sinks
from ..sinks.base import Sink
from . import hooks
from .backend import backend, core
from .writer import Writer

DEFAULT_SINK = "file://mist-traces.jsonl"
DEFAULTS = {"batch_bytes": 256 * 1024, "flush_interval": 1.0, "max_buffer_bytes": 32 * 1024 * 1024}

disabled = config.disabled()


def _program_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name.endswith(".py"):
        name = name[:-3]
    return name if name and name not in ("-c", "-m", "-") else "python"


class Settings:
    """What spans consult at run time (kept apart from the buffer's own configuration)."""

    __slots__ = ("source", "capture_content", "redactor", "alerts", "alert_floors", "prices", "sample",
                 "sink_spec")

    def __init__(self) -> None:
        self.source = _program_name()
        self.capture_content = False
        self.redactor: Any = None
        self.alerts = True
        # the alerts' practical-significance floors given (checked, normalised: see
        # mist.config.parse_alert_floors; {} = the defaults); the live alert engine takes a new
        # object as new floors
        self.alert_floors: Dict[str, Any] = {}
        self.prices: Any = None
        self.sample = 1.0
        self.sink_spec = DEFAULT_SINK


settings = Settings()
writer = Writer(core)
_configure_lock = threading.RLock()
_current_ctx: Any = None  # the ContextVar of the current span (mist.tracing.context)


def use_context(ctx: Any) -> None:
    """The ContextVar holding the current span, whose ids the core reads in ``emit_span``."""
    global _current_ctx
    _current_ctx = ctx


def _check_number(opt: str, v: Any, lo: float, hi: float, integer: bool = False) -> Any:
    ok_type = (int,) if integer else (int, float)
    if isinstance(v, bool) or not isinstance(v, ok_type) or not (lo <= v <= hi):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"configure({opt}={v!r}): expected {what} from {lo:g} to {hi:g}")
    return v


# What configure(redact=...) takes: a regex, a callable str -> str, or a list or tuple of these.
_Redaction = Union[str, "re.Pattern[str]", Callable[[str], str]]


def configure(
    sink: Union[str, Sink, Sequence[Union[str, Sink]], None] = None,
    *,
    source: Optional[str] = None,
    capture_content: Optional[bool] = None,
    redact: Union[str, Callable[[str], str], Sequence[_Redaction], None] = None,
    alerts: Optional[bool] = None,
    alert_floors: Union[str, Dict[str, Any], None] = None,
    prices: Union[str, "os.PathLike[str]", Mapping[str, Any], None] = None,
    batch_bytes: Optional[int] = None,
    flush_interval: Optional[float] = None,
    max_buffer_bytes: Optional[int] = None,
    sample: Optional[float] = None,
) -> None:
    """Set where traces go and how. Every argument left as None comes from the environment
    (``MIST_SINK``, ``MIST_SOURCE``, ``MIST_CAPTURE_CONTENT``, ``MIST_REDACT``, ``MIST_ALERTS``,
    ``MIST_ALERT_FLOORS``, ``MIST_PRICES``, ``MIST_BATCH_BYTES``, ``MIST_FLUSH_INTERVAL``,
    ``MIST_MAX_BUFFER_BYTES``, ``MIST_SAMPLE``), else the default. Raises
    :class:`mist.errors.ConfigError` naming a bad option; nothing changes when it does.

    ``alert_floors``: how big a change must be to alert, per metric and optionally per series,
    overriding the defaults key by key: ``{"latency_ms": 0.3, "cost_usd": 0.1,
    "error_rate": (0.05, 2), "score": 0.1, "chat/gpt-4o:latency_ms": 0.5}`` or the same as a
    string ``"latency_ms=0.3,error_rate=0.05:2"`` (:func:`mist.config.parse_alert_floors`).
    """
    with _configure_lock:
        spec = sink if sink is not None else config.env_str("MIST_SINK") or config.default_sink(DEFAULT_SINK)
        src = source if source is not None else (config.env_str("MIST_SOURCE") or config.env_str("OTEL_SERVICE_NAME")
                                                 or _program_name())
        if not isinstance(src, str) or not src:
            raise ConfigError(f"configure(source={src!r}): expected a non-empty string")
        cap = capture_content if capture_content is not None else config.env_bool("MIST_CAPTURE_CONTENT")
        alr = alerts if alerts is not None else config.env_bool("MIST_ALERTS")
        floors = (config.parse_alert_floors(alert_floors, "configure(alert_floors=...)")
                  if alert_floors is not None else config.alert_floors() or {})
        bb = batch_bytes if batch_bytes is not None else config.env_number("MIST_BATCH_BYTES", int)
        fi = flush_interval if flush_interval is not None else config.env_number("MIST_FLUSH_INTERVAL", float)
        mb = max_buffer_bytes if max_buffer_bytes is not None else config.env_number("MIST_MAX_BUFFER_BYTES", int)
        sm = sample if sample is not None else config.env_number("MIST_SAMPLE", float)
        bb = _check_number("batch_bytes", DEFAULTS["batch_bytes"] if bb is None else bb, 1, 1 << 30, True)
        fi = _check_number("flush_interval", DEFAULTS["flush_interval"] if fi is None else fi, 0.001, 3600)
        mb = _check_number("max_buffer_bytes", DEFAULTS["max_buffer_bytes"] if mb is None else mb, 1, 1 << 40, True)
        if mb < bb:
            raise ConfigError(f"configure(max_buffer_bytes={mb}): must be at least batch_bytes ({bb})")
        sm = _check_number("sample", 1.0 if sm is None else sm, 0.0, 1.0)
        redactor = _make_redactor(redact if redact is not None else config.env_str("MIST_REDACT"))
        table = _load_prices(prices, "prices") if prices is not None else _load_prices(config.env_str("MIST_PRICES"), "MIST_PRICES")
        sinks = _sinks(spec)

        # all options valid: apply
        old = writer.sinks
        if old:
            writer.flush(2.0)
        alerts_on = True if alr is None else bool(alr)
        core.configure(src, bb, mb, float(sm), _current_ctx, _on_fork_detected, pricer=table.per_million,
                       observe=alerts_on and not disabled)
        writer.interval = float(fi)
        writer.sinks = sinks
        if not disabled:
            writer.restart()
        for s in old:
            if s not in sinks:
                writer.close_sinks([s], 2.0)
        settings.source = src
        settings.capture_content = bool(cap)
        settings.redactor = redactor
        settings.alerts = alerts_on
        settings.alert_floors = floors
        settings.prices = table
        settings.sample = float(sm)
        settings.sink_spec = spec if isinstance(spec, str) else repr(spec)
        if alerts_on and not disabled:
            hooks.ensure_started()


def _sinks(spec: Any) -> List[Sink]:
    if isinstance(spec, Sink):
        return [spec]
    if isinstance(spec, str):
        return open_sinks(spec)
    if isinstance(spec, (list, tuple)):
        out: List[Sink] = []
        for s in spec:
            out.extend(_sinks(s))
        if not out:
            raise ConfigError("configure(sink=[]): give at least one sink")
        return out
    raise ConfigError(f"configure(sink={spec!r}): expected a URL string, a Sink or a list of them")


def _make_redactor(redact: Any) -> Any:
    if redact is None:
        redact = []
    if isinstance(redact, str):
        try:
            redact = json.loads(redact) if redact.strip().startswith("[") else [redact]
        except ValueError:
            raise ConfigError(f"MIST_REDACT={redact!r}: expected a regex or a JSON list of regexes") from None
    if callable(redact):
        redact = [redact]
    if not isinstance(redact, (list, tuple)):
        raise ConfigError(f"configure(redact={redact!r}): expected regexes and/or a callable")
    for r in redact:
        if isinstance(r, str):
            try:
                re.compile(r)
            except re.error as exc:
                raise ConfigError(f"configure(redact=...): bad pattern {r!r}: {exc}") from None
        elif not (callable(r) or hasattr(r, "sub")):
            raise ConfigError(f"configure(redact=...): {r!r} is neither a regex nor a callable")
    return Redactor(extra=list(redact))


def _load_prices(src: Any, option: str) -> Any:
    table = PriceTable()
    if src:
        table.update(src, option=option)
    return table


def _on_fork_detected() -> None:
    """Called by the core in a forked child that no Python fork hook reached (e.g. uWSGI)."""
    if core.need_writer():
        writer.after_fork_in_child()
        writer.ensure_started()


def _after_fork_child() -> None:
    core.need_writer()
    writer.after_fork_in_child()
    hooks.after_fork_in_child()
    if settings.alerts and not disabled:
        hooks.ensure_started()
    if not disabled and writer.sinks:
        writer.ensure_started()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_child)


def flush(timeout: float = 5.0) -> bool:
    """Block until everything emitted so far has reached every sink (or ``timeout`` passes)."""
    if disabled:
        return True
    try:
        if settings.alerts:
            hooks.drain()  # alerts about what was emitted so far go out with it
        return writer.flush(timeout)
    except Exception:
        return False


def shutdown(timeout: float = 5.0) -> None:
    """Flush, stop the writer and close the sinks. Also run at interpreter exit."""
    if disabled:
        return
    try:
        if settings.alerts:
            hooks.shutdown()
        writer.stop(timeout)
        writer.close_sinks(writer.sinks, max(0.1, timeout * 0.2))
    except Exception:
        pass


def stats() -> Dict[str, Any]:
    """Counters: emitted, written, dropped (by reason), retries, bytes, queued, per sink."""
    c = core.stats()
    w = writer.snapshot()
    dropped: Dict[str, int] = {}
    if c["dropped_buffer_full"]:
        dropped["buffer_full"] = c["dropped_buffer_full"]
    if c["dropped_encode_error"]:
        dropped["encode_error"] = c["dropped_encode_error"]
    dropped.update(w["dropped"])
    sinks: Dict[str, Any] = {}
    retries = 0
    for s in writer.sinks:
        per = dict(w["sinks"].get(s.url, {"written": 0, "dropped": 0, "errors": {}}))
        try:
            extra = s.stats()
        except Exception:
            extra = {}
        for k, v in extra.items():
            if k == "dropped" and isinstance(v, dict):
                for reason, n in v.items():
                    dropped[f"{s.url}:{reason}"] = dropped.get(f"{s.url}:{reason}", 0) + n
            per.setdefault(k, v)
        retries += int(extra.get("retries", 0) or 0)
        sinks[s.url] = per
    return {
        "backend": backend,
        "emitted": c["emitted"],
        "written": w["written"],
        "dropped": dropped,
        "retries": retries,
        "bytes": c["bytes"],
        "queued": c["queued_bytes"],
        "queued_batches": c["queued_batches"],
        "sampled_out": c["sampled_out"],
        "bad_values": c["bad_values"],
        "alerts": hooks.stats(),
        "sinks": sinks,
    }


def _at_exit() -> None:
    shutdown(config.exit_timeout())


atexit.register(_at_exit)


def install_sigterm_handler() -> bool:
    """Opt-in (``MIST_FLUSH_ON_SIGTERM=1``): on SIGTERM, flush, then die as SIGTERM would.

    Without it a SIGTERM with the default disposition loses at most the last ``flush_interval``
    of spans. Only installed from the main thread, and only over the default disposition.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False

    def _handler(signum: int, frame: Any) -> None:
        shutdown(config.exit_timeout())
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _handler)
    return True
