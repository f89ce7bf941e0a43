"""One request, one trace: mist spans and OpenTelemetry spans (the real SDK) share one W3C context,
and ``mist.wrap`` carries the context (trace, parent, budget, OpenTelemetry's span) into threads."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import mist
from conftest import run_python

otel_trace = pytest.importorskip("opentelemetry.trace")
pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


@pytest.fixture
def otel():
    """A real SDK tracer whose finished spans are kept in memory (not installed globally)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def ids(otel_span):
    c = otel_span.get_span_context()
    return "%032x" % c.trace_id, "%016x" % c.span_id


def header(otel_span):
    """The traceparent OpenTelemetry's own propagator writes for the span."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {}
    TraceContextTextMapPropagator().inject(carrier, otel_trace.set_span_in_context(otel_span))
    return carrier["traceparent"]


def finished(exporter, name):
    (s,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return s


def by_op(traced):
    return {p["operation"]: p for p in traced.spans()}


def test_mist_work_inside_an_otel_span_joins_its_trace(traced, otel):
    tracer, _ = otel

    @mist.step("plan")
    def plan():
        return 1

    with tracer.start_as_current_span("http.request") as req:
        trace_id, parent = ids(req)
        with mist.trace("agent", budget_usd=1.0) as t:
            assert t.trace_id == trace_id and t.parent_id == parent
            with mist.span("chat", model="gpt-4o-mini", cost_usd=0.01) as s:
                mist.emit_span("raw", 1, 2)
            plan()
        lone = mist.span("lone")  # a span with no mist parent also joins
        with lone:
            pass
        mist.emit_span("outside-trace", 1, 2)
        assert mist.traceparent() == header(req)
    spans = by_op(traced)
    assert {p["trace_id"] for p in spans.values()} == {trace_id}
    assert spans["agent"]["parent_id"] == parent
    assert spans["chat"]["parent_id"] == t.span_id
    assert spans["raw"]["parent_id"] == s.span_id
    assert spans["plan"]["parent_id"] == t.span_id and spans["plan"]["attrs"]["step"] == 0
    assert spans["lone"]["parent_id"] == parent
    assert spans["outside-trace"]["parent_id"] == parent
    assert t.spent_usd == pytest.approx(0.01)


def test_an_otel_span_inside_a_mist_span_is_its_child(traced, otel):
    tracer, exporter = otel
    with mist.trace("agent") as t:
        with mist.span("tool") as s:
            assert mist.traceparent() == s.traceparent
            with tracer.start_as_current_span("db.query") as q:
                # the OTel span is now the innermost one: mist work inside it is its child
                assert mist.traceparent() == header(q)
                with mist.span("inner", cost_usd=0.02):
                    pass
                mist.emit_span("inner-raw", 1, 2)
        with tracer.start_as_current_span("after"):
            pass
    q = finished(exporter, "db.query")
    assert "%032x" % q.context.trace_id == t.trace_id
    assert "%016x" % q.parent.span_id == s.span_id
    assert "%016x" % finished(exporter, "after").parent.span_id == t.span_id
    spans = by_op(traced)
    qid = "%016x" % q.context.span_id
    assert spans["inner"]["parent_id"] == qid and spans["inner"]["trace_id"] == t.trace_id
    assert spans["inner-raw"]["parent_id"] == qid
    assert t.spent_usd == pytest.approx(0.02)  # still counted against the trace
    # after the mist spans ended, OTel's current span is what it was before
    assert not otel_trace.get_current_span().get_span_context().is_valid


def test_otel_spans_inside_steps_generators_and_tasks(traced, otel):
    tracer, exporter = otel

    @mist.step("gen")
    def gen():
        for i in range(2):
            with tracer.start_as_current_span(f"g{i}"):
                pass
            yield i

    @mist.step("async-step")
    async def astep():
        await asyncio.sleep(0)
        with tracer.start_as_current_span("in-task"):
            await asyncio.sleep(0)

    with mist.trace("agent") as t:
        assert list(gen()) == [0, 1]

        async def main():
            await asyncio.gather(astep(), astep())

        asyncio.run(main())
    spans = traced.spans()
    gen_id = next(p["span_id"] for p in spans if p["operation"] == "gen")
    step_ids = {p["span_id"] for p in spans if p["operation"] == "async-step"}
    for name in ("g0", "g1"):
        assert "%016x" % finished(exporter, name).parent.span_id == gen_id
    in_task = [s for s in exporter.get_finished_spans() if s.name == "in-task"]
    assert len(in_task) == 2
    assert {"%016x" % s.parent.span_id for s in in_task} == step_ids
    assert {"%032x" % s.context.trace_id for s in exporter.get_finished_spans()} == {t.trace_id}


def test_an_explicit_traceparent_wins_over_the_otel_span(traced, otel):
    tracer, _ = otel
    header = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    with tracer.start_as_current_span("http.request"):
        with mist.trace("agent", traceparent=header) as t:
            pass
    assert (t.trace_id, t.parent_id) == ("ab" * 16, "cd" * 8)


def test_without_an_otel_span_nothing_changes(traced, otel):
    with mist.trace("a") as a:
        pass
    with mist.trace("b") as b:
        with mist.span("s") as s:
            pass
    mist.emit_span("raw", 1, 2)
    assert a.parent_id is None and b.parent_id is None and a.trace_id != b.trace_id
    assert s.parent_id == b.span_id
    raw = by_op(traced)["raw"]
    assert "parent_id" not in raw and raw["trace_id"] not in (a.trace_id, b.trace_id)
    assert not otel_trace.get_current_span().get_span_context().is_valid
    assert mist.traceparent() == ""


def test_a_span_ended_in_another_context_restores_otel(traced, otel, caplog):
    """A span entered in one asyncio task and exited in another: neither context is left pointing
    at the ended span, and OpenTelemetry logs no 'Failed to detach context'."""
    tracer, _ = otel
    sp = mist.span("cross")

    async def enter():
        sp.__enter__()

    async def main():
        await asyncio.create_task(enter())
        sp.__exit__(None, None, None)

    asyncio.run(main())
    assert "Failed to detach" not in caplog.text
    assert mist.current_span() is None
    assert not otel_trace.get_current_span().get_span_context().is_valid


# ---- threads ----

def charge(i):
    with mist.span("call", cost_usd=0.01) as s:
        return i, s.trace_id, s.parent_id


def test_a_pool_inside_a_trace_keeps_the_trace_and_the_budget(traced):
    with mist.trace("agent", budget_usd=0.035) as t:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(mist.wrap(charge), range(4)))
        assert t.spent_usd == pytest.approx(0.04)
        with ThreadPoolExecutor(1) as pool:
            with pytest.raises(mist.BudgetExceeded):
                pool.submit(mist.wrap(charge), 4).result()
    assert [r[0] for r in results] == [0, 1, 2, 3]
    assert {(r[1], r[2]) for r in results} == {(t.trace_id, t.span_id)}
    calls = [p for p in traced.spans() if p["operation"] == "call"]
    assert len(calls) == 4 and {p["trace_id"] for p in calls} == {t.trace_id}


def test_without_wrap_pool_work_escapes_the_trace(traced):
    """What mist.wrap is for: a pool thread does not inherit the caller's context."""
    with mist.trace("agent", budget_usd=1.0) as t:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(charge, range(2)))
    assert all(r[1] != t.trace_id and r[2] is None for r in results)
    assert t.spent_usd == 0


