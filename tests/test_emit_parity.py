"""emit_span writes the same bytes on both cores (ids and clock masked), bad values included."""
import json
import math
import re

import pytest

import mist
from mist.core import runtime as _runtime
from conftest import cores

MASK = re.compile(rb'"id":"[0-9a-f]{32}"|"timestamp_ns":\d+')


class Odd:
    def __str__(self):
        return "odd<&>"


CASES = [
    dict(operation="chat", start_ns=1, end_ns=2, model="gpt-4o-mini", tokens_in=1000, tokens_out=100,
         attrs={"tokens_cache_read": 200, "tokens_reasoning": 0, "score.f": 0.91}),
    dict(operation="chat", start_ns=1, end_ns=2, model="unknown-model-x", tokens_in=5),
    dict(operation="x\u2028<y>", start_ns=-5, end_ns=2**70, status="error", parent_id="",
         attrs={"nan": math.nan, 3: "int key", "b": b"\xff", "o": Odd(), "s": "\ud800", "deep": [[[[1.5e-7]]]]}),
    dict(operation="big", start_ns=1, end_ns=2, attrs={"huge": "z" * 70000, "list": list(range(50))}),
    dict(operation="over", start_ns=1, end_ns=2, attrs={"big": ["y" * 60000] * 200}),
    dict(operation="kw", start_ns=1.5, end_ns=None, cost_usd=0.25, provider="openai", attrs={"cost_usd": 9, "model": "m"}),
    # the caller's own "unpriced" for a model without a price: replaced, not written twice
    dict(operation="chat", start_ns=1, end_ns=2, model="unknown-model-x", tokens_out=5, attrs={"unpriced": False}),
]


def _emit_on_each_core(calls):
    """Run the same emit_span calls on each core, straight into its buffer; masked lines by core."""
    from mist.costs.table import PriceTable

    table = PriceTable()
    out = {}
    _runtime.writer.stop(5)
    try:
        for name, core in cores().items():
            core.configure("parity", 1 << 20, 1 << 30, 1.0, None, None, pricer=table.per_million)
            core.seal()
            while core.take(0) is not None:
                pass
            for args, kw in calls:
                core.emit_span(*args, **kw)
            core.seal()
            data, lines = b"", 0
            while True:
                got = core.take(0)
                if got is None:
                    break
                data += got[1]
                lines += got[2]
            assert lines == data.count(b"\n")
            out[name] = [MASK.sub(b"", line) for line in data.splitlines()]
    finally:
        mist.configure("memory://")
    return out


@pytest.mark.skipif("native" not in cores(), reason="native extension not built")
def test_emit_span_bytes_agree_across_cores():
    calls = []
    for c in CASES:
        c = dict(c)
        calls.append(((c.pop("operation"), c.pop("start_ns"), c.pop("end_ns")), dict(trace_id="a" * 32, span_id="b" * 16, **c)))
    out = _emit_on_each_core(calls)
    assert len(out["native"]) == len(CASES)
    assert out["native"] == out["python"]
    for line in out["native"]:
        assert len(line) < 10 * 1024 * 1024
    attrs = [json.loads(line.replace(b",,", b",").replace(b"{,", b"{"))["payload"].get("attrs", {}) for line in out["native"]]
    assert attrs[0]["cost_usd"] == pytest.approx((800 * 0.15 + 100 * 0.6 + 200 * 0.075) / 1e6)
    assert attrs[1]["unpriced"] is True
    assert attrs[4] == {"mist.error": "attrs dropped: span over the 10 MiB message limit"}
    assert attrs[5]["cost_usd"] == 0.25 and attrs[5]["model"] == "m"
    assert attrs[6]["unpriced"] is True and out["native"][6].count(b'"unpriced"') == 1


BAD_CALLS = [
    ((), {}),
    (("chat",), {}),
    (("chat", 1), {}),
    (("chat", 1, 2, 3), {}),
    (("chat", 1, 2), {"nope": 1}),
    (("chat", 1, 2), {"operation": "again"}),
    (("chat",), {"start_ns": 1, "end_ns": 2, "model": "m", "colour": "red"}),
    (("chat", 1, 2), {"attrs": {}, **{"tokens" + "_in": 3, "bogus" + "_kw": 4}}),
]


