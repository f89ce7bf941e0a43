"""Time ``mist report`` and ``mist view`` on a 1,000,000-span trace file.

Run as a script (``python benches/bench_cli.py [--spans N] [--keep DIR]``). It writes a realistic
agent trace file (compact ``json.dumps``, one envelope per line), then runs each command in-process
through ``mist.cli.main`` and prints wall-clock timings and the file/page sizes. The target on the
project's 2-core machine is under 10 s per command for 1,000,000 spans.

The generated runs look like what an instrumented agent writes: a root ``agent.run`` span per
trace; per step an ``agent.step`` span carrying ``step`` with an inference ``chat`` call under it
(three models with different prices, cache reads, reasoning tokens, occasional rate-limit errors
followed by a ``retry``), tool calls, eval scores on some calls, captured content on a few, and a
``trace.alert`` now and then.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

MODELS = [
    # name, provider, $/token in, $/token out, $/token cache read
    ("gpt-4o-mini", "openai", 0.15e-6, 0.6e-6, 0.075e-6),
    ("claude-sonnet-4-5", "anthropic", 3e-6, 15e-6, 0.3e-6),
    ("gemini-2.5-flash", "google", 0.3e-6, 2.5e-6, 0.075e-6),
]
TOOLS = ["tool.search", "tool.fetch", "tool.python"]


def _envelope(rng: random.Random, kind: str, ts: int, payload: dict) -> str:
    env = {
        "version": "1",
        "id": "%032x" % rng.getrandbits(128),
        "source": "bench-agent",
        "type": kind,
        "timestamp_ns": ts,
        "payload": payload,
    }
    return json.dumps(env, separators=(",", ":"))


def _span(rng: random.Random, trace_id: str, span_id: str, parent: str, op: str, start: int,
          end: int, status: str, attrs: Dict[str, object]) -> str:
    payload: Dict[str, object] = {"trace_id": trace_id, "span_id": span_id}
    if parent:
        payload["parent_id"] = parent
    payload.update(operation=op, start_ns=start, end_ns=end, status=status)
    if attrs:
        payload["attrs"] = {k: attrs[k] for k in sorted(attrs)}
    return _envelope(rng, "trace.span", end, payload)


def generate(path: str, spans: int = 1_000_000, seed: int = 7) -> int:
    """Write a realistic agent trace file with at least ``spans`` spans; return the span count."""
    rng = random.Random(seed)
    now = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    written = 0
    out: List[str] = []
    with open(path, "w", encoding="utf-8") as fh:
        while written < spans:
            trace_id = "%032x" % rng.getrandbits(128)
            root_id = "%016x" % rng.getrandbits(64)
            t0 = now
            t = t0 + rng.randint(100_000, 2_000_000)
            steps = rng.randint(3, 12)
            for step in range(steps):
                step_id = "%016x" % rng.getrandbits(64)
                step_start = t
                model, provider, p_in, p_out, p_cache = MODELS[rng.randrange(3)]
                retries = 1 if rng.random() < 0.05 else 0
                for attempt in range(retries + 1):
                    failed = attempt < retries
                    tin = rng.randint(400, 8000)
                    cache = rng.randint(0, tin // 2) if rng.random() < 0.5 else 0
                    tout = 0 if failed else rng.randint(20, 900)
                    reasoning = rng.randint(0, tout // 2) if model == "gemini-2.5-flash" else 0
                    latency = rng.lognormvariate(6.3, 0.5)
                    start = t
                    end = start + int(latency * 1e6)
                    attrs: Dict[str, object] = {
                        "model": model, "provider": provider, "tokens_in": tin,
                        "tokens_out": tout, "latency_ms": round(latency, 3), "retry": attempt,
                        "step": step,
                    }
                    if cache:
                        attrs["tokens_cache_read"] = cache
                    if reasoning:
                        attrs["tokens_reasoning"] = reasoning
                    attrs["cost_usd"] = round((tin - cache) * p_in + cache * p_cache + tout * p_out, 9)
                    if failed:
                        attrs.update(error="rate limited (429)", error_type="RateLimitError")
                    else:
                        attrs["finish_reason"] = "stop" if rng.random() < 0.7 else "tool_calls"
                        if rng.random() < 0.3:
                            attrs["score.relevance"] = round(rng.betavariate(8, 2), 4)
                    if rng.random() < 0.05:
                        attrs["input"] = "Step %d: summarise the search results for the user's question" % step
                        attrs["output"] = "The results agree that the answer is %d." % rng.randint(1, 99)
                    out.append(_span(rng, trace_id, "%016x" % rng.getrandbits(64), step_id, "chat",
                                     start, end, "error" if failed else "ok", attrs))
                    t = end + rng.randint(10_000, 200_000)
                    written += 1
                if rng.random() < 0.6:
                    tool = TOOLS[rng.randrange(3)]
                    start = t
                    dur = rng.lognormvariate(4.5, 0.8)
                    end = start + int(dur * 1e6)
                    ok = rng.random() > 0.02
                    attrs = {"latency_ms": round(dur, 3), "step": step}
                    if not ok:
                        attrs.update(error="tool timed out", error_type="TimeoutError")
                    out.append(_span(rng, trace_id, "%016x" % rng.getrandbits(64), step_id, tool,
                                     start, end, "ok" if ok else "error", attrs))
                    t = end + rng.randint(10_000, 200_000)
                    written += 1
                out.append(_span(rng, trace_id, step_id, root_id, "agent.step", step_start, t, "ok",
                                 {"step": step}))
                written += 1
            root_attrs: Dict[str, object] = {"score.task_success": 1.0 if rng.random() < 0.85 else 0.0}
            out.append(_span(rng, trace_id, root_id, "", "agent.run", t0, t, "ok", root_attrs))
            written += 1
            if rng.random() < 0.002:
                out.append(_envelope(rng, "trace.alert", t, {
                    "level": "warning", "metric": "cost_usd", "value": 0.02, "threshold": 0.01,
                    "message": "cost per call rose 2.0x on chat claude-sonnet-4-5", "state": "firing",
                    "series": {"model": "claude-sonnet-4-5", "operation": "chat"}, "since_ns": t0}))
            now = t + rng.randint(1_000_000, 50_000_000)
            if len(out) >= 5000:
                fh.write("\n".join(out) + "\n")
                out.clear()
        if out:
            fh.write("\n".join(out) + "\n")
    return written


def _time(argv: List[str]) -> str:
    """Wall and CPU time of ``python -m mist ARGV`` in a fresh process (what a user waits for).

    CPU seconds (user + system, worker processes included) are printed too: on a busy machine
    the wall time mostly measures the other jobs, and wall ≈ CPU / 2 on an idle 2-core machine.
    """
    import resource
    import subprocess

    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(os.path.dirname(HERE), "python") + os.pathsep + env.get("PYTHONPATH", "")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mist", *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"mist {' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return f"{elapsed:6.2f} s wall  {cpu:6.2f} s CPU  (load {load:.1f} → {os.getloadavg()[0]:.1f})"


def _page_load(html: str) -> None:
    """Open the page in headless Chromium (when installed) and time it until the load event."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
    try:
        from test_view_browser import Chromium, find_chromium  # the test suite's tiny CDP client
    except ImportError as exc:  # pragma: no cover
        print(f"page load: skipped ({exc})")
        return
    binary = find_chromium()
    if binary is None:
        print("page load: skipped (no chromium; apt-get install -y chromium)")
        return
    browser = Chromium(binary)
    try:
        browser.load("about:blank")
        secs = browser.load("file://" + os.path.abspath(html))
        rows = browser.evaluate("document.querySelectorAll('#waterfall svg g').length")
        print(f"page load (chromium)   {secs:6.2f} s  ({len(browser.errors())} console errors, "
              f"{rows} waterfall rows drawn)")
    finally:
        browser.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=1_000_000, help="spans to generate (default 1,000,000)")
    ap.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--file", metavar="PATH", help="time an existing trace file instead of generating one")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tmp = args.keep or tempfile.mkdtemp(prefix="mist-bench-cli-")
    os.makedirs(tmp, exist_ok=True)
    if args.file:
        path = args.file
        print(f"file: {path}, {os.path.getsize(path) / 1e6:.0f} MB")
    else:
        path = os.path.join(tmp, "spans.jsonl")
        t0 = time.perf_counter()
        n = generate(path, args.spans, args.seed)
        size = os.path.getsize(path)
        print(f"generated {n:,} spans, {size / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s: {path}")
    print(f"mist report            {_time(['report', path])}")
    for by in ("model", "step", "trace"):
        print(f"mist report --by {by:<5} {_time(['report', path, '--by', by])}")
    html = os.path.join(tmp, "spans.html")
    timing = _time(["view", path, "-o", html])
    print(f"mist view              {timing}  {os.path.getsize(html) / 1e3:.0f} kB page")
    _page_load(html)
    if not args.keep:
        if not args.file:
            os.remove(path)
        os.remove(html)
        os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
