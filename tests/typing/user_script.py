"""A user's script over the whole public API, written the way users write it, with their types.

Type-checked by tests/test_typing.py (``mypy --strict`` and pyright in strict mode: no error, no
``Any`` reaching the user's variables), never run against a network: everything that would call a
model is inside functions that only ``main()`` calls, under ``if __name__ == "__main__"``.

Annotated assignments (``x: int = my_step(1)``) are the assertions: a wrong type from mist (a
``Span`` where a ``Trace`` is due, a coroutine typed as its result) fails the check. An ``Any``
would pass an assignment, so ``assert_type`` pins the results a user keeps (``Any`` fails it), and
tests/typing/negative.py checks that wrong uses are rejected.
"""
from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, Coroutine, Dict, Iterator, List, Optional

import anthropic
import openai
from anthropic.types import Message
from openai.types.chat import ChatCompletion
from typing_extensions import assert_type  # typing.assert_type is 3.11+

import mist
import mist.testing
from mist.sinks.base import Sink
from mist.tracing import disabled


# ---- configuration ---------------------------------------------------------------------------
class CountingSink(Sink):
    """A user's own sink: mist's writer thread hands it batches of JSONL bytes."""

    def __init__(self) -> None:
        self.url = "counting://"
        self.lines = 0

    def write(self, batch: bytes) -> None:
        self.lines += batch.count(b"\n")

    def stats(self) -> Dict[str, int]:
        return {"lines": self.lines}


def setup(path: str) -> None:
    mist.configure(f"file://{path}", source="typing-check", capture_content=False, alerts=True, sample=1.0)
    mist.configure(["memory://", f"file://{path}"], redact=[r"sk-[A-Za-z0-9]+", re.compile("secret"), str.upper],
                   alert_floors={"latency_ms": 0.3}, prices={"my-model": {"input": 1.0, "output": 2.0}},
                   batch_bytes=1 << 16, flush_interval=0.5, max_buffer_bytes=1 << 20)
    sinks: List[str] = ["memory://"]
    mist.configure(sinks, redact="sk-[a-z]+", alert_floors="latency_ms=0.3")
    mist.configure([CountingSink(), "memory://"])
    backend: str = mist.backend
    assert backend in ("native", "python")


# ---- traces and spans ------------------------------------------------------------------------
def traced_run() -> float:
    with mist.trace("answer-question", budget_usd=0.25, user="u1") as t:
        assert_type(t, mist.Trace)
        trace_obj: mist.Trace = t
        spent: float = t.spent_usd
        budget: Optional[float] = t.budget_usd
        trace_id: str = t.trace_id
        with mist.span("chat", model="gpt-4o-mini", provider="openai") as s:
            assert_type(s, mist.Span)
            span_obj: mist.Span = s
            s.usage(tokens_in=812, tokens_out=64, cache_read=0).set(temperature=0.2).score("helpfulness", 0.9)
            s.record({"model": "gpt-4o-mini", "usage": {"prompt_tokens": 3, "completion_tokens": 1}})
            cost: Optional[float] = s.cost_usd
            attrs: Dict[str, Any] = s.attrs
            parent: Optional[str] = s.parent_id
            header: str = s.traceparent
            del span_obj, cost, attrs, parent, header
        chained: mist.Trace = t.set(tag="x").usage(tokens_in=1)  # chaining keeps the Trace type
        assert_type(t.score("q", 1.0), mist.Trace)
        assert_type(t.spent_usd, float)
        assert_type(t.budget_usd, Optional[float])
        del trace_obj, chained, budget, trace_id
        return spent + t.spent_usd


def returns_from_inside_a_with() -> int:
    # __exit__ never swallows an exception: the checker knows this function always returns
    with mist.span("lookup"):
        return 42


def span_without_with() -> str:
    s = mist.span("manual", model="gpt-4o")
    try:
        s.error("went wrong")
        s.error(ValueError("boom"))
    finally:
        s.end()
    status: str = s.status
    return status


async def async_spans() -> str:
    async with mist.trace("async-run") as t:
        async with mist.span("tool") as s:
            op: str = s.operation
        spent: float = t.spent_usd
        return op + str(spent)


