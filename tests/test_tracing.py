"""The tracing API: spans, context propagation, errors, steps, trace context, budgets."""
import asyncio
import contextvars
import threading

import pytest

import mist


def test_nested_spans_have_the_right_parents(traced):
    with mist.trace("run") as root:
        with mist.span("plan") as a:
            with mist.span("chat", model="gpt-4o-mini") as b:
                b.usage(tokens_in=10, tokens_out=2)
        mist.emit_span("tool", 1, 2)
    spans = {s["operation"]: s for s in traced.spans()}
    assert "parent_id" not in spans["run"]
    assert spans["plan"]["parent_id"] == root.span_id
    assert spans["chat"]["parent_id"] == a.span_id
    assert spans["tool"]["parent_id"] == root.span_id  # emit_span joins the current span
    assert {s["trace_id"] for s in spans.values()} == {root.trace_id}
    assert spans["chat"]["attrs"]["tokens_in"] == 10 and b.span_id == spans["chat"]["span_id"]


def test_exception_marks_error_and_reraises_unchanged(traced):
    err = KeyError("missing")
    with pytest.raises(KeyError) as info:
        with mist.span("lookup"):
            raise err
    assert info.value is err
    (s,) = traced.spans()
    assert s["status"] == "error" and s["attrs"]["error_type"] == "KeyError" and "missing" in s["attrs"]["error"]


def test_threads_with_copied_context_and_asyncio_tasks(traced):
    with mist.trace("run") as root:
        ctx = contextvars.copy_context()
        t = threading.Thread(target=ctx.run, args=(lambda: mist.span("in-thread").__enter__().end(),))
        t.start()
        t.join()

        async def child(i):
            with mist.span(f"task-{i}"):
                await asyncio.sleep(0)
                with mist.span(f"inner-{i}"):
                    await asyncio.sleep(0)

        async def main():
            await asyncio.gather(*(child(i) for i in range(50)))

        asyncio.run(main())
    spans = {s["operation"]: s for s in traced.spans()}
    assert spans["in-thread"]["parent_id"] == root.span_id
    for i in range(50):
        assert spans[f"task-{i}"]["parent_id"] == root.span_id
        assert spans[f"inner-{i}"]["parent_id"] == spans[f"task-{i}"]["span_id"]


def test_step_decorator_sync_async_and_generators(traced):
    @mist.step
    def plan(x):
        return x + 1

    @mist.step("fetch")
    async def fetch():
        return mist.current_span().attrs.get("step")

    @mist.step("stream")
    def stream():
        yield mist.current_span().operation
        yield 2

    @mist.step("astream")
    async def astream():
        yield 1
        yield mist.current_span().operation

    async def consume():
        return [x async for x in astream()]

    with mist.trace("run") as root:
        assert plan(1) == 2
        assert asyncio.run(fetch()) == 1
        assert list(stream()) == ["stream", 2]
        assert mist.current_span() is root
        assert asyncio.run(consume()) == [1, "astream"]
    spans = {s["operation"]: s for s in traced.spans()}
    assert spans["test_step_decorator_sync_async_and_generators.<locals>.plan"]["attrs"]["step"] == 0
    assert spans["fetch"]["attrs"]["step"] == 1 and spans["stream"]["attrs"]["step"] == 2
    assert all(spans[n]["parent_id"] == root.span_id for n in ("fetch", "stream", "astream"))


def test_traceparent_out_and_in(traced):
    with mist.span("outer") as s:
        tp = mist.traceparent()
    assert tp == f"00-{s.trace_id}-{s.span_id}-01" and mist.traceparent() == ""
    with mist.trace("continued", traceparent=tp) as t:
        pass
    assert t.trace_id == s.trace_id and t.parent_id == s.span_id
    with mist.trace("bad header", traceparent="00-XYZ") as t2:
        pass
    assert len(t2.trace_id) == 32 and t2.parent_id is None


def test_scores_and_late_scores(traced):
    with mist.span("answer") as s:
        s.score("faithfulness", 0.9)
    mist.score("helpfulness", 0.4, span=s)
    (span,) = traced.spans()
    assert span["attrs"]["score.faithfulness"] == 0.9
    (ev,) = [m["payload"] for m in traced.messages("eval.result")]
    assert ev["span_id"] == s.span_id and ev["name"] == "helpfulness" and ev["passed"] is False


def test_emit_span_returns_ids_and_writes_kwargs(traced):
    sid = mist.emit_span("chat", 10, 20, trace_id="a" * 32, model="m", provider="p", tokens_in=1,
                         tokens_out=2, cost_usd=0.5, attrs={"z": 1, "model": "ignored"}, status="error")
    (s,) = traced.spans()
    assert s["span_id"] == sid and len(sid) == 16 and s["status"] == "error"
    assert s["attrs"] == {"cost_usd": 0.5, "model": "m", "provider": "p", "tokens_in": 1, "tokens_out": 2, "z": 1}


