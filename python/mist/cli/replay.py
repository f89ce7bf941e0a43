"""``mist replay``: one run, step by step, as an indented tree in time order.

For each span: operation, model, step/retry, what it saw and decided (captured ``input`` and
``output``, one line each unless ``--full``), tokens, cost, latency, scores and errors. Two spans are
marked, with the cost spent from them on:

- **first error**: the failing span (``status: "error"``) that *ended* first, i.e. the earliest
  failure observed; when a step fails because a call inside it failed, the call is marked, not
  the step.
- **first score drop**: walking spans in the order their scores were recorded (span end), the first
  span with a ``score.<name>`` lower than the previous value of the same score in this run, or below
  0.5 when every value of that score in the run lies in 0..1. Late scores (``eval.result`` lines with
  ``span_id`` and ``name``) count as ``score.<name>`` of their span.

"Cost from here on" is the cost of the marked span and of every span that started at or after it,
except the spans that enclose it (its ancestors), and is shown with its share of the run's cost.
"""
from __future__ import annotations

import shutil
import sys
from typing import Any, Dict, List, Optional, Set, Tuple

from mist.cli import CLIError
from mist.cli._inputs import FILES_HELP, expand
from mist.cli._money import fmt_usd, usd_decimals
from mist.cli._names import shorten_unique
from mist.cli._tracefile import (
    Palette, Reader, Span, as_number, decode, display_name, flat, fmt_ms, fmt_time, one_line, safe_text,
    write_out,
)

HELP = "one run step by step as a tree: inputs, outputs, tokens, cost, latency, scores, first failure"
DESCRIPTION = """\
Show one run (trace) from a MIST trace file as an indented tree in time order.

Each line is one span: offset from the start of the run, operation, model,
step / retry, tokens in/out, cost, latency, scores and errors; captured input
and output follow on their own lines (one line each unless --full).

Marked:  ✗ first error       the failing span that ended first
         ↓ first score drop  first span whose score.<name> is lower than the
                             previous value of that score in the run, or below
                             0.5 for scores that stay within 0..1
with the cost spent from that span on.

Default run: the most recent one (the trace whose root span ended last)."""
EPILOG = """\
examples:
  mist replay traces.jsonl                     # the most recent run
  mist replay traces.jsonl --trace 6513270e    # a run by (unique) trace id prefix
  mist replay traces.jsonl --trace 6513 --full # with complete inputs and outputs
  mist replay logs/ --trace 6513               # a run whose spans are spread over rotated files
  mist report traces.jsonl --by trace          # to find trace ids"""

SCORE_FLOOR = 0.5
RECENT_KEEP = 64
MODEL_WIDTH = 40


# --------------------------------------------------------------------------------------------
# the run as a tree, and what to mark in it


class Node:
    """A span in the tree: its children in time order and its depth."""

    __slots__ = ("span", "children", "depth", "orphan", "prefix", "lead")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.children: List["Node"] = []
        self.depth = 0
        self.orphan = False
        self.prefix = ""  # tree drawing before this node's line ("│  ├─ ")
        self.lead = ""  # tree drawing before its children's connectors


class Mark:
    """A marked span (first error or first score drop) and the cost spent from it on."""

    __slots__ = ("kind", "span", "detail", "cost_from", "unpriced_from")

    def __init__(self, kind: str, span: Span, detail: str, cost_from: float, unpriced_from: int) -> None:
        self.kind = kind
        self.span = span
        self.detail = detail
        self.cost_from = cost_from
        self.unpriced_from = unpriced_from


