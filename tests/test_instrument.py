"""``mist.instrument`` with the real ``openai`` and ``anthropic`` clients against a loopback server.

Nothing here mocks an SDK object: the clients send real HTTP requests to ``tests/llm_server.py``,
which answers with JSON or SSE shaped like the providers' documented responses. Token counts and
costs are checked against hand computation from the price table's per-million prices.
"""
from __future__ import annotations

import asyncio
import gc
import weakref
import warnings

import pytest

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

import mist  # noqa: E402
import mist.instrumentation as instrument_module  # noqa: E402
import mist.testing  # noqa: E402
from llm_server import LLMServer  # noqa: E402

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
def _server():
    with LLMServer() as server:
        yield server


@pytest.fixture
def srv(_server):
    _server.reset()
    yield _server


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


def oa(srv, **kw):
    return mist.instrument(plain_openai(srv, **kw))


def aoa(srv, **kw):
    return mist.instrument(openai.AsyncOpenAI(base_url=srv.openai_url, api_key="sk-test-dummy", max_retries=0,
                                              http_client=openai.DefaultAsyncHttpxClient(verify=False), **kw))


def an(srv, **kw):
    return mist.instrument(anthropic.Anthropic(base_url=srv.anthropic_url, api_key="sk-ant-test-dummy", max_retries=0,
                                               http_client=anthropic.DefaultHttpxClient(verify=False), **kw))


def aan(srv, **kw):
    return mist.instrument(anthropic.AsyncAnthropic(base_url=srv.anthropic_url, api_key="sk-ant-test-dummy", max_retries=0,
                                                    http_client=anthropic.DefaultAsyncHttpxClient(verify=False), **kw))


def only(cap, operation):
    spans = cap.spans(operation)
    assert len(spans) == 1, spans
    return spans[0]


def chat_kwargs(**kw):
    return dict(model="gpt-4o-mini", messages=PROMPT, **kw)


def msg_kwargs(**kw):
    return dict(model="claude-haiku-4-5", max_tokens=256, messages=PROMPT, **kw)


def assert_chat_usage(attrs):
    assert attrs["model"] == "gpt-4o-mini-2024-07-18"  # the response's snapshot replaces the request model
    assert attrs["provider"] == "openai"
    assert (attrs["tokens_in"], attrs["tokens_out"]) == (2006, 300)
    assert (attrs["tokens_cache_read"], attrs["tokens_reasoning"]) == (1920, 192)
    assert attrs["finish_reason"] == "stop"
    assert attrs["cost_usd"] == pytest.approx(CHAT_COST, rel=1e-9)


def assert_messages_usage(attrs, tokens_out=503):
    assert attrs["model"] == "claude-haiku-4-5-20251001"
    assert attrs["provider"] == "anthropic"
    assert attrs["tokens_in"] == 100 + 1800 + 248
    assert (attrs["tokens_cache_read"], attrs["tokens_cache_write"]) == (1800, 248)
    assert attrs["tokens_out"] == tokens_out


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
    a = only(cap, "responses")["attrs"]
    assert a["model"] == "o4-mini-2025-04-16" and a["provider"] == "openai"
    assert (a["tokens_in"], a["tokens_out"], a["tokens_cache_read"], a["tokens_reasoning"]) == (1500, 420, 1024, 256)
    assert a["finish_reason"] == "completed"
    assert a["cost_usd"] == pytest.approx(RESPONSES_COST, rel=1e-9)


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


def test_raw_response_is_recorded_without_consuming_it(cap, srv):
    raw = oa(srv).chat.completions.with_raw_response.create(**chat_kwargs())
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.parse().choices[0].message.content == srv.text
    assert_chat_usage(only(cap, "chat")["attrs"])


def test_anthropic_message_adds_cache_tokens_to_input(cap, srv):
    m = an(srv).messages.create(**msg_kwargs())
    assert m.content[0].text == srv.text
    s = only(cap, "messages")
    assert s["status"] == "ok"
    assert_messages_usage(s["attrs"])
    assert s["attrs"]["finish_reason"] == "end_turn"
    assert s["attrs"]["cost_usd"] == pytest.approx(MESSAGES_COST, rel=1e-9)


