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
            attrs = {"step": i, "retry": 0, "score.faithfulness": round(score, 3)}
            if rnd.random() < 0.04:  # a rate-limited attempt, then a retry that succeeds
                fail = int(lat * 0.2)
                mist.emit_span(op, t, t + fail, trace_id=trace_id, parent_id=root, model=model, provider=provider,
                               tokens_in=tin, tokens_out=0, status="error",
                               attrs={"step": i, "retry": 0, "error": "rate limited (429)", "error_type": "RateLimitError"})
                t += fail + 500_000_000
                attrs["retry"] = 1
            mist.emit_span(op, t, t + lat, trace_id=trace_id, parent_id=root, model=model, provider=provider,
                           tokens_in=tin, tokens_out=tout, attrs=attrs)
            t += lat + 1_000_000
            mist.emit_span("tool.search", t, t + 40_000_000, trace_id=trace_id, parent_id=root, attrs={"step": i})
            t += 41_000_000
        mist.emit_span("agent.run", start, t, trace_id=trace_id, span_id=root, attrs={"run": run})
        t += 5_000_000_000
    mist.flush(30)
    return {"mid": mid}


def run(args: Any) -> int:
    from mist.cli import CLIError
    from mist.cli.report import build_report, format_headline, scan_file
    from mist.cli.view import write_page

    if args.steps < 2:
        raise CLIError("--steps must be at least 2")
    simulate(args.steps, args.out, args.seed)
    spans, alerts = 0, []
    with open(args.out, "rb") as f:
        for line in f:
            m = json.loads(line)
            if m["type"] == "trace.span":
                spans += 1
            elif m["type"] == "trace.alert" and m["payload"].get("metric") != "unpriced_model":
                alerts.append(m["payload"])
    print(f"simulated {args.steps} agent runs (3 models, tool calls, eval scores); injected at run "
          f"{args.steps // 2}: a quality drop on gpt-4o-mini and a cost spike on claude-haiku-4-5")
    print(f"wrote {spans:,} spans and {len(alerts)} alerts to {args.out}\n")
    print(format_headline(build_report(scan_file(args.out), "operation", args.out)))
    print(f"\nalerts that fired while the agent ran: {len(alerts)}")
    for a in alerts:
        print(f"  [{a['level']}] {a['message']}")
    html = os.path.splitext(args.out)[0] + ".html"
    write_page(args.out, html)
    print(f"\nwrote {html}\n\nnext:\n  mist report {args.out} --by model\n  mist replay {args.out}\n"
          f"  mist alerts {args.out}\n  mist view {args.out}   (open {html})\n  mist tail {args.out}")
    return 0
