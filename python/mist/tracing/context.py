"""The current span of this context (a ``ContextVar``: threads with copied context and asyncio tasks
see their own) and its W3C ``traceparent``."""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from ..core import runtime

_current: "ContextVar[Any]" = ContextVar("mist.current_span", default=None)
runtime.use_context(_current)  # the core reads the current span's ids for emit_span


def current_span() -> Any:
    """The innermost open span in this context (a :class:`mist.Span`), or None."""
    return _current.get()


def traceparent() -> str:
    """W3C ``traceparent`` header for the current span ("" when there is none)."""
    s = _current.get()
    return s.traceparent if s is not None else ""
