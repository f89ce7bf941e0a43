"""LiteLLM: a ``CustomLogger`` callback that makes every ``litellm.completion`` /
``acompletion`` / ``embedding`` call a mist span.

    import litellm
    from mist.integrations.litellm import MistLogger
    litellm.callbacks = [MistLogger()]

Each call is a ``chat`` span (``embeddings`` for embedding calls) with ``model`` (the answer's),
``provider`` (LiteLLM's ``custom_llm_provider``, mapped to OpenTelemetry names), token counts from
the response's ``usage``, ``finish_reason`` and ``cost_usd`` from mist's price table; a model mist
has no price for takes LiteLLM's own ``response_cost`` (``cost_source: "litellm"``). Start and end
are LiteLLM's. The span is the child of the mist span current when the call was made (remembered
by ``litellm_call_id`` in ``log_pre_api_call``: LiteLLM runs success callbacks on other threads),
and its cost counts toward that trace's spend. A failed call gets ``status: "error"``. LiteLLM
swallows exceptions raised by callbacks, so a mist budget cannot stop a LiteLLM call from here.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from litellm.integrations.custom_logger import CustomLogger

from ._common import SpanTable, disabled, end_span, open_span, put_content, read_usage, set_usage
from ..costs import pricing as _pricing
from ..tracing.span import _current
from ..providers.common import plain as _plain

__all__ = ["MistLogger"]

_PROVIDERS = {
    "openai": "openai", "azure": "azure.ai.openai", "anthropic": "anthropic", "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai", "bedrock": "aws.bedrock", "mistral": "mistral_ai", "groq": "groq",
    "deepseek": "deepseek", "xai": "x_ai", "cohere": "cohere", "fireworks_ai": "fireworks",
    "together_ai": "together_ai", "perplexity": "perplexity", "openrouter": "openrouter", "cerebras": "cerebras",
}


class MistLogger(CustomLogger):
    """Add to ``litellm.callbacks``. Thread-safe; one logger serves every call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parents = SpanTable()  # litellm_call_id -> the mist span current when the call started

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        try:
            call_id = kwargs.get("litellm_call_id") if isinstance(kwargs, dict) else None
            parent = _current.get()
            if call_id and parent is not None:
                self._parents.put(call_id, parent)
        except Exception:
            pass

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, None)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, _exception(kwargs))

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, None)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, _exception(kwargs))

    def _record(self, kwargs: Any, response: Any, start_time: Any, end_time: Any, error: Any) -> None:
        try:
            if disabled() or not isinstance(kwargs, dict):
                return
            call_id = kwargs.get("litellm_call_id")
            parent = self._parents.pop(call_id) if call_id else None
            call_type = str(kwargs.get("call_type") or "")
            op = "embeddings" if "embedding" in call_type else "chat"
            attrs: Dict[str, Any] = {}
            model = kwargs.get("model")
            if isinstance(model, str) and model:
                attrs["model"] = attrs["request_model"] = model
            params = kwargs.get("litellm_params") or {}
            provider = kwargs.get("custom_llm_provider") or (params.get("custom_llm_provider") if isinstance(params, dict) else None)
            if isinstance(provider, str) and provider:
                attrs["provider"] = _PROVIDERS.get(provider, provider)
            span = open_span(op, parent, attrs, root=True)
            start_ns, end_ns = _ns(start_time), _ns(end_time)
            if start_ns:
                span.start_ns = start_ns
            if error is None and response is not None:
                set_usage(span, read_usage(response))
            put_content(span, "input", _plain(kwargs.get("messages") or kwargs.get("input")))
            if error is None:
                put_content(span, "output", _output(response))
            if "cost_usd" not in span.attrs and _pricing.estimate(span.attrs) is None:
                cost = kwargs.get("response_cost")
                if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost > 0:
                    span.attrs["cost_usd"] = float(cost)
                    span.attrs["cost_source"] = "litellm"
            if end_ns and end_ns >= span.start_ns:
                span.attrs["latency_ms"] = round((end_ns - span.start_ns) / 1e6, 3)
            end_span(span, error)  # ends now (LiteLLM may call back late); latency_ms is LiteLLM's
        except Exception:
            pass


def _exception(kwargs: Any) -> Any:
    if isinstance(kwargs, dict):
        exc = kwargs.get("exception")
        if exc is not None:
            return exc
        text = kwargs.get("traceback_exception")
        if isinstance(text, str) and text:
            return text.strip().splitlines()[-1]
    return "error"


def _ns(t: Any) -> Optional[int]:
    try:
        if hasattr(t, "timestamp"):
            return int(t.timestamp() * 1e9)
        if isinstance(t, (int, float)):
            return int(t * 1e9)
    except Exception:
        pass
    return None


def _output(response: Any) -> Any:
    try:
        message = response.choices[0].message
        content = getattr(message, "content", None)
        calls = getattr(message, "tool_calls", None)
        if calls:
            return {"content": content, "tool_calls": [
                {"name": c.function.name, "arguments": c.function.arguments} for c in calls]}
        return content
    except Exception:
        return None