class Run:
    """One trace, analysed: ordered tree, totals and marks."""

    def __init__(self, trace_id: str, spans: List[Span]) -> None:
        self.trace_id = trace_id
        self.spans = spans
        self.by_id: Dict[str, Span] = {}
        for s in spans:
            self.by_id.setdefault(s.span_id, s)
        self.roots: List[Node] = []
        self.order: List[Node] = []  # depth-first, children by start time
        self._build()
        self.start_ns = min((s.start_ns for s in spans if s.start_ns is not None), default=None)
        self.end_ns = max((s.end_ns for s in spans if s.end_ns is not None), default=None)
        self.cost = sum(s.cost for s in spans if s.cost is not None)
        self.unpriced = sum(1 for s in spans if s.unpriced)
        self.errors = sum(1 for s in spans if s.error)
        self.tokens_in = sum(s.tokens_in for s in spans)
        self.tokens_out = sum(s.tokens_out for s in spans)
        root = self.roots[0].span if self.roots else None
        self.name = root.operation if root is not None else ""
        self.first_error = self._first_error()
        self.first_drop = self._first_drop()

    def _build(self) -> None:
        nodes = {}
        for s in self.spans:
            if s.span_id not in nodes:
                nodes[s.span_id] = Node(s)
        roots: List[Node] = []
        for node in nodes.values():
            pid = node.span.parent_id
            parent = nodes.get(pid) if pid else None
            if parent is None or parent is node:
                node.orphan = pid is not None
                roots.append(node)
            else:
                parent.children.append(node)
        key = _time_key
        roots.sort(key=lambda n: (n.orphan, key(n.span)))
        seen: Set[str] = set()
        stack: List[Tuple[Node, int, str, bool]] = [(r, 0, "", True) for r in reversed(roots)]
        while stack:  # iterative: deep or cyclic parent chains cannot blow the stack
            node, depth, lead, last = stack.pop()
            if node.span.span_id in seen:
                continue
            seen.add(node.span.span_id)
            node.depth = depth
            if depth:
                node.prefix = lead + ("└─ " if last else "├─ ")
                node.lead = lead + ("   " if last else "│  ")
            self.order.append(node)
            node.children.sort(key=lambda n: key(n.span))
            kids = node.children
            stack.extend((c, depth + 1, node.lead, i == len(kids) - 1)
                         for i, c in reversed(list(enumerate(kids))))
        for node in nodes.values():  # members of a parent cycle: show them at the top level
            if node.span.span_id not in seen:
                node.orphan = True
                node.depth = 0
                seen.add(node.span.span_id)
                self.order.append(node)
        self.roots = roots

    def ancestors(self, span: Span) -> Set[str]:
        out: Set[str] = set()
        pid = span.parent_id
        while pid and pid not in out and pid in self.by_id:
            out.add(pid)
            pid = self.by_id[pid].parent_id
        return out

    def cost_from(self, span: Span) -> Tuple[float, int]:
        """Cost (and unpriced spans) of ``span`` and all spans starting at/after it, minus ancestors."""
        skip = self.ancestors(span)
        t0 = span.sort_start
        cost, unpriced = 0.0, 0
        for s in self.spans:
            if s.span_id in skip:
                continue
            if s is span or s.sort_start >= t0:
                if s.cost is not None:
                    cost += s.cost
                elif s.unpriced:
                    unpriced += 1
        return cost, unpriced

    def _first_error(self) -> Optional[Mark]:
        failed = [s for s in self.spans if s.error]
        if not failed:
            return None
        depth = {n.span.span_id: n.depth for n in self.order}
        first = min(failed, key=lambda s: (s.end_ns if s.end_ns is not None else 1 << 63,
                                           -depth.get(s.span_id, 0), s.sort_start))
        msg = error_text(first)
        cost, unpriced = self.cost_from(first)
        return Mark("error", first, msg, cost, unpriced)

    def _first_drop(self) -> Optional[Mark]:
        scored = [s for s in self.spans if s.scores]
        if not scored:
            return None
        unit: Dict[str, bool] = {}
        for s in scored:
            for name, v in s.scores.items():
                unit[name] = unit.get(name, True) and 0.0 <= v <= 1.0
        scored.sort(key=lambda s: (s.end_ns if s.end_ns is not None else 1 << 63, s.sort_start))
        last: Dict[str, float] = {}
        for s in scored:
            for name in sorted(s.scores):
                v = s.scores[name]
                prev = last.get(name)
                detail = None
                if prev is not None and v < prev:
                    detail = f"{name} fell {_num(prev)} → {_num(v)}"
                elif unit[name] and v < SCORE_FLOOR:
                    detail = f"{name} {_num(v)} is below {SCORE_FLOOR}"
                last[name] = v
                if detail:
                    cost, unpriced = self.cost_from(s)
                    return Mark("score", s, detail, cost, unpriced)
        return None

    def money_decimals(self) -> int:
        """One money precision for all that is shown of the run: its spans, its total and the
        costs from its marks on (see ``_money``)."""
        marks = [m.cost_from for m in (self.first_error, self.first_drop) if m is not None]
        return usd_decimals([s.cost for s in self.spans] + [self.cost] + marks)

    def marks_by_span(self) -> Dict[str, List[Mark]]:
        out: Dict[str, List[Mark]] = {}
        for m in (self.first_error, self.first_drop):
            if m is not None:
                out.setdefault(m.span.span_id, []).append(m)
        return out


