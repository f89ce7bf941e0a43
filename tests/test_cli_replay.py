"""``mist replay`` on a fixture built to have a score drop at step 2 and a first failure at step 3.

tests/data/replay_fixture.jsonl, run 2222aaaa… (times in ms from the run's start at 10 s):
  step 0 chat   +0.010  relevance 0.9   $0.0002   (input/output captured)
  step 1 chat   +1.010  relevance 0.95  $0.0003;  tool.search +2.000 (object input, long output)
  step 2 chat   +3.010  relevance 0.6   $0.004    <- first score drop (0.95 -> 0.6)
  step 3 chat   +5.010  ERROR BadRequestError $0.001 <- first error (the step span fails later)
         chat   +6.100  retry 1 $0.002
  step 4 chat   +8.010  relevance 0.7   $0.003
  run total $0.0105; from the failure on: 0.001 + 0.002 + 0.003 = $0.006 (57%);
  from the score drop on: 0.004 + 0.006 = $0.010 (95%).
Run 2222bbbb… ends last (at 31 s) although it is written before; run 1111… ended long before.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mist.cli import main
from mist.cli._tracefile import Span
from mist.cli.replay import Run, load_trace

DATA = Path(__file__).parent / "data"
FIXTURE = str(DATA / "replay_fixture.jsonl")
TARGET = "2222aaaa" + "0" * 24
RECENT = "2222bbbb" + "0" * 24


def replay(capsys, *args: str) -> str:
    assert main(["replay", FIXTURE, *args]) == 0
    return capsys.readouterr().out


def span_lines(out: str):
    return [line for line in out.splitlines() if "+" in line[:12] and "s  " in line]


def test_marks_first_error_and_first_score_drop(capsys):
    out = replay(capsys, "--trace", "2222a")
    lines = out.splitlines()
    assert lines[0].startswith(f"trace {TARGET}  agent.run  2026-01-01 00:00:10.000 UTC  13 spans  $0.010500  10.00s  2 errors")
    marked = [line for line in span_lines(out) if line[:2].strip()]
    assert len(marked) == 2
    drop, err = marked
    assert drop.startswith("↓") and "+3.010s" in drop and "chat claude-sonnet-4-5  step 2" in drop
    assert "relevance=0.6" in drop
    assert err.startswith("✗") and "+5.010s" in err and "step 3" in err
    assert "ERROR BadRequestError: context length exceeded" in err and "retry" not in err
    # the step span that failed afterwards is not the one marked
    step3 = next(line for line in lines if "agent.step  step 3" in line)
    assert not step3[:2].strip() and "ERROR StepError" in step3
    summary = out[out.index("\n✗ first error"):]
    assert ("✗ first error: +5.010s chat (gpt-4o-mini) step 3 span 00000000: "
            "BadRequestError: context length exceeded") in out
    assert "  $0.006000 was spent from there on (57% of the run's $0.010500)" in summary
    assert "↓ first score drop: +3.010s chat (claude-sonnet-4-5) step 2 span 00000000: relevance fell 0.95 → 0.6" in out
    assert "  $0.010000 was spent from there on (95% of the run's $0.010500)" in out


def test_tree_is_indented_in_time_order(capsys):
    out = replay(capsys, "--trace", TARGET)
    lines = span_lines(out)
    offsets = [float(line[2:11].strip().lstrip("+").rstrip("s")) for line in lines]
    assert offsets == sorted(offsets)
    assert lines[0].split()[1] == "agent.run"
    assert "├─ agent.step  step 0" in lines[1]
    assert "│  └─ chat gpt-4o-mini  step 0  1,000→100 tok  $0.000200  890.0ms  relevance=0.9" in lines[2]
    assert "└─ agent.step  step 4" in lines[-2]
    assert "   └─ chat gpt-4o-mini  step 4" in lines[-1]
    retry = next(line for line in lines if "retry 1" in line)
    assert "4,000→300 tok  $0.002000  1.80s" in retry


def test_captured_content_is_one_line_unless_full(capsys):
    out = replay(capsys, "--trace", TARGET)
    assert "in:  What is the capital of France?" in out
    assert "out: Paris." in out
    assert 'in:  {"q":"Paris population"}' in out
    long_out = next(line for line in out.splitlines() if "out: Paris is the capital" in line)
    assert long_out.endswith("…")
    assert "Second paragraph" not in out
    full = replay(capsys, "--trace", TARGET, "--full")
    assert "Second paragraph: population 2.1 million." in full
    assert '"q": "Paris population"' in full  # objects pretty-printed in full


def test_default_is_the_most_recent_run_not_the_last_written(capsys):
    out = replay(capsys)
    assert out.startswith(f"trace {RECENT}")
    assert "first error: none" in out and "first score drop: none" in out


def test_late_eval_scores_count(tmp_path, capsys):
    path = tmp_path / "late.jsonl"
    extra = {"version": "1", "id": "e" * 32, "source": "t", "type": "eval.result", "timestamp_ns": 1,
             "payload": {"suite": "s", "task": "t", "passed": False, "score": 0.2, "baseline_score": 0.9,
                         "delta": -0.7, "duration_ms": 1, "trace_id": TARGET,
                         "span_id": "%016x" % 0x2002, "name": "faithfulness"}}
    path.write_text(Path(FIXTURE).read_text() + json.dumps(extra) + "\n")
    assert main(["replay", str(path), "--trace", "2222a"]) == 0
    out = capsys.readouterr().out
    assert "faithfulness=0.2" in out
    assert "first score drop: +0.010s chat (gpt-4o-mini) step 0" in out
    assert "faithfulness 0.2 is below 0.5" in out


def test_score_rule_decrease_or_below_half():
    def span(sid, end, **scores):
        return Span.from_payload({"trace_id": "f" * 32, "span_id": sid, "operation": "x", "start_ns": end - 1,
                                  "end_ns": end, "status": "ok",
                                  "attrs": {f"score.{k}": v for k, v in scores.items()}})
    # a 0..10 scale: 3 is not "below 0.5"; a later decrease is
    run = Run("f" * 32, [span("1", 10, stars=3), span("2", 20, stars=7), span("3", 30, stars=6)])
    assert run.first_drop.span.span_id == "3"
    # a 0..1 scale: the first value below 0.5 counts even with nothing before it
    run = Run("f" * 32, [span("1", 10, acc=0.4), span("2", 20, acc=0.3)])
    assert run.first_drop.span.span_id == "1"
    assert Run("f" * 32, [span("1", 10, acc=0.6), span("2", 20, acc=0.6)]).first_drop is None


def test_load_trace_by_prefix_and_parent_cycles(tmp_path):
    run = load_trace(FIXTURE, "2222A")  # case-insensitive
    assert run.trace_id == TARGET and len(run.spans) == 13
    path = tmp_path / "cycle.jsonl"
    lines = []
    for sid, parent in (("a1", "a2"), ("a2", "a1"), ("a3", None)):
        p = {"trace_id": "d" * 32, "span_id": sid, "operation": "op", "start_ns": 1, "end_ns": 2, "status": "ok"}
        if parent:
            p["parent_id"] = parent
        lines.append(json.dumps({"version": "1", "id": "0" * 32, "source": "t", "type": "trace.span",
                                 "timestamp_ns": 2, "payload": p}))
    path.write_text("\n".join(lines) + "\n")
    run = load_trace(str(path), "dd")
    assert sorted(n.span.span_id for n in run.order) == ["a1", "a2", "a3"]


@pytest.mark.parametrize("argv, needle", [
    (["replay", "{fixture}", "--trace", "2222"], "matches 2 traces"),
    (["replay", "{fixture}", "--trace", "ffff"], "no trace id starting with 'ffff'"),
    (["replay", "{fixture}", "--trace", "xyz"], "expected hex characters"),
    (["replay", "/nonexistent.jsonl"], "no such file"),
    (["replay", "{empty}"], "no trace.span lines"),
    (["replay", "{fixture}", "--bogus"], "unrecognized arguments"),
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    argv = [a.format(fixture=FIXTURE, empty=empty) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mist: ") and err.count("\n") == 1 and needle in err, err


def test_help_has_examples_and_the_rule(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["replay", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--trace 6513270e" in out and "below" in out and "0.5" in out
