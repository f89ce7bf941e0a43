"""``mist.integrations.litellm.MistLogger`` with the real ``litellm`` against the loopback server
(LiteLLM's ``openai/`` provider, ``api_base`` pointed at it)."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the price map from the network
litellm = pytest.importorskip("litellm", reason="litellm is not installed (pip install litellm)")

import mist  # noqa: E402
from mist.integrations.litellm import MistLogger  # noqa: E402

CHAT_COST = ((2006 - 1920) * 0.15 + 1920 * 0.075 + 300 * 0.60) / 1e6
PROMPT = [{"role": "user", "content": "What is 6 times 7?"}]


@pytest.fixture(scope="module", autouse=True)
def logger():
    mine = MistLogger()
    before = list(litellm.callbacks)
    litellm.callbacks = [mine]
    yield mine
    litellm.callbacks = before


def wait_for(traced, n, timeout=10.0):
    """LiteLLM runs success callbacks on a worker thread: wait for them."""
    deadline = time.monotonic() + timeout
    while True:
        traced.flush()
        spans = traced.spans("chat")
        if len(spans) >= n or time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


def call(srv, **kw):
    return litellm.completion(model="openai/gpt-4o-mini", api_base=srv.openai_url, api_key="sk-test-dummy",
                              messages=PROMPT, num_retries=0, **kw)


def test_completion_is_a_priced_child_span(srv, traced):
    with mist.trace("ask") as root:
        r = call(srv)
    assert r.choices[0].message.content == srv.text
    (span,) = wait_for(traced, 1)
    a = span["attrs"]
    assert span["parent_id"] == root.span_id and span["trace_id"] == root.trace_id
    assert a["model"] == "gpt-4o-mini-2024-07-18" and a["provider"] == "openai"
    assert (a["tokens_in"], a["tokens_out"]) == (2006, 300)
    assert a["cost_usd"] == pytest.approx(CHAT_COST) and a["latency_ms"] >= 0


def test_async_completion(srv, traced):
    async def main():
        with mist.trace("async") as root:
            await litellm.acompletion(model="openai/gpt-4o-mini", api_base=srv.openai_url, api_key="sk-test-dummy",
                                      messages=PROMPT, num_retries=0)
        for _ in range(200):  # LiteLLM logs success in a task of this loop: let it run
            traced.flush()
            if traced.spans("chat"):
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # and any second callback, which would be a duplicate
        return root

    root = asyncio.run(main())
    (span,) = wait_for(traced, 1)
    assert span["parent_id"] == root.span_id and span["attrs"]["tokens_in"] == 2006


def test_failure_marks_the_span(srv, traced):
    srv.fail_next(400, path="/v1/chat/completions")
    with pytest.raises(Exception):
        call(srv)
    (span,) = wait_for(traced, 1)
    assert span["status"] == "error" and span["attrs"]["error"]
