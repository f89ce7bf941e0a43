"""mist.validate and `mist validate`: real traces are valid, each kind of mistake is reported at the
right JSON pointer, hostile lines are errors (never crashes), and the native and pure-Python
validators give identical error lists."""
from __future__ import annotations

import gzip
import importlib
import io
import json
import math
import subprocess
import sys

import pytest

from conftest import DATA, ROOT

import mist
import mist.codec.strictjson as sj
from mist.validation import generated as _validate_gen
from mist.cli import main as cli_main

V = importlib.import_module("mist.validation")
SHARED = ROOT.parent / "shared" / "compat"


def _native():
    try:
        from mist import _native
    except ImportError:  # pragma: no cover
        return None
    return _native if hasattr(_native, "validate_line") else None


NATIVE = _native()
needs_native = pytest.mark.skipif(NATIVE is None, reason="native extension not built")


def engines():
    out = {"python": V.python_check_line}
    if NATIVE is not None:
        out["native"] = NATIVE.validate_line
    return out


def check_both(line: bytes):
    """The error list of a line, asserting every engine of this build gives the same list."""
    results = {name: fn(line) for name, fn in engines().items()}
    first = next(iter(results.values()))
    for name, r in results.items():
        assert r == first, (name, line[:200], results)
    return first


def span() -> dict:
    return {
        "version": "1", "id": "445f093505070c89b3832caa57833f65", "source": "svc", "type": "trace.span",
        "timestamp_ns": 1743635317331776148,
        "payload": {"trace_id": "8bf5c97d2d2a313e4f95957818a7b3ed", "span_id": "ca492f2b8a67697c",
                    "parent_id": "83de17bd7a25e0a9", "operation": "chat", "start_ns": 1, "end_ns": 2,
                    "status": "ok", "attrs": {"model": "gpt-4o-mini", "tokens_in": 5, "tokens_out": 1,
                                              "cost_usd": 0.0001, "score.relevance": 0.5}},
    }


def alert() -> dict:
    return {"version": "1", "id": "c2ce30b88bfea08f03852dde483ef826", "source": "svc", "type": "trace.alert",
            "timestamp_ns": 1, "payload": {"level": "warning", "metric": "latency_ms", "value": 1.5, "threshold": 1,
                                           "message": "slow", "state": "firing", "series": {"model": "m"},
                                           "evidence": ["ca492f2b8a67697c"], "since_ns": 5}}


def evalres() -> dict:
    return {"version": "1", "id": "c2ce30b88bfea08f03852dde483ef826", "source": "svc", "type": "eval.result",
            "timestamp_ns": 1, "payload": {"suite": "s", "task": "t", "passed": True, "score": 1, "baseline_score": 0.5,
                                           "delta": 0.5, "duration_ms": 12}}


