"""The canonical writer: mist-go's bytes, identical on both backends, for every input."""
import json
import math
import random
import zlib

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import compat_lines, cores


def _shuffled(d):
    if isinstance(d, dict):
        items = list(d.items())
        random.Random(len(items)).shuffle(items)
        return {k: _shuffled(v) for k, v in items}
    if isinstance(d, list):
        return [_shuffled(x) for x in d]
    return d


def test_compat_file_round_trips_byte_for_byte(core):
    lines = compat_lines() + compat_lines("mist-go-vectors.jsonl")
    assert len(lines) == 305
    for line in lines:
        msg = json.loads(line)
        msg["payload"] = _shuffled(msg["payload"])
        assert core.encode(msg) == line


def test_checksum_is_crc32_of_the_payload_bytes(core):
    for line in compat_lines():
        msg = json.loads(line)
        if "checksum" not in msg:
            continue
        out = core.encode(msg)
        payload = out[out.index(b'"payload":') + 10 : out.rindex(b',"checksum"')]
        assert json.loads(out)["checksum"] == zlib.crc32(payload) == msg["checksum"]


@pytest.mark.parametrize(
    "value, text",
    [
        (0.1, "0.1"), (1e-5, "0.00001"), (1e-6, "0.000001"), (1e-7, "1e-7"), (1e21, "1e+21"),
        (1e20, "100000000000000000000"), (3.0, "3"), (-0.0, "-0"), (0.0, "0"), (1.5e22, "1.5e+22"),
        (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (-2.5e-7, "-2.5e-7"),
        (123456789.125, "123456789.125"), (0.0000012, "0.0000012"), (2**63, "9223372036854775808"),
        (-(2**63), "-9223372036854775808"), (2**64 + 1, "18446744073709551617"), (True, "true"),
        (None, "null"), ("<a&b>", '"\\u003ca\\u0026b\\u003e"'), ("\u2028\u2029", '"\\u2028\\u2029"'),
        ("\b\f\n\r\t\x01\x1f", '"\\b\\f\\n\\r\\t\\u0001\\u001f"'), ("\ud800x", '"\\ufffdx"'),
        ("é日本", '"é日本"'), ('"\\', '"\\"\\\\"'), ({"b": 1, "a": [1, 2.5]}, '{"a":[1,2.5],"b":1}'),
    ],
)
def test_value_vectors(core, value, text):
    assert core.encode_value(value) == text.encode()


_SPECIAL = ['"', "\\", "<", ">", "&", "\n", "\x00", "\x1f", "\x7f", "é", "\u2028", "\u2029", "\u2027", "\ue280",
            "\ud800", "\udfff", "日", "😀", "=", "?", "%", "\x20"]


def _go_string(s: str) -> str:
    """Go's encoding/json string bytes, from the standard library plus Go's extra escapes."""
    s = "".join("\x00SURROGATE" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)  # Go: invalid UTF-8 → \ufffd
    out = json.dumps(s, ensure_ascii=False).replace("\\u0000SURROGATE", "\\ufffd")
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"),
                 ("\x7f", "\x7f")):
        out = out.replace(a, b)
    return out


def test_escapes_at_every_position_of_a_word(core):
    """The escaper looks at 8-byte words: every special character, at every offset of strings
    around word boundaries, is escaped exactly as Go does."""
    for n in range(0, 25):
        for pos in range(n):
            for c in _SPECIAL:
                s = "a" * pos + c + "b" * (n - pos - 1)
                assert core.encode_value(s) == _go_string(s).encode(), (n, pos, c)
        assert core.encode_value("x" * n) == _go_string("x" * n).encode()


def test_a_repeated_string_writes_and_counts_the_same_every_time(core):
    """The native core keeps the text of recently written short strings (by object); a string with
    a replacement is never kept, so it is counted on every write, as by the pure core."""
    def surrogates():
        return core.stats().get("bad_values", {}).get("surrogate", 0)

    dirty = "ab" + chr(0xDC80) + "cd"
    clean = "a<b>&c \u2028 é"
    before = surrogates()
    for _ in range(3):
        assert core.encode_value(dirty) == b'"ab\\ufffdcd"'
        assert core.encode_value(clean) == b'"a\\u003cb\\u003e\\u0026c \\u2028 \xc3\xa9"'
        assert core.encode_value({"k": clean, "d": dirty}) == b'{"d":"ab\\ufffdcd","k":"a\\u003cb\\u003e\\u0026c \\u2028 \xc3\xa9"}'
    assert surrogates() - before == 6
    # many distinct strings through the same slots: each still written as itself
    words = ["w%d<%d>" % (i, i) for i in range(2000)]
    for w in words + words[::-1]:
        assert core.encode_value(w) == json.dumps(w).replace("<", "\\u003c").replace(">", "\\u003e").encode()


