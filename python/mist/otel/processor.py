"""``mist.otel.SpanProcessor``: an OpenTelemetry SDK span processor that writes each span it sees
as a mist span (see the package docstring).

Ids. A mist span keeps the OpenTelemetry span's trace, span and parent ids (as lowercase hex), so
both views of one request join. One exception, ``adopt=True`` (the default): an OpenTelemetry
*root* span started while a mist span is current (``with mist.trace(...)``: mist's context was not
handed to OpenTelemetry) becomes that mist span's child, and its whole OpenTelemetry trace is written
under the mist trace id, so ``mist replay`` shows one tree. Where mist's and OpenTelemetry's context
are already joined, the OpenTelemetry span has a parent and nothing is rewritten.

Budgets. When a span starts, the budget it runs under is the current mist span's trace (or its
OpenTelemetry parent's, for spans started where mist's context is not visible). A model call
(``chat``, ``text_completion``, ``generate_content``, ``embeddings``) that starts with that trace
already over budget raises :class:`mist.BudgetExceeded` from ``on_start``, which the SDK lets
through to the caller before the request is sent (``enforce_budget=False`` turns this off; the cost
is still counted). Each span's cost is added to the trace's spend when it ends.

Everything else never raises: a span that cannot be converted is counted in :meth:`stats`.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from opentelemetry.sdk.trace import SpanProcessor as _SDKSpanProcessor

from ..core import runtime as _runtime
from ..core.backend import core as _core
from ..costs import pricing as _pricing
from ..errors import BudgetExceeded
from ..tracing.context import current_span as _mist_current
from .convert import AGGREGATE_OPS, is_genai, to_mist

#: operations that are one request to a model (checked against the budget when they start)
INFERENCE_OPS = frozenset({"chat", "text_completion", "generate_content", "embeddings", "responses"})
MAX_LIVE = 100_000  # spans started and not yet ended that are remembered (oldest forgotten first)
MAX_ADOPTED = 10_000  # OpenTelemetry traces written under a mist trace id


def _hex32(n: int) -> str:
    return format(n, "032x")


def _hex16(n: int) -> str:
    return format(n, "016x")


class _Started:
    __slots__ = ("trace_id", "parent_id", "state", "kept")

    def __init__(self, trace_id: str, parent_id: Optional[str], state: Any, kept: bool) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.state = state
        self.kept = kept


def _bounded_put(d: Dict[Any, Any], key: Any, value: Any, cap: int) -> None:
    d[key] = value
    if len(d) > cap:
        try:
            del d[next(iter(d))]
        except (KeyError, StopIteration, RuntimeError):
            pass


class MistSpanProcessor(_SDKSpanProcessor):
    """Writes every span an OpenTelemetry ``TracerProvider`` ends as a mist span.

    ``genai_only``: keep only GenAI spans (those with ``gen_ai.*`` operation, provider, system or
    request model), each re-attached to its nearest kept ancestor; default False (all spans, so
    the replay tree stays whole). ``adopt``: OpenTelemetry root spans started inside a mist span
    become its children (module docstring). ``enforce_budget``: model calls that start over their
    trace's budget raise :class:`mist.BudgetExceeded`.
    """

    def __init__(self, *, genai_only: bool = False, adopt: bool = True, enforce_budget: bool = True) -> None:
        self.genai_only = bool(genai_only)
        self.adopt = bool(adopt)
        self.enforce_budget = bool(enforce_budget)
        self._live: Dict[int, _Started] = {}
        self._adopted: Dict[int, str] = {}
        self._counts = {"spans": 0, "genai": 0, "skipped": 0, "errors": 0}

    # ---- the SDK's SpanProcessor interface ----
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if _runtime.disabled:
            return
        state = None
        try:
            ctx = span.get_span_context()
            trace_int, span_int = ctx.trace_id, ctx.span_id
            parent = span.parent
            before = self._live.get(parent.span_id) if parent is not None else None
            mist_span = _mist_current()
            if parent is None or not parent.is_valid:
                if self.adopt and mist_span is not None and mist_span.trace_id != _hex32(trace_int):
                    trace_id, parent_id = mist_span.trace_id, mist_span.span_id
                    _bounded_put(self._adopted, trace_int, trace_id, MAX_ADOPTED)
                else:
                    trace_id, parent_id = _hex32(trace_int), None
            else:
                trace_id = self._adopted.get(trace_int) or _hex32(trace_int)
                if before is not None and not before.kept:
                    parent_id = before.parent_id  # genai_only: the nearest kept ancestor
                else:
                    parent_id = _hex16(parent.span_id)
            if mist_span is not None:
                state = getattr(mist_span, "_state", None)
            elif before is not None:
                state = before.state
            attributes = span.attributes or {}
            kept = not self.genai_only or is_genai(attributes)
            _bounded_put(self._live, span_int, _Started(trace_id, parent_id, state, kept), MAX_LIVE)
        except Exception:
            self._counts["errors"] += 1
            return
        if (self.enforce_budget and state is not None and getattr(state, "budget", None) is not None
                and attributes.get("gen_ai.operation.name") in INFERENCE_OPS):
            try:
                state.check()  # raises BudgetExceeded (and alerts) when the trace is over budget
            except BudgetExceeded:
                self._live.pop(span_int, None)
                raise
            except Exception:
                self._counts["errors"] += 1

    def on_end(self, span: Any) -> None:
        if _runtime.disabled:
            return
        try:
            self._write(span)
        except Exception:
            self._counts["errors"] += 1

    def shutdown(self) -> None:
        """Flush what was written to mist (mist itself keeps running: other code may trace)."""
        try:
            _runtime.flush(5.0)
        except Exception:
            pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(_runtime.flush(max(0.0, timeout_millis / 1000.0)))
        except Exception:
            return False

    # ---- the conversion ----
    def _write(self, span: Any) -> None:
        ctx = span.get_span_context()
        started = self._live.pop(ctx.span_id, None)
        attributes = span.attributes or {}
        genai = is_genai(attributes)
        if self.genai_only and not genai:
            self._counts["skipped"] += 1
            return
        if started is not None:
            trace_id, parent_id, state = started.trace_id, started.parent_id, started.state
        else:  # started before this processor was added, or forgotten
            parent = span.parent
            trace_id = self._adopted.get(ctx.trace_id) or _hex32(ctx.trace_id)
            parent_id = _hex16(parent.span_id) if parent is not None and parent.is_valid else None
            state = None
        settings = _runtime.settings
        redact = None
        if settings.capture_content:
            r = settings.redactor
            if r is None:
                from ..redact import Redactor

                r = Redactor()
            redact = r.redact
        operation, status, attrs = to_mist(span, capture_content=bool(settings.capture_content), redact=redact)
        if "model" in attrs and ("tokens_in" in attrs or "tokens_out" in attrs):
            cost = _pricing.price(attrs)  # cost_usd, or unpriced: true for a model without a price
            if state is not None and isinstance(cost, (int, float)) and cost == cost:
                state.add(float(cost))
        start = span.start_time or 0
        end = span.end_time or start
        _core.emit(operation, start, end, trace_id, _hex16(ctx.span_id), parent_id, status, attrs or None)
        self._counts["spans"] += 1
        if genai:
            self._counts["genai"] += 1

    def stats(self) -> Dict[str, int]:
        """Spans written (``genai`` of them GenAI), ``skipped`` (``genai_only``), ``errors``."""
        return dict(self._counts)


__all__ = ["MistSpanProcessor", "INFERENCE_OPS", "AGGREGATE_OPS"]
