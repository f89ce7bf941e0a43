"""The pure-Python backend: the same functions as ``mist._native``, byte-identical output.

Selected by ``MIST_PURE_PYTHON=1`` or when the extension cannot be imported.
"""
from __future__ import annotations

import os
import random
import threading
import time
import zlib
from collections import deque
from typing import Any, Deque, Dict, Optional, Tuple

from . import _jsonw
from . import _generated
from ._generated import PAYLOAD_ENCODERS, encode_envelope, span_payload
from ._jsonw import EncodeTooLarge, MAX_DEPTH, MAX_STRING_CHARS  # noqa: F401  (same names as native)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
_DROPPED_ATTRS = '{"mist.error":"attrs dropped: span over the 10 MiB message limit"}'
_U64 = (1 << 64) - 1

# ---- ids and clock ----
_rng = random.Random()


def _reseed() -> None:
    _rng.seed(int.from_bytes(os.urandom(16), "little") ^ os.getpid())


_reseed()
_rbytes = _rng.randbytes  # bytes.hex() is ~2x faster than '%x' formatting of a big int

# Ids are cut from one random hex string per 128 (trace) or 256 (span) ids and handed out with
# list.pop(), which is atomic: no lock, no two callers ever get the same id. A forked child
# empties both pools and re-seeds (see _after_fork_child).
_trace_ids: list = []
_span_ids: list = []


def _refill(pool: list, width: int) -> str:
    h = _rbytes(2048).hex()
    pool.extend([h[i:i + width] for i in range(width, 4096, width)])
    return h[:width]


def new_span_id() -> str:
    # an all-zero id (which W3C trace context rejects) has probability 2**-64: not worth a branch
    try:
        return _span_ids.pop()
    except IndexError:
        return _refill(_span_ids, 16)


def new_trace_id() -> str:
    try:
        return _trace_ids.pop()
    except IndexError:
        return _refill(_trace_ids, 32)


now_ns = time.time_ns

# ---- configuration ----


class _Config:
    __slots__ = ("source", "batch_bytes", "max_bytes", "sample", "context", "on_fork", "pricer", "on_unpriced", "observe")

    def __init__(self, source: str, batch_bytes: int, max_bytes: int, sample: float, context: Any, on_fork: Any,
                 pricer: Any = None, on_unpriced: Any = None, observe: bool = False) -> None:
        _jsonw.reset_budget()
        self.source = _jsonw.string(source)
        self.batch_bytes = batch_bytes
        self.max_bytes = max_bytes
        self.sample = _U64 if sample >= 1.0 else (0 if sample <= 0.0 else int(sample * float(_U64)))
        self.context = context
        self.on_fork = on_fork
        self.pricer = pricer
        self.on_unpriced = on_unpriced
        self.observe = observe


_cfg: Optional[_Config] = None


def configure(source: str, batch_bytes: int, max_buffer_bytes: int, sample: float = 1.0, context: Any = None,
              on_fork: Any = None, pricer: Any = None, on_unpriced: Any = None, observe: bool = False) -> None:
    global _cfg
    _prices.clear()
    _cfg = _Config(source, batch_bytes, max_buffer_bytes, sample, context, on_fork, pricer, on_unpriced, observe)


# ---- observations for the alert engine (twin of the native ones) ----
MAX_OBS = 4096
_obs: list = []
_obs_dropped = 0


def take_observations(limit: int = 1 << 62) -> Tuple[list, int]:
    """The oldest ``limit`` span payloads kept for the alert engine (the rest wait for the next
    call), and how many were dropped because the buffer was full."""
    global _obs, _obs_dropped
    got, _obs = _obs[:limit], _obs[limit:]
    dropped, _obs_dropped = _obs_dropped, 0
    out = []
    for trace_id, span_id, parent_id, operation, start_ns, end_ns, status, attrs in got:
        p = {"trace_id": trace_id, "span_id": span_id}
        if not _generated._empty(parent_id):
            p["parent_id"] = parent_id
        p.update(operation=operation, start_ns=start_ns, end_ns=end_ns, status=status,
                 attrs=dict(attrs) if attrs else {})
        out.append(p)
    return out, dropped