# ---- @mist.step keeps signatures -------------------------------------------------------------
@mist.step
def tokenize(text: str, *, lower: bool = False) -> List[str]:
    return (text.lower() if lower else text).split()


@mist.step("plan")
def plan(goal: str, steps: int = 3) -> Dict[str, int]:
    return {goal: steps}


@mist.step()
def no_name(x: int) -> int:
    return x + 1


@mist.step("fetch")
async def fetch(url: str, retries: int = 2) -> bytes:
    await asyncio.sleep(0)
    return url.encode() * retries


@mist.step
async def afetch(url: str) -> str:
    return url


@mist.step
def numbers(n: int) -> Iterator[int]:
    yield from range(n)


@mist.step("stream")
async def stream_words(text: str) -> AsyncIterator[str]:
    for w in text.split():
        yield w


class Agent:
    def __init__(self, name: str) -> None:
        self.name = name

    @mist.step("agent.act")
    def act(self, observation: str) -> str:
        return f"{self.name}: {observation}"

    @mist.step
    async def think(self, topic: str) -> int:
        return len(topic)


def use_steps() -> None:
    words: List[str] = tokenize("Hello World", lower=True)
    planned: Dict[str, int] = plan("ship", steps=2)
    n: int = no_name(1)
    total: int = sum(numbers(5))
    acted: str = Agent("a").act("rain")
    coro: Coroutine[Any, Any, bytes] = fetch("https://example.com")
    coro.close()
    fn: Callable[[str], List[str]] = tokenize
    assert_type(tokenize("x"), List[str])
    assert_type(plan("x"), Dict[str, int])
    assert_type(numbers(2), Iterator[int])
    assert_type(stream_words("a"), AsyncIterator[str])
    assert_type(Agent("c").act("o"), str)
    del words, planned, n, total, acted, fn


async def use_async_steps() -> int:
    body: bytes = await fetch("https://example.com", retries=1)
    text: str = await afetch("u")
    words: List[str] = [w async for w in stream_words("a b c")]
    thought: int = await Agent("b").think("topic")
    assert_type(await fetch("u"), bytes)
    return len(body) + len(text) + len(words) + thought


# ---- context: current span, traceparent, threads ---------------------------------------------
def work(item: int, scale: float = 1.0) -> float:
    current: Optional[mist.Span] = mist.current_span()
    assert_type(current, Optional[mist.Span])
    if current is not None:
        current.set(item=item)
    return item * scale


def threads() -> List[float]:
    with mist.trace("fan-out"):
        header: str = mist.traceparent()
        wrapped: Callable[[int, float], float] = mist.wrap(work)
        assert_type(mist.wrap(work)(1), float)
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(mist.wrap(work), i, 2.0) for i in range(4)]
            results: List[float] = [f.result() for f in futures]
            mapped: List[float] = list(pool.map(mist.wrap(work), [1, 2, 3]))
        with mist.trace("continued", traceparent=header) as child:
            child_id: str = child.trace_id
            del child_id
        del wrapped
        return results + mapped


# ---- scores, alerts, raw spans ---------------------------------------------------------------
@mist.on_alert
def page_oncall(alert: Dict[str, Any]) -> None:
    level: str = alert["level"]
    print(level, alert.get("message"))


def log_alert(alert: Dict[str, Any]) -> bool:
    return bool(alert)


def scores_and_alerts() -> str:
    registered: Callable[[Dict[str, Any]], bool] = mist.on_alert(log_alert)
    assert_type(mist.on_alert(log_alert)({}), bool)
    del registered
    with mist.span("answer") as s:
        mist.score("faithfulness", 0.8)
    mist.score("faithfulness", 0.7, span=s)
    span_id: str = mist.emit_span("external", 1_000, 2_000, model="gpt-4o-mini", tokens_in=10, tokens_out=2,
                                  cost_usd=0.001, attrs={"source": "batch"})
    assert_type(mist.emit_span("e", 1, 2), str)
    return span_id


