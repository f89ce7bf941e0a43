"""``mist.instrument`` with the real ``openai`` and ``anthropic`` clients against a loopback server.

Nothing here mocks an SDK object: the clients send real HTTP requests to ``tests/llm_server.py``,
which answers with JSON or SSE shaped like the providers' documented responses. Token counts and
costs are checked against hand computation from the price table's per-million prices. The suite
runs on both backends (native and ``MIST_PURE_PYTHON=1``): instrumentation is the same Python code
on both, so these tests check that its spans are written alike through either core.
"""
from __future__ import annotations

import asyncio
import gc
import json
import time
import warnings

import pytest

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

import mist  # noqa: E402
import mist.testing  # noqa: E402
from conftest import ROOT, run_python  # noqa: E402
from mist.instrument import call as call_module, instrument, is_instrumented, uninstrument  # noqa: E402

PROMPT = [{"role": "user", "content": "What is 6 times 7?"}]

# Hand-computed costs (USD per million tokens from the bundled table).
# gpt-4o-mini: input 0.15, cached input 0.075, output 0.60 (reasoning billed as output).
CHAT_COST = ((2006 - 1920) * 0.15 + 1920 * 0.075 + 300 * 0.60) / 1e6  # 0.0003369
# o4-mini: input 1.10, cached 0.275, output 4.40.
RESPONSES_COST = ((1500 - 1024) * 1.10 + 1024 * 0.275 + 420 * 4.40) / 1e6  # 0.0026532
# claude-haiku-4-5: input 1.00, cache read 0.10, cache write 1.25, output 5.00. Anthropic's
# input_tokens (100) exclude the 1800 cache reads and 248 cache writes.
MESSAGES_COST = (100 * 1.00 + 1800 * 0.10 + 248 * 1.25 + 503 * 5.00) / 1e6  # 0.003105
# text-embedding-3-small: input 0.02.
EMBEDDING_COST = 8 * 0.02 / 1e6


@pytest.fixture(scope="module")
def _captured():
    with mist.testing.capture() as captured:
        yield captured


@pytest.fixture
def cap(_captured):
    _captured.clear()
    yield _captured


# The server is plain HTTP on loopback: ``verify=False`` only skips loading the CA bundle, which
# would otherwise dominate the cost of making a client.


def plain_openai(srv, **kw):
    kw.setdefault("http_client", openai.DefaultHttpxClient(verify=False))
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=srv.openai_url, api_key="sk-test-dummy", **kw)


def plain_anthropic(srv, **kw):
    return anthropic.Anthropic(base_url=srv.anthropic_url, api_key="sk-ant-test-dummy", max_retries=0,
                               http_client=anthropic.DefaultHttpxClient(verify=False), **kw)


def oa(srv, **kw):
    return instrument(plain_openai(srv, **kw))


def aoa(srv, **kw):
    return instrument(openai.AsyncOpenAI(base_url=srv.openai_url, api_key="sk-test-dummy", max_retries=0,
                                         http_client=openai.DefaultAsyncHttpxClient(verify=False), **kw))


def an(srv, **kw):
    return instrument(plain_anthropic(srv, **kw))


def aan(srv, **kw):
    return instrument(anthropic.AsyncAnthropic(base_url=srv.anthropic_url, api_key="sk-ant-test-dummy", max_retries=0,
                                               http_client=anthropic.DefaultAsyncHttpxClient(verify=False), **kw))


def only(cap, operation):
    spans = cap.spans(operation)
    assert len(spans) == 1, spans
    return spans[0]


def chat_kwargs(**kw):
    return {"model": "gpt-4o-mini", "messages": PROMPT, **kw}