def _observe(*span: Any) -> None:
    """Keep a reference-level record (the payload is built later, on the alert thread)."""
    global _obs_dropped
    if len(_obs) >= MAX_OBS:
        _obs_dropped += 1
        return
    _obs.append(span)


_prices: Dict[str, Any] = {}


def _count(v: Any) -> Optional[int]:
    """A token count: an int that fits 64 bits (as the native core reads it), else not a count."""
    return v if type(v) is int and -(1 << 63) <= v < (1 << 63) else None


def _price(merged: dict, cfg: _Config) -> None:
    """emit_span's cost (twin of the native ``price``): same formula and float order as
    ``PriceTable.cost``; an unknown model is marked ``unpriced``."""
    if "cost_usd" in merged:
        return
    model = merged.get("model")
    if type(model) is not str:
        return
    tin, tout = _count(merged.get("tokens_in")), _count(merged.get("tokens_out"))
    if tin is None and tout is None:
        return
    if model in _prices:
        p = _prices[model]
    else:
        p = _per_million(model, cfg)
        if p is None and cfg.on_unpriced is not None:
            try:
                cfg.on_unpriced(model)
            except Exception:
                pass
    if p is None:
        merged["unpriced"] = True
        return
    cr = _count(merged.get("tokens_cache_read")) or 0
    cw = _count(merged.get("tokens_cache_write")) or 0
    rs = _count(merged.get("tokens_reasoning")) or 0
    merged["cost_usd"] = _cost_of(p, tin or 0, tout or 0, cr, cw, rs)


def _cost_of(p: tuple, tin: int, tout: int, cr: int, cw: int, rs: int) -> float:
    """``PriceTable.cost``'s formula, in its float order."""
    fresh = max(tin - cr - cw, 0)
    plain = max(tout - rs, 0)
    return (float(fresh) * p[0] + float(plain) * p[1] + float(cr) * p[2] + float(cw) * p[3] + float(rs) * p[4]) / 1e6


def _per_million(model: str, cfg: _Config) -> Any:
    """The model's 5 prices per million tokens, cached per model name (None: no price)."""
    if model in _prices:
        return _prices[model]
    r = cfg.pricer(model)
    p = tuple(float(x) for x in r) if r is not None else None
    if len(_prices) < 4096:
        _prices[model] = p
    return p


def price_attrs(attrs: dict) -> Optional[float]:
    """``_costs.price`` for span attrs with a str model and exact-int counts (twin of the native
    one): sets ``cost_usd`` and returns it; None, attrs untouched, in every other case (no table,
    no counts, an unknown model, any other value): the Python pricer then decides."""
    cfg = _cfg
    if cfg is None or cfg.pricer is None:
        return None
    model = attrs.get("model")
    if type(model) is not str:
        return None
    counts = []
    for key in ("tokens_in", "tokens_out", "tokens_cache_read", "tokens_cache_write", "tokens_reasoning"):
        v = attrs.get(key)
        if v is not None and _count(v) is None:
            return None
        counts.append(v)
    tin, tout, cr, cw, rs = counts
    if tin is None and tout is None:
        return None
    p = _per_million(model, cfg)
    if p is None:
        return None
    cost = _cost_of(p, tin or 0, tout or 0, cr or 0, cw or 0, rs or 0)
    attrs["cost_usd"] = cost
    return cost


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
        _cur = []
        _cur_len = 0
        _cur_lines = 0


def _push(line: bytes, cfg: _Config, extra_lines: int = 0) -> bool:
    global _cur_len, _cur_lines
    n = len(line)
    with _lock:
        if _queued + _cur_len + n > cfg.max_bytes:
            _counters["dropped_buffer_full"] += 1
            return False
        _cur.append(line)
        if extra_lines:
            _cur_lines += extra_lines
        _cur_len += n
        _counters["emitted"] += 1
        _counters["bytes"] += n
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


