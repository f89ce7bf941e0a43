"""The alert engine: trace.span payloads in, trace.alert payloads out (issue 5, items 1-2)."""
from __future__ import annotations

import json
import math
import random
import re
from typing import Any, Dict, Iterator, List, Optional

import pytest

from mist.alerts import AlertEngine

T0 = 1_790_000_000_000_000_000
SEC = 1_000_000_000
FIELDS = ["level", "metric", "value", "threshold", "message", "state", "baseline", "detector",
          "series", "since_ns", "evidence"]
HEX16 = re.compile(r"[0-9a-f]{16}")


class Calls:
    """Deterministic span payloads for one (operation, model), one call per second."""

    def __init__(self, seed: int, op: str = "chat", model: Optional[str] = "gpt-4o-mini",
                 start: int = T0) -> None:
        self.rng = random.Random(seed)
        self.op, self.model, self.t = op, model, start

    def span(self, latency_ms: float = 200.0, *, score: Optional[float] = None,
             status: str = "ok", cost: Optional[float] = None, tokens_out: Optional[int] = None,
             parent: Optional[str] = "00000000000000aa", trace_id: Optional[str] = None,
             extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        self.t += SEC
        attrs: Dict[str, Any] = {}
        if self.model:
            attrs["model"] = self.model
        if score is not None:
            attrs["score.faithfulness"] = score
        if cost is not None:
            attrs["cost_usd"] = cost
        if tokens_out is not None:
            attrs["tokens_out"] = tokens_out
        attrs.update(extra or {})
        p: Dict[str, Any] = {
            "trace_id": trace_id or "%032x" % self.rng.getrandbits(128),
            "span_id": "%016x" % self.rng.getrandbits(64),
        }
        if parent:
            p["parent_id"] = parent
        p.update(operation=self.op, start_ns=self.t - int(latency_ms * 1e6), end_ns=self.t,
                 status=status, attrs=attrs)
        return p

    def steady(self, n: int, latency_ms: float, sigma: float = 0.25, score_mu: Optional[float] = None,
               score_sd: float = 0.03) -> Iterator[Dict[str, Any]]:
        r = self.rng
        for _ in range(n):
            score = None if score_mu is None else min(1.0, max(0.0, r.gauss(score_mu, score_sd)))
            yield self.span(r.lognormvariate(math.log(latency_ms), sigma), score=score)


def feed(engine: AlertEngine, spans) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for p in spans:
        out.extend(engine.observe(p))
    return out


def firing(alerts, metric: Optional[str] = None) -> List[Dict[str, Any]]:
    return [a for a in alerts if a["state"] == "firing" and (metric is None or a["metric"] == metric)]


# --- the example of issue 5 ---------------------------------------------------------------------

def test_fast_hallucinating_responses_alert_and_slow_correct_ones_do_not() -> None:
    """A 200 ms response that hallucinates triggers an alert; a 2 s response that is correct
    does not."""
    engine = AlertEngine()
    fast = Calls(1, "chat", "gpt-4o-mini")
    slow = Calls(2, "chat", "gpt-4o")
    alerts = []
    for i in range(600):
        hallucinating = i >= 300
        alerts += engine.observe(next(fast.steady(1, 200.0, score_mu=0.62 if hallucinating else 0.91)))
        alerts += engine.observe(next(slow.steady(1, 2000.0, score_mu=0.91)))
    assert len(alerts) == 1, [a["message"] for a in alerts]
    a = alerts[0]
    assert a["metric"] == "score.faithfulness" and a["state"] == "firing"
    assert a["series"] == {"operation": "chat", "model": "gpt-4o-mini"}
    assert a["level"] == "critical"
    # the change stated, then both levels (the difference is that of the printed values)
    assert re.match(r'quality score "faithfulness" for chat/gpt-4o-mini fell 0\.(\d\d) from 0\.91 '
                    r'to 0\.6\d', a["message"]), a["message"]
    m = re.search(r"fell (\S+) from (\S+) to (\S+) ", a["message"])
    assert float(m[1]) == pytest.approx(float(m[2]) - float(m[3]))
    assert "over the last" in a["message"] and "calls" in a["message"]
    assert a["baseline"] == pytest.approx(0.91, abs=0.01)
    assert a["value"] == pytest.approx(0.62, abs=0.03)
    assert a["threshold"] < a["baseline"]
    # since_ns: within a few calls of the first hallucinating call (the 301st fast call)
    first_bad = T0 + 301 * SEC
    assert abs(a["since_ns"] - first_bad) <= 3 * SEC
    assert a["evidence"] and all(HEX16.fullmatch(s) for s in a["evidence"])
    assert list(a) == FIELDS


def test_latency_regression_message_and_payload() -> None:
    engine = AlertEngine()
    calls = Calls(3, "chat", "gpt-4o")
    alerts = feed(engine, calls.steady(400, 820.0)) + feed(engine, calls.steady(200, 2400.0))
    assert len(alerts) == 1
    a = alerts[0]
    assert list(a) == FIELDS
    assert a["metric"] == "latency_ms" and a["level"] == "critical"
    assert re.fullmatch(r"p50 latency for chat/gpt-4o rose 2\.\d× from 8\d\d ms to 2\.\d\d s over the "
                        r"last \d+ calls \(since \d\d:\d\d:\d\d UTC\)", a["message"]), a["message"]
    assert a["baseline"] == pytest.approx(820.0, rel=0.05)
    assert a["value"] == pytest.approx(2400.0, rel=0.25)
    assert a["baseline"] < a["threshold"] < a["value"]
    assert "log-scale" in a["detector"] and "threshold" in a["detector"]
    assert abs(a["since_ns"] - (T0 + 401 * SEC)) <= 3 * SEC
    assert 1 <= len(a["evidence"]) <= 10
    json.dumps(a)  # JSON-able


def test_improvements_do_not_alert() -> None:
    engine = AlertEngine()
    calls = Calls(4)
    alerts = feed(engine, calls.steady(400, 2000.0, score_mu=0.7))
    alerts += feed(engine, calls.steady(400, 300.0, score_mu=0.95))  # faster and better
    assert alerts == []


# --- lifecycle ----------------------------------------------------------------------------------

def test_one_alert_per_change_then_resolved_then_quiet() -> None:
    engine = AlertEngine(cooldown=50)
    calls = Calls(5)
    alerts = feed(engine, calls.steady(500, 500.0))
    alerts += feed(engine, calls.steady(1500, 1500.0))   # a long regression: still one alert
    assert [a["state"] for a in alerts] == ["firing"]
    alerts += feed(engine, calls.steady(1500, 500.0))    # back to normal
    states = [a["state"] for a in alerts]
    assert states == ["firing", "resolved"], [a["message"] for a in alerts]
    resolved = alerts[1]
    assert list(resolved) == FIELDS
    assert resolved["since_ns"] == alerts[0]["since_ns"]
    assert resolved["value"] == pytest.approx(500.0, rel=0.1)
    assert resolved["message"].startswith("p50 latency for chat/gpt-4o-mini is back to ")
    assert engine.stats()["firing_now"] == 0


def test_a_further_worsening_stays_the_same_alert() -> None:
    engine = AlertEngine()
    calls = Calls(21)
    alerts = feed(engine, calls.steady(400, 500.0))
    alerts += feed(engine, calls.steady(300, 1500.0))
    alerts += feed(engine, calls.steady(300, 4500.0))  # worse still, while firing
    assert [a["state"] for a in alerts] == ["firing"]
    alerts += feed(engine, calls.steady(400, 500.0))
    assert [a["state"] for a in alerts] == ["firing", "resolved"]


def test_resolves_when_the_regression_ends_right_after_the_alert() -> None:
    engine = AlertEngine()
    calls = Calls(6)
    alerts = feed(engine, calls.steady(500, 500.0))
    alerts += feed(engine, calls.steady(15, 3000.0))      # a short burst: just enough to fire
    alerts += feed(engine, calls.steady(300, 500.0))
    assert [a["state"] for a in alerts] == ["firing", "resolved"]


def test_a_partial_recovery_keeps_firing() -> None:
    engine = AlertEngine()
    calls = Calls(7)
    alerts = feed(engine, calls.steady(500, 500.0, sigma=0.2))
    alerts += feed(engine, calls.steady(300, 4000.0, sigma=0.2))
    alerts += feed(engine, calls.steady(600, 3000.0, sigma=0.2))  # better, still far from 500
    assert [a["state"] for a in alerts] == ["firing"]


def test_no_alert_before_min_observations() -> None:
    engine = AlertEngine(min_observations=100)
    calls = Calls(8)
    alerts = feed(engine, calls.steady(60, 300.0)) + feed(engine, calls.steady(300, 3000.0))
    assert alerts == []  # the change came while the series was still being learned


def test_cooldown_delays_a_second_alert_after_a_flap() -> None:
    engine = AlertEngine(cooldown=200)
    calls = Calls(9)
    alerts = feed(engine, calls.steady(400, 500.0)) + feed(engine, calls.steady(60, 3000.0))
    alerts += feed(engine, calls.steady(200, 500.0))
    assert [a["state"] for a in alerts] == ["firing", "resolved"]
    n_before = calls.t
    more = feed(engine, calls.steady(400, 3000.0))       # the regression comes back at once
    assert [a["state"] for a in more] == ["firing"]
    # it fired only after the cooldown (200 values after the resolution)
    assert more[0]["since_ns"] >= n_before and engine.stats()["firing"] == 2


def test_error_rate_and_binary_scores() -> None:
    engine = AlertEngine()
    calls = Calls(10, "tool.call", None)
    r = random.Random(10)
    alerts: List[Dict[str, Any]] = []
    for i in range(3000):
        bad = i >= 1500
        status = "error" if r.random() < (0.25 if bad else 0.02) else "ok"
        passed = 1 if r.random() < (0.6 if bad else 0.95) else 0
        alerts += engine.observe(calls.span(100.0, status=status,
                                            extra={"score.exact_match": passed}))
    by_metric = {a["metric"]: a for a in firing(alerts)}
    assert set(by_metric) == {"error_rate", "score.exact_match"}, [a["message"] for a in alerts]
    err = by_metric["error_rate"]
    assert err["series"] == {"operation": "tool.call"}
    assert re.match(r"error rate for tool\.call rose \d\d points from 2\.\d% to \d\d% over the last",
                    err["message"]), err["message"]
    assert err["value"] > 0.15 and err["baseline"] < 0.05
    assert abs(err["since_ns"] - (T0 + 1501 * SEC)) <= 40 * SEC
    assert "bernoulli" in err["detector"]
    ps = by_metric["score.exact_match"]
    assert re.match(r'pass rate of "exact_match" for tool\.call fell \d\d points from 9\d\.\d% to \d\d% ',
                    ps["message"]), ps["message"]
    assert ps["value"] < 0.75 < ps["baseline"]


def test_trace_cost_is_summed_per_trace_and_evaluated_at_the_root() -> None:
    engine = AlertEngine()
    agent = Calls(11, "agent.run", None)
    llm = Calls(12, "chat", "gpt-4o")
    r = random.Random(11)
    alerts: List[Dict[str, Any]] = []
    for run in range(600):
        tid = "%032x" % r.getrandbits(128)
        factor = 2.0 if run >= 300 else 1.0   # each run makes twice as many calls
        for _ in range(int(3 * factor)):
            c = 0.001 * r.lognormvariate(0.0, 0.1)
            alerts += engine.observe(llm.span(300.0, cost=c, trace_id=tid))
        alerts += engine.observe(agent.span(2000.0, parent=None, trace_id=tid))
    fired = firing(alerts)
    assert [a["metric"] for a in fired] == ["trace_cost_usd"], [a["message"] for a in alerts]
    a = fired[0]
    assert a["series"] == {"operation": "agent.run"}
    assert a["baseline"] == pytest.approx(0.003, rel=0.1)
    assert a["value"] == pytest.approx(0.006, rel=0.15)
    assert re.match(r'median cost per run of "agent\.run" rose (9\d%|\d\.\d×) from \$0\.0030 to '
                    r'\$0\.00[56]\d', a["message"]), a["message"]
    assert "runs" in a["message"]
    assert engine.stats()["evicted_traces"] == 0 and not engine._traces  # all closed


def test_tokens_and_cost_per_call() -> None:
    engine = AlertEngine()
    calls = Calls(13)
    r = random.Random(13)
    alerts: List[Dict[str, Any]] = []
    for i in range(800):
        k = 3.0 if i >= 400 else 1.0
        tok = int(100 * k * r.lognormvariate(0, 0.2))
        alerts += engine.observe(calls.span(500.0, tokens_out=tok, cost=tok * 1e-5))
    assert sorted(a["metric"] for a in alerts) == ["cost_usd", "tokens_out"]
    tok = [a for a in alerts if a["metric"] == "tokens_out"][0]
    assert re.match(r"median output tokens for chat/gpt-4o-mini rose \d\.\d× from 9\d to [23]\d\d over "
                    r"the last", tok["message"]), tok["message"]


# --- state --------------------------------------------------------------------------------------

def test_state_round_trip_no_storm_of_re_alerts_and_same_future() -> None:
    engine = AlertEngine()
    calls = Calls(14)
    alerts = feed(engine, calls.steady(400, 500.0, score_mu=0.9))
    alerts += feed(engine, calls.steady(100, 2500.0, score_mu=0.9))
    assert [a["metric"] for a in alerts] == ["latency_ms"]
    # through strict JSON, as a file would
    state = json.loads(json.dumps(engine.state_dict(), allow_nan=False))
    restored = AlertEngine.from_state(state)
    assert restored.stats()["firing_now"] == 1
    rest = list(calls.steady(300, 2500.0, score_mu=0.9)) + list(calls.steady(400, 500.0, score_mu=0.9))
    got_original = feed(engine, rest)
    got_restored = feed(restored, rest)
    # the restored engine does not re-fire the open alert, and resolves it like the original
    assert [a["state"] for a in got_restored] == ["resolved"]
    strip = lambda xs: [{k: v for k, v in a.items()} for a in xs]  # noqa: E731
    assert strip(got_restored) == strip(got_original)


def test_from_state_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="AlertEngine.state_dict"):
        AlertEngine.from_state({"version": 99})
    with pytest.raises(ValueError):
        AlertEngine.from_state("not a state")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="damaged"):
        AlertEngine.from_state({"version": 1, "groups": [{"operation": "x"}]})