def test_unknown_model_is_flagged_not_priced_at_zero(cap, srv):
    oa(srv).chat.completions.create(model="loopback-model-unpriced-x1", messages=PROMPT)
    a = only(cap, "chat")["attrs"]
    assert a["unpriced"] is True and "cost_usd" not in a
    assert [x["metric"] for x in cap.alerts()].count("unpriced_model") == 1


# ---------------------------------------------------------------------------------- streaming, sync


def _dump(chunks):
    return [c.model_dump(exclude={"id", "created"}) for c in chunks]


def test_chat_stream_consumed_fully_looks_like_the_plain_client(cap, srv):
    plain = plain_openai(srv)
    expected = _dump(list(plain.chat.completions.create(**chat_kwargs(stream=True))))
    stream = oa(srv).chat.completions.create(**chat_kwargs(stream=True))
    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200  # attribute passthrough
    got = list(stream)
    # The usage chunk requested for tracing is consumed by the wrapper: the caller sees exactly
    # what an uninstrumented client shows.
    assert _dump(got) == expected
    assert all(c.choices for c in got)
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
    client = instrument_module.instrument(plain_openai(srv), include_usage=False)
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


def test_responses_stream(cap, srv):
    events = list(oa(srv).responses.create(model="o4-mini", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    a = only(cap, "responses")["attrs"]
    assert (a["tokens_in"], a["tokens_out"], a["finish_reason"]) == (1500, 420, "completed")
    assert a["cost_usd"] == pytest.approx(RESPONSES_COST, rel=1e-9)


def test_anthropic_raw_stream(cap, srv):
    events = list(an(srv).messages.create(**msg_kwargs(stream=True)))
    assert [e.type for e in events][0] == "message_start" and events[-1].type == "message_stop"
    a = only(cap, "messages")["attrs"]
    assert_messages_usage(a)
    assert a["cost_usd"] == pytest.approx(MESSAGES_COST, rel=1e-9)


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
    a = only(cap, "responses")["attrs"]
    assert (a["tokens_in"], a["tokens_out"]) == (1500, 420)


def test_anthropic_stream_helper_text_stream_and_final_message(cap, srv):
    with an(srv).messages.stream(**msg_kwargs()) as stream:
        assert stream.response.headers["request-id"].startswith("req_")
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == srv.text and final.usage.output_tokens == 503
    s = only(cap, "messages")
    assert s["status"] == "ok" and "stream_end" not in s["attrs"]
    assert_messages_usage(s["attrs"])
    assert s["attrs"]["finish_reason"] == "end_turn"
    assert s["attrs"]["cost_usd"] == pytest.approx(MESSAGES_COST, rel=1e-9)


def test_anthropic_stream_helper_get_final_text_only(cap, srv):
    with an(srv).messages.stream(**msg_kwargs()) as stream:
        assert stream.get_final_text() == srv.text
    assert_messages_usage(only(cap, "messages")["attrs"])


def test_anthropic_stream_helper_left_early(cap, srv):
    with an(srv).messages.stream(**msg_kwargs()) as stream:
        next(iter(stream.text_stream))
    s = only(cap, "messages")
    assert s["attrs"]["stream_end"] == "closed"
    assert s["attrs"]["tokens_in"] == 2148 and s["attrs"]["tokens_out"] == 1  # as of message_start


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


# ---------------------------------------------------------------------------------- parents


def test_parents_inside_trace_and_span(cap, srv):
    seen = []

    def on_request(request):
        cur = mist.current_span()
        seen.append(cur.operation if cur is not None else None)

    client = oa(srv, http_client=openai.DefaultHttpxClient(verify=False, event_hooks={"request": [on_request]}))
    aclient = an(srv)
    with mist.trace("agent") as t:
        with mist.span("plan") as plan:
            client.chat.completions.create(**chat_kwargs())
            stream = client.chat.completions.create(**chat_kwargs(stream=True))
        list(stream)  # consumed outside "plan": still its child
        aclient.messages.create(**msg_kwargs())
        assert mist.current_span() is t
    assert seen == ["chat", "chat"]  # the call's span is current while the SDK sends the request
    chats, msg = cap.spans("chat"), only(cap, "messages")
    assert [c["parent_id"] for c in chats] == [plan.span_id, plan.span_id]
    assert msg["parent_id"] == t.span_id
    assert {s["trace_id"] for s in cap.spans()} == {t.trace_id}


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
        srv.fail_next(400, message=f"messages[0].content: {prompt[0]['content']!r} is not allowed")  # errors can quote input
        with pytest.raises(openai.BadRequestError) as ei:
            client.chat.completions.create(model="gpt-4o-mini", messages=prompt)
        assert SECRET_KEY in str(ei.value)  # the application still gets the SDK's own message
        blob = b"\n".join(cap.lines())
        spans = cap.spans()
    assert len([s for s in spans if s["operation"] in ("chat", "responses", "messages")]) == 6
    failed = [s for s in spans if s["status"] == "error"]
    assert len(failed) == 1 and "[REDACTED:openai-key]" in failed[0]["attrs"]["error"]
    for secret in (SECRET_KEY, SECRET_KEY[8:], EMAIL):
        assert secret.encode() not in blob
    assert b"[REDACTED:openai-key]" in blob and b"[REDACTED:email]" in blob
    chat = [s for s in spans if s["operation"] == "chat"][0]["attrs"]
    assert chat["input"] == [{"role": "user", "content": "My key is [REDACTED:openai-key]; write to [REDACTED:email]."}]
    assert chat["output"] == "Noted: [REDACTED:openai-key] belongs to [REDACTED:email]."


def test_captured_content_is_size_capped(cap, srv, monkeypatch):
    monkeypatch.setattr(mist._runtime.settings, "capture_content", True)
    srv.text, srv.chunk_chars = "x" * 20000, 2500
    list(oa(srv).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "y" * 9000}], stream=True))
    a = only(cap, "chat")["attrs"]
    assert a["output"].startswith("x" * 100) and a["output"].endswith("…[truncated 15904 chars]")
    assert a["input"][0]["content"].endswith("…[truncated 4904 chars]")


