"""mist — tracing and regression alerts for LLM inference.

Every inference call, tool call and agent step becomes an MTTP ``trace.span`` (tokens, model,
cost, latency, scores); quality, cost and latency regressions fire ``trace.alert``. Zero runtime
dependencies; the hot path runs in a native extension with a byte-identical pure-Python fallback.

    import mist
    mist.configure("file://traces.jsonl")
    with mist.trace("answer-question", budget_usd=0.25):
        with mist.span("chat", model="gpt-4o-mini") as s:
            s.usage(tokens_in=812, tokens_out=64)
"""
from __future__ import annotations

import os as _os
from typing import Any

from . import codec
from ._alerting import on_alert
from ._backend import backend
from ._runtime import configure, disabled as _disabled, flush, shutdown, stats
from .errors import BudgetExceeded, ConfigError
from .evals import score
from .instrumentation import instrument
from .validation import validate
from .tracing import Span, Trace, current_span, step, traceparent

__all__ = [
    "configure", "flush", "shutdown", "stats", "backend",
    "trace", "span", "step", "Span", "Trace", "current_span", "traceparent",
    "emit_span", "score", "instrument", "on_alert", "read", "validate",
    "BudgetExceeded", "ConfigError", "codec", "alerts",
]
__version__ = "0.1.0"

if _disabled:
    from ._disabled import emit_span, span, trace  # noqa: F401  near-free no-ops
else:
    from ._backend import core as _core
    from .tracing import span, trace  # noqa: F401

    emit_span = _core.emit_span
    try:
        configure()
    except ConfigError as _exc:  # a bad environment must not break `import mist`
        import sys as _sys

        print(f"mist: {_exc}; tracing to the default sink instead", file=_sys.stderr)
        configure("file://mist-traces.jsonl", source=None)
    if _os.environ.get("MIST_FLUSH_ON_SIGTERM", "").strip() not in ("", "0"):
        from ._runtime import install_sigterm_handler as _install

        _install()


def read(path: str, errors: str = "raise") -> Any:
    """Envelopes from a JSONL (or .gz) file; a torn last line is tolerated."""
    from .reader import read as _read

    return _read(path, errors=errors)


def __getattr__(name: str) -> Any:
    if name == "alerts":
        import importlib

        return importlib.import_module(".alerts", __name__)
    raise AttributeError(f"module 'mist' has no attribute {name!r}")
