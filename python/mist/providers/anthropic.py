"""Anthropic Messages: traced methods, the usage reader, the stream accumulator, content.

``usage.input_tokens`` *excludes* ``cache_read_input_tokens`` and ``cache_creation_input_tokens``:
they are added to get ``tokens_in`` (OpenTelemetry GenAI semantics). ``tokens_cache_write`` is
``cache_creation_input_tokens``; ``tokens_cache_write_1h`` the part of it written with the 1-hour
TTL (``cache_creation.ephemeral_1h_input_tokens``, priced higher than 5-minute writes).
``output_tokens`` includes thinking (``output_tokens_details.thinking_tokens``: ``tokens_reasoning``).
Finish reason: ``stop_reason``.
"""
from __future__ import annotations

from typing import Any, Dict, List

from .common import StreamAccumulator, count, given, text, view

# (resource path, method, span operation, handling): the "sending_helper" (messages.stream) sends
# its request itself, not through create, when its manager is entered.
METHODS = (
    (("messages",), "create", "messages", "streamable"),
    (("messages",), "parse", "messages", "plain"),
    (("messages",), "stream", "messages", "sending_helper"),
)


def is_usage(u: Any) -> bool:
    """A usage block with Anthropic's cache counts."""
    return u.get("cache_read_input_tokens") is not None or u.get("cache_creation_input_tokens") is not None


def is_message(o: Any, u: Any) -> bool:
    if o.get("object") == "response":
        return False
    return o.get("type") == "message" or o.get("stop_reason") is not None or is_usage(u)


def read_usage(u: Any, attrs: Dict[str, Any]) -> bool:
    inp = count(u.get("input_tokens"))
    out = count(u.get("output_tokens"))
    read = count(u.get("cache_read_input_tokens")) or 0
    write = count(u.get("cache_creation_input_tokens")) or 0
    if inp is None and out is None and not read and not write:
        return False
    if inp is not None or read or write:
        attrs["tokens_in"] = (inp or 0) + read + write
    if out is not None:
        attrs["tokens_out"] = out
    for key, value in (("tokens_cache_read", read), ("tokens_cache_write", write),
                       ("tokens_cache_write_1h", count(view(u.get("cache_creation")).get("ephemeral_1h_input_tokens"))),
                       ("tokens_reasoning", count(view(u.get("output_tokens_details")).get("thinking_tokens")))):
        if value:
            attrs[key] = value
    return True


def read(o: Any) -> Dict[str, Any]:
    """Attrs of a message."""
    attrs: Dict[str, Any] = {}
    model = text(o.get("model"))
    if model:
        attrs["model"] = model
    read_usage(view(o.get("usage")), attrs)
    attrs["provider"] = "anthropic"
    finish = text(o.get("stop_reason"))
    if finish:
        attrs["finish_reason"] = finish
    return attrs


_COUNTS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_DETAILS = ("cache_creation", "output_tokens_details")


class Accumulator(StreamAccumulator):
    """Usage, model, stop reason and text of a Messages stream. ``message_start`` carries the
    model and the input counts (cache reads and writes included), ``message_delta`` the output
    count and ``stop_reason`` (counts are cumulative: the last one wins), ``content_block_delta``
    text. Iterating the SDK's ``MessageStream`` works too: its ``message_stop`` carries the final
    snapshot; its derived ``text`` (and ``thinking`` …) events repeat the raw deltas: skipped."""

    def __init__(self, keep_text: bool = True, max_text_chars: int = 65536) -> None:
        super().__init__(keep_text, max_text_chars)
        self.found["provider"] = "anthropic"
        self._usage: Dict[str, Any] = {}  # the latest value of each count

    def _counts(self, u: Any) -> None:
        for key in _COUNTS:
            n = count(u.get(key))
            if n is not None:
                self._usage[key] = n
        for key in _DETAILS:
            value = u.get(key)
            if value is not None:
                self._usage[key] = value
        read_usage(self._usage, self.found)

    def feed(self, event: Any) -> None:
        self.events += 1
        try:
            self._feed(view(event))
        except Exception:
            pass

    def _feed(self, e: Any) -> None:
        kind = e.get("type")
        if kind == "content_block_delta":
            delta = view(e.get("delta"))
            if self.keep_text and delta.get("type") in (None, "text_delta"):
                self.add_text(delta.get("text"))
        elif kind == "message_start":
            message = view(e.get("message"))
            model = text(message.get("model"))
            if model:
                self.found["model"] = model
            self._counts(view(message.get("usage")))
        elif kind == "message_delta":
            self._counts(view(e.get("usage")))
            finish = text(view(e.get("delta")).get("stop_reason"))
            if finish:
                self.found["finish_reason"] = finish
        elif kind == "message_stop":
            message = e.get("message")
            if message is not None:  # MessageStream's final snapshot: authoritative
                self.merge(read(view(message)))
        elif kind == "message":
            self.merge(read(e))


def request_content(op: str, kwargs: Dict[str, Any]) -> Any:
    """The prompt as captured ``input``: the messages, after the system prompt when there is one."""
    messages = kwargs.get("messages")
    system = kwargs.get("system")
    if given(system) and isinstance(messages, (list, tuple)):
        out: List[Any] = [{"role": "system", "content": system}]
        return out + list(messages)
    return messages


def response_content(op: str, response: Any) -> Any:
    """The answer as captured ``output``: its text, or its tool calls when it has no text."""
    texts, tools = [], []
    for block in view(response).get("content") or ():
        b = view(block)
        kind = b.get("type")
        if kind == "text":
            texts.append(b.get("text") or "")
        elif kind == "tool_use":
            tools.append({"name": b.get("name"), "input": b.get("input")})
    if texts:
        return "".join(texts)
    return tools or None
