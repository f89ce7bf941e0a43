"""The pure-Python canonical JSON writer (the fallback twin of ``rust/src/jsonw.rs``).

Bytes are what Go's ``encoding/json`` writes (SPEC §2): compact, free-form object keys sorted,
``<`` ``>`` ``&`` U+2028 U+2029 escaped, ``\\b \\f \\n \\r \\t`` or ``\\u00XX`` for other control
characters, a lone surrogate as ``\\ufffd``, other non-ASCII raw, floats in Go's shortest layout.
Values JSON cannot carry are replaced and counted in ``BAD`` (never raised):
NaN/±inf → null, bytes → UTF-8 text, unknown objects → ``str(obj)``, strings over
``MAX_STRING_CHARS`` → cut with a marker, nesting deeper than ``MAX_DEPTH`` → a marker string.
"""
from __future__ import annotations

import math
import re
import threading
from typing import Any, Dict

MAX_STRING_CHARS = 65536
MAX_DEPTH = 64
DEPTH_MARKER = "[mist: nesting too deep]"

#: Replacements made, by reason (merged into ``mist.stats()['bad_values']``).
BAD: Dict[str, int] = {}


NODE_BUDGET = 1_000_000
_tl = threading.local()


class EncodeTooLarge(ValueError):
    """A value too large (or self-referencing) to encode within the work budget."""


def reset_budget() -> None:
    """Start one encode: container items it may visit (stops self-referencing structures)."""
    _tl.budget = NODE_BUDGET


def spend(n: int) -> None:
    b = getattr(_tl, "budget", NODE_BUDGET) - n
    _tl.budget = b
    if b < 0:
        raise EncodeTooLarge("value too large or self-referencing")


def _bad(reason: str) -> None:
    BAD[reason] = BAD.get(reason, 0) + 1


_NEEDS_ESCAPE = re.compile("[\x00-\x1f\"\\\\<>&\u2028\u2029\ud800-\udfff]")
_ESCAPES = {chr(i): "\\u%04x" % i for i in range(0x20)}
_ESCAPES.update(
    {
        "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
        '"': '\\"', "\\": "\\\\", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
        "\u2028": "\\u2028", "\u2029": "\\u2029",
    }
)


def _escape_one(m: "re.Match[str]") -> str:
    c = m.group()
    r = _ESCAPES.get(c)
    if r is None:  # a lone surrogate
        _bad("surrogate")
        return "\\ufffd"
    return r


def truncate(s: str) -> str:
    """Cut a string over the cap, with a marker saying how much was cut."""
    cut = len(s) - MAX_STRING_CHARS
    _bad("truncated")
    return s[:MAX_STRING_CHARS] + "…[truncated %d chars]" % cut


def string(s: str) -> str:
    if len(s) > MAX_STRING_CHARS:
        s = truncate(s)
    elif s.isalnum() and s.isascii():  # ids and plain words: nothing to escape, no regex
        return '"' + s + '"'
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS_ESCAPE.sub(_escape_one, s) + '"'


def fast_string(s: str) -> str:
    """``string`` with a cache for short repeated values (operation names, statuses)."""
    ev = _STRS.get(s)
    if ev is None:
        ev = string(s)
        if len(s) <= 64 and len(_STRS) < _CACHE_MAX and "\\ufffd" not in ev:
            _STRS[s] = ev
    return ev


def key_text(k: Any) -> str:
    """A free-form object key as text: str as is, anything else through str() (counted)."""
    if type(k) is str:
        return k
    _bad("key")
    try:
        return k if isinstance(k, str) else str(k)
    except Exception:
        return "<unprintable key>"


def sort_key(k: str) -> str:
    """Keys sort by code point after lone surrogates become U+FFFD (what the bytes say)."""
    return _SURR.sub("\ufffd", k)


_SURR = re.compile("[\ud800-\udfff]")


def plain_key(k: Any) -> "str | None":
    """``'"k":'`` for an object key written as it is and sorted in plain code point order (a str,
    not long, without a lone surrogate); None for any other key (the careful path writes it)."""
    if type(k) is not str or len(k) > 256 or _SURR.search(k) is not None:
        return None
    return string(k) + ":"