# ---------------------------------------------------------------------------------- robustness


def test_instrument_is_idempotent_and_returns_the_same_client(cap, srv):
    raw = plain_openai(srv)
    create = mist.instrument(raw).chat.completions.create
    assert mist.instrument(raw) is raw and mist.instrument(raw).chat.completions.create is create
    assert instrument_module.is_instrumented(raw)
    raw.chat.completions.create(**chat_kwargs())
    assert len(cap.spans("chat")) == 1


def test_with_options_copies_are_instrumented(cap, srv):
    oa(srv).with_options(timeout=5.0).chat.completions.create(**chat_kwargs())
    an(srv).with_options(timeout=5.0).messages.create(**msg_kwargs())
    assert len(cap.spans("chat")) == 1 and len(cap.spans("messages")) == 1


def test_a_failure_inside_instrumentation_never_breaks_the_call(cap, srv, monkeypatch):
    client, aclient = oa(srv), an(srv)

    def broken(*args, **kwargs):
        raise RuntimeError("instrumentation bug")

    monkeypatch.setattr(instrument_module._Call, "__init__", broken)  # the general path (streams, helpers)
    monkeypatch.setattr(instrument_module, "Span", broken)  # and the common call's
    monkeypatch.setattr(instrument_module, "_begin_call", instrument_module._no_begin_call)  # (native: Span made in Rust)
    monkeypatch.setattr(instrument_module, "_begin_stream", instrument_module._no_begin_stream)  # (and the native stream)
    assert client.chat.completions.create(**chat_kwargs()).choices[0].message.content == srv.text
    assert "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(**chat_kwargs(stream=True))) == srv.text
    with aclient.messages.stream(**msg_kwargs()) as s:
        assert s.get_final_text() == srv.text
    monkeypatch.undo()
    monkeypatch.setattr(instrument_module.OpenAIStreamUsage, "attrs", broken)
    assert len(list(client.chat.completions.create(**chat_kwargs(stream=True)))) == 9
    assert srv.count() == 4
    assert [s["status"] for s in cap.spans("chat")] == ["ok"]  # only the last call was traced


def test_unsupported_objects_are_returned_unchanged_with_a_warning():
    thing = object()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert mist.instrument(thing) is thing
    assert any("not an OpenAI or Anthropic client" in str(w.message) for w in caught)
    assert mist.instrument(None) is None


