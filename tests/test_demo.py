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