def floating(f: float) -> str:
    """Go's strconv 'f'/'e' shortest layout as encoding/json uses it."""
    if 1e-4 <= f < 1e16 or -1e16 < f <= -1e-4:  # repr is Go's plain layout here, but for a trailing ".0"
        r = repr(f)
        return r[:-2] if r[-2] == "." and r[-1] == "0" else r
    if f != f or f in (math.inf, -math.inf):
        _bad("nan" if f != f else "inf")
        return "null"
    if f == 0.0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    r = repr(f)
    a = abs(f)
    neg = r[0] == "-"
    if neg:
        r = r[1:]
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    point = len(ip) + e  # position of the decimal point relative to ip+fp
    if ip == "0":  # 0.000123 → digits "123", point moves left by the stripped zeros
        lead = len(fp) - len(fp.lstrip("0"))
        point = e - lead
    digits = digits.rstrip("0") or "0"
    if 1e-6 <= a < 1e21:
        if point <= 0:
            out = "0." + "0" * (-point) + digits
        elif point >= len(digits):
            out = digits + "0" * (point - len(digits))
        else:
            out = digits[:point] + "." + digits[point:]
    else:
        x = point - 1
        out = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + ("e+" if x >= 0 else "e-") + str(abs(x))
    return "-" + out if neg else out


def value(v: Any, depth: int = 0) -> str:
    t = type(v)
    if t is str:
        return string(v)
    if t is int:
        return str(v)
    if t is float:
        return floating(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if depth >= MAX_DEPTH:
        _bad("depth")
        return string(DEPTH_MARKER)
    if isinstance(v, dict):
        return obj(v, depth + 1)
    if isinstance(v, (list, tuple)):
        spend(len(v))
        return "[" + ",".join([value(x, depth + 1) for x in v]) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return floating(float(v))
    if isinstance(v, str):
        return string(str(v))
    if isinstance(v, (bytes, bytearray, memoryview)):
        _bad("bytes")
        return string(bytes(v).decode("utf-8", "replace"))
    _bad("object")
    try:
        text = str(v)
    except Exception:
        text = "<unprintable %s>" % type(v).__name__
    return string(text)


_STRS: Dict[str, str] = {}  # short clean str value → its JSON text (bounded)
_CACHE_MAX = 8192


_ORDERS: Dict[tuple, list] = {}  # a dict's keys, in insertion order → [(position, '"key":')] sorted by key


def _order(keys: tuple) -> "list | None":
    """The written order of a dict's keys with their encoded prefixes, or None when a key needs the
    careful path (not a str, long, or holding a surrogate). Cached: spans repeat their key sets."""
    texts = [plain_key(k) for k in keys]
    if None in texts:
        return None
    order = [(i, texts[i]) for _, i in sorted(zip(keys, range(len(keys))))]
    if len(_ORDERS) < 1024 and len(keys) <= 64:
        _ORDERS[keys] = order
    return order


def obj(d: dict, depth: int = 0) -> str:
    """A free-form object: keys as text, sorted."""
    if not d:
        return "{}"
    b = getattr(_tl, "budget", NODE_BUDGET) - len(d)  # spend(len(d)), inlined: this is the hot path
    _tl.budget = b
    if b < 0:
        raise EncodeTooLarge("value too large or self-referencing")
    if type(d) is not dict:
        return _obj_slow(d, depth)
    keys = tuple(d)
    vals = list(d.values())  # a snapshot: a value's __str__ may change the dict
    order = _ORDERS.get(keys)
    if order is None:
        order = _order(keys)
        if order is None:
            return _obj_slow(d, depth)
    strs = _STRS
    out = []
    add = out.append
    for i, ek in order:
        v = vals[i]
        t = type(v)
        if t is str:
            add(ek + (strs.get(v) or fast_string(v)))
        elif t is int:
            add(ek + str(v))
        elif t is float:
            add(ek + floating(v))
        else:
            add(ek + value(v, depth))
    return "{" + ",".join(out) + "}"


def _obj_slow(d: dict, depth: int) -> str:
    items = [(key_text(k), v) for k, v in d.items()]
    if any(_SURR.search(k) for k, _ in items):
        items.sort(key=lambda kv: sort_key(kv[0]))
    else:
        items.sort(key=lambda kv: kv[0])
    return "{" + ",".join([string(k) + ":" + value(v, depth) for k, v in items]) + "}"
