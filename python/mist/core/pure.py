"""The pure-Python backend: the same functions as ``mist._native``, byte-identical output.

Selected by ``MIST_PURE_PYTHON=1`` or when the extension cannot be imported.
"""
from __future__ import annotations

import ast
import os
import random
import sys
import threading
import time
import zlib
from collections import deque
from operator import itemgetter
from typing import Any, Deque, Dict, Optional, Tuple

from ..codec import encode_payload_python, encode_python, encode_value_python, jsonw as _jsonw
from ..codec import generated as _generated
from ..codec.generated import PAYLOAD_ENCODERS, SPAN_LINE, SPAN_LINE_END, encode_envelope, span_payload
from ..codec.jsonw import EncodeTooLarge, MAX_DEPTH, MAX_STRING_CHARS  # noqa: F401  (same names as native)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
_DROPPED_ATTRS = '{"mist.error":"attrs dropped: span over the 10 MiB message limit"}'
_U64 = (1 << 64) - 1

# ---- ids and clock ----
_rng = random.Random()  # only where the OS has no randomness source (see _random_hex)


def _reseed() -> None:
    _rng.seed(int.from_bytes(os.urandom(16), "little") ^ os.getpid())


_reseed()
_urandom = os.urandom


def _random_hex() -> str:
    """4096 random hex digits from one getrandom(2) call (~1 µs in the kernel): ~240 instructions
    an id, against ~830 for ``Random.randbytes``, and never the parent's in a forked child."""
    try:
        return _urandom(2048).hex()
    except NotImplementedError:  # pragma: no cover  (no OS randomness source)
        return _rng.randbytes(2048).hex()


# Ids are cut from one random hex string per 128 (trace) or 256 (span) ids, in C by an itemgetter
# of precomputed slices (~580 instructions an id; a comprehension costs ~1,450), and handed out with
# list.pop(), which is atomic: no lock, no two callers ever get the same id. A forked child
# empties both pools (see _after_fork_child), so it never hands out its parent's ids.
_CUT_TRACE = itemgetter(*[slice(i, i + 32) for i in range(0, 4096, 32)])
_CUT_SPAN = itemgetter(*[slice(i, i + 16) for i in range(0, 4096, 16)])
_trace_ids: list = []
_span_ids: list = []


def _refill(pool: list, cut: Any) -> str:
    ids = list(cut(_random_hex()))
    mine = ids.pop()  # taken before the others are shared: another thread cannot empty the pool first
    pool.extend(ids)
    return mine


def new_span_id() -> str:
    # an all-zero id (which W3C trace context rejects) has probability 2**-64: not worth a branch
    try:
        return _span_ids.pop()
    except IndexError:
        return _refill(_span_ids, _CUT_SPAN)


def new_trace_id() -> str:
    try:
        return _trace_ids.pop()
    except IndexError:
        return _refill(_trace_ids, _CUT_TRACE)


now_ns = time.time_ns

# ---- configuration ----


class _Config:
    __slots__ = ("source", "batch_bytes", "max_bytes", "sample", "keep_all", "context", "on_fork", "pricer",
                 "observe")

    def __init__(self, source: str, batch_bytes: int, max_bytes: int, sample: float, context: Any, on_fork: Any,
                 pricer: Any = None, observe: bool = False) -> None:
        _jsonw.reset_budget()
        self.source = _jsonw.string(source)
        self.batch_bytes = batch_bytes
        self.max_bytes = max_bytes
        self.sample = _U64 if sample >= 1.0 else (0 if sample <= 0.0 else int(sample * float(_U64)))
        self.keep_all = self.sample == _U64  # no trace is sampled out
        self.context = context
        self.on_fork = on_fork
        self.pricer = pricer
        self.observe = observe


_cfg: Optional[_Config] = None


def configure(source: str, batch_bytes: int, max_buffer_bytes: int, sample: float = 1.0, context: Any = None,
              on_fork: Any = None, pricer: Any = None, observe: bool = False) -> None:
    global _cfg
    _prices.clear()
    _cfg = _Config(source, batch_bytes, max_buffer_bytes, sample, context, on_fork, pricer, observe)


