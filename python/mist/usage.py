"""Read model, token usage and finish reason from LLM SDK responses, without importing any SDK.

:func:`from_response` accepts the response objects of the ``openai`` and ``anthropic`` packages
(pydantic models, read by attribute), plain dicts of the same JSON shapes, and Gemini
``GenerateContentResponse`` objects or dicts. It returns the well-known span attrs (SPEC §2) it could
determine, with OpenTelemetry GenAI token semantics: ``tokens_in`` *includes* cache reads and
writes, ``tokens_out`` *includes* reasoning tokens. Shapes:

* OpenAI Chat Completions (and legacy Completions, embeddings): ``usage.prompt_tokens`` (includes
  ``prompt_tokens_details.cached_tokens`` and ``.cache_write_tokens``), ``usage.completion_tokens`` (includes
  ``completion_tokens_details.reasoning_tokens``), ``choices[0].finish_reason``. DeepSeek's
  ``prompt_cache_hit_tokens`` is read as the cache-read count.
* OpenAI Responses API: ``usage.input_tokens`` / ``input_tokens_details.cached_tokens`` and
  ``.cache_write_tokens``,
  ``usage.output_tokens`` / ``output_tokens_details.reasoning_tokens``, finish reason from
  ``status`` (``incomplete_details.reason`` when incomplete).
* Anthropic Messages: ``usage.input_tokens`` *excludes* ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``; they are added to get ``tokens_in``. Finish reason ``stop_reason``.
* Gemini: ``usage_metadata.prompt_token_count`` (includes ``cached_content_token_count``),
  ``candidates_token_count`` plus ``thoughts_token_count`` (which it excludes) for ``tokens_out``.

Cache and reasoning counts of zero are left out. ``provider`` is set only when the response shape
names it (Anthropic, Gemini, OpenAI Responses, DeepSeek and Groq markers); callers that know the
client fill it in otherwise.

The stream accumulators :class:`OpenAIStreamUsage` and :class:`AnthropicStreamUsage` are fed every
streamed event and give the same attrs when the stream ends, plus the streamed output text (capped).
Nothing here raises on unexpected input: unknown objects give ``{}``.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping as _AbcMapping
from typing import Any, Callable, Dict, List, Mapping, Optional

from .core.backend import core as _core

__all__ = [
    "from_response",
    "OpenAIStreamUsage",
    "AnthropicStreamUsage",
    "TRUNCATION_MARKER",
    "truncation_marker",
]

#: Appended to text cut at a size cap; ``{n}`` is the number of characters left out.
TRUNCATION_MARKER = "…[truncated {n} chars]"

_DEFAULT_TEXT_CAP = 65536


def truncation_marker(n: int) -> str:
    """The visible marker for ``n`` characters cut from a captured value."""
    return TRUNCATION_MARKER.format(n=n)


_MISSING = object()
_CLASS_HAS: Dict[Any, bool] = {}  # (class, name) → whether the class declares the field


def _get(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; None when absent or failing.

    Fast paths for plain dicts and for SDK (pydantic) objects: their fields live in ``__dict__``,
    and a missing field is answered from a per-class cache instead of pydantic's slow
    ``__getattr__``.
    """
    if obj is None:
        return None
    if type(obj) is dict:
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is not None:
        value = fields.get(name, _MISSING)
        if value is not _MISSING:
            return value
        cls = type(obj)
        key = (cls, name)
        has = _CLASS_HAS.get(key)
        if has is None:
            has = not hasattr(cls, "__pydantic_fields__") or hasattr(cls, name)
            if len(_CLASS_HAS) < 4096:
                _CLASS_HAS[key] = has
        if not has:
            extra = getattr(obj, "__pydantic_extra__", None)
            return extra.get(name) if isinstance(extra, dict) else None
    if isinstance(obj, _AbcMapping):
        try:
            return obj.get(name)
        except Exception:
            return None
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _int(value: Any) -> Optional[int]:
    """A non-negative int from an int or integral float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _str(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value or None
    if value is None:
        return None
    # SDK enums (e.g. google-genai FinishReason) carry their wire value in .value or .name.
    inner = _get(value, "value")
    if isinstance(inner, str) and inner:
        return inner
    return None


def _first(seq: Any) -> Any:
    if isinstance(seq, (list, tuple)) and seq:
        return seq[0]
    return None


def _put_positive(attrs: Dict[str, Any], key: str, value: Optional[int]) -> None:
    if value:
        attrs[key] = value


# ---------------------------------------------------------------------- usage blocks


def _openai_chat_usage(usage: Any, attrs: Dict[str, Any]) -> bool:
    prompt = _int(_get(usage, "prompt_tokens"))
    completion = _int(_get(usage, "completion_tokens"))
    if prompt is None and completion is None:
        return False
    if prompt is not None:
        attrs["tokens_in"] = prompt
    if completion is not None:
        attrs["tokens_out"] = completion
    details = _get(usage, "prompt_tokens_details")
    cached = _int(_get(details, "cached_tokens"))
    if cached is None:
        cached = _int(_get(usage, "prompt_cache_hit_tokens"))  # DeepSeek
    _put_positive(attrs, "tokens_cache_read", cached)
    _put_positive(attrs, "tokens_cache_write", _int(_get(details, "cache_write_tokens")))
    reasoning = _int(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens"))
    _put_positive(attrs, "tokens_reasoning", reasoning)
    return True


def _openai_responses_usage(usage: Any, attrs: Dict[str, Any]) -> bool:
    inp = _int(_get(usage, "input_tokens"))
    out = _int(_get(usage, "output_tokens"))
    if inp is None and out is None:
        return False
    if inp is not None:
        attrs["tokens_in"] = inp
    if out is not None:
        attrs["tokens_out"] = out
    details = _get(usage, "input_tokens_details")
    _put_positive(attrs, "tokens_cache_read", _int(_get(details, "cached_tokens")))
    _put_positive(attrs, "tokens_cache_write", _int(_get(details, "cache_write_tokens")))
    _put_positive(attrs, "tokens_reasoning", _int(_get(_get(usage, "output_tokens_details"), "reasoning_tokens")))
    return True


def _anthropic_usage(usage: Any, attrs: Dict[str, Any]) -> bool:
    inp = _int(_get(usage, "input_tokens"))
    out = _int(_get(usage, "output_tokens"))
    read = _int(_get(usage, "cache_read_input_tokens")) or 0
    write = _int(_get(usage, "cache_creation_input_tokens")) or 0
    if inp is None and out is None and not read and not write:
        return False
    if inp is not None or read or write:
        attrs["tokens_in"] = (inp or 0) + read + write
    if out is not None:
        attrs["tokens_out"] = out
    _put_positive(attrs, "tokens_cache_read", read)
    _put_positive(attrs, "tokens_cache_write", write)
    return True


def _gemini_usage(meta: Any, attrs: Dict[str, Any]) -> bool:
    prompt = _int(_get(meta, "prompt_token_count"))
    if prompt is None:
        prompt = _int(_get(meta, "promptTokenCount"))
    cand = _int(_get(meta, "candidates_token_count"))
    if cand is None:
        cand = _int(_get(meta, "candidatesTokenCount"))
    thoughts = _int(_get(meta, "thoughts_token_count"))
    if thoughts is None:
        thoughts = _int(_get(meta, "thoughtsTokenCount"))
    cached = _int(_get(meta, "cached_content_token_count"))
    if cached is None:
        cached = _int(_get(meta, "cachedContentTokenCount"))
    if prompt is None and cand is None and thoughts is None:
        return False
    if prompt is not None:
        attrs["tokens_in"] = prompt
    if cand is not None or thoughts is not None:
        attrs["tokens_out"] = (cand or 0) + (thoughts or 0)
    _put_positive(attrs, "tokens_cache_read", cached)
    _put_positive(attrs, "tokens_reasoning", thoughts)
    return True


# ---------------------------------------------------------------------- whole responses


def _is_anthropic_message(obj: Any, usage: Any) -> bool:
    if _get(obj, "type") == "message":
        return True
    if _get(obj, "stop_reason") is not None:
        return True
    return _get(usage, "cache_read_input_tokens") is not None or _get(usage, "cache_creation_input_tokens") is not None


def _is_responses_api(obj: Any, usage: Any) -> bool:
    if _get(obj, "object") == "response":
        return True
    return _get(usage, "input_tokens_details") is not None or _get(usage, "output_tokens_details") is not None


def _chat_provider_markers(obj: Any, usage: Any, attrs: Dict[str, Any]) -> None:
    if _get(usage, "prompt_cache_hit_tokens") is not None or _get(usage, "prompt_cache_miss_tokens") is not None:
        attrs["provider"] = "deepseek"
    elif _get(obj, "x_groq") is not None:
        attrs["provider"] = "groq"


def _responses_finish(obj: Any) -> Optional[str]:
    status = _str(_get(obj, "status"))
    if status == "incomplete":
        reason = _str(_get(_get(obj, "incomplete_details"), "reason"))
        return reason or status
    return status


def from_response(obj: Any) -> Dict[str, Any]:
    """Well-known span attrs read from one LLM response (object or dict); ``{}`` when unrecognised.

    Keys, each present only when known: ``model``, ``provider``, ``tokens_in``, ``tokens_out``,
    ``tokens_cache_read``, ``tokens_cache_write``, ``tokens_reasoning``, ``finish_reason``. A bare
    usage block (``response.usage``) is accepted too. Never raises.
    """
    try:
        found = _fast_read(obj)
        if found is not None:
            return found
    except Exception:
        pass
    try:
        return _from_response(obj)
    except Exception:
        return {}


def _from_response(obj: Any) -> Dict[str, Any]:
    attrs: Dict[str, Any] = {}
    if obj is None or isinstance(obj, (str, bytes, int, float, bool, list, tuple)):
        return attrs
    model = _str(_get(obj, "model"))
    usage = _get(obj, "usage")

    meta = _get(obj, "usage_metadata")
    if meta is None:
        meta = _get(obj, "usageMetadata")
    if meta is not None:  # Gemini
        version = _str(_get(obj, "model_version")) or _str(_get(obj, "modelVersion"))
        if version or model:
            attrs["model"] = version or model
        attrs["provider"] = "gcp.gemini"
        _gemini_usage(meta, attrs)
        cand = _first(_get(obj, "candidates"))
        finish = _str(_get(cand, "finish_reason")) or _str(_get(cand, "finishReason"))
        if finish:
            attrs["finish_reason"] = finish
        return attrs

    kind = _get(obj, "object")
    if usage is None and kind != "response" and _get(obj, "type") != "message":
        # A bare usage block, e.g. from_response(response.usage).
        if _get(obj, "prompt_tokens") is not None or _get(obj, "completion_tokens") is not None:
            _openai_chat_usage(obj, attrs)
        elif _get(obj, "input_tokens") is not None or _get(obj, "output_tokens") is not None:
            if _is_anthropic_message(None, obj):
                _anthropic_usage(obj, attrs)
            else:
                _openai_responses_usage(obj, attrs)
        if model:
            attrs["model"] = model
        finish = _finish_from_choices(obj) or _str(_get(obj, "stop_reason"))
        if finish:
            attrs["finish_reason"] = finish
        return attrs

    if model:
        attrs["model"] = model
    if _get(usage, "prompt_tokens") is not None or _get(usage, "completion_tokens") is not None:
        _openai_chat_usage(usage, attrs)
        _chat_provider_markers(obj, usage, attrs)
        finish = _finish_from_choices(obj)
        if finish:
            attrs["finish_reason"] = finish
    elif kind != "response" and _is_anthropic_message(obj, usage):
        _anthropic_usage(usage, attrs)
        attrs["provider"] = "anthropic"
        finish = _str(_get(obj, "stop_reason"))
        if finish:
            attrs["finish_reason"] = finish
    elif _is_responses_api(obj, usage):
        _openai_responses_usage(usage, attrs)
        attrs["provider"] = "openai"
        finish = _responses_finish(obj)
        if finish:
            attrs["finish_reason"] = finish
    else:
        # input_tokens/output_tokens without any marker: inclusive semantics, as OpenTelemetry.
        _openai_responses_usage(usage, attrs)
        finish = _finish_from_choices(obj) or _str(_get(obj, "stop_reason")) or _str(_get(obj, "finish_reason"))
        if finish:
            attrs["finish_reason"] = finish
    return attrs


def _finish_from_choices(obj: Any) -> Optional[str]:
    return _str(_get(_first(_get(obj, "choices")), "finish_reason"))


# ---------------------------------------------------------------------- fast path
#
# The traced call of an instrumented client reads one response right after a network wait, when
# little of this module is in the CPU caches: there every Python call costs ~0.5 µs, and
# ``_from_response`` makes ~35 of them for a chat completion. ``_from_chat_or_message`` gives the
# same answer for the two commonest shapes (OpenAI Chat Completions, Anthropic Messages) with one
# dict lookup per field, and None for anything else, which then takes the general path.
# tests/test_usage.py checks the two paths agree.

# Every name the fast path reads, on any object.
_VIEW_NAMES = (
    "usage_metadata", "usageMetadata", "usage", "model", "object", "type", "choices", "x_groq", "stop_reason",
    "finish_reason", "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details",
    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "prompt_cache_hit_tokens", "prompt_cache_miss_tokens",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
    "index", "delta", "text",  # stream chunks
)
_VIEWABLE: Dict[Any, bool] = {}  # class → whether _view can stand in for _get on its instances
_NO_FIELDS: Dict[str, Any] = {}  # the view of None (never written to)


def _view(obj: Any) -> Optional[Dict[str, Any]]:
    """A dict whose ``.get(name)`` equals ``_get(obj, name)`` for every name in ``_VIEW_NAMES``:
    ``obj`` itself for a plain dict, a pydantic model's fields (and extra fields) for an SDK
    object whose class defines none of those names as attributes; None otherwise."""
    if type(obj) is dict:
        return obj
    if obj is None:
        return _NO_FIELDS
    cls = type(obj)
    ok = _VIEWABLE.get(cls)
    if ok is None:
        ok = hasattr(cls, "__pydantic_fields__") and not any(hasattr(cls, n) for n in _VIEW_NAMES)
        if len(_VIEWABLE) < 1024:
            _VIEWABLE[cls] = ok
    if not ok:
        return None
    try:
        fields = obj.__dict__
        extra = obj.__pydantic_extra__
    except AttributeError:
        return None
    if type(fields) is not dict:
        return None
    if extra and isinstance(extra, dict):  # declared fields win, as in _get
        return {**extra, **fields}
    return fields


def _getter(obj: Any) -> Callable[[str], Any]:
    """``lambda name: _get(obj, name)`` for the names in ``_VIEW_NAMES``, a dict lookup when it can."""
    view = _view(obj)
    if view is not None:
        return view.get
    return functools.partial(_get, obj)


def _from_chat_or_message(obj: Any) -> Optional[Dict[str, Any]]:
    """``_from_response(obj)`` for an OpenAI chat completion or an Anthropic message (SDK object or
    dict), None for anything else. Mirrors the general path step by step, field for field."""
    if obj is None:
        return None
    o = _view(obj)
    if o is None:
        return None
    get = o.get
    if get("usage_metadata") is not None or get("usageMetadata") is not None:
        return None  # Gemini
    usage = get("usage")
    if usage is None:
        return None  # a bare usage block, or a response without usage
    u = _view(usage)
    if u is None:
        return None
    uget = u.get
    model = get("model")
    model = (model or None) if type(model) is str else _str(model)
    attrs: Dict[str, Any] = {}
    if model:
        attrs["model"] = model
    prompt = uget("prompt_tokens")
    completion = uget("completion_tokens")
    if prompt is not None or completion is not None:  # Chat Completions (_openai_chat_usage)
        prompt = prompt if type(prompt) is int and prompt >= 0 else _int(prompt)
        completion = completion if type(completion) is int and completion >= 0 else _int(completion)
        if prompt is not None or completion is not None:
            if prompt is not None:
                attrs["tokens_in"] = prompt
            if completion is not None:
                attrs["tokens_out"] = completion
            details = _view(uget("prompt_tokens_details"))
            reasoning_details = _view(uget("completion_tokens_details"))
            if details is None or reasoning_details is None:
                return None
            cached = details.get("cached_tokens")
            cached = cached if type(cached) is int and cached >= 0 else _int(cached)
            if cached is None:
                cached = uget("prompt_cache_hit_tokens")
                cached = None if cached is None else _int(cached)
            if cached:
                attrs["tokens_cache_read"] = cached
            written = details.get("cache_write_tokens")
            if written is not None and _int(written):
                attrs["tokens_cache_write"] = _int(written)
            reasoning = reasoning_details.get("reasoning_tokens")
            reasoning = reasoning if type(reasoning) is int and reasoning >= 0 else _int(reasoning)
            if reasoning:
                attrs["tokens_reasoning"] = reasoning
        if uget("prompt_cache_hit_tokens") is not None or uget("prompt_cache_miss_tokens") is not None:
            attrs["provider"] = "deepseek"
        elif get("x_groq") is not None:
            attrs["provider"] = "groq"
        choices = get("choices")
        choice = _view(choices[0] if isinstance(choices, (list, tuple)) and choices else None)
        if choice is None:
            return None
        finish = choice.get("finish_reason")
        finish = (finish or None) if type(finish) is str else _str(finish)
        if finish:
            attrs["finish_reason"] = finish
        return attrs
    if get("object") == "response":
        return None  # Responses API
    if not (get("type") == "message" or get("stop_reason") is not None
            or uget("cache_read_input_tokens") is not None or uget("cache_creation_input_tokens") is not None):
        return None
    # Anthropic Messages (_anthropic_usage)
    inp = uget("input_tokens")
    inp = inp if type(inp) is int and inp >= 0 else _int(inp)
    out = uget("output_tokens")
    out = out if type(out) is int and out >= 0 else _int(out)
    read = uget("cache_read_input_tokens")
    read = (read if type(read) is int and read >= 0 else _int(read)) or 0
    write = uget("cache_creation_input_tokens")
    write = (write if type(write) is int and write >= 0 else _int(write)) or 0
    if inp is not None or out is not None or read or write:
        if inp is not None or read or write:
            attrs["tokens_in"] = (inp or 0) + read + write
        if out is not None:
            attrs["tokens_out"] = out
        if read:
            attrs["tokens_cache_read"] = read
        if write:
            attrs["tokens_cache_write"] = write
    attrs["provider"] = "anthropic"
    finish = get("stop_reason")
    finish = (finish or None) if type(finish) is str else _str(finish)
    if finish:
        attrs["finish_reason"] = finish
    return attrs


# ---------------------------------------------------------------------- streaming


class _TextBuffer:
    """Streamed text kept up to ``cap`` characters; the rest is only counted."""

    __slots__ = ("cap", "parts", "kept", "dropped")

    def __init__(self, cap: int) -> None:
        self.cap = max(0, int(cap))
        self.parts: List[str] = []
        self.kept = 0
        self.dropped = 0

    def add(self, piece: Any) -> None:
        if not isinstance(piece, str) or not piece:
            return
        room = self.cap - self.kept
        if room >= len(piece):
            self.parts.append(piece)
            self.kept += len(piece)
        else:
            if room > 0:
                self.parts.append(piece[:room])
                self.kept += room
            self.dropped += len(piece) - max(room, 0)

    def text(self) -> str:
        joined = "".join(self.parts)
        if len(self.parts) > 1:
            self.parts = [joined]
        if self.dropped:
            return joined + truncation_marker(self.dropped)
        return joined


class _StreamBase:
    def __init__(self, max_text_chars: int = _DEFAULT_TEXT_CAP) -> None:
        self._attrs: Dict[str, Any] = {}
        self._text = _TextBuffer(max_text_chars)
        self.events = 0

    def attrs(self) -> Dict[str, Any]:
        """Well-known span attrs gathered so far (same keys as :func:`from_response`)."""
        return dict(self._attrs)

    @property
    def text(self) -> str:
        """Streamed output text; past ``max_text_chars`` it ends with ``…[truncated N chars]``."""
        return self._text.text()

    @property
    def text_chars(self) -> int:
        """Characters of output text streamed in total (kept and dropped)."""
        return self._text.kept + self._text.dropped

    def _merge_usage_attrs(self, found: Mapping[str, Any]) -> None:
        for key, value in found.items():
            if value is not None:
                self._attrs[key] = value


class OpenAIStreamUsage(_StreamBase):
    """Accumulates usage, model, finish reason and text from an OpenAI stream.

    Feed it every event of a Chat Completions stream (``ChatCompletionChunk`` objects or dicts; usage
    arrives in the final chunk with empty ``choices`` when ``stream_options={"include_usage": True}``),
    a Responses API stream (``response.output_text.delta``, ``response.completed`` … events), or the
    SDK stream helpers' events (``chunk`` events are unwrapped). Anything else is ignored.
    """

    def feed(self, event: Any) -> None:
        """Take one streamed event into account; never raises."""
        try:
            self.events += 1
            self._feed(event)
        except Exception:
            pass

    def _feed(self, event: Any) -> None:
        get = _getter(event)
        etype = get("type")
        if isinstance(etype, str):
            if etype == "chunk":  # openai.lib.streaming.chat ChunkEvent
                self._feed_chunk(_get(event, "chunk"))
                return
            if etype.startswith("response."):
                self._feed_responses_event(etype, event)
                return
            if get("choices") is None:
                return  # content.delta and other helper events repeat what chunks carry
        self._feed_chunk(event, get)

    def _feed_chunk(self, chunk: Any, get: Optional[Callable[[str], Any]] = None) -> None:
        if chunk is None:
            return
        if get is None:
            get = _getter(chunk)
        model = _str(get("model"))
        if model and "model" not in self._attrs:
            self._attrs["model"] = model
        choices = get("choices")
        if isinstance(choices, (list, tuple)):
            for choice in choices:
                cget = _getter(choice)
                index = cget("index")
                if index not in (None, 0):
                    continue  # text and finish reason of the first choice, as from_response
                delta = cget("delta")
                self._text.add(_get(delta, "content"))
                if delta is None:
                    self._text.add(cget("text"))  # legacy completions stream
                finish = _str(cget("finish_reason"))
                if finish:
                    self._attrs["finish_reason"] = finish
        usage = get("usage")
        if usage is None:
            groq = get("x_groq")
            usage = None if groq is None else _get(groq, "usage")
            if usage is not None:
                self._attrs["provider"] = "groq"
        if usage is not None:
            found: Dict[str, Any] = {}
            if _openai_chat_usage(usage, found):
                if _get(usage, "prompt_cache_hit_tokens") is not None:
                    found["provider"] = "deepseek"
                self._merge_usage_attrs(found)

    def _feed_responses_event(self, etype: str, event: Any) -> None:
        if etype == "response.output_text.delta":
            self._text.add(_get(event, "delta"))
            return
        response = _get(event, "response")
        if response is None:
            return
        found = from_response(response)
        if etype in ("response.created", "response.in_progress"):
            found = {k: v for k, v in found.items() if k in ("model", "provider")}
        elif etype == "response.failed" and "finish_reason" not in found:
            found["finish_reason"] = "failed"
        self._merge_usage_attrs(found)


class AnthropicStreamUsage(_StreamBase):
    """Accumulates usage, model, stop reason and text from an Anthropic Messages stream.

    ``message_start`` carries the model and input usage (cache reads and writes included),
    ``message_delta`` the output token count and ``stop_reason`` (counts are cumulative, so the last
    one wins), ``content_block_delta`` text deltas. Iterating the SDK's ``MessageStream`` works too:
    its ``message_stop`` carries the final ``message`` snapshot, and its derived ``text`` events
    (duplicates of the raw deltas) are skipped. Anything else is ignored.
    """

    def __init__(self, max_text_chars: int = _DEFAULT_TEXT_CAP) -> None:
        super().__init__(max_text_chars)
        self._attrs["provider"] = "anthropic"
        self._input = 0
        self._cache_read = 0
        self._cache_write = 0
        self._have_input = False

    def feed(self, event: Any) -> None:
        """Take one streamed event into account; never raises."""
        try:
            self.events += 1
            self._feed(event)
        except Exception:
            pass

    def _usage_in(self, usage: Any) -> None:
        inp = _int(_get(usage, "input_tokens"))
        read = _int(_get(usage, "cache_read_input_tokens"))
        write = _int(_get(usage, "cache_creation_input_tokens"))
        if inp is not None:
            self._input = inp
            self._have_input = True
        if read is not None:
            self._cache_read = read
            self._have_input = True
        if write is not None:
            self._cache_write = write
            self._have_input = True
        if self._have_input:
            self._attrs["tokens_in"] = self._input + self._cache_read + self._cache_write
            if self._cache_read:
                self._attrs["tokens_cache_read"] = self._cache_read
            if self._cache_write:
                self._attrs["tokens_cache_write"] = self._cache_write
        out = _int(_get(usage, "output_tokens"))
        if out is not None:
            self._attrs["tokens_out"] = out

    def _feed(self, event: Any) -> None:
        etype = _get(event, "type")
        if etype == "message_start":
            message = _get(event, "message")
            model = _str(_get(message, "model"))
            if model:
                self._attrs["model"] = model
            self._usage_in(_get(message, "usage"))
        elif etype == "content_block_delta":
            delta = _get(event, "delta")
            if _get(delta, "type") in (None, "text_delta"):
                self._text.add(_get(delta, "text"))
        elif etype == "message_delta":
            self._usage_in(_get(event, "usage"))
            finish = _str(_get(_get(event, "delta"), "stop_reason"))
            if finish:
                self._attrs["finish_reason"] = finish
        elif etype == "message_stop":
            message = _get(event, "message")
            if message is not None:  # MessageStream's final snapshot: authoritative
                found = from_response(message)
                self._merge_usage_attrs(found)
        elif etype == "message":
            self._merge_usage_attrs(from_response(event))
        # "text", "thinking", "input_json", "citation" helper events repeat the raw
        # content_block_delta that MessageStream yields just before them: ignored.


# The native reader of the two common shapes when the extension runs (the same answers, None for
# anything it leaves to Python), else the Python one.
_fast_read: Callable[[Any], Optional[Dict[str, Any]]] = getattr(_core, "read_usage", None) or _from_chat_or_message
