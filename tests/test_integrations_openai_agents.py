"""``mist.integrations.openai_agents.MistTracingProcessor`` with the real OpenAI Agents SDK: a triage
agent hands off to a math agent that calls a tool, its models talking to the loopback server (the
Responses API, and Chat Completions), replayed with ``mist replay``. The SDK's default export to
OpenAI is replaced (``set_trace_processors``), so nothing leaves the machine."""
from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("agents", reason="openai-agents is not installed (pip install -e '.[peers]')")

import openai  # noqa: E402
from agents import (  # noqa: E402
    Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool, set_trace_processors,
)

import mist  # noqa: E402
from integration_helpers import children, find, replay  # noqa: E402
from mist.integrations.openai_agents import MistTracingProcessor  # noqa: E402

# gpt-4o-mini: input 0.15, cached input 0.075, output 0.60 USD per million tokens
CHAT_COST = ((2006 - 1920) * 0.15 + 1920 * 0.075 + 300 * 0.60) / 1e6
RESPONSES_COST = ((1500 - 1024) * 0.15 + 1024 * 0.075 + 420 * 0.60) / 1e6


@pytest.fixture(scope="module", autouse=True)
def processor():
    proc = MistTracingProcessor()
    set_trace_processors([proc])  # replaces the default exporter to OpenAI's backend
    yield proc
    set_trace_processors([])


@function_tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


@function_tool
def explode(a: int) -> int:
    """Always fails."""
    raise ValueError("the tool broke")


def client(srv):
    return openai.AsyncOpenAI(base_url=srv.openai_url, api_key="sk-test-dummy", max_retries=0)


def agents(srv, api: str, tools=(multiply,)):
    make = OpenAIResponsesModel if api == "responses" else OpenAIChatCompletionsModel
    model = make(model="gpt-4o-mini", openai_client=client(srv))
    math = Agent(name="math", instructions="Compute with the tools.", tools=list(tools), model=model)
    triage = Agent(name="triage", instructions="Hand math questions to the math agent.", handoffs=[math], model=model)
    return triage


def run(srv, api: str, tools=(multiply,), name="question", **trace_attrs):
    srv.queue_tool_call("transfer_to_math", {})
    srv.queue_tool_call(tools[0].name, {"a": 6, "b": 7})

    async def main():
        with mist.trace(name, **trace_attrs) as root:
            result = await Runner.run(agents(srv, api, tools), "What is 6 times 7?")
        return root, result

    return asyncio.run(main())


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_agent_run_is_a_tree_of_agents_handoff_tools_and_priced_llm_calls(srv, traced, tmp_path, api):
    root, result = run(srv, api)
    assert result.final_output == srv.text
    spans = traced.spans()
    assert all(s["trace_id"] == root.trace_id for s in spans)
    (workflow,) = [s for s in spans if s.get("parent_id") == root.span_id]
    assert workflow["operation"] == "Agent workflow"
    llm_op = "responses" if api == "responses" else "chat"
    llms = find(spans, llm_op)
    assert len(llms) == 3, [s["operation"] for s in spans]
    cost = RESPONSES_COST if api == "responses" else CHAT_COST
    for i, s in enumerate(sorted(llms, key=lambda s: s["start_ns"])):
        a = s["attrs"]
        assert a["step"] == i
        assert a["model"].startswith("gpt-4o-mini")
        assert a["tokens_in"] == (1500 if api == "responses" else 2006)
        assert a["tokens_out"] == (420 if api == "responses" else 300)
        assert a["cost_usd"] == pytest.approx(cost)
    if api == "responses":
        assert llms[0]["attrs"]["model"] == "gpt-4o-mini-2024-07-18" and llms[0]["attrs"]["provider"] == "openai"
    (triage,) = find(spans, "agent.triage")
    (math,) = find(spans, "agent.math")
    assert triage["parent_id"] == workflow["span_id"] and math["parent_id"] == workflow["span_id"]
    assert triage["attrs"]["handoffs"] == ["math"] and math["attrs"]["tools"] == ["multiply"]
    (handoff,) = find(spans, "handoff")
    assert triage["span_id"] in ancestors(spans, handoff)
    assert (handoff["attrs"]["from_agent"], handoff["attrs"]["to_agent"]) == ("triage", "math")
    (tool_span,) = find(spans, "tool.multiply")
    assert math["span_id"] in ancestors(spans, tool_span) and tool_span["attrs"]["tool"] == "multiply"
    under_math = sorted((s for s in spans if math["span_id"] in ancestors(spans, s) and s["operation"] != "turn"),
                        key=lambda s: s["start_ns"])
    assert [s["operation"] for s in under_math] == [llm_op, "tool.multiply", llm_op]
    assert [s["operation"] for s in children(spans, workflow)] == ["agent.triage", "agent.math"]
    assert root.spent_usd == pytest.approx(3 * cost)

    out = replay(traced, tmp_path)
    lines = out.splitlines()
    assert "question" in lines[0], out
    for needle in ("Agent workflow", "agent.triage", "handoff", "agent.math", "tool.multiply"):
        assert needle in out, (needle, out)
    llm_lines = [line for line in lines if f" {llm_op} gpt-4o-mini" in line]
    assert len(llm_lines) == 3, out
    per_call = f"${cost:.6f}".rstrip("0")
    for i, line in enumerate(llm_lines):
        assert f"step {i}" in line and " tok" in line and per_call in line, (line, out)


def ancestors(spans, span):
    by_id = {s["span_id"]: s for s in spans}
    out, pid = [], span.get("parent_id")
    while pid in by_id and pid not in out:
        out.append(pid)
        pid = by_id[pid].get("parent_id")
    return out


def test_a_run_outside_any_trace_is_its_own_trace(srv, traced):
    srv.queue_tool_call("multiply", {"a": 6, "b": 7})
    agent = Agent(name="math", tools=[multiply], model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client(srv)))
    asyncio.run(Runner.run(agent, "What is 6 times 7?"))
    spans = traced.spans()
    roots = [s for s in spans if "parent_id" not in s]
    assert [s["operation"] for s in roots] == ["Agent workflow"]
    assert len({s["trace_id"] for s in spans}) == 1
    assert sum(s["attrs"].get("cost_usd", 0) for s in spans) == pytest.approx(2 * RESPONSES_COST)


def test_a_failing_tool_marks_its_span(srv, traced):
    root, result = run(srv, "responses", tools=(explode,), name="failing")
    (boom,) = find(traced.spans(), "tool.explode")
    assert boom["status"] == "error" and "error" in boom["attrs"]


def test_content_capture_records_tool_arguments_and_results(srv):
    import mist.testing

    with mist.testing.capture(capture_content=True) as cap:
        run(srv, "chat", name="captured")
        spans = cap.spans()
    (tool_span,) = find(spans, "tool.multiply")
    assert "6" in str(tool_span["attrs"]["input"]) and str(tool_span["attrs"]["output"]) == "42"
    first = min(find(spans, "chat"), key=lambda s: s["start_ns"])
    assert "6 times 7" in str(first["attrs"]["input"])