# ---- observations for the observers of finished spans (twin of the native ones) ----
MAX_OBS = 4096
_obs: list = []
_obs_dropped = 0


def take_observations(limit: int = 1 << 62) -> Tuple[list, int]:
    """The oldest ``limit`` span payloads kept for the observers (the rest wait for the next
    call), and how many were dropped because the buffer was full."""
    global _obs, _obs_dropped
    got, _obs = _obs[:limit], _obs[limit:]
    dropped, _obs_dropped = _obs_dropped, 0
    out = []
    for trace_id, span_id, parent_id, operation, start_ns, end_ns, status, attrs, kw in got:
        p = {"trace_id": trace_id, "span_id": span_id}
        if not _generated._empty(parent_id):
            p["parent_id"] = parent_id
        attrs = dict(attrs) if attrs else {}
        if kw is not None:  # emit_span's keyword attrs, merged as emit_span merges them
            attrs.update([(k, v) for k, v in zip(_KWARGS, kw) if v is not None])
        p.update(operation=operation, start_ns=start_ns, end_ns=end_ns, status=status, attrs=attrs)
        out.append(p)
    return out, dropped


def _observe(trace_id: Any, span_id: Any, parent_id: Any, operation: Any, start_ns: Any, end_ns: Any,
             status: Any, attrs: Any, kw: Optional[tuple] = None) -> None:
    """Keep a reference-level record (the payload is built later, on the alert thread); ``kw``:
    emit_span's keyword attrs (in ``_KWARGS`` order), merged into ``attrs`` there too."""
    global _obs_dropped
    if len(_obs) >= MAX_OBS:
        _obs_dropped += 1
        return
    _obs.append((trace_id, span_id, parent_id, operation, start_ns, end_ns, status, attrs, kw))


_prices: Dict[str, Any] = {}


def _count(v: Any) -> Optional[int]:
    """A token count: an int that fits 64 bits (as the native core reads it), else not a count."""
    return v if type(v) is int and -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF else None


def _price(merged: dict, cfg: _Config) -> None:
    """emit_span's cost (twin of the native ``price``) set in its merged attrs; an unknown model
    is marked ``unpriced``."""
    if "cost_usd" in merged:
        return
    cost = _auto_cost(None, None, None, merged, cfg)
    if cost is _NO_PRICE:
        merged["unpriced"] = True
    elif cost is not None:
        merged["cost_usd"] = cost


_EMPTY: Dict[str, Any] = {}
_NO_PRICE = object()  # _auto_cost: the model has no price


def _auto_cost(model: Any, tokens_in: Any, tokens_out: Any, attrs: Optional[dict], cfg: _Config) -> Any:
    """The cost of a span whose attrs are ``attrs`` under emit_span's keyword attrs (those not
    None): same formula and float order as ``PriceTable.cost``. None: nothing to price (no str
    model, no token count); _NO_PRICE: the model has no price (the span is marked ``unpriced``)."""
    get = (attrs or _EMPTY).get
    if model is None:
        model = get("model")
    if type(model) is not str:
        return None
    tin = _count(get("tokens_in") if tokens_in is None else tokens_in)
    tout = _count(get("tokens_out") if tokens_out is None else tokens_out)
    if tin is None and tout is None:
        return None
    p = _prices.get(model, _EMPTY)  # _EMPTY: not looked up yet
    if p is _EMPTY:
        p = _per_million(model, cfg)
    if p is None:
        return _NO_PRICE
    cr = cw = rs = w1 = 0
    if attrs:  # the counts only attrs carry
        cr = _count(get("tokens_cache_read")) or 0
        cw = _count(get("tokens_cache_write")) or 0
        rs = _count(get("tokens_reasoning")) or 0
        w1 = _count(get("tokens_cache_write_1h")) or 0
    return _cost_of(p, tin or 0, tout or 0, cr, cw, rs, w1)


