"""Non-span messages (alerts, eval results): build the envelope, encode it, queue it.

An envelope's ``timestamp_ns`` is the time of the event the message is about when the caller
knows it (an alert: the end of the span, or the time of the late score, that made it fire), else
now. So a program that records spans on its own clock (``emit_span`` with past or simulated
times, ``mist demo``) gets its alerts on that clock too, as ``mist alerts FILE`` does offline."""
from __future__ import annotations

from typing import Any, Dict, Optional

from . import runtime as _runtime
from .backend import core


def envelope(mtype: str, payload: Dict[str, Any], timestamp_ns: Optional[int] = None) -> Dict[str, Any]:
    return {
        "version": "1",
        "id": core.new_trace_id(),
        "source": _runtime.settings.source,
        "type": mtype,
        "timestamp_ns": timestamp_ns if type(timestamp_ns) is int else core.now_ns(),
        "payload": payload,
    }


def emit_message(mtype: str, payload: Dict[str, Any], timestamp_ns: Optional[int] = None) -> bool:
    """Queue one envelope (stamped ``timestamp_ns``, default now) for the sinks; False (and
    counted) when it could not be queued."""
    if _runtime.disabled:
        return False
    try:
        return bool(core.push_line(core.encode(envelope(mtype, payload, timestamp_ns)) + b"\n"))
    except Exception:
        return False
