"""What providers' responses and streams say (``mist.providers``): dicts, plain objects, real SDK types."""
from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest

from mist.costs.table import PriceTable
from mist.redact import Redactor
from mist.providers import from_response
from mist.providers.anthropic import Accumulator as AnthropicAccumulator
from mist.providers.openai import Accumulator as OpenAIAccumulator


def ns(value: Any) -> Any:
    """The attribute-object form of a JSON document (what SDK objects look like to duck typing)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: ns(v) for k, v in value.items()})
    if isinstance(value, list):
        return [ns(v) for v in value]
    return value


# ---------------------------------------------------------------------- documented payloads

# OpenAI Chat Completions, as in the API reference, with cached and reasoning tokens.
CHAT = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "o4-mini-2025-04-16",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The answer is 42.", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 192,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}
CHAT_ATTRS = {
    "model": "o4-mini-2025-04-16",
    "tokens_in": 2006,
    "tokens_out": 300,
    "tokens_cache_read": 1920,
    "tokens_reasoning": 192,
    "finish_reason": "stop",
}

# OpenAI Responses API, as in the API reference.
RESPONSE = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "In a peaceful grove beneath a silver moon...", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 1536,
        "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 256},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 40},
        "total_tokens": 1623,
    },
    "user": None,
    "metadata": {},
}
RESPONSE_ATTRS = {
    "model": "gpt-4.1-2025-04-14",
    "provider": "openai",
    "tokens_in": 1536,
    "tokens_out": 87,
    "tokens_cache_read": 1024,
    "tokens_cache_write": 256,
    "tokens_reasoning": 40,
    "finish_reason": "completed",
}

# Anthropic Messages, as in the prompt caching guide: input_tokens EXCLUDES the cache counts.
MESSAGE = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 21,
        "cache_creation_input_tokens": 188086,
        "cache_read_input_tokens": 0,
        "output_tokens": 393,
    },
}
MESSAGE_ATTRS = {
    "model": "claude-sonnet-4-5-20250929",
    "provider": "anthropic",
    "tokens_in": 21 + 188086,
    "tokens_out": 393,
    "tokens_cache_write": 188086,
    "finish_reason": "end_turn",
}

# Gemini generateContent REST response (camelCase JSON).
GEMINI = {
    "candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {
        "promptTokenCount": 12000,
        "cachedContentTokenCount": 10000,
        "candidatesTokenCount": 500,
        "thoughtsTokenCount": 1200,
        "totalTokenCount": 13700,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "abc",
}
GEMINI_ATTRS = {
    "model": "gemini-2.5-flash",
    "provider": "gcp.gemini",
    "tokens_in": 12000,
    "tokens_out": 1700,
    "tokens_cache_read": 10000,
    "tokens_reasoning": 1200,
    "finish_reason": "STOP",
}


@pytest.mark.parametrize(
    "payload,expected",
    [(CHAT, CHAT_ATTRS), (RESPONSE, RESPONSE_ATTRS), (MESSAGE, MESSAGE_ATTRS), (GEMINI, GEMINI_ATTRS)],
    ids=["chat", "responses", "anthropic", "gemini"],
)
@pytest.mark.parametrize("form", ["dict", "object"])
def test_from_response_documented_shapes(payload: Dict[str, Any], expected: Dict[str, Any], form: str) -> None:
    obj = copy.deepcopy(payload) if form == "dict" else ns(payload)
    assert from_response(obj) == expected


def test_gemini_sdk_attribute_names() -> None:
    # google-genai objects use snake_case attributes and an enum finish reason.
    resp = SimpleNamespace(
        candidates=[SimpleNamespace(finish_reason=SimpleNamespace(value="MAX_TOKENS", name="MAX_TOKENS"))],
        usage_metadata=SimpleNamespace(prompt_token_count=10, candidates_token_count=5, thoughts_token_count=None,
                                       cached_content_token_count=None),
        model_version="gemini-2.0-flash-001",
    )
    assert from_response(resp) == {
        "model": "gemini-2.0-flash-001",
        "provider": "gcp.gemini",
        "tokens_in": 10,
        "tokens_out": 5,
        "finish_reason": "MAX_TOKENS",
    }


def test_anthropic_cache_read_and_costs_match_hand_computation() -> None:
    doc = copy.deepcopy(MESSAGE)
    doc["usage"] = {"input_tokens": 21, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 188086, "output_tokens": 393}
    attrs = from_response(doc)
    assert attrs["tokens_in"] == 188107 and attrs["tokens_cache_read"] == 188086
    assert "tokens_cache_write" not in attrs
    cost = PriceTable().cost(
        attrs["model"], attrs["tokens_in"], attrs["tokens_out"], attrs.get("tokens_cache_read", 0), attrs.get("tokens_cache_write", 0)
    )
    # Sonnet 4.5: 21*3 + 188086*0.30 + 393*15 = 63 + 56425.8 + 5895 = 62383.8 (per million)
    assert cost == pytest.approx(0.0623838, rel=1e-12)


def test_chat_costs_match_hand_computation() -> None:
    a = from_response(CHAT)
    cost = PriceTable().cost(a["model"], a["tokens_in"], a["tokens_out"], a["tokens_cache_read"], 0, a["tokens_reasoning"])
    # o4-mini: 86*1.10 + 1920*0.275 + 300*4.40 = 94.6 + 528 + 1320 = 1942.6 (per million)
    assert cost == pytest.approx(1942.6e-6, rel=1e-12)


def test_deepseek_and_groq_markers() -> None:
    deepseek = {
        "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e",
        "object": "chat.completion",
        "created": 1705651092,
        "model": "deepseek-reasoner",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop", "logprobs": None}],
        "usage": {
            "prompt_tokens": 1500,
            "completion_tokens": 800,
            "total_tokens": 2300,
            "prompt_cache_hit_tokens": 1200,
            "prompt_cache_miss_tokens": 300,
            "completion_tokens_details": {"reasoning_tokens": 600},
        },
        "system_fingerprint": "fp_a1b2c3",
    }
    assert from_response(deepseek) == {
        "model": "deepseek-reasoner",
        "provider": "deepseek",
        "tokens_in": 1500,
        "tokens_out": 800,
        "tokens_cache_read": 1200,
        "tokens_reasoning": 600,
        "finish_reason": "stop",
    }
    groq = {
        "object": "chat.completion",
        "model": "llama-3.3-70b-versatile",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30, "queue_time": 0.01},
        "x_groq": {"id": "req_01"},
    }
    assert from_response(groq) == {
        "model": "llama-3.3-70b-versatile",
        "provider": "groq",
        "tokens_in": 10,
        "tokens_out": 20,
        "finish_reason": "length",
    }


def test_responses_incomplete_reason_and_bare_usage_blocks() -> None:
    doc = copy.deepcopy(RESPONSE)
    doc["status"] = "incomplete"
    doc["incomplete_details"] = {"reason": "max_output_tokens"}
    assert from_response(doc)["finish_reason"] == "max_output_tokens"
    assert from_response(CHAT["usage"]) == {"tokens_in": 2006, "tokens_out": 300, "tokens_cache_read": 1920, "tokens_reasoning": 192}
    assert from_response(ns(MESSAGE["usage"])) == {"tokens_in": 188107, "tokens_out": 393, "tokens_cache_write": 188086}
    assert from_response({"prompt_tokens": 8, "total_tokens": 8}) == {"tokens_in": 8}  # embeddings usage


def test_openai_chat_cache_write_tokens() -> None:
    doc = copy.deepcopy(CHAT)
    doc["model"] = "gpt-6-sol"
    doc["usage"] = {"prompt_tokens": 10_000, "completion_tokens": 2_000, "total_tokens": 12_000,
                    "prompt_tokens_details": {"cached_tokens": 6_000, "cache_write_tokens": 3_000},
                    "completion_tokens_details": {"reasoning_tokens": 1_500}}
    a = from_response(doc)
    assert (a["tokens_in"], a["tokens_cache_read"], a["tokens_cache_write"], a["tokens_out"], a["tokens_reasoning"]) == (
        10_000, 6_000, 3_000, 2_000, 1_500)
    cost = PriceTable().cost(a["model"], a["tokens_in"], a["tokens_out"], a["tokens_cache_read"], a["tokens_cache_write"],
                             a["tokens_reasoning"])
    # gpt-6-sol: 1_000*2 + 6_000*0.20 + 3_000*2.50 + 2_000*10 = 30_700 (per million)
    assert cost == pytest.approx(0.0307, rel=1e-12)


def test_zero_cache_and_reasoning_counts_are_left_out() -> None:
    doc = copy.deepcopy(CHAT)
    doc["usage"]["prompt_tokens_details"]["cached_tokens"] = 0
    doc["usage"]["completion_tokens_details"]["reasoning_tokens"] = 0
    attrs = from_response(doc)
    assert "tokens_cache_read" not in attrs and "tokens_reasoning" not in attrs
    assert attrs["tokens_in"] == 2006


@pytest.mark.parametrize(
    "junk",
    [None, 0, "text", b"bytes", [], [1, 2], {}, {"usage": None}, {"usage": "x"}, {"usage": {"prompt_tokens": "many"}},
     {"usage": {"prompt_tokens": -5, "completion_tokens": True}}, object(), SimpleNamespace(usage=SimpleNamespace())],
)
def test_unrecognised_input_gives_empty_attrs(junk: Any) -> None:
    attrs = from_response(junk)
    assert isinstance(attrs, dict)
    assert not any(k.startswith("tokens_") for k in attrs)


def test_attribute_access_that_raises_is_isolated() -> None:
    class Exploding:
        model = "gpt-4o"

        @property
        def usage(self) -> Any:
            raise RuntimeError("boom")

    assert from_response(Exploding()) == {"model": "gpt-4o"}


# ---------------------------------------------------------------------- real SDK types


def test_openai_sdk_types() -> None:
    openai = pytest.importorskip("openai")
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    assert isinstance(openai.__version__, str)
    assert from_response(ChatCompletion.model_validate(CHAT)) == CHAT_ATTRS
    assert from_response(Response.model_validate(RESPONSE)) == RESPONSE_ATTRS
    # DeepSeek-style extra usage fields survive pydantic's extra="allow"
    doc = copy.deepcopy(CHAT)
    doc["usage"] = {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "prompt_cache_hit_tokens": 64,
                    "prompt_cache_miss_tokens": 36}
    attrs = from_response(ChatCompletion.model_validate(doc))
    assert attrs["tokens_cache_read"] == 64 and attrs["provider"] == "deepseek"


def test_anthropic_sdk_types() -> None:
    pytest.importorskip("anthropic")
    from anthropic.types import Message

    assert from_response(Message.model_validate(MESSAGE)) == MESSAGE_ATTRS
    doc = copy.deepcopy(MESSAGE)
    doc["usage"] = {"input_tokens": 50, "output_tokens": 10}  # no caching: fields absent -> None in the SDK
    assert from_response(Message.model_validate(doc)) == {
        "model": "claude-sonnet-4-5-20250929",
        "provider": "anthropic",
        "tokens_in": 50,
        "tokens_out": 10,
        "finish_reason": "end_turn",
    }


def _variants() -> List[Any]:
    """Chat completions and messages, well formed and not: each field missing, null, odd-typed."""
    out: List[Any] = []
    odd = [None, 0, -3, 7, 2.0, 2.5, True, "12", {}, [], {"value": "STOP"}, "response", "message"]
    for base in (CHAT, MESSAGE):
        out.append(copy.deepcopy(base))
        for key in ("model", "usage", "choices", "object", "type", "stop_reason"):
            for value in odd:
                doc = copy.deepcopy(base)
                doc[key] = value
                out.append(doc)
            doc = copy.deepcopy(base)
            doc.pop(key, None)
            out.append(doc)
        usage_keys = list(base["usage"]) + ["prompt_cache_hit_tokens", "prompt_cache_miss_tokens",
                                             "cache_read_input_tokens", "cache_creation_input_tokens", "prompt_tokens"]
        for key in usage_keys:
            for value in odd:
                doc = copy.deepcopy(base)
                doc["usage"][key] = value
                out.append(doc)
    for key in ("cached_tokens", "cache_write_tokens"):
        for value in odd:
            doc = copy.deepcopy(CHAT)
            doc["usage"]["prompt_tokens_details"][key] = value
            out.append(doc)
    for value in odd + ["length", ""]:
        doc = copy.deepcopy(CHAT)
        doc["choices"][0]["finish_reason"] = value
        out.append(doc)
        doc = copy.deepcopy(CHAT)
        doc["usage"]["completion_tokens_details"] = {"reasoning_tokens": value}
        out.append(doc)
    for usage in ({"input_tokens": 5, "cache_read_input_tokens": 4}, {"input_tokens": 5, "cache_creation_input_tokens": 4},
                  {"input_tokens": 5, "output_tokens": 1}, {"cache_creation_input_tokens": 0}):
        doc = {k: v for k, v in copy.deepcopy(MESSAGE).items() if k not in ("type", "stop_reason")}
        out.append({**doc, "usage": usage})  # recognised as Anthropic by its cache counts alone
    for value in odd:  # DeepSeek: cache hits counted outside prompt_tokens_details
        doc = copy.deepcopy(CHAT)
        doc["usage"] = {"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": value,
                        "prompt_cache_miss_tokens": 36}
        out.append(doc)
    for extra in ({"x_groq": {"id": "req"}}, {"usage_metadata": {"prompt_token_count": 3}}, {"usageMetadata": {}}):
        for base in (CHAT, MESSAGE):
            out.append({**copy.deepcopy(base), **extra})
    return out


def test_every_form_of_a_response_reads_alike() -> None:
    """Dicts and attribute objects give the same attrs for well formed and odd responses, and an
    SDK model (built without validation: odd types and missing fields kept; a missing field is
    answered from its fields and extras, not its slow ``__getattr__``) the same as its dump."""
    pytest.importorskip("openai")
    pytest.importorskip("anthropic")
    from anthropic.types import Message
    from openai.types.chat import ChatCompletion

    docs = _variants()
    for doc in docs:
        want = from_response(doc)
        assert from_response(ns(doc)) == want, doc
        for kind in (ChatCompletion, Message):
            obj = kind.model_construct(**copy.deepcopy(doc))
            assert from_response(obj) == from_response(obj.model_dump(warnings=False)), (kind, doc)
    assert sum(1 for d in docs if "tokens_in" in from_response(d)) > len(docs) // 2
    shadowed = ChatCompletion.model_validate(CHAT)
    assert shadowed.__pydantic_extra__ is not None
    shadowed.__pydantic_extra__["model"] = "not-the-field"  # a declared field wins over an extra of that name
    assert from_response(shadowed) == CHAT_ATTRS


# Anthropic's usage with the cache writes split by lifetime, and thinking tokens (included in output).
MESSAGE_1H_USAGE = {"input_tokens": 50, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 3000,
                    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
                    "output_tokens": 400, "output_tokens_details": {"thinking_tokens": 250}}
MESSAGE_1H_ATTRS = {"model": "claude-sonnet-4-5-20250929", "provider": "anthropic", "tokens_in": 4050, "tokens_out": 400,
                    "tokens_cache_read": 1000, "tokens_cache_write": 3000, "tokens_cache_write_1h": 2000,
                    "tokens_reasoning": 250, "finish_reason": "end_turn"}


@pytest.mark.parametrize("form", ["dict", "object", "sdk"])
def test_anthropic_one_hour_cache_writes_and_thinking(form: str) -> None:
    doc = {**copy.deepcopy(MESSAGE), "usage": copy.deepcopy(MESSAGE_1H_USAGE)}
    if form == "sdk":
        pytest.importorskip("anthropic")
        from anthropic.types import Message

        obj: Any = Message.model_validate(doc)
    else:
        obj = doc if form == "dict" else ns(doc)
    assert from_response(obj) == MESSAGE_1H_ATTRS
    a = MESSAGE_1H_ATTRS
    cost = PriceTable().cost(a["model"], a["tokens_in"], a["tokens_out"], a["tokens_cache_read"], a["tokens_cache_write"],
                             a["tokens_reasoning"], cache_write_1h=a["tokens_cache_write_1h"])
    # Sonnet 4.5: 50*3 + 1000*0.30 + 1000*3.75 (5 min) + 2000*6 (1 h) + 400*15 = 22200 (per million)
    assert cost == pytest.approx(22200e-6, rel=1e-12)


def test_anthropic_stream_one_hour_cache_writes() -> None:
    events = copy.deepcopy(ANTHROPIC_EVENTS)
    events[0]["message"]["usage"] = {**copy.deepcopy(MESSAGE_1H_USAGE), "output_tokens": 1}
    acc = AnthropicAccumulator()
    for e in events:
        acc.feed(e)
    a = acc.attrs()
    assert (a["tokens_in"], a["tokens_cache_write"], a["tokens_cache_write_1h"], a["tokens_out"]) == (4050, 3000, 2000, 15)


# ---------------------------------------------------------------------- streams: event lists

CHAT_CHUNKS: List[Dict[str, Any]] = [
    {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4o-mini-2024-07-18",
     "system_fingerprint": "fp_44709d6fcb", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                         "logprobs": None, "finish_reason": None}], "usage": None},
    {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4o-mini-2024-07-18",
     "system_fingerprint": "fp_44709d6fcb", "choices": [{"index": 0, "delta": {"content": "Hello"}, "logprobs": None,
                                                         "finish_reason": None}], "usage": None},
    {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4o-mini-2024-07-18",
     "system_fingerprint": "fp_44709d6fcb", "choices": [{"index": 0, "delta": {"content": " world"}, "logprobs": None,
                                                         "finish_reason": None}], "usage": None},
    {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4o-mini-2024-07-18",
     "system_fingerprint": "fp_44709d6fcb", "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}],
     "usage": None},
    {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190, "model": "gpt-4o-mini-2024-07-18",
     "system_fingerprint": "fp_44709d6fcb", "choices": [],
     "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
               "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}}},
]
CHAT_STREAM_ATTRS = {"model": "gpt-4o-mini-2024-07-18", "finish_reason": "stop", "tokens_in": 1117, "tokens_out": 46,
                     "tokens_cache_read": 1024}

ANTHROPIC_EVENTS: List[Dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant",
                                          "content": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": None,
                                          "stop_sequence": None,
                                          "usage": {"input_tokens": 25, "cache_creation_input_tokens": 1000,
                                                    "cache_read_input_tokens": 2000, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 15}},
    {"type": "message_stop"},
]
ANTHROPIC_STREAM_ATTRS = {"model": "claude-sonnet-4-5-20250929", "provider": "anthropic", "tokens_in": 3025, "tokens_out": 15,
                          "tokens_cache_read": 2000, "tokens_cache_write": 1000, "finish_reason": "end_turn"}

RESPONSES_EVENTS: List[Dict[str, Any]] = [
    {"type": "response.created", "sequence_number": 0,
     "response": {**RESPONSE, "status": "in_progress", "usage": None, "output": []}},
    {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0, "content_index": 0,
     "delta": "In a peaceful", "logprobs": []},
    {"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1", "output_index": 0, "content_index": 0,
     "delta": " grove", "logprobs": []},
    {"type": "response.completed", "sequence_number": 3, "response": RESPONSE},
]


@pytest.mark.parametrize("form", ["dict", "object"])
def test_openai_chat_stream_accumulates(form: str) -> None:
    acc = OpenAIAccumulator()
    for chunk in CHAT_CHUNKS:
        acc.feed(copy.deepcopy(chunk) if form == "dict" else ns(chunk))
    assert acc.attrs() == CHAT_STREAM_ATTRS
    assert acc.text == "Hello world"
    assert acc.events == len(CHAT_CHUNKS)


def test_openai_chat_stream_reads_every_form_alike() -> None:
    """Chunks as dicts, attribute objects and SDK models (whose fields are read by dict lookups)
    accumulate to the same attrs, text and event count, for odd chunks too."""
    pytest.importorskip("openai")
    from openai.types.chat import ChatCompletionChunk

    def variant(i: int, **changes: Any) -> List[Dict[str, Any]]:
        chunks = copy.deepcopy(CHAT_CHUNKS)
        chunks[i].update(changes)
        return chunks

    def choice_variant(i: int, **changes: Any) -> List[Dict[str, Any]]:
        chunks = copy.deepcopy(CHAT_CHUNKS)
        chunks[i]["choices"][0].update(changes)
        return chunks

    groq = {"id": "req_1", "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}}
    sequences = [
        copy.deepcopy(CHAT_CHUNKS),
        variant(0, model="other-model"),
        variant(1, model=None),
        variant(3, x_groq=groq),
        variant(-1, usage={"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 64}),
        variant(-1, usage={"prompt_tokens": -1, "completion_tokens": 2.0}),
        choice_variant(1, index=1),
        choice_variant(1, index=None),
        choice_variant(2, delta=None, text=" legacy"),
        choice_variant(3, finish_reason={"value": "length"}),
        choice_variant(3, finish_reason=""),
    ]
    forms = [copy.deepcopy, ns, lambda c: ChatCompletionChunk.model_construct(**copy.deepcopy(c))]

    def validated(c: Dict[str, Any]) -> Any:
        try:
            return ChatCompletionChunk.model_validate(c)
        except Exception:
            return ChatCompletionChunk.model_construct(**copy.deepcopy(c))

    forms.append(validated)
    for chunks in sequences:
        seen = []
        for form in forms:
            acc = OpenAIAccumulator()
            for chunk in chunks:
                acc.feed(form(chunk))
            seen.append((list(acc.attrs().items()), acc.text, acc.events))
        assert all(s == seen[0] for s in seen), (chunks, seen)


def test_openai_chat_stream_without_include_usage_has_no_tokens() -> None:
    acc = OpenAIAccumulator()
    for chunk in CHAT_CHUNKS[:-1]:
        acc.feed(chunk)
    assert acc.attrs() == {"model": "gpt-4o-mini-2024-07-18", "finish_reason": "stop"}


def test_groq_stream_usage_in_x_groq() -> None:
    last = {"object": "chat.completion.chunk", "model": "llama-3.1-8b-instant",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}}}
    acc = OpenAIAccumulator()
    acc.feed(last)
    assert acc.attrs() == {"model": "llama-3.1-8b-instant", "finish_reason": "stop", "provider": "groq",
                           "tokens_in": 12, "tokens_out": 7}


@pytest.mark.parametrize("form", ["dict", "object"])
def test_openai_responses_stream_accumulates(form: str) -> None:
    acc = OpenAIAccumulator()
    for event in RESPONSES_EVENTS:
        acc.feed(copy.deepcopy(event) if form == "dict" else ns(event))
    assert acc.attrs() == RESPONSE_ATTRS
    assert acc.text == "In a peaceful grove"


def test_openai_responses_stream_failed() -> None:
    acc = OpenAIAccumulator()
    acc.feed(RESPONSES_EVENTS[0])
    acc.feed({"type": "response.failed", "response": {**RESPONSE, "status": "failed", "usage": None}})
    assert acc.attrs() == {"model": "gpt-4.1-2025-04-14", "provider": "openai", "finish_reason": "failed"}


@pytest.mark.parametrize("form", ["dict", "object"])
def test_anthropic_stream_accumulates(form: str) -> None:
    acc = AnthropicAccumulator()
    for event in ANTHROPIC_EVENTS:
        acc.feed(copy.deepcopy(event) if form == "dict" else ns(event))
    assert acc.attrs() == ANTHROPIC_STREAM_ATTRS
    assert acc.text == "Hello!"


def test_anthropic_stream_costs_match_hand_computation() -> None:
    acc = AnthropicAccumulator()
    for event in ANTHROPIC_EVENTS:
        acc.feed(event)
    a = acc.attrs()
    cost = PriceTable().cost(a["model"], a["tokens_in"], a["tokens_out"], a["tokens_cache_read"], a["tokens_cache_write"])
    # Sonnet 4.5: 25*3 + 2000*0.30 + 1000*3.75 + 15*15 = 75 + 600 + 3750 + 225 = 4650 (per million)
    assert cost == pytest.approx(4650e-6, rel=1e-12)


@pytest.mark.parametrize("cls", [OpenAIAccumulator, AnthropicAccumulator])
def test_feeding_anything_never_raises(cls: Any) -> None:
    class Hostile:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(name)

    acc = cls()
    for junk in [None, 1, "data: [DONE]", b"\x00", [], {}, {"type": 5}, {"type": "message_start", "message": 3},
                 {"type": "content_block_delta", "delta": {"text": 7}}, {"choices": "nope"}, {"choices": [None]},
                 {"type": "response.completed", "response": "x"}, Hostile(), object()]:
        acc.feed(junk)
    attrs = acc.attrs()
    assert not any(k.startswith("tokens_") for k in attrs)
    assert acc.text == ""


def test_streamed_text_is_capped_with_a_marker_the_redactor_keeps_exact() -> None:
    acc = OpenAIAccumulator(max_text_chars=10)
    for piece in ["0123456", "789ABC", "DEF"]:
        acc.feed({"choices": [{"index": 0, "delta": {"content": piece}}]})
    assert acc.text == "0123456789…[truncated 6 chars]"
    assert acc.text_chars == 16
    # A smaller cap downstream cuts again and adds the counts: 16 chars in total, 4 shown.
    assert Redactor(max_chars=4).redact(acc.text) == "0123…[truncated 12 chars]"
    # A larger cap downstream keeps the upstream marker and count.
    assert Redactor(max_chars=100).redact(acc.text) == "0123456789…[truncated 6 chars]"


def test_only_first_choice_text_is_captured() -> None:
    acc = OpenAIAccumulator()
    acc.feed({"model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}, {"index": 1, "delta": {"content": "b"}}]})
    acc.feed({"choices": [{"index": 1, "delta": {"content": "c"}, "finish_reason": "length"}]})
    assert acc.text == "a"
    assert "finish_reason" not in acc.attrs()


# ---------------------------------------------------------------------- streams through the real SDKs
# The SDK clients below run unmodified against an httpx transport that answers with the SSE bytes the
# APIs send, so the events fed to the accumulators are the SDKs' own objects.


def _sse(events: List[Dict[str, Any]], *, named: bool, done: bool) -> bytes:
    out = []
    for e in events:
        if named:
            out.append(f"event: {e['type']}\n")
        out.append(f"data: {json.dumps(e)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def _sdk_httpx(sdk: str) -> Any:
    """The httpx module the SDK was built on (``httpx`` upstream, ``httpx2`` in some builds)."""
    base = pytest.importorskip(f"{sdk}._base_client")
    for name in ("httpx2", "httpx"):
        mod = getattr(base, name, None)
        if mod is not None and hasattr(mod, "MockTransport"):
            return mod
    pytest.skip(f"cannot find the httpx module {sdk} uses")


def _transport(body: bytes, sdk: str) -> Any:
    httpx = _sdk_httpx(sdk)

    def handler(request: Any) -> Any:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_openai_sdk_chat_stream() -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="sk-test", base_url="http://loopback.test/v1",
                           http_client=_transport(_sse(CHAT_CHUNKS, named=False, done=True), "openai"))
    acc = OpenAIAccumulator()
    stream = client.chat.completions.create(model="gpt-test-model", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True})
    kinds = set()
    for chunk in stream:
        kinds.add(type(chunk).__name__)
        acc.feed(chunk)
    assert kinds == {"ChatCompletionChunk"}
    assert acc.attrs() == CHAT_STREAM_ATTRS
    assert acc.text == "Hello world"


def test_openai_sdk_chat_stream_helper_events() -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="sk-test", base_url="http://loopback.test/v1",
                           http_client=_transport(_sse(CHAT_CHUNKS, named=False, done=True), "openai"))
    acc = OpenAIAccumulator()
    with client.chat.completions.stream(model="gpt-test-model", messages=[{"role": "user", "content": "hi"}],
                                        stream_options={"include_usage": True}) as stream:
        types_seen = set()
        for event in stream:
            types_seen.add(event.type)
            acc.feed(event)
    assert "chunk" in types_seen and "content.delta" in types_seen
    assert acc.attrs() == CHAT_STREAM_ATTRS
    assert acc.text == "Hello world"  # content.delta events are not counted twice


def test_openai_sdk_responses_stream() -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key="sk-test", base_url="http://loopback.test/v1",
                           http_client=_transport(_sse(RESPONSES_EVENTS, named=True, done=False), "openai"))
    acc = OpenAIAccumulator()
    for event in client.responses.create(model="gpt-test-model", input="hi", stream=True):
        acc.feed(event)
    assert acc.attrs() == RESPONSE_ATTRS
    assert acc.text == "In a peaceful grove"


def test_anthropic_sdk_raw_stream() -> None:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url="http://loopback.test",
                                 http_client=_transport(_sse(ANTHROPIC_EVENTS, named=True, done=False), "anthropic"))
    acc = AnthropicAccumulator()
    kinds = set()
    for event in client.messages.create(model="claude-test-model", max_tokens=64,
                                        messages=[{"role": "user", "content": "hi"}], stream=True):
        kinds.add(type(event).__name__)
        acc.feed(event)
    assert "RawMessageStartEvent" in kinds and "RawMessageDeltaEvent" in kinds
    assert acc.attrs() == ANTHROPIC_STREAM_ATTRS
    assert acc.text == "Hello!"


def test_anthropic_sdk_message_stream_helper() -> None:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url="http://loopback.test",
                                 http_client=_transport(_sse(ANTHROPIC_EVENTS, named=True, done=False), "anthropic"))
    acc = AnthropicAccumulator()
    with client.messages.stream(model="claude-test-model", max_tokens=64,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        seen = set()
        for event in stream:
            seen.add(event.type)
            acc.feed(event)
        final = stream.get_final_message()
    assert "text" in seen  # the helper's derived events are present and not double counted
    assert acc.attrs() == ANTHROPIC_STREAM_ATTRS
    assert acc.text == "Hello!"
    assert from_response(final) == ANTHROPIC_STREAM_ATTRS