def msg_kwargs(**kw):
    return {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": PROMPT, **kw}


def assert_chat_usage(attrs):
    assert attrs["model"] == "gpt-4o-mini-2024-07-18"  # the response's snapshot replaces the request model
    assert attrs["provider"] == "openai"
    assert (attrs["tokens_in"], attrs["tokens_out"]) == (2006, 300)
    assert (attrs["tokens_cache_read"], attrs["tokens_reasoning"]) == (1920, 192)
    assert attrs["finish_reason"] == "stop"
    assert attrs["cost_usd"] == pytest.approx(CHAT_COST, rel=1e-9)


def assert_responses_usage(attrs):
    assert attrs["model"] == "o4-mini-2025-04-16" and attrs["provider"] == "openai"
    assert (attrs["tokens_in"], attrs["tokens_out"], attrs["tokens_cache_read"], attrs["tokens_reasoning"]) == (
        1500, 420, 1024, 256)
    assert attrs["finish_reason"] == "completed"
    assert attrs["cost_usd"] == pytest.approx(RESPONSES_COST, rel=1e-9)


def assert_messages_usage(attrs, tokens_out=503):
    assert attrs["model"] == "claude-haiku-4-5-20251001"
    assert attrs["provider"] == "anthropic"
    assert attrs["tokens_in"] == 100 + 1800 + 248
    assert (attrs["tokens_cache_read"], attrs["tokens_cache_write"]) == (1800, 248)
    assert attrs["tokens_out"] == tokens_out
    if tokens_out == 503:
        assert attrs["finish_reason"] == "end_turn"
        assert attrs["cost_usd"] == pytest.approx(MESSAGES_COST, rel=1e-9)


# ---------------------------------------------------------------------------------- non-streaming


def test_chat_completion_span(cap, srv):
    r = oa(srv).chat.completions.create(**chat_kwargs())
    assert r.choices[0].message.content == srv.text
    s = only(cap, "chat")
    assert s["status"] == "ok" and "parent_id" not in s
    assert_chat_usage(s["attrs"])
    assert s["attrs"]["latency_ms"] > 0
    assert "input" not in s["attrs"] and "output" not in s["attrs"]  # capture is off by default


def test_responses_span(cap, srv):
    r = oa(srv).responses.create(model="o4-mini", input="What is 6 times 7?")
    assert r.output_text == srv.text
    assert_responses_usage(only(cap, "responses")["attrs"])


def test_embeddings_span(cap, srv):
    r = oa(srv).embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(r.data) == 2
    a = only(cap, "embeddings")["attrs"]
    assert a["tokens_in"] == 8 and "tokens_out" not in a
    assert a["cost_usd"] == pytest.approx(EMBEDDING_COST, rel=1e-9)


def test_legacy_completions_span(cap, srv):
    r = oa(srv).completions.create(model="gpt-4o-mini", prompt="6 times 7 is")
    assert r.choices[0].text == srv.text
    a = only(cap, "text_completion")["attrs"]
    assert (a["tokens_in"], a["tokens_out"], a["finish_reason"]) == (2006, 300, "stop")


def test_chat_parse_span(cap, srv):
    pydantic = pytest.importorskip("pydantic")

    class Answer(pydantic.BaseModel):
        answer: int

    srv.text = '{"answer": 42}'
    r = oa(srv).chat.completions.parse(**chat_kwargs(response_format=Answer))
    assert r.choices[0].message.parsed.answer == 42
    assert_chat_usage(only(cap, "chat")["attrs"])


def test_anthropic_message_adds_cache_tokens_to_input(cap, srv):
    m = an(srv).messages.create(**msg_kwargs())
    assert m.content[0].text == srv.text
    s = only(cap, "messages")
    assert s["status"] == "ok"
    assert_messages_usage(s["attrs"])


def test_anthropic_one_hour_cache_writes(cap, srv):
    """Anthropic reports which cache writes have the 1-hour TTL (charged 2x input, where 5-minute
    writes cost 1.25x): ``tokens_cache_write_1h``, from responses and from streams alike."""
    srv.anthropic_usage = {"input_tokens": 100, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 3000,
                           "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
                           "output_tokens": 500}
    client, kw = an(srv), msg_kwargs(model="claude-sonnet-4-5")
    client.messages.create(**kw)
    list(client.messages.create(**kw, stream=True))
    with client.messages.stream(**kw) as stream:
        stream.get_final_message()
    # claude-sonnet-4-5: input 3.00, cache read 0.30, 5-minute writes 3.75, 1-hour writes 6.00, output 15.00
    cost = (100 * 3.00 + 1000 * 0.30 + 1000 * 3.75 + 2000 * 6.00 + 500 * 15.00) / 1e6
    spans = cap.spans("messages")
    assert len(spans) == 3
    for s in spans:
        a = s["attrs"]
        assert (a["tokens_in"], a["tokens_cache_read"], a["tokens_cache_write"], a["tokens_cache_write_1h"]) == (
            4100, 1000, 3000, 2000)
        assert a["cost_usd"] == pytest.approx(cost, rel=1e-9)


def test_unknown_model_is_flagged_not_priced_at_zero(cap, srv):
    oa(srv).chat.completions.create(model="loopback-model-unpriced-x1", messages=PROMPT)
    a = only(cap, "chat")["attrs"]
    assert a["unpriced"] is True and "cost_usd" not in a
    assert [x["metric"] for x in cap.alerts()].count("unpriced_model") == 1


# ---------------------------------------------------------------------------------- raw responses


def test_raw_response_is_recorded_without_consuming_it(cap, srv):
    raw = oa(srv).chat.completions.with_raw_response.create(**chat_kwargs())
    assert raw.headers["x-request-id"].startswith("req_")
    assert_chat_usage(only(cap, "chat")["attrs"])  # complete when the call returned
    assert raw.parse().choices[0].message.content == srv.text
    m = an(srv).messages.with_raw_response.create(**msg_kwargs())
    assert_messages_usage(only(cap, "messages")["attrs"])
    assert m.parse().content[0].text == srv.text


def test_streaming_response_is_recorded_when_parsed(cap, srv):
    """``with_streaming_response`` returns an unread response: the answer is recorded when the
    caller parses it, the span ends then (or when the block is left, whichever comes first)."""
    client, aclient = oa(srv), an(srv)
    with client.chat.completions.with_streaming_response.create(**chat_kwargs()) as response:
        assert isinstance(response, openai.APIResponse) and response.headers["x-request-id"].startswith("req_")
        assert cap.spans("chat") == []  # nothing read yet
        assert response.parse().choices[0].message.content == srv.text
        assert_chat_usage(only(cap, "chat")["attrs"])  # complete once parsed
        assert response.parse().choices[0].message.content == srv.text  # the SDK's cache, recorded once
    with client.responses.with_streaming_response.create(model="o4-mini", input="hi") as response:
        assert response.json()["output"][0]["content"][0]["text"] == srv.text
    with aclient.messages.with_streaming_response.create(**msg_kwargs()) as response:
        assert response.parse().content[0].text == srv.text
    assert len(cap.spans("chat")) == 1
    assert_responses_usage(only(cap, "responses")["attrs"])
    assert_messages_usage(only(cap, "messages")["attrs"])


def test_streaming_response_left_unread_ends_when_closed(cap, srv):
    with oa(srv).chat.completions.with_streaming_response.create(**chat_kwargs()) as response:
        assert response.status_code == 200
    s = only(cap, "chat")
    assert s["status"] == "ok" and "tokens_in" not in s["attrs"] and s["attrs"]["latency_ms"] > 0


def test_streaming_response_of_a_stream_traces_the_parsed_stream(cap, srv):
    client, aclient = oa(srv), an(srv)
    with client.chat.completions.with_streaming_response.create(**chat_kwargs(stream=True)) as response:
        chunks = list(response.parse())
    assert all(c.choices for c in chunks)  # the usage chunk mist asked for stays hidden
    s = only(cap, "chat")
    assert "stream_end" not in s["attrs"] and s["attrs"]["ttft_ms"] > 0
    assert_chat_usage(s["attrs"])
    with aclient.messages.with_streaming_response.create(**msg_kwargs(stream=True)) as response:
        stream = response.parse()
        assert isinstance(stream, anthropic.Stream)
        next(iter(stream))  # then the block is left early
    assert only(cap, "messages")["attrs"]["stream_end"] == "closed"
    raw = client.responses.with_raw_response.create(model="o4-mini", input="hi", stream=True)
    events = list(raw.parse())
    assert events[-1].type == "response.completed"
    assert_responses_usage(only(cap, "responses")["attrs"])


def test_async_raw_and_streaming_responses(cap, srv):
    async def main():
        client, aclient = aoa(srv), aan(srv)
        raw = await client.chat.completions.with_raw_response.create(**chat_kwargs())
        assert raw.parse().choices[0].message.content == srv.text
        raw = await aclient.messages.with_raw_response.create(**msg_kwargs())  # an unread async body
        assert (await raw.parse()).content[0].text == srv.text
        async with aclient.messages.with_streaming_response.create(**msg_kwargs(stream=True)) as response:
            assert [e.type async for e in await response.parse()][-1] == "message_stop"
        async with client.chat.completions.with_streaming_response.create(**chat_kwargs()) as response:
            pass  # left unread

    asyncio.run(main())
    chats, msgs = cap.spans("chat"), cap.spans("messages")
    assert len(chats) == 2 and len(msgs) == 2
    assert_chat_usage(chats[0]["attrs"])
    assert "tokens_in" not in chats[1]["attrs"]
    for m in msgs:
        assert_messages_usage(m["attrs"])


# ---------------------------------------------------------------------------------- streaming, sync


def _dump(chunks):
    return [c.model_dump(exclude={"id", "created"}) for c in chunks]


def test_chat_stream_consumed_fully_looks_like_the_plain_client(cap, srv):
    plain = plain_openai(srv)
    expected = _dump(list(plain.chat.completions.create(**chat_kwargs(stream=True))))
    stream = oa(srv).chat.completions.create(**chat_kwargs(stream=True))
    assert isinstance(stream, openai.Stream) and stream.__class__ is openai.Stream
    assert repr(stream).startswith("<openai.Stream")
    assert stream.response.status_code == 200  # attribute passthrough
    stream.mist_note = "kept"  # attributes land on the SDK stream
    assert stream.mist_note == "kept"
    got = list(stream)
    # The usage chunk requested for tracing is consumed by the wrapper: the caller sees exactly
    # what an uninstrumented client shows.
    assert _dump(got) == expected
    assert all(c.choices for c in got)
    assert list(stream) == []
    assert srv.bodies("/v1/chat/completions")[-1]["stream_options"] == {"include_usage": True}
    s = only(cap, "chat")
    assert s["status"] == "ok" and "stream_end" not in s["attrs"]
    assert_chat_usage(s["attrs"])
    assert 0 < s["attrs"]["ttft_ms"] <= s["attrs"]["latency_ms"]


def test_chat_stream_iterated_straight_from_the_call(cap, srv):
    """``for chunk in client.create(stream=True)`` keeps no reference to the stream but the loop's
    iterator: the span still ends when the stream does, with its usage, not when the loop starts."""
    text = ""
    for chunk in oa(srv).chat.completions.create(**chat_kwargs(stream=True)):
        text += chunk.choices[0].delta.content or ""
    assert text == srv.text
    s = only(cap, "chat")
    assert s["status"] == "ok" and "stream_end" not in s["attrs"]
    assert_chat_usage(s["attrs"])
    for event in an(srv).messages.create(**msg_kwargs(stream=True)):
        pass
    m = only(cap, "messages")
    assert "stream_end" not in m["attrs"] and m["attrs"]["tokens_out"] > 0


def test_chat_stream_next_then_for(cap, srv):
    stream = oa(srv).chat.completions.create(**chat_kwargs(stream=True))
    rest = [next(stream)] + list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in rest) == srv.text
    assert_chat_usage(only(cap, "chat")["attrs"])


