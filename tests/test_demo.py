"""`mist demo`: fast, deterministic, and its alerts name exactly the injected regressions."""
import json
import time

from mist.cli import main


def test_demo_alerts_name_the_injected_regression(tmp_path, capsys):
    out = tmp_path / "demo.jsonl"
    t = time.monotonic()
    assert main(["demo", "--out", str(out), "--steps", "300"]) == 0
    assert time.monotonic() - t < 10
    text = capsys.readouterr().out
    assert "alerts that fired while the agent ran" in text and (tmp_path / "demo.html").exists()
    msgs = [json.loads(line) for line in out.read_bytes().splitlines()]
    live = [m["payload"] for m in msgs if m["type"] == "trace.alert" and m["payload"]["metric"] != "unpriced_model"]
    assert {a["metric"] for a in live} >= {"score.faithfulness"}, live  # fired live, while it ran
    spans = [m["payload"] for m in msgs if m["type"] == "trace.span"]
    # where the regression was injected: the first span of run 150
    runs = sorted((s for s in spans if s["operation"] == "agent.run"), key=lambda s: s["start_ns"])
    injected_ns = runs[150]["start_ns"]
    assert main(["alerts", str(out), "--format", "jsonl"]) == 0
    fired = [json.loads(line)["payload"] for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    fired = [a for a in fired if a.get("state", "firing") == "firing"]
    by_metric = {(a["metric"], a["series"].get("model")) for a in fired}
    assert ("score.faithfulness", "gpt-4o-mini") in by_metric
    assert ("cost_usd", "claude-haiku-4-5") in by_metric or ("tokens_out", "claude-haiku-4-5") in by_metric
    allowed_models = {"gpt-4o-mini", "claude-haiku-4-5", None}
    assert all(model in allowed_models for _, model in by_metric), by_metric
    for a in fired:  # the change start is within 10 calls of the injection (runs are ~7 spans each)
        series_calls = sorted(s["end_ns"] for s in spans if s.get("attrs", {}).get("model") == a["series"].get("model")
                              and s["operation"] == a["series"].get("operation"))
        if series_calls:
            idx_since = sum(1 for x in series_calls if x < a["since_ns"])
            idx_inj = sum(1 for x in series_calls if x < injected_ns)
            assert abs(idx_since - idx_inj) <= 10, (a["message"], idx_since, idx_inj)


def _fresh_alert_engine():
    """`mist demo` normally runs in a process of its own: start it with fresh detectors."""
    from mist.alerts import pipeline as _alert_pipeline
    from mist.core import hooks

    hooks.drain()
    _alert_pipeline._engine = None


def test_demo_spans_alerts_and_scores_share_one_clock(tmp_path, capsys):
    """An alert's envelope timestamp is the time of the observation that fired it (the span's
    end_ns), not the wall clock it was delivered at: the demo's alerts fall inside its spans' time
    range, and carry the times `mist alerts FILE` gives the same file offline."""
    out = tmp_path / "demo.jsonl"
    _fresh_alert_engine()
    try:
        assert main(["demo", "--out", str(out), "--steps", "300"]) == 0
    finally:
        _fresh_alert_engine()
    capsys.readouterr()
    msgs = [json.loads(line) for line in out.read_bytes().splitlines()]
    spans = [m["payload"] for m in msgs if m["type"] == "trace.span"]
    lo, hi = min(s["start_ns"] for s in spans), max(s["end_ns"] for s in spans)
    ends = {s["end_ns"] for s in spans}
    alerts = [m for m in msgs if m["type"] == "trace.alert"]
    assert alerts
    for a in alerts:
        ts, p = a["timestamp_ns"], a["payload"]
        assert lo <= ts <= hi, (p["message"], ts, lo, hi)
        assert ts in ends, p["message"]  # the end of the span whose observation fired it
        if "since_ns" in p:
            assert lo <= p["since_ns"] <= ts, p["message"]
    for m in msgs:  # late scores too (the demo's scores ride on its spans as score.<name> attrs)
        if m["type"] == "eval.result":
            assert lo <= m["timestamp_ns"] <= hi
    scored = [s["end_ns"] for s in spans if any(k.startswith("score.") for k in s.get("attrs", {}))]
    assert scored and lo <= min(scored) and max(scored) <= hi

    # the same file replayed offline: the same alerts at the same times
    assert main(["alerts", str(out), "--format", "jsonl"]) == 0
    offline = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    def key(m):
        p = m["payload"]
        return m["timestamp_ns"], p["metric"], p.get("state"), sorted((p.get("series") or {}).items())

    live = [a for a in alerts if a["payload"]["metric"] != "unpriced_model"]
    assert sorted(map(key, live)) == sorted(map(key, offline))

    # the page's time axis is the spans' (the simulated day), not stretched to today
    html = (tmp_path / "demo.html").read_text(encoding="utf-8")
    assert "spans in 300 runs · 2026-09-21 " in html and " – 2026-09-21 " in html
