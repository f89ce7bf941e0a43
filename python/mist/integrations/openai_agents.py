"""OpenAI Agents SDK: a tracing processor that turns the SDK's traces and spans into mist spans.

    from agents import add_trace_processor
    from mist.integrations.openai_agents import MistTracingProcessor
    add_trace_processor(MistTracingProcessor())

(``agents.set_trace_processors([MistTracingProcessor()])`` instead also stops the SDK's default
export to OpenAI's tracing backend.) Every SDK trace becomes a mist trace, or the child of the mist
span that was current when the run started (``with mist.trace(...): await Runner.run(...)``); SDK
spans nest under it as the SDK nests them:

=================  =====================  =========================================================
SDK span           span operation         attrs
=================  =====================  =========================================================
agent              ``agent.<name>``       ``kind: "agent"``, ``agent``, ``tools``, ``handoffs``
response           ``responses``          Responses API call: ``model`` (the answer's snapshot),
                                          ``provider``, ``tokens_*``, ``cost_usd``, ``step``,
                                          ``response_id``
generation         ``chat``               Chat Completions (or other model) call: ``model``,
                                          ``tokens_*``, ``cost_usd``, ``step``
function           ``tool.<name>``        ``kind: "tool"``, ``tool`` (``mcp_server`` for MCP)
handoff            ``handoff``            ``from_agent``, ``to_agent``
guardrail          ``guardrail.<name>``   ``triggered``
turn               ``turn``               ``turn`` (the agent loop's turn number), ``agent``
custom             its name               its ``data`` (captured content only)
=================  =====================  =========================================================

The SDK's ``task`` span (one ``Runner`` run) is left out: the trace's span stands for it.

An SDK span with an error gets ``status: "error"`` and ``error`` (its message). With content capture
on (``configure(capture_content=True)``) model inputs/outputs and tool arguments/results are
recorded, redacted. Costs of LLM steps are added to the enclosing ``mist.trace``'s spend; the SDK
swallows exceptions raised by processors, so a budget cannot stop an Agents SDK run from here.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from agents.tracing import TracingProcessor

from ._common import SpanTable, disabled, end_span, llm_step, open_span, put_content, read_usage, set_usage
from ..tracing.span import Span
from ..providers.common import plain as _plain

__all__ = ["MistTracingProcessor"]


class MistTracingProcessor(TracingProcessor):
    """Register with ``agents.add_trace_processor(MistTracingProcessor())``. Thread-safe; one
    processor serves every run."""

    def __init__(self) -> None:
        self._spans = SpanTable()

    # ------------------------------------------------------------------ traces

    def on_trace_start(self, trace: Any) -> None:
        try:
            if disabled():
                return
            name = _text(getattr(trace, "name", None)) or "agent workflow"
            attrs: Dict[str, Any] = {"kind": "workflow"}
            group = _text(getattr(trace, "group_id", None))
            if group:
                attrs["session_id"] = group
            tid = _text(getattr(trace, "trace_id", None))
            if tid:
                attrs["agents_trace_id"] = tid
            self._spans.put(("trace", trace.trace_id), open_span(name, None, attrs))
        except Exception:
            pass

    def on_trace_end(self, trace: Any) -> None:
        try:
            span = self._spans.pop(("trace", trace.trace_id))
            if span is not None:
                end_span(span)
        except Exception:
            pass

    # ------------------------------------------------------------------ spans

    def on_span_start(self, span: Any) -> None:
        try:
            if disabled():
                return
            data = span.span_data
            kind = getattr(data, "type", None)
            parent = None
            if span.parent_id:
                parent = self._spans.get(span.parent_id) or self._spans.get(("skipped", span.parent_id))
            if parent is None:
                parent = self._spans.get(("trace", span.trace_id))
            if kind == "task":  # one Runner run: the trace's own span already stands for it
                if parent is not None:
                    self._spans.put(("skipped", span.span_id), parent)
                return
            op, attrs = _start_attrs(kind, data)
            ours = open_span(op, parent, attrs)
            if kind in ("generation", "response"):
                try:
                    llm_step(ours)
                except Exception:  # over budget: the SDK would swallow the exception anyway
                    pass
            self._spans.put(span.span_id, ours)
        except Exception:
            pass

    def on_span_end(self, span: Any) -> None:
        try:
            ours = self._spans.pop(span.span_id)
            if ours is None:
                self._spans.pop(("skipped", span.span_id))
                return
            try:
                _end_attrs(ours, span.span_data)
            except Exception:
                pass
            error = getattr(span, "error", None)
            message = None
            if error:
                message = _text(error.get("message") if isinstance(error, dict) else error) or "error"
            end_span(ours, message)
        except Exception:
            pass

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        try:
            from ..core import runtime

            runtime.flush()
        except Exception:
            pass


# ---------------------------------------------------------------------- span data


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _names(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        out = [v if isinstance(v, str) else str(v) for v in values][:50]
        return out or None
    return None


def _start_attrs(kind: Any, data: Any) -> "tuple[str, Dict[str, Any]]":
    attrs: Dict[str, Any] = {}
    if kind == "agent":
        name = _text(getattr(data, "name", None)) or "agent"
        attrs.update(kind="agent", agent=name)
        for key in ("tools", "handoffs"):
            names = _names(getattr(data, key, None))
            if names:
                attrs[key] = names
        return "agent." + name, attrs
    if kind == "response":
        attrs["provider"] = "openai"
        return "responses", attrs
    if kind == "generation":
        model = _text(getattr(data, "model", None))
        if model:
            attrs["model"] = model
            attrs["request_model"] = model
        return "chat", attrs
    if kind == "function":
        name = _text(getattr(data, "name", None)) or "function"
        attrs.update(kind="tool", tool=name)
        return "tool." + name, attrs
    if kind == "handoff":
        attrs["kind"] = "handoff"
        return "handoff", attrs
    if kind == "guardrail":
        name = _text(getattr(data, "name", None)) or "guardrail"
        attrs["kind"] = "guardrail"
        return "guardrail." + name, attrs
    if kind == "turn":
        turn = getattr(data, "turn", None)
        if isinstance(turn, int):
            attrs["turn"] = turn
        agent = _text(getattr(data, "agent_name", None))
        if agent:
            attrs["agent"] = agent
        return "turn", attrs
    if kind == "mcp_tools":
        server = _text(getattr(data, "server", None))
        if server:
            attrs["mcp_server"] = server
        return "mcp.list_tools", attrs
    name = _text(getattr(data, "name", None)) or _text(kind) or "span"
    return name, attrs


def _end_attrs(ours: Span, data: Any) -> None:
    kind = getattr(data, "type", None)
    a = ours.attrs
    if kind == "response":
        response = getattr(data, "response", None)
        found = read_usage(response)
        if "tokens_in" not in found and "tokens_out" not in found:
            found.update({k: v for k, v in read_usage(getattr(data, "usage", None)).items() if k.startswith("tokens_")})
        set_usage(ours, found)
        rid = _text(getattr(response, "id", None)) or _text(getattr(data, "_response_id", None))
        if rid:
            a["response_id"] = rid
        put_content(ours, "input", _plain(getattr(data, "input", None)))
        if response is not None:
            put_content(ours, "output", _plain(getattr(response, "output", None)))
    elif kind == "generation":
        model = _text(getattr(data, "model", None))
        if model:
            a["model"] = model
        found = read_usage(getattr(data, "usage", None))
        set_usage(ours, {k: v for k, v in found.items() if k.startswith("tokens_")})
        put_content(ours, "input", _plain(getattr(data, "input", None)))
        put_content(ours, "output", _plain(getattr(data, "output", None)))
    elif kind == "function":
        mcp = getattr(data, "mcp_data", None)
        if isinstance(mcp, dict) and _text(mcp.get("server")):
            a["mcp_server"] = mcp["server"]
        put_content(ours, "input", _plain(getattr(data, "input", None)))
        put_content(ours, "output", _plain(getattr(data, "output", None)))
    elif kind == "handoff":
        for key in ("from_agent", "to_agent"):
            value = _text(getattr(data, key, None))
            if value:
                a[key] = value
    elif kind == "guardrail":
        a["triggered"] = bool(getattr(data, "triggered", False))
    elif kind == "agent":
        output_type = _text(getattr(data, "output_type", None))
        if output_type:
            a["output_type"] = output_type
        for key in ("tools", "handoffs"):  # filled in once the agent's tools are resolved
            names = _names(getattr(data, key, None))
            if names:
                a[key] = names
    elif kind == "mcp_tools":
        names = _names(getattr(data, "result", None))
        if names:
            a["tools"] = names
    elif kind == "custom":
        put_content(ours, "output", _plain(getattr(data, "data", None)))

