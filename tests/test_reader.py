"""mist.read: strict, streaming, tolerant of a torn last line; native and Python decoding agree."""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from conftest import DATA, compat_lines

import mist
import mist.codec.strictjson as sj
from mist.validation import reader


def _native():
    try:
        from mist import _native
    except ImportError:  # pragma: no cover
        return None
    return _native if hasattr(_native, "decode_chunk") else None


NATIVE = _native()
needs_native = pytest.mark.skipif(NATIVE is None, reason="native extension not built")

GOOD = b'{"version":"1","id":"445f093505070c89b3832caa57833f65","source":"s","type":"x","timestamp_ns":1,"payload":{}}'


def test_reads_every_envelope_as_json_loads_does(tmp_path):
    p = DATA / "mist-go-canonical.jsonl"
    expected = [json.loads(line) for line in compat_lines()]
    got = list(mist.read(str(p)))
    assert got == expected
    assert all(type(m) is dict for m in got)


def test_reads_gzip_pathlike_and_stdin(tmp_path):
    raw = (DATA / "mist-go-canonical.jsonl").read_bytes()
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress(raw))
    assert list(mist.read(gz)) == list(mist.read(DATA / "mist-go-canonical.jsonl"))
    code = "import mist, sys; print(sum(1 for _ in mist.read('-')))"
    for data in (raw, gzip.compress(raw)):
        r = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == b"300"


def test_torn_last_line_is_skipped_silently(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(GOOD + b"\n" + GOOD + b"\n" + GOOD[:40])
    assert len(list(mist.read(p))) == 2
    assert len(list(mist.read(p, errors="raise"))) == 2
    p.write_bytes(GOOD + b"\n" + GOOD)  # a complete last line without a newline is kept
    assert len(list(mist.read(p))) == 2


def test_a_bad_line_raises_with_file_and_line_after_the_good_ones(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(GOOD + b"\n\n" + GOOD + b'\n{"a":1,"a":2}\n' + GOOD + b"\n")
    seen = []
    with pytest.raises(ValueError) as exc:
        for m in mist.read(p):
            seen.append(m)
    assert len(seen) == 2
    assert str(exc.value) == f"{p}:4: /a: duplicate key"
    assert len(list(mist.read(p, errors="skip"))) == 3


@pytest.mark.parametrize("line, why", [
    (b"[1, 2]", "expected a JSON object, got an array"),
    (b"\xef\xbb\xbf" + GOOD, "UTF-8 byte order mark at the start of the line (JSON text must not have one)"),
    (b'{"a":"\xff"}', "/a: invalid UTF-8 in a string at column 7"),
    (b'{"a":1e400}', "/a: number out of range for a 64-bit float: 1e400"),
    (b"[" * 1000, "/0" * 512 + ": nesting deeper than 512 levels"),
    (b'{"a":NaN}', "/a: unexpected 'N' at column 6, expected a JSON value"),
])
def test_hostile_lines_raise_value_error_or_are_skipped(tmp_path, line, why):
    p = tmp_path / "t.jsonl"
    p.write_bytes(GOOD + b"\n" + line + b"\n" + GOOD + b"\n")
    with pytest.raises(ValueError) as exc:
        list(mist.read(p))
    assert str(exc.value) == f"{p}:2: {why}"
    assert len(list(mist.read(p, errors="skip"))) == 2


def test_blank_lines_and_crlf_are_fine(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(b"\n" + GOOD + b"\r\n  \r\n" + GOOD + b"\r\n\n")
    assert len(list(mist.read(p))) == 2


def test_an_over_long_line_is_never_held_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "BLOCK", 1 << 16)
    p = tmp_path / "t.jsonl"
    with open(p, "wb") as f:
        f.write(GOOD + b"\n")
        f.write(b'{"x":"' + b"a" * (sj.MAX_LINE_BYTES + 100) + b'"}\n')
        f.write(GOOD + b"\n")
        f.write(b"z" * (sj.MAX_LINE_BYTES + 1))  # an over-long torn last line: skipped silently
    with pytest.raises(ValueError) as exc:
        list(mist.read(p))
    assert str(exc.value).startswith(f"{p}:2: line is {sj.MAX_LINE_BYTES + 108} bytes, over the 10 MiB")
    assert len(list(mist.read(p, errors="skip"))) == 2


def test_blocks_end_on_line_boundaries():
    data = b"".join(b"%d\n" % i for i in range(1000)) + b"tail"
    for size in (1, 3, 10, 4096):
        parts = list(reader.blocks(io.BytesIO(data), size))
        assert b"".join(p for p, _, _ in parts) == data
        assert all(p.endswith(b"\n") or final for p, final, _ in parts)
        assert parts[-1][1] is True


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="errors must be"):
        mist.read(tmp_path / "x", errors="ignore")
    with pytest.raises(FileNotFoundError):
        mist.read(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(GOOD * 1000)[:100])
    with pytest.raises(OSError, match="cannot read"):
        list(mist.read(bad))


# ---------------------------------------------------------------------------------------------
# native and Python decoding give the same values and the same errors

CASES = [
    GOOD,
    b'{"s":"\\ud800 lone","t":"\\ud83d\\ude00 pair","u":"\\udc00\\ud800","e":"\\n\\t\\"\\\\\\/\\b\\f"}',
    b'{"i":-0,"f":-0.0,"big":18446744073709551616,"neg":-9223372036854775809,"u":18446744073709551615,'
    b'"e":1e-400,"x":1.5e308,"n":null,"b":[true,false,[],{}]}',
    b'{"k\\u0000":"\\u0000", "\xc3\xa9":"\xe2\x80\xa8"}',
    b'{"a": 1 , "b" :\t[ 1 ,2 ]\r}',
    b'{"deep":' + b"[" * 511 + b"]" * 511 + b"}",
    b'{"d":' + b"9" * 308 + b"}",
]


@needs_native
@pytest.mark.parametrize("line", CASES)
def test_native_and_python_decode_the_same_values(line):
    a = NATIVE.decode_line(line)
    b = sj.decode(line)
    assert repr(a) == repr(b)  # repr tells -0.0 from 0 and int from float
    assert b == json.loads(line.decode("utf-8", "surrogatepass"))


@needs_native
def test_native_decode_chunk_matches_python():
    data = b"\n".join(CASES + [b"", b"[1]", b'{"a":', b'{"a":1,"a":1}']) + b"\n" + GOOD[:20]
    for final in (False, True):
        n1, items1 = NATIVE.decode_chunk(data, final)
        n2, items2 = reader._decode_chunk_python(data, final)
        assert n1 == n2 and repr(items1) == repr(items2)


@needs_native
@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4),
                    max_leaves=20))
def test_any_json_value_decodes_identically(value):
    line = json.dumps({"v": value}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert repr(NATIVE.decode_line(line)) == repr(sj.decode(line)) == repr(json.loads(line.decode("utf-8", "surrogatepass")))
