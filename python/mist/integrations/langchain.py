"""LangChain: a callback handler that turns every run into a mist span.

    from mist.integrations.langchain import MistCallbackHandler
    agent.invoke(inputs, config={"callbacks": [MistCallbackHandler()]})

Runs nest as LangChain nests them (``run_id`` / ``parent_run_id``); a run started inside a
``mist.trace`` or ``mist.span`` becomes its child, otherwise the outermost run is a trace of its own.

================  ==========================  ===============================================
LangChain run     span operation              attrs
================  ==========================  ===============================================
chain / graph     the run's name (``agent``)  ``kind: "chain"``
chat model        ``chat``                    ``model`` (the answer's, e.g. a dated snapshot),
                                              ``provider``, ``tokens_*``, ``cost_usd``,
                                              ``finish_reason``, ``step``, ``ttft_ms`` (streamed)
LLM (completion)  ``text_completion``         as for chat
tool              ``tool.<name>``             ``kind: "tool"``, ``tool``
retriever         ``retrieve.<name>``         ``kind: "retriever"``, ``documents`` (count)
================  ==========================  ===============================================

Tokens come from the message's ``usage_metadata`` (input includes cache reads, output includes
reasoning, as mist counts), else from ``llm_output["token_usage"]``. A failed run gets ``status:
"error"``, ``error`` and ``error_type``. Each model call is the next ``step`` of its trace and checks
the trace's ``budget_usd`` first: over budget, :class:`mist.BudgetExceeded` is raised from the
callback and LangChain stops the run before the request is sent. With content capture on
(``configure(capture_content=True)``) inputs and outputs are recorded, redacted.

Runs LangChain hides from tracing (tagged ``langsmith:hidden``) are left out, their children hung
on the nearest traced ancestor. ``MistCallbackHandler(chains=False)`` leaves out every chain run
(LangChain makes one per runnable: prompt templates, parsers, sequences), keeping model calls,
tools and retrievers.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from ._common import (
    BudgetExceeded, SpanTable, disabled, end_span, llm_step, now_ns, open_span, put_content, read_usage, set_usage,
)
from ..providers.common import plain
from ..tracing.span import Span

__all__ = ["MistCallbackHandler"]

# LangChain's ``ls_provider`` → OpenTelemetry ``gen_ai.provider.name``
_PROVIDERS = {
    "openai": "openai", "azure": "azure.ai.openai", "anthropic": "anthropic", "google_genai": "gcp.gemini",
    "google_vertexai": "gcp.vertex_ai", "bedrock": "aws.bedrock", "amazon_bedrock": "aws.bedrock",
    "mistral": "mistral_ai", "mistralai": "mistral_ai", "groq": "groq", "deepseek": "deepseek",
    "xai": "x_ai", "cohere": "cohere", "fireworks": "fireworks", "together": "together_ai",
    "perplexity": "perplexity", "ollama": "ollama",
}
_HIDDEN = "langsmith:hidden"


class MistCallbackHandler(BaseCallbackHandler):
    """Pass in ``config={"callbacks": [MistCallbackHandler()]}`` (or to a model or chain's
    ``callbacks=``); one handler can serve any number of runs, from any thread."""

    raise_error = True  # only BudgetExceeded ever leaves a callback: every other failure is swallowed
    run_inline = True  # cheap and thread-safe: called on the run's own thread and context

    def __init__(self, *, chains: bool = True) -> None:
        super().__init__()
        self.chains = chains
        self._spans = SpanTable()
        self._skipped = SpanTable()  # run_id of a run left out -> the span its children hang on (or None)

    # ------------------------------------------------------------------ plumbing

    def _parent(self, parent_run_id: Optional[UUID]) -> Optional[Span]:
        if parent_run_id is None:
            return None
        span = self._spans.get(parent_run_id)
        return span if span is not None else self._skipped.get(parent_run_id)

    def _start(self, run_id: UUID, parent_run_id: Optional[UUID], operation: str, attrs: Dict[str, Any]) -> Optional[Span]:
        if disabled():
            return None
        span = open_span(operation, self._parent(parent_run_id), attrs)
        self._spans.put(run_id, span)
        return span

    def _skip(self, run_id: UUID, parent_run_id: Optional[UUID]) -> None:
        parent = self._parent(parent_run_id)
        if parent is not None:
            self._skipped.put(run_id, parent)

    def _end(self, run_id: UUID, error: Any = None, output: Any = None) -> None:
        self._skipped.pop(run_id)
        span = self._spans.pop(run_id)
        if span is None:
            return
        if output is not None:
            put_content(span, "output", output)
        end_span(span, error)

    # ------------------------------------------------------------------ chains

    def on_chain_start(self, serialized: Optional[Dict[str, Any]], inputs: Any, *, run_id: UUID,
                       parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                       metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        try:
            if not self.chains or (tags and _HIDDEN in tags):
                return self._skip(run_id, parent_run_id)
            span = self._start(run_id, parent_run_id, _name(serialized, kwargs, "chain"), {"kind": "chain"})
            if span is not None:
                put_content(span, "input", _plain(inputs))
        except Exception:
            pass

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._end(run_id, output=_plain(outputs))
        except Exception:
            pass

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._end(run_id, error=error)
        except Exception:
            pass

    # ------------------------------------------------------------------ models

    def on_chat_model_start(self, serialized: Optional[Dict[str, Any]], messages: List[List[Any]], *, run_id: UUID,
                            parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                            metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._model_start("chat", run_id, parent_run_id, metadata, kwargs, messages)

    def on_llm_start(self, serialized: Optional[Dict[str, Any]], prompts: List[str], *, run_id: UUID,
                     parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                     metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        self._model_start("text_completion", run_id, parent_run_id, metadata, kwargs, prompts)

    def _model_start(self, op: str, run_id: UUID, parent_run_id: Optional[UUID], metadata: Optional[Dict[str, Any]],
                     kwargs: Dict[str, Any], content: Any) -> None:
        try:
            attrs = _request_attrs(metadata or {}, kwargs.get("invocation_params") or {})
            span = self._start(run_id, parent_run_id, op, attrs)
            if span is None:
                return
            put_content(span, "input", _plain(content))
            llm_step(span)
        except BudgetExceeded:
            self._spans.pop(run_id)  # never sent: no span, as for an instrumented client's call
            raise
        except Exception:
            pass

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            span = self._spans.get(run_id)
            if span is not None and "ttft_ms" not in span.attrs:
                span.attrs["ttft_ms"] = round((now_ns() - span.start_ns) / 1e6, 3)
        except Exception:
            pass

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            span = self._spans.get(run_id)
            if span is not None:
                _read_result(span, response)
                put_content(span, "output", _generations_text(response))
            self._end(run_id)
        except Exception:
            pass

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            span = self._spans.get(run_id)
            response = kwargs.get("response")
            if span is not None and response is not None:
                _read_result(span, response)
            self._end(run_id, error=error)
        except Exception:
            pass

    # ------------------------------------------------------------------ tools and retrievers

    def on_tool_start(self, serialized: Optional[Dict[str, Any]], input_str: str, *, run_id: UUID,
                      parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                      metadata: Optional[Dict[str, Any]] = None, inputs: Optional[Dict[str, Any]] = None,
                      **kwargs: Any) -> None:
        try:
            name = _name(serialized, kwargs, "tool")
            attrs: Dict[str, Any] = {"kind": "tool", "tool": name}
            call_id = kwargs.get("tool_call_id")
            if isinstance(call_id, str) and call_id:
                attrs["tool_call_id"] = call_id
            span = self._start(run_id, parent_run_id, "tool." + name, attrs)
            if span is not None:
                put_content(span, "input", _plain(inputs) if inputs is not None else input_str)
        except Exception:
            pass

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._end(run_id, output=_plain(getattr(output, "content", output)))
        except Exception:
            pass

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._end(run_id, error=error)
        except Exception:
            pass

    def on_retriever_start(self, serialized: Optional[Dict[str, Any]], query: str, *, run_id: UUID,
                           parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                           metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        try:
            name = _name(serialized, kwargs, "retriever")
            span = self._start(run_id, parent_run_id, "retrieve." + name, {"kind": "retriever"})
            if span is not None:
                put_content(span, "input", query)
        except Exception:
            pass

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            span = self._spans.get(run_id)
            if span is not None:
                try:
                    span.attrs["documents"] = len(documents)
                except Exception:
                    pass
            self._end(run_id, output=[_plain(getattr(d, "page_content", d)) for d in (documents or [])][:50])
        except Exception:
            pass

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self._end(run_id, error=error)
        except Exception:
            pass

    # ------------------------------------------------------------------ legacy AgentExecutor

    def on_agent_action(self, action: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            span = self._spans.get(run_id)
            tool = getattr(action, "tool", None)
            if span is not None and isinstance(tool, str):
                span.attrs["agent_action"] = tool
        except Exception:
            pass


# ---------------------------------------------------------------------- reading LangChain objects


def _name(serialized: Any, kwargs: Dict[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if not (isinstance(name, str) and name) and isinstance(serialized, dict):
        name = serialized.get("name")
        if not (isinstance(name, str) and name):
            ids = serialized.get("id")
            name = ids[-1] if isinstance(ids, list) and ids and isinstance(ids[-1], str) else None
    return name if isinstance(name, str) and name else default


def _request_attrs(metadata: Dict[str, Any], params: Dict[str, Any]) -> Dict[str, Any]:
    attrs: Dict[str, Any] = {}
    model = None
    for source, key in ((params, "model"), (params, "model_name"), (metadata, "ls_model_name"), (params, "model_id")):
        value = source.get(key)
        if isinstance(value, str) and value:
            model = value
            break
    if model:
        attrs["model"] = model
        attrs["request_model"] = model
    provider = metadata.get("ls_provider")
    if isinstance(provider, str) and provider:
        attrs["provider"] = _PROVIDERS.get(provider, provider)
    for key, name in (("temperature", "ls_temperature"), ("max_tokens", "ls_max_tokens")):
        value = params.get(key, metadata.get(name))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[key] = value
    top_p = params.get("top_p")
    if isinstance(top_p, (int, float)) and not isinstance(top_p, bool):
        attrs["top_p"] = top_p
    return attrs


def _read_result(span: Span, result: Any) -> None:
    """Model, tokens and finish reason of an ``LLMResult``: the first generation's message
    ``usage_metadata`` and ``response_metadata``, else ``llm_output``."""
    found: Dict[str, Any] = {}
    usage_found = False
    message = None
    info: Any = None
    for gens in getattr(result, "generations", None) or []:
        for gen in gens or []:
            message = getattr(gen, "message", None)
            info = getattr(gen, "generation_info", None)
            break
        break
    if message is not None:
        usage = getattr(message, "usage_metadata", None)
        if isinstance(usage, dict) and (usage.get("input_tokens") is not None or usage.get("output_tokens") is not None):
            _usage_metadata(usage, found)
            usage_found = True
        meta = getattr(message, "response_metadata", None) or {}
        if isinstance(meta, dict):
            model = meta.get("model_name") or meta.get("model")
            if isinstance(model, str) and model:
                found["model"] = model
            finish = meta.get("finish_reason") or meta.get("stop_reason")
            if isinstance(finish, str) and finish:
                found["finish_reason"] = finish
            if not usage_found:
                for key in ("token_usage", "usage"):
                    if meta.get(key):
                        got = read_usage(meta[key])
                        if "tokens_in" in got or "tokens_out" in got:
                            found.update({k: v for k, v in got.items() if k.startswith("tokens_")})
                            usage_found = True
                            break
    if isinstance(info, dict) and "finish_reason" not in found:
        finish = info.get("finish_reason")
        if isinstance(finish, str) and finish:
            found["finish_reason"] = finish
    out = getattr(result, "llm_output", None)
    if isinstance(out, dict):
        model = out.get("model_name") or out.get("model")
        if isinstance(model, str) and model and "model" not in found:
            found["model"] = model
        if not usage_found:
            for key in ("token_usage", "usage"):
                if out.get(key):
                    got = read_usage(out[key])
                    found.update({k: v for k, v in got.items() if k.startswith("tokens_")})
                    break
    set_usage(span, found)


def _usage_metadata(usage: Dict[str, Any], found: Dict[str, Any]) -> None:
    """LangChain's ``UsageMetadata``: ``input_tokens`` includes cache reads and writes,
    ``output_tokens`` includes reasoning (the same counting as mist's)."""
    def n(v: Any) -> Optional[int]:
        return v if type(v) is int and v >= 0 else None

    tin, tout = n(usage.get("input_tokens")), n(usage.get("output_tokens"))
    if tin is not None:
        found["tokens_in"] = tin
    if tout is not None:
        found["tokens_out"] = tout
    details = usage.get("input_token_details") or {}
    if isinstance(details, dict):
        cr, cw = n(details.get("cache_read")), n(details.get("cache_creation"))
        if cr:
            found["tokens_cache_read"] = cr
        if cw:
            found["tokens_cache_write"] = cw
    details = usage.get("output_token_details") or {}
    if isinstance(details, dict):
        rs = n(details.get("reasoning"))
        if rs:
            found["tokens_reasoning"] = rs


def _generations_text(result: Any) -> Any:
    out = []
    for gens in getattr(result, "generations", None) or []:
        for gen in gens or []:
            message = getattr(gen, "message", None)
            if message is not None:
                item: Dict[str, Any] = {"role": "assistant", "content": _plain(getattr(message, "content", None))}
                calls = getattr(message, "tool_calls", None)
                if calls:
                    item["tool_calls"] = [{"name": c.get("name"), "args": c.get("args")} for c in calls if isinstance(c, dict)]
                out.append(item)
            else:
                out.append(getattr(gen, "text", None))
    return out[0] if len(out) == 1 else out or None


def _plain(value: Any, depth: int = 0) -> Any:
    """LangChain values (messages, documents, pydantic models) as JSON-able data for capture."""
    return plain(value, depth, max_depth=6, leaf=_message_or_document)


def _message_or_document(value: Any, depth: int) -> Any:
    content = getattr(value, "content", None)
    kind = getattr(value, "type", None)
    if content is not None and isinstance(kind, str):  # a message
        item: Dict[str, Any] = {"role": kind, "content": _plain(content, depth + 1)}
        calls = getattr(value, "tool_calls", None)
        if calls:
            item["tool_calls"] = _plain(calls, depth + 1)
        return item
    page = getattr(value, "page_content", None)
    if isinstance(page, str):
        return page
    return str(value)
