"""``mist tail``: one line per message; ``--follow`` across appends, partial lines, truncation and
rotation, stopped with Ctrl-C (SIGINT) like a person would (a real subprocess)."""
from __future__ import annotations

import gzip
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mist
from mist.cli import main
from mist.cli._tracefile import Palette, use_color
from mist.cli.tail import Formatter

DATA = Path(__file__).parent / "data"
FIXTURE = str(DATA / "report_fixture.jsonl")
T = 1_767_225_600_000_000_000


def span_line(i: int, **attrs) -> str:
    p = {"trace_id": "%032x" % 7, "span_id": "%016x" % (i + 1), "operation": attrs.pop("op", f"op{i}"),
         "start_ns": T + i * 1_000_000, "end_ns": T + i * 1_000_000 + 250_000_000, "status": attrs.pop("status", "ok")}
    if attrs:
        p["attrs"] = attrs
    return json.dumps({"version": "1", "id": "%032x" % i, "source": "t", "type": "trace.span",
                       "timestamp_ns": p["end_ns"], "payload": p}) + "\n"


def alert_line(msg: str) -> str:
    return json.dumps({"version": "1", "id": "f" * 32, "source": "t", "type": "trace.alert", "timestamp_ns": T,
                       "payload": {"level": "critical", "metric": "latency_ms", "value": 900, "threshold": 500,
                                   "message": msg, "state": "firing"}}) + "\n"


# ---------------------------------------------------------------------------------------------
# without --follow


def test_last_lines_one_per_message(capsys):
    assert main(["tail", FIXTURE, "-n", "all"]) == 0
    cap = capsys.readouterr()
    lines = cap.out.splitlines()
    assert len(lines) == 18  # 16 spans, 1 alert, 1 eval result
    assert lines[0].split() == ["00:00:00.510", "chat", "gpt-4o-mini", "#0", "1,000→200", "$0.000270",
                                "500.0ms", "ok"]
    failed = next(line for line in lines if "RateLimitError" in line)
    assert failed.split()[:8] == ["00:00:00.910", "chat", "gpt-4o-mini", "#1", "1,200→0", "$0.000180", "300.0ms",
                                  "ERROR"]
    assert "RateLimitError: rate limited" in failed
    assert any("local-llama" in line and "unpriced" in line for line in lines)
    assert any(line.split()[1] == "tool.search" and "120.0ms" in line for line in lines)
    alert = next(line for line in lines if "ALERT" in line)
    assert "ALERT WARNING firing  cost_usd  value $0.000360 threshold $0.000300" in alert
    assert "[model=gpt-4o-mini, operation=chat]" in alert
    assert "EVAL  fixture/t1  FAILED  score 0.3  (faithfulness for span a5000000)" in lines[-1]
    assert "\x1b[" not in cap.out
    assert "2 undecodable line(s) skipped" in cap.err  # the non-JSON line and the torn last line


def test_default_is_last_ten_and_n_counts_lines(capsys):
    assert main(["tail", FIXTURE]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 8  # 10 lines, of which 2 are not JSON
    assert main(["tail", FIXTURE, "-n", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "agent.run" in out[0] and out[1].split()[1] == "EVAL"
    assert main(["tail", FIXTURE, "-n", "0"]) == 0
    assert capsys.readouterr().out == ""


def test_gzip_and_stdin(tmp_path, capsys, monkeypatch):
    import io

    assert main(["tail", FIXTURE, "-n", "all"]) == 0
    plain = capsys.readouterr().out
    gz = tmp_path / "f.jsonl.gz"
    gz.write_bytes(gzip.compress(Path(FIXTURE).read_bytes()))
    assert main(["tail", str(gz), "-n", "all"]) == 0
    assert capsys.readouterr().out == plain
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(Path(FIXTURE).read_bytes())))
    assert main(["tail", "-", "-n", "all"]) == 0
    assert capsys.readouterr().out == plain


def test_colours_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) is True
    assert use_color(open(os.devnull, "w")) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False
    fmt = Formatter(Palette(True))
    alert = fmt.line(json.loads(alert_line("p99 doubled")))
    assert alert.startswith("\x1b[31;1m") and "ALERT CRITICAL" in alert
    plain = Formatter(Palette(False)).line(json.loads(alert_line("p99 doubled")))
    assert "\x1b" not in plain


