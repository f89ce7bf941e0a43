"""Take in what OpenTelemetry already traces: a span processor that turns GenAI spans into mist spans.

    from opentelemetry.sdk.trace import TracerProvider
    import mist.otel

    provider = TracerProvider()
    provider.add_span_processor(mist.otel.SpanProcessor())

Every span that any OpenTelemetry instrumentation ends on that provider (``opentelemetry-
instrumentation-openai-v2``, Pydantic AI, …) is written as a mist ``trace.span`` with the same
trace, span and parent ids: GenAI spans with their model, provider, tokens and a cost from mist's
price table; the others as plain spans, so ``mist replay`` shows the whole tree
(``SpanProcessor(genai_only=True)`` keeps only GenAI spans, each re-attached to its nearest kept
ancestor). They go through mist's normal emit path: to its sinks, to the regression alerts, and
their cost counts against the budget of the ``mist.trace`` they ran in. The attributes read are in
:mod:`mist.otel.convert`.

This package imports ``opentelemetry`` (the SDK) and is never imported by ``import mist``.
"""
from __future__ import annotations

from .convert import READS, is_genai, to_mist
from .processor import MistSpanProcessor

SpanProcessor = MistSpanProcessor

__all__ = ["SpanProcessor", "MistSpanProcessor", "to_mist", "is_genai", "READS"]
