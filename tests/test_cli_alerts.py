"""``mist alerts FILE``: replay a recorded trace file through the alert engine (issue 5, item 4)."""
from __future__ import annotations

import gzip
import json
import math
import random
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from mist.cli import main

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_790_000_000_000_000_000
SEC = 1_000_000_000
REGRESSION_AT = 400  # index (among chat/gpt-4o calls) of the first slow call


def _envelope(payload: Dict[str, Any], ts: int, rng: random.Random) -> Dict[str, Any]:
    return {"version": "1", "id": "%032x" % rng.getrandbits(128), "source": "test",
            "type": "trace.span", "timestamp_ns": ts, "payload": payload}


def _recording(seed: int = 1) -> List[Dict[str, Any]]:
    """Agent runs: a root span, a chat/gpt-4o call (latency ×3 from REGRESSION_AT on) and a
    tool call; plus an eval.result from elsewhere (a series of its own, too short to alert)."""
    rng = random.Random(seed)
    lines: List[Dict[str, Any]] = []
    t = T0
    for run in range(800):
        tid = "%032x" % rng.getrandbits(128)
        root = "%016x" % rng.getrandbits(64)
        start = t
        lat = rng.lognormvariate(math.log(800.0 if run < REGRESSION_AT else 2400.0), 0.3)
        end = t + int(lat * 1e6)
        lines.append(_envelope({
            "trace_id": tid, "span_id": "%016x" % rng.getrandbits(64), "parent_id": root,
            "operation": "chat", "start_ns": t, "end_ns": end, "status": "ok",
            "attrs": {"model": "gpt-4o", "tokens_out": rng.randint(80, 120),
                      "cost_usd": 0.002 * rng.lognormvariate(0, 0.1),
                      "score.relevance": round(min(1.0, rng.gauss(0.85, 0.03)), 3)}}, end, rng))
        t = end + 10_000_000
        tool_end = t + int(rng.lognormvariate(math.log(40.0), 0.2) * 1e6)
        lines.append(_envelope({
            "trace_id": tid, "span_id": "%016x" % rng.getrandbits(64), "parent_id": root,
            "operation": "tool.search", "start_ns": t, "end_ns": tool_end, "status": "ok"},
            tool_end, rng))
        t = tool_end + 1_000_000
        lines.append(_envelope({"trace_id": tid, "span_id": root, "operation": "agent.run",
                                "start_ns": start, "end_ns": t, "status": "ok"}, t, rng))
        t += 2 * SEC
        if run == 10:
            lines.append({"version": "1", "id": "%032x" % rng.getrandbits(128), "source": "x",
                          "type": "eval.result", "timestamp_ns": t,
                          "payload": {"suite": "s", "task": "t", "passed": True, "score": 1,
                                      "baseline_score": 1, "delta": 0, "duration_ms": 3}})
    return lines


def _regression_start_ns(lines: List[Dict[str, Any]]) -> List[int]:
    """end_ns of each chat call, in order."""
    return [m["payload"]["end_ns"] for m in lines
            if m["type"] == "trace.span" and m["payload"]["operation"] == "chat"]