@pytest.mark.parametrize("args, kwargs", BAD_CALLS)
def test_bad_emit_span_calls_raise_the_same_type_error(core, args, kwargs):
    """Argument errors (the caller's bug, raised like any Python function's) read the same on both
    cores, whether keywords arrive as interned constants or as run-time strings."""
    with pytest.raises(TypeError) as e:
        core.emit_span(*args, **kwargs)
    with pytest.raises(TypeError) as ref:
        cores()["python"].emit_span(*args, **kwargs)
    assert str(e.value) == str(ref.value)


def test_keywords_built_at_run_time_and_positional_by_keyword(core):
    """A `**dict` with non-interned keys and the positional parameters given by keyword work."""
    kw = {"".join(["tra", "ce_id"]): "4bf92f3577b34da6a3ce929d0e0e4736", "".join(["mod", "el"]): "m"}
    sid = core.emit_span(operation="op", start_ns=1, end_ns=2, span_id="00f067aa0ba902b7", **kw)
    assert sid == "00f067aa0ba902b7"


@pytest.mark.skipif("native" not in cores(), reason="native extension not built")
def test_generated_emit_span_calls_agree_across_cores():
    """Thousands of emit_span calls of every shape (the pure core's one-format fast path and its
    general path alike) write the same bytes on both cores."""
    import random

    rnd = random.Random(11)
    words = ["chat", "<tool>", "naïve", "日本", "\u2028", 'a"b', "x\\y", "\x07", "\ud83d", "😀", "", "gpt-4o-mini"]
    ids = ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "", "not hex!", "\ud800" * 3, 7, None, "é" * 40]

    def any_value():
        return rnd.choice([rnd.random() * 10 ** rnd.randrange(-9, 25), rnd.randrange(-(2**70), 2**70), rnd.choice(words),
                           None, True, False, math.nan, [rnd.random(), rnd.choice(words)], {"k": rnd.choice(words)},
                           b"\xff", Odd(), 0, 0.0, -0.0, 3.0, 1e-5])

    calls = []
    for i in range(3000):
        kw = {}
        kw["trace_id"] = rnd.choice([x for x in ids if x is not None])  # given: generated ids differ by core
        kw["span_id"] = rnd.choice([x for x in ids if x is not None])
        if rnd.random() < 0.7:
            kw["parent_id"] = rnd.choice(ids)
        if rnd.random() < 0.3:
            kw["status"] = rnd.choice(["ok", "error", "", None, 5])
        for name in ("model", "provider", "tokens_in", "tokens_out", "cost_usd"):
            if rnd.random() < 0.4:
                kw[name] = rnd.choice([rnd.choice(words), rnd.randrange(10**6), rnd.random(), None, "gpt-4o", "claude-3-5-haiku"])
        if rnd.random() < 0.8:
            kw["attrs"] = {rnd.choice(words + ["cost_usd", "model", "tokens_in"]) + rnd.choice(["", "1"]): any_value()
                           for _ in range(rnd.randrange(8))}
        op = rnd.choice(words + [None, 3])
        times = rnd.choice([(i, i + 5), (1.5, 2), (None, 2), (2**70, -1), (True, 3)])
        calls.append(((op,) + times, kw))
    out = _emit_on_each_core(calls)
    assert len(out["native"]) == len(calls)
    for a, b, call in zip(out["native"], out["python"], calls):
        assert a == b, call


@pytest.mark.skipif("native" not in cores(), reason="native extension not built")
def test_bad_ids_are_counted_on_every_span_on_both_cores():
    """A bad id (a lone surrogate) is replaced and counted each time it is written, not once."""
    c = cores()
    before = {n: core.stats()["bad_values"].get("surrogate", 0) for n, core in c.items()}
    out = _emit_on_each_core([(("op", 1, 2), dict(trace_id="\ud800" + "a" * 31, span_id="b" * 16))] * 3)
    assert out["native"] == out["python"] and len(out["native"]) == 3
    for name, core in c.items():
        assert core.stats()["bad_values"].get("surrogate", 0) - before[name] == 3, name
