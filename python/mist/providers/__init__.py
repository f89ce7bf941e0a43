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
from .common import _NOTHING, StreamAccumulator, text, view

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
    """The module of an SDK family: ``"openai"``, ``"anthropic"`` or ``"gemini"``."""
    return anthropic if name == "anthropic" else gemini if name == "gemini" else openai


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


_NOT_RESPONSES = (str, bytes, int, float, bool, list, tuple)


def _read(obj: Any) -> Dict[str, Any]:
    if obj is None or type(obj) in _NOT_RESPONSES:
        return {}
    o = view(obj)
    u = view(o.get("usage"))
    if u is _NOTHING:  # no usage block: Gemini, a bare usage block, or a response without usage
        found = gemini.read(o)
        if found is not None:
            return found
        if o.get("object") != "response" and o.get("type") != "message":
            return _bare_usage(o)
    if not openai.is_chat_usage(u) and anthropic.is_message(o, u):
        return anthropic.read(o)
    return openai.read(o, u)


def _bare_usage(o: Any) -> Dict[str, Any]:
    """A usage block on its own (``from_response(response.usage)``), or a response without usage."""
    attrs: Dict[str, Any] = {}
    if openai.is_chat_usage(o):
        openai.read_chat_usage(o, attrs)
    elif o.get("input_tokens") is not None or o.get("output_tokens") is not None:
        if anthropic.is_usage(o):
            anthropic.read_usage(o, attrs)
        else:
            openai.read_responses_usage(o, attrs)
    model = text(o.get("model"))
    if model:
        attrs["model"] = model
    finish = openai.choices_finish(o) or text(o.get("stop_reason"))
    if finish:
        attrs["finish_reason"] = finish
    return attrs