def _cost_of(p: tuple, tin: int, tout: int, cr: int, cw: int, rs: int, cw1h: int = 0) -> float:
    """``PriceTable.cost``'s formula, in its float order."""
    fresh = tin - cr - cw  # max(..., 0) without the calls (all ints)
    if fresh < 0:
        fresh = 0
    plain = tout - rs
    if plain < 0:
        plain = 0
    w1 = (cw1h if cw1h < cw else cw) if cw > 0 and cw1h > 0 else 0
    return (float(fresh) * p[0] + float(plain) * p[1] + float(cr) * p[2] + float(cw - w1) * p[3] + float(rs) * p[4]
            + float(w1) * p[5]) / 1e6


def _per_million(model: str, cfg: _Config) -> Any:
    """The model's 6 prices per million tokens, cached per model name (None: no price)."""
    if model in _prices:
        return _prices[model]
    r = cfg.pricer(model)
    p = tuple(float(x) for x in r) if r is not None else None
    if len(_prices) < 4096:
        _prices[model] = p
    return p


# ---- the buffer ----
_lock = threading.Lock()
_cv = threading.Condition(_lock)
_cur: list = []  # one line per item, except for push_line's extra lines counted in _cur_lines
_cur_len = 0
_cur_lines = 0
_ready: Deque[Tuple[int, bytes, int]] = deque()
_seq = 0
_queued = 0
_counters: Dict[str, int] = dict.fromkeys(
    ("emitted", "bytes", "dropped_buffer_full", "dropped_encode_error", "sampled_out"), 0
)


def _seal_locked() -> None:
    global _cur, _cur_len, _cur_lines, _seq, _queued
    if _cur_len:
        _seq += 1
        _ready.append((_seq, b"".join(_cur), len(_cur) + _cur_lines))
        _queued += _cur_len
        # "emitted" and "bytes" are counted here, per batch: one item of _cur per push (stats()
        # adds the open batch's), which spares every push two counter updates
        _counters["emitted"] += len(_cur)
        _counters["bytes"] += _cur_len
        _cur = []
        _cur_len = 0
        _cur_lines = 0


def _push(line: bytes, cfg: _Config, extra_lines: int = 0) -> bool:
    global _cur_len, _cur_lines
    n = len(line)
    # `with`, not acquire() and try/finally, which costs half as much but can leave the lock held
    # for good when an asynchronous exception (KeyboardInterrupt) lands just after acquire()
    with _lock:
        if _queued + _cur_len + n > cfg.max_bytes:
            _counters["dropped_buffer_full"] += 1
            return False
        _cur.append(line)
        if extra_lines:
            _cur_lines += extra_lines
        _cur_len += n
        if _cur_len < cfg.batch_bytes:
            return True
        _seal_locked()
        _cv.notify()
    if _need_writer and cfg.on_fork is not None:
        cfg.on_fork()
    return True


def push_line(line: bytes) -> bool:
    cfg = _cfg
    if cfg is None:
        return False
    line = bytes(line)
    return _push(line, cfg, line.count(b"\n") - 1)


def seal() -> int:
    with _lock:
        _seal_locked()
        _cv.notify()
        return _seq


def take(timeout: float, max_bytes: int = 4 << 20) -> Optional[Tuple[int, bytes, int]]:
    """Every queued batch up to ``max_bytes`` at once (at least one): (seq, bytes, lines)."""
    global _queued
    with _lock:
        if not _ready:
            _cv.wait(timeout)
            if not _ready:
                _seal_locked()
        if not _ready:
            return None
        seq, batch, lines = _ready.popleft()
        parts, size = [batch], len(batch)
        while _ready and size + len(_ready[0][1]) <= max_bytes:
            seq, nxt, more = _ready.popleft()
            parts.append(nxt)
            size += len(nxt)
            lines += more
        _queued -= size
        return seq, (batch if len(parts) == 1 else b"".join(parts)), lines


def untake(seq: int, batch: bytes) -> None:
    """Give back a batch taken by a writer that has since been replaced."""
    global _queued
    with _lock:
        _ready.appendleft((seq, batch, batch.count(b"\n")))
        _queued += len(batch)
        _cv.notify_all()