def dumps(m) -> bytes:
    return json.dumps(m, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# real traces

@pytest.mark.parametrize("name", ["mist-go-canonical.jsonl", "mist-go-vectors.jsonl"])
def test_test_data_copies_match_the_shared_compat_files(name):
    """tests/data holds copies so the suite is self-contained; where ../shared exists, they match."""
    if not (SHARED / name).exists():
        pytest.skip("../shared/compat is not next to this checkout")
    assert (DATA / name).read_bytes() == (SHARED / name).read_bytes()


@pytest.mark.parametrize("path", sorted(DATA.glob("mist-go-*.jsonl")), ids=lambda p: p.name)
def test_every_compat_line_is_valid_on_every_engine(path):
    lines = [ln.rstrip(b"\n") for ln in path.read_bytes().splitlines(True)]
    assert lines
    check = V.jsonschema_engine()
    for line in lines:
        assert check_both(line) == [], line[:200]
        assert check(line) == [], line[:200]


def test_every_json_object_line_in_the_test_data_is_valid():
    """Other fixtures may be deliberately messy (blank, torn lines); every line that decodes to an
    object must still be a valid envelope."""
    n = 0
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_bytes().split(b"\n"):
            try:
                value = sj.decode(line)
            except sj.DecodeError:
                continue
            if isinstance(value, dict):
                n += 1
                assert check_both(line) == [], (path.name, line[:200])
    assert n >= 300


def test_the_three_payload_types_are_valid():
    for m in (span(), alert(), evalres()):
        assert check_both(dumps(m)) == []
        assert mist.validate(m) == [] and mist.validate(dumps(m)) == [] and mist.validate(dumps(m).decode()) == []


# ---------------------------------------------------------------------------------------------
# each mutation class, with its pointer

def _set(path, value):
    def f(m):
        d = m
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return f


def _del(path):
    def f(m):
        d = m
        for k in path[:-1]:
            d = d[k]
        del d[path[-1]]
    return f


MUTATIONS = [
    # (name, base, mutate, [(pointer, kind, message-or-None)])
    ("tokens_in negative", span, _set(["payload", "attrs", "tokens_in"], -3),
     [("/payload/attrs/tokens_in", "range", "expected a non-negative integer, got -3")]),
    ("tokens_out float", span, _set(["payload", "attrs", "tokens_out"], 1.5),
     [("/payload/attrs/tokens_out", "type", "expected a non-negative integer, got 1.5")]),
    ("integral float is an integer", span, _set(["payload", "attrs", "tokens_out"], 3.0), []),
    ("status enum", span, _set(["payload", "status"], "maybe"),
     [("/payload/status", "enum", 'expected one of "ok", "error", got "maybe"')]),
    ("missing trace_id", span, _del(["payload", "trace_id"]),
     [("/payload/trace_id", "required", "missing required field")]),
    ("missing envelope id", span, _del(["id"]), [("/id", "required", "missing required field")]),
    ("uppercase id", span, _set(["id"], "445F093505070C89B3832CAA57833F65"),
     [("/id", "pattern", 'expected 32 lowercase hex characters, got "445F093505070C89B3832CAA57833F65"')]),
    ("short span id", span, _set(["payload", "span_id"], "abc"),
     [("/payload/span_id", "pattern", 'expected 16 or 32 lowercase hex characters, got "abc"')]),
    ("id with a newline", span, _set(["id"], "445f093505070c89b3832caa57833f65\n"), [("/id", "pattern", None)]),
    ("bad parent id", span, _set(["payload", "parent_id"], "xyz"),
     [("/payload/parent_id", "pattern", 'expected 16 or 32 lowercase hex characters or "", got "xyz"')]),
    ("empty parent id is allowed", span, _set(["payload", "parent_id"], ""), []),
    ("parent id of the wrong type", span, _set(["payload", "parent_id"], 7), [("/payload/parent_id", "type", None)]),
    ("start_ns past int64", span, _set(["payload", "start_ns"], 2**63),
     [("/payload/start_ns", "range", "expected an integer <= 9223372036854775807, got 9223372036854775808")]),
    ("end_ns below int64", span, _set(["payload", "end_ns"], -(2**63) - 1), [("/payload/end_ns", "range", None)]),
    ("timestamp as string", span, _set(["timestamp_ns"], "1"),
     [("/timestamp_ns", "type", 'expected an integer, got "1"')]),
    ("version", span, _set(["version"], "2"), [("/version", "const", 'expected "1", got "2"')]),
    ("version as number", span, _set(["version"], 1), [("/version", "type", 'expected "1", got 1')]),
    ("empty source", span, _set(["source"], ""), [("/source", "length", 'expected a non-empty string, got ""')]),
    ("extra payload field", span, _set(["payload", "colour"], "red"),
     [("/payload/colour", "additional", "unexpected field (not allowed in a trace.span payload)")]),
    ("extra envelope field is fine", span, _set(["note"], "x"), []),
    ("extra attrs are fine", span, _set(["payload", "attrs", "team"], {"a": [1]}), []),
    ("score not a number", span, _set(["payload", "attrs", "score.relevance"], "high"),
     [("/payload/attrs/score.relevance", "type", 'expected a number, got "high"')]),
    ("extra nesting of attrs", span, lambda m: m["payload"].update(attrs=[m["payload"]["attrs"]]),
     [("/payload/attrs", "type", "expected an object, got an array")]),
    ("extra nesting of a count", span, _set(["payload", "attrs", "tokens_in"], {"v": 5}),
     [("/payload/attrs/tokens_in", "type", "expected a non-negative integer, got an object")]),
    ("payload not an object", span, _set(["payload"], [1]), [("/payload", "type", "expected an object, got an array")]),
    ("latency negative", span, _set(["payload", "attrs", "latency_ms"], -1), [("/payload/attrs/latency_ms", "range", None)]),
    ("unpriced", span, _set(["payload", "attrs", "unpriced"], "yes"), [("/payload/attrs/unpriced", "type", None)]),
    ("alert level", alert, _set(["payload", "level"], "info"), [("/payload/level", "enum", None)]),
    ("alert series value", alert, _set(["payload", "series", "model"], 5),
     [("/payload/series/model", "type", "expected a string, got 5")]),
    ("alert evidence item", alert, _set(["payload", "evidence"], ["ca492f2b8a67697c", "nope"]),
     [("/payload/evidence/1", "pattern", None)]),
    ("alert missing threshold", alert, _del(["payload", "threshold"]), [("/payload/threshold", "required", None)]),
    ("eval passed", evalres, _set(["payload", "passed"], "true"),
     [("/payload/passed", "type", 'expected a boolean, got "true"')]),
    ("eval extra", evalres, _set(["payload", "x"], 1), [("/payload/x", "additional", None)]),
    ("unknown type passes through", span, _set(["type"], "custom.thing"), []),
    ("pointer escaping", span, _set(["payload", "a/b~c"], 1), [("/payload/a~1b~0c", "additional", None)]),
]


@pytest.mark.parametrize("name, base, mutate, expected", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_each_mutation_is_reported_at_its_pointer(name, base, mutate, expected):
    m = base()
    mutate(m)
    errs = check_both(dumps(m))
    assert [(p, k) for p, k, _ in errs] == [(p, k) for p, k, _ in expected]
    for (_, _, msg), (_, _, want) in zip(errs, expected):
        if want is not None:
            assert msg == want
    # the same verdict from the reference library, and from a dict
    assert bool(V.jsonschema_engine()(dumps(m))) == bool(expected)
    assert V.errors(m) == errs == V.errors(m, engine="python")


def test_every_error_of_a_line_is_listed_in_document_order():
    m = span()
    m["id"] = "XYZ"
    m["payload"]["status"] = "maybe"
    m["payload"]["attrs"]["tokens_in"] = -3
    del m["payload"]["trace_id"]
    errs = check_both(dumps(m))
    assert [e[0] for e in errs] == ["/id", "/payload/status", "/payload/attrs/tokens_in", "/payload/trace_id"]
    assert mist.validate(m) == [
        '/id: expected 32 lowercase hex characters, got "XYZ"',
        '/payload/status: expected one of "ok", "error", got "maybe"',
        "/payload/attrs/tokens_in: expected a non-negative integer, got -3",
        "/payload/trace_id: missing required field",
    ]


def test_errors_per_line_are_capped():
    m = alert()
    m["payload"]["evidence"] = ["bad"] * 500
    errs = check_both(dumps(m))
    assert len(errs) == sj.MAX_ERRORS and errs[-1][0] == "/payload/evidence/99"


def test_long_values_are_cut_in_messages():
    m = span()
    m["payload"]["operation"] = 12
    m["source"] = 5
    m["payload"]["status"] = "é\u2028\"\n" + "x" * 100
    errs = check_both(dumps(m))
    assert errs[0] == ("/source", "type", "expected a non-empty string, got 5")
    assert errs[-1][2] == 'expected one of "ok", "error", got "é\u2028\\"\\n' + "x" * 36 + '"…'


# ---------------------------------------------------------------------------------------------
# hostile input: one error, never a crash

HOSTILE = [
    ("blank", b"", "", "blank"),
    ("spaces", b"  \t ", "", "blank"),
    ("bom", b"\xef\xbb\xbf" + dumps(span()), "", "encoding"),
    ("invalid utf-8", b'{"version":"1","source":"\xff\xfe"}', "/source", "encoding"),
    ("overlong utf-8", b'{"a":"\xc0\xaf"}', "/a", "encoding"),
    ("utf-8 surrogate", b'{"a":"\xed\xa0\x80"}', "/a", "encoding"),
    ("torn", dumps(span())[:-40], "/payload/attrs", "json"),
    ("deep 100000", b"[" * 100_000 + b"]" * 100_000, "/0" * 512, "too_deep"),
    ("deep objects", b'{"a":' * 600 + b"1" + b"}" * 600, "/a" * 512, "too_deep"),
    ("duplicate key", b'{"version":"1","version":"1"}', "/version", "duplicate_key"),
    ("duplicate escaped key", b'{"payload":{"a":1,"\\u0061":2}}', "/payload/a", "duplicate_key"),
    ("int64 overflow", dumps(span()).replace(b'"start_ns": 1,', b'"start_ns": 99999999999999999999999,'), "/payload/start_ns", "range"),
    ("1e400", b'{"payload":{"attrs":{"cost_usd":1e400}}}', "/payload/attrs/cost_usd", "range"),
    ("-1e400", b'{"x":[-1e400]}', "/x/0", "range"),
    ("400-digit int", b'{"x":' + b"9" * 400 + b"}", "/x", "range"),
    ("5000-digit int", b'{"x":' + b"9" * 5000 + b"}", "/x", "range"),
    ("NaN", b'{"x":NaN}', "/x", "json"),
    ("Infinity", b'{"x":-Infinity}', "/x", "json"),
    ("NUL in string", b'{"source":"a\x00b"}', "/source", "json"),
    ("NUL outside", b'{"a":1}\x00', "", "json"),
    ("array", b"[1,2]", "", "type"),
    ("scalar", b"42", "", "type"),
    ("string", b'"hello"', "", "type"),
    ("null", b"null", "", "type"),
    ("trailing comma", b'{"a":1,}', "", "json"),
    ("single quotes", b"{'a':1}", "", "json"),
    ("two values", b"{}{}", "", "json"),
    ("lone surrogate escape ok", b'{"a":"\\ud800"}', "/version", "required"),
    ("bad escape", b'{"a":"\\x"}', "/a", "json"),
    ("bad unicode escape", b'{"a":"\\u12G4"}', "/a", "json"),
    ("leading zero", b'{"a":01}', "", "json"),
    ("plus sign", b'{"a":+1}', "/a", "json"),
    ("bare minus", b'{"a":-}', "/a", "json"),
]


@pytest.mark.parametrize("name, line, pointer, kind", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_lines_are_invalid_not_crashes(name, line, pointer, kind):
    errs = check_both(line)
    assert errs and (errs[0][0], errs[0][1]) == (pointer, kind), errs[:2]
    assert mist.validate(line)  # the public API: a list of strings, no exception
    assert all(isinstance(s, str) for s in mist.validate(line))


def test_crlf_is_json_whitespace():
    line = dumps(span()) + b"\r"
    assert check_both(line) == []
    assert mist.validate(line + b"\n") == []


def test_a_line_over_the_10_mib_limit_is_rejected_unread():
    line = b'{"x":"' + b"a" * sj.MAX_LINE_BYTES + b'"}'
    errs = check_both(line)
    assert errs == [("", "too_large", f"line is {len(line)} bytes, over the 10 MiB message limit (10485760 bytes)")]


def test_a_big_line_under_the_limit_is_checked():
    m = span()
    m["payload"]["attrs"]["input"] = "x" * (9 << 20)
    assert check_both(dumps(m)) == []


def test_errors_name_the_column():
    errs = check_both(b'{"a":1 "b":2}')
    assert errs == [("", "json", "unexpected '\"' at column 8, expected ',' or '}'")]
    assert check_both(b'{"a":tru') == [("/a", "json", "unexpected end of input, expected a JSON value")]


# ---------------------------------------------------------------------------------------------
# Python objects

def test_python_objects_that_json_cannot_carry():
    cases = [
        (lambda m: m["payload"]["attrs"].update(cost_usd=float("nan")), "/payload/attrs/cost_usd", "range", "expected a finite number, got NaN"),
        (lambda m: m["payload"]["attrs"].update(cost_usd=-math.inf), "/payload/attrs/cost_usd", "range", "expected a finite number, got -Inf"),
        (lambda m: m["payload"]["attrs"].update(x={1, 2}), "/payload/attrs/x", "type", "expected a JSON value, got a Python set"),
        (lambda m: m["payload"]["attrs"].update({5: "x"}), "/payload/attrs", "type", "expected a string key, got int"),
        (lambda m: m["payload"]["attrs"].update(big=10**400), "/payload/attrs/big", "range", "integer out of range for a 64-bit float"),
        (lambda m: m["payload"]["attrs"].update(t=(1, "a")), None, None, None),
    ]
    for mutate, ptr, kind, msg in cases:
        m = span()
        mutate(m)
        want = [] if ptr is None else [(ptr, kind, msg)]
        assert V.errors(m, engine="python") == want
        if NATIVE is not None:
            assert NATIVE.validate_object(m) == want


def test_self_referencing_and_huge_objects_are_bounded():
    m = span()
    m["payload"]["attrs"]["loop"] = m
    errs = V.errors(m, engine="python")
    assert errs[0][1] == "too_deep" and len(errs) == 1
    wide = span()
    shared = [list(range(1000))] * 1001  # a DAG: just over a million values
    wide["payload"]["attrs"]["x"] = shared
    errs2 = V.errors(wide, engine="python")
    assert len(errs2) == 1 and errs2[0][0].startswith("/payload/attrs/x/998/")
    assert errs2[0][1:] == ("too_large", "message has more than 1000000 values")
    if NATIVE is not None:
        assert NATIVE.validate_object(m) == errs
        assert NATIVE.validate_object(wide) == errs2


def test_validate_accepts_dict_str_and_bytes_and_stays_callable():
    importlib.import_module("mist.validation")
    line = dumps(span())
    for msg in (span(), line, line.decode(), bytearray(line), memoryview(line)):
        assert mist.validate(msg) == []
    assert mist.validate(b"[]") == ["expected an object, got an array"]


def test_the_generated_validator_is_the_schema():
    schema = V.schema()
    assert schema == json.loads((ROOT / "schema" / "mttp.schema.json").read_text())
    assert _validate_gen.INSPECT_DEPTH == 3


# ---------------------------------------------------------------------------------------------
# the command

MESSY = (dumps(span()) + b"\n" + dumps(alert()) + b"\r\n\n" + b"[1]\n"
         + dumps({**span(), "id": "XYZ"}) + b"\n" + dumps(evalres())[:30])


def run_cli(args, capsys):
    rc = cli_main(["validate"] + [str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_all_valid_exit_0(capsys):
    rc, out, err = run_cli([DATA / "mist-go-canonical.jsonl"], capsys)
    assert rc == 0 and err == ""
    assert out.strip().endswith("300 lines, 300 valid, 0 invalid")


def test_cli_reports_file_line_pointer_message_and_summary(tmp_path, capsys):
    p = tmp_path / "messy.jsonl"
    p.write_bytes(MESSY)
    rc, out, _ = run_cli([p], capsys)
    assert rc == 1
    lines = out.splitlines()
    assert lines[0] == f"{p}:3: blank line (expected a JSON object)"
    assert lines[1] == f"{p}:4: expected an object, got an array"
    assert lines[2] == f'{p}:5: /id: expected 32 lowercase hex characters, got "XYZ"'
    assert lines[3] == f"{p}:6: /id: torn last line (no newline at the end of the file): unexpected end of input inside a string"
    assert lines[4] == f"{p}: 6 lines, 2 valid, 4 invalid (errors by kind: blank 1, pattern 1, torn 1, type 1)"


def test_cli_caps_errors_per_file_and_counts_the_rest(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(b"[]\n" * 50)
    rc, out, _ = run_cli([p, "--max-errors", "3"], capsys)
    assert rc == 1
    lines = out.splitlines()
    assert len(lines) == 5 and lines[3] == f"{p}: 47 more invalid lines not shown (--max-errors N shows more)"


def test_cli_json_format(tmp_path, capsys):
    p = tmp_path / "messy.jsonl"
    p.write_bytes(MESSY)
    rc, out, _ = run_cli([p, "--format", "json"], capsys)
    doc = json.loads(out)
    assert rc == 1 and doc["lines"] == 6 and doc["invalid"] == 4 and doc["valid"] == 2
    f = doc["files"][0]
    assert f["errors"][2] == {"line": 5, "pointer": "/id", "kind": "pattern",
                              "message": 'expected 32 lowercase hex characters, got "XYZ"', "errors_on_line": 1}
    assert f["errors_by_kind"] == {"blank": 1, "pattern": 1, "torn": 1, "type": 1}


def test_cli_engines_agree(tmp_path, capsys):
    p = tmp_path / "messy.jsonl"
    p.write_bytes(MESSY)
    _, native_out, _ = run_cli([p, "--format", "json"], capsys)
    _, ref_out, _ = run_cli([p, "--format", "json", "--engine", "jsonschema"], capsys)
    a, b = json.loads(native_out), json.loads(ref_out)
    assert b["engine"] == "jsonschema"
    assert [(e["line"], e["pointer"], e["kind"]) for e in a["files"][0]["errors"]] == \
        [(e["line"], e["pointer"], e["kind"]) for e in b["files"][0]["errors"]]


def test_cli_unreadable_file_exit_2_but_others_checked(tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_bytes(dumps(span()) + b"\n")
    rc, out, err = run_cli([tmp_path / "missing.jsonl", good], capsys)
    assert rc == 2
    assert err.strip() == f"mist: cannot read {tmp_path / 'missing.jsonl'}: No such file or directory"
    assert f"{good}: 1 lines, 1 valid, 0 invalid" in out


def test_cli_gzip_and_corrupt_gzip(tmp_path, capsys):
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress((dumps(span()) + b"\n") * 3 + b"[]\n"))
    rc, out, _ = run_cli([gz], capsys)
    assert rc == 1 and f"{gz}:4: expected an object, got an array" in out
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress(dumps(span()) * 1000)[:200])
    rc, _, err = run_cli([bad], capsys)
    assert rc == 2 and err.startswith(f"mist: cannot read {bad}: ") and "Traceback" not in err


def test_cli_reads_stdin():
    p = subprocess.run([sys.executable, "-m", "mist", "validate", "-"], input=MESSY, capture_output=True)
    assert p.returncode == 1
    assert b"<stdin>:4: expected an object, got an array" in p.stdout
    assert p.stderr == b""  # progress only goes to a terminal


def test_cli_streams_an_over_long_line_without_holding_it(tmp_path, capsys, monkeypatch):
    import mist.cli.validate as cmd

    monkeypatch.setattr(cmd, "BLOCK", 1 << 16)
    p = tmp_path / "long.jsonl"
    with open(p, "wb") as f:
        f.write(dumps(span()) + b"\n")
        f.write(b'{"x":"' + b"a" * (sj.MAX_LINE_BYTES + 10) + b'"}\n')
        f.write(dumps(span()) + b"\n")
        f.write(b"z" * (sj.MAX_LINE_BYTES + 5))
    rc, out, _ = run_cli([p], capsys)
    lines = out.splitlines()
    assert rc == 1
    assert lines[0] == f"{p}:2: line is {sj.MAX_LINE_BYTES + 18} bytes, over the 10 MiB message limit (10485760 bytes)"
    assert lines[1].startswith(f"{p}:4: torn last line (no newline at the end of the file): line is ")
    assert lines[-1] == f"{p}: 4 lines, 2 valid, 2 invalid (errors by kind: too_large 1, torn 1)"


def test_cli_missing_jsonschema_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    monkeypatch.setattr(V, "_JSONSCHEMA", None)
    p = tmp_path / "t.jsonl"
    p.write_bytes(dumps(span()) + b"\n")
    rc, out, err = run_cli([p, "--engine", "jsonschema"], capsys)
    assert rc == 2 and out == ""
    assert err.strip() == "mist: --engine jsonschema needs the jsonschema library: pip install 'mist-trace[validate]'"


def test_cli_control_characters_in_keys_stay_on_one_line(tmp_path, capsys):
    p = tmp_path / "k.jsonl"
    m = span()
    m["payload"]["a\nb"] = 1
    p.write_bytes(dumps(m) + b"\n")
    rc, out, _ = run_cli([p], capsys)
    assert rc == 1 and out.splitlines()[0] == f"{p}:1: /payload/a\\u000ab: unexpected field (not allowed in a trace.span payload)"


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_chunked_checking_is_the_same_at_any_block_size(block):
    """The bulk path (native or Python) agrees with line-by-line checking wherever blocks fall."""
    from mist.validation.reader import blocks

    data = MESSY * 5
    parts = data.split(b"\n")
    expected = []
    for i, line in enumerate(parts):
        errs = check_both(line)
        if i == len(parts) - 1 and errs:  # the unterminated last line
            errs = [(errs[0][0], "torn", "torn last line (no newline at the end of the file): " + errs[0][2])]
        if errs:
            expected.append((i, errs[0][0], errs[0][1], errs[0][2], len(errs)))
    chunkers = {"python": V.check_chunk_python}
    if NATIVE is not None:
        chunkers["native"] = NATIVE.validate_chunk
    for name, chunk in chunkers.items():
        lines = 0
        reported = []
        for part, final, _ in blocks(io.BytesIO(data), block):
            consumed, n, bad, kinds, rep = chunk(part, final, 100)
            assert consumed == len(part) and bad == len(rep) and sum(kinds.values()) == sum(r[4] for r in rep)
            reported += [(lines + r[0],) + tuple(r[1:]) for r in rep]
            lines += n
        assert lines == len(parts)
        assert reported == expected, name


@needs_native
def test_native_whole_file_reader_matches_the_block_path(tmp_path):
    """`validate_fd` (regular files) and the block path (gzip, stdin) report the same lines."""
    if not hasattr(NATIVE, "validate_fd"):
        pytest.skip("no native file reader")
    data = (MESSY + b"\n") * 3000 + b'{"x":"' + b"a" * (sj.MAX_LINE_BYTES + 3) + b'"}\n' + MESSY
    p = tmp_path / "big.jsonl"
    p.write_bytes(data)
    calls = []
    with open(p, "rb") as f:
        f.peek(10)  # Python's buffering must not shift what the native reader sees
        lines, invalid, kinds, reported, error = NATIVE.validate_fd(f.fileno(), 100_000, lambda n, bad: calls.append((n, bad)))
    assert error is None and calls and calls[-1][0] <= lines
    from mist.validation.reader import blocks

    total = bad = 0
    expected = []
    for part, final, skipped in blocks(io.BytesIO(data), 1 << 20):
        if skipped:
            expected.append((total + 1, "", "too_large" if skipped > 0 else "torn"))
            total += 1
            bad += 1
            continue
        _, n, b, _, rep = V.check_chunk_python(part, final, 100_000)
        expected += [(total + r[0] + 1, r[1], r[2]) for r in rep]
        total += n
        bad += b
    assert (lines, invalid) == (total, bad) == (6 * 3000 + 1 + 6, 4 * 3000 + 1 + 4)
    assert [(r[0], r[1], r[2]) for r in reported] == expected
    assert kinds["too_large"] == 1 and kinds["torn"] == 1 and kinds["blank"] == 3001


def _generated_module(schema):
    """Generate the Python validator for `schema` and load it (without touching the package)."""
    import types

    sys.path.insert(0, str(ROOT))
    try:
        from codegen import validator_py
    finally:
        sys.path.remove(str(ROOT))
    mod = types.ModuleType("mist.validation._generated_probe")
    mod.__package__ = "mist.validation"
    exec(compile(validator_py.generate(schema), "<generated>", "exec"), mod.__dict__)
    return mod


def test_a_schema_change_reaches_both_validators():
    import copy

    sys.path.insert(0, str(ROOT))
    try:
        from codegen import validator_rust
    finally:
        sys.path.remove(str(ROOT))
    schema = copy.deepcopy(V.schema())
    schema["$defs"]["TraceAlert"]["properties"]["runbook_url"] = {"type": "string", "minLength": 3, "x-omitempty": "absent"}
    assert 'b"runbook_url"' in validator_rust.generate(schema)
    gen = _generated_module(schema)
    m = alert()
    m["payload"]["runbook_url"] = "x"
    errs = []
    gen.check_envelope(m, errs)
    assert errs == [("/payload/runbook_url", "length", 'expected a string of at least 3 characters, got "x"')]
    errs = []
    _validate_gen.check_envelope(m, errs)  # today's schema: not a known field
    assert errs == [("/payload/runbook_url", "additional", "unexpected field (not allowed in a trace.alert payload)")]


def test_an_unsupported_schema_keyword_stops_codegen():
    import copy

    schema = copy.deepcopy(V.schema())
    schema["$defs"]["count"]["multipleOf"] = 2
    with pytest.raises(SystemExit, match="'multipleOf' at #/\\$defs/count is not supported"):
        _generated_module(schema)
