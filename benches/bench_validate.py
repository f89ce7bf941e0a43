"""Benchmark: `mist validate` and `mist.read` over a file of realistic spans, next to the
`jsonschema` library (and `fastjsonschema` when installed) on the same lines. All in one run.

    .venv/bin/python benches/bench_validate.py                 # 1,000,000 lines
    .venv/bin/python benches/bench_validate.py --lines 200000 --rss-gb 0   # quicker, no big file
    .venv/bin/python benches/bench_validate.py --rss-gb 5      # + peak RSS on a 5 GB file

`mist validate` runs as the real command in a subprocess (interpreter start-up included, so the
per-line figure is if anything pessimistic). `jsonschema` is slow, so it runs on the first
`--ref-lines` lines (json.loads + iter_errors per line) and its rate is extrapolated per line;
the report says so. Peak RSS comes from ``getrusage(RUSAGE_CHILDREN)`` in a small process whose
only child is `mist validate` (the big file is generated in the temp directory, then deleted).
Numbers are ratios of rows of one run on this machine, not promises.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_PATH = os.path.join(ROOT, "schema", "mttp.schema.json")

MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-sonnet-4-5", "anthropic"),
          ("claude-haiku-4-5", "anthropic"), ("gemini-2.5-flash", "gcp.gemini")]
OPS = ["chat", "agent.step", "tool.search", "tool.fetch", "embed", "rerank"]
FINISH = ["stop", "length", "tool_calls", "end_turn"]


def span_lines(n: int, seed: int = 7) -> List[bytes]:
    """`n` canonical trace.span envelopes (~450-600 bytes), as mist itself writes them."""
    import mist.codec

    rnd = random.Random(seed)
    out = []
    t0 = 1_760_000_000_000_000_000
    trace = "%032x" % rnd.getrandbits(128)
    parent = None
    for i in range(n):
        if i % 8 == 0:
            trace, parent = "%032x" % rnd.getrandbits(128), None
        model, provider = MODELS[rnd.randrange(len(MODELS))]
        start = t0 + i * 1_000_000 + rnd.randrange(1000)
        end = start + rnd.randrange(50_000_000, 4_000_000_000)
        tin, tout = rnd.randrange(50, 20000), rnd.randrange(1, 2000)
        attrs: Dict[str, Any] = {"model": model, "provider": provider, "tokens_in": tin, "tokens_out": tout,
                                 "tokens_cache_read": rnd.randrange(0, tin), "cost_usd": round(rnd.random() * 0.02, 8),
                                 "latency_ms": round((end - start) / 1e6, 3), "finish_reason": FINISH[rnd.randrange(4)],
                                 "step": i % 8, "retry": 0 if rnd.random() < 0.95 else 1}
        if rnd.random() < 0.2:
            attrs["score.relevance"] = round(rnd.random(), 4)
        if rnd.random() < 0.05:
            attrs["error"], attrs["error_type"] = "rate limited", "RateLimitError"
        span_id = "%016x" % rnd.getrandbits(64)
        payload = {"trace_id": trace, "span_id": span_id, "operation": OPS[rnd.randrange(len(OPS))],
                   "start_ns": start, "end_ns": end, "status": "error" if "error" in attrs else "ok", "attrs": attrs}
        if parent:
            payload["parent_id"] = parent
        parent = span_id
        env = {"version": "1", "id": "%032x" % rnd.getrandbits(128), "source": "checkout-agent", "type": "trace.span",
               "timestamp_ns": end, "payload": payload}
        out.append(mist.codec.encode(env))
    return out


def write_file(path: str, lines: List[bytes], repeat: int = 1) -> int:
    blob = b"\n".join(lines) + b"\n"
    with open(path, "wb") as f:
        for _ in range(repeat):
            f.write(blob)
    return len(blob) * repeat


def run_cli(args: List[str]) -> Dict[str, Any]:
    """`mist ARGS` timed and measured from a small intermediate process: RUSAGE_CHILDREN there sees
    only `mist` (measured from this process it would include the memory of this one, copied at
    fork before the exec)."""
    code = ("import resource,subprocess,sys,time;t=time.perf_counter();"
            f"r=subprocess.run([sys.executable,'-m','mist']+{args!r},stdout=subprocess.DEVNULL);"
            "el=time.perf_counter()-t;"
            "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(r.returncode, el, u.ru_maxrss, u.ru_utime + u.ru_stime)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return {"rc": int(out[0]), "seconds": float(out[1]), "peak_rss_mb": int(out[2]) / 1024, "cpu_seconds": float(out[3])}


def bench_read(path: str, n: int) -> float:
    import mist

    t = time.perf_counter()
    count = sum(1 for _ in mist.read(path))
    el = time.perf_counter() - t
    assert count == n, (count, n)
    return el


def bench_json_loads(path: str) -> float:
    t = time.perf_counter()
    with open(path, "rb") as f:
        for line in f:
            json.loads(line)
    return time.perf_counter() - t


def bench_jsonschema(lines: List[bytes]) -> float:
    import jsonschema

    v = jsonschema.Draft202012Validator(json.load(open(SCHEMA_PATH)))
    t = time.perf_counter()
    bad = 0
    for line in lines:
        for _ in v.iter_errors(json.loads(line)):
            bad += 1
    el = time.perf_counter() - t
    assert bad == 0
    return el


def bench_fastjsonschema(lines: List[bytes]) -> Any:
    try:
        import fastjsonschema
    except ImportError:
        return None
    check = fastjsonschema.compile(json.load(open(SCHEMA_PATH)))
    t = time.perf_counter()
    for line in lines:
        check(json.loads(line))
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--ref-lines", type=int, default=20_000, help="lines the jsonschema library checks (extrapolated)")
    ap.add_argument("--rss-gb", type=float, default=0.0, help="also measure peak RSS on a file this big (0: skip)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    import mist

    res: Dict[str, Any] = {"backend": mist.backend, "lines": args.lines}
    base = span_lines(min(args.lines, 200_000))
    reps = -(-args.lines // len(base))
    tmp = tempfile.mkdtemp(prefix="mist-bench-")
    path = os.path.join(tmp, "spans.jsonl")
    try:
        lines = (base * reps)[: args.lines]
        size = write_file(path, lines)
        res["file_mb"] = size / 1e6
        res["bytes_per_line"] = size / args.lines
        cli = run_cli(["validate", path])
        assert cli["rc"] == 0, cli
        res["mist_validate_s"] = cli["seconds"]
        res["mist_validate_lines_per_s"] = args.lines / cli["seconds"]
        res["mist_validate_peak_rss_mb"] = cli["peak_rss_mb"]
        res["mist_validate_cpu_s"] = cli["cpu_seconds"]
        res["load_average_1m"] = os.getloadavg()[0]
        res["mist_read_s"] = bench_read(path, args.lines)
        res["mist_read_lines_per_s"] = args.lines / res["mist_read_s"]
        res["json_loads_lines_per_s"] = args.lines / bench_json_loads(path)
        ref = lines[: args.ref_lines]
        el = bench_jsonschema(ref)
        res["jsonschema_lines_measured"] = len(ref)
        res["jsonschema_lines_per_s"] = len(ref) / el
        res["jsonschema_extrapolated_s"] = args.lines * el / len(ref)
        res["speedup_vs_jsonschema"] = res["mist_validate_lines_per_s"] / res["jsonschema_lines_per_s"]
        fj = bench_fastjsonschema(ref)
        if fj is not None:
            res["fastjsonschema_lines_per_s"] = len(ref) / fj
        os.unlink(path)
        if args.rss_gb > 0:
            big = os.path.join(tmp, "big.jsonl")
            nrep = max(1, int(args.rss_gb * 1e9 // (len(b"\n".join(base)) + 1)))
            res["big_file_gb"] = write_file(big, base, nrep) / 1e9
            res["big_lines"] = nrep * len(base)
            r = run_cli(["validate", big])
            os.unlink(big)
            assert r["rc"] == 0, r
            res["big_validate_s"] = r["seconds"]
            res["big_lines_per_s"] = res["big_lines"] / r["seconds"]
            res["big_peak_rss_mb"] = r["peak_rss_mb"]
            small = os.path.join(tmp, "small.jsonl")
            write_file(small, base[:1000])
            res["small_file_peak_rss_mb"] = run_cli(["validate", small])["peak_rss_mb"]
            os.unlink(small)
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"backend: {res['backend']}; {args.lines:,} span lines, {res['file_mb']:.0f} MB ({res['bytes_per_line']:.0f} B/line)")
    print(f"  mist validate (CLI, whole run)   {res['mist_validate_lines_per_s']:>12,.0f} lines/s   {res['mist_validate_s']:.2f} s   "
          f"({res['mist_validate_cpu_s']:.2f} CPU-s, {os.cpu_count()} cores, load average {res['load_average_1m']:.1f})   peak RSS {res['mist_validate_peak_rss_mb']:.0f} MB")
    print(f"  mist.read (iterate dicts)        {res['mist_read_lines_per_s']:>12,.0f} lines/s   {res['mist_read_s']:.2f} s")
    print(f"  json.loads per line (reference)  {res['json_loads_lines_per_s']:>12,.0f} lines/s")
    print(f"  jsonschema (json.loads+iter_errors) {res['jsonschema_lines_per_s']:>9,.0f} lines/s   measured on {res['jsonschema_lines_measured']:,} lines, "
          f"extrapolated {res['jsonschema_extrapolated_s']:.0f} s for the file")
    if "fastjsonschema_lines_per_s" in res:
        print(f"  fastjsonschema                   {res['fastjsonschema_lines_per_s']:>12,.0f} lines/s")
    print(f"  mist validate vs jsonschema: {res['speedup_vs_jsonschema']:.0f}x faster")
    if "big_file_gb" in res:
        print(f"  {res['big_file_gb']:.1f} GB file ({res['big_lines']:,} lines): {res['big_lines_per_s']:,.0f} lines/s, "
              f"peak RSS {res['big_peak_rss_mb']:.0f} MB (a 1,000-line file: {res['small_file_peak_rss_mb']:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