def consumed_seq() -> int:
    """Sequence number of the last batch already taken by a writer."""
    with _lock:
        return _seq - len(_ready)


def wake() -> None:
    with _lock:
        _cv.notify_all()


def stats() -> Dict[str, Any]:
    with _lock:
        d: Dict[str, Any] = dict(_counters)
        d["emitted"] += len(_cur)  # the open batch's (see _seal_locked)
        d["bytes"] += _cur_len
        d["queued_bytes"] = _queued + _cur_len
        d["queued_batches"] = len(_ready)
        d["batches"] = _seq
    d["bad_values"] = {k: v for k, v in _jsonw.BAD.items() if v}
    return d


# ---- fork: the child starts with an empty buffer, fresh ids and no writer ----
_need_writer = False


def _before_fork() -> None:
    _lock.acquire()


def _after_fork_parent() -> None:
    _lock.release()


def _after_fork_child() -> None:
    global _lock, _cv, _cur, _cur_len, _cur_lines, _ready, _seq, _queued, _need_writer
    _lock = threading.Lock()
    _cv = threading.Condition(_lock)
    _cur, _cur_len, _cur_lines, _ready, _seq, _queued = [], 0, 0, deque(), 0, 0
    _obs.clear()
    for k in _counters:
        _counters[k] = 0
    _jsonw.BAD.clear()
    _trace_ids.clear()
    _span_ids.clear()
    _reseed()
    _need_writer = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent, after_in_child=_after_fork_child)


def need_writer() -> bool:
    global _need_writer
    was, _need_writer = _need_writer, False
    return was


# ---- encoding ----
#
# A span is written one of two ways, with the same bytes:
# - by the *line writer* compiled for its shape: the attrs' keys in order and the type of every
#   value (ids, names, times, emit_span's keyword attrs, each attr). A writer is one f-string that
#   knows the sorted key order, where each value goes and how it is encoded: a call does no
#   sorting, no per-value type dispatch and parses no format template. Spans with str ids and
#   names, int times and plain str attr keys have writers (see _compile_writer).
# - by the general path (_emit_general): anything else, and a span too large to write whole.


def _trace_hash(trace_id: Any) -> int:
    if type(trace_id) is not str:
        return 0
    tail = trace_id[-16:]
    try:
        if tail and tail.isascii() and all(c in "0123456789abcdefABCDEF" for c in tail):
            return int(tail, 16)
    except ValueError:
        pass
    return zlib.crc32(trace_id.encode("utf-8", "surrogatepass"))


def _clean_id(v: str) -> bool:
    """An id whose JSON text is itself between quotes (short ASCII letters and digits)."""
    return len(v) <= 64 and v.isascii() and v.isalnum()


_NoneType = type(None)
_KWARGS = ("cost_usd", "model", "provider", "tokens_in", "tokens_out")  # emit_span merges them in this order
_NO_KWARGS = (_NoneType,) * len(_KWARGS)
_LINE_KEYS = {name: key for _, name, key in SPAN_LINE}  # an omittable field's key text
if set(_LINE_KEYS) != {"id", "source", "timestamp_ns", "trace_id", "span_id", "parent_id", "operation", "start_ns",
                       "end_ns", "status", "attrs"}:  # the fields _compile_writer writes
    raise ImportError("mist.core.pure: the trace.span fields changed: teach _compile_writer the new ones")
_ID_JSON: Dict[str, str] = {}  # recent clean ids → JSON text (trace and parent ids repeat)
_PARENT_JSON: Dict[str, str] = {}  # the same, as the whole ',"parent_id":"…"'


def _id_json(v: str) -> str:
    """An id's JSON text; a clean id is cached (others are encoded every time, so their
    replacements are counted every time, as the native core counts them)."""
    if not _clean_id(v):
        return _jsonw.string(v)
    if len(_ID_JSON) >= 4096:
        _ID_JSON.clear()
    j = _ID_JSON[v] = '"' + v + '"'
    return j