def budget_guard() -> Optional[float]:
    try:
        with mist.trace("capped", budget_usd=0.01):
            with mist.span("chat"):
                pass
    except mist.BudgetExceeded as exc:
        spent: float = exc.spent
        over: float = exc.budget
        return spent - over
    except mist.ConfigError as exc:
        message: str = str(exc)
        print(message)
    return None


# ---- provider clients keep their types -------------------------------------------------------
def openai_call(client: openai.OpenAI) -> str:
    traced: openai.OpenAI = mist.instrument(client)
    assert_type(mist.instrument(client), openai.OpenAI)
    assert_type(mist.uninstrument(client), openai.OpenAI)
    done: ChatCompletion = traced.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    was: bool = mist.is_instrumented(traced)
    plain: openai.OpenAI = mist.uninstrument(traced)
    del was, plain
    return done.choices[0].message.content or ""


def anthropic_call(client: anthropic.Anthropic) -> str:
    traced: anthropic.Anthropic = mist.instrument(client, include_usage=False)
    assert_type(traced, anthropic.Anthropic)
    msg: Message = traced.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    return msg.model


async def async_openai_call(client: openai.AsyncOpenAI) -> Optional[str]:
    traced: openai.AsyncOpenAI = mist.instrument(client)
    assert_type(traced, openai.AsyncOpenAI)
    done: ChatCompletion = await traced.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    return done.choices[0].message.content


# ---- files, stats, shutdown ------------------------------------------------------------------
def read_back(path: str) -> int:
    n = 0
    for envelope in mist.read(path, errors="skip"):
        assert_type(envelope, Dict[str, Any])
        problems: List[str] = mist.validate(envelope)
        kind: str = envelope["type"]
        n += len(problems) + len(kind)
    mist.validate('{"type": "trace.span"}')
    mist.validate(b'{"type": "trace.span"}')
    return n


def finish() -> Dict[str, Any]:
    flushed: bool = mist.flush()
    flushed = mist.flush(timeout=2.0)
    counters: Dict[str, Any] = mist.stats()
    assert_type(counters, Dict[str, Any])
    assert_type(mist.flush(), bool)
    mist.shutdown(timeout=1.0)
    del flushed
    return counters


# ---- a user's own test ---------------------------------------------------------------------
def test_agent_spans() -> None:
    with mist.testing.capture(alerts=False) as traced:
        with mist.trace("agent"):
            use_steps()
        assert_type(traced, mist.testing.Captured)
        captured: mist.testing.Captured = traced
        spans: List[Dict[str, Any]] = traced.spans(operation="plan")
        assert spans[0]["operation"] == "plan"
        alerts: List[Dict[str, Any]] = traced.alerts()
        lines: List[bytes] = traced.lines()
        everything: List[Dict[str, Any]] = traced.messages("trace.span")
        traced.clear()
        del captured, alerts, lines, everything


# ---- MIST_DISABLED=1: the no-op twins have the real objects' types ------------------------------
def disabled_mode_types() -> float:
    # what mist/__init__ imports instead under MIST_DISABLED=1 (users get it as mist.trace, ...)
    with disabled.trace("run", budget_usd=1.0) as t:
        assert_type(t, mist.Trace)
        with disabled.span("chat", model="m") as s:
            assert_type(s, mist.Span)
            s.usage(tokens_in=1).score("q", 1.0)
        assert_type(disabled.wrap(work)(1, 2.0), float)
        sid: str = disabled.emit_span("op", 1, 2, span_id="ab" * 8)
        del sid
        return t.spent_usd


def main() -> None:
    setup("/tmp/mist-typing.jsonl")
    traced_run()
    use_steps()
    asyncio.run(use_async_steps())
    asyncio.run(async_spans())
    threads()
    scores_and_alerts()
    budget_guard()
    openai_call(openai.OpenAI())
    anthropic_call(anthropic.Anthropic())
    asyncio.run(async_openai_call(openai.AsyncOpenAI()))
    read_back("/tmp/mist-typing.jsonl")
    test_agent_spans()
    finish()


if __name__ == "__main__":
    main()