def _go_float(f: float) -> str:
    """Go's encoding/json float text, built independently: the shortest digits (Python's repr has
    the same), laid out plain for 1e-6 <= |f| < 1e21 and as d.ddde±x otherwise."""
    from decimal import Decimal

    d = Decimal(repr(f))
    if f == 0 or 1e-6 <= abs(f) < 1e21:
        s = format(d, "f")
        return s.rstrip("0").rstrip(".") if "." in s else s
    sign, digits, exp = d.normalize().as_tuple()
    ds = "".join(map(str, digits))
    x = exp + len(ds) - 1
    return ("-" if sign else "") + ds[0] + ("." + ds[1:] if len(ds) > 1 else "") + ("e+" if x >= 0 else "e-") + str(abs(x))


def test_floats_at_the_edges_of_plain_notation(core):
    """Where the shortest-digit formatter switches layout (1e-5, 1e16) is not where Go does
    (1e-6, 1e21): every magnitude in between, integral or not, is laid out as Go lays it out."""
    rng = random.Random(7)
    vals = [1e-5, 9.999999999999999e-06, 1e-6, 9.99999999999e-07, 1e15, 1e16, 9999999999999998.0, 1.5e16,
            123456789012345.0, 9007199254740993.0, 1e20, 9.999999999999999e20, 0.00001234, 2.0, 100.0, 1e-4]
    vals += [rng.choice([-1, 1]) * 10 ** rng.uniform(-8, 22) for _ in range(3000)]
    vals += [float(round(v)) for v in vals if abs(v) < 1e22]
    for v in vals:
        assert core.encode_value(v) == _go_float(v).encode(), v


def test_key_sets_written_again_keep_their_order(core):
    """The native core remembers the written order of recent key sets: the same keys from new
    objects, in another insertion order, a changed key in the same place, and more key sets than
    it keeps, are each written sorted, as the pure core writes them."""
    rng = random.Random(3)
    names = ["model", "tokens_in", "cost_usd", "a", "ab", "abc", "é", "z" * 40, "step", "provider"]
    for i in range(3000):
        keys = rng.sample(names, rng.randint(2, 6))
        if i % 3 == 0:
            keys = ["".join(list(k)) for k in keys]  # equal text, new str objects
        if i % 5 == 0:
            keys[0] = keys[0] + str(i % 7)
        d = {k: n for n, k in enumerate(keys)}
        want = "{" + ",".join('"%s":%d' % (k, d[k]) for k in sorted(d)) + "}"
        assert core.encode_value(d) == want.encode(), d


def test_a_string_the_native_cache_lets_go_is_released_at_once():
    """The native string cache holds each string it keeps; one pushed out by another is released
    right away, also through the raw ``emit_span`` entry point (where a deferred release would keep
    it alive until some other native call)."""
    import sys

    import mist
    import mist.testing

    if mist.backend != "native":
        pytest.skip("the pure core has no string cache by object")
    with mist.testing.capture(alerts=False):  # the alert thread's native calls would drain a deferral
        op = "".join(["released-", "at-once"])
        base = sys.getrefcount(op)
        mist.emit_span(op, 1, 2)
        others = ["op%d" % i for i in range(4000)]  # enough to take every slot
        for o in others:
            mist.emit_span(o, 1, 2)
        assert sys.getrefcount(op) == base


def test_bad_values_are_replaced_never_raised(core):
    class Weird:
        def __str__(self):
            return "weird!"

    class Broken:
        def __str__(self):
            raise RuntimeError("no")

    out = core.encode_value({"nan": math.nan, "inf": -math.inf, "obj": Weird(), "b": b"\xffok",
                             "set": {1}, "broken": Broken(), 1: "int key"})
    assert json.loads(out) == {"nan": None, "inf": None, "obj": "weird!", "b": "\ufffdok",
                               "set": "{1}", "broken": "<unprintable Broken>", "1": "int key"}


def test_huge_and_deep_values_are_bounded(core):
    deep = []
    cur = deep
    for _ in range(1000):
        nxt = []
        cur.append(nxt)
        cur = nxt
    out = core.encode_value(deep)
    assert b"[mist: nesting too deep]" in out and json.loads(out)
    big = "x" * 10_000_000
    out = core.encode_value(big)
    assert len(out) < 70_000 and out.endswith(b"[truncated 9934464 chars]\"")
    loop = []
    loop.append(loop)
    loop.append(loop)
    with pytest.raises(ValueError):
        core.encode_value(loop)


