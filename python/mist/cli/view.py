"""``mist view``: one self-contained HTML page with charts of a trace file.

The page has no external resources (no network, no CDN): inline SVG charts for cost by model and
by agent step, latency distribution per operation, cost and scores over time with the file's
``trace.alert`` lines as markers, and for the 50 most recent runs a waterfall timeline and the
replay tree (see ``mist replay``), switchable with a ``<select>``. Large files are aggregated in one
pass (the same pass as ``mist report``); only the recent runs are embedded, each capped at
``MAX_ROWS`` spans (sampled, with marked spans always kept), so the page stays small and fast.
"""
from __future__ import annotations

import bisect
import math
import os
from typing import Any, Dict, List, Optional, Tuple

from mist.cli import CLIError
from mist.cli._html import esc, hbar_chart, latency_histograms, page, table, time_chart, vbar_chart
from mist.cli._inputs import FILES_HELP, expand
from mist.cli._money import alert_amounts, fmt_usd, usd_column, usd_decimals
from mist.cli._names import shorten_unique
from mist.cli._tracefile import (
    PICO, Span, decode, describe_os_error, display_name, flat, fmt_ms, fmt_time, one_line, plural, safe_text,
    write_out,
)
from mist.cli.replay import Run, attach_late_scores, error_text
from mist.cli.report import (
    G_CALLS, G_COST, G_ERR, G_LAT, T_END, T_ROOT_END, T_START, Scan, check_input, build_report, group_row,
    scan_file,
)

HELP = "write a self-contained HTML page with charts (cost, latency, scores, alerts, run timelines)"
DESCRIPTION = """\
Write one self-contained HTML file (no network access, no CDN) for a MIST trace
file: cost by model and by step, latency distribution per operation, cost and
scores over time with alert markers, and a waterfall timeline plus the replay
tree for each of the most recent runs (pick one from the list).

Open the page in any browser; it works offline and can be attached to a bug
report or CI artifact as is."""
EPILOG = """\
examples:
  mist view traces.jsonl                 # writes traces.html next to it
  mist view traces.jsonl -o report.html
  mist view traces.jsonl.gz -o - > page.html
  mist view traces.jsonl --traces 20     # embed fewer recent runs
  mist view logs/ -o week.html           # several files, directories or patterns as one"""

MAX_TRACES = 50
MAX_ROWS = 300
MAX_TEXT = 2000
TIME_BUCKETS = 96
MAX_SCORE_LINES = 6
MAX_MODELS = 12
MAX_STEPS = 60
MAX_OPS = 8
MAX_ALERT_ROWS = 200
WATERFALL_NAMES = (24, 22)  # characters of the operation and the model in a waterfall label (as tail)


# --------------------------------------------------------------------------------------------
# data for the charts


def usd_tick(v: float) -> str:
    """Short dollar labels for chart axes: ``$0``, ``$0.0046``, ``$1.25``, ``$1,234``."""
    if v == 0:
        return "$0"
    if abs(v) >= 100:
        return f"${v:,.0f}"
    if abs(v) >= 1:
        return f"${v:.2f}"
    return f"${v:.2g}"


def _cost_by_model(scan: Scan) -> Tuple[List[Tuple[str, float, str]], int]:
    """The bars (label, cost, tooltip) and the decimals their amounts share."""
    rows = []
    for model, g in scan.groups("model").items():
        row = group_row(model, g)
        rows.append(row)
    rows.sort(key=lambda r: (-r["cost_usd"], -r["calls"]))
    d = usd_decimals(r["cost_usd"] for r in rows)
    items = []
    rest = 0.0
    for i, r in enumerate(rows):
        label = r["group"] if r["group"] is not None else "(no model)"
        if r["group"] is None and not r["cost_usd"] and not r["unpriced"]:
            continue  # spans without a model and without cost (tools, steps) are not a bar
        if i >= MAX_MODELS:
            rest += r["cost_usd"]
            continue
        tip = (f"{label}: {fmt_usd(r['cost_usd'], d)} in {r['calls']:,} calls, "
               f"{r['tokens_in']:,} tokens in / {r['tokens_out']:,} out")
        if r["unpriced"]:
            tip += f", {r['unpriced']:,} unpriced calls (cost unknown)"
            label += f" (+{r['unpriced']:,} unpriced)"
        items.append((label, r["cost_usd"], tip))
    if rest:
        items.append(("other models", rest, f"other models: {fmt_usd(rest, d)}"))
    return items, d


