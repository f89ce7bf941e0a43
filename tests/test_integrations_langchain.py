"""``mist.integrations.langchain.MistCallbackHandler`` with real ``langchain-core`` and
``langchain-openai``: a small tool-calling agent whose ``ChatOpenAI`` talks to the loopback server
(which answers the first call with a tool call), replayed with ``mist replay``."""
from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason="langchain-core is not installed (pip install -e '.[peers]')")
pytest.importorskip("langchain_openai", reason="langchain-openai is not installed (pip install -e '.[peers]')")

import httpx  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.messages import HumanMessage  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_core.runnables import RunnableLambda  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

import mist  # noqa: E402
from integration_helpers import children, find, replay  # noqa: E402
from llm_server import CHAT_USAGE  # noqa: E402
from mist.integrations.langchain import MistCallbackHandler  # noqa: E402

# gpt-4o-mini: input 0.15, cached input 0.075, output 0.60 USD per million tokens
CHAT_COST = ((2006 - 1920) * 0.15 + 1920 * 0.075 + 300 * 0.60) / 1e6


def chat_model(srv, **kw):
    return ChatOpenAI(model="gpt-4o-mini", base_url=srv.openai_url, api_key="sk-test-dummy", max_retries=0,
                      http_client=httpx.Client(verify=False), http_async_client=httpx.AsyncClient(verify=False), **kw)


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@tool
def explode(a: int) -> int:
    """Always fails."""
    raise ValueError("the tool broke")


class Notes(BaseRetriever):
    def _get_relevant_documents(self, query, *, run_manager=None):
        return [Document(page_content="6 times 7 is 42"), Document(page_content="multiplication is repeated addition")]


def make_agent(srv, tools=(multiply,)):
    llm = chat_model(srv).bind_tools(list(tools))
    by_name = {t.name: t for t in tools}
    notes = Notes()

    def agent(question: str, config) -> str:
        context = notes.invoke(question, config=config)
        messages = [HumanMessage(question + "\n" + "\n".join(d.page_content for d in context))]
        for _ in range(4):
            ai = llm.invoke(messages, config=config)
            messages.append(ai)
            if not ai.tool_calls:
                return ai.content
            for call in ai.tool_calls:
                messages.append(by_name[call["name"]].invoke(call, config=config))
        return "gave up"

    return RunnableLambda(agent, name="agent")


def test_agent_run_is_a_tree_of_steps_tools_and_priced_llm_calls(srv, traced, tmp_path):
    srv.queue_tool_call("multiply", {"a": 6, "b": 7})
    with mist.trace("question") as root:
        answer = make_agent(srv).invoke("What is 6 times 7?", config={"callbacks": [MistCallbackHandler()]})
    assert answer == srv.text
    spans = traced.spans()
    assert all(s["trace_id"] == root.trace_id for s in spans)
    (agent,) = find(spans, "agent")
    assert agent["parent_id"] == root.span_id and agent["attrs"]["kind"] == "chain"
    ops = [s["operation"] for s in children(spans, agent)]
    assert ops == ["retrieve.Notes", "chat", "tool.multiply", "chat"], ops
    chats = find(spans, "chat")
    for i, chat in enumerate(chats):
        a = chat["attrs"]
        assert a["model"] == "gpt-4o-mini-2024-07-18" and a["provider"] == "openai"
        assert (a["tokens_in"], a["tokens_out"]) == (CHAT_USAGE["prompt_tokens"], CHAT_USAGE["completion_tokens"])
        assert (a["tokens_cache_read"], a["tokens_reasoning"]) == (1920, 192)
        assert a["cost_usd"] == pytest.approx(CHAT_COST)
        assert a["step"] == i
    assert chats[0]["attrs"]["finish_reason"] == "tool_calls" and chats[1]["attrs"]["finish_reason"] == "stop"
    (tool_span,) = find(spans, "tool.multiply")
    assert tool_span["attrs"]["tool"] == "multiply" and tool_span["status"] == "ok"
    (retrieve,) = find(spans, "retrieve.Notes")
    assert retrieve["attrs"]["documents"] == 2
    assert root.spent_usd == pytest.approx(2 * CHAT_COST)

    out = replay(traced, tmp_path)
    lines = out.splitlines()
    assert "question" in lines[0] and "$0.000674" in lines[0], out
    body = "\n".join(lines[1:])
    for needle in ("└─ agent", "retrieve.Notes", "tool.multiply", "chat gpt-4o-mini-2024-07-18  step 0",
                   "chat gpt-4o-mini-2024-07-18  step 1", "2,006→300 tok (1,920 cached, 192 reasoning)", "$0.000337"):
        assert needle in body, (needle, out)
    chat_lines = [line for line in lines if " chat gpt-4o-mini" in line]
    assert len(chat_lines) == 2 and all("tok" in line and "$0.000337" in line for line in chat_lines), out
    assert "│  ├─ tool.multiply" in out or "├─ tool.multiply" in out, out


