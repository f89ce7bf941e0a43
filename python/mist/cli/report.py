"""``mist report``: tokens, cost, latency percentiles, errors and retries per group, and a headline.

Definitions (the tests check each one against hand computation):

- **calls**: spans in the group. **errors**: spans with ``status: "error"``. **retries**: spans whose
  ``retry`` attr is 1 or more (the 2nd, 3rd … attempt of something).
- **tokens**: the ``tokens_in``/``tokens_out``/``tokens_cache_read``/``tokens_cache_write``/
  ``tokens_reasoning`` attrs summed as recorded (cache tokens are part of ``in``, reasoning tokens part
  of ``out``, as OpenTelemetry GenAI counts them, so they are never added twice).
- **cost**: ``cost_usd`` summed exactly (each span's cost is rounded to 10⁻¹² USD, then added as
  integers, so totals do not depend on file order). Each span's ``cost_usd`` is its own cost; a
  parent span is not expected to repeat its children's. **Unpriced** spans (``unpriced: true``, or
  tokens but no ``cost_usd``) are counted separately, never as $0.
- **latency**: the ``latency_ms`` attr, or ``end_ns - start_ns`` when it is absent. Percentiles use
  the nearest-rank method: p-th percentile of n sorted values is the value at rank ⌈p·n/100⌉.
- **step**: the span's ``step`` attr, or else the nearest ancestor's. ``--by step`` groups by it.
- **model**: ``--by model`` groups by the *requested* model family (see ``model_family`` in
  ``_tracefile``): the ``request_model`` attr when present, else ``model``, less a trailing
  snapshot date, so ``gpt-4o-mini`` and the ``gpt-4o-mini-2024-07-18`` that served it are one row.
  The names as recorded and their calls are in each row's ``served_models``.
- **waste**: tokens and cost spent in spans that failed (``status: "error"``, below the root) or were
  *retried away* (followed, in start order, by an attempt with a higher ``retry`` number among the
  spans with the same parent, operation and ``step``), together with everything under such spans.
  A failed root (a failed run) is reported on its own line instead.

Files are read once, streaming: spans are held per trace only until the trace's root span arrives.
Large files are split between worker processes by trace id (``--jobs``). Several files
(directories, patterns: see ``_inputs``) are read as their concatenation: each worker reads them
all and keeps the traces it owns, so a run whose spans are spread over files is still whole.
"""
from __future__ import annotations

import csv
import functools
import gc
import heapq
import io
import json
import math
import operator
import os
import pickle
import signal
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mist.cli import CLIError
from mist.cli._inputs import FILES_HELP, expand
from mist.cli._money import fmt_usd, usd_column
from mist.cli._names import shorten_unique
from mist.cli._tracefile import (
    _SCAN, PICO, Palette, Reader, as_count, as_index, as_number, cost_of, decode, display_name,
    flat, fmt_ms, fmt_tokens, latency_of, model_family, picos, plural, write_out,
)

HELP = "tokens, cost, latency percentiles, errors and retries per group, from a trace file"
DESCRIPTION = """\
Summarise a MIST trace file (MTTP JSONL, plain or .gz, '-' for stdin).

Prints a headline (total cost, cost per trace, the most expensive traces and
steps, and the waste: tokens and cost spent in failed or retried-away steps)
and a table with one row per group: calls, errors, retries, tokens in / out /
cache read / cache write / reasoning, cost, unpriced spans, and latency
p50 / p95 / p99 (nearest-rank).

Spans without a known price are counted in their own column, never as $0.
Costs in the table share one precision per column (3 significant digits for
its smallest amount); --format json and csv give the full numbers."""
EPILOG = """\
examples:
  mist report traces.jsonl                    # per operation, with the headline
  mist report traces.jsonl --by model         # which model costs what
  mist report traces.jsonl --by step          # cost and latency per agent-loop step
  mist report traces.jsonl.gz --by trace --limit 10
  mist report traces.jsonl --format json | jq .summary
  mist report traces.jsonl --by model --format csv > by-model.csv
  mist report logs/                           # every trace file in a directory, rotations too
  mist report 'logs/*.jsonl.gz' a.jsonl       # several files and patterns, read as one
  cat traces.jsonl | mist report -"""

BY_CHOICES = ("operation", "model", "trace", "step")
FORMATS = ("table", "json", "csv")
TOP = 5
PARALLEL_MIN_BYTES = 48 << 20
NONE_LABEL = "(none)"

# G: one group's running totals
G_CALLS, G_ERR, G_RETRY, G_IN, G_OUT, G_CR, G_CW, G_REASON, G_COST, G_PRICED, G_UNPRICED, G_LAT = range(12)
# T: one trace's totals (+ working state while the trace is open)
(T_SPANS, T_ERR, T_COST, T_UNPRICED, T_TOKENS, T_START, T_END, T_ROOT_OP, T_ROOT_END, T_ROOT_ERR,
 T_RECS, T_FLAGS, T_STEPS, T_GROUP, T_PRICED, T_PAYLOADS) = range(16)
FLAG_TROUBLE, FLAG_DEFERRED, FLAG_HAS_STEP = 1, 2, 4  # T_FLAGS bits
# rec: one span, as a tuple (kept while its trace is open and until its group is folded). R_MODEL
# is the model as recorded, or (request_model, model) when the span has a different request_model
(R_SID, R_PID, R_OP, R_STEP, R_RETRY, R_START, R_END, R_ERR, R_IN, R_OUT, R_CR, R_CW, R_REASON,
 R_COST, R_UNPRICED, R_LAT, R_MODEL) = range(17)
_get = operator.itemgetter
_get_err, _get_retry, _get_in, _get_out, _get_cr, _get_cw, _get_reason = (
    _get(R_ERR), _get(R_RETRY), _get(R_IN), _get(R_OUT), _get(R_CR), _get(R_CW), _get(R_REASON))