def _cost_by_step(scan: Scan) -> List[Tuple[str, float, str]]:
    groups = scan.groups("step")
    steps = sorted(k for k in groups if k is not None)
    items: List[Tuple[str, float, str]] = []
    over = [0, 0]
    for st in steps:
        g = groups[st]
        cost, calls, errors = g[G_COST] / PICO, g[G_CALLS], g[G_ERR]
        if st >= MAX_STEPS:
            over[0] += g[G_COST]
            over[1] += calls
            continue
        items.append((str(st), cost, f"step {st}: {fmt_usd(cost)} in {calls:,} spans, {errors:,} errors"))
    if over[1]:
        items.append((f"{MAX_STEPS}+", over[0] / PICO,
                      f"steps {MAX_STEPS} and later: {fmt_usd(over[0] / PICO)} in {over[1]:,} spans"))
    return items


def _latency_rows(scan: Scan) -> Tuple[List[Tuple[str, List[int], Dict[str, Optional[float]], int]], List[float]]:
    groups = scan.groups("operation")
    ops = sorted(groups.items(), key=lambda kv: -kv[1][0])[:MAX_OPS]
    sorted_lats = {}
    for op, g in ops:
        g[G_LAT].sort()  # in place: shared with the report rows
        sorted_lats[op] = g[G_LAT][bisect.bisect_right(g[G_LAT], 0.0):]  # log scale: positive only
    lo = min((v[0] for v in sorted_lats.values() if v), default=None)
    hi = max((v[-1] for v in sorted_lats.values() if v), default=None)
    if lo is None or hi is None:
        return [], []
    lo = 10 ** (math.floor(math.log10(lo) * 4) / 4)  # quarter-decade bounds
    hi = 10 ** (math.ceil(math.log10(hi) * 4 + 1e-9) / 4)
    if hi <= lo:
        hi = lo * 10
    nb = 40
    edges = [lo * (hi / lo) ** (k / nb) for k in range(nb + 1)]
    rows = []
    for op, g in ops:
        vals = sorted_lats[op]
        counts = []
        prev = 0
        for k in range(1, nb + 1):
            idx = bisect.bisect_right(vals, edges[k]) if k < nb else len(vals)
            counts.append(idx - prev)
            prev = idx
        row = group_row(op, g)
        pct = {"p50": row["latency_ms_p50"], "p95": row["latency_ms_p95"], "p99": row["latency_ms_p99"]}
        rows.append((op or "(no operation)", counts, pct, g[0]))
    return rows, edges


def _time_series(scan: Scan) -> Dict[str, Any]:
    traces = scan.traces
    ends = [t[T_END] for t in traces.values() if t[T_END] is not None]
    starts = [t[T_START] for t in traces.values() if t[T_START] is not None]
    # one time axis for spans, scores and alerts: a span at its end, a late score and an alert at
    # their envelope's timestamp_ns (an alert's is the time of the observation that fired it)
    alert_times = [ts for ts, _ in scan.alerts if ts]
    score_times: List[int] = []
    if any(scan.score_points.values()):
        score_times = [min(min(pts)[0] for pts in scan.score_points.values() if pts),
                       max(max(pts)[0] for pts in scan.score_points.values() if pts)]
    if not ends and not alert_times:
        return {}
    t0 = min(starts + ends + alert_times + score_times)
    t1 = max(ends + alert_times + score_times)
    if t1 <= t0:
        t1 = t0 + 1
    width = (t1 - t0) / TIME_BUCKETS
    cost = [0] * TIME_BUCKETS
    runs = [0] * TIME_BUCKETS
    for t in traces.values():
        end = t[T_END]
        if end is None:
            continue
        b = min(TIME_BUCKETS - 1, int((end - t0) / width))
        cost[b] += t[2]
        runs[b] += 1
    bars = []
    for b in range(TIME_BUCKETS):
        if not runs[b]:
            continue
        a = t0 + int(b * width)
        z = t0 + int((b + 1) * width)
        usd = cost[b] / 1e12
        spent, per_run = usd_column((usd, usd / runs[b]))
        bars.append((a, z, usd, f"{fmt_time(a)}–{fmt_time(z)} UTC: {spent} in {runs[b]:,} runs ({per_run} per run)"))
    lines: Dict[str, List[Tuple[int, float]]] = {}
    names = sorted(scan.score_points, key=lambda n: -len(scan.score_points[n]))[:MAX_SCORE_LINES]
    for name in names:
        sums = [0.0] * TIME_BUCKETS
        counts = [0] * TIME_BUCKETS
        for ts, v in scan.score_points[name]:
            b = min(TIME_BUCKETS - 1, max(0, int((ts - t0) / width)))
            sums[b] += v
            counts[b] += 1
        lines[name] = [(t0 + int((b + 0.5) * width), sums[b] / counts[b]) for b in range(TIME_BUCKETS) if counts[b]]
    alerts = []
    for ts, p in scan.alerts:
        level = p.get("level") if isinstance(p.get("level"), str) else "warning"
        since = p.get("since_ns")  # the estimated start of the change: shaded up to the marker
        since = since if type(since) is int and since < ts and p.get("state", "firing") == "firing" else None
        alerts.append((ts, level, _alert_text(ts, p), since))
    return {"t0": t0, "t1": t1, "bars": bars, "lines": lines, "alerts": alerts}


