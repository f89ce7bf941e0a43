"""pytest-benchmark rows for the core hot path, side by side in one run:
``.venv/bin/python -m pytest benches/test_bench_core.py --benchmark-columns=mean,median,ops``
(`mist bench` prints the same comparison as a table, with fresh interpreters per backend)."""
import random
import time

import pytest

import mist
from mist.core import pure as _pycore

TID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(autouse=True, scope="module")
def _null_sink():
    mist.configure("null://")
    _pycore.configure("bench", 256 * 1024, 1 << 30, 1.0, None, None)
    yield
    mist.configure("memory://")


def _kw(i):
    return dict(trace_id=TID, parent_id="00f067aa0ba902b7", model="gpt-4o-mini", provider="openai",
                tokens_in=812, tokens_out=64, cost_usd=0.0001602, attrs={"finish_reason": "stop", "step": i})


def test_native_emit_span(benchmark):
    benchmark(lambda: mist.emit_span("chat", 1, 2, **_kw(1)))


def test_python_emit_span(benchmark):
    def run():
        _pycore.emit_span("chat", 1, 2, **_kw(1))
        if _pycore._queued > 1 << 28:
            _pycore.take(0)
    benchmark(run)


def test_span_context_manager(benchmark):
    def run():
        with mist.span("chat", model="gpt-4o-mini", tokens_in=812, tokens_out=64, cost_usd=0.0001602):
            pass
    benchmark(run)


def test_handwritten_orjson(benchmark):
    orjson = pytest.importorskip("orjson")
    buf = bytearray()
    bits = random.getrandbits

    def run():
        d = {"version": "1", "id": "%032x" % bits(128), "source": "bench", "type": "trace.span",
             "timestamp_ns": time.time_ns(), "payload": {"trace_id": TID, "span_id": "%016x" % bits(64),
             "parent_id": "00f067aa0ba902b7", "operation": "chat", "start_ns": 1, "end_ns": 2, "status": "ok",
             "attrs": {"cost_usd": 0.0001602, "finish_reason": "stop", "model": "gpt-4o-mini", "provider": "openai",
                       "step": 1, "tokens_in": 812, "tokens_out": 64}}}
        buf.extend(orjson.dumps(d, option=orjson.OPT_SORT_KEYS))
        if len(buf) > 1 << 26:
            buf.clear()
    benchmark(run)


def test_otel_sdk_span(benchmark):
    from mist.cli.bench import GENAI_ATTRS, otel_tracer

    peer = otel_tracer()
    if peer is None:
        pytest.skip("opentelemetry-sdk not installed")
    tp, tracer = peer
    benchmark(lambda: tracer.start_span("chat gpt-4o-mini", attributes=GENAI_ATTRS).end())
    tp.shutdown()