def _parent_json(v: str) -> str:
    """``,"parent_id":`` and the id's JSON text, cached as _id_json caches; '' for an empty id."""
    if not v:
        return ""
    if not _clean_id(v):
        return _LINE_KEYS["parent_id"] + _jsonw.string(v)
    if len(_PARENT_JSON) >= 4096:
        _PARENT_JSON.clear()
    j = _PARENT_JSON[v] = _LINE_KEYS["parent_id"] + '"' + v + '"'
    return j


_WRITER_ARGS = ("eid", "source", "timestamp_ns", "trace_id", "span_id", "parent_id", "operation", "start_ns",
                "end_ns", "status") + _KWARGS + ("attrs",)  # attrs: a snapshot dict of the span's attrs
# What a writer's f-string calls, by name. A cached JSON text is read as `S(v) or s(v)`: the bound
# get of a plain dict, then the encoder on a miss (a dict subclass with __missing__ costs more per
# hit: CPython calls its __getitem__ as a Python-level method).
_WRITER_GLOBALS = {"S": _jsonw._STRS.get, "s": _jsonw.fast_string, "T": _ID_JSON.get, "t": _id_json,
                   "P": _PARENT_JSON.get, "p": _parent_json, "F": _jsonw.floating, "V": _jsonw.value,
                   "B": {True: "true", False: "false"}, "_tl": _jsonw._tl}
# An attr value's JSON text, by type, as an expression of the value `v`, as obj() writes it (None:
# the value is null). A float in [1e-4, 1e16) that is not a whole number is written as repr writes
# it (what floating() checks first, without its call); any other float goes through floating().
# Any other type is written by value(v, 1), which spends the work budget (see _compile_writer).
_VALUE_EXPR = {str: "S(v) or s(v)", int: "v", float: "repr(v) if 1e-4 <= v < 1e16 and v % 1.0 else F(v)",
               bool: "B[v]", _NoneType: None}
_OTHER_EXPR = "V(v, 1)"
# A writer takes ~0.6 ms to compile (3 ms with 64 attrs): at most 512 shapes (then new shapes take
# the general path), of at most 64 attrs.
_MAX_WRITERS = 512
_MAX_WRITER_ATTRS = 64
_WRITERS: Dict[tuple, Any] = {}  # shape → its line writer, or False (the general path)


def _writer(shape: tuple) -> Any:
    """The line writer for a span's shape: ``(attr keys, type(trace_id), type(parent_id),
    type(operation), type(start_ns), type(end_ns), type(status), *types of _KWARGS, *types of the
    attr values)``; False when the general path writes such spans."""
    w = _WRITERS.get(shape)
    if w is None:
        if len(_WRITERS) >= _MAX_WRITERS:
            return False
        w = _WRITERS[shape] = _compile_writer(shape)
    return w


