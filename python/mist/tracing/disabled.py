"""``MIST_DISABLED=1``: every tracing call becomes a near-free no-op.

The objects ``mist.trace`` / ``mist.span`` return then have every public attribute and method of
:class:`mist.Trace` / :class:`mist.Span` (``spent_usd``, ``usage``, ``score``, ``record``…), so code
written against the real ones runs unchanged (a test compares the two). Nothing is allocated per
call: one shared object answers, and its methods return it.
"""
from __future__ import annotations

from typing import Any, Dict, Optional


def wrap(fn: Any) -> Any:
    """Disabled: ``fn`` itself."""
    return fn


def emit_span(operation: Any, start_ns: Any, end_ns: Any, *, span_id: Optional[str] = None, **_: Any) -> str:
    return span_id or ""


class _NoopSpan:
    __slots__ = ()
    operation = ""
    trace_id = "0" * 32
    span_id = "0" * 16
    parent_id = None
    start_ns = 0
    end_ns = 0
    status = "ok"
    cost_usd = None
    spent_usd = 0.0
    traceparent = ""
    attrs: Dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> "_NoopSpan":
        return self

    def __exit__(self, et: Any, exc: Any, tb: Any) -> bool:
        return False

    async def __aenter__(self) -> "_NoopSpan":
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        return False

    def _self(self, *args: Any, **kwargs: Any) -> "_NoopSpan":
        return self

    set = usage = record = score = error = _self

    def end(self, exc: Optional[BaseException] = None) -> None:
        return None

    def __repr__(self) -> str:
        return "<mist.Span (disabled)>"


_NOOP = _NoopSpan()


def span(*args: Any, **kwargs: Any) -> _NoopSpan:
    """Disabled: one shared no-op span, nothing allocated per call."""
    return _NOOP


trace = span