def _time_key(s: Span) -> Tuple[int, int, str]:
    return (s.sort_start, s.end_ns if s.end_ns is not None else 1 << 63, s.span_id)


def _num(v: float) -> str:
    return f"{v:.4g}"


def error_text(s: Span) -> str:
    """``ErrorType: message`` of a failed span (``status error`` when it says nothing more)."""
    et, em = s.attrs.get("error_type"), s.attrs.get("error")
    parts = [str(x) for x in (et, em) if x not in (None, "")]
    return one_line(": ".join(parts), 200) if parts else "status error"


def attach_late_scores(spans: List[Span], late: Dict[str, Dict[str, float]]) -> None:
    """Give spans the scores that arrived later as ``eval.result`` lines (they win over attrs)."""
    if not late:
        return
    for s in spans:
        extra = late.get(s.span_id)
        if extra:
            s.scores = dict(s.scores, **extra)


# --------------------------------------------------------------------------------------------
# reading the one trace we want


def _late_score(payload: Any, out: Dict[str, Dict[str, float]]) -> None:
    if type(payload) is not dict:
        return
    name, sid, score = payload.get("name"), payload.get("span_id"), as_number(payload.get("score"))
    if type(name) is str and name and type(sid) is str and score is not None and len(out) < 200_000:
        out.setdefault(sid, {})[name] = score


def load_trace(path: str, prefix: Optional[str]) -> Run:
    """Read ``path`` and return the run whose trace id starts with ``prefix`` (or the most recent)."""
    late: Dict[str, Dict[str, float]] = {}
    if prefix:
        spans, tid = _by_prefix(path, prefix.lower(), late)
    else:
        spans, tid = _most_recent(path, late)
    attach_late_scores(spans, late)
    return Run(tid, spans)


def _by_prefix(path: str, prefix: str, late: Dict[str, Dict[str, float]]) -> Tuple[List[Span], str]:
    found: Dict[str, List[Span]] = {}
    with Reader(path, progress="replay") as reader:
        for line in reader.iter_lines():
            is_eval = '"eval.result"' in line
            if prefix not in line and not is_eval:
                continue
            env = decode(line)
            if env is None:
                reader.bad_line(line)
                continue
            kind = env.get("type")
            if kind == "eval.result":
                _late_score(env.get("payload"), late)
                continue
            if kind != "trace.span":
                continue
            span = Span.from_payload(env.get("payload"), env.get("timestamp_ns"))
            if span is not None and span.trace_id.lower().startswith(prefix):
                found.setdefault(span.trace_id, []).append(span)
        reader.check_readable()
    if not found:
        raise CLIError(f"no trace id starting with {prefix!r} in {display_name(path)}; "
                       f"list them with: mist report {display_name(path)} --by trace")
    if len(found) > 1:
        ids = ", ".join(sorted(found)[:4]) + (" …" if len(found) > 4 else "")
        raise CLIError(f"--trace {prefix} matches {len(found)} traces ({ids}); give more characters")
    (tid, spans), = found.items()
    return spans, tid