def test_mist_instrument_is_the_function_with_its_options(srv):
    client = plain_openai(srv)
    assert mist.instrument is instrument_module.instrument
    assert mist.instrument(client, include_usage=False) is client


def test_latency_ms_rounds_exactly_like_round():
    # _ms does in integer arithmetic what round(ns / 1e6, 3) does (float round is slow when cold)
    import random

    rng = random.Random(7)
    values = [0, 1, 499, 500, 501, 999, 1000, 1500, 2500, 1_234_500, 1_234_567, 2**53 - 1, 2**53, 2**60, -1, -1500]
    values += [rng.randrange(10**k) for k in range(1, 16) for _ in range(2000)]
    values += [rng.randrange(10**9) // 1000 * 1000 + r for r in (499, 500, 501) for _ in range(2000)]
    for ns in values:
        got, want = instrument_module._ms(ns), round(ns / 1e6, 3)
        assert got == want and repr(got) == repr(want), ns
    assert instrument_module._ms(1.5e6) == 1.5


# ---------------------------------------------------------------------------------- native call span


def _normalised(span):
    """A span payload without what differs from call to call (ids, clock readings)."""
    s = {k: v for k, v in span.items() if k not in ("trace_id", "span_id", "parent_id", "start_ns", "end_ns")}
    s["attrs"] = {k: "<clock>" if k in ("latency_ms", "ttft_ms") else v for k, v in s.get("attrs", {}).items()}
    s["has_parent"] = "parent_id" in span
    return s


def _both_ways(cap, monkeypatch, run):
    """The spans `run()` makes through the native begin/finish/end_stream and through the Python
    path (_enter, _finish, _StreamTrace.finish)."""
    out = []
    for native in (True, False):
        with monkeypatch.context() as m:
            if not native:
                m.setattr(instrument_module, "_begin_call", instrument_module._no_begin_call)
                m.setattr(instrument_module, "_finish_call", instrument_module._no_finish_call)
                m.setattr(instrument_module, "_end_stream", instrument_module._no_end_stream)
                m.setattr(instrument_module, "_begin_stream", instrument_module._no_begin_stream)
            cap.clear()
            run()
            out.append([_normalised(s) for s in cap.spans()])
    return out


def test_native_call_span_matches_the_python_path(cap, srv, monkeypatch):
    if not hasattr(mist._backend.core, "begin_call"):
        pytest.skip("the pure core has no native call span: both ways are the Python path")

    def calls():
        client, aclient = oa(srv), an(srv)
        client.chat.completions.create(**chat_kwargs())
        client.chat.completions.create(model="loopback-model-unpriced-y2", messages=PROMPT)  # unknown: the Python pricer
        client.responses.create(model="o4-mini", input="hi")  # not read natively: _finish
        client.embeddings.create(model="text-embedding-3-small", input=["a"])
        aclient.messages.create(**msg_kwargs())
        with mist.trace("agent"):
            with mist.span("plan"):
                client.chat.completions.create(**chat_kwargs())
            aclient.messages.create(**msg_kwargs())
        with mist.trace("budgeted", budget_usd=10.0):  # a budget: _enter / Span.end charge it
            client.chat.completions.create(**chat_kwargs())
        # the general path (_Call.start begins natively too): a stream, a raw response, a helper
        list(client.chat.completions.create(**chat_kwargs(stream=True)))
        client.chat.completions.with_raw_response.create(**chat_kwargs()).parse()
        with aclient.messages.stream(**msg_kwargs()) as s:
            s.get_final_text()
        with mist.span("outer"):
            list(client.chat.completions.create(**chat_kwargs(stream=True)))
        list(aclient.messages.create(**msg_kwargs(stream=True)))
        list(client.chat.completions.create(**chat_kwargs(stream=True, stream_options={"include_usage": True})))
        no_usage = mist.instrument(plain_openai(srv), include_usage=False)  # a stream without usage: no counts
        list(no_usage.chat.completions.create(**chat_kwargs(stream=True)))
        with mist.trace("budgeted stream", budget_usd=10.0):
            list(client.chat.completions.create(**chat_kwargs(stream=True)))
        asyncio.run(_async_streams(srv))

    native, python = _both_ways(cap, monkeypatch, calls)
    assert len(native) == 23 and native == python
    assert any("ttft_ms" in s["attrs"] for s in native)


def test_native_stream_ends_match_the_python_path(cap, srv, monkeypatch):
    """Every way a sync stream ends (exhausted, closed, left in a with block, dropped, failing
    midway, read by next(), through the OpenAI helper) gives the same span through the native
    TracedStream and through _Call.start + _TracedStream."""
    if not hasattr(mist._backend.core, "begin_stream"):
        pytest.skip("the pure core has no native stream: both ways are the Python path")

    def calls():
        client, aclient = oa(srv), an(srv)
        stream = client.chat.completions.create(**chat_kwargs(stream=True))
        next(stream)
        stream.close()
        with client.chat.completions.create(**chat_kwargs(stream=True)) as stream:
            for _ in stream:
                break
        stream = aclient.messages.create(**msg_kwargs(stream=True))
        next(stream)
        next(stream)
        del stream
        gc.collect()
        first = client.chat.completions.create(**chat_kwargs(stream=True))
        rest = [next(first)] + list(first)  # next() then a for loop on the same stream
        assert "".join(c.choices[0].delta.content or "" for c in rest) == srv.text
        srv.stream_error_after = 2
        with pytest.raises(openai.APIError):
            list(client.chat.completions.create(**chat_kwargs(stream=True)))
        srv.stream_error_after = None
        list(client.responses.create(model="o4-mini", input="hi", stream=True))  # typed events: read in Python
        with client.chat.completions.stream(**chat_kwargs()) as s:
            s.get_final_completion()
        with client.chat.completions.stream(**chat_kwargs()) as s:
            for _ in s:
                break

    native, python = _both_ways(cap, monkeypatch, calls)
    assert len(native) == 8 and native == python
    ends = [s["attrs"].get("stream_end") for s in native]
    assert ends == ["closed", "closed", "abandoned", None, None, None, None, "closed"]
    assert native[4]["status"] == "error" and native[5]["attrs"]["tokens_in"] == 1500


def test_native_stream_is_the_sdk_stream_to_its_caller(cap, srv):
    core = mist._backend.core
    if not hasattr(core, "begin_stream"):
        pytest.skip("native backend only")
    client = oa(srv)
    stream = client.chat.completions.create(**chat_kwargs(stream=True))
    assert type(stream) is core.TracedStream  # the common stream takes the native proxy
    assert isinstance(stream, openai.Stream) and stream.__class__ is openai.Stream
    assert repr(stream).startswith("<openai.Stream")
    stream.mist_note = "kept"  # attributes land on the SDK stream
    assert stream.mist_note == "kept" and stream.response.status_code == 200
    with pytest.raises(AttributeError):
        stream._mist_missing
    assert weakref.ref(stream)() is stream
    assert len(list(stream)) == 9 and list(stream) == []
    assert only(cap, "chat")["attrs"]["tokens_in"] == 2006


def test_native_stream_hands_unread_events_to_the_python_accumulator(cap):
    """An event the native readers leave to Python (here a float count) makes the Python
    accumulator, carrying what was read so far (Anthropic's running input counts): the span says
    what AnthropicStreamUsage fed every event says."""
    core = mist._backend.core
    if not hasattr(core, "begin_stream"):
        pytest.skip("native backend only")
    events = [
        {"type": "message_start", "message": {"model": "claude-haiku-4-5-20251001",
                                              "usage": {"input_tokens": 100, "cache_read_input_tokens": 50,
                                                        "output_tokens": 1}}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7.0}},
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 9, "cache_creation_input_tokens": 10}},
        {"type": "message_stop"},
    ]
    info = instrument_module._ClientInfo("anthropic", False, "anthropic", False, True)
    stream = core.begin_stream("messages", {"model": "claude-haiku-4-5"}, "anthropic", "anthropic", False, False, info)
    assert stream._mist_attach(iter(events)) is stream
    assert list(stream) == events
    acc = instrument_module.AnthropicStreamUsage()
    for e in events:
        acc.feed(e)
    a = only(cap, "messages")["attrs"]
    assert {k: a[k] for k in acc.attrs()} == acc.attrs()
    assert (a["tokens_in"], a["tokens_cache_read"], a["tokens_cache_write"], a["tokens_out"], a["finish_reason"]) == (
        160, 50, 10, 9, "end_turn")


