"""The current span of this context (a ``ContextVar``: threads with copied context and asyncio tasks
see their own), its W3C ``traceparent``, and :func:`wrap`, which carries the context into threads.

When OpenTelemetry is loaded, the innermost of mist's and OpenTelemetry's current spans is the
parent of new spans (:mod:`.otel_bridge` has the rule)."""
from __future__ import annotations

import contextvars
import functools
from contextvars import ContextVar
from typing import Any, Callable, ParamSpec, TypeVar

from ..core import runtime
from . import otel_bridge as _otel

_current: "ContextVar[Any]" = ContextVar("mist.current_span", default=None)
_OTEL = _otel.MODULE
_modules = _otel.modules

P = ParamSpec("P")
R = TypeVar("R")


class _Parent:
    """What the core asks for the parent of an ``emit_span`` given no ids: ``get(None)`` is the
    current mist span (the ``ContextVar``'s own ``get``: nothing added on the hot path); only when
    ``opentelemetry.trace`` is in ``sys.modules`` does the core also call ``outer(cur)``, which
    returns OpenTelemetry's current span instead (an object with ``trace_id`` and ``span_id``)
    when that one is innermost."""

    def __init__(self) -> None:
        self.get = _current.get

    @staticmethod
    def outer(cur: Any) -> Any:
        p = _otel.outer_parent()
        return cur if p is None else _otel.Ids(*p)


runtime.use_context(_Parent())  # the core reads the current parent's ids for emit_span


def current_span() -> Any:
    """The innermost open span in this context (a :class:`mist.Span`), or None. (Typed as such
    where :mod:`.span` re-exports it: this module is below it and cannot name the class.)"""
    return _current.get()


def traceparent() -> str:
    """W3C ``traceparent`` header for the current span ("" when there is none). With OpenTelemetry
    loaded, an OpenTelemetry span that is innermost (or alone) is the current span."""
    if _OTEL in _modules:
        tp = _otel.traceparent()
        if tp:
            return tp
    s = _current.get()
    return s.traceparent if s is not None else ""


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, to run in another thread with this context: the current trace, span and budget (and
    OpenTelemetry's current span). ``pool.submit(mist.wrap(work), x)``, ``pool.map(mist.wrap(work),
    xs)``, ``threading.Thread(target=mist.wrap(work))``. The context is captured now; each call runs
    in its own copy of it, so one wrapped function may run in several threads at once."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context