def _most_recent(path: str, late: Dict[str, Dict[str, float]]) -> Tuple[List[Span], str]:
    """The trace whose root ended last (or, with no roots, whose last span ended last).

    One pass keeps the payloads of the most recently active traces; if the winner was pushed out
    of that window (a very long run among many), a second pass reads just that trace.
    """
    recent: Dict[str, List[Tuple[Dict[str, Any], Any]]] = {}
    evicted: Set[str] = set()
    root_end: Dict[str, int] = {}
    last_end: Dict[str, int] = {}
    with Reader(path, progress="replay") as reader:
        for env in reader.envelopes():
            kind = env.get("type")
            if kind == "eval.result":
                _late_score(env.get("payload"), late)
                continue
            if kind != "trace.span":
                continue
            p = env.get("payload")
            tid = p.get("trace_id") if type(p) is dict else None
            if type(tid) is not str or not tid:
                reader.undecodable += 1
                continue
            end = p.get("end_ns")
            end = end if type(end) is int else -1
            if end > last_end.get(tid, -2):
                last_end[tid] = end
            if not p.get("parent_id") and end > root_end.get(tid, -2):
                root_end[tid] = end
            lst = recent.pop(tid, None)  # re-insert: dict order = least recently active first
            if lst is None:
                lst = []
            lst.append((p, env.get("timestamp_ns")))
            recent[tid] = lst
            if len(recent) > RECENT_KEEP:
                old = next(iter(recent))
                del recent[old]
                evicted.add(old)
        reader.check_readable()
    if not last_end:
        raise CLIError(f"{display_name(path)}: no trace.span lines to replay")
    pool = root_end if root_end else last_end
    tid = max(pool, key=lambda k: (pool[k], k))
    if tid not in evicted or path == "-":  # stdin cannot be read twice: show what was kept
        spans = [Span.from_payload(p, ts) for p, ts in recent.get(tid, [])]
        return [s for s in spans if s is not None], tid
    late.clear()
    return _by_prefix(path, tid, late)


# --------------------------------------------------------------------------------------------
# printing


def _span_line(node: Node, run: Run, color: Palette, marks: Dict[str, List[Mark]], models: Dict[str, str],
               decimals: int) -> str:
    """``✗ +1.234s  ├─ chat gpt-4o  step 3  1,200→80 tok  $0.0012  812.5ms  relevance=0.9``
    (``models``: each model's shown name; ``decimals``: the run's money precision)."""
    s = node.span
    parts: List[str] = []
    label = s.operation or "(no operation)"
    if s.model:
        label += " " + color.paint("cyan", models[flat(s.model)])
    parts.append(label)
    if s.step is not None:
        parts.append(f"step {s.step}")
    if s.retry:
        parts.append(color.yellow(f"retry {s.retry}"))
    if s.tokens_in or s.tokens_out:
        tok = f"{s.tokens_in:,}→{s.tokens_out:,} tok"
        extra = []
        if s.tokens_cache_read:
            extra.append(f"{s.tokens_cache_read:,} cached")
        if s.tokens_reasoning:
            extra.append(f"{s.tokens_reasoning:,} reasoning")
        if extra:
            tok += " (" + ", ".join(extra) + ")"
        parts.append(tok)
    if s.cost is not None:
        parts.append(fmt_usd(s.cost, decimals))
    elif s.unpriced:
        parts.append(color.yellow("unpriced"))
    parts.append(fmt_ms(s.latency_ms))
    if s.scores:
        parts.append(" ".join(f"{k}={_num(v)}" for k, v in sorted(s.scores.items())))
    if s.error:
        parts.append(color.red("ERROR " + error_text(s)))
    if node.orphan:
        parts.append(color.dim("(parent not in file)"))
    flag = ""
    for m in marks.get(s.span_id, ()):
        flag += "✗" if m.kind == "error" else "↓"
    flag = flag[:2].ljust(2)
    if "✗" in flag:
        flag = color.red(flag)
    elif flag.strip():
        flag = color.yellow(flag)
    offset = (s.start_ns - run.start_ns) / 1e9 if s.start_ns is not None and run.start_ns is not None else None
    when = color.dim(f"+{offset:.3f}s".rjust(9) if offset is not None else "-".rjust(9))
    return f"{flag}{when}  {node.prefix}" + "  ".join(parts)