def test_bad_values_never_raise_and_stay_under_the_message_limit(traced):
    import math

    class Odd:
        def __str__(self):
            raise ValueError

    nested = {}
    cur = nested
    for _ in range(5000):
        cur["x"] = {}
        cur = cur["x"]
    big = ["y" * 60000] * 400  # ~24 MB of text
    for attrs in ({"nan": math.nan, "inf": math.inf, "o": Odd(), "b": b"\x00\xff", "s": "\ud800"},
                  {"deep": nested}, {"big": big}, {"huge": "z" * 10_000_000}):
        mist.emit_span("bad", 1, 2, attrs=attrs)
        with mist.span("bad2", **attrs):
            pass
    lines = traced.lines()
    assert len(lines) == 8
    for line in lines:
        assert len(line) <= 10 * 1024 * 1024
        mist.codec.decode(line)
    assert b"attrs dropped" in b"".join(lines)
    assert mist.stats()["bad_values"]


def test_budget_stops_the_first_step_past_it(traced):
    with pytest.raises(mist.BudgetExceeded) as info:
        with mist.trace("agent", budget_usd=0.01) as t:
            for i in range(10):
                with mist.span("chat", model="gpt-4o") as s:
                    s.set(cost_usd=0.004)
    assert info.value.trace_id == t.trace_id and info.value.spent == pytest.approx(0.012)
    assert len(traced.spans("chat")) == 3
    levels = [a["level"] for a in traced.alerts() if a["metric"] == "budget"]
    assert levels == ["warning", "critical"]


def test_disabled_is_a_no_op():
    from conftest import run_python

    r = run_python("import mist\nwith mist.trace('x') as t:\n    t.set(a=1)\nprint(repr(mist.emit_span('a',1,2)))\nprint(mist.flush())",
                   env={"MIST_DISABLED": "1", "MIST_SINK": "file://should-not-exist.jsonl"})
    assert r.returncode == 0 and r.stdout.split() == ["''", "True"], r.stderr


def test_disabled_objects_have_the_real_ones_api():
    """Code written against mist.trace / mist.span runs unchanged with MIST_DISABLED=1: the no-op
    objects have every public attribute and method of Trace and Span, and the same calls work."""
    from mist.tracing import disabled

    noop = disabled.trace("x")
    for real in (mist.Trace, mist.Span):
        public = {n for n in dir(real) if not n.startswith("_")}
        missing = sorted(n for n in public if not hasattr(noop, n))
        assert missing == [], f"{real.__name__} has, the disabled object lacks: {missing}"
        for name in public:
            assert callable(getattr(real, name)) == callable(getattr(noop, name)), name
    with disabled.trace("run", budget_usd=1.0) as t:
        with disabled.span("chat", model="m") as s:
            s.usage(tokens_in=1, tokens_out=2, cache_read=0, cache_write=0, reasoning=0).score("q", 1.0)
            s.record({"usage": {}}).set(a=1).error("boom")
        assert t.spent_usd == 0.0 and s.cost_usd is None and t.traceparent == ""
        s.end()


def test_disabled_api_in_a_process():
    from conftest import run_python

    code = ("import asyncio, mist\n"
            "with mist.trace('x', budget_usd=1) as t:\n"
            "    with mist.span('chat') as s:\n        s.usage(tokens_in=3).score('q', .5)\n"
            "    print(t.spent_usd, s.cost_usd, s.attrs, t.trace_id == '0' * 32)\n"
            "async def main():\n    async with mist.span('a') as s:\n        return s.operation\n"
            "print(repr(asyncio.run(main())))")
    r = run_python(code, env={"MIST_DISABLED": "1", "MIST_SINK": "null://"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["0.0 None {} True", "''"]


def test_configure_errors_name_the_option():
    for kwargs, needle in [({"sink": "ftp://x"}, "ftp"), ({"sink": "file://"}, "file://"), ({"sample": 2}, "sample"),
                           ({"batch_bytes": 0}, "batch_bytes"), ({"flush_interval": -1}, "flush_interval"),
                           ({"redact": ["("]}, "redact")]:
        with pytest.raises(mist.ConfigError) as info:
            mist.configure(**kwargs)
        assert needle in str(info.value) and "\n" not in str(info.value)


def test_switching_writers_does_not_stall_flush(tmp_path):
    import time

    import mist.testing

    mist.configure(f"file://{tmp_path}/a.jsonl")
    with mist.testing.capture():
        mist.emit_span("in-memory", 1, 2)
    mist.emit_span("to-file", 1, 2)
    t = time.monotonic()
    mist.configure(f"file://{tmp_path}/b.jsonl")
    assert mist.flush(5) and time.monotonic() - t < 1.5
    assert (tmp_path / "a.jsonl").read_bytes().count(b"to-file") == 1
    mist.configure("memory://")
