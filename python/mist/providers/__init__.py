"""What mist knows about LLM providers, without importing any SDK: how their responses and streams
report model, token usage and finish reason, which client methods make model calls, and what their
requests and answers contain (for content capture).

:func:`from_response` accepts the response objects of the ``openai`` and ``anthropic`` packages
(pydantic models, read by attribute), plain dicts of the same JSON shapes, bare usage blocks
(``response.usage``) and Gemini ``GenerateContentResponse`` objects or dicts. It returns the
well-known span attrs it could determine, with OpenTelemetry GenAI token semantics: ``tokens_in``
*includes* cache reads and writes, ``tokens_out`` *includes* reasoning tokens. Cache and reasoning
counts of zero are left out. ``provider`` is set only when the response names it (Anthropic,
Gemini, OpenAI Responses, DeepSeek and Groq markers). The shapes are described in
:mod:`.openai`, :mod:`.anthropic` and :mod:`.gemini`; each also has a stream accumulator
(:class:`~.common.StreamAccumulator`) fed every streamed event. Nothing here raises on unexpected
input: unknown objects give ``{}``.

This package sits below tracing (``Span.record`` uses it): it imports nothing from mist but
:mod:`mist.redact`.
"""
from __future__ import annotations

from typing import Any, Dict

from . import anthropic, gemini, openai
from .common import StreamAccumulator, get, text

__all__ = ["from_response", "provider_for_host", "family", "StreamAccumulator", "openai", "anthropic", "gemini"]

# API hosts → OpenTelemetry ``gen_ai.provider.name`` values (matched on the host or a parent domain).
HOSTS = (
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure.ai.openai"),
    ("api.anthropic.com", "anthropic"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("openrouter.ai", "openrouter"),
    ("api.together.xyz", "together_ai"),
    ("api.together.ai", "together_ai"),
    ("api.fireworks.ai", "fireworks"),
    ("api.perplexity.ai", "perplexity"),
    ("api.cerebras.ai", "cerebras"),
)


def provider_for_host(host: str) -> Any:
    """The provider serving an API host, or None."""
    host = host.lower().rstrip(".")
    for suffix, name in HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return name
    return None


def family(name: str) -> Any:
    """The module of an SDK family: ``"openai"`` or ``"anthropic"``."""
    return anthropic if name == "anthropic" else openai


def from_response(obj: Any) -> Dict[str, Any]:
    """Well-known span attrs read from one LLM response (object or dict); ``{}`` when unrecognised.

    Keys, each present only when known: ``model``, ``provider``, ``tokens_in``, ``tokens_out``,
    ``tokens_cache_read``, ``tokens_cache_write``, ``tokens_cache_write_1h``, ``tokens_reasoning``,
    ``finish_reason``. Never raises.
    """
    try:
        return _read(obj)
    except Exception:
        return {}


def _read(obj: Any) -> Dict[str, Any]:
    if obj is None or isinstance(obj, (str, bytes, int, float, list, tuple)):
        return {}
    found = gemini.read(obj)
    if found is not None:
        return found
    usage = get(obj, "usage")
    if usage is None and get(obj, "object") != "response" and get(obj, "type") != "message":
        return _bare_usage(obj)
    if not openai.has_chat_usage(usage) and anthropic.is_message(obj, usage):
        return anthropic.read(obj)
    return openai.read(obj)


def _bare_usage(obj: Any) -> Dict[str, Any]:
    """A usage block on its own (``from_response(response.usage)``), or a response without usage."""
    attrs: Dict[str, Any] = {}
    if openai.has_chat_usage(obj):
        openai.read_chat_usage(obj, attrs)
    elif get(obj, "input_tokens") is not None or get(obj, "output_tokens") is not None:
        if anthropic.is_usage(obj):
            anthropic.read_usage(obj, attrs)
        else:
            openai.read_responses_usage(obj, attrs)
    model = text(get(obj, "model"))
    if model:
        attrs["model"] = model
    finish = openai.choices_finish(obj) or text(get(obj, "stop_reason"))
    if finish:
        attrs["finish_reason"] = finish
    return attrs