def _compile_writer(shape: tuple) -> Any:
    """A shape's line writer (see _writer), generated from the SPAN_LINE layout; False if none."""
    keys, t_trace, t_parent, t_op, t_start, t_end, t_status = shape[:7]
    t_kw, t_vals = shape[7:7 + len(_KWARGS)], shape[7 + len(_KWARGS):]
    if not (t_trace is str and t_op is str and t_start is int and t_end is int
            and t_parent in (str, _NoneType) and t_status in (str, _NoneType) and len(keys) <= _MAX_WRITER_ATTRS):
        return False
    # the attrs as emit_span merges them (a keyword attr replaces an attr of its name):
    # name → (key text, value expression or None for null, where the value is: attrs[name] or a
    # keyword argument, whether to read attrs[name] once into a local: a float's expression uses
    # its value up to four times)
    items = {}
    for k, t in zip(keys, t_vals):
        kt = _jsonw.plain_key(k)
        if kt is None:
            return False
        value = ast.Subscript(ast.Name("attrs", ast.Load()), ast.Constant(k), ast.Load())  # attrs[k]
        items[k] = (kt, _VALUE_EXPR.get(t, _OTHER_EXPR), value, t is float)
    for k, t in zip(_KWARGS, t_kw):
        if t is not _NoneType:  # None: not given
            items[k] = (_jsonw.plain_key(k), _VALUE_EXPR.get(t, _OTHER_EXPR), ast.Name(k, ast.Load()), False)
    # value() spends the work budget (raising EncodeTooLarge when it runs out): the writer starts
    # it where the general path's obj(attrs) has it when it writes the values
    prelude = ["_tl.budget = %d" % (_jsonw.NODE_BUDGET - len(items))] if any(
        item[1] is _OTHER_EXPR for item in items.values()) else []
    attrs: list = []
    for i, (kt, e, v, once) in enumerate(items[k] for k in sorted(items)):  # plain keys: sorted as written
        attrs += ["," + kt, _expr(e, v, "_a%d" % i if once else "") if e else "null"]
    if attrs:
        attrs[0] = _LINE_KEYS["attrs"] + "{" + attrs[0][1:]
        attrs.append("}")
    fields = {
        "id": ['"', _expr("eid"), '"'],
        "source": [_expr("source")],
        "timestamp_ns": [_expr("timestamp_ns")],
        "trace_id": [_expr("T(trace_id) or t(trace_id)")],
        "span_id": ['"', _expr("span_id"), '"'],  # a clean id: the caller checks it
        "parent_id": [_expr("P(parent_id) or p(parent_id)")] if t_parent is str else [],  # with its key, or ''
        "operation": [_expr("S(operation) or s(operation)")],
        "start_ns": [_expr("start_ns")],
        "end_ns": [_expr("end_ns")],
        "status": [_expr("S(status) or s(status)")] if t_status is str else [_jsonw.string("ok")],
        "attrs": attrs,
    }
    parts: list = []
    for text, name, _ in SPAN_LINE:
        parts.append(text)
        parts += fields[name]
    parts.append(SPAN_LINE_END)
    return _function(parts, prelude)


def _expr(src: str, v: Optional[ast.expr] = None, local: str = "") -> ast.expr:
    """The expression ``src`` (our own text) with the value ``v`` (a tree) for the name ``v``; with
    a ``local``, ``v`` is evaluated once, into it, where the name first appears (first evaluated
    too, in every _VALUE_EXPR), and the local is read after that."""
    tree = ast.parse(src, mode="eval").body
    return _PutValue(v, local).visit(tree) if v is not None else tree


class _PutValue(ast.NodeTransformer):
    def __init__(self, v: ast.expr, local: str) -> None:
        self.v, self.local, self.seen = v, local, False

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id != "v":
            return node
        if not self.local:
            return self.v
        if self.seen:
            return ast.Name(self.local, ast.Load())
        self.seen = True
        return ast.NamedExpr(ast.Name(self.local, ast.Store()), self.v)


def _function(parts: list, prelude: list) -> Any:
    """``def w(*_WRITER_ARGS): <prelude>; return f'…'``: the parts, literal text (str) or
    expressions (ast), as one f-string. Built as a syntax tree, so no text of a key is ever parsed
    as code."""
    values: list = []
    for p in parts:
        if not isinstance(p, str):
            values.append(ast.FormattedValue(p, -1, None))
        elif values and isinstance(values[-1], ast.Constant):
            values[-1] = ast.Constant(values[-1].value + p)
        elif p:
            values.append(ast.Constant(p))
    # CPython compiles an f-string of more than 30 parts as ''.join([...]), one list append per
    # part: nested f-strings of at most 30 parts each keep every level one BUILD_STRING
    while len(values) > 30:
        values = [ast.FormattedValue(ast.JoinedStr(values[i:i + 30]), -1, None) for i in range(0, len(values), 30)]
    src = "def w(%s):\n" % ", ".join(_WRITER_ARGS)
    src += "".join("    %s\n" % line for line in prelude)
    tree = ast.parse(src + "    return ''\n")
    tree.body[0].body[-1].value = ast.JoinedStr(values)
    ns = dict(_WRITER_GLOBALS)
    exec(compile(ast.fix_missing_locations(tree), "<mist span writer>", "exec"), ns)
    return ns["w"]


_OTEL = "opentelemetry.trace"
_modules = sys.modules


