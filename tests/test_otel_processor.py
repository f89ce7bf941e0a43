"""``mist.otel.SpanProcessor``: GenAI spans from real OpenTelemetry instrumentations become mist spans.

The instrumentations are the real packages (``opentelemetry-instrumentation-openai-v2`` around an
``openai.OpenAI`` client, Pydantic AI's own GenAI spans), the model is ``tests/llm_server.py`` on
loopback. Each test skips, saying which package is missing, where one cannot be imported.
"""
from __future__ import annotations

import os
import sys

import pytest

import mist
from conftest import ROOT, read_jsonl, run_python

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed")

import mist.otel  # noqa: E402
from mist.core import hooks  # noqa: E402

TracerProvider = sdk_trace.TracerProvider
# gpt-4o-mini: input 0.15, cached input 0.075, output 0.60 per million (the bundled table)
CHAT_TOKENS_IN, CHAT_TOKENS_OUT, CHAT_CACHED = 2006, 300, 1920


def chat_cost(attrs):
    cached = attrs.get("tokens_cache_read", 0)  # read when the instrumentation reports it
    return ((CHAT_TOKENS_IN - cached) * 0.15 + cached * 0.075 + CHAT_TOKENS_OUT * 0.60) / 1e6


def _import_openai_v2():
    try:
        import openai  # noqa: F401
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    except Exception as exc:  # ImportError, or a mismatched opentelemetry-util-genai
        pytest.skip(f"opentelemetry-instrumentation-openai-v2 (with openai) cannot be imported: {exc!r}")
    return OpenAIInstrumentor


def _import_pydantic_ai():
    try:
        from pydantic_ai import Agent, InstrumentationSettings
        from pydantic_ai.providers.openai import OpenAIProvider
        try:
            from pydantic_ai.models.openai import OpenAIChatModel as Model
        except ImportError:
            from pydantic_ai.models.openai import OpenAIModel as Model
    except Exception as exc:
        pytest.skip(f"pydantic-ai-slim[openai] cannot be imported: {exc!r}")
    return Agent, InstrumentationSettings, OpenAIProvider, Model


@pytest.fixture
def provider():
    tp = TracerProvider()
    tp.add_span_processor(mist.otel.SpanProcessor())
    yield tp
    tp.shutdown()


@pytest.fixture
def openai_client(srv, provider):
    """An ``openai.OpenAI`` client on loopback, instrumented by the real openai-v2 instrumentation
    (which patches the SDK globally: undone afterwards, so other tests see a plain SDK)."""
    OpenAIInstrumentor = _import_openai_v2()
    import openai

    inst = OpenAIInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        yield openai.OpenAI(base_url=srv.openai_url, api_key="sk-test-dummy", max_retries=0)
    finally:
        inst.uninstrument()


def _hex(n, width):
    return format(n, f"0{width}x")


PROMPT = [{"role": "user", "content": "What is 6 times 7?"}]


# ---------------------------------------------------------------- opentelemetry-instrumentation-openai-v2

def test_openai_v2_chat_span_becomes_a_priced_mist_span(traced, srv, provider, openai_client):
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("handle-request") as outer:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT, temperature=0.2)
    spans = {s["operation"]: s for s in traced.spans()}
    chat, root = spans["chat"], spans["handle-request"]
    ctx = outer.get_span_context()
    # same ids as OpenTelemetry's: the trace, the outer span, and the chat span its child
    assert root["trace_id"] == chat["trace_id"] == _hex(ctx.trace_id, 32)
    assert root["span_id"] == _hex(ctx.span_id, 16) and "parent_id" not in root
    assert chat["parent_id"] == root["span_id"]
    a = chat["attrs"]
    assert a["model"] == "gpt-4o-mini-2024-07-18" and a["request_model"] == "gpt-4o-mini"
    assert a["provider"] == "openai"
    assert (a["tokens_in"], a["tokens_out"]) == (CHAT_TOKENS_IN, CHAT_TOKENS_OUT)
    assert a["cost_usd"] == pytest.approx(chat_cost(a), rel=1e-9)
    assert a["finish_reason"] == "stop" and a["temperature"] == 0.2
    assert chat["status"] == "ok" and chat["start_ns"] < chat["end_ns"]
    assert "cost_usd" not in root.get("attrs", {})


def test_openai_v2_embeddings_and_errors(traced, srv, provider, openai_client):
    import openai

    openai_client.embeddings.create(model="text-embedding-3-small", input="hello")
    srv.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
    emb = traced.spans("embeddings")[0]
    assert emb["attrs"]["tokens_in"] == 8 and emb["attrs"]["cost_usd"] == pytest.approx(8 * 0.02 / 1e6)
    err = traced.spans("chat")[0]
    assert err["status"] == "error"
    assert err["attrs"]["error_type"] == "InternalServerError"
    assert "500" in err["attrs"]["error"]
    assert "cost_usd" not in err["attrs"]


