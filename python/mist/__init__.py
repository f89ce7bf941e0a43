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

from typing import TYPE_CHECKING

from . import alerts, codec, config
from .alerts import pipeline as _alert_pipeline
from .alerts.delivery import on_alert
from .core import hooks as _hooks
from .core.backend import backend
from .core.runtime import configure, disabled as _disabled, flush, shutdown, stats
from .costs import unpriced as _unpriced
from .errors import BudgetExceeded, ConfigError
from .instrument import instrument, is_instrumented, uninstrument
from .tracing import Span, Trace, current_span, score, step, traceparent
from .validation import validate
from .validation.reader import read

__all__ = [
    "configure", "flush", "shutdown", "stats", "backend",
    "trace", "span", "step", "Span", "Trace", "current_span", "traceparent",
    "emit_span", "wrap", "score", "instrument", "uninstrument", "is_instrumented", "on_alert", "read", "validate",
    "BudgetExceeded", "ConfigError", "codec", "alerts",
]
__version__ = "0.1.0"

# what hangs off finished spans: one hook, two observers (see mist.core.hooks)
_hooks.add_observer(_unpriced.observer)
_hooks.add_observer(_alert_pipeline.observer)

if TYPE_CHECKING:  # checkers see the real API; the no-ops of MIST_DISABLED=1 have the same types
    from ._native import emit_span
    from .tracing import span, trace, wrap
elif _disabled:
    from .tracing.disabled import emit_span, span, trace, wrap  # noqa: F401  near-free no-ops
else:
    from .core.backend import core as _core
    from .tracing import span, trace, wrap  # noqa: F401

    emit_span = _core.emit_span
if not _disabled:
    try:
        configure()
    except ConfigError as _exc:  # a bad environment must not break `import mist`
        import sys as _sys

        print(f"mist: {_exc}; tracing to the default sink instead", file=_sys.stderr)
        configure("file://mist-traces.jsonl", source=None)
    if config.flush_on_sigterm():
        from .core.runtime import install_sigterm_handler as _install

        _install()