# --- robustness ---------------------------------------------------------------------------------

def test_odd_payloads_never_raise() -> None:
    engine = AlertEngine()
    odd: List[Any] = [
        None, [], "span", 42, {}, {"attrs": "x"}, {"attrs": None, "status": 3},
        {"operation": 7, "start_ns": "1", "end_ns": "2"},
        {"operation": "chat", "start_ns": 10, "end_ns": 5},
        {"operation": "chat", "attrs": {"latency_ms": float("nan"), "cost_usd": "0.1",
                                        "tokens_out": -3, "score.x": "good", "score.": 1,
                                        "model": ["m"]}},
        {"operation": "chat", "attrs": {"latency_ms": float("inf"), "cost_usd": True,
                                        "score.y": float("nan"), "tokens_out": 10 ** 400}},
        {"operation": "chat", "trace_id": 5, "parent_id": {}, "attrs": {"cost_usd": 1e308}},
        {"operation": "chat", "span_id": None, "status": "weird", "attrs": {"latency_ms": 10 ** 30}},
    ]
    for p in odd:
        assert engine.observe(p) == []
    assert engine.stats()["skipped"] >= 4
    # and a normal stream afterwards still works
    calls = Calls(15)
    alerts = feed(engine, calls.steady(300, 500.0)) + feed(engine, calls.steady(100, 5000.0))
    assert [a["metric"] for a in alerts] == ["latency_ms"]


