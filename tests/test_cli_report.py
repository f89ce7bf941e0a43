"""``mist report`` against a hand-computed fixture, plus input handling and the CLI contract.

tests/data/report_fixture.jsonl holds three runs (the numbers below are worked out by hand from it):

trace a…: agent.run [0, 4000 ms] with
  step 0: agent.step [0, 600]; chat gpt-4o-mini 1000→200 tok (400 cache read) $0.00027 500 ms
  step 1: agent.step [600, 1900]; chat retry 0 ERROR 1200→0 $0.00018 300 ms;
          chat retry 1 1200→300 $0.00036 700 ms; tool.search [1630, 1750] (no attrs: inherits step 1,
          latency from the timestamps = 120 ms)
  step 2: agent.step ERROR [1900, 3900]; chat claude 2000→500 (1000 cache write, 100 reasoning)
          $0.0135 1500 ms
trace b…: agent.run [5000, 8000]; chat local-llama unpriced 500→100 250 ms step 0;
  chat gpt retry 0 800→400 $0.00036 1000 ms step 1; chat gpt retry 1 900→100 $0.000195 800 ms step 1;
  chat mystery-model 100→50, no cost_usd (=> unpriced) 500 ms step 2
trace c…: agent.run ERROR [9000, 9500]; chat gpt 100→10 $0.000021 400 ms step 0
plus an alert, an eval.result, a blank line, a line that is not JSON and a torn last line.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import sys
from pathlib import Path

import pytest

from mist.cli import main
from mist.cli._tracefile import Reader, Span, iter_spans, picos

DATA = Path(__file__).parent / "data"
FIXTURE = str(DATA / "report_fixture.jsonl")
A, B, C = "a" * 32, "b" * 32, "c" * 32


def report_json(capsys, *args: str) -> dict:
    assert main(["report", FIXTURE, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def rows(rep: dict) -> dict:
    return {r["group"]: r for r in rep["groups"]}


# ---------------------------------------------------------------------------------------------
# numbers, by hand


def test_headline_matches_hand_computation(capsys):
    rep = report_json(capsys)
    s = rep["summary"]
    assert s["spans"] == 16
    assert s["traces"] == 3
    # 0.00027 + 0.00018 + 0.00036 + 0.0135 + 0.00036 + 0.000195 + 0.000021
    assert s["cost_usd"] == 0.014886
    assert s["cost_per_trace_usd"] == 0.004962  # 0.014886 / 3
    assert s["priced_spans"] == 7
    assert s["unpriced_spans"] == 2  # unpriced: true, and tokens without cost_usd
    assert s["errors"] == 3
    assert s["retries"] == 2
    assert (s["tokens_in"], s["tokens_out"]) == (7800, 1660)
    assert (s["tokens_cache_read"], s["tokens_cache_write"], s["tokens_reasoning"]) == (400, 1000, 100)
    assert s["failed_runs"] == 1 and s["failed_runs_cost_usd"] == 0.000021


def test_waste_counts_failed_subtrees_and_retried_away_attempts(capsys):
    w = report_json(capsys)["waste"]
    # failed: chat retry 0 of step 1 (1200 tok, $0.00018), the failed step 2 span and the chat under it
    # (2500 tok, $0.0135); retried away: trace b's chat retry 0 of step 1 (1200 tok, $0.00036), which
    # succeeded but was followed by retry 1. The failed root of trace c is a failed run, not waste.
    assert w["failed"] == {"spans": 3, "tokens": 3700, "cost_usd": 0.01368, "unpriced_spans": 0}
    assert w["retried"] == {"spans": 1, "tokens": 1200, "cost_usd": 0.00036, "unpriced_spans": 0}
    assert (w["spans"], w["tokens"], w["cost_usd"]) == (4, 4900, 0.01404)


def test_by_operation(capsys):
    rep = report_json(capsys)
    assert [r["group"] for r in rep["groups"]] == ["chat", "agent.run", "agent.step", "tool.search"]
    chat = rows(rep)["chat"]
    assert (chat["calls"], chat["errors"], chat["retries"]) == (9, 1, 2)
    assert (chat["tokens_in"], chat["tokens_out"], chat["tokens_cache_read"], chat["tokens_cache_write"],
            chat["tokens_reasoning"]) == (7800, 1660, 400, 1000, 100)
    assert (chat["cost_usd"], chat["priced"], chat["unpriced"]) == (0.014886, 7, 2)
    # sorted latencies 250 300 400 500 500 700 800 1000 1500: ranks ceil(.5*9)=5, ceil(.95*9)=9
    assert (chat["latency_ms_p50"], chat["latency_ms_p95"], chat["latency_ms_p99"]) == (500, 1500, 1500)
    run = rows(rep)["agent.run"]  # 4000, 3000 and 500 ms from the timestamps; one failed
    assert (run["calls"], run["errors"], run["latency_ms_p50"], run["latency_ms_p95"]) == (3, 1, 3000, 4000)
    step = rows(rep)["agent.step"]  # 600, 1300, 2000
    assert (step["calls"], step["errors"], step["latency_ms_p50"], step["latency_ms_p99"]) == (3, 1, 1300, 2000)
    tool = rows(rep)["tool.search"]
    assert (tool["calls"], tool["cost_usd"], tool["latency_ms_p50"]) == (1, 0.0, 120.0)


def test_by_model(capsys):
    rep = report_json(capsys, "--by", "model")
    assert [r["group"] for r in rep["groups"]] == [
        "claude-sonnet-4-5", "gpt-4o-mini", None, "local-llama", "mystery-model"]
    g = rows(rep)
    gpt = g["gpt-4o-mini"]
    assert (gpt["calls"], gpt["errors"], gpt["retries"], gpt["tokens_in"], gpt["tokens_out"]) == (6, 1, 2, 5200, 1010)
    assert gpt["cost_usd"] == 0.001386
    # 300 400 500 700 800 1000 -> p50 rank 3, p95 rank 6
    assert (gpt["latency_ms_p50"], gpt["latency_ms_p95"]) == (500, 1000)
    assert g["claude-sonnet-4-5"]["cost_usd"] == 0.0135
    assert (g["local-llama"]["unpriced"], g["local-llama"]["cost_usd"], g["local-llama"]["priced"]) == (1, 0.0, 0)
    assert g["mystery-model"]["unpriced"] == 1
    none = g[None]  # the 7 spans without a model: 3 roots, 3 steps, the tool call
    assert (none["calls"], none["errors"], none["latency_ms_p50"], none["latency_ms_p95"]) == (7, 2, 1300, 4000)


def test_by_step_inherits_the_step_of_the_parent(capsys):
    rep = report_json(capsys, "--by", "step")
    assert [r["group"] for r in rep["groups"]] == [0, 1, 2, None]
    g = rows(rep)
    assert (g[0]["calls"], g[0]["cost_usd"], g[0]["unpriced"], g[0]["tokens_in"], g[0]["tokens_out"]) == (
        4, 0.000291, 1, 1600, 310)
    assert (g[0]["latency_ms_p50"], g[0]["latency_ms_p95"]) == (400, 600)
    # step 1 includes the tool.search span that has no step attr of its own
    assert (g[1]["calls"], g[1]["errors"], g[1]["retries"], g[1]["cost_usd"]) == (6, 1, 2, 0.001095)
    assert (g[1]["latency_ms_p50"], g[1]["latency_ms_p95"]) == (700, 1300)
    assert (g[2]["calls"], g[2]["errors"], g[2]["cost_usd"], g[2]["unpriced"]) == (3, 1, 0.0135, 1)
    assert (g[None]["calls"], g[None]["latency_ms_p50"]) == (3, 3000)


def test_by_trace(capsys):
    rep = report_json(capsys, "--by", "trace")
    assert [r["group"] for r in rep["groups"]] == [A, B, C]
    g = rows(rep)
    assert (g[A]["calls"], g[A]["errors"], g[A]["retries"], g[A]["cost_usd"]) == (9, 2, 1, 0.01431)
    # 120 300 500 600 700 1300 1500 2000 4000 -> rank 5 and rank 9
    assert (g[A]["latency_ms_p50"], g[A]["latency_ms_p95"]) == (700, 4000)
    assert (g[B]["cost_usd"], g[B]["unpriced"], g[B]["latency_ms_p50"]) == (0.000555, 2, 800)
    assert (g[C]["cost_usd"], g[C]["latency_ms_p50"], g[C]["latency_ms_p95"]) == (0.000021, 400, 500)


def test_most_expensive_traces_and_steps(capsys):
    rep = report_json(capsys)
    assert [(t["trace_id"], t["cost_usd"], t["spans"], t["errors"]) for t in rep["top_traces"]] == [
        (A, 0.01431, 9, 2), (B, 0.000555, 5, 0), (C, 0.000021, 2, 1)]
    assert [(s["trace_id"], s["step"], s["cost_usd"], s["spans"], s["tokens"]) for s in rep["top_steps"]] == [
        (A, 2, 0.0135, 2, 2500), (B, 1, 0.000555, 2, 2200), (A, 1, 0.00054, 4, 2700),
        (A, 0, 0.00027, 2, 1200), (C, 0, 0.000021, 1, 110)]
    assert rep["top_steps"][2]["operations"] == ["chat", "tool.search", "agent.step"]


def test_input_accounting(capsys):
    inp = report_json(capsys)["input"]
    assert inp["lines"] == 20 and inp["blank"] == 1
    assert inp["undecodable"] == 1 and inp["torn"] == 1
    assert inp["other_types"] == {"eval.result": 1, "trace.alert": 1}


def test_table_output(capsys):
    assert main(["report", FIXTURE]) == 0
    out = capsys.readouterr().out
    assert "16 spans in 3 traces" in out
    # money: one precision per line or column, 3 significant digits for its smallest amount
    assert "total cost      $0.01489   ($0.00496 per trace)" in out
    assert "2 spans with tokens but no known price" in out
    assert "waste           $0.014040 and 4,900 tokens in 4 spans (failed $0.013680, retried away $0.000360)" in out
    assert "aaaaaaaaaaaaaaaa    $0.0143100  9 spans" in out and "cccccccccccccccc    $0.0000210  2 spans" in out
    assert "\x1b[" not in out  # not a terminal: no colour
    header = next(line for line in out.splitlines() if line.startswith("operation"))
    assert header.split() == ["operation", "calls", "errors", "retries", "in", "out", "cache_rd", "cache_wr",
                              "reason", "cost", "unpriced", "p50", "p95", "p99"]
    chat = next(line for line in out.splitlines() if line.startswith("chat "))
    assert chat.split() == ["chat", "9", "1", "2", "7,800", "1,660", "400", "1,000", "100", "$0.0149", "2",
                            "500.0ms", "1.50s", "1.50s"]
    tool = next(line for line in out.splitlines() if line.startswith("tool.search "))
    assert "  $0.0000  " in tool  # zero, in the column's precision


def test_csv_output(capsys):
    assert main(["report", FIXTURE, "--by", "model", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["model"] for r in table] == ["claude-sonnet-4-5", "gpt-4o-mini", "", "local-llama", "mystery-model"]
    gpt = table[1]
    assert (gpt["calls"], gpt["tokens_in"], gpt["cost_usd"], gpt["latency_ms_p95"]) == ("6", "5200", "0.001386", "1000")


def test_limit(capsys):
    assert main(["report", FIXTURE, "--by", "trace", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "… 2 more trace groups" in out


# ---------------------------------------------------------------------------------------------
# the hot path agrees with the shared span rules, in one process and split across processes


def _generated(tmp_path: Path, traces: int = 300, seed: int = 3) -> str:
    """Messy agent traces: missing/odd attrs, spans without steps, retries, errors, unpriced models."""
    rng = random.Random(seed)
    path = tmp_path / "gen.jsonl"
    out = []
    t = 1_767_225_600_000_000_000
    for n in range(traces):
        tid = "%032x" % rng.getrandbits(128)
        root = "%016x" % rng.getrandbits(64)
        t0 = t
        for step in range(rng.randint(1, 6)):
            sid = "%016x" % rng.getrandbits(64)
            s0 = t
            for attempt in range(rng.choice([1, 1, 1, 2, 3])):
                start, t = t, t + rng.randint(1, 900) * 1_000_000
                attrs = {"model": rng.choice(["m1", "m2", "unknown-model"]), "tokens_in": rng.randint(0, 5000),
                         "tokens_out": rng.randint(0, 900), "retry": attempt}
                if rng.random() < 0.5:
                    attrs["step"] = step  # otherwise inherited from the step span
                if attrs["model"] != "unknown-model":
                    attrs["cost_usd"] = round(rng.random() / 100, 7)
                elif rng.random() < 0.5:
                    attrs["unpriced"] = True
                if rng.random() < 0.7:
                    attrs["latency_ms"] = round((t - start) / 1e6 * rng.uniform(0.9, 1.0), 3)
                if rng.random() < 0.2:
                    attrs["tokens_cache_read"] = rng.randint(0, attrs["tokens_in"])
                if rng.random() < 0.05:
                    attrs["tokens_in"] = "lots"  # a bad value: counted as 0, never a crash
                status = "error" if rng.random() < 0.15 else "ok"
                out.append({"trace_id": tid, "span_id": "%016x" % rng.getrandbits(64), "parent_id": sid,
                            "operation": rng.choice(["chat", "chat", "embed"]), "start_ns": start, "end_ns": t,
                            "status": status, "attrs": attrs})
            out.append({"trace_id": tid, "span_id": sid, "parent_id": root, "operation": "agent.step",
                        "start_ns": s0, "end_ns": t, "status": "ok", "attrs": {"step": step}})
        out.append({"trace_id": tid, "span_id": root, "operation": "agent.run", "start_ns": t0, "end_ns": t,
                    "status": "error" if n % 17 == 0 else "ok"})
        t += 5_000_000
    with open(path, "w") as fh:
        for i, p in enumerate(out):
            fh.write(json.dumps({"version": "1", "id": "%032x" % i, "source": "t", "type": "trace.span",
                                 "timestamp_ns": p["end_ns"], "payload": p}) + "\n")
    return str(path)


def _reference(path: str, by: str) -> dict:
    """Group totals computed the slow, obvious way from Span objects (steps inherited by walking
    up the parent chain of each trace)."""
    with Reader(path) as reader:
        spans = [s for kind, s, _ in iter_spans(reader) if kind == "trace.span"]
    by_id = {(s.trace_id, s.span_id): s for s in spans}

    def step_of(s: Span):
        seen = 0
        while s is not None and seen < 300:
            if s.step is not None:
                return s.step
            if s.parent_id is None:
                return None
            s = by_id.get((s.trace_id, s.parent_id))
            seen += 1
        return None

    ref: dict = {}
    for s in spans:
        key = {"operation": s.operation, "model": s.model, "step": step_of(s) if s.parent_id else s.step}[by]
        r = ref.setdefault(key, {"calls": 0, "errors": 0, "retries": 0, "tokens_in": 0, "tokens_out": 0,
                                 "tokens_cache_read": 0, "picos": 0, "priced": 0, "unpriced": 0, "lat": []})
        r["calls"] += 1
        r["errors"] += s.error
        r["retries"] += s.retry >= 1
        r["tokens_in"] += s.tokens_in
        r["tokens_out"] += s.tokens_out
        r["tokens_cache_read"] += s.tokens_cache_read
        if s.cost is not None:
            r["picos"] += picos(s.cost)
            r["priced"] += 1
        r["unpriced"] += s.unpriced
        if s.latency_ms is not None:
            r["lat"].append(s.latency_ms)
    return ref


@pytest.mark.parametrize("by", ["operation", "model", "step"])
def test_hot_path_agrees_with_span_rules(tmp_path, capsys, by):
    import math

    path = _generated(tmp_path)
    rep = report_json_for(capsys, path, "--by", by, "--jobs", "1")
    ref = _reference(path, by)
    assert set(rows(rep)) == set(ref)
    for key, r in ref.items():
        got = rows(rep)[key]
        lat = sorted(r["lat"])
        assert got["calls"] == r["calls"], key
        assert got["errors"] == r["errors"]
        assert got["retries"] == r["retries"]
        assert (got["tokens_in"], got["tokens_out"], got["tokens_cache_read"]) == (
            r["tokens_in"], r["tokens_out"], r["tokens_cache_read"])
        assert got["cost_usd"] == r["picos"] / 10 ** 12
        assert (got["priced"], got["unpriced"]) == (r["priced"], r["unpriced"])
        assert got["latency_ms_p50"] == lat[math.ceil(0.5 * len(lat)) - 1]
        assert got["latency_ms_p95"] == lat[math.ceil(0.95 * len(lat)) - 1]


@pytest.mark.skipif(not hasattr(os, "fork") or not sys.platform.startswith("linux"), reason="needs os.fork")
def test_worker_processes_give_identical_results(tmp_path, capsys):
    path = _generated(tmp_path, traces=400, seed=11)
    for by in ("operation", "step", "trace"):
        one = report_json_for(capsys, path, "--by", by, "--jobs", "1")
        two = report_json_for(capsys, path, "--by", by, "--jobs", "2")
        three = report_json_for(capsys, path, "--by", by, "--jobs", "3")
        assert one == two == three


def report_json_for(capsys, path: str, *args: str) -> dict:
    assert main(["report", path, "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_mist_go_canonical_file_is_reported(capsys):
    """Real mist-go output: odd models, negative costs, spans with no ids in common; no crash."""
    path = str(DATA / "mist-go-canonical.jsonl")
    rep = report_json_for(capsys, path)
    with Reader(path) as reader:
        spans = [s for kind, s, _ in iter_spans(reader) if kind == "trace.span"]
    assert rep["summary"]["spans"] == len(spans)
    assert rep["summary"]["cost_usd"] == sum(picos(s.cost) for s in spans if s.cost is not None) / 10 ** 12
    assert rep["summary"]["unpriced_spans"] == sum(s.unpriced for s in spans)
    assert rep["input"]["undecodable"] == 0


# ---------------------------------------------------------------------------------------------
# input handling


def test_gzip_and_stdin_give_the_same_report(tmp_path, capsys, monkeypatch):
    import gzip

    plain = report_json(capsys)
    gz = tmp_path / "f.jsonl.gz"
    gz.write_bytes(gzip.compress(Path(FIXTURE).read_bytes()))
    zipped = report_json_for(capsys, str(gz))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(Path(FIXTURE).read_bytes())))
    piped = report_json_for(capsys, "-")
    for rep in (zipped, piped):
        assert rep["summary"] == plain["summary"] and rep["groups"] == plain["groups"]


def test_crlf_bom_and_invalid_utf8_are_tolerated(tmp_path, capsys):
    raw = Path(FIXTURE).read_bytes().replace(b"\n", b"\r\n")
    raw = b"\xef\xbb\xbf" + raw.replace(b"fixture", b"fix\xfft\xc3ure", 1)
    path = tmp_path / "messy.jsonl"
    path.write_bytes(raw)
    rep = report_json_for(capsys, str(path))
    assert rep["summary"]["spans"] == 16 and rep["summary"]["cost_usd"] == 0.014886


def test_empty_file_reports_nothing(tmp_path, capsys):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert main(["report", str(path)]) == 0
    assert "no trace.span lines" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["report", "/nonexistent/x.jsonl"], "no such file"),
    (["report", "{tmp}"], "no trace files in"),  # a directory: its trace files (here none)
    (["report", "{garbage}"], "no line is an MTTP JSON envelope"),
    (["report", "{fixture}", "--by", "color"], "invalid choice"),
    (["report", "{fixture}", "--format", "xml"], "invalid choice"),
    (["report", "{fixture}", "--limit", "-1"], "--limit"),
    (["report", "{fixture}", "--no-such-flag"], "unrecognized arguments"),
    (["report"], "required"),
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 40)
    argv = [a.format(tmp=tmp_path, garbage=garbage, fixture=FIXTURE) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mist: ") and err.count("\n") == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "mist report traces.jsonl --by model" in out
    assert "nearest-rank" in out


# ---------------------------------------------------------------------------------------------
# for people: progress and colour only on a terminal


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_for_big_inputs():
    from mist.cli._tracefile import Progress

    tty = _Terminal()
    p = Progress("reading big.jsonl", 100 << 20, stream=tty)
    assert p.enabled
    p.update(50 << 20)
    p.done()
    shown = tty.getvalue()
    assert shown.startswith("\rreading big.jsonl:  50.0% of 105 MB") and shown.endswith("\r")
    assert not Progress("small", 1000, stream=_Terminal()).enabled
    late = Progress("medium", 8 << 20, stream=_Terminal())  # shown only once a second has passed
    assert late.enabled
    late.update(1 << 20)
    assert late.stream.getvalue() == ""
    assert not Progress("piped", 100 << 20, stream=io.StringIO()).enabled


def test_colour_on_a_terminal_unless_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    assert main(["report", FIXTURE]) == 0
    assert "\x1b[1m" in term.getvalue()  # bold header
    monkeypatch.setenv("NO_COLOR", "1")
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    assert main(["report", FIXTURE]) == 0
    assert "\x1b[" not in term.getvalue()
