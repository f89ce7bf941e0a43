"""One request, one trace: mist spans and OpenTelemetry spans share one W3C context.

The rule, both ways:

- A mist span started while an OpenTelemetry span is the innermost current span (an SDK span,
  or a remote parent a propagator extracted) joins its trace and takes it as parent: same
  ``trace_id``, ``parent_id`` = the OpenTelemetry span's id. This holds for ``mist.trace``
  (unless given ``traceparent=``), ``mist.span``, ``@mist.step``, instrumented calls and
  ``mist.emit_span`` without ids. Inside a mist trace the span still counts against its budget.
- While a mist span is current, OpenTelemetry sees it as its current span (a ``NonRecordingSpan``
  with the mist span's ids is attached to the OpenTelemetry context), so an OpenTelemetry span
  started there is its child, and propagators inject it as the parent of outgoing requests.

Duck-typed, no dependency: nothing here imports OpenTelemetry. It is looked up in ``sys.modules``
(``opentelemetry.trace``), so until the application (or a library) has imported it, the whole
bridge costs one dictionary lookup per span. Every call is guarded: tracing never raises.
"""
from __future__ import annotations

import sys
from typing import Any, Optional, Tuple

MODULE = "opentelemetry.trace"
modules = sys.modules  # `MODULE in modules` is the cheap test callers make first

_api: Any = None  # (module, get_current_span, set_span_in_context, SpanContext, flags, _MistSpan, context module)


def _load() -> Any:
    """The OpenTelemetry API functions, cached per module object; None when unusable."""
    global _api
    t = modules.get(MODULE)
    if t is None:
        return None
    api = _api
    if api is not None and api[0] is t:
        return api
    try:
        ctx = modules.get("opentelemetry.context")
        if ctx is None:
            return None

        class _MistSpan(t.NonRecordingSpan):  # type: ignore[misc,name-defined]
            """A mist span, as OpenTelemetry's current span (recognised, never taken as an outer parent)."""

        api = (t, t.get_current_span, t.set_span_in_context, t.SpanContext, t.TraceFlags(t.TraceFlags.SAMPLED),
               _MistSpan, ctx)
    except Exception:  # a half-imported or unexpected module: no bridge
        return None
    _api = api
    return api


def outer_parent() -> Optional[Tuple[str, str]]:
    """(trace id, span id) of OpenTelemetry's current span when it is a valid span that is not a
    mist span (which mist's own context already names), else None."""
    api = _load()
    if api is None:
        return None
    try:
        s = api[1]()
        if type(s) is api[5]:
            return None
        c = s.get_span_context()
        if not c.is_valid:
            return None
        return "%032x" % c.trace_id, "%016x" % c.span_id
    except Exception:
        return None


def attach(span: Any) -> Any:
    """Make ``span`` (a mist span) OpenTelemetry's current span; returns what :func:`detach` takes."""
    api = _load()
    if api is None:
        return None
    try:
        ctx = api[6]
        before = ctx.get_current()
        ours = api[5](api[3](int(span.trace_id, 16), int(span.span_id[-16:], 16), False, api[4]))
        return ctx.attach(api[2](ours, before)), before, ours
    except Exception:
        return None


def detach(handle: Any, same_context: bool = True) -> None:
    """Undo :func:`attach`. ``same_context=False`` when the span ends in another context (a task or
    thread) than it started in: the token cannot be used there, so when this context still has the
    span as OpenTelemetry's current span, the context from before it is attached instead."""
    api = _load()
    if api is None or handle is None:
        return
    try:
        if same_context:
            api[6].detach(handle[0])
        elif api[1]() is handle[2]:
            api[6].attach(handle[1])
    except Exception:
        pass


class Ids:
    """A parent the core can read (``trace_id``, ``span_id``) that is not a mist span."""

    __slots__ = ("trace_id", "span_id")

    def __init__(self, trace_id: str, span_id: str) -> None:
        self.trace_id = trace_id
        self.span_id = span_id


def traceparent() -> str:
    """W3C ``traceparent`` of OpenTelemetry's current span when it is not a mist span, else ""."""
    api = _load()
    if api is None:
        return ""
    try:
        s = api[1]()
        if type(s) is api[5]:
            return ""
        c = s.get_span_context()
        if not c.is_valid:
            return ""
        return "00-%032x-%016x-%02x" % (c.trace_id, c.span_id, int(c.trace_flags) & 0xFF)
    except Exception:
        return ""