def test_memory_is_bounded() -> None:
    engine = AlertEngine(max_series=20, max_open_traces=50)
    r = random.Random(16)
    for i in range(2000):
        c = Calls(i, f"op{i % 100}", None)
        engine.observe(c.span(100.0, cost=0.001, trace_id="%032x" % r.getrandbits(128)))
    st = engine.stats()
    assert len(engine._groups) <= 20 and st["evicted_series"] >= 80
    assert len(engine._traces) <= 50 and st["evicted_traces"] > 0


def test_constructor_validates_options() -> None:
    for kw in ({"sensitivity": 0}, {"sensitivity": -1}, {"min_observations": -1},
               {"cooldown": -5}, {"max_series": 0}):
        with pytest.raises(ValueError):
            AlertEngine(**kw)


def test_sensitivity_trades_false_alarm_budget_for_speed() -> None:
    def delay(sens: float) -> int:
        # no floor: the ×1.24 step is near the +20% latency floor, and this is about the statistic
        engine = AlertEngine(sensitivity=sens, floors={"latency_ms": 0})
        calls = Calls(17)
        feed(engine, calls.steady(500, 500.0))
        for i, p in enumerate(calls.steady(500, 620.0), 1):  # a ×1.24 step (~0.9σ)
            if engine.observe(p):
                return i
        return 10 ** 6
    assert delay(10.0) < delay(0.1)


