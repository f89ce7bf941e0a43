"""OpenAI (and OpenAI-compatible APIs): traced methods, usage readers, the stream accumulator, content.

Usage shapes, read with OpenTelemetry GenAI semantics:

* Chat Completions (and legacy Completions, embeddings): ``usage.prompt_tokens`` (includes
  ``prompt_tokens_details.cached_tokens`` and ``.cache_write_tokens``), ``usage.completion_tokens``
  (includes ``completion_tokens_details.reasoning_tokens``), ``choices[0].finish_reason``.
  DeepSeek's ``prompt_cache_hit_tokens`` is read as the cache-read count (and names the provider),
  as does Groq's ``x_groq``.
* Responses API: ``usage.input_tokens`` / ``input_tokens_details.cached_tokens`` and
  ``.cache_write_tokens``, ``usage.output_tokens`` / ``output_tokens_details.reasoning_tokens``,
  finish reason from ``status`` (``incomplete_details.reason`` when incomplete).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .common import StreamAccumulator, count, get, given, put, text

# (resource path on the client, method, span operation, handling): "streamable" calls may return
# a stream (stream=True); a "helper" (the SDK's .stream(...)) sends its request through create.
METHODS = (
    (("chat", "completions"), "create", "chat", "streamable"),
    (("chat", "completions"), "parse", "chat", "plain"),
    (("chat", "completions"), "stream", "chat", "helper"),
    (("responses",), "create", "responses", "streamable"),
    (("responses",), "parse", "responses", "plain"),
    (("responses",), "stream", "responses", "helper"),
    (("embeddings",), "create", "embeddings", "plain"),
    (("completions",), "create", "text_completion", "streamable"),
)


# ---------------------------------------------------------------------------------------- usage


def has_chat_usage(usage: Any) -> bool:
    return get(usage, "prompt_tokens") is not None or get(usage, "completion_tokens") is not None


def read_chat_usage(usage: Any, attrs: Dict[str, Any]) -> bool:
    prompt = count(get(usage, "prompt_tokens"))
    completion = count(get(usage, "completion_tokens"))
    if prompt is None and completion is None:
        return False
    if prompt is not None:
        attrs["tokens_in"] = prompt
    if completion is not None:
        attrs["tokens_out"] = completion
    details = get(usage, "prompt_tokens_details")
    cached = count(get(details, "cached_tokens"))
    if cached is None:
        cached = count(get(usage, "prompt_cache_hit_tokens"))  # DeepSeek
    put(attrs, "tokens_cache_read", cached)
    put(attrs, "tokens_cache_write", count(get(details, "cache_write_tokens")))
    put(attrs, "tokens_reasoning", count(get(get(usage, "completion_tokens_details"), "reasoning_tokens")))
    return True


def read_responses_usage(usage: Any, attrs: Dict[str, Any]) -> bool:
    inp = count(get(usage, "input_tokens"))
    out = count(get(usage, "output_tokens"))
    if inp is None and out is None:
        return False
    if inp is not None:
        attrs["tokens_in"] = inp
    if out is not None:
        attrs["tokens_out"] = out
    details = get(usage, "input_tokens_details")
    put(attrs, "tokens_cache_read", count(get(details, "cached_tokens")))
    put(attrs, "tokens_cache_write", count(get(details, "cache_write_tokens")))
    put(attrs, "tokens_reasoning", count(get(get(usage, "output_tokens_details"), "reasoning_tokens")))
    return True


def choices_finish(obj: Any) -> Optional[str]:
    choices = get(obj, "choices")
    return text(get(choices[0], "finish_reason")) if isinstance(choices, (list, tuple)) and choices else None


def read(obj: Any) -> Dict[str, Any]:
    """Attrs of a chat completion, completion, embedding list or Responses API object."""
    attrs: Dict[str, Any] = {}
    model = text(get(obj, "model"))
    if model:
        attrs["model"] = model
    usage = get(obj, "usage")
    if has_chat_usage(usage):
        read_chat_usage(usage, attrs)
        if get(usage, "prompt_cache_hit_tokens") is not None or get(usage, "prompt_cache_miss_tokens") is not None:
            attrs["provider"] = "deepseek"
        elif get(obj, "x_groq") is not None:
            attrs["provider"] = "groq"
        finish = choices_finish(obj)
    else:
        # Responses API, or input/output tokens without any marker (inclusive, as OpenTelemetry)
        read_responses_usage(usage, attrs)
        if get(obj, "object") == "response" or get(usage, "input_tokens_details") is not None \
                or get(usage, "output_tokens_details") is not None:
            attrs["provider"] = "openai"
            finish = text(get(obj, "status"))
            if finish == "incomplete":
                finish = text(get(get(obj, "incomplete_details"), "reason")) or finish
        else:
            finish = choices_finish(obj) or text(get(obj, "stop_reason")) or text(get(obj, "finish_reason"))
    if finish:
        attrs["finish_reason"] = finish
    return attrs


# ---------------------------------------------------------------------------------------- streams


def add_stream_usage(op: str, kwargs: Dict[str, Any]) -> bool:
    """Chat Completions streams report usage only when asked: ask, unless the caller chose
    ``stream_options`` (True when added; the extra usage-only chunk is then hidden)."""
    if op != "chat" or kwargs.get("stream") is not True or given(kwargs.get("stream_options")):
        return False
    kwargs["stream_options"] = {"include_usage": True}
    return True


def is_usage_only_chunk(chunk: Any) -> bool:
    """The chunk ``include_usage`` adds at the end: empty ``choices`` and a usage block."""
    return get(chunk, "usage") is not None and not get(chunk, "choices")


class Accumulator(StreamAccumulator):
    """Usage, model, finish reason and text of a Chat Completions stream (usage in the final chunk
    when ``stream_options={"include_usage": True}``), a legacy Completions stream, a Responses API
    stream (``response.output_text.delta`` … ``response.completed``), or the SDK stream helpers'
    events (``chunk`` events are unwrapped; ``content.delta`` and the like repeat the chunks)."""

    def _feed(self, event: Any) -> None:
        kind = get(event, "type")
        if kind == "chunk":
            self._chunk(get(event, "chunk"))
        elif isinstance(kind, str) and kind.startswith("response."):
            self._response_event(kind, event)
        elif kind is None or get(event, "choices") is not None:
            self._chunk(event)

    def _chunk(self, chunk: Any) -> None:
        found = self.found
        if "model" not in found:
            model = text(get(chunk, "model"))
            if model:
                found["model"] = model
        choices = get(chunk, "choices")
        for choice in choices if isinstance(choices, (list, tuple)) else ():
            if get(choice, "index") not in (None, 0):
                continue  # the first choice's text and finish reason, as from_response
            if self.keep_text:
                delta = get(choice, "delta")
                self.add_text(get(delta, "content") if delta is not None else get(choice, "text"))
            finish = text(get(choice, "finish_reason"))
            if finish:
                found["finish_reason"] = finish
        usage = get(chunk, "usage")
        if usage is None:  # Groq: usage in x_groq
            usage = get(get(chunk, "x_groq"), "usage")
            if usage is not None:
                found["provider"] = "groq"
        counts: Dict[str, Any] = {}
        if usage is not None and read_chat_usage(usage, counts):
            if get(usage, "prompt_cache_hit_tokens") is not None:
                counts["provider"] = "deepseek"
            self.merge(counts)

    def _response_event(self, kind: str, event: Any) -> None:
        if kind == "response.output_text.delta":
            self.add_text(get(event, "delta"))
            return
        response = get(event, "response")
        if response is None:
            return
        found = read(response)
        if kind in ("response.created", "response.in_progress"):
            found = {k: v for k, v in found.items() if k in ("model", "provider")}
        elif kind == "response.failed" and "finish_reason" not in found:
            found["finish_reason"] = "failed"
        self.merge(found)


# ---------------------------------------------------------------------------------------- content


def request_content(op: str, kwargs: Dict[str, Any]) -> Any:
    """The prompt as captured ``input``: the message list where the API has one."""
    if op == "chat":
        return kwargs.get("messages")
    if op == "responses":
        inp = kwargs.get("input")
        inp = inp if given(inp) else None
        instructions = kwargs.get("instructions")
        if not given(instructions):
            return inp
        msgs: List[Any] = [{"role": "system", "content": instructions}]
        if isinstance(inp, (list, tuple)):
            msgs.extend(inp)
        elif inp is not None:
            msgs.append({"role": "user", "content": inp})
        return msgs
    value = kwargs.get("prompt" if op == "text_completion" else "input")
    return value if given(value) else None


def response_content(op: str, response: Any) -> Any:
    """The answer as captured ``output``: its text, or its tool calls when it has no text."""
    if op == "responses":
        out = get(response, "output_text")
        if isinstance(out, str):
            return out
        parts = [get(part, "text") or "" for item in get(response, "output") or ()
                 for part in get(item, "content") or () if get(part, "type") == "output_text"]
        return "".join(parts) if parts else None
    if op not in ("chat", "text_completion"):
        return None  # embeddings: vectors are not content worth keeping
    choices = get(response, "choices")
    if not choices:
        return None
    if op == "text_completion":
        return get(choices[0], "text")
    message = get(choices[0], "message")
    content = get(message, "content")
    if content is not None:
        return content
    calls = get(message, "tool_calls")
    return [{"name": get(get(c, "function"), "name"), "arguments": get(get(c, "function"), "arguments")}
            for c in calls] if calls else None
