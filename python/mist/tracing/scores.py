"""Late eval scores: ``mist.score(name, value, span=...)`` → an ``eval.result`` linked to the span,
also fed (off the caller's thread) to the regression alerts of the span's ``score.<name>`` series."""
from __future__ import annotations

import math
from typing import Any, Dict, Optional

from ..core import hooks, runtime as _runtime
from ..core.backend import core
from ..core.messages import emit_message
from .context import current_span


def late_score(name: str, value: float, span: Any, *, suite: str = "mist") -> bool:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    payload: Dict[str, Any] = {
        "suite": suite,
        "task": getattr(span, "operation", "") or "",
        "passed": bool(v >= 0.5) if v == v else False,
        "score": v,
        "baseline_score": 0,
        "delta": 0,
        "duration_ms": 0,
        "trace_id": getattr(span, "trace_id", None),
        "span_id": getattr(span, "span_id", None),
        "name": str(name),
    }
    ts = core.now_ns()  # one time for the envelope and the alerts (as `mist alerts FILE` reads it)
    sent = emit_message("eval.result", payload, ts)
    if _runtime.settings.alerts and not _runtime.disabled:
        # the late score joins its span's score.<name> series: queued for the alert thread
        # (detection stays off this thread), with the span's (operation, model)
        attrs = getattr(span, "attrs", None)
        model = attrs.get("model") if isinstance(attrs, dict) else None
        hooks.observe_score(payload, payload["task"] or None, model if isinstance(model, str) else None, ts)
    return sent


def score(name: str, value: float, *, span: Any = None) -> None:
    """Attach an eval score to ``span`` (default: the current span). While the span is open it
    becomes the attr ``score.<name>``; once it has ended, a linked ``eval.result`` is sent.
    (``span`` is typed as a :class:`mist.Span` where :mod:`.span` re-exports this function.)"""
    target: Optional[Any] = span if span is not None else current_span()
    if target is None:
        return
    if hasattr(target, "score") and not getattr(target, "end_ns", 0):
        target.score(name, value)
    else:
        late_score(name, value, target)