def test_chat_stream_keeps_the_callers_stream_options(cap, srv):
    client = oa(srv)
    got = list(client.chat.completions.create(**chat_kwargs(stream=True, stream_options={"include_usage": True})))
    assert got[-1].choices == [] and got[-1].usage.prompt_tokens == 2006  # asked for: shown
    list(client.chat.completions.create(**chat_kwargs(stream=True, stream_options={"include_usage": False})))
    bodies = srv.bodies("/v1/chat/completions")
    assert bodies[0]["stream_options"] == {"include_usage": True}
    assert bodies[1]["stream_options"] == {"include_usage": False}
    first, second = cap.spans("chat")
    assert first["attrs"]["tokens_in"] == 2006
    assert "tokens_in" not in second["attrs"] and second["attrs"]["finish_reason"] == "stop"


def test_include_usage_false_leaves_requests_untouched(cap, srv):
    client = instrument(plain_openai(srv), include_usage=False)
    assert "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**chat_kwargs(stream=True))) == srv.text
    assert "stream_options" not in srv.bodies("/v1/chat/completions")[0]
    assert "tokens_in" not in only(cap, "chat")["attrs"]


def test_chat_stream_broken_off_and_closed(cap, srv):
    stream = oa(srv).chat.completions.create(**chat_kwargs(stream=True))
    next(stream)
    next(stream)
    stream.close()
    s = only(cap, "chat")
    assert s["status"] == "ok" and s["attrs"]["stream_end"] == "closed"
    assert "tokens_in" not in s["attrs"]  # usage only comes at the end
    stream.close()  # closing again ends nothing more
    assert len(cap.spans("chat")) == 1


