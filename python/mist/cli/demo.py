"""``mist demo``: a simulated agent (deterministic fake LLM, no network) with a regression
injected midway; writes the trace file, prints the headline and the alerts that fired."""
from __future__ import annotations

import json
import os
import random
from typing import Any, Dict, List

HELP = "run a simulated agent with an injected regression; write traces, print report and alerts"
EPILOG = "examples:\n  mist demo\n  mist demo --steps 400 --out /tmp/demo.jsonl --seed 7"

MODELS = [("gpt-4o-mini", "openai"), ("claude-haiku-4-5", "anthropic"), ("gemini-2.5-flash", "gcp.gemini")]


def add_arguments(p: Any) -> None:
    p.add_argument("--steps", type=int, default=300, help="agent runs to simulate (default 300)")
    p.add_argument("--out", default="mist-demo.jsonl", help="trace file to write (default mist-demo.jsonl)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")


def simulate(steps: int, out: str, seed: int) -> Dict[str, Any]:
    import mist

    rnd = random.Random(seed)
    if os.path.exists(out):
        os.unlink(out)
    mist.configure("file://" + out, source="mist-demo")
    t = 1_790_000_000_000_000_000
    mid = steps // 2
    for run in range(steps):
        trace_id = "%032x" % rnd.getrandbits(128)
        root = "%016x" % rnd.getrandbits(64)
        start = t
        for i, (model, provider) in enumerate(MODELS):
            op = ("plan", "chat", "summarize")[i]
            tin = rnd.randint(600, 1400)
            tout = rnd.randint(40, 160)
            if run >= mid and model == "claude-haiku-4-5":
                tout *= 3  # injected cost spike
            lat = int(rnd.lognormvariate(6.5, 0.3) * 1e6)
            score = min(1.0, max(0.0, rnd.gauss(0.9, 0.04)))
            if run >= mid and model == "gpt-4o-mini":
                score = min(1.0, max(0.0, rnd.gauss(0.62, 0.05)))  # injected quality regression
            err = rnd.random() < 0.02
            attrs = {"step": i, "retry": 0, "score.faithfulness": round(score, 3), "latency_ms": lat // 1_000_000}
            if err:
                attrs.update(error="rate limited (429)", error_type="RateLimitError")
            mist.emit_span(op, t, t + lat, trace_id=trace_id, parent_id=root, model=model, provider=provider,
                           tokens_in=tin, tokens_out=tout, attrs=attrs,
                           status="error" if err else "ok")
            t += lat + 1_000_000
            mist.emit_span("tool.search", t, t + 40_000_000, trace_id=trace_id, parent_id=root, attrs={"step": i})
            t += 41_000_000
        mist.emit_span("agent.run", start, t, trace_id=trace_id, span_id=root, attrs={"run": run})
        t += 5_000_000_000
    mist.flush(30)
    return {"mid": mid}


def run(args: Any) -> int:
    from mist.cli import CLIError

    if args.steps < 2:
        raise CLIError("--steps must be at least 2")
    simulate(args.steps, args.out, args.seed)
    spans: List[Dict[str, Any]] = []
    with open(args.out, "rb") as f:
        for line in f:
            m = json.loads(line)
            if m["type"] == "trace.span":
                spans.append(m["payload"])
    cost = sum(s.get("attrs", {}).get("cost_usd", 0) for s in spans)
    errors = sum(1 for s in spans if s["status"] == "error")
    by_model: Dict[str, List[float]] = {}
    for s in spans:
        a = s.get("attrs", {})
        if "model" in a:
            by_model.setdefault(a["model"], []).append(a.get("cost_usd", 0))
    print(f"wrote {len(spans):,} spans from {args.steps} simulated agent runs to {args.out}")
    print(f"total cost ${cost:.4f} (${cost / args.steps:.5f} per run), {errors} failed calls")
    for m, cs in sorted(by_model.items()):
        print(f"  {m:<20} {len(cs):>5} calls  ${sum(cs):.4f}")
    fired = _alerts(spans)
    if fired is None:
        print("alerts: the regression detectors are not installed in this build")
    else:
        print(f"alerts fired: {len(fired)}")
        for a in fired:
            print(f"  [{a['level']}] {a['message']}")
    print("\nnext: mist report %s --by model | mist replay %s | mist alerts %s | mist view %s"
          % (args.out, args.out, args.out, args.out))
    return 0


def _alerts(spans: List[Dict[str, Any]]) -> Any:
    try:
        from mist.alerts import AlertEngine
    except ImportError:
        return None
    eng = AlertEngine()
    fired = []
    for s in spans:
        for a in eng.observe(s, s.get("end_ns")):
            if a.get("state", "firing") == "firing":
                fired.append(a)
    return fired