def test_control_characters_from_the_file_never_reach_the_terminal(capsys, tmp_path):
    path = tmp_path / "esc.jsonl"
    path.write_text(span_line(1, op="evil\x1b[2J\x07op", model="m\x1b]0;title\x07"))
    assert main(["tail", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "evil?[2J?op" in out


@pytest.mark.parametrize("argv, needle", [
    (["tail", "/nonexistent.jsonl"], "no such file"),
    (["tail", "{gz}", "--follow"], "cannot follow a .gz file"),
    (["tail", "{fixture}", "-n", "many"], "invalid count value"),
    (["tail", "{fixture}", "--interval", "0"], "--interval"),
    (["tail", "{dir}"], "no trace files in"),  # a directory: its trace files (here none)
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    gz = tmp_path / "f.jsonl.gz"
    gz.write_bytes(gzip.compress(b""))
    (tmp_path / "empty").mkdir()
    argv = [a.format(gz=gz, fixture=FIXTURE, dir=tmp_path / "empty") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mist: ") and err.count("\n") == 1 and needle in err, err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tail", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "mist tail traces.jsonl --follow" in out


# ---------------------------------------------------------------------------------------------
# --follow, in a real process


class Tail:
    """``mist tail PATH --follow`` in a subprocess, its stdout lines on a queue."""

    def __init__(self, path: Path, *args: str) -> None:
        env = dict(os.environ)
        pkg_root = str(Path(mist.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = pkg_root + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mist", "tail", str(path), "--follow", "--interval", "0.05", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, encoding="utf-8")
        self.lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, n: int, timeout: float = 10.0) -> list:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            try:
                got.append(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"expected {n} lines, got {got}") from None
        return got

    def quiet(self, seconds: float = 0.4) -> None:
        time.sleep(seconds)
        assert self.lines.empty(), self.lines.get_nowait()

    def interrupt(self) -> tuple:
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
def test_follow_appends_partial_lines_truncation_rotation_and_ctrl_c(tmp_path):
    path = tmp_path / "live.jsonl"
    path.write_text(span_line(0) + span_line(1) + span_line(2))
    tail = Tail(path, "-n", "2")
    try:
        first = tail.expect(2)
        assert [line.split()[1] for line in first] == ["op1", "op2"]

        with open(path, "a") as fh:
            fh.write(span_line(3, op="appended"))
        assert tail.expect(1)[0].split()[1] == "appended"

        half = span_line(4, op="in.two.writes")
        with open(path, "a") as fh:
            fh.write(half[:40])
        tail.quiet()  # an incomplete line is held back
        with open(path, "a") as fh:
            fh.write(half[40:])
        assert tail.expect(1)[0].split()[1] == "in.two.writes"

        with open(path, "a") as fh:
            fh.write(alert_line("p99 latency doubled"))
        assert "ALERT CRITICAL firing" in tail.expect(1)[0]

        with open(path, "w") as fh:  # truncated and rewritten, shorter than before
            fh.write(span_line(5, op="after.truncate"))
        assert tail.expect(1)[0].split()[1] == "after.truncate"

        with open(path, "a") as fh:  # rotated: the old file gets one last line, then a new file appears
            fh.write(span_line(6, op="last.in.old"))
        os.rename(path, tmp_path / "live.jsonl.1")
        path.write_text(span_line(7, op="first.in.new"))
        got = tail.expect(2)
        assert [line.split()[1] for line in got] == ["last.in.old", "first.in.new"]

        with open(path, "a") as fh:
            fh.write(span_line(8, op="still.following", status="error"))
        assert "ERROR" in tail.expect(1)[0]
        tail.quiet(0.2)
    finally:
        rc, err = tail.interrupt()
    assert rc == 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "truncated" in err and "rotated" in err