def test_chat_stream_with_block_left_early(cap, srv):
    with oa(srv).chat.completions.create(**chat_kwargs(stream=True)) as stream:
        for _ in stream:
            break
    assert only(cap, "chat")["attrs"]["stream_end"] == "closed"


def test_abandoned_stream_ends_its_span(cap, srv):
    stream = oa(srv).chat.completions.create(**chat_kwargs(stream=True))
    next(stream)
    del stream
    gc.collect()
    s = only(cap, "chat")
    assert s["status"] == "ok" and s["attrs"]["stream_end"] == "abandoned"
    stream = an(srv).messages.create(**msg_kwargs(stream=True))
    next(stream)
    next(stream)  # message_start read: its input counts are kept
    del stream
    gc.collect()
    m = only(cap, "messages")
    assert m["attrs"]["stream_end"] == "abandoned" and m["attrs"]["tokens_in"] == 2148


def test_responses_stream(cap, srv):
    events = list(oa(srv).responses.create(model="o4-mini", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert_responses_usage(only(cap, "responses")["attrs"])


def test_anthropic_raw_stream(cap, srv):
    events = list(an(srv).messages.create(**msg_kwargs(stream=True)))
    assert [e.type for e in events][0] == "message_start" and events[-1].type == "message_stop"
    assert_messages_usage(only(cap, "messages")["attrs"])


def test_stream_error_midway_is_recorded_and_reraised(cap, srv):
    srv.stream_error_after = 2
    stream = oa(srv).chat.completions.create(**chat_kwargs(stream=True))
    with pytest.raises(openai.APIError) as oai:
        list(stream)
    with pytest.raises(anthropic.APIStatusError) as ant:
        list(an(srv).messages.create(**msg_kwargs(stream=True)))
    chat, msg = only(cap, "chat"), only(cap, "messages")
    assert chat["status"] == "error" and chat["attrs"]["error_type"] == type(oai.value).__name__
    assert msg["status"] == "error" and msg["attrs"]["error_type"] == type(ant.value).__name__
    assert msg["attrs"]["tokens_in"] == 2148  # message_start arrived before the error


# ---------------------------------------------------------------------------------- stream helpers


def test_openai_chat_stream_helper(cap, srv):
    with oa(srv).chat.completions.stream(**chat_kwargs()) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()
    assert text == srv.text and final.choices[0].message.content == srv.text
    assert final.usage is None  # as without instrumentation: the caller did not ask for usage
    s = only(cap, "chat")
    assert s["status"] == "ok" and "stream_end" not in s["attrs"]
    assert_chat_usage(s["attrs"])


def test_openai_chat_stream_helper_left_early(cap, srv):
    with oa(srv).chat.completions.stream(**chat_kwargs()) as stream:
        next(iter(stream))
    s = only(cap, "chat")
    assert s["status"] == "ok" and s["attrs"]["stream_end"] == "closed"


def test_openai_chat_stream_helper_failure(cap, srv):
    srv.fail_next(429, retry_after="1")
    with pytest.raises(openai.RateLimitError):
        with oa(srv).chat.completions.stream(**chat_kwargs()):
            pass  # pragma: no cover - entering fails
    s = only(cap, "chat")
    assert s["status"] == "error" and s["attrs"]["error_type"] == "RateLimitError"


def test_openai_responses_stream_helper(cap, srv):
    with oa(srv).responses.stream(model="o4-mini", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == srv.text
    assert_responses_usage(only(cap, "responses")["attrs"])


def test_anthropic_stream_helper_text_stream_and_final_message(cap, srv):
    with an(srv).messages.stream(**msg_kwargs()) as stream:
        assert stream.response.headers["request-id"].startswith("req_")
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == srv.text and final.usage.output_tokens == 503
    s = only(cap, "messages")
    assert s["status"] == "ok" and "stream_end" not in s["attrs"]
    assert_messages_usage(s["attrs"])


def test_anthropic_stream_helper_get_final_text_only(cap, srv):
    with an(srv).messages.stream(**msg_kwargs()) as stream:
        assert stream.get_final_text() == srv.text
    assert_messages_usage(only(cap, "messages")["attrs"])


def test_anthropic_stream_helper_left_early(cap, srv):
    with an(srv).messages.stream(**msg_kwargs()) as stream:
        next(iter(stream.text_stream))
    s = only(cap, "messages")
    assert s["attrs"]["stream_end"] == "closed"
    assert_messages_usage(s["attrs"], tokens_out=1)  # as of message_start


def test_anthropic_stream_helper_failure(cap, srv):
    srv.fail_next(529)
    with pytest.raises(anthropic.APIStatusError) as ei:
        with an(srv).messages.stream(**msg_kwargs()):
            pass  # pragma: no cover - entering fails
    s = only(cap, "messages")
    assert s["status"] == "error" and s["attrs"]["error_type"] == type(ei.value).__name__ == "OverloadedError"


# ---------------------------------------------------------------------------------- async


def test_async_clients_non_streaming_and_streaming(cap, srv):
    async def main():
        client, aclient = aoa(srv), aan(srv)
        r = await client.chat.completions.create(**chat_kwargs())
        stream = await client.chat.completions.create(**chat_kwargs(stream=True))
        assert isinstance(stream, openai.AsyncStream)
        chunks = [c async for c in stream]
        m = await aclient.messages.create(**msg_kwargs())
        events = [e async for e in await aclient.messages.create(**msg_kwargs(stream=True))]
        return r, chunks, m, events

    r, chunks, m, events = asyncio.run(main())
    assert r.choices[0].message.content == srv.text and all(c.choices for c in chunks)
    assert m.content[0].text == srv.text and events[-1].type == "message_stop"
    for s in cap.spans("chat"):
        assert s["status"] == "ok"
        assert_chat_usage(s["attrs"])
    assert len(cap.spans("chat")) == 2
    for s in cap.spans("messages"):
        assert_messages_usage(s["attrs"])
    assert len(cap.spans("messages")) == 2


def test_async_stream_broken_off_and_abandoned(cap, srv):
    async def main():
        client = aoa(srv)
        closed = await client.chat.completions.create(**chat_kwargs(stream=True))
        await closed.__anext__()
        await closed.close()
        dropped = await client.chat.completions.create(**chat_kwargs(stream=True))
        await dropped.__anext__()
        del dropped
        gc.collect()
        async with await client.chat.completions.create(**chat_kwargs(stream=True)) as left:
            async for _ in left:
                break

    asyncio.run(main())
    gc.collect()
    ends = sorted(s["attrs"]["stream_end"] for s in cap.spans("chat"))
    assert ends == ["abandoned", "closed", "closed"]


def test_async_stream_helpers(cap, srv):
    async def main():
        async with aoa(srv).chat.completions.stream(**chat_kwargs()) as stream:
            completion = await stream.get_final_completion()
        async with aan(srv).messages.stream(**msg_kwargs()) as mstream:
            text = "".join([t async for t in mstream.text_stream])
            message = await mstream.get_final_message()
        return completion, text, message

    completion, text, message = asyncio.run(main())
    assert completion.choices[0].message.content == srv.text == text
    assert message.usage.output_tokens == 503
    assert_chat_usage(only(cap, "chat")["attrs"])
    assert_messages_usage(only(cap, "messages")["attrs"])


# ---------------------------------------------------------------------------------- failures


@pytest.mark.parametrize("status, exc_name", [(429, "RateLimitError"), (500, "InternalServerError")])
def test_openai_failures_are_recorded_and_reraised_unchanged(cap, srv, status, exc_name):
    plain = plain_openai(srv)
    srv.fail_next(status, retry_after="2")
    with pytest.raises(openai.APIStatusError) as plain_exc:
        plain.chat.completions.create(**chat_kwargs())
    srv.fail_next(status, retry_after="2")
    with pytest.raises(openai.APIStatusError) as ei:
        oa(srv).chat.completions.create(**chat_kwargs())
    exc = ei.value
    assert type(exc) is type(plain_exc.value) and type(exc).__name__ == exc_name
    assert str(exc) == str(plain_exc.value) and exc.status_code == status
    assert exc.response.headers["retry-after"] == "2"
    s = only(cap, "chat")
    assert s["status"] == "error"
    assert s["attrs"]["error_type"] == exc_name and s["attrs"]["error"] == str(exc)
    assert s["attrs"]["model"] == "gpt-4o-mini" and "cost_usd" not in s["attrs"]


@pytest.mark.parametrize("status, exc_name", [(429, "RateLimitError"), (500, "InternalServerError"), (529, "OverloadedError")])
def test_anthropic_failures_are_recorded_and_reraised(cap, srv, status, exc_name):
    srv.fail_next(status, retry_after="3")
    with pytest.raises(anthropic.APIStatusError) as ei:
        an(srv).messages.create(**msg_kwargs())
    assert type(ei.value).__name__ == exc_name and ei.value.status_code == status
    s = only(cap, "messages")
    assert s["status"] == "error" and s["attrs"]["error_type"] == exc_name


def test_async_failure(cap, srv):
    srv.fail_next(429, retry_after="1")

    async def main():
        await aoa(srv).chat.completions.create(**chat_kwargs())

    with pytest.raises(openai.RateLimitError):
        asyncio.run(main())
    assert only(cap, "chat")["attrs"]["error_type"] == "RateLimitError"


def test_sdk_retries_stay_inside_one_span(cap, srv):
    srv.fail_next(429, headers={"retry-after-ms": "1"})
    client = oa(srv, max_retries=1)
    client.chat.completions.create(**chat_kwargs())
    assert srv.count("/v1/chat/completions") == 2
    s = only(cap, "chat")
    assert s["status"] == "ok" and s["attrs"]["tokens_in"] == 2006


# ---------------------------------------------------------------------------------- parents, order


def test_parents_inside_trace_and_span(cap, srv):
    seen = []

    def on_request(request):
        cur = mist.current_span()
        seen.append((cur.operation, cur.attrs.get("model")) if cur is not None else None)

    client = oa(srv, http_client=openai.DefaultHttpxClient(verify=False, event_hooks={"request": [on_request]}))
    aclient = an(srv)
    client.chat.completions.create(**chat_kwargs())
    assert mist.current_span() is None  # restored after the call
    with mist.trace("agent") as t:
        with mist.span("plan") as plan:
            client.chat.completions.create(**chat_kwargs())
            stream = client.chat.completions.create(**chat_kwargs(stream=True))
            assert mist.current_span() is plan
        list(stream)  # consumed outside "plan": still its child
        aclient.messages.create(**msg_kwargs())
        assert mist.current_span() is t
    # the call's span is current while the SDK sends the request
    assert seen == [("chat", "gpt-4o-mini")] * 3
    lone, *chats = cap.spans("chat")
    msg = only(cap, "messages")
    assert "parent_id" not in lone and lone["trace_id"] != t.trace_id
    assert [c["parent_id"] for c in chats] == [plan.span_id, plan.span_id]
    assert msg["parent_id"] == t.span_id
    assert {s["trace_id"] for s in cap.spans() if s["span_id"] != lone["span_id"]} == {t.trace_id}


def test_async_tasks_get_their_own_parents(cap, srv):
    async def step(client, name):
        with mist.span(name) as s:
            await client.chat.completions.create(**chat_kwargs())
            return s.span_id

    async def main():
        client = aoa(srv)
        with mist.trace("fan-out"):
            return await asyncio.gather(step(client, "a"), step(client, "b"))

    ids = asyncio.run(main())
    assert sorted(s["parent_id"] for s in cap.spans("chat")) == sorted(ids)


def test_a_call_span_is_complete_when_the_call_returns(cap, srv):
    """The span is ended, priced and emitted on the caller's thread before the call returns (and
    before the last event of a stream reaches the caller), so lines are in the order calls end."""
    calls = []

    def on_request(request):
        calls.append(mist.current_span())

    client = oa(srv, http_client=openai.DefaultHttpxClient(verify=False, event_hooks={"request": [on_request]}))
    client.chat.completions.create(**chat_kwargs())
    span = calls[-1]
    assert span.end_ns > 0 and span.attrs["cost_usd"] == pytest.approx(CHAT_COST, rel=1e-9)
    mist.emit_span("after", time.time_ns(), time.time_ns() + 1)
    stream = client.chat.completions.create(**chat_kwargs(stream=True))
    chunks = list(stream)
    assert calls[-1].end_ns > 0 and chunks
    ops = [json.loads(line)["payload"]["operation"] for line in cap.lines()]
    assert ops == ["chat", "after", "chat"]


@pytest.mark.parametrize("root", ["span", "step"])
def test_trace_cost_alert_counts_every_call_of_the_trace(traced, srv, root):
    """The alert engine sums a trace's cost when its root ends: every instrumented call of the
    trace has reached it by then, whether the root is a ``mist.span`` or a ``@mist.step``."""
    from mist.alerts import AlertEngine, pipeline

    pipeline._engine = AlertEngine(min_observations=5)
    client = oa(srv)

    def run(calls):
        for _ in range(calls):
            client.chat.completions.create(**chat_kwargs())

    if root == "span":
        def agent(calls):
            with mist.span("agent"):
                run(calls)
    else:
        agent = mist.step("agent")(run)
    for _ in range(30):
        agent(1)
    for _ in range(8):
        agent(3)
    mist.flush()
    fired = [a for a in traced.alerts() if a["metric"] == "trace_cost_usd"]
    assert len(fired) == 1 and fired[0]["series"] == {"operation": "agent"}, fired
    assert fired[0]["baseline"] == pytest.approx(CHAT_COST, rel=0.01)  # one call's cost per run
    assert fired[0]["value"] > 1.05 * CHAT_COST
    assert pipeline.engine().state_dict()["traces"] == []  # no call arrived after its root


# ---------------------------------------------------------------------------------- budgets


def test_budget_stops_the_agent_loop_before_the_request(cap, srv):
    client = oa(srv)
    done = 0
    # 0.0012 USD: the warning (80% = 0.00096) fires after the 3rd call, the 4th crosses the budget.
    with pytest.raises(mist.BudgetExceeded) as ei:
        with mist.trace("agent", budget_usd=0.0012) as t:
            for _ in range(10):
                client.chat.completions.create(**chat_kwargs())
                done += 1
    assert done == 4
    assert srv.count("/v1/chat/completions") == 4  # the 5th step sent nothing
    exc = ei.value
    assert exc.trace_id == t.trace_id and exc.budget == 0.0012
    assert exc.spent == pytest.approx(4 * CHAT_COST, rel=1e-9)
    assert len(cap.spans("chat")) == 4 and all(s["status"] == "ok" for s in cap.spans("chat"))
    budget = [a for a in cap.alerts() if a["metric"] == "budget"]
    assert [a["level"] for a in budget] == ["warning", "critical"]
    assert budget[1]["series"] == {"trace_id": t.trace_id}
    root = only(cap, "agent")
    assert root["status"] == "error" and root["attrs"]["error_type"] == "BudgetExceeded"


def test_budget_stops_stream_helpers_and_async_calls_before_the_request(cap, srv):
    client, aclient = an(srv), aan(srv)
    with mist.trace("agent", budget_usd=0.001):
        client.messages.create(**msg_kwargs())  # 0.003105: over budget from here on
        with pytest.raises(mist.BudgetExceeded):
            client.messages.stream(**msg_kwargs())
        with pytest.raises(mist.BudgetExceeded):
            client.messages.create(**msg_kwargs(stream=True))
        with pytest.raises(mist.BudgetExceeded):
            with oa(srv).chat.completions.with_streaming_response.create(**chat_kwargs()):
                pass  # pragma: no cover

        async def later():
            with pytest.raises(mist.BudgetExceeded):
                await aclient.messages.create(**msg_kwargs())
            with pytest.raises(mist.BudgetExceeded):
                async with aoa(srv).chat.completions.stream(**chat_kwargs()):
                    pass  # pragma: no cover

        asyncio.run(later())
    assert srv.count() == 1
    # One call jumped past 80% and 100% at once: the warning, then (at the next step) one critical.
    assert [a["level"] for a in cap.alerts() if a["metric"] == "budget"] == ["warning", "critical"]


def test_budget_counts_streamed_usage(cap, srv):
    async def main():
        client = aoa(srv)
        with mist.trace("agent", budget_usd=0.0008):
            for _ in range(5):
                async for _chunk in await client.chat.completions.create(**chat_kwargs(stream=True)):
                    pass

    with pytest.raises(mist.BudgetExceeded):
        asyncio.run(main())
    assert srv.count() == 3  # 2 calls (0.000674) < 0.0008 <= 3 calls
    assert [a["level"] for a in cap.alerts() if a["metric"] == "budget"] == ["warning", "critical"]


# ---------------------------------------------------------------------------------- content capture


SECRET_KEY = "sk-proj-" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LmNbVcXz"
EMAIL = "jane.doe@example.com"


def test_secrets_in_prompts_never_reach_a_sink(_captured, srv):
    prompt = [{"role": "user", "content": f"My key is {SECRET_KEY}; write to {EMAIL}."}]
    srv.text = f"Noted: {SECRET_KEY} belongs to {EMAIL}."
    with mist.testing.capture(capture_content=True) as cap:
        client, aclient = oa(srv), an(srv)
        client.chat.completions.create(model="gpt-4o-mini", messages=prompt)
        list(client.chat.completions.create(model="gpt-4o-mini", messages=prompt, stream=True))
        client.responses.create(model="o4-mini", input=prompt[0]["content"], instructions=f"api_key={SECRET_KEY}")
        with aclient.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=prompt, system=EMAIL) as s:
            s.get_final_message()
        aclient.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=prompt)
        with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=prompt) as r:
            r.parse()
        srv.fail_next(400, message=f"messages[0].content: {prompt[0]['content']!r} is not allowed")  # errors can quote input
        with pytest.raises(openai.BadRequestError) as ei:
            client.chat.completions.create(model="gpt-4o-mini", messages=prompt)
        assert SECRET_KEY in str(ei.value)  # the application still gets the SDK's own message
        blob = b"\n".join(cap.lines())
        spans = cap.spans()
    assert len([s for s in spans if s["operation"] in ("chat", "responses", "messages")]) == 7
    failed = [s for s in spans if s["status"] == "error"]
    assert len(failed) == 1 and "[REDACTED:openai-key]" in failed[0]["attrs"]["error"]
    for secret in (SECRET_KEY, SECRET_KEY[8:], EMAIL):
        assert secret.encode() not in blob
    assert b"[REDACTED:openai-key]" in blob and b"[REDACTED:email]" in blob
    chats = [s["attrs"] for s in spans if s["operation"] == "chat" and s["status"] == "ok"]
    assert len(chats) == 3
    for chat in chats:
        assert chat["input"] == [{"role": "user", "content": "My key is [REDACTED:openai-key]; write to [REDACTED:email]."}]
        assert chat["output"] == "Noted: [REDACTED:openai-key] belongs to [REDACTED:email]."
    messages = [s["attrs"] for s in spans if s["operation"] == "messages"]
    assert messages[0]["input"][0] == {"role": "system", "content": "[REDACTED:email]"}
    assert all(m["output"] == chats[0]["output"] for m in messages)