def _alert_text(ts: int, p: Dict[str, Any]) -> str:
    bits = [f"{fmt_time(ts, date=True)} UTC", str(p.get("level", "")).upper(), str(p.get("metric", ""))]
    if "value" in p:
        value, threshold = alert_amounts(p)
        bits.append(f"value {value} vs threshold {threshold}")
    if p.get("state"):
        bits.append(f"[{p.get('state')}]")
    series = p.get("series")
    if isinstance(series, dict) and series:
        bits.append(", ".join(f"{k}={v}" for k, v in sorted(series.items())))
    msg = p.get("message")
    if msg:
        bits.append("— " + one_line(msg, 300))
    return " ".join(b for b in bits if b)


# --------------------------------------------------------------------------------------------
# recent runs (waterfall + tree)


def _text(value: Any) -> Optional[str]:
    """Captured content for the page: strings as they are, anything else as indented JSON; capped."""
    if value is None:
        return None
    text = safe_text(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _finite(v: Optional[float]) -> Optional[float]:
    return v if v is not None and math.isfinite(v) else None


def recent_runs(scan: Scan, limit: int) -> List[Run]:
    """The ``limit`` most recent runs (root end, else last span end), newest first."""
    traces = scan.traces

    def recency(tid: str) -> Tuple[bool, int]:
        t = traces.get(tid)
        if t is None:
            return (False, scan.kept[tid][0])
        root_end = t[T_ROOT_END]
        return (root_end is not None, root_end if root_end is not None else (t[T_END] or 0))

    chosen = sorted(scan.kept, key=lambda tid: (recency(tid), tid), reverse=True)[:limit]
    runs = []
    for tid in chosen:
        spans = []
        for line in scan.kept[tid][1]:
            env = decode(line)
            span = Span.from_payload(env.get("payload"), env.get("timestamp_ns")) if env else None
            if span is not None:
                spans.append(span)
        if not spans:
            continue
        attach_late_scores(spans, scan.late_scores)
        runs.append(Run(tid, spans))
    return runs


def _label(s: Span, ops: Dict[str, str], models: Dict[str, str]) -> str:
    """A span's label in the waterfall (as the page's script writes it in the tree), with the
    operation and model names of ``ops`` and ``models``."""
    return (ops[flat(s.operation)] + (" " + models[flat(s.model)] if s.model else "")
            + (f" #{s.step}" if s.step is not None else "") + (f" retry {s.retry}" if s.retry else ""))


def run_data(run: Run) -> Dict[str, Any]:
    """What the page's script needs to draw one run (compact keys; see SCRIPT in _html)."""
    marks = run.marks_by_span()
    order = run.order
    total = len(order)
    if total > MAX_ROWS:  # sample evenly, always keeping the root and the marked spans
        must = {order[0].span.span_id} | set(marks)
        others = [n for n in order if n.span.span_id not in must]
        budget = max(0, MAX_ROWS - len(must))
        stride = len(others) / budget if budget else 0
        keep = must | {others[int(i * stride)].span.span_id for i in range(budget)}
        order = [n for n in order if n.span.span_id in keep]
    t0 = run.start_ns
    d = run.money_decimals()
    op_names = [flat(n.span.operation) for n in order]
    model_names = [flat(n.span.model) for n in order if n.span.model]
    ops, models = shorten_unique(op_names, 80), shorten_unique(model_names, 60)  # (the tree)
    w_ops, w_models = (shorten_unique(names, w) for names, w in zip((op_names, model_names), WATERFALL_NAMES))
    rows = []
    for node in order:
        s = node.span
        start = (s.start_ns - t0) / 1e6 if s.start_ns is not None and t0 is not None else 0.0
        if s.start_ns is not None and s.end_ns is not None:
            dur = (s.end_ns - s.start_ns) / 1e6
        else:
            dur = s.latency_ms or 0.0
        mk = "".join("e" if m.kind == "error" else "s" for m in marks.get(s.span_id, ()))
        row: Dict[str, Any] = {
            "d": node.depth, "op": ops[flat(s.operation)], "m": models[flat(s.model)] if s.model else None,
            "wl": _label(s, w_ops, w_models),
            "st": s.step, "r": s.retry, "s": round(max(0.0, start), 3), "e": round(max(0.0, dur), 3),
            "err": 1 if s.error else 0, "ti": s.tokens_in, "to": s.tokens_out,
            "c": _finite(s.cost), "cs": fmt_usd(s.cost, d) if s.cost is not None else None,
            "u": 1 if s.unpriced else 0, "lat": _finite(s.latency_ms),
            "sc": " ".join(f"{k}={v:.4g}" for k, v in sorted(s.scores.items())) or None,
            "et": None, "mk": mk or None,
        }
        if s.error:
            row["et"] = error_text(s)
        if "input" in s.attrs:
            row["in"] = _text(s.attrs["input"])
        if "output" in s.attrs:
            row["out"] = _text(s.attrs["output"])
        rows.append(row)
    dur = (run.end_ns - run.start_ns) / 1e6 if run.start_ns is not None and run.end_ns is not None else 0.0
    mark_list = []
    for m, title in ((run.first_error, "first error"), (run.first_drop, "first score drop")):
        if m is None:
            continue
        s = m.span
        share = f" ({100 * m.cost_from / run.cost:.0f}% of the run)" if run.cost > 0 else ""
        where = s.operation + (f" ({s.model})" if s.model else "") + (f" step {s.step}" if s.step is not None else "")
        sym = "✗" if m.kind == "error" else "↓"
        text = f"{sym} {title}: {where}: {m.detail} — {fmt_usd(m.cost_from, d)} spent from there on{share}"
        mark_list.append({"kind": m.kind, "text": one_line(text, 400)})
    return {"id": run.trace_id, "name": run.name, "dur": round(dur, 3), "cost": _finite(run.cost),
            "total": total, "shown": len(rows), "marks": mark_list, "spans": rows}


# --------------------------------------------------------------------------------------------
# the page


def build_page(scan: Scan, path: str, *, traces: int = MAX_TRACES) -> str:
    rep = build_report(scan, "operation", path)
    s, w = rep["summary"], rep["waste"]
    name = display_name(path)
    ts = _time_series(scan)
    body: List[str] = []
    when = ""
    if ts:
        when = f" · {fmt_time(ts['t0'], date=True)} – {fmt_time(ts['t1'], date=True)} UTC"
    body.append(f"<header><h1>mist view · {esc(os.path.basename(name) or name)}</h1>"
                f"<div class=\"muted\">{s['spans']:,} spans in {s['traces']:,} runs{esc(when)}</div>")
    cards = [
        ("total cost", fmt_usd(s["cost_usd"]), False),
        ("cost per run", fmt_usd(s["cost_per_trace_usd"]) if s["cost_per_trace_usd"] is not None else "-", False),
        ("unpriced spans", f"{s['unpriced_spans']:,}", s["unpriced_spans"] > 0),
        ("failed spans", f"{s['errors']:,}", s["errors"] > 0),
        ("retries", f"{s['retries']:,}", False),
        ("waste (failed / retried)", f"{fmt_usd(w['cost_usd'])}", w["spans"] > 0),
        ("alerts", f"{len(scan.alerts):,}", bool(scan.alerts)),
    ]
    body.append('<div class="cards">' + "".join(
        f'<div class="card{" bad" if bad else ""}"><span class="muted">{esc(k)}</span><b>{esc(v)}</b></div>'
        for k, v, bad in cards) + "</div></header><main>")

    by_model, d = _cost_by_model(scan)
    body.append('<section class="row"><div><h2>Cost by model</h2>'
                + hbar_chart(by_model, lambda v: fmt_usd(v, d), width=560, title="cost by model")
                + '</div><div><h2>Cost by step</h2>'
                + vbar_chart(_cost_by_step(scan), usd_tick, width=560, title="cost by agent step")
                + "</div></section>")
    rows, edges = _latency_rows(scan)
    body.append("<section><h2>Latency distribution per operation</h2>"
                + latency_histograms(rows, edges, fmt_ms, width=960) + "</section>")
    if ts:
        body.append("<section><h2>Cost over time</h2>"
                    + time_chart(ts["t0"], ts["t1"], ts["bars"], {}, ts["alerts"], usd_tick,
                                 lambda t: fmt_time(t), title="cost over time")
                    + "<h2>Scores over time</h2>"
                    + (time_chart(ts["t0"], ts["t1"], [], ts["lines"], ts["alerts"], lambda v: f"{v:.2f}",
                                  lambda t: fmt_time(t), title="scores over time")
                       if ts["lines"] else '<p class="note">no score.* attrs or eval scores in this file</p>')
                    + '<p class="note">dashed lines: alerts, when they fired (red critical, orange warning), '
                      "shaded back to the estimated start of the change; hover for details</p>"
                    + "</section>")
    if scan.alerts:
        ordered = sorted(scan.alerts, key=lambda a: a[0], reverse=True)[:MAX_ALERT_ROWS]

        def alert_table(items: List[Tuple[int, Dict[str, Any]]]) -> str:
            return table(
                ["time (UTC)", "level", "state", "metric", "value", "threshold", "message"],
                [[fmt_time(t, date=True), p.get("level", ""), p.get("state", ""), p.get("metric", ""),
                  *("" if v is None else v for v in alert_amounts(p)), one_line(p.get("message", ""), 160)]
                 for t, p in items],
                numeric_from=4, classes=["err" if p.get("level") == "critical" else "" for _, p in items])

        more = ""
        if len(ordered) > 20:
            more = (f"<details><summary>{len(ordered) - 20:,} earlier alerts</summary>"
                    f"{alert_table(ordered[20:])}</details>")
        cut = (f'<p class="note">{len(scan.alerts):,} alerts in the file; the newest {len(ordered):,} are listed</p>'
               if len(scan.alerts) > len(ordered) else "")
        body.append(f"<section><h2>Alerts ({len(scan.alerts):,}, newest first)</h2>"
                    + alert_table(ordered[:20]) + more + cut + "</section>")

    runs = recent_runs(scan, traces)
    data = {"traces": [run_data(r) for r in runs]}
    if runs:
        names = shorten_unique((flat(r.name) for r in runs), 40)
        options = "".join(
            f'<option value="{i}">{esc(fmt_time(r.end_ns))} · {esc(names[flat(r.name)] or "(no root)")} · '
            f'{esc(cost)} · {len(r.spans)} spans{" · " + str(r.errors) + " errors" if r.errors else ""}'
            f' · {esc(r.trace_id[:12])}</option>'
            for i, (r, cost) in enumerate(zip(runs, usd_column(r.cost for r in runs))))
        body.append("<section><h2>Run timeline</h2>"
                    f'<label>run: <select id="trace-select">{options}</select></label> '
                    f'<span class="note">the {len(runs)} most recent runs, newest first</span>'
                    '<div id="waterfall"><noscript>the timeline needs JavaScript</noscript></div>'
                    '<p id="trace-note" class="note"></p>'
                    '<h2>Replay</h2><div id="marks"></div><div id="tree"></div></section>')

    body.append("<section><h2>By operation</h2>" + _groups_table(rep["groups"], "operation") + "</section>")
    by_model = build_report(scan, "model", path)["groups"]
    body.append("<section><h2>By model</h2>" + _groups_table(by_model, "model") + "</section>")
    if rep["top_traces"]:
        body.append("<section class=\"row\"><div><h2>Most expensive runs</h2>" + table(
            ["trace", "root", "cost", "spans", "errors"],
            [[t["trace_id"][:16], t["root"] or "", cost, t["spans"], t["errors"]]
             for t, cost in zip(rep["top_traces"], usd_column(t["cost_usd"] for t in rep["top_traces"]))],
            numeric_from=2) + "</div>")
        body.append("<div><h2>Most expensive steps</h2>" + table(
            ["trace", "step", "operations", "cost", "spans"],
            [[t["trace_id"][:16], t["step"], ", ".join(t["operations"]), cost, t["spans"]]
             for t, cost in zip(rep["top_steps"], usd_column(t["cost_usd"] for t in rep["top_steps"]))],
            numeric_from=3) + "</div></section>")
    wasted, failed, retried = usd_column((w["cost_usd"], w["failed"]["cost_usd"], w["retried"]["cost_usd"]))
    waste = (f"Waste: {wasted} and {w['tokens']:,} tokens in {w['spans']:,} spans that failed "
             f"({failed}) or were retried away ({retried}).")
    inp = rep["input"]
    notes = [waste]
    if inp["undecodable"]:
        notes.append(f"{inp['undecodable']:,} undecodable lines were skipped.")
    if inp["torn"]:
        notes.append("The last line was torn (incomplete) and was ignored.")
    body.append("<section>" + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
                + '<p class="note">Generated by mist view. Latency percentiles are nearest-rank; costs of '
                  "unpriced spans are unknown and not included.</p></section></main>")
    return page(f"mist view · {os.path.basename(name) or name}", "\n".join(body), data)


def _groups_table(groups: List[Dict[str, Any]], by: str) -> str:
    rows = groups[:40]
    return table(
        [by, "calls", "errors", "retries", "tokens in", "tokens out", "cost", "unpriced", "p50", "p95", "p99"],
        [[r["group"] if r["group"] is not None else "(none)", f"{r['calls']:,}", f"{r['errors']:,}",
          f"{r['retries']:,}", f"{r['tokens_in']:,}", f"{r['tokens_out']:,}", cost,
          f"{r['unpriced']:,}", fmt_ms(r["latency_ms_p50"]), fmt_ms(r["latency_ms_p95"]),
          fmt_ms(r["latency_ms_p99"])] for r, cost in zip(rows, usd_column(r["cost_usd"] for r in rows))],
        classes=["err" if r["errors"] else "" for r in rows])


# --------------------------------------------------------------------------------------------
# the command


def add_arguments(parser: Any) -> None:
    parser.add_argument("file", nargs="+", metavar="FILE", help=FILES_HELP)
    parser.add_argument("-o", "--output", metavar="OUT.html",
                        help="where to write the page (default: FILE with .html, mist-view.html for "
                             "several files; '-' = stdout)")
    parser.add_argument("--traces", type=int, default=MAX_TRACES, metavar="N",
                        help=f"recent runs to embed for the timeline and replay (default {MAX_TRACES})")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", default=None,
                        help="worker processes for large files (default: automatic)")


