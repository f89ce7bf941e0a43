"""Helpers for users' own tests: capture what was traced.

    import mist.testing
    with mist.testing.capture() as traced:
        run_my_agent()
    assert traced.spans(operation="chat")[0]["attrs"]["model"] == "gpt-4o-mini"
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Optional

from .core import runtime as _runtime
from .sinks.memory import MemorySink


class Captured:
    """What was traced inside :func:`capture`."""

    def __init__(self, sink: MemorySink) -> None:
        self.sink = sink

    def flush(self) -> None:
        _runtime.flush(10.0)

    def messages(self, type: Optional[str] = None) -> List[Dict[str, Any]]:
        self.flush()
        return [m for m in self.sink.messages() if type is None or m.get("type") == type]

    def spans(self, operation: Optional[str] = None) -> List[Dict[str, Any]]:
        """Span payloads, optionally only one operation's, in the order they ended."""
        return [m["payload"] for m in self.messages("trace.span")
                if operation is None or m["payload"].get("operation") == operation]

    def alerts(self) -> List[Dict[str, Any]]:
        return [m["payload"] for m in self.messages("trace.alert")]

    def lines(self) -> List[bytes]:
        self.flush()
        return self.sink.lines()

    def clear(self) -> None:
        self.flush()
        self.sink.clear()


@contextlib.contextmanager
def capture(**options: Any) -> Iterator[Captured]:
    """Route traces to memory for the block (other options as for ``mist.configure``), then
    restore the previous sinks and settings."""
    s = _runtime.settings
    previous: Dict[str, Any] = dict(
        sink=list(_runtime.writer.sinks), source=s.source, capture_content=s.capture_content,
        alerts=s.alerts, alert_floors=s.alert_floors, sample=s.sample,
        batch_bytes=None, flush_interval=_runtime.writer.interval,
    )
    sink = MemorySink()
    _runtime.configure(sink, **options)
    try:
        yield Captured(sink)
    finally:
        _runtime.flush(10.0)
        _runtime.configure(**previous)