def test_captured_content_is_size_capped(cap, srv, monkeypatch):
    from mist.core import runtime

    monkeypatch.setattr(runtime.settings, "capture_content", True)
    srv.text, srv.chunk_chars = "x" * 20000, 2500
    list(oa(srv).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "y" * 9000}], stream=True))
    a = only(cap, "chat")["attrs"]
    assert a["output"].startswith("x" * 100) and a["output"].endswith("…[truncated 15904 chars]")
    assert a["input"][0]["content"].endswith("…[truncated 4904 chars]")


# ---------------------------------------------------------------------------------- robustness


def test_instrument_is_idempotent_and_returns_the_same_client(cap, srv):
    raw = plain_openai(srv)
    create = instrument(raw).chat.completions.create
    assert instrument(raw) is raw and instrument(raw).chat.completions.create is create
    assert is_instrumented(raw)
    raw.chat.completions.create(**chat_kwargs())
    assert len(cap.spans("chat")) == 1


def test_with_options_and_copy_are_instrumented(cap, srv):
    oa(srv).with_options(timeout=5.0).chat.completions.create(**chat_kwargs())
    an(srv).copy(timeout=5.0).messages.create(**msg_kwargs())
    no_usage = instrument(plain_openai(srv), include_usage=False).with_options(timeout=5.0)
    list(no_usage.chat.completions.create(**chat_kwargs(stream=True)))  # the copy keeps include_usage=False
    assert "stream_options" not in srv.bodies("/v1/chat/completions")[-1]
    assert len(cap.spans("chat")) == 2 and len(cap.spans("messages")) == 1