def default_output(path: str) -> str:
    if path == "-":
        return "mist-view.html"
    base = path[:-3] if path.endswith(".gz") else path
    root, ext = os.path.splitext(base)
    return (root if ext in (".jsonl", ".json", ".ndjson", ".log", ".txt") else base) + ".html"


def run(args: Any) -> int:
    if not 0 <= args.traces <= 500:
        raise CLIError("--traces must be between 0 and 500")
    if args.jobs is not None and args.jobs < 1:
        raise CLIError("--jobs must be 1 or more")
    files = expand(args.file, "view")
    out = args.output or (default_output(files[0]) if len(files) == 1 else "mist-view.html")
    if out != "-":
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise CLIError(f"cannot write {out}: directory {parent} does not exist")
        if any(os.path.abspath(out) == os.path.abspath(f) for f in files):
            raise CLIError(f"-o {out} would overwrite the trace file; choose another name")
    scan, size = write_page(files if len(files) > 1 else files[0], out, traces=args.traces, jobs=args.jobs)
    if out != "-":
        print(f"wrote {out} ({size / 1e3:,.0f} kB): {plural(scan.spans, 'span')}, "
              f"{plural(len(scan.traces), 'run')}, {plural(len(scan.alerts), 'alert')}")
    return 0


def write_page(trace_path: str, out: str, *, traces: int = MAX_TRACES, jobs: Optional[int] = None,
               progress: bool = True) -> Tuple[Scan, int]:
    """Read ``trace_path`` and write its page to ``out`` (``-``: stdout); returns the scan and the
    page size in bytes. Raises CLIError for unreadable input or an unwritable output."""
    scan = scan_file(trace_path, detail=True, jobs=jobs, keep_traces=max(traces, 1), progress=progress)
    check_input(scan, trace_path)
    html_text = build_page(scan, trace_path, traces=traces)
    if out == "-":
        write_out(html_text)
        return scan, len(html_text.encode("utf-8"))
    try:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(html_text)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {describe_os_error(exc)}") from None
    return scan, len(html_text.encode("utf-8"))
