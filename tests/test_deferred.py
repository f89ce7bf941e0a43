"""Instrumented-call spans encoded by a background thread (rust/src/deferred.rs): none lost, none
doubled, counted and routed as if encoded when they ended. Native backend only."""
import json
import time

import pytest

import mist
import mist.testing
from conftest import run_python

core = mist._backend.core
pytestmark = pytest.mark.skipif(not hasattr(core, "begin_call"), reason="the pure core encodes every span when it ends")

RESPONSE = {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 10, "completion_tokens": 2}, "choices": []}


def _call_span(model="gpt-4o-mini"):
    """A chat span begun and finished through the native call path (as an instrumented call)."""
    span = core.begin_call("chat", {"model": model}, "openai")
    assert core.finish_call(span, dict(RESPONSE, model=model), "openai", False, time.perf_counter_ns()) is True
    return span


def test_a_call_span_is_encoded_later_but_counted_and_ordered_by_its_end():
    with mist.testing.capture(alerts=False, flush_interval=60) as cap:
        core.take_observations(0)  # a drainer ran just now: call spans are deferred
        before = mist.stats()["emitted"]
        span = _call_span()
        mist.emit_span("after", time.time_ns(), time.time_ns() + 1)  # encoded on the spot
        assert mist.stats()["emitted"] == before + 2  # stats() encodes what waits first
        lines = [json.loads(x)["payload"]["operation"] for x in cap.lines()]
        assert lines == ["after", "chat"]  # the call's line was encoded after the later span's
        assert [s["operation"] for s in cap.spans()] == ["chat", "after"]  # spans(): by end time
        s = cap.spans("chat")[0]
        assert s["span_id"] == span.span_id and s["end_ns"] == span.end_ns
        assert s["attrs"]["tokens_in"] == 10 and s["attrs"]["cost_usd"] > 0


def test_configure_sends_spans_that_ended_before_it_to_the_old_sinks():
    with mist.testing.capture(alerts=False, flush_interval=60) as first:
        core.take_observations(0)
        _call_span()
        with mist.testing.capture(alerts=False) as second:
            pass
        assert [s["operation"] for s in first.spans()] == ["chat"]
        assert second.spans() == []


def test_deferred_spans_survive_exit_and_stay_with_the_parent_across_fork(tmp_path):
    parent, child = tmp_path / "parent.jsonl", tmp_path / "child.jsonl"
    code = f"""
import os, time, mist
core = mist._backend.core
mist.configure("file://{parent}", flush_interval=60)
core.take_observations(0)  # as mist's alert thread does: call spans are deferred from here
def call(model):
    span = core.begin_call("chat", {{"model": model}}, "openai")
    assert core.finish_call(span, {{"model": model, "usage": {{"prompt_tokens": 1}}}}, "openai", False,
                            time.perf_counter_ns())
call("gpt-4o-mini")  # waits in the queue across the fork
pid = os.fork()
if pid == 0:
    mist.configure("file://{child}", flush_interval=60)
    core.take_observations(0)
    call("gpt-4o")
    os._exit(0 if mist.flush() else 1)  # the child's own span only
assert os.waitpid(pid, 0)[1] == 0
call("gpt-4.1-mini")
# no flush: the exit handler encodes and writes what waits
"""
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    models = lambda p: sorted(json.loads(x)["payload"]["attrs"]["model"] for x in p.read_bytes().splitlines())  # noqa: E731
    assert models(parent) == ["gpt-4.1-mini", "gpt-4o-mini"]
    assert models(child) == ["gpt-4o"]


