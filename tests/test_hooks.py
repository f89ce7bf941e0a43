"""The one hook that hangs work off finished spans (mist.core.hooks): observers see every span's
payload and every late score on the background thread, and flush hands them everything first."""
from __future__ import annotations

import threading

import mist
from mist.core import hooks


class Recorder:
    def __init__(self) -> None:
        self.spans = []
        self.scores = []
        self.threads = set()

    def on_end(self, payload):
        self.spans.append(payload)
        self.threads.add(threading.current_thread().name)

    def on_score(self, payload, operation, model, ts):
        self.scores.append((payload["name"], operation, model))


class Broken:
    def on_end(self, payload):
        raise RuntimeError("an observer that fails")


def test_an_observer_sees_finished_spans_and_late_scores(traced):
    rec, broken = Recorder(), Broken()
    hooks.add_observer(broken)
    hooks.add_observer(rec)
    try:
        errors = hooks.counters["errors"]
        with mist.trace("run"):
            with mist.span("chat", model="gpt-4o-mini") as s:
                s.usage(tokens_in=10, tokens_out=2)
        mist.emit_span("tool.search", 1, 2)
        mist.score("judge", 0.25, span=s)
        mist.flush()
        ops = [p["operation"] for p in rec.spans]
        assert ops == ["chat", "run", "tool.search"]
        assert rec.spans[0]["attrs"]["cost_usd"] > 0 and rec.spans[0]["trace_id"] == rec.spans[1]["trace_id"]
        assert rec.scores == [("judge", "chat", "gpt-4o-mini")]
        assert hooks.counters["errors"] >= errors + 3  # the broken observer is counted, the others go on
        assert len(traced.spans()) == 3
    finally:
        hooks.remove_observer(rec)
        hooks.remove_observer(broken)
    mist.emit_span("after", 1, 2)
    mist.flush()
    assert [p["operation"] for p in rec.spans] == ["chat", "run", "tool.search"]


def test_observers_run_on_the_background_thread(traced):
    rec = Recorder()
    hooks.add_observer(rec)
    try:
        mist.emit_span("bg", 1, 2)
        deadline = threading.Event()
        for _ in range(100):
            if rec.spans:
                break
            deadline.wait(0.05)
        assert [p["operation"] for p in rec.spans] == ["bg"]
        assert rec.threads == {"mist-observers"}
    finally:
        hooks.remove_observer(rec)


def test_an_observer_needs_on_end():
    import pytest

    with pytest.raises(TypeError):
        hooks.add_observer(object())


def test_observers_run_on_the_clock_of_what_they_observe(traced):
    """While an observer handles a span or a late score, hooks.observation_time() is its time (the
    span's end_ns, the eval.result's timestamp_ns), and an alert it fires is stamped with it: here
    the unpriced-model warning of a span recorded in 2001 is dated 2001, not now."""
    seen = []

    class Clock:
        def on_end(self, payload):
            seen.append(("span", payload["end_ns"], hooks.observation_time()))

        def on_score(self, payload, operation, model, ts):
            seen.append(("score", ts, hooks.observation_time()))

    clock = Clock()
    hooks.add_observer(clock)
    try:
        t = 1_000_000_000_000_000_000  # 2001-09-09
        mist.emit_span("chat", t, t + 5, model="no-such-model-xyz", tokens_in=3, tokens_out=1)
        with mist.span("judged") as s:
            pass
        mist.score("judge", 0.5, span=s)
        mist.flush()
    finally:
        hooks.remove_observer(clock)
    assert hooks.observation_time() is None  # outside an observer
    assert seen[0] == ("span", t + 5, t + 5)
    assert all(ts == now for _, ts, now in seen), seen
    (score_ts,) = [ts for kind, ts, _ in seen if kind == "score"]
    assert score_ts == traced.messages("eval.result")[0]["timestamp_ns"]  # the score's own envelope time
    (warning,) = [m for m in traced.messages("trace.alert") if m["payload"]["metric"] == "unpriced_model"]
    assert warning["timestamp_ns"] == t + 5