def test_wrap_with_a_thread_and_concurrent_calls(traced):
    seen = []
    barrier = threading.Barrier(3)

    def work():
        barrier.wait(5)  # three threads inside the same wrapped function at once
        seen.append(charge(0)[1:])

    with mist.trace("agent") as t:
        wrapped = mist.wrap(work)
        threads = [threading.Thread(target=wrapped) for _ in range(3)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert seen == [(t.trace_id, t.span_id)] * 3
    assert mist.wrap(charge).__name__ == "charge"


def test_wrap_carries_the_otel_span_into_threads(traced, otel):
    tracer, exporter = otel

    def work():
        with tracer.start_as_current_span("worker-otel"):
            with mist.span("worker-mist") as s:
                return s.trace_id

    with tracer.start_as_current_span("http.request") as req:
        with ThreadPoolExecutor(1) as pool:
            tid = pool.submit(mist.wrap(work)).result()
    w = finished(exporter, "worker-otel")
    assert tid == ids(req)[0] and "%016x" % w.parent.span_id == ids(req)[1]
    assert by_op(traced)["worker-mist"]["parent_id"] == "%016x" % w.context.span_id


def test_import_mist_does_not_import_opentelemetry():
    out = run_python("import sys, mist\nwith mist.trace('x'):\n    pass\n"
                     "print(any(n.startswith('opentelemetry') for n in sys.modules))",
                     env={"MIST_SINK": "null://"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_disabled_wrap_is_the_function():
    out = run_python("import mist\ndef f(): return 7\nassert mist.wrap(f) is f and mist.wrap(f)() == 7\nprint('ok')",
                     env={"MIST_DISABLED": "1", "MIST_SINK": "null://"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
