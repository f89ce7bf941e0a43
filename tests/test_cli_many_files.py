"""Reading commands over several files, directories and glob patterns (issue 19, item 2).

A demo trace is split into consecutive pieces (some gzipped, with rotated names, so runs span
files); every command must print on the pieces what it prints on the one file, which is their
concatenation in the documented order (by name, rotations oldest first)."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import List

import pytest

from mist.cli import main
from mist.cli._inputs import expand

# the pieces, in the order a directory listing must give them back (oldest rotation first)
PIECES = ["app.jsonl.3.gz", "app.jsonl.2", "app.jsonl.1.gz", "app.jsonl"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("many")
    whole = root / "whole.jsonl"
    assert main(["demo", "--out", str(whole)]) == 0
    lines = whole.read_bytes().splitlines(keepends=True)
    logs = root / "logs"
    logs.mkdir()
    cuts = [0, len(lines) // 5, len(lines) // 2, (len(lines) * 4) // 5, len(lines)]
    for name, lo, hi in zip(PIECES, cuts, cuts[1:]):
        data = b"".join(lines[lo:hi])
        (logs / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    (logs / ".hidden.jsonl").write_bytes(lines[0])  # skipped: hidden
    (logs / "notes.txt").write_text("not a trace\n")  # skipped: not a trace name
    return root


def _pieces(demo: Path) -> List[str]:
    return [str(demo / "logs" / n) for n in PIECES]


def _run(capsys, argv: List[str], code: int = 0) -> str:
    capsys.readouterr()
    assert main(argv) == code, capsys.readouterr().err
    return capsys.readouterr().out


def _inputs(demo: Path) -> List[List[str]]:
    """The same data given as files, a directory and a quoted glob pattern."""
    return [_pieces(demo), [str(demo / "logs")], [str(demo / "logs" / "app.jsonl*")]]


def test_directory_and_glob_expand_in_rotation_order(demo):
    assert expand([str(demo / "logs")], "report") == _pieces(demo)
    assert expand([str(demo / "logs" / "app.jsonl*")], "report") == _pieces(demo)
    # a file named twice is read once
    twice = _pieces(demo) + [str(demo / "logs" / "app.jsonl")]
    assert expand(twice, "report") == _pieces(demo)


def test_dated_and_numbered_rotations_sort_oldest_first(tmp_path):
    names = ["b.jsonl", "a.jsonl.10", "a.jsonl-20261207", "a.jsonl.2.gz", "a.jsonl", "a.jsonl-20261206.gz",
             "a.jsonl.1", "c.ndjson.1", "c.ndjson"]
    for n in names:
        (tmp_path / n).write_text("")
    got = [os.path.basename(p) for p in expand([str(tmp_path)], "report")]
    assert got == ["a.jsonl.10", "a.jsonl.2.gz", "a.jsonl.1", "a.jsonl-20261206.gz", "a.jsonl-20261207",
                   "a.jsonl", "b.jsonl", "c.ndjson.1", "c.ndjson"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_report_equals_the_concatenated_file(demo, capsys, jobs):
    one = json.loads(_run(capsys, ["report", str(demo / "whole.jsonl"), "--format", "json", "--by", "trace"]))
    for inputs in _inputs(demo):
        many = json.loads(_run(capsys, ["report", *inputs, "--format", "json", "--by", "trace", "--jobs", jobs]))
        assert many.pop("file").endswith("(+3 more)")
        one_ = dict(one)
        one_.pop("file")
        assert many == one_


def test_report_by_step_and_table(demo, capsys):
    for by in ("operation", "model", "step"):
        one = _run(capsys, ["report", str(demo / "whole.jsonl"), "--by", by, "--format", "csv"])
        assert _run(capsys, ["report", str(demo / "logs"), "--by", by, "--format", "csv"]) == one


def test_replay_equals_the_concatenated_file(demo, capsys):
    one = _run(capsys, ["replay", str(demo / "whole.jsonl")])
    assert one.strip()
    for inputs in _inputs(demo):
        assert _run(capsys, ["replay", *inputs]) == one
    # a run by id prefix, the one the report ranks most expensive
    rep = json.loads(_run(capsys, ["report", str(demo / "whole.jsonl"), "--format", "json"]))
    tid = rep["top_traces"][0]["trace_id"][:12]
    one = _run(capsys, ["replay", str(demo / "whole.jsonl"), "--trace", tid, "--full"])
    assert _run(capsys, ["replay", str(demo / "logs"), "--trace", tid, "--full"]) == one


def test_alerts_equal_the_concatenated_file(demo, capsys):
    one = _run(capsys, ["alerts", str(demo / "whole.jsonl")])
    assert "alert" in one
    for inputs in _inputs(demo):
        assert _run(capsys, ["alerts", *inputs]) == one


def test_tail_equals_the_concatenated_file(demo, capsys):
    for n in ("1", "25", "1000", "all"):
        one = _run(capsys, ["tail", str(demo / "whole.jsonl"), "-n", n])
        for inputs in _inputs(demo):
            assert _run(capsys, ["tail", *inputs, "-n", n]) == one, n


def test_view_page_equals_the_concatenated_file(demo, capsys):
    whole = str(demo / "whole.jsonl")
    one = _run(capsys, ["view", whole, "-o", "-"]).replace(whole, "NAME").replace("whole.jsonl", "NAME")
    pieces = _pieces(demo)
    many = _run(capsys, ["view", str(demo / "logs"), "-o", "-"])
    many = many.replace(f"{pieces[0]} (+3 more)", "NAME").replace("app.jsonl.3.gz (+3 more)", "NAME")
    assert "<!DOCTYPE" in many and many == one


def test_validate_checks_each_file_in_order(demo, capsys):
    one = json.loads(_run(capsys, ["validate", str(demo / "whole.jsonl"), "--format", "json"]))
    many = json.loads(_run(capsys, ["validate", str(demo / "logs"), "--format", "json"]))
    assert [f["file"] for f in many["files"]] == _pieces(demo)
    for key in ("lines", "valid", "invalid", "errors_by_kind"):
        assert many[key] == one[key]


@pytest.mark.parametrize("argv, needle", [
    (["report", "{tmp}/missing.jsonl"], "cannot read {tmp}/missing.jsonl: no such file"),
    (["replay", "{tmp}/empty"], "replay: no trace files in {tmp}/empty"),
    (["report", "{tmp}/empty/*.jsonl"], "report: no trace files match {tmp}/empty/*.jsonl"),
    (["alerts", "-", "{tmp}/a.jsonl"], "'-' (stdin) cannot be mixed"),
    (["tail", "{tmp}/a.jsonl", "{tmp}/b.jsonl", "--follow"], "--follow follows one file"),
    (["view", "{tmp}/a.jsonl", "{tmp}/missing.jsonl"], "no such file"),
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a.jsonl").write_text("")
    (tmp_path / "b.jsonl").write_text("")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mist: ") and err.count("\n") == 1, err
    assert needle.format(tmp=tmp_path) in err, err