def test_uninstrument_restores_every_method(cap, srv):
    client = plain_openai(srv)
    cached = client.chat.completions.with_raw_response  # made before instrumenting: made again after
    assert instrument(client) is client
    client.chat.completions.with_raw_response.create(**chat_kwargs())
    copy = client.with_options(timeout=5.0)
    assert is_instrumented(client) and is_instrumented(copy) and cached is not client.chat.completions.with_raw_response
    assert uninstrument(client) is client and not is_instrumented(client)
    assert "create" not in vars(client.chat.completions) and "with_options" not in vars(client)
    sent = srv.count()
    client.chat.completions.create(**chat_kwargs())
    client.chat.completions.with_raw_response.create(**chat_kwargs())
    list(client.chat.completions.create(**chat_kwargs(stream=True)))
    with client.chat.completions.stream(**chat_kwargs()) as stream:
        stream.get_final_completion()
    client.with_options(timeout=5.0).chat.completions.create(**chat_kwargs())
    assert not is_instrumented(client.copy())
    assert "stream_options" not in srv.bodies()[sent + 2]  # requests untouched again
    assert len(cap.spans("chat")) == 1  # the call made while instrumented
    copy.chat.completions.create(**chat_kwargs())  # copies made while instrumented stay so
    instrument(client).chat.completions.create(**chat_kwargs())  # and it can be instrumented again
    assert len(cap.spans("chat")) == 3
    aclient = an(srv)
    uninstrument(aclient)
    with aclient.messages.stream(**msg_kwargs()) as stream:
        stream.get_final_message()
    assert cap.spans("messages") == []
    assert uninstrument(object()) is not None  # anything else: returned unchanged