def _current_ids(cfg: _Config, parent_id: Any) -> Tuple[Any, Any]:
    """(trace id, parent id) of a span given no trace id: inside a span, its trace and (unless
    given) the span as parent; else a new trace."""
    ctx = cfg.context
    cur = ctx.get(None) if ctx is not None else None
    if _OTEL in _modules and hasattr(ctx, "outer"):  # OpenTelemetry imported: see mist.tracing.context
        cur = ctx.outer(cur)
    if cur is None:
        return new_trace_id(), parent_id
    return cur.trace_id, cur.span_id if parent_id is None else parent_id


def _emit(operation, start_ns, end_ns, trace_id, span_id, parent_id, status, attrs, priced) -> None:
    """emit's span, and emit_span's off its hot path (attrs merged): sampled, priced, then written
    by its shape's writer when there is one, else by the general path."""
    cfg = _cfg
    if cfg is None:
        return
    if trace_id is None:
        trace_id, parent_id = _current_ids(cfg, parent_id)
    if cfg.sample != _U64 and _trace_hash(trace_id) > cfg.sample:
        _counters["sampled_out"] += 1
        return
    if attrs is not None and not isinstance(attrs, dict):
        _jsonw._bad("object")
        attrs = None
    if priced and cfg.pricer is not None and "cost_usd" not in attrs:
        _price(attrs, cfg)
    if type(span_id) is str and _clean_id(span_id) and (attrs is None or type(attrs) is dict):
        a = attrs.copy() if attrs else ()  # a snapshot (see emit_span)
        keys = tuple(a)
        shape = (keys, type(trace_id), type(parent_id), type(operation), type(start_ns), type(end_ns), type(status),
                 *_NO_KWARGS, *map(type, a.values() if keys else ()))
        try:
            w = _WRITERS[shape]
        except KeyError:
            w = _writer(shape)
        if w:
            try:
                line = w(new_trace_id(), cfg.source, _time_ns(), trace_id, span_id, parent_id, operation, start_ns,
                         end_ns, status, None, None, None, None, None, a).encode()
                n = len(line)
            except EncodeTooLarge:  # attrs over the work budget: the general path drops them
                n = MAX_MESSAGE_BYTES + 1
            if n <= MAX_MESSAGE_BYTES:
                if _push(line, cfg) and cfg.observe:
                    _observe(trace_id, span_id, parent_id, operation, start_ns, end_ns,
                             "ok" if status is None else status, attrs)
                return
    _emit_general(cfg, operation, start_ns, end_ns, trace_id, span_id, parent_id, status, attrs)


def _emit_general(cfg, operation, start_ns, end_ns, trace_id, span_id, parent_id, status, attrs) -> None:
    """Any span: nested or odd values, a caller's odd ids, a span over the size limit."""
    if status is None:
        status = "ok"
    head = '{"version":"1","id":"%s","source":%s,"type":"trace.span","timestamp_ns":%d,"payload":' % (
        new_trace_id(), cfg.source, time.time_ns())
    _jsonw.reset_budget()
    try:
        line = (head + span_payload(trace_id, span_id, parent_id, operation, start_ns, end_ns, status, attrs) + "}\n").encode()
        if len(line) > MAX_MESSAGE_BYTES:
            raise EncodeTooLarge("span over the message limit")
    except EncodeTooLarge:
        _jsonw._bad("too_large")
        _jsonw.reset_budget()
        body = span_payload(trace_id, span_id, parent_id, operation, start_ns, end_ns, status, None)
        line = (head + body[:-1] + ',"attrs":' + _DROPPED_ATTRS + "}}\n").encode()
        if len(line) > MAX_MESSAGE_BYTES:
            raise
    if _push(line, cfg) and cfg.observe:
        _observe(trace_id, span_id, parent_id, operation, start_ns, end_ns, status, attrs)


_time_ns = time.time_ns