def _emit(operation, start_ns, end_ns, trace_id, span_id, parent_id, status, attrs, priced) -> None:
    cfg = _cfg
    if cfg is None:
        return
    if trace_id is None:
        cur = cfg.context.get(None) if cfg.context is not None else None
        if cur is not None:
            trace_id = cur.trace_id
            if parent_id is None:
                parent_id = cur.span_id
        else:
            trace_id = new_trace_id()
    if cfg.sample != _U64 and _trace_hash(trace_id) > cfg.sample:
        _counters["sampled_out"] += 1
        return
    if status is None:
        status = "ok"
    if attrs is not None and not isinstance(attrs, dict):
        _jsonw._bad("object")
        attrs = None
    merged = attrs
    if priced and cfg.pricer is not None and "cost_usd" not in merged:
        _price(merged, cfg)
    # The common shape (str ids and names, int times, a plain dict) takes one % format; anything
    # else, and a span over the size limit, goes the general way below, with the same bytes.
    if (type(trace_id) is str and type(span_id) is str and type(operation) is str and type(status) is str
            and type(start_ns) is int and type(end_ns) is int and (parent_id is None or type(parent_id) is str)
            and (merged is None or type(merged) is dict)):
        line = _common_line(cfg, trace_id, span_id, parent_id, operation, start_ns, end_ns, status, merged)
        if line is not None:
            if _push(line, cfg) and cfg.observe:
                _observe(trace_id, span_id, parent_id, operation, start_ns, end_ns, status, merged)
            return
    head = '{"version":"1","id":"%s","source":%s,"type":"trace.span","timestamp_ns":%d,"payload":' % (
        new_trace_id(), cfg.source, time.time_ns())
    _jsonw.reset_budget()
    try:
        line = (head + span_payload(trace_id, span_id, parent_id, operation, start_ns, end_ns, status, merged) + "}\n").encode()
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
        _observe(trace_id, span_id, parent_id, operation, start_ns, end_ns, status, merged)


_ID_JSON: Dict[str, str] = {}  # recent clean ids → JSON text (trace and parent ids repeat)


def _id_json(v: str, cache: bool = True) -> str:
    """An id's JSON text; clean short ids are cached (others are encoded every time, so their
    replacements are counted every time, as the native core counts them). A new span id, which
    never repeats, is not."""
    if len(v) <= 64 and v.isascii() and v.isalnum():
        j = '"' + v + '"'
        if cache:
            if len(_ID_JSON) >= 4096:
                _ID_JSON.clear()
            _ID_JSON[v] = j
        return j
    return _jsonw.string(v)


def _common_line(cfg, trace_id, span_id, parent_id, operation, start_ns, end_ns, status, attrs) -> Optional[bytes]:
    """The line of a span of the common shape in one % format (generated ``span_line``), or None
    when its attrs are too large: the general path then writes it with its attrs dropped."""
    aj = ""
    if attrs:
        aj = _flat_obj(attrs)
        if aj is None:
            _tl.budget = _NODE_BUDGET
            try:
                aj = _obj(attrs, 1)
            except EncodeTooLarge:
                return None
    strs = _STRS
    line = _span_line(new_trace_id(), cfg.source, _time_ns(), _ID_JSON.get(trace_id) or _id_json(trace_id),
                      _id_json(span_id, False), (_ID_JSON.get(parent_id) or _id_json(parent_id)) if parent_id else "",
                      strs.get(operation) or _fast_string(operation), start_ns, end_ns,
                      strs.get(status) or _fast_string(status), aj).encode()
    return line if len(line) <= MAX_MESSAGE_BYTES else None


_tl = _jsonw._tl
_NODE_BUDGET = _jsonw.NODE_BUDGET
_obj = _jsonw.obj
_flat_obj = _jsonw.flat_obj
_STRS = _jsonw._STRS
_fast_string = _jsonw.fast_string
_span_line = _generated.span_line
_time_ns = time.time_ns


def emit_span(operation, start_ns, end_ns, *, trace_id=None, span_id=None, parent_id=None, status=None,
              model=None, provider=None, tokens_in=None, tokens_out=None, cost_usd=None, attrs=None):
    if span_id is None:
        span_id = new_span_id()
    try:
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
        _emit(operation, start_ns, end_ns, trace_id, span_id, parent_id, status, merged, True)
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


def encode(message: dict) -> bytes:
    _jsonw.reset_budget()
    return encode_envelope(message).encode()


def encode_value(value: Any) -> bytes:
    _jsonw.reset_budget()
    return _jsonw.value(value).encode()


def encode_payload(mtype: str, payload: dict) -> bytes:
    _jsonw.reset_budget()
    enc = PAYLOAD_ENCODERS.get(mtype)
    return (enc(payload) if enc is not None else _jsonw.value(payload)).encode()
