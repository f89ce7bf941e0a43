"""emit_span writes the same bytes on both cores (ids and clock masked), bad values included."""
import json
import math
import re

import pytest

import mist
from mist import _runtime
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
]


@pytest.mark.skipif("native" not in cores(), reason="native extension not built")
def test_emit_span_bytes_agree_across_cores():
    from mist.pricing import PriceTable

    table = PriceTable()
    out = {}
    _runtime.writer.stop(5)
    try:
        for name, core in cores().items():
            core.configure("parity", 1 << 20, 1 << 28, 1.0, None, None, table.per_million, None)
            core.seal()
            while core.take(0) is not None:
                pass
            for c in CASES:
                c = dict(c)
                core.emit_span(c.pop("operation"), c.pop("start_ns"), c.pop("end_ns"), trace_id="a" * 32,
                               span_id="b" * 16, **c)
            core.seal()
            data = b""
            while True:
                got = core.take(0)
                if got is None:
                    break
                data += got[1]
            out[name] = [MASK.sub(b"", line) for line in data.splitlines()]
    finally:
        mist.configure("memory://")
    assert len(out["native"]) == len(CASES)
    assert out["native"] == out["python"]
    for line in out["native"]:
        assert len(line) < 10 * 1024 * 1024
    attrs = [json.loads(line.replace(b",,", b",").replace(b"{,", b"{"))["payload"].get("attrs", {}) for line in out["native"]]
    assert attrs[0]["cost_usd"] == pytest.approx((800 * 0.15 + 100 * 0.6 + 200 * 0.075) / 1e6)
    assert attrs[1]["unpriced"] is True
    assert attrs[4] == {"mist.error": "attrs dropped: span over the 10 MiB message limit"}
    assert attrs[5]["cost_usd"] == 0.25 and attrs[5]["model"] == "m"
