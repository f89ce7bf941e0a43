"""``MIST_DISABLED=1``: every tracing call becomes a near-free no-op."""
from __future__ import annotations

from typing import Any, Optional


def emit_span(operation: Any, start_ns: Any, end_ns: Any, *, span_id: Optional[str] = None, **_: Any) -> str:
    return span_id or ""


class _NoopSpan:
    __slots__ = ()
    trace_id = "0" * 32
    span_id = "0" * 16
    parent_id = None
    cost_usd = None
    traceparent = ""
    attrs: dict = {}

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

    set = usage = record = score = error = end = _self


_NOOP = _NoopSpan()


def span(*args: Any, **kwargs: Any) -> _NoopSpan:
    """Disabled: one shared no-op span, nothing allocated per call."""
    return _NOOP


trace = span