def render(run: Run, *, full: bool, width: int, color: Palette) -> str:
    marks = run.marks_by_span()
    d = run.money_decimals()
    models = shorten_unique((flat(s.model) for s in run.spans if s.model), MODEL_WIDTH)
    lines: List[str] = []
    head = (f"trace {run.trace_id}  {run.name or '(no root span)'}  {fmt_time(run.start_ns, date=True)} UTC  "
            f"{len(run.spans)} spans  {fmt_usd(run.cost, d)}")
    if run.unpriced:
        head += f" + {run.unpriced} unpriced"
    if run.start_ns is not None and run.end_ns is not None:
        head += f"  {fmt_ms((run.end_ns - run.start_ns) / 1e6)}"
    if run.errors:
        head += "  " + color.red(f"{run.errors} error{'s' if run.errors != 1 else ''}")
    lines.append(color.bold(head))
    for node in run.order:
        lines.append(_span_line(node, run, color, marks, models, d))
        s = node.span
        pad = " " * 13 + node.lead + ("│  " if node.children else "   ")
        for key in ("input", "output"):
            if key not in s.attrs:
                continue
            label = "in: " if key == "input" else "out:"
            value = s.attrs[key]
            if full:
                body = safe_text(value).splitlines() or [""]
                lines.append(f"{pad}{color.dim(label)} {body[0]}")
                lines.extend(f"{pad}     {b}" for b in body[1:])
            else:
                room = max(20, width - len(pad) - 5)
                lines.append(f"{pad}{color.dim(label)} {one_line(value, room)}")
    lines.append("")
    total = run.cost
    for m, title in ((run.first_error, "first error"), (run.first_drop, "first score drop")):
        if m is None:
            lines.append(color.dim(f"{title}: none"))
            continue
        s = m.span
        where = s.operation + (f" ({s.model})" if s.model else "") + (f" step {s.step}" if s.step is not None else "")
        offset = (f"+{(s.start_ns - run.start_ns) / 1e9:.3f}s " if s.start_ns is not None and run.start_ns is not None
                  else "")
        sym = color.red("✗") if m.kind == "error" else color.yellow("↓")
        lines.append(f"{sym} {title}: {offset}{where} span {s.span_id[:8]}: {m.detail}")
        share = f" ({100 * m.cost_from / total:.0f}% of the run's {fmt_usd(total, d)})" if total > 0 else ""
        extra = f" + {m.unpriced_from} unpriced spans" if m.unpriced_from else ""
        lines.append(f"  {fmt_usd(m.cost_from, d)}{extra} was spent from there on{share}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# the command


def add_arguments(parser: Any) -> None:
    parser.add_argument("file", nargs="+", metavar="FILE", help=FILES_HELP)
    parser.add_argument("--trace", metavar="ID", help="trace id or a unique prefix of it (default: most recent run)")
    parser.add_argument("--full", action="store_true", help="print captured inputs and outputs in full")


def run(args: Any) -> int:
    prefix = args.trace.strip() if args.trace else None
    if prefix is not None and (not prefix or any(c not in "0123456789abcdefABCDEF" for c in prefix)):
        raise CLIError(f"--trace {args.trace!r}: expected hex characters of a trace id")
    run_ = load_trace(expand(args.file, "replay"), prefix)
    width = shutil.get_terminal_size((100, 24)).columns
    write_out(render(run_, full=args.full, width=width, color=Palette.for_stream(sys.stdout)))
    return 0
