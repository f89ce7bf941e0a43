"""Transport benchmark: spans over loopback HTTP through the network sinks.

    python benches/bench_transport.py            # 1,000,000 spans per mode, 30 s outage
    python benches/bench_transport.py --quick    # smoke run: 50,000 spans, 2 s outage

First the OTLP protobuf encoding alone (JSONL batch → ``ExportTraceServiceRequest``): the native
core against the pure-Python encoder on the same batches in the same run (spans/s; the bodies are
checked to be the same bytes).

For each mode (NDJSON, NDJSON+gzip, OTLP protobuf with the encoder the backend picks — native
unless ``MIST_PURE_PYTHON=1`` —, OTLP protobuf forced to the pure-Python encoder) it writes
pre-built JSONL batches (what the batcher hands a sink) to a sink whose in-process receiver counts
what arrives, and reports:

* spans/s delivered (from the first ``write`` until ``flush`` confirms the receiver has them all),
* bytes per span on the wire (request bodies as the receiver got them),
* CPU per span: the process CPU (``time.process_time``) minus what the receiver's threads used
  (``time.thread_time`` in its handlers), i.e. the sink's cost including the sender thread.

Then an outage: the receiver is down while the application keeps writing at a steady rate; it
reports how long ``write()`` takes (p50/p99/p99.9/max: the sender thread does all the waiting and
spooling), how long ``close()`` takes with the endpoint still down, and whether a new sink on the
same spool delivers everything once the receiver is back.

The writer applies backpressure through ``stats()['queue_bytes']`` so the throughput measured is
what the sink delivers, not how fast a queue can overflow.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "tests")]
# importing mist sets up its default sink; this benchmark drives sinks directly
os.environ.setdefault("MIST_SINK", "null://")

from mist.sinks import otlp_encode  # noqa: E402
from mist.sinks.http import HTTPSink  # noqa: E402
from mist.sinks.otlp import OTLPSink  # noqa: E402
from receivers import OTLPReceiver, Receiver, batch, make_lines  # noqa: E402


def build_batches(n_batches: int, spans_per_batch: int) -> list:
    """Distinct canonical-looking batches (reused round-robin: generating spans is not measured)."""
    out = []
    for i in range(n_batches):
        lines = make_lines(spans_per_batch, start=i * spans_per_batch, seed=11)
        out.append(batch(lines))
    return out


def run_encode(total: int, batches: list, per_batch: int) -> dict:
    """OTLP protobuf encoding alone, each encoder over the same ``total`` spans (batches round-robin)."""
    version = "bench"

    def python(data: bytes) -> bytes:
        groups, _ = otlp_encode.convert(data)
        return otlp_encode.encode_protobuf(groups, version)

    encoders = {"python": python}
    native = otlp_encode._native_encoder()  # None on the pure-Python backend
    if native is not None:
        encoders["native"] = lambda data: native(data, version)[0]
        same = all(encoders["native"](b) == python(b) for b in batches)
    res: dict = {"mode": "otlp-encode", "spans": 0, "same_bytes": native is not None and same}
    n = max(1, total // per_batch)
    for name, encode in encoders.items():
        encode(batches[0])  # warm caches
        t0 = time.perf_counter()
        for i in range(n):
            encode(batches[i % len(batches)])
        res[f"{name}_spans_per_s"] = round(n * per_batch / (time.perf_counter() - t0))
        res["spans"] = n * per_batch
    return res


def run_mode(name: str, total: int, batches: list, per_batch: int) -> dict:
    otlp = name.startswith("otlp-protobuf")
    receiver = (OTLPReceiver if otlp else Receiver)(keep_bodies=False)
    query = "spool=off&queue_bytes=64MiB"
    if otlp:
        sink = OTLPSink.from_url(f"otlp://127.0.0.1:{receiver.port}?{query}", environ={})
    else:
        gz = "&gzip=1" if name == "ndjson-gzip" else ""
        sink = HTTPSink.from_url(f"{receiver.url}/mist?{query}{gz}", environ={})
    n_writes = total // per_batch
    high_water = 16 * 1024 * 1024
    pick_encoder = otlp_encode._native_encoder
    if name == "otlp-protobuf-py":
        otlp_encode._native_encoder = lambda: None  # the sink encodes with the pure-Python encoder
    try:
        cpu0, recv0 = time.process_time(), receiver.cpu
        t0 = time.perf_counter()
        for i in range(n_writes):
            sink.write(batches[i % len(batches)])
            if i % 4 == 3:
                while sink.stats()["queue_bytes"] > high_water:
                    time.sleep(0.0005)
        ok = sink.flush(600)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        recv_cpu = receiver.cpu - recv0
        receiver.wait_items(n_writes * per_batch, timeout=10)
        stats = sink.stats()
    finally:
        sink.close(5)
        receiver.stop()
        otlp_encode._native_encoder = pick_encoder
    spans = n_writes * per_batch
    return {
        "mode": name,
        "spans": spans,
        "delivered": receiver.items,
        "flush_ok": ok,
        "seconds": round(elapsed, 3),
        "spans_per_s": round(spans / elapsed),
        "wire_bytes_per_span": round(receiver.bytes / spans, 1),
        "sink_cpu_us_per_span": round((cpu - recv_cpu) / spans * 1e6, 3),
        "process_cpu_us_per_span": round(cpu / spans * 1e6, 3),
        "requests": stats.get("sent_batches", 0),
        "dropped": stats.get("dropped_envelopes", 0),
    }


def paced_floor(writes_per_s: int, n: int = 1000) -> list:
    """Latency of a trivial locked append + notify at the same pace: this machine's floor
    (a thread waking from sleep pays for cold caches; no sink can be faster than this)."""
    import collections
    import threading

    q: collections.deque = collections.deque()
    cond = threading.Condition()
    out = []
    interval = 1.0 / writes_per_s
    for _ in range(n):
        t = time.perf_counter_ns()
        with cond:
            q.append(b"x")
            cond.notify()
        out.append(time.perf_counter_ns() - t)
        time.sleep(interval)
    out.sort()
    return out


def emit_latencies(seconds: float, background=None) -> list:
    """The application's view: a tight loop of small span-sized work (build a dict, append it)
    timed per iteration, while ``background`` (a thread acting as the batcher's writer) runs.
    What a sink costs the application is the GIL time its threads take away from this loop."""
    import threading

    stop = threading.Event()
    thread = None
    if background is not None:
        thread = threading.Thread(target=background, args=(stop,), daemon=True)
        thread.start()
    out = []
    sink_list: list = []
    end = time.perf_counter() + seconds
    clock = time.perf_counter_ns
    i = 0
    while True:
        t = clock()
        sink_list.append({"operation": "chat", "model": "gpt-4o-mini", "tokens_in": i, "tokens_out": 7})
        out.append(clock() - t)
        i += 1
        if len(sink_list) > 4096:
            sink_list.clear()
            if time.perf_counter() > end:
                break
    stop.set()
    if thread is not None:
        thread.join(10)
    out.sort()
    return out


def run_outage(seconds: float, writes_per_s: int, per_write: int) -> dict:
    probe = Receiver()
    port = probe.port
    probe.stop()  # connection refused for the whole outage
    spool_dir = tempfile.mkdtemp(prefix="mist-bench-spool-")
    url = f"http://127.0.0.1:{port}/mist?spool={spool_dir}&retry_window=1&retry_max_delay=1"
    sink = HTTPSink.from_url(url, environ={})
    lines = make_lines(per_write * 64, seed=5)
    payloads = [batch(lines[i * per_write:(i + 1) * per_write]) for i in range(64)]
    latencies = []
    interval = 1.0 / writes_per_s
    n = int(seconds * writes_per_s)

    def writer(stop) -> None:  # plays the batcher's writer thread: one batch every `interval`
        next_at = time.perf_counter()
        for i in range(n):
            if stop.is_set():
                break
            data = payloads[i % len(payloads)]
            t = time.perf_counter_ns()
            sink.write(data)
            latencies.append(time.perf_counter_ns() - t)
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)

    def idle(stop) -> None:
        stop.wait(seconds + 5)

    baseline = emit_latencies(min(seconds, 5.0), idle)
    emits = emit_latencies(seconds, writer)
    n = len(latencies)
    stats_before_close = sink.stats()
    t = time.perf_counter()
    sink.close(2.0)
    close_s = time.perf_counter() - t
    stats = sink.stats()
    written = n * per_write
    receiver = Receiver(port, keep_bodies=False)
    try:
        again = HTTPSink.from_url(url, environ={})
        receiver.wait_items(written, timeout=120)
        again.close(10)
    finally:
        receiver.stop()
    latencies.sort()
    floor = paced_floor(writes_per_s)

    def pct(p: float, values: list = latencies) -> float:
        return round(values[min(len(values) - 1, int(p * len(values)))] / 1000, 2)

    def pct_ns(p: float, values: list) -> int:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {
        "outage_seconds": seconds,
        "writes": n,
        "spans_written": written,
        "write_us_p50": pct(0.50),
        "write_us_p99": pct(0.99),
        "write_us_p999": pct(0.999),
        "write_us_max": round(latencies[-1] / 1000, 2),
        "emits": len(emits),
        "emit_ns_p50": pct_ns(0.50, emits),
        "emit_ns_p99": pct_ns(0.99, emits),
        "emit_ns_p999": pct_ns(0.999, emits),
        "emit_ns_p999_without_sink": pct_ns(0.999, baseline),
        "floor_us_p50": pct(0.50, floor),
        "floor_us_p999": pct(0.999, floor),
        "close_seconds_with_endpoint_down": round(close_s, 3),
        "spooled_spans": stats.get("spooled_envelopes", 0),
        "dropped_during_outage": stats_before_close.get("dropped_envelopes", 0),
        "delivered_after_recovery": receiver.items,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (50k spans, 2 s outage)")
    ap.add_argument("--spans", type=int, default=None, help="spans per mode (default 1,000,000)")
    ap.add_argument("--batch-spans", type=int, default=2000, help="spans per write() (default 2000)")
    ap.add_argument("--modes", default="ndjson,ndjson-gzip,otlp-protobuf,otlp-protobuf-py")
    ap.add_argument("--encode-spans", type=int, default=None,
                    help="spans per encoder in the OTLP encode comparison (default: spans per mode / 5; 0 skips)")
    ap.add_argument("--outage-seconds", type=float, default=None, help="default 30 (2 with --quick)")
    ap.add_argument("--json", action="store_true", help="print one JSON object per result")
    args = ap.parse_args(argv)
    total = args.spans or (50_000 if args.quick else 1_000_000)
    outage = args.outage_seconds if args.outage_seconds is not None else (2.0 if args.quick else 30.0)
    random.seed(0)
    batches = build_batches(8, args.batch_spans)
    from mist.core import backend as _backend

    print(f"# {total:,} spans per mode, {args.batch_spans} spans/batch, "
          f"{len(batches[0]) / args.batch_spans:.0f} B/span JSONL, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, {_backend.backend} backend", flush=True)
    results = []
    encode_spans = total // 5 if args.encode_spans is None else args.encode_spans
    if encode_spans > 0:
        res = run_encode(encode_spans, batches, args.batch_spans)
        if args.json:
            print(json.dumps(res), flush=True)
        elif "native_spans_per_s" in res:
            print(f"{'otlp encode':16s} native {res['native_spans_per_s']:>10,} spans/s  "
                  f"python {res['python_spans_per_s']:>8,} spans/s  "
                  f"({res['native_spans_per_s'] / res['python_spans_per_s']:.1f}x; "
                  f"{'same bytes' if res['same_bytes'] else 'BYTES DIFFER'}; {res['spans']:,} spans each)", flush=True)
        else:
            print(f"{'otlp encode':16s} python {res['python_spans_per_s']:>8,} spans/s  "
                  f"(no native core on this backend)", flush=True)
        if "native_spans_per_s" in res and not res["same_bytes"]:
            results.append({"delivered": 0, "spans": 1})  # fail the run
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        res = run_mode(mode, total, batches, args.batch_spans)
        results.append(res)
        if args.json:
            print(json.dumps(res), flush=True)
        else:
            print(f"{mode:16s} {res['spans_per_s']:>10,} spans/s  {res['wire_bytes_per_span']:>7} B/span on the wire  "
                  f"{res['sink_cpu_us_per_span']:>7} us CPU/span (sink)  "
                  f"delivered {res['delivered']:,}/{res['spans']:,}  dropped {res['dropped']}", flush=True)
    if outage > 0:
        res = run_outage(outage, writes_per_s=200, per_write=50)
        results.append(res)
        if args.json:
            print(json.dumps(res), flush=True)
        else:
            print(f"outage {outage:g}s: write() p50 {res['write_us_p50']} us, p99 {res['write_us_p99']} us, "
                  f"p99.9 {res['write_us_p999']} us, max {res['write_us_max']} us over {res['writes']} writes "
                  f"(floor: a bare locked append at this pace p50 {res['floor_us_p50']} us, "
                  f"p99.9 {res['floor_us_p999']} us); "
                  f"application emit loop meanwhile: p50 {res['emit_ns_p50']} ns, p99 {res['emit_ns_p99']} ns, "
                  f"p99.9 {res['emit_ns_p999']} ns over {res['emits']:,} emits "
                  f"(p99.9 {res['emit_ns_p999_without_sink']} ns with no sink running); "
                  f"close(2.0) took {res['close_seconds_with_endpoint_down']} s; spooled {res['spooled_spans']:,}, "
                  f"dropped {res['dropped_during_outage']}, delivered after recovery "
                  f"{res['delivered_after_recovery']:,}/{res['spans_written']:,}", flush=True)
    bad = [r for r in results if r.get("delivered", r.get("delivered_after_recovery")) !=
           r.get("spans", r.get("spans_written"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