_get_cost, _get_unpriced, _get_lat = _get(R_COST), _get(R_UNPRICED), _get(R_LAT)
_get_start, _get_end = _get(R_START), _get(R_END)
_not_none = functools.partial(operator.is_not, None)  # C-level "x is not None" for filter()
# S: one (trace, step)
S_COST, S_SPANS, S_TOKENS, S_ERR, S_UNPRICED, S_OPS, S_PRICED = range(7)
_HEX = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}
MAX_OPEN_TRACES = 50_000
FOLD_EVERY = 1 << 16  # span records waiting to be folded into group totals


def new_group() -> list:
    return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, []]


def fold(g: list, recs: Sequence[tuple]) -> None:
    """Add span records to group totals ``g`` (see G_*), summing each column at C speed."""
    n = len(recs)
    if not n:
        return
    g[G_CALLS] += n
    g[G_ERR] += sum(map(_get_err, recs))
    g[G_RETRY] += n - operator.countOf(map(_get_retry, recs), 0)
    g[G_IN] += sum(map(_get_in, recs))
    g[G_OUT] += sum(map(_get_out, recs))
    g[G_CR] += sum(map(_get_cr, recs))
    g[G_CW] += sum(map(_get_cw, recs))
    g[G_REASON] += sum(map(_get_reason, recs))
    costs = list(filter(_not_none, map(_get_cost, recs)))
    g[G_COST] += sum(costs)
    g[G_PRICED] += len(costs)
    g[G_UNPRICED] += sum(map(_get_unpriced, recs))
    g[G_LAT].extend(filter(_not_none, map(_get_lat, recs)))


def merge_group(into: list, g: list) -> None:
    for i in range(11):
        into[i] += g[i]
    into[11].extend(g[11])