def test_without_a_drainer_call_spans_are_encoded_on_the_spot(tmp_path):
    """A native file writer and no alert thread: nothing drains in the background, so nothing
    waits (lines in the order they were emitted)."""
    out = tmp_path / "inline.jsonl"
    code = f"""
import time, mist
core = mist._backend.core
mist.configure("file://{out}", flush_interval=60)
for i in range(3):
    span = core.begin_call("chat", {{"model": "gpt-4o-mini"}}, "openai")
    assert core.finish_call(span, {{"model": "gpt-4o-mini", "usage": {{"prompt_tokens": 1}}}}, "openai", False,
                            time.perf_counter_ns())
    mist.emit_span("after-%d" % i, time.time_ns(), time.time_ns() + 1)
span = core.begin_call("chat", {{"model": "gpt-4o-mini"}}, "openai")
print("declined" if core.finish_call(span, object(), "openai", False, time.perf_counter_ns()) is False else "taken")
span._leave()
"""
    r = run_python(code, env={"MIST_ALERTS": "0"})
    assert r.returncode == 0, r.stderr
    ops = [json.loads(x)["payload"]["operation"] for x in out.read_bytes().splitlines()]
    assert ops == ["chat", "after-0", "chat", "after-1", "chat", "after-2"]
    assert r.stdout.split() == ["declined"]


def test_a_call_whose_response_is_read_later_in_python():
    """A response the native reader does not take (here a Responses API object as a dict) waits
    with the span and is read by Python's usage.from_response when the queue is drained."""
    with mist.testing.capture(alerts=False, flush_interval=60) as cap:
        core.take_observations(0)
        span = core.begin_call("responses", {"model": "o4-mini"}, "openai")
        response = {"object": "response", "model": "o4-mini", "status": "completed",
                    "usage": {"input_tokens": 1500, "output_tokens": 420}}
        assert core.finish_call(span, response, "openai", False, time.perf_counter_ns()) is True
        assert span.end_ns == 0 and mist.current_span() is None  # queued: ended when drained
        a = cap.spans("responses")[0]["attrs"]
        assert (a["tokens_in"], a["tokens_out"], a["model"]) == (1500, 420, "o4-mini") and a["cost_usd"] > 0
        assert "latency_ms" in a
        unread = core.begin_call("chat", {"model": "gpt-4o-mini"}, "openai")
        assert core.finish_call(unread, object(), "openai", False, time.perf_counter_ns()) is True
        u = cap.spans("chat")[0]["attrs"]
        assert u["model"] == "gpt-4o-mini" and "tokens_in" not in u and "latency_ms" in u


def _stream(model, events):
    info = mist.instrumentation._ClientInfo("openai", False, "openai", False, True)
    stream = core.begin_stream("chat", {"model": model, "stream": True}, "openai", "openai", False, True, info)
    assert stream._mist_attach(e for e in events) is stream
    return stream


def _chunks(model):
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model, "usage": None}
    return [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
            dict(base, choices=[{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]),
            dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]),
            dict(base, choices=[], usage={"prompt_tokens": 7, "completion_tokens": 3})]


def test_a_stream_end_is_completed_later_with_the_clock_readings_of_its_end():
    with mist.testing.capture(alerts=False, flush_interval=60) as cap:
        core.take_observations(0)
        t0 = time.perf_counter_ns()
        assert len(list(_stream("gpt-4o-mini", _chunks("gpt-4o-mini")))) == 4  # dict chunks: none hidden
        ended, ended_wall = time.perf_counter_ns(), time.time_ns()
        time.sleep(0.2)
        s = cap.spans("chat")[0]
        assert s["end_ns"] <= ended_wall and s["attrs"]["latency_ms"] <= (ended - t0) / 1e6
        assert (s["attrs"]["tokens_in"], s["attrs"]["tokens_out"], s["attrs"]["finish_reason"]) == (7, 3, "stop")
        assert s["attrs"]["cost_usd"] > 0 and 0 < s["attrs"]["ttft_ms"] <= s["attrs"]["latency_ms"]


def test_a_queued_stream_end_flags_an_unknown_model_as_span_end_does():
    with mist.testing.capture(flush_interval=60) as cap:
        core.take_observations(0)
        list(_stream("loopback-unpriced-q7", _chunks("loopback-unpriced-q7")))
        stream = _stream("gpt-4o-mini", _chunks("gpt-4o-mini"))
        next(stream)
        stream.close()
        unknown, closed = cap.spans("chat")
        assert unknown["attrs"]["unpriced"] is True and "cost_usd" not in unknown["attrs"]
        assert [(a["metric"], a["series"]["model"]) for a in cap.alerts()] == [("unpriced_model", "loopback-unpriced-q7")]
        assert closed["attrs"]["stream_end"] == "closed" and "tokens_in" not in closed["attrs"]