def test_openai_v2_calls_inside_a_mist_trace_share_its_tree_and_budget(traced, srv, provider, openai_client):
    budget = 2.5 * chat_cost({})  # two calls fit, the third starts over budget
    with mist.trace("agent-run", budget_usd=budget) as run:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
        sent = len(srv.requests)
        with pytest.raises(mist.BudgetExceeded):
            openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
        assert len(srv.requests) == sent  # stopped before the request left the process
    chats = traced.spans("chat")
    assert len(chats) == 3
    assert {c["trace_id"] for c in chats} == {run.trace_id}
    assert {c["parent_id"] for c in chats} == {run.span_id}
    assert run.spent_usd == pytest.approx(sum(c["attrs"]["cost_usd"] for c in chats))
    assert [a["level"] for a in traced.alerts() if a["metric"] == "budget"] == ["warning", "critical"]


def test_spans_reach_the_alert_observers(traced, srv, provider, openai_client):
    seen = []

    class Observer:
        def on_end(self, payload):
            seen.append(payload)

    obs = hooks.add_observer(Observer())
    try:
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)
        mist.flush()
        hooks.drain()
    finally:
        hooks.remove_observer(obs)
    chat = traced.spans("chat")[0]
    mine = [p for p in seen if p.get("span_id") == chat["span_id"]]
    assert mine and mine[0]["operation"] == "chat"


# ---------------------------------------------------------------- Pydantic AI (its own GenAI spans)

@pytest.fixture
def pydantic_agent(srv, provider):
    Agent, InstrumentationSettings, OpenAIProvider, Model = _import_pydantic_ai()
    Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))
    try:
        model = Model("gpt-4o-mini", provider=OpenAIProvider(base_url=srv.openai_url, api_key="sk-test-dummy"))
        yield Agent(model, name="helper")
    finally:
        Agent.instrument_all(False)


def test_pydantic_ai_agent_run(traced, srv, provider, pydantic_agent):
    result = pydantic_agent.run_sync("What is 6 times 7?")
    assert "42" in result.output
    spans = traced.spans()
    chats = [s for s in spans if s["operation"] == "chat"]
    agents = [s for s in spans if s["attrs"].get("agent") == "helper" and s["operation"] != "chat"]
    assert len(chats) == 1 and len(agents) == 1
    chat, agent = chats[0], agents[0]
    assert chat["parent_id"] == agent["span_id"] and chat["trace_id"] == agent["trace_id"]
    assert "parent_id" not in agent
    a = chat["attrs"]
    assert a["model"] == "gpt-4o-mini-2024-07-18" and a["provider"] == "openai"
    assert (a["tokens_in"], a["tokens_out"]) == (CHAT_TOKENS_IN, CHAT_TOKENS_OUT)
    assert a.get("tokens_cache_read") == CHAT_CACHED  # Pydantic AI reports cached input
    assert a["cost_usd"] == pytest.approx(chat_cost(a), rel=1e-9)
    # the agent span's aggregated usage is not counted a second time
    assert "tokens_in" not in agent["attrs"] and "cost_usd" not in agent["attrs"]
    # content stays out unless mist's capture_content is on (Pydantic AI records it by default)
    assert "input" not in a and "output" not in a


def test_pydantic_ai_inside_a_mist_trace_counts_against_its_budget(traced, srv, provider, pydantic_agent):
    with mist.trace("support-ticket", budget_usd=1.0) as run:
        pydantic_agent.run_sync("What is 6 times 7?")
    chat = traced.spans("chat")[0]
    assert chat["trace_id"] == run.trace_id
    assert run.spent_usd == pytest.approx(chat["attrs"]["cost_usd"])


# ---------------------------------------------------------------- options and the contract

def test_genai_only_reattaches_to_the_nearest_kept_ancestor(traced):
    tp = TracerProvider()
    tp.add_span_processor(mist.otel.SpanProcessor(genai_only=True))
    tracer = tp.get_tracer("app")
    with tracer.start_as_current_span("invoke_agent helper", attributes={"gen_ai.operation.name": "invoke_agent",
                                                                         "gen_ai.agent.name": "helper"}) as agent:
        with tracer.start_as_current_span("http-middleware"):
            with tracer.start_as_current_span("chat gpt-4o", attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 100}):
                pass
    spans = traced.spans()
    assert [s["operation"] for s in spans] == ["chat", "invoke_agent helper"]
    chat = spans[0]
    assert chat["parent_id"] == _hex(agent.get_span_context().span_id, 16)
    assert chat["attrs"]["tokens_in"] == 1000 and chat["attrs"]["provider"] == "openai"  # the older names
    assert chat["attrs"]["cost_usd"] == pytest.approx((1000 * 2.5 + 100 * 10.0) / 1e6)
    tp.shutdown()