def emit_span(operation, start_ns, end_ns, *, trace_id=None, span_id=None, parent_id=None, status=None,
              model=None, provider=None, tokens_in=None, tokens_out=None, cost_usd=None, attrs=None):
    global _cur_len
    given = span_id is not None
    if not given:
        try:
            span_id = _span_ids.pop()
        except IndexError:
            span_id = _refill(_span_ids, _CUT_SPAN)
    try:
        cfg = _cfg
        if cfg is None:
            return span_id
        # The hot path, in line: a plain dict of attrs (or none), no sampling, and a line writer
        # for the span's shape. Everything else is merged and goes through _emit below.
        if type(attrs) is dict:
            a = attrs.copy()  # a snapshot: its keys and values agree whatever another thread does to attrs
            keys = tuple(a)
        elif attrs is None:
            a = keys = ()
        else:
            keys = None
        if keys is not None and cfg.keep_all and (not given or (type(span_id) is str and _clean_id(span_id))):
            if (cost_usd is None and cfg.pricer is not None and (model is not None or "model" in keys)
                    and "cost_usd" not in keys):
                cost_usd = _auto_cost(model, tokens_in, tokens_out, attrs, cfg)  # None: nothing to price
            if cost_usd is not _NO_PRICE:  # a model without a price: marked below
                if trace_id is None:
                    trace_id, parent_id = _current_ids(cfg, parent_id)
                shape = (keys, type(trace_id), type(parent_id), type(operation), type(start_ns), type(end_ns),
                         type(status), type(cost_usd), type(model), type(provider), type(tokens_in),
                         type(tokens_out), *map(type, a.values() if keys else ()))
                try:
                    w = _WRITERS[shape]
                except KeyError:
                    w = _writer(shape)
                if w:
                    try:
                        eid = _trace_ids.pop()
                    except IndexError:
                        eid = _refill(_trace_ids, _CUT_TRACE)
                    try:
                        line = w(eid, cfg.source, _time_ns(), trace_id, span_id, parent_id, operation, start_ns,
                                 end_ns, status, cost_usd, model, provider, tokens_in, tokens_out, a).encode()
                        n = len(line)
                    except EncodeTooLarge:  # attrs over the work budget: the general path drops them
                        n = MAX_MESSAGE_BYTES + 1
                    if n <= MAX_MESSAGE_BYTES:
                        # _push(line, cfg), in line (its call is ~550 instructions, 1.6%): keep the two alike
                        with _lock:
                            if _queued + _cur_len + n > cfg.max_bytes:
                                _counters["dropped_buffer_full"] += 1
                                return span_id
                            _cur.append(line)
                            _cur_len += n
                            sealed = _cur_len >= cfg.batch_bytes
                            if sealed:
                                _seal_locked()
                                _cv.notify()
                        if sealed and _need_writer and cfg.on_fork is not None:
                            cfg.on_fork()
                        if cfg.observe:
                            _observe(trace_id, span_id, parent_id, operation, start_ns, end_ns,
                                     "ok" if status is None else status, a,
                                     (cost_usd, model, provider, tokens_in, tokens_out))
                        return span_id
        unpriced = cost_usd is _NO_PRICE
        if unpriced:
            cost_usd = None
        if type(attrs) is dict:
            merged = attrs.copy()
        elif attrs is None:
            merged = {}
        elif isinstance(attrs, dict):
            merged = dict(attrs)
        else:
            _jsonw._bad("object")
            merged = {}
        if cost_usd is not None:
            merged["cost_usd"] = cost_usd
        if model is not None:
            merged["model"] = model
        if provider is not None:
            merged["provider"] = provider
        if tokens_in is not None:
            merged["tokens_in"] = tokens_in
        if tokens_out is not None:
            merged["tokens_out"] = tokens_out
        if unpriced:
            merged["unpriced"] = True
        _emit(operation, start_ns, end_ns, trace_id, span_id, parent_id, status, merged, not unpriced)
    except Exception:
        _counters["dropped_encode_error"] += 1
    return span_id


def emit(operation, start_ns, end_ns, trace_id, span_id, parent_id, status, attrs):
    if span_id is None:
        span_id = new_span_id()
    try:
        _emit(operation, start_ns, end_ns, trace_id, span_id, parent_id, status, attrs, False)
    except Exception:
        _counters["dropped_encode_error"] += 1
    return span_id


encode = encode_python
encode_value = encode_value_python
encode_payload = encode_payload_python