# --- late scores (eval.result) ----------------------------------------------------------------------

def _eval(span_id: Optional[str], score: Any, *, name: Optional[str] = "faithfulness",
          suite: str = "judge", task: str = "chat") -> Dict[str, Any]:
    p: Dict[str, Any] = {"suite": suite, "task": task, "passed": bool(score >= 0.5) if isinstance(score, float) else False,
                         "score": score, "baseline_score": 0, "delta": 0, "duration_ms": 0}
    if span_id is not None:
        p["span_id"] = span_id
    if name is not None:
        p["name"] = name
    return p


def _late_scores(engine: AlertEngine, calls: Calls, n: int, mu, *, lag: int = 30,
                 **kw) -> List[Dict[str, Any]]:
    """n spans without scores; each span's score arrives as an eval.result ``lag`` spans later."""
    r = random.Random(18)
    out: List[Dict[str, Any]] = []
    pending: List[tuple] = []
    for i in range(n):
        p = calls.span(r.lognormvariate(math.log(300.0), 0.2))
        out += engine.observe(p)
        pending.append((p["span_id"], min(1.0, max(0.0, r.gauss(mu(i), 0.03)))))
        if len(pending) > lag:
            sid, v = pending.pop(0)
            out += engine.observe_eval(_eval(sid, v, **kw), calls.t)
    for sid, v in pending:
        calls.t += SEC
        out += engine.observe_eval(_eval(sid, v, **kw), calls.t)
    return out


