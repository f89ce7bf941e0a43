"""``MIST_DISABLED=1``: every tracing call becomes a near-free no-op.

The objects ``mist.trace`` / ``mist.span`` return then have every public attribute and method of
:class:`mist.Trace` / :class:`mist.Span` (``spent_usd``, ``usage``, ``score``, ``record``…), so code
written against the real ones runs unchanged (a test compares the two). Nothing is allocated per
call: one shared object answers, and its methods return it.

For type checkers ``span`` and ``trace`` are the real classes (same call signatures, a
:class:`mist.Span` / :class:`mist.Trace` returned) and ``wrap`` keeps the function's signature, so
code typed against the real API is typed against this one (``mist/__init__`` shows checkers the
real objects either way).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Literal, Optional, ParamSpec, TypeVar

__all__ = ["span", "trace", "wrap", "emit_span"]

P = ParamSpec("P")
R = TypeVar("R")


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """Disabled: ``fn`` itself."""
    return fn


def emit_span(operation: str, start_ns: int, end_ns: int, *, span_id: Optional[str] = None, **_: Any) -> str:
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
    budget_usd = None
    traceparent = ""
    attrs: Dict[str, Any] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> "_NoopSpan":
        return self

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Literal[False]:
        return False

    async def __aenter__(self) -> "_NoopSpan":
        return self

    async def __aexit__(self, *exc: Any) -> Literal[False]:
        return False

    def _self(self, *args: Any, **kwargs: Any) -> "_NoopSpan":
        return self

    set = usage = record = score = error = _self

    def end(self, exc: Optional[BaseException] = None) -> None:
        return None

    def __repr__(self) -> str:
        return "<mist.Span (disabled)>"


_NOOP = _NoopSpan()

if TYPE_CHECKING:
    # the real classes' call signatures and types: the one shared no-op object stands in for both
    from .span import Span as span, Trace as trace
else:
    def span(*args: Any, **kwargs: Any) -> _NoopSpan:
        """Disabled: one shared no-op span, nothing allocated per call."""
        return _NOOP

    trace = span
