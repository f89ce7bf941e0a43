"""Non-span messages (alerts, eval results): build the envelope, encode it, queue it."""
from __future__ import annotations

from typing import Any, Dict

from . import runtime as _runtime
from .backend import core


def envelope(mtype: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "version": "1",
        "id": core.new_trace_id(),
        "source": _runtime.settings.source,
        "type": mtype,
        "timestamp_ns": core.now_ns(),
        "payload": payload,
    }


def emit_message(mtype: str, payload: Dict[str, Any]) -> bool:
    """Queue one envelope for the sinks; False (and counted) when it could not be queued."""
    if _runtime.disabled:
        return False
    try:
        return bool(core.push_line(core.encode(envelope(mtype, payload)) + b"\n"))
    except Exception:
        return False