def test_unknown_model_is_unpriced_not_zero(traced):
    tp = TracerProvider()
    tp.add_span_processor(mist.otel.SpanProcessor())
    with tp.get_tracer("app").start_as_current_span("chat x", attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "acme", "gen_ai.request.model": "acme-9000",
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}):
        pass
    a = traced.spans("chat")[0]["attrs"]
    assert a["unpriced"] is True and "cost_usd" not in a
    tp.shutdown()


def test_import_mist_does_not_load_mist_otel():
    out = run_python("import sys, mist; print('mist.otel' in sys.modules, 'opentelemetry' in sys.modules)",
                     env={"MIST_SINK": "null://"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- a written file, read by the CLI

SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import mist, mist.otel
from llm_server import LLMServer
from opentelemetry.sdk.trace import TracerProvider
tp = TracerProvider()
tp.add_span_processor(mist.otel.SpanProcessor())
with LLMServer() as srv:
{body}
tp.shutdown()
mist.shutdown()
"""

OPENAI_BODY = """
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    client = openai.OpenAI(base_url=srv.openai_url, api_key="sk-test-dummy", max_retries=0)
    with mist.trace("answer-question"):
        for _ in range(2):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
"""

PYDANTIC_BODY = """
    from pydantic_ai import Agent, InstrumentationSettings
    from pydantic_ai.providers.openai import OpenAIProvider
    try:
        from pydantic_ai.models.openai import OpenAIChatModel as Model
    except ImportError:
        from pydantic_ai.models.openai import OpenAIModel as Model
    Agent.instrument_all(InstrumentationSettings(tracer_provider=tp))
    agent = Agent(Model("gpt-4o-mini", provider=OpenAIProvider(base_url=srv.openai_url, api_key="x")), name="helper")
    agent.run_sync("What is 6 times 7?")
"""


def _run_to_file(tmp_path, body):
    path = tmp_path / "otel.jsonl"
    code = SCRIPT.format(tests=str(ROOT / "tests"), body=body)
    out = run_python(code, env={"MIST_SINK": f"file://{path}", "MIST_SOURCE": "otel-test"}, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    return path, [m["payload"] for m in read_jsonl(path) if m["type"] == "trace.span"]


def _cli(*args):
    import subprocess

    return subprocess.run([sys.executable, "-m", "mist", *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def test_openai_v2_run_written_to_a_file_replays(tmp_path):
    _import_openai_v2()
    path, spans = _run_to_file(tmp_path, OPENAI_BODY)
    chats = [s for s in spans if s["operation"] == "chat"]
    root = [s for s in spans if s["operation"] == "answer-question"][0]
    assert len(chats) == 2 and all(c["parent_id"] == root["span_id"] for c in chats)
    replay = _cli("replay", str(path))
    assert replay.returncode == 0, replay.stderr
    lines = replay.stdout.splitlines()
    assert "answer-question" in lines[0] and "3 spans" in lines[0]
    chat_lines = [ln for ln in lines if "chat gpt-4o-mini-2024-07-18" in ln]
    assert len(chat_lines) == 2 and all("2,006→300 tok" in ln and "$0.000" in ln for ln in chat_lines)
    assert all("─" in ln for ln in chat_lines)  # drawn under the root
    report = _cli("report", str(path), "--by", "model", "--format", "json")
    assert report.returncode == 0, report.stderr
    assert "gpt-4o-mini-2024-07-18" in report.stdout


def test_pydantic_ai_run_written_to_a_file_replays(tmp_path):
    _import_pydantic_ai()
    path, spans = _run_to_file(tmp_path, PYDANTIC_BODY)
    chat = [s for s in spans if s["operation"] == "chat"][0]
    agent = [s for s in spans if s["span_id"] == chat["parent_id"]][0]
    assert agent["attrs"]["agent"] == "helper"
    replay = _cli("replay", str(path))
    assert replay.returncode == 0, replay.stderr
    lines = replay.stdout.splitlines()
    assert agent["operation"] in lines[0] and "2 spans" in lines[0]
    chat_line = [ln for ln in lines if "chat gpt-4o-mini-2024-07-18" in ln][0]
    assert "2,006→300 tok" in chat_line and "└─" in chat_line
    view = _cli("view", str(path), "-o", str(tmp_path / "v.html"))
    assert view.returncode == 0, view.stderr