def _write(path: Path, lines: List[Dict[str, Any]], *, gz: bool = False, tail: str = "") -> Path:
    text = "".join(json.dumps(m) + "\n" for m in lines) + tail
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_text_output_reports_the_injected_regression_and_nothing_else(tmp_path, capsys) -> None:
    lines = _recording()
    path = _write(tmp_path / "run.jsonl", lines)
    assert main(["alerts", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    # the slow model call, and the agent runs that contain it; nothing about tools, cost, scores
    assert len(out) == 3, out
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  FIRING   critical latency_ms       "
                    r"p50 latency for chat/gpt-4o rose \d\.\d× from [78]\d\d ms to 2\.\d\d s over the last "
                    r"\d+ calls \(since \d\d:\d\d:\d\d UTC\)$", out[0]), out[0]
    assert re.search(r"p50 latency for agent\.run rose \d\.\d× from 8\d\d ms to 2\.\d\d s ", out[1]), out[1]
    assert out[2] == ("2400 spans and 1 eval result read, 2 alerts fired, 0 resolved; "
                      "2 still firing at the end of the file")


def test_jsonl_output_is_valid_trace_alert_envelopes(tmp_path, capsys) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "schema" / "mttp.schema.json").read_text())
    lines = _recording()
    path = _write(tmp_path / "run.jsonl", lines)
    assert main(["alerts", str(path), "--format", "jsonl"]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 2
    envs = [json.loads(line) for line in out]
    for env, line in zip(envs, out):
        jsonschema.validate(env, schema)
        assert list(env) == ["version", "id", "source", "type", "timestamp_ns", "payload"]
        assert env["version"] == "1" and env["source"] == "mist-alerts"
        assert env["type"] == "trace.alert"
        assert re.fullmatch(r"[0-9a-f]{32}", env["id"])
        assert list(env["payload"]) == ["level", "metric", "value", "threshold", "message",
                                        "state", "baseline", "detector", "series", "since_ns",
                                        "evidence"]
        assert env["timestamp_ns"] >= env["payload"]["since_ns"]
        assert line == json.dumps(env, separators=(",", ":"), ensure_ascii=False)
    assert envs[0]["id"] != envs[1]["id"]
    p = envs[0]["payload"]
    assert p["state"] == "firing" and p["metric"] == "latency_ms"
    assert p["series"] == {"operation": "chat", "model": "gpt-4o"}
    assert envs[1]["payload"]["series"] == {"operation": "agent.run"}
    # since_ns within 10 calls of where the regression was injected
    chat_ends = _regression_start_ns(lines)
    index = min(range(len(chat_ends)), key=lambda i: abs(chat_ends[i] - p["since_ns"]))
    assert abs(index - REGRESSION_AT) <= 10
    # the summary goes to stderr so stdout stays pure JSONL
    assert "2400 spans and 1 eval result read, 2 alerts fired" in captured.err


def test_gzip_blank_lines_and_a_torn_last_line(tmp_path, capsys) -> None:
    lines = _recording()
    plain = _write(tmp_path / "a.jsonl", lines[:1400])
    main(["alerts", str(plain)])
    expected = capsys.readouterr().out
    # the same content, gzip-compressed, with blank lines and a torn (unterminated) last line
    text_lines = [json.dumps(m) for m in lines[:1400]]
    messy = "\n\n".join(text_lines) + "\n   \n" + json.dumps(lines[1400])[:57]
    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write(messy)
    assert main(["alerts", str(gz)]) == 0
    assert capsys.readouterr().out == expected
    assert "FIRING" in expected
    assert expected.endswith("1399 spans and 1 eval result read, 2 alerts fired, 0 resolved; "
                             "2 still firing at the end of the file\n")


def test_unreadable_lines_in_the_middle_are_counted(tmp_path, capsys) -> None:
    lines = _recording()[:30]
    path = tmp_path / "bad.jsonl"
    body = [json.dumps(m) for m in lines]
    body.insert(5, "{not json")
    body.insert(9, json.dumps({"type": "trace.span", "payload": "oops"}))
    path.write_text("\n".join(body) + "\n")
    assert main(["alerts", str(path)]) == 0
    assert capsys.readouterr().out.strip() == \
        "30 spans read, 0 alerts fired, 0 resolved, 2 unreadable lines skipped"


@pytest.mark.parametrize("make, fragment", [
    (lambda d: d / "missing.jsonl", "no such file"),
    (lambda d: d, "no trace files in"),  # a directory: its trace files (here none)
])
def test_unreadable_file_is_one_line_error(tmp_path, capsys, make, fragment) -> None:
    path = make(tmp_path)
    assert main(["alerts", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mist: ") and fragment in err


def test_bad_flags_are_one_line_errors(tmp_path, capsys) -> None:
    path = _write(tmp_path / "x.jsonl", [])
    assert main(["alerts", str(path), "--format", "xml"]) == 2
    assert main(["alerts", str(path), "--sensitivity", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(e.startswith("mist: ") for e in err)
    assert "sensitivity" in err[1]


def test_empty_file(tmp_path, capsys) -> None:
    path = _write(tmp_path / "empty.jsonl", [])
    assert main(["alerts", str(path)]) == 0
    assert capsys.readouterr().out == "0 spans read, 0 alerts fired, 0 resolved\n"


def test_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["alerts", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "mist alerts mist-traces.jsonl" in out


# --- late scores (eval.result lines) ------------------------------------------------------------

def _judged_recording(filler: int = 0) -> List[Dict[str, Any]]:
    """600 chat/gpt-4o calls without inline scores; an offline judge's eval.result for each one
    (its faithfulness falls from call 300 on) is appended at the end, after ``filler`` tool
    spans, plus 300 results of another suite whose spans are not in the file."""
    rng = random.Random(9)
    lines: List[Dict[str, Any]] = []
    t = T0
    scored = []
    for i in range(600):
        sid = "%016x" % rng.getrandbits(64)
        end = t + int(rng.lognormvariate(math.log(500.0), 0.2) * 1e6)
        lines.append(_envelope({"trace_id": "%032x" % rng.getrandbits(128), "span_id": sid,
                                "operation": "chat", "start_ns": t, "end_ns": end,
                                "status": "ok", "attrs": {"model": "gpt-4o"}}, end, rng))
        scored.append(sid)
        t = end + SEC
    for _ in range(filler):  # instant spans: they only push the scored ones far back
        lines.append(_envelope({"trace_id": "%032x" % rng.getrandbits(128),
                                "span_id": "%016x" % rng.getrandbits(64), "operation": "tool",
                                "start_ns": t, "end_ns": t}, t, rng))
        t += 1_000_000
    for i, sid in enumerate(scored):
        t += SEC
        v = round(min(1.0, max(0.0, rng.gauss(0.9 if i < 300 else 0.6, 0.03))), 3)
        lines.append({"version": "1", "id": "%032x" % rng.getrandbits(128), "source": "judge",
                      "type": "eval.result", "timestamp_ns": t,
                      "payload": {"suite": "judge", "task": "chat", "passed": v >= 0.5,
                                  "score": v, "baseline_score": 0, "delta": 0, "duration_ms": 900,
                                  "trace_id": "%032x" % rng.getrandbits(128), "span_id": sid,
                                  "name": "faithfulness"}})
    for i in range(300):
        t += SEC
        v = round(min(1.0, max(0.0, rng.gauss(0.8 if i < 150 else 0.5, 0.03))), 3)
        lines.append({"version": "1", "id": "%032x" % rng.getrandbits(128), "source": "go",
                      "type": "eval.result", "timestamp_ns": t,
                      "payload": {"suite": "rag", "task": "answer", "passed": v >= 0.5,
                                  "score": v, "baseline_score": 0.8, "delta": v - 0.8,
                                  "duration_ms": 12}})
    return lines


@pytest.mark.parametrize("filler", [0, 12_000])
def test_late_scores_in_the_file_fire_on_the_scored_spans_series(tmp_path, capsys, filler) -> None:
    """An offline judge's eval.result lines, however far after the spans they score (12,000
    spans later is past the engine's own span index), join those spans' (operation, model)."""
    path = _write(tmp_path / "judged.jsonl", _judged_recording(filler))
    assert main(["alerts", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3, out
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  FIRING   critical score\.faithfulness "
                    r'quality score "faithfulness" for chat/gpt-4o fell 0\.\d\d from 0\.9\d to 0\.[56]\d over '
                    r"the last \d+ calls", out[0]), out[0]
    # results whose spans are not in the file: a series keyed by their suite and task
    assert re.search(r'FIRING   critical score\.rag +quality score "rag" for answer \(eval suite '
                     r'"rag"\) fell 0\.\d\d from 0\.8\d to 0\.[45]\d over the last \d+ results', out[1]), out[1]
    assert out[2] == (f"{600 + filler} spans and 900 eval results read, 2 alerts fired, 0 resolved; "
                      "2 still firing at the end of the file")


def test_late_score_alerts_as_jsonl(tmp_path, capsys) -> None:
    lines = _judged_recording()
    path = _write(tmp_path / "judged.jsonl", lines)
    assert main(["alerts", str(path), "--format", "jsonl"]) == 0
    envs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    p = envs[0]["payload"]
    assert p["metric"] == "score.faithfulness" and p["series"] == {"operation": "chat", "model": "gpt-4o"}
    scored = {m["payload"]["span_id"] for m in lines if m["type"] == "trace.span"}
    assert p["evidence"] and set(p["evidence"]) <= scored
    # since_ns: the judge's timestamp of (about) the first falling score
    judged = [m["timestamp_ns"] for m in lines
              if m["type"] == "eval.result" and m["payload"].get("name") == "faithfulness"]
    index = min(range(len(judged)), key=lambda i: abs(judged[i] - p["since_ns"]))
    assert abs(index - 300) <= 10
    assert envs[1]["payload"]["series"] == {"suite": "rag", "task": "answer"}
