"""What the framework integrations share: spans opened and ended by callbacks rather than ``with``
blocks (a callback's start and end may come from different threads or tasks), LLM usage read into
span attrs, and content capture."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, Optional

from ..core import runtime as _runtime
from ..errors import BudgetExceeded
from ..instrument.call import redactor
from ..providers import from_response
from ..tracing.span import Span, Trace, _current

__all__ = ["SpanTable", "open_span", "set_usage", "capture_on", "put_content", "llm_step", "BudgetExceeded"]

now_ns = time.time_ns


def disabled() -> bool:
    return bool(_runtime.disabled)


def open_span(operation: str, parent: Optional[Span], attrs: Dict[str, Any], *, root: bool = True) -> Span:
    """A started span that is *not* made current: the child of ``parent``; with no parent, the child
    of the current mist span, else (``root``) a new trace of its own. End it with ``span.end()``."""
    if parent is None and _current.get() is None and root:
        return Trace(operation, **attrs)
    span = Span(operation, **attrs)
    if parent is not None:
        span.trace_id = parent.trace_id
        span.parent_id = parent.span_id
        span._state = parent._state
    return span


def llm_step(span: Span) -> None:
    """Number an LLM call as the next step of its trace (``step``); raises ``BudgetExceeded`` when
    the trace is already over its budget (before anything is sent)."""
    st = span._state
    if st is None:
        return
    span.attrs["step"] = st.next_step()
    if st.budget is not None:
        st.check()


def set_usage(span: Span, found: Dict[str, Any]) -> None:
    """Merge attrs read from a response (``providers.from_response`` keys) into the span: the
    response's model (a dated snapshot) wins over the request's; a provider already set stays."""
    for key, value in found.items():
        if value is None:
            continue
        if key == "provider" and "provider" in span.attrs:
            continue
        span.attrs[key] = value


def read_usage(obj: Any) -> Dict[str, Any]:
    return from_response(obj) if obj is not None else {}


def capture_on() -> bool:
    return bool(_runtime.settings.capture_content)


def put_content(span: Span, key: str, value: Any) -> None:
    """``input`` / ``output`` content, redacted and size-capped, when content capture is on."""
    if value is None or not capture_on():
        return
    try:
        span.attrs[key] = redactor().redact(value)
    except Exception:
        pass


def end_span(span: Span, error: Any = None) -> None:
    """End a span (once); ``error`` (an exception or message) marks it failed
    (the message redacted: API errors can quote input)."""
    try:
        if error is not None:
            span.error(error)
            try:
                span.attrs["error"] = redactor().redact_text(span.attrs.get("error", ""))
            except Exception:
                pass
    except Exception:
        pass
    span.end()


class SpanTable:
    """Open spans by the framework's run / span id (thread-safe)."""

    def __init__(self) -> None:
        self._spans: Dict[Any, Span] = {}
        self._lock = threading.Lock()

    def put(self, key: Any, span: Span) -> None:
        with self._lock:
            if len(self._spans) < 100_000:  # a framework that never ends its runs cannot grow this forever
                self._spans[key] = span

    def get(self, key: Any) -> Optional[Span]:
        if key is None:
            return None
        with self._lock:
            return self._spans.get(key)

    def pop(self, key: Any) -> Optional[Span]:
        with self._lock:
            return self._spans.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._spans)