def test_a_falling_late_score_fires_on_its_spans_series() -> None:
    engine = AlertEngine()
    calls = Calls(19)
    alerts = _late_scores(engine, calls, 400, lambda i: 0.9 if i < 200 else 0.6)
    quality = firing(alerts)
    assert [a["metric"] for a in quality] == ["score.faithfulness"], alerts
    a = quality[0]
    assert list(a) == FIELDS
    # attributed to the scored spans' (operation, model), like an inline score.<name>
    assert a["series"] == {"operation": "chat", "model": "gpt-4o-mini"}
    assert a["level"] == "critical" and a["baseline"] == pytest.approx(0.9, abs=0.02)
    assert re.match(r'quality score "faithfulness" for chat/gpt-4o-mini fell 0\.\d\d from 0\.9\d to '
                    r'0\.[56]\d', a["message"]), a["message"]
    # the evidence is the scored spans (not the spans that happened to end meanwhile)
    assert a["evidence"] and all(HEX16.fullmatch(s) for s in a["evidence"])
    assert engine.stats()["evals"] == 400


def test_late_and_inline_scores_of_one_name_share_a_series() -> None:
    engine = AlertEngine()
    calls = Calls(20)
    r = random.Random(21)
    alerts: List[Dict[str, Any]] = []
    for i in range(400):
        mu = 0.9 if i < 200 else 0.6
        v = min(1.0, max(0.0, r.gauss(mu, 0.03)))
        if i % 2:
            alerts += engine.observe(calls.span(300.0, score=v))
        else:
            p = calls.span(300.0)
            alerts += engine.observe(p)
            alerts += engine.observe_eval(_eval(p["span_id"], v), calls.t)
    assert [a["metric"] for a in firing(alerts)] == ["score.faithfulness"]
    assert engine.stats()["series"] == 3  # latency, error rate and one score series