def test_a_run_outside_any_trace_is_its_own_trace(srv, traced):
    llm = chat_model(srv)
    llm.invoke("hello", config={"callbacks": [MistCallbackHandler()]})
    (chat,) = traced.spans()
    assert "parent_id" not in chat and chat["operation"] == "chat"
    assert chat["attrs"]["cost_usd"] == pytest.approx(CHAT_COST)


def test_tool_and_model_errors_mark_their_spans(srv, traced):
    srv.queue_tool_call("explode", {"a": 1})
    with mist.trace("failing"):
        with pytest.raises(ValueError, match="the tool broke"):
            make_agent(srv, tools=(explode,)).invoke("go", config={"callbacks": [MistCallbackHandler()]})
    spans = traced.spans()
    (boom,) = find(spans, "tool.explode")
    assert boom["status"] == "error" and boom["attrs"]["error_type"] == "ValueError"
    assert find(spans, "agent")[0]["status"] == "error"

    traced.clear()
    srv.fail_next(500, path="/v1/chat/completions")
    with mist.trace("server-error"):
        with pytest.raises(Exception):
            chat_model(srv).invoke("hi", config={"callbacks": [MistCallbackHandler()]})
    (chat,) = find(traced.spans(), "chat")
    assert chat["status"] == "error" and chat["attrs"]["error_type"]  # LangChain re-wraps the SDK's error


def test_budget_stops_the_next_model_call_before_it_is_sent(srv, traced):
    srv.queue_tool_call("multiply", {"a": 6, "b": 7})
    with mist.trace("capped", budget_usd=CHAT_COST / 2):
        with pytest.raises(mist.BudgetExceeded):
            make_agent(srv).invoke("What is 6 times 7?", config={"callbacks": [MistCallbackHandler()]})
    assert srv.count("/v1/chat/completions") == 1
    assert len(find(traced.spans(), "chat")) == 1


def test_async_streaming_run(srv, traced):
    import asyncio

    llm = chat_model(srv, streaming=True, stream_usage=True)

    async def main():
        with mist.trace("async"):
            return await llm.ainvoke("hi", config={"callbacks": [MistCallbackHandler()]})

    msg = asyncio.run(main())
    assert msg.content == srv.text
    (chat,) = find(traced.spans(), "chat")
    a = chat["attrs"]
    assert a["tokens_in"] == 2006 and a["tokens_out"] == 300 and a["cost_usd"] == pytest.approx(CHAT_COST)
    assert a["ttft_ms"] >= 0


def test_content_capture_records_inputs_and_outputs(srv):
    import mist.testing

    srv.queue_tool_call("multiply", {"a": 6, "b": 7})
    with mist.testing.capture(capture_content=True) as cap:
        with mist.trace("captured"):
            make_agent(srv).invoke("What is 6 times 7? key sk-abcdefghijklmnopqrstuvwxyz0123456789",
                                   config={"callbacks": [MistCallbackHandler()]})
        spans = cap.spans()
    (tool_span,) = find(spans, "tool.multiply")
    assert tool_span["attrs"]["input"] == {"a": 6, "b": 7} and tool_span["attrs"]["output"] == "42"
    first = find(spans, "chat")[0]["attrs"]
    assert "6 times 7" in str(first["input"]) and "abcdefghijklmnopqrstuvwxyz" not in str(first["input"])
    assert first["output"]["tool_calls"] == [{"name": "multiply", "args": {"a": 6, "b": 7}}]
    assert find(spans, "agent")[0]["attrs"]["output"] == srv.text


def test_chains_false_keeps_only_models_tools_and_retrievers(srv, traced):
    srv.queue_tool_call("multiply", {"a": 6, "b": 7})
    with mist.trace("lean") as root:
        make_agent(srv).invoke("What is 6 times 7?", config={"callbacks": [MistCallbackHandler(chains=False)]})
    spans = traced.spans()
    assert sorted(s["operation"] for s in spans) == ["chat", "chat", "lean", "retrieve.Notes", "tool.multiply"]
    assert all(s.get("parent_id") == root.span_id for s in spans if s["operation"] != "lean")