def test_native_stream_declines_what_it_does_not_handle(cap):
    core = mist._backend.core
    if not hasattr(core, "begin_stream"):
        pytest.skip("native backend only")
    info = instrument_module._ClientInfo("openai", False, "openai", False, True)
    with mist.trace("budgeted", budget_usd=1.0):  # the budget check is _Call.start's
        assert core.begin_stream("chat", {"model": "gpt-4o-mini"}, "openai", "openai", False, True, info) is None
    kwargs = {"model": "gpt-4o-mini", "stream": True}
    stream = core.begin_stream("chat", kwargs, "openai", "openai", False, True, info)
    assert kwargs["stream_options"] == {"include_usage": True} and mist.current_span() is stream._mist_span
    assert stream._mist_attach({"not": "a stream"}) is None  # the caller records it as a response
    assert mist.current_span() is None and stream._mist_done
    given = {"model": "gpt-4o-mini", "stream_options": {"include_usage": False}}
    stream = core.begin_stream("chat", given, "openai", "openai", False, True, info)
    assert given["stream_options"] == {"include_usage": False}  # the caller's stays
    stream._mist_failed(RuntimeError("sk-" + "a" * 40 + " refused"))
    s = cap.spans("chat")[-1]
    assert s["status"] == "error" and "aaaaaaaa" not in s["attrs"]["error"]  # redacted in Python
    stream._mist_failed(RuntimeError("twice"))  # ended once
    assert len(cap.spans("chat")) == 1


