"""``mist.instrument`` on a real ``google-genai`` client against the loopback server's Gemini
endpoints (``generateContent``, ``streamGenerateContent``): usage metadata, streaming, async,
errors, budgets."""
from __future__ import annotations

import asyncio

import pytest

genai = pytest.importorskip("google.genai", reason="google-genai is not installed (pip install -e '.[peers]')")

import mist  # noqa: E402
from mist.instrument import is_instrumented, uninstrument  # noqa: E402

# gemini-2.5-flash: input 0.30, cached input 0.03, output (thoughts included) 2.50 USD per million
COST = ((1200 - 1000) * 0.30 + 1000 * 0.03 + (150 + 100) * 2.50) / 1e6


def client(srv):
    return mist.instrument(genai.Client(api_key="test-dummy", http_options={"base_url": srv.gemini_url}))


def check(span):
    a = span["attrs"]
    assert span["operation"] == "generate_content" and a["provider"] == "gcp.gemini"
    assert a["model"] == "gemini-2.5-flash"
    assert (a["tokens_in"], a["tokens_out"], a["tokens_cache_read"], a["tokens_reasoning"]) == (1200, 250, 1000, 100)
    assert a["cost_usd"] == pytest.approx(COST) and a["finish_reason"] == "STOP"


def test_generate_content(srv, traced):
    c = client(srv)
    assert is_instrumented(c)
    with mist.trace("ask") as root:
        r = c.models.generate_content(model="gemini-2.5-flash", contents="What is 6 times 7?")
    assert r.text == srv.text
    (span,) = traced.spans("generate_content")
    check(span)
    assert span["parent_id"] == root.span_id and root.spent_usd == pytest.approx(COST)


def test_stream(srv, traced):
    c = client(srv)
    text = "".join(chunk.text for chunk in c.models.generate_content_stream(model="models/gemini-2.5-flash",
                                                                            contents="hi"))
    assert text == srv.text
    (span,) = traced.spans("generate_content")
    check(span)
    assert span["attrs"]["ttft_ms"] >= 0


def test_async_and_async_stream(srv, traced):
    c = client(srv)

    async def main():
        r = await c.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        parts = [chunk.text async for chunk in await c.aio.models.generate_content_stream(model="gemini-2.5-flash",
                                                                                            contents="hi")]
        return r.text, "".join(parts)

    assert asyncio.run(main()) == (srv.text, srv.text)
    spans = traced.spans("generate_content")
    assert len(spans) == 2
    for s in spans:
        check(s)


def test_error_marks_the_span_and_is_reraised(srv, traced):
    srv.fail_next(500)
    with pytest.raises(Exception) as info:
        client(srv).models.generate_content(model="gemini-2.5-flash", contents="hi")
    (span,) = traced.spans("generate_content")
    assert span["status"] == "error" and span["attrs"]["error_type"] == type(info.value).__name__


def test_budget_is_checked_before_sending(srv, traced):
    c = client(srv)
    with mist.trace("capped", budget_usd=COST / 2):
        c.models.generate_content(model="gemini-2.5-flash", contents="hi")
        with pytest.raises(mist.BudgetExceeded):
            c.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert srv.count() == 1


def test_capture_and_uninstrument(srv):
    import mist.testing

    c = client(srv)
    with mist.testing.capture(capture_content=True) as cap:
        c.models.generate_content(model="gemini-2.5-flash", contents="What is 6 times 7?")
        (span,) = cap.spans("generate_content")
        assert span["attrs"]["input"] == "What is 6 times 7?" and span["attrs"]["output"] == srv.text
        cap.clear()
        uninstrument(c)
        assert not is_instrumented(c)
        c.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert cap.spans() == []


def test_request_parameters_come_from_config(srv, traced):
    c = client(srv)
    c.models.generate_content(model="gemini-2.5-flash", contents="hi",
                              config={"temperature": 0.3, "max_output_tokens": 64, "candidate_count": 1})
    c.models.generate_content(model="gemini-2.5-flash", contents="hi",
                              config=genai.types.GenerateContentConfig(top_k=20, seed=7, stop_sequences=["END"]))
    first, second = traced.spans("generate_content")
    assert (first["attrs"]["temperature"], first["attrs"]["max_tokens"]) == (0.3, 64)
    assert "choice_count" not in first["attrs"]  # 1 is the default
    assert (second["attrs"]["top_k"], second["attrs"]["seed"], second["attrs"]["stop_sequences"]) == (20, 7, ["END"])
    assert first["attrs"]["latency_ms"] > 0


def test_a_stream_left_early_ends_its_span(srv, traced):
    c = client(srv)  # kept: a collected genai.Client closes its HTTP client
    stream = c.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
    next(iter(stream))
    stream.close()
    (span,) = traced.spans("generate_content")
    assert span["attrs"]["stream_end"] == "closed"