def test_a_failure_inside_instrumentation_never_breaks_the_call(cap, srv, monkeypatch):
    client, aclient = oa(srv), an(srv)

    def broken(*args, **kwargs):
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(call_module, "Span", broken)
    assert client.chat.completions.create(**chat_kwargs()).choices[0].message.content == srv.text
    assert "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**chat_kwargs(stream=True))) == srv.text
    with aclient.messages.stream(**msg_kwargs()) as s:
        assert s.get_final_text() == srv.text
    assert cap.spans() == []
    monkeypatch.undo()
    from mist.providers import openai as openai_provider

    monkeypatch.setattr(openai_provider.Accumulator, "attrs", broken)
    monkeypatch.setattr(call_module, "from_response", broken)
    assert len(list(client.chat.completions.create(**chat_kwargs(stream=True)))) == 9
    assert client.chat.completions.create(**chat_kwargs()).choices[0].message.content == srv.text
    assert srv.count() == 5
    assert [s["status"] for s in cap.spans("chat")] == ["ok", "ok"]  # traced, what could not be read left out
    assert all("tokens_in" not in s["attrs"] for s in cap.spans("chat"))


def test_unsupported_objects_are_returned_unchanged_with_a_warning():
    thing = object()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert instrument(thing) is thing
    assert any("not an OpenAI or Anthropic client" in str(w.message) for w in caught)
    assert instrument(None) is None


