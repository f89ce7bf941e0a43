"""Tracing: spans (``mist.trace``, ``mist.span``, ``@mist.step``), the current span and W3C trace
context (:mod:`.span`, :mod:`.step`, :mod:`.context`; shared with OpenTelemetry by
:mod:`.otel_bridge`), budgets (:mod:`.budget`), eval scores (:mod:`.scores`) and the
no-op twins used under ``MIST_DISABLED=1`` (:mod:`.disabled`)."""
from __future__ import annotations

from .context import traceparent, wrap
from .span import Span, Trace, current_span, score, span, trace
from .step import step

__all__ = ["Span", "Trace", "span", "trace", "step", "current_span", "traceparent", "wrap", "score"]