# ---- property: native bytes == Python bytes ----
_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=20)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), _text,
)
_values = st.recursive(
    _scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(_text, kids, max_size=4)),
    max_leaves=12,
)
_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
_span = st.fixed_dictionaries(
    {"trace_id": _hex32, "span_id": st.text("0123456789abcdef", min_size=16, max_size=16),
     "operation": _text, "start_ns": st.integers(0, 2**63 - 1), "end_ns": st.integers(0, 2**63 - 1),
     "status": st.sampled_from(["ok", "error"]), "attrs": st.dictionaries(_text, _values, max_size=6)},
    optional={"parent_id": st.one_of(st.just(""), st.text("0123456789abcdef", min_size=16, max_size=16))},
)
_alert = st.fixed_dictionaries(
    {"level": st.sampled_from(["warning", "critical"]), "metric": _text, "value": st.floats(),
     "threshold": st.floats(), "message": _text},
    optional={"state": st.sampled_from(["firing", "resolved"]), "baseline": st.floats(),
              "series": st.dictionaries(_text, _text, max_size=3), "since_ns": st.integers(0, 2**62),
              "evidence": st.lists(_hex32, max_size=3), "extra_field": _values},
)
_eval = st.fixed_dictionaries(
    {"suite": _text, "task": _text, "passed": st.booleans(), "score": st.floats(),
     "baseline_score": st.floats(), "delta": st.floats(), "duration_ms": st.integers(0, 2**40)},
    optional={"error": _text, "trace_id": _hex32, "name": _text},
)
_envelopes = st.one_of(
    st.builds(lambda p: ("trace.span", p), _span),
    st.builds(lambda p: ("trace.alert", p), _alert),
    st.builds(lambda p: ("eval.result", p), _eval),
    st.builds(lambda p: ("custom.type", p), st.dictionaries(_text, _values, max_size=4)),
).flatmap(
    lambda tp: st.fixed_dictionaries(
        {"version": st.just("1"), "id": _hex32, "source": _text, "type": st.just(tp[0]),
         "timestamp_ns": st.integers(0, 2**63 - 1), "payload": st.just(tp[1])},
        optional={"checksum": st.integers(0, 2**32 - 1)},
    )
)


def _plain(v):
    """What msgspec should decode: NaN/inf → None, surrogates → U+FFFD, big ints as ints."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {_plain(k): _plain(x) for k, x in v.items()}
    return v


def _same(a, b):
    """Equal as JSON values: an integral float may come back as an int (Go writes 3.0 as 3)."""
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return float(b) == a
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


@pytest.mark.skipif("native" not in cores(), reason="native extension not built")
@settings(max_examples=int(__import__("os").environ.get("MIST_HYPOTHESIS_EXAMPLES", "3000")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(_envelopes)
def test_native_and_python_bytes_agree(msg):
    c = cores()
    native, python = c["native"].encode(msg), c["python"].encode(msg)
    assert native == python
    decoded = msgspec.json.decode(native)
    payload = _plain(msg["payload"])
    if msg["type"] == "trace.span" and not payload.get("parent_id"):
        payload.pop("parent_id", None)
    if msg["type"] == "trace.span" and not payload.get("attrs"):
        payload.pop("attrs", None)
    if msg["type"] != "trace.span" or all(
        not (0xD800 <= ord(ch) <= 0xDFFF) for k in msg["payload"].get("attrs", {}) for ch in k
    ):
        if len(set(payload.keys())) == len(decoded["payload"]):
            assert _same(payload, decoded["payload"])


def test_a_million_generated_spans_agree_in_bulk():
    """≥100,000 generated envelopes, native vs Python, fast path (no shrinking machinery)."""
    c = cores()
    if "native" not in c:
        pytest.skip("native extension not built")
    rnd = random.Random(7)
    words = ["chat", "retrieve", "<tool>", "naïve", "日本", "\u2028", "a\"b", "x\\y", "\x07", "\ud83d", "😀"]
    n = int(__import__("os").environ.get("MIST_BULK_ENVELOPES", "100000"))
    for i in range(n):
        attrs = {rnd.choice(words) + str(rnd.randrange(5)): rnd.choice([
            rnd.random() * 10 ** rnd.randrange(-9, 25), rnd.randrange(-(2**64), 2**64), rnd.choice(words),
            None, True, [rnd.random(), rnd.choice(words)], {"k": rnd.choice(words)}]) for _ in range(rnd.randrange(6))}
        msg = {"version": "1", "id": "%032x" % rnd.getrandbits(128), "source": rnd.choice(words), "type": "trace.span",
               "timestamp_ns": rnd.getrandbits(62), "payload": {"trace_id": "%032x" % rnd.getrandbits(128),
               "span_id": "%016x" % rnd.getrandbits(64), "operation": rnd.choice(words), "start_ns": i, "end_ns": i + 5,
               "status": "ok", "attrs": attrs}}
        assert c["native"].encode(msg) == c["python"].encode(msg), msg
