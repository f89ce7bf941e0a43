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

Readers take :func:`~.common.view` s of the objects (``o`` a response, ``u`` its usage block).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .common import StreamAccumulator, count, given, text, view

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


def is_chat_usage(u: Any) -> bool:
    return u.get("prompt_tokens") is not None or u.get("completion_tokens") is not None


def read_chat_usage(u: Any, attrs: Dict[str, Any]) -> bool:
    prompt = count(u.get("prompt_tokens"))
    completion = count(u.get("completion_tokens"))
    if prompt is None and completion is None:
        return False
    if prompt is not None:
        attrs["tokens_in"] = prompt
    if completion is not None:
        attrs["tokens_out"] = completion
    details = view(u.get("prompt_tokens_details"))
    cached = count(details.get("cached_tokens"))
    if cached is None:
        cached = count(u.get("prompt_cache_hit_tokens"))  # DeepSeek
    if cached:
        attrs["tokens_cache_read"] = cached
    written = count(details.get("cache_write_tokens"))
    if written:
        attrs["tokens_cache_write"] = written
    reasoning = count(view(u.get("completion_tokens_details")).get("reasoning_tokens"))
    if reasoning:
        attrs["tokens_reasoning"] = reasoning
    return True


def read_responses_usage(u: Any, attrs: Dict[str, Any]) -> bool:
    inp = count(u.get("input_tokens"))
    out = count(u.get("output_tokens"))
    if inp is None and out is None:
        return False
    if inp is not None:
        attrs["tokens_in"] = inp
    if out is not None:
        attrs["tokens_out"] = out
    details = view(u.get("input_tokens_details"))
    for key, value in (("tokens_cache_read", details.get("cached_tokens")),
                       ("tokens_cache_write", details.get("cache_write_tokens")),
                       ("tokens_reasoning", view(u.get("output_tokens_details")).get("reasoning_tokens"))):
        value = count(value)
        if value:
            attrs[key] = value
    return True


def choices_finish(o: Any) -> Optional[str]:
    choices = o.get("choices")
    return text(view(choices[0]).get("finish_reason")) if isinstance(choices, (list, tuple)) and choices else None


def read(o: Any, u: Any) -> Dict[str, Any]:
    """Attrs of a chat completion, completion, embedding list or Responses API object."""
    attrs: Dict[str, Any] = {}
    model = text(o.get("model"))
    if model:
        attrs["model"] = model
    if is_chat_usage(u):
        read_chat_usage(u, attrs)
        if u.get("prompt_cache_hit_tokens") is not None or u.get("prompt_cache_miss_tokens") is not None:
            attrs["provider"] = "deepseek"
        elif o.get("x_groq") is not None:
            attrs["provider"] = "groq"
        finish = choices_finish(o)
    else:
        # Responses API, or input/output tokens without any marker (inclusive, as OpenTelemetry)
        read_responses_usage(u, attrs)
        if o.get("object") == "response" or u.get("input_tokens_details") is not None \
                or u.get("output_tokens_details") is not None:
            attrs["provider"] = "openai"
            finish = text(o.get("status"))
            if finish == "incomplete":
                finish = text(view(o.get("incomplete_details")).get("reason")) or finish
        else:
            finish = choices_finish(o) or text(o.get("stop_reason")) or text(o.get("finish_reason"))
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


class Accumulator(StreamAccumulator):
    """Usage, model, finish reason and text of a Chat Completions stream (usage in the final chunk
    when ``stream_options={"include_usage": True}``), a legacy Completions stream, a Responses API
    stream (``response.output_text.delta`` … ``response.completed``), or the SDK stream helpers'
    events (``chunk`` events are unwrapped; ``content.delta`` and the like repeat the chunks)."""

    def feed(self, event: Any) -> bool:
        """Read one event; True when it is a chunk with no choices but usage (the one
        ``include_usage`` adds at the end of a chat stream)."""
        self.events += 1
        try:
            c = view(event)
            kind = c.get("type")
            if kind is not None:  # not a chunk: a Responses API or stream-helper event
                if kind == "chunk":
                    c = view(c.get("chunk"))
                elif isinstance(kind, str) and kind.startswith("response."):
                    self._response_event(kind, c)
                    return False
                elif c.get("choices") is None:
                    return False  # content.delta and the like repeat what the chunks carry
            found = self.found
            if "model" not in found:
                model = text(c.get("model"))
                if model:
                    found["model"] = model
            choices = c.get("choices")
            for choice in choices if isinstance(choices, (list, tuple)) else ():
                ch = view(choice)
                if ch.get("index") not in (None, 0):
                    continue  # the first choice's text and finish reason, as from_response
                if self.keep_text:
                    delta = ch.get("delta")
                    self.add_text(view(delta).get("content") if delta is not None else ch.get("text"))
                finish = ch.get("finish_reason")
                if finish is not None and text(finish):
                    found["finish_reason"] = text(finish)
            usage = c.get("usage")
            if usage is None:
                groq = c.get("x_groq")  # Groq: usage in x_groq
                usage = None if groq is None else view(groq).get("usage")
                if usage is None:
                    return False
                found["provider"] = "groq"
            u = view(usage)
            counts: Dict[str, Any] = {}
            if read_chat_usage(u, counts):
                if u.get("prompt_cache_hit_tokens") is not None:
                    counts["provider"] = "deepseek"
                self.merge(counts)
            return not choices
        except Exception:
            return False

    def _response_event(self, kind: str, e: Any) -> None:
        if kind == "response.output_text.delta":
            self.add_text(e.get("delta"))
            return
        response = e.get("response")
        if response is None:
            return
        o = view(response)
        found = read(o, view(o.get("usage")))
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
    r = view(response)
    if op == "responses":
        parts = [view(part).get("text") or "" for item in r.get("output") or ()
                 for part in view(item).get("content") or () if view(part).get("type") == "output_text"]
        return "".join(parts) if parts else None
    if op not in ("chat", "text_completion"):
        return None  # embeddings: vectors are not content worth keeping
    choices = r.get("choices")
    if not choices:
        return None
    if op == "text_completion":
        return view(choices[0]).get("text")
    message = view(view(choices[0]).get("message"))
    content = message.get("content")
    if content is not None:
        return content
    calls = [view(view(c).get("function")) for c in message.get("tool_calls") or ()]
    return [{"name": f.get("name"), "arguments": f.get("arguments")} for f in calls] or None