def test_mist_instrument_is_the_function_with_its_options(srv):
    client = plain_openai(srv)
    assert mist.instrument is instrument
    assert mist.instrument(client, include_usage=False) is client


def test_provider_from_the_client_class_and_host(cap, srv):
    from mist.instrument import ClientInfo

    oa(srv).chat.completions.create(**chat_kwargs())
    assert only(cap, "chat")["attrs"]["provider"] == "openai"  # a loopback host: the SDK's family
    assert ClientInfo.detect(openai.OpenAI(base_url="https://api.deepseek.com/v1", api_key="k"), True).provider == "deepseek"
    azure = openai.AzureOpenAI(azure_endpoint="https://x.openai.azure.com", api_key="k", api_version="2024-10-21")
    assert ClientInfo.detect(azure, True).provider == "azure.ai.openai"
    assert ClientInfo.detect(plain_anthropic(srv), True).provider == "anthropic"


def test_call_spans_survive_exit_and_fork(tmp_path):
    """Spans of instrumented calls are written once: not lost at exit without a flush, not
    doubled across fork (the child writes its own)."""
    parent, child = tmp_path / "parent.jsonl", tmp_path / "child.jsonl"
    code = f"""
import os, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
import openai, mist
from llm_server import LLMServer
srv = LLMServer().start()
def call(model):
    client = mist.instrument(openai.OpenAI(base_url=srv.openai_url, api_key="k", max_retries=0))
    client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "hi"}}])
mist.configure("file://{parent}", flush_interval=60)
call("gpt-4o-mini")
pid = os.fork()
if pid == 0:
    mist.configure("file://{child}", flush_interval=60)
    call("gpt-4o")
    os._exit(0 if mist.flush() else 1)
assert os.waitpid(pid, 0)[1] == 0
call("gpt-4.1-mini")
# no flush: the exit handler writes what waits
"""
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    models = lambda p: sorted(json.loads(x)["payload"]["attrs"]["model"] for x in p.read_bytes().splitlines())  # noqa: E731
    assert models(parent) == ["gpt-4.1-mini", "gpt-4o-mini-2024-07-18"]
    assert models(child) == ["gpt-4o-2024-08-06"]


# ------------------------------------------------------------------ request parameters (issue 17)


def test_request_model_and_parameters_are_recorded(cap, srv):
    oa(srv).chat.completions.create(**chat_kwargs(temperature=0.2, top_p=0.9, max_completion_tokens=64, seed=7,
                                                  n=1, stop=["END"], presence_penalty=0))
    a = only(cap, "chat")["attrs"]
    assert a["model"] == "gpt-4o-mini-2024-07-18" and a["request_model"] == "gpt-4o-mini"
    assert (a["temperature"], a["top_p"], a["max_tokens"], a["seed"]) == (0.2, 0.9, 64, 7)
    assert a["stop_sequences"] == ["END"] and a["presence_penalty"] == 0
    assert "choice_count" not in a  # n=1 is the default
    cap.clear()
    oa(srv).chat.completions.create(**chat_kwargs())
    a = only(cap, "chat")["attrs"]
    assert not {"temperature", "top_p", "max_tokens", "seed", "stop_sequences"} & set(a)  # NOT_GIVEN left out