def percentile(sorted_values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile: the value at rank ⌈p·n/100⌉ (1-based) of the sorted values."""
    n = len(sorted_values)
    if not n:
        return None
    rank = max(1, math.ceil(p * n / 100))
    return sorted_values[min(rank, n) - 1]


class Scan:
    """Everything one pass over a file learns (plain containers, so workers can pickle it)."""

    def __init__(self) -> None:
        self.combos: Dict[Tuple[str, Optional[str], Optional[int]], list] = {}
        self.traces: Dict[str, list] = {}
        self.top_steps: List[tuple] = []  # heap of (cost picos, trace id, step, S)
        self.waste_failed = [0, 0, 0, 0]
        self.waste_retried = [0, 0, 0, 0]
        self.spans = 0
        self.bad_spans = 0
        self.other_types: Dict[str, int] = {}
        self.reader: Dict[str, int] = {"lines": 0, "blank": 0, "undecodable": 0, "torn": 0}
        self.bad_examples: List[Tuple[int, str]] = []
        # detail (mist view)
        self.alerts: List[Tuple[int, dict]] = []
        self.late_scores: Dict[str, Dict[str, float]] = {}
        self.score_points: Dict[str, List[Tuple[int, float]]] = {}
        self.kept: Dict[str, list] = {}  # trace id -> [last end, [span line, ...]] (recent runs)
        self._groups: Dict[str, Dict[Any, list]] = {}  # groups(by), computed once
        self._served: Dict[Optional[str], Dict[str, int]] = {}  # model family -> {as recorded: calls}

    # ---- merging partial scans from worker processes

    def merge(self, other: "Scan") -> None:
        """Fold in another worker's partial scan (its traces are disjoint from ours)."""
        self._groups = {}
        self._served = {}
        for k, g in other.combos.items():
            mine = self.combos.get(k)
            if mine is None:
                self.combos[k] = g
            else:
                merge_group(mine, g)
        for tid, t in other.traces.items():
            mine = self.traces.get(tid)
            if mine is None:
                self.traces[tid] = t
            else:
                _merge_trace(mine, t)
        for item in other.top_steps:
            _push_top(self.top_steps, item)
        for i in range(4):
            self.waste_failed[i] += other.waste_failed[i]
            self.waste_retried[i] += other.waste_retried[i]
        self.spans += other.spans
        self.bad_spans += other.bad_spans
        for k, n in other.other_types.items():
            self.other_types[k] = self.other_types.get(k, 0) + n
        for k in ("undecodable", "torn"):
            self.reader[k] += other.reader[k]
        self.bad_examples = sorted(self.bad_examples + other.bad_examples)[:5]
        self.alerts.extend(other.alerts)
        for sid, sc in other.late_scores.items():
            self.late_scores.setdefault(sid, {}).update(sc)
        for name, pts in other.score_points.items():
            self.score_points.setdefault(name, []).extend(pts)
        for tid, kept in other.kept.items():
            mine = self.kept.get(tid)
            if mine is None:
                self.kept[tid] = kept
            else:
                mine[0] = max(mine[0], kept[0])
                mine[1].extend(kept[1])

    # ---- derived views

    def groups(self, by: str) -> Dict[Any, list]:
        """Group totals keyed by operation, model family, step or trace id (computed once per
        ``by``)."""
        cache = self._groups
        if by in cache:
            return cache[by]
        if by == "trace":
            out = {tid: t[T_GROUP] for tid, t in self.traces.items() if t[T_GROUP] is not None}
        else:
            idx = {"operation": 0, "model": 1, "step": 2}[by]
            out = {}
            families: Dict[Any, Optional[str]] = {}
            for key, g in self.combos.items():
                k = key[idx]
                if by == "model":
                    recorded = k[1] if type(k) is tuple else k
                    fam = families.get(k, "")
                    if fam == "":
                        fam = families[k] = model_family(k[1], k[0]) if type(k) is tuple else model_family(k)
                    k = fam
                    if recorded is not None:
                        served = self._served.setdefault(fam, {})
                        served[recorded] = served.get(recorded, 0) + g[G_CALLS]
                mine = out.get(k)
                if mine is None:
                    mine = out[k] = new_group()
                merge_group(mine, g)
        cache[by] = out
        return out

    def served_models(self, family: Optional[str]) -> Dict[str, int]:
        """The model names as recorded in the ``family`` group, and their calls."""
        self.groups("model")
        return dict(sorted(self._served.get(family, {}).items()))

    def total(self) -> list:
        """Totals over every span (latencies left out)."""
        g = new_group()
        for combo in self.combos.values():
            for i in range(11):
                g[i] += combo[i]
        return g


def _merge_trace(mine: list, t: list) -> None:
    for i in (T_SPANS, T_ERR, T_COST, T_UNPRICED, T_TOKENS, T_PRICED):
        mine[i] += t[i]
    if t[T_START] is not None and (mine[T_START] is None or t[T_START] < mine[T_START]):
        mine[T_START] = t[T_START]
    if t[T_END] is not None and (mine[T_END] is None or t[T_END] > mine[T_END]):
        mine[T_END] = t[T_END]
    if t[T_ROOT_OP] is not None:
        mine[T_ROOT_OP], mine[T_ROOT_END], mine[T_ROOT_ERR] = t[T_ROOT_OP], t[T_ROOT_END], t[T_ROOT_ERR]
    if t[T_GROUP] is not None:
        if mine[T_GROUP] is None:
            mine[T_GROUP] = t[T_GROUP]
        else:
            merge_group(mine[T_GROUP], t[T_GROUP])


def _push_top(heap: List[tuple], item: tuple) -> None:
    if len(heap) < TOP * 2:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


# --------------------------------------------------------------------------------------------
# the pass over one file (or one worker's share of it)


def _fields(p: Any) -> Optional[tuple]:
    """One span payload as a record (see R_*) plus its trace id, by the shared rules in
    ``_tracefile`` (the slow, general path; the hot loop inlines it for well-formed spans).

    Returns ``(trace_id, record)``, or None when the payload has no usable trace and span ids.
    """
    if type(p) is not dict:
        return None
    tid, sid = p.get("trace_id"), p.get("span_id")
    if type(tid) is not str or type(sid) is not str or not tid or not sid:
        return None
    pid = p.get("parent_id")
    if type(pid) is not str or not pid:
        pid = None
    op = p.get("operation")
    if type(op) is not str:
        op = "" if op is None else str(op)
    start, end = p.get("start_ns"), p.get("end_ns")
    start = start if type(start) is int else None
    end = end if type(end) is int else None
    a = p.get("attrs")
    if type(a) is not dict:
        a = {}
    model = a.get("model")
    model = model if type(model) is str and model else None
    rm = a.get("request_model")
    if type(rm) is str and rm and rm != model:
        model = (rm, model)
    ti, to = as_count(a.get("tokens_in")), as_count(a.get("tokens_out"))
    cost, unpriced = cost_of(a, ti, to)
    return tid, (sid, pid, op, as_index(a.get("step")), as_index(a.get("retry")) or 0, start, end,
                 p.get("status") == "error", ti, to, as_count(a.get("tokens_cache_read")),
                 as_count(a.get("tokens_cache_write")), as_count(a.get("tokens_reasoning")),
                 None if cost is None else picos(cost), 1 if unpriced else 0, latency_of(a, start, end), model)


def _scan_part(path: Union[str, Sequence[str]], worker: int, nworkers: int, by_trace: bool, detail: bool,
               progress: bool, keep_traces: int) -> Scan:
    """Read ``path`` and aggregate the spans whose trace this worker owns (see ``_scan_loop``).

    The cyclic garbage collector is paused meanwhile: the loop allocates millions of small,
    acyclic containers, and collecting them buys nothing (reference counting frees them)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan_loop(path, worker, nworkers, by_trace, detail, progress, keep_traces)
    finally:
        if was_enabled:
            gc.enable()


def _scan_loop(path: Union[str, Sequence[str]], worker: int, nworkers: int, by_trace: bool, detail: bool,
               progress: bool, keep_traces: int) -> Scan:
    """The pass itself.

    The loop below is the hot path (a million spans in a few seconds): per span it builds one
    record tuple and files it under its trace and its (operation, model, step) group; group totals
    are summed in bulk by :func:`fold`. Well-formed spans are decoded inline; anything unusual
    goes through :func:`_fields`, which applies the same rules.
    """
    out = Scan()
    combos = out.combos
    traces = out.traces
    open_: Dict[str, list] = {}
    pending: Dict[tuple, List[tuple]] = {}  # group key -> records not folded yet
    top_steps = out.top_steps
    waste_failed, waste_retried = out.waste_failed, out.waste_retried
    other_types = out.other_types
    hexval = _HEX
    PICO_ = PICO
    INF = math.inf
    scan = _SCAN
    spans = 0
    bad_spans = 0
    npending = 0
    kept_floor = [-(1 << 63)]  # runs ending before this are older than every kept one

    def fold_pending() -> None:
        for key, recs in pending.items():
            g = combos.get(key)
            if g is None:
                g = combos[key] = new_group()
            fold(g, recs)
        pending.clear()

    def finalize(tid: str, t: list) -> int:
        """The trace's root arrived (or memory is tight, or EOF): settle its numbers.

        Returns how many records it added to ``pending``."""
        recs = t[T_RECS]
        t[T_RECS] = None
        open_.pop(tid, None)
        flags = t[T_FLAGS]
        t[T_FLAGS] = 0
        costs = list(filter(_not_none, map(_get_cost, recs)))
        t[T_SPANS] += len(recs)
        t[T_ERR] += sum(map(_get_err, recs))
        t[T_COST] += sum(costs)
        t[T_PRICED] += len(costs)
        t[T_UNPRICED] += sum(map(_get_unpriced, recs))
        t[T_TOKENS] += sum(map(_get_in, recs)) + sum(map(_get_out, recs))
        lo = min(filter(_not_none, map(_get_start, recs)), default=None)
        hi = max(filter(_not_none, map(_get_end, recs)), default=None)
        if lo is not None and (t[T_START] is None or lo < t[T_START]):
            t[T_START] = lo
        if hi is not None and (t[T_END] is None or hi > t[T_END]):
            t[T_END] = hi
        if by_trace:
            g = t[T_GROUP]
            if g is None:
                g = t[T_GROUP] = new_group()
            fold(g, recs)
        added = 0
        resolved: Dict[str, Optional[int]] = {}
        if flags & FLAG_DEFERRED:
            resolved = _resolve_steps(recs, bool(flags & FLAG_HAS_STEP))
            sd = t[T_STEPS]
            for r in recs:
                sid = r[R_SID]
                if sid not in resolved:
                    continue
                step = resolved[sid]
                key = (r[R_OP], r[R_MODEL], step)
                lst = pending.get(key)
                if lst is None:
                    lst = pending[key] = []
                lst.append(r)
                added += 1
                if step is not None and r[R_COST] is not None:
                    if sd is None:
                        sd = t[T_STEPS] = {}
                    sd[step] = sd.get(step, 0) + r[R_COST]
        if flags & FLAG_TROUBLE:
            _waste(recs, waste_failed, waste_retried)
        sd = t[T_STEPS]
        t[T_STEPS] = None
        if sd:
            for step, cost in sd.items():
                if len(top_steps) < TOP * 2 or cost > top_steps[0][0]:
                    _push_top(top_steps, (cost, tid, step, _step_detail(recs, resolved, step)))
        if detail:  # keep the payloads of the most recent runs (by last end) for mist view
            payloads = t[T_PAYLOADS]
            t[T_PAYLOADS] = None
            end = t[T_END] if t[T_END] is not None else 0
            kept = out.kept
            mine = kept.get(tid)
            if mine is not None:
                mine[0] = max(mine[0], end)
                mine[1].extend(payloads)
            elif end >= kept_floor[0] or len(kept) < keep_traces:
                kept[tid] = [end, payloads]
                if len(kept) >= 2 * keep_traces:
                    order = sorted(kept, key=lambda k: kept[k][0])
                    for old in order[: len(kept) - keep_traces]:
                        del kept[old]
                    kept_floor[0] = kept[order[len(order) - keep_traces]][0]
        return added

    with Reader(path, progress="reading" if progress else None) as reader:
        for line in reader.iter_lines():
            if nworkers > 1:
                i = line.find('"trace_id":"')
                owner = hexval.get(line[i + 43: i + 44], 0) % nworkers if i >= 0 else 0
                if owner != worker:
                    continue
            try:
                env, e = scan(line, 0)
                if e != len(line) or type(env) is not dict:
                    raise ValueError
            except (StopIteration, ValueError, RecursionError):
                env = decode(line)
                if env is None:
                    reader.bad_line(line)
                    continue
            if env.get("type") != "trace.span":
                kind = env.get("type")
                key = kind if type(kind) is str else "(no type)"
                other_types[key] = other_types.get(key, 0) + 1
                if detail:
                    _other(out, kind, env)
                continue
            # ---- the record of a well-formed span, inline; anything unusual goes through _fields()
            p = env.get("payload")
            rec = None
            if type(p) is dict:
                tid = p.get("trace_id")
                sid = p.get("span_id")
                op = p.get("operation")
                start = p.get("start_ns")
                end = p.get("end_ns")
                pid = p.get("parent_id")
                a = p.get("attrs")
                if (type(tid) is str and type(sid) is str and type(op) is str and type(start) is int
                        and type(end) is int and tid and sid and (pid is None or (type(pid) is str and pid))):
                    err = p.get("status") == "error"
                    if a is None:
                        model = step = cp = None
                        retry = 0
                        rec = (sid, pid, op, None, 0, start, end, err, 0, 0, 0, 0, 0, None, 0,
                               (end - start) / 1e6 if end >= start else None, None)
                    elif type(a) is dict:
                        ga = a.get
                        model = ga("model")
                        ti = ga("tokens_in", 0)
                        to = ga("tokens_out", 0)
                        tcr = ga("tokens_cache_read", 0)
                        tcw = ga("tokens_cache_write", 0)
                        tr = ga("tokens_reasoning", 0)
                        retry = ga("retry", 0)
                        step = ga("step")
                        c = ga("cost_usd")
                        lat = ga("latency_ms")
                        if (type(ti) is int and type(to) is int and type(tcr) is int and type(tcw) is int
                                and type(tr) is int and type(retry) is int and (ti | to | tcr | tcw | tr | retry) >= 0
                                and (step is None or (type(step) is int and step >= 0))
                                and (model is None or (type(model) is str and model))
                                and "unpriced" not in a):
                            rm = ga("request_model")
                            if rm is not None and rm != model and type(rm) is str and rm:
                                model = (rm, model)
                            if type(lat) is float:
                                if not 0.0 <= lat < INF:
                                    lat = (end - start) / 1e6 if end >= start else None
                            elif type(lat) is not int or lat < 0:
                                lat = (end - start) / 1e6 if end >= start else None
                            if type(c) is float and c - c == 0:
                                cp = c * PICO_
                                cp = round(cp) if cp - cp == 0 else picos(c)
                                rec = (sid, pid, op, step, retry, start, end, err, ti, to, tcr, tcw, tr, cp, 0,
                                       lat, model)
                            elif c is None:
                                cp = None
                                rec = (sid, pid, op, step, retry, start, end, err, ti, to, tcr, tcw, tr, None,
                                       1 if (ti or to) else 0, lat, model)
                            elif type(c) is int:
                                cp = c * PICO_
                                rec = (sid, pid, op, step, retry, start, end, err, ti, to, tcr, tcw, tr, cp, 0,
                                       lat, model)
            if rec is None:
                f = _fields(p)
                if f is None:
                    bad_spans += 1
                    continue
                tid, rec = f
                pid, op, step, cp, model = rec[R_PID], rec[R_OP], rec[R_STEP], rec[R_COST], rec[R_MODEL]
                err, retry = rec[R_ERR], rec[R_RETRY]
            spans += 1

            t = traces.get(tid)
            if t is None:
                t = traces[tid] = [0, 0, 0, 0, 0, None, None, None, None, False, None, 0, None, None, 0, None]
            recs = t[T_RECS]
            if recs is None:
                recs = t[T_RECS] = []
                open_[tid] = t
                if detail:
                    t[T_PAYLOADS] = []
                if len(open_) > MAX_OPEN_TRACES:  # roots missing or written first: bound memory
                    for old in list(open_)[: MAX_OPEN_TRACES // 10]:
                        npending += finalize(old, open_[old])
            recs.append(rec)
            if err or retry:
                t[T_FLAGS] |= FLAG_TROUBLE
            if detail:
                t[T_PAYLOADS].append(line)  # the raw line: no GC tracking, decoded again only if kept
                if '"score.' in line:
                    _score_points(out, line, p.get("attrs"), rec[R_END])
            if step is not None or pid is None:
                if step is not None:
                    t[T_FLAGS] |= FLAG_HAS_STEP
                    if cp is not None:
                        sd = t[T_STEPS]
                        if sd is None:
                            t[T_STEPS] = {step: cp}
                        else:
                            sd[step] = sd.get(step, 0) + cp
                key = (op, model, step)
                lst = pending.get(key)
                if lst is None:
                    lst = pending[key] = []
                lst.append(rec)
                npending += 1
            else:
                t[T_FLAGS] |= FLAG_DEFERRED
            if pid is None:
                t[T_ROOT_OP] = op
                t[T_ROOT_END] = rec[R_END]
                t[T_ROOT_ERR] = err
                npending += finalize(tid, t)
            if npending >= FOLD_EVERY:
                fold_pending()
                npending = 0
        for tid in list(open_):
            finalize(tid, open_[tid])
        fold_pending()
        out.spans = spans
        out.bad_spans = bad_spans
        out.reader = reader.summary()
        out.bad_examples = list(reader.bad_examples)
        if worker != 0:
            out.reader["lines"] = out.reader["blank"] = 0
    return out


def _resolve_steps(recs: List[tuple], has_step: bool) -> Dict[str, Optional[int]]:
    """For spans without a ``step`` attr (roots excepted): the step of their nearest ancestor that
    has one, or None. Returns span id -> step."""
    by_id = {r[R_SID]: r for r in recs} if has_step else {}
    resolved: Dict[str, Optional[int]] = {}
    for r in recs:
        if r[R_STEP] is not None or r[R_PID] is None:
            continue
        step = None
        pid = r[R_PID]
        hops = 0
        while pid is not None and hops < 256:
            pr = by_id.get(pid)
            if pr is None:
                break
            if pr[R_STEP] is not None:
                step = pr[R_STEP]
                break
            pid = pr[R_PID]
            hops += 1
        resolved[r[R_SID]] = step
    return resolved


def _step_detail(recs: List[tuple], resolved: Dict[str, Optional[int]], step: int) -> list:
    """S record (see S_*) for one step of a trace, from its records."""
    s = [0, 0, 0, 0, 0, [], 0]
    for r in recs:
        st = r[R_STEP] if r[R_STEP] is not None else resolved.get(r[R_SID])
        if st != step:
            continue
        if r[R_OP] not in s[S_OPS] and len(s[S_OPS]) < 6:
            s[S_OPS].append(r[R_OP])
        if r[R_COST] is not None:
            s[S_COST] += r[R_COST]
            s[S_PRICED] += 1
        elif r[R_UNPRICED]:
            s[S_UNPRICED] += 1
        s[S_SPANS] += 1
        s[S_TOKENS] += r[R_IN] + r[R_OUT]
        if r[R_ERR]:
            s[S_ERR] += 1
    return s


def _waste(recs: List[tuple], failed_bucket: list, retried_bucket: list) -> None:
    """Add the spans of one trace that failed or were retried away (and what is under them)."""
    keys = {(r[R_PID], r[R_OP], r[R_STEP]) for r in recs if r[R_RETRY]}
    retried: set = set()
    if keys:
        attempts: Dict[tuple, List[tuple]] = {}
        for r in recs:
            k = (r[R_PID], r[R_OP], r[R_STEP])
            if k in keys:
                attempts.setdefault(k, []).append(r)
        for lst in attempts.values():
            lst.sort(key=lambda r: (r[R_START] if r[R_START] is not None else 1 << 63, r[R_RETRY]))
            for a, b in zip(lst, lst[1:]):
                if b[R_RETRY] > a[R_RETRY]:
                    retried.add(a[R_SID])
    failed = {r[R_SID] for r in recs if r[R_ERR] and r[R_PID] is not None}
    if not failed and not retried:
        return
    seeds = failed | retried
    # reason per span: "failed" wins over "retried" when both apply
    reason: Dict[str, int] = {sid: (1 if sid in failed else 2) for sid in seeds}
    parents = {r[R_PID] for r in recs}
    if seeds & parents:
        children: Dict[str, List[str]] = {}
        for r in recs:
            if r[R_PID] is not None:
                children.setdefault(r[R_PID], []).append(r[R_SID])
        stack = [(sid, reason[sid]) for sid in seeds]
        while stack:
            sid, why = stack.pop()
            for child in children.get(sid, ()):
                have = reason.get(child)
                if have is None or (why == 1 and have == 2):
                    reason[child] = why
                    stack.append((child, why))
    for r in recs:
        why = reason.get(r[R_SID])
        if why is None:
            continue
        b = failed_bucket if why == 1 else retried_bucket
        b[0] += 1
        b[1] += r[R_IN] + r[R_OUT]
        if r[R_COST] is not None:
            b[2] += r[R_COST]
        elif r[R_UNPRICED]:
            b[3] += 1


def _other(out: Scan, kind: Any, env: dict) -> None:
    """Keep what ``mist view`` shows from non-span lines: alerts and late eval scores."""
    p = env.get("payload")
    if type(p) is not dict:
        return
    ts = env.get("timestamp_ns")
    ts = ts if type(ts) is int else None
    if kind == "trace.alert":
        if len(out.alerts) < 10_000:
            out.alerts.append((ts or 0, p))
    elif kind == "eval.result":
        name, sid, score = p.get("name"), p.get("span_id"), as_number(p.get("score"))
        if type(name) is str and name and type(sid) is str and score is not None:
            if len(out.late_scores) < 200_000:
                out.late_scores.setdefault(sid, {})[name] = score
            if ts is not None:
                out.score_points.setdefault(name, []).append((ts, score))


def _score_points(out: Scan, line: str, attrs: Any, end: Optional[int]) -> None:
    """Record ``score.*`` attrs (time, value) for the charts; the keys are found in the raw line
    (cheaper than walking every attr) and then read from the decoded attrs, so text that merely
    looks like a key inside a value is ignored."""
    if end is None or type(attrs) is not dict:
        return
    pts = out.score_points
    i = line.find('"score.')
    while i >= 0:
        j = line.find('"', i + 7)
        if j < 0:
            break
        key = line[i + 1: j]
        v = attrs.get(key)
        if (type(v) is float or type(v) is int) and len(key) > 6 and math.isfinite(v):
            lst = pts.get(key[6:])
            if lst is None:
                lst = pts[key[6:]] = []
            lst.append((end, v))
        i = line.find('"score.', j)


# --------------------------------------------------------------------------------------------
# running the pass, in parallel when it pays


def default_jobs(path: Union[str, Sequence[str]]) -> int:
    """2+ workers for big regular files (their total size) on Linux with 2+ CPUs; 1 otherwise."""
    paths = [path] if isinstance(path, str) else list(path)
    if "-" in paths or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    try:
        size = sum(os.path.getsize(p) for p in paths)
    except OSError:
        return 1
    if size < PARALLEL_MIN_BYTES:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, 4))


def scan_file(path: Union[str, Sequence[str]], *, by_trace: bool = False, detail: bool = False, jobs: Optional[int] = None,
              progress: bool = True, keep_traces: int = 50) -> Scan:
    """One pass over ``path`` (one file or several, read as their concatenation; ``jobs`` worker
    processes, each reading every file and keeping the traces whose id it owns), merged. A trace
    spread over several files is therefore always whole in one worker."""
    n = default_jobs(path) if jobs is None else max(1, jobs)
    if n > 1 and (path == "-" or list(path) == ["-"] or not hasattr(os, "fork")):
        n = 1
    if n == 1:
        return _scan_part(path, 0, 1, by_trace, detail, progress, keep_traces)
    Reader(path).close()  # fail early, in this process, on an unreadable file
    children: List[Tuple[int, int]] = []
    try:
        for w in range(1, n):
            r, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                os.close(r)
                code = 0
                try:
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    res = _scan_part(path, w, n, by_trace, detail, False, keep_traces)
                    data = pickle.dumps(("ok", res), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException as exc:  # report, then let the parent redo the share
                    data = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
                    code = 1
                try:
                    with os.fdopen(wfd, "wb") as fh:
                        fh.write(data)
                finally:
                    os._exit(code)
            os.close(wfd)
            children.append((pid, r))
        result = _scan_part(path, 0, n, by_trace, detail, progress, keep_traces)
        for w, (pid, r) in enumerate(children, start=1):
            with os.fdopen(r, "rb") as fh:
                data = fh.read()
            os.waitpid(pid, 0)
            part: Optional[Scan] = None
            try:
                status, value = pickle.loads(data)
                if status == "ok":
                    part = value
            except Exception:
                part = None
            if part is None:  # the worker died: do its share here
                part = _scan_part(path, w, n, by_trace, detail, False, keep_traces)
            result.merge(part)
        children = []
        return result
    finally:
        for pid, r in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass
            try:
                os.close(r)
            except OSError:
                pass


# --------------------------------------------------------------------------------------------
# shaping the answer


def _usd(picos: int) -> float:
    return picos / PICO


def group_row(key: Any, g: list) -> Dict[str, Any]:
    """One group's row (what ``--format json`` shows); sorts the group's latencies in place."""
    lats = g[G_LAT]
    lats.sort()
    return {
        "group": key,
        "calls": g[G_CALLS], "errors": g[G_ERR], "retries": g[G_RETRY],
        "tokens_in": g[G_IN], "tokens_out": g[G_OUT], "tokens_cache_read": g[G_CR],
        "tokens_cache_write": g[G_CW], "tokens_reasoning": g[G_REASON],
        "cost_usd": _usd(g[G_COST]), "priced": g[G_PRICED], "unpriced": g[G_UNPRICED],
        "latency_ms_p50": percentile(lats, 50), "latency_ms_p95": percentile(lats, 95),
        "latency_ms_p99": percentile(lats, 99),
    }


def _sort_rows(by: str, rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    if by == "step":
        return sorted(rows, key=lambda r: (r["group"] is None, r["group"] if r["group"] is not None else 0))
    return sorted(rows, key=lambda r: (-r["cost_usd"], -r["calls"], str(r["group"])))


def build_report(scan: Scan, by: str, path: Union[str, Sequence[str]]) -> Dict[str, Any]:
    """The report as plain data (what ``--format json`` prints)."""
    rows = _sort_rows(by, [group_row(k, g) for k, g in scan.groups(by).items()])
    if by == "model":
        for r in rows:
            r["served_models"] = scan.served_models(r["group"])
    total = scan.total()
    traces = scan.traces
    n_traces = len(traces)
    cost = _usd(total[G_COST])
    top_traces = heapq.nlargest(TOP, traces.items(), key=lambda kv: (kv[1][T_COST], kv[1][T_SPANS], kv[0]))
    top_steps = sorted(scan.top_steps, key=lambda it: (-it[0], it[1], it[2]))[:TOP]
    failed_runs = [t for t in traces.values() if t[T_ROOT_ERR]]
    wf, wr = scan.waste_failed, scan.waste_retried
    return {
        "file": display_name(path),
        "by": by,
        "summary": {
            "spans": scan.spans,
            "traces": n_traces,
            "cost_usd": cost,
            "cost_per_trace_usd": (total[G_COST] / n_traces / PICO) if n_traces else None,
            "priced_spans": total[G_PRICED],
            "unpriced_spans": total[G_UNPRICED],
            "errors": total[G_ERR],
            "retries": total[G_RETRY],
            "tokens_in": total[G_IN], "tokens_out": total[G_OUT],
            "tokens_cache_read": total[G_CR], "tokens_cache_write": total[G_CW],
            "tokens_reasoning": total[G_REASON],
            "failed_runs": len(failed_runs),
            "failed_runs_cost_usd": _usd(sum(t[T_COST] for t in failed_runs)),
        },
        "waste": {
            "spans": wf[0] + wr[0], "tokens": wf[1] + wr[1], "cost_usd": _usd(wf[2] + wr[2]),
            "unpriced_spans": wf[3] + wr[3],
            "failed": {"spans": wf[0], "tokens": wf[1], "cost_usd": _usd(wf[2]), "unpriced_spans": wf[3]},
            "retried": {"spans": wr[0], "tokens": wr[1], "cost_usd": _usd(wr[2]), "unpriced_spans": wr[3]},
        },
        "top_traces": [
            {"trace_id": tid, "cost_usd": _usd(t[T_COST]), "spans": t[T_SPANS], "errors": t[T_ERR],
             "unpriced_spans": t[T_UNPRICED], "tokens": t[T_TOKENS], "root": t[T_ROOT_OP],
             "start_ns": t[T_START], "end_ns": t[T_END]}
            for tid, t in top_traces
        ],
        "top_steps": [
            {"trace_id": tid, "step": step, "cost_usd": _usd(s[S_COST]), "spans": s[S_SPANS],
             "tokens": s[S_TOKENS], "errors": s[S_ERR], "unpriced_spans": s[S_UNPRICED],
             "operations": list(s[S_OPS])}
            for _, tid, step, s in top_steps
        ],
        "groups": rows,
        "input": dict(scan.reader, bad_spans=scan.bad_spans, other_types=dict(sorted(scan.other_types.items()))),
    }


# --------------------------------------------------------------------------------------------
# printing


COLUMNS = [
    ("calls", "calls"), ("errors", "errors"), ("retries", "retries"), ("tokens_in", "in"),
    ("tokens_out", "out"), ("tokens_cache_read", "cache_rd"), ("tokens_cache_write", "cache_wr"),
    ("tokens_reasoning", "reason"), ("cost_usd", "cost"), ("unpriced", "unpriced"),
    ("latency_ms_p50", "p50"), ("latency_ms_p95", "p95"), ("latency_ms_p99", "p99"),
]


LABEL_WIDTH = 40


def _labels(by: str, keys: Sequence[Any]) -> List[str]:
    """The first column: trace ids as 16-character prefixes (what ``mist replay --trace`` takes),
    other names shortened in the middle to LABEL_WIDTH, each still unique."""
    if by == "trace":
        return [NONE_LABEL if k is None else str(k)[:16] for k in keys]
    names = [NONE_LABEL if k is None else (flat(k) or '""') for k in keys]
    short = shorten_unique(names, LABEL_WIDTH)
    return [short[n] for n in names]


def _cell(field: str, value: Any) -> str:
    if field.startswith("latency"):
        return fmt_ms(value)
    return fmt_tokens(value) if isinstance(value, int) else str(value)


def format_headline(rep: Dict[str, Any], color: Optional[Palette] = None) -> str:
    """The headline block of the table output (totals, waste, most expensive runs and steps)."""
    color = color or Palette(False)
    s, w = rep["summary"], rep["waste"]
    lines: List[str] = []
    head = f"{rep['file']}: {s['spans']:,} spans in {s['traces']:,} traces"
    lines.append(color.bold(head))
    # money: one precision per line, and per list (see _money)
    total, per_trace = usd_column((s["cost_usd"], s["cost_per_trace_usd"]))
    cost_line = f"  total cost      {total}"
    if s["cost_per_trace_usd"] is not None:
        cost_line += f"   ({per_trace} per trace)"
    lines.append(cost_line)
    if s["unpriced_spans"]:
        lines.append(color.yellow(f"  unpriced        {s['unpriced_spans']:,} spans with tokens but no "
                                  "known price (not included in cost)"))
    lines.append(f"  tokens          {s['tokens_in']:,} in ({s['tokens_cache_read']:,} cache read, "
                 f"{s['tokens_cache_write']:,} cache write) / {s['tokens_out']:,} out "
                 f"({s['tokens_reasoning']:,} reasoning)")
    err_line = f"  errors          {plural(s['errors'], 'span')} failed, {plural(s['retries'], 'retry', 'retries')}"
    if s["failed_runs"]:
        err_line += f", {plural(s['failed_runs'], 'failed run')} ({fmt_usd(s['failed_runs_cost_usd'])})"
    lines.append(color.red(err_line) if s["errors"] else err_line)
    wasted, failed, retried = usd_column((w["cost_usd"], w["failed"]["cost_usd"], w["retried"]["cost_usd"]))
    waste = (f"  waste           {wasted} and {w['tokens']:,} tokens in {w['spans']:,} spans"
             f" (failed {failed}, retried away {retried})")
    if w["unpriced_spans"]:
        waste += f" + {w['unpriced_spans']:,} unpriced"
    lines.append(color.yellow(waste) if w["spans"] else waste)
    if rep["top_traces"]:
        lines.append("  most expensive traces:")
        costs = usd_column(t["cost_usd"] for t in rep["top_traces"])
        for t, cost in zip(rep["top_traces"], costs):
            extra = f", {plural(t['errors'], 'error')}" if t["errors"] else ""
            lines.append(f"    {t['trace_id'][:16]}  {cost:>12}  {plural(t['spans'], 'span'):<11}"
                         f"  {t['root'] or '(no root)'}{extra}")
    if rep["top_steps"]:
        lines.append("  most expensive steps:")
        costs = usd_column(st["cost_usd"] for st in rep["top_steps"])
        for st, cost in zip(rep["top_steps"], costs):
            extra = f", {plural(st['errors'], 'error')}" if st["errors"] else ""
            lines.append(f"    {st['trace_id'][:16]} step {st['step']:<4} {cost:>12}"
                         f"  {plural(st['spans'], 'span'):<9}  {', '.join(st['operations'])}{extra}")
    inp = rep["input"]
    notes = []
    if inp["undecodable"]:
        notes.append(f"{plural(inp['undecodable'], 'undecodable line')} skipped")
    if inp["torn"]:
        notes.append("torn last line ignored")
    if inp["bad_spans"]:
        notes.append(f"{plural(inp['bad_spans'], 'span')} without ids skipped")
    if notes:
        lines.append(color.dim("  note: " + "; ".join(notes)))
    return "\n".join(lines) + "\n"


def format_table(rep: Dict[str, Any], *, limit: Optional[int], color: Palette) -> str:
    """Headline, a blank line, then one row per group (at most ``limit`` rows)."""
    lines: List[str] = [format_headline(rep, color)]

    rows = rep["groups"]
    shown = rows if limit is None else rows[:limit]
    header = [rep["by"]] + [title for _, title in COLUMNS]
    labels = _labels(rep["by"], [r["group"] for r in shown])
    costs = usd_column(r["cost_usd"] for r in shown)
    table = [header] + [[label] + [cost if f == "cost_usd" else _cell(f, r[f]) for f, _ in COLUMNS]
                        for label, cost, r in zip(labels, costs, shown)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [c.rjust(widths[i]) for i, c in enumerate(row) if i]
        text = "  ".join(cells).rstrip()
        lines.append(color.bold(text) if n == 0 else text)
    if len(shown) < len(rows):
        lines.append(color.dim(f"… {len(rows) - len(shown):,} more {rep['by']} groups "
                               "(--limit N to show more, --format csv for all)"))
    if not rows:
        lines.append(color.dim("(no trace.span lines in this file)"))
    served = [(label, r["served_models"]) for label, r in zip(labels, shown)
              if any(n != r["group"] for n in r.get("served_models", ()))]
    if served:
        lines.append(color.dim("model names as recorded (calls):"))
        lines.extend(color.dim(f"  {label}: " + ", ".join(f"{flat(n)} ({c:,})" for n, c in names.items()))
                     for label, names in served)
    return "\n".join(lines) + "\n"


def format_csv(rep: Dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([rep["by"]] + [f for f, _ in COLUMNS])
    for r in rep["groups"]:
        key = "" if r["group"] is None else r["group"]
        w.writerow([key] + ["" if r[f] is None else (repr(r[f]) if isinstance(r[f], float) else r[f])
                            for f, _ in COLUMNS])
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# the command


def add_arguments(parser: Any) -> None:
    parser.add_argument("file", nargs="+", metavar="FILE", help=FILES_HELP)
    parser.add_argument("--by", choices=BY_CHOICES, default="operation",
                        help="group rows by span operation (default), model (as requested: a dated "
                             "snapshot such as gpt-4o-mini-2024-07-18 counts under gpt-4o-mini), trace id "
                             "or agent step")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default, for people), json (everything) or csv (the group rows)")
    parser.add_argument("--limit", type=int, metavar="N", default=None,
                        help="show at most N group rows (default: all; 40 for --by trace tables)")
    parser.add_argument("--jobs", "-j", type=int, metavar="N", default=None,
                        help="worker processes for large files (default: automatic)")


def run(args: Any) -> int:
    if args.limit is not None and args.limit < 0:
        raise CLIError("--limit must be 0 or more")
    if args.jobs is not None and args.jobs < 1:
        raise CLIError("--jobs must be 1 or more")
    args.file = expand(args.file, "report")
    scan = scan_file(args.file, by_trace=args.by == "trace", jobs=args.jobs)
    check_input(scan, args.file)
    rep = build_report(scan, args.by, args.file)
    if args.format == "json":
        if args.limit is not None:
            rep["groups"] = rep["groups"][: args.limit]
        write_out(json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        if args.limit is not None:
            rep["groups"] = rep["groups"][: args.limit]
        write_out(format_csv(rep))
    else:
        limit = args.limit if args.limit is not None else (40 if args.by == "trace" else None)
        write_out(format_table(rep, limit=limit, color=Palette.for_stream(sys.stdout)))
    return 0


def check_input(scan: Scan, path: Union[str, Sequence[str]]) -> None:
    """A file where no line decodes is not a trace file: say so (exit 2) instead of an empty report."""
    r = scan.reader
    if r["undecodable"] and not scan.spans and not scan.other_types:
        where = f" (line {scan.bad_examples[0][0]}: {scan.bad_examples[0][1][:40]!r})" if scan.bad_examples else ""
        raise CLIError(f"{display_name(path)}: no line is an MTTP JSON envelope{where}; "
                       "expected one JSON object per line")