async def _async_streams(srv):
    stream = await aoa(srv).chat.completions.create(**chat_kwargs(stream=True))
    async for _ in stream:
        pass
    stream = await aan(srv).messages.create(**msg_kwargs(stream=True))
    async for _ in stream:
        pass


def test_native_call_span_is_current_during_the_request_and_restored_after(cap, srv):
    seen = []

    def on_request(request):
        cur = mist.current_span()
        seen.append((cur.operation, cur.parent_id, cur.attrs.get("model")) if cur is not None else None)

    client = oa(srv, http_client=openai.DefaultHttpxClient(verify=False, event_hooks={"request": [on_request]}))
    client.chat.completions.create(**chat_kwargs())
    assert mist.current_span() is None
    with mist.span("outer") as outer:
        client.chat.completions.create(**chat_kwargs())
        assert mist.current_span() is outer
    assert seen == [("chat", None, "gpt-4o-mini"), ("chat", outer.span_id, "gpt-4o-mini")]
    inner = cap.spans("chat")
    assert inner[1]["parent_id"] == outer.span_id and inner[1]["trace_id"] == outer.trace_id
    assert "parent_id" not in inner[0] and inner[0]["trace_id"] != outer.trace_id


def test_native_call_span_declines_what_it_does_not_handle(cap, srv):
    core = mist._backend.core
    if not hasattr(core, "begin_call"):
        pytest.skip("native backend only")
    import time

    with mist.trace("budgeted", budget_usd=1.0):  # the budget check is _enter's
        assert core.begin_call("chat", {"model": "gpt-4o-mini"}, "openai") is None
    span = core.begin_call("chat", {"model": 42}, "openai")  # a model that is not a str is left out
    assert isinstance(span, mist.tracing.Span) and span.attrs == {"provider": "openai"}
    assert mist.current_span() is span
    attrs_before = dict(span.attrs)
    # a latency it does not round (negative): False, nothing changed (a response it does not read
    # is read later in Python, or declined when nothing drains: tests/test_deferred.py)
    future = time.perf_counter_ns() + 10**12
    assert core.finish_call(span, {"model": "m", "usage": {"prompt_tokens": 1}}, "openai", False, future) is False
    assert span.attrs == attrs_before and span.end_ns == 0 and mist.current_span() is span
    assert core.finish_call(span, {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}},
                            "openai", False, time.perf_counter_ns()) is True
    assert mist.current_span() is None
    a = only(cap, "chat")["attrs"]
    assert span.end_ns > 0
    assert (a["model"], a["tokens_in"], a["tokens_out"]) == ("gpt-4o-mini", 10, 2) and a["cost_usd"] > 0
    # ended already: declines (Span.end emits once)
    assert core.finish_call(span, {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 1}}, "openai", False,
                            time.perf_counter_ns()) is False