def test_a_late_score_of_an_unknown_span_goes_to_its_suite_and_task() -> None:
    engine = AlertEngine()
    r = random.Random(22)
    alerts: List[Dict[str, Any]] = []
    t = T0
    for i in range(400):
        t += SEC
        v = min(1.0, max(0.0, r.gauss(0.85 if i < 200 else 0.55, 0.03)))
        # mist-go results: no span_id, no name (the suite names the score)
        alerts += engine.observe_eval(_eval(None, v, name=None, suite="rag-eval", task="answer"), t)
    quality = firing(alerts)
    assert [a["metric"] for a in quality] == ["score.rag-eval"]
    assert quality[0]["series"] == {"suite": "rag-eval", "task": "answer"}
    assert re.search(r'quality score "rag-eval" for answer \(eval suite "rag-eval"\) fell 0\.\d\d from 0\.8',
                     quality[0]["message"]), quality[0]["message"]
    assert quality[0]["evidence"] == []  # no span ids to point at


def test_the_callers_operation_and_model_win_over_the_index() -> None:
    engine = AlertEngine(max_indexed_spans=0)  # nothing remembered: the caller must say
    r = random.Random(23)
    alerts: List[Dict[str, Any]] = []
    for i in range(400):
        v = min(1.0, max(0.0, r.gauss(0.9 if i < 200 else 0.6, 0.03)))
        alerts += engine.observe_eval(_eval("%016x" % (i + 1), v), T0 + i * SEC,
                                      operation="plan", model="gpt-4o")
    assert [a["series"] for a in firing(alerts)] == [{"operation": "plan", "model": "gpt-4o"}]
    # the evidence: the scored spans since the change (ids 201, 202, ...)
    assert all(int(sid, 16) > 200 for sid in firing(alerts)[0]["evidence"])


def test_the_span_index_is_bounded() -> None:
    engine = AlertEngine(max_indexed_spans=100)
    calls = Calls(24)
    first = calls.span()
    engine.observe(first)
    feed(engine, calls.steady(300, 200.0))
    assert len(engine._span_index) == 100 and first["span_id"] not in engine._span_index
    engine.observe_eval(_eval(first["span_id"], 0.9), calls.t)  # evicted: suite/task series
    assert any(g.eval for g in engine._groups.values())


def test_late_scores_survive_a_state_round_trip() -> None:
    engine = AlertEngine()
    calls = Calls(25)
    _late_scores(engine, calls, 300, lambda i: 0.9)
    state = json.loads(json.dumps(engine.state_dict(), allow_nan=False))
    restored = AlertEngine.from_state(state)
    more = Calls(26, start=calls.t)
    a = _late_scores(engine, more, 300, lambda i: 0.6)
    b = _late_scores(restored, Calls(26, start=calls.t), 300, lambda i: 0.6)
    assert [x["metric"] for x in firing(a)] == ["score.faithfulness"]
    assert a == b
    # an older state (no span index, no per-series evidence) still loads
    for g in state["groups"]:
        for sd in g["series"]:
            sd.pop("ring")
    state.pop("spans")
    AlertEngine.from_state(state)


def test_odd_eval_results_never_raise() -> None:
    engine = AlertEngine()
    odd: List[Any] = [
        None, [], "eval", {}, {"score": None}, {"score": float("nan")}, {"score": "0.9"},
        {"score": True}, {"score": 0.5, "name": 3, "suite": None, "task": [], "span_id": 7},
        {"score": 0.5, "span_id": {}},
    ]
    for p in odd:
        assert engine.observe_eval(p) == []
    assert engine.observe_eval({"score": 0.5}, "x", operation=5, model=[]) == []  # type: ignore[arg-type]
    st = engine.stats()
    assert st["skipped"] >= 8 and st["evals"] == 3
