"""Strict decoding of one MTTP line, in pure Python (twin of ``rust/src/decode.rs``).

Both accept exactly RFC 8259 JSON and report the first problem with the same JSON pointer, error
kind and words, so ``mist validate`` says the same thing on either backend. Rejected, as an
error value, never a crash: lines over mist-go's 10 MiB message limit, blank lines, a UTF-8 BOM,
invalid UTF-8, nesting deeper than :data:`MAX_DEPTH`, duplicate keys, numbers that overflow a
64-bit float (``1e400``), ``NaN``/``Infinity``, unescaped control characters (NUL included).

The fast path is the stdlib ``json`` scanner with hooks that refuse what it would wrongly accept;
whenever it refuses (or anything looks unusual) the line is decoded again by a small strict
parser that finds the exact error. Values that decode are identical either way.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Dict, List, Optional, Tuple

from .jsonw import floating as _go_float

MAX_LINE_BYTES = 10 << 20
MAX_DEPTH = 512
MAX_VALUES = 1_000_000
GOT_CHARS = 40
#: Errors kept per line (the rest of a hostile line's errors are dropped).
MAX_ERRORS = 100

K_JSON, K_ENCODING, K_BLANK, K_TOO_LARGE = "json", "encoding", "blank", "too_large"
K_TOO_DEEP, K_DUPLICATE, K_RANGE, K_TYPE = "too_deep", "duplicate_key", "range", "type"

Error = Tuple[str, str, str]


class DecodeError(ValueError):
    """A line that is not one strict JSON value: ``pointer``, ``kind`` and ``message``."""

    def __init__(self, pointer: str, kind: str, message: str):
        super().__init__(f"{pointer}: {message}" if pointer else message)
        self.pointer, self.kind, self.message = pointer, kind, message

    @property
    def error(self) -> Error:
        return (self.pointer, self.kind, self.message)


# ---------------------------------------------------------------------------------------------
# how values and pointers are written in messages (twin of decode.rs `got`, `push_segment`)

_SURR = re.compile("[\ud800-\udfff]")
_QUOTE_ESC = re.compile('[\x00-\x1f"\\\\\x7f\ud800-\udfff]')
_QUOTE_MAP = {chr(i): "\\u%04x" % i for i in range(0x20)}
_QUOTE_MAP.update({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x7f": "\\u007f"})


def _quote_one(m: "re.Match[str]") -> str:
    return _QUOTE_MAP.get(m.group(), "\\ufffd")


def quote(s: str) -> str:
    """A string for messages: JSON-quoted, at most 40 characters, then ``…``."""
    cut = s[:GOT_CHARS]
    out = '"' + _QUOTE_ESC.sub(_quote_one, cut) + '"'
    return out + "…" if len(s) > GOT_CHARS else out


def cut_text(t: str) -> str:
    return t[:GOT_CHARS] + "…" if len(t) > GOT_CHARS else t


def got(v: Any) -> str:
    """The message form of a value: ``"text"``, ``12``, ``0.5``, ``true``, ``null``, ``an object``."""
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return cut_text(int.__repr__(v))
    if isinstance(v, float):
        f = float(v)
        if f != f:
            return "NaN"
        if f in (math.inf, -math.inf):
            return "+Inf" if f > 0 else "-Inf"
        return _go_float(f)
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, (list, tuple)):
        return "an array"
    return "a Python " + type(v).__name__


def pointer_segment(k: str) -> str:
    """One JSON-pointer segment: ``~`` → ``~0``, ``/`` → ``~1``, lone surrogates → U+FFFD."""
    if "~" in k or "/" in k:
        k = k.replace("~", "~0").replace("/", "~1")
    if not k.isascii():
        k = _SURR.sub("\ufffd", k)
    return k


# ---------------------------------------------------------------------------------------------
# line checks and the fast path

_BOM = b"\xef\xbb\xbf"
_WS = b" \t\r\n"
_LONG_DIGITS = re.compile(rb"[0-9]{300}")


class _Refused(Exception):
    """The fast path saw something only the strict parser may judge."""


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _Refused
    return d


def _float(text: str) -> float:
    f = float(text)
    if f in (math.inf, -math.inf):
        raise _Refused
    return f


def _constant(text: str) -> Any:
    raise _Refused


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_float=_float, parse_constant=_constant)


def too_large(n: int) -> DecodeError:
    return DecodeError("", K_TOO_LARGE, f"line is {n} bytes, over the 10 MiB message limit ({MAX_LINE_BYTES} bytes)")


def precheck(line: bytes) -> None:
    """Size, blank line, BOM: the checks made before parsing."""
    if len(line) > MAX_LINE_BYTES:
        raise too_large(len(line))
    if not line.strip(_WS):
        raise DecodeError("", K_BLANK, "blank line (expected a JSON object)")
    if line[:3] == _BOM:
        raise DecodeError("", K_ENCODING, "UTF-8 byte order mark at the start of the line (JSON text must not have one)")


def decode(line: bytes) -> Any:
    """One strict JSON value from one line (no trailing newline). Raises :class:`DecodeError`."""
    precheck(line)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return _Parser(line).run()
    if line.count(b"[") + line.count(b"{") > MAX_DEPTH or _LONG_DIGITS.search(line) is not None:
        return _Parser(line).run()
    try:
        return _DECODER.decode(text)
    except Exception:  # any refusal, syntax error or recursion limit: let the strict parser say what
        return _Parser(line).run()


# ---------------------------------------------------------------------------------------------
# the strict parser (a line-by-line port of decode.rs `Parser`)

_SPECIAL = re.compile(rb'["\\\x00-\x1f]')
_NUMBER_DIGITS = re.compile(rb"[0-9]*")
_ESCAPES = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b", ord("f"): "\f",
            ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_OBJ, _ARR = 0, 1


class _Frame:
    __slots__ = ("kind", "items", "pending", "index", "in_elem")

    def __init__(self, kind: int):
        self.kind = kind
        self.items: Any = {} if kind == _OBJ else []
        self.pending: Optional[str] = None
        self.index = 0
        self.in_elem = kind == _ARR


class _Parser:
    def __init__(self, s: bytes):
        self.s = s
        self.n = len(s)
        self.i = 0
        self.stack: List[_Frame] = []

    def ptr(self) -> str:
        out = []
        for f in self.stack:
            if f.kind == _OBJ and f.pending is not None:
                out.append("/" + pointer_segment(f.pending))
            elif f.kind == _ARR and f.in_elem:
                out.append("/" + str(f.index))
        return "".join(out)

    def err(self, kind: str, msg: str) -> DecodeError:
        return DecodeError(self.ptr(), kind, msg)

    def unexpected(self, what: str) -> DecodeError:
        if self.i >= self.n:
            return self.err(K_JSON, f"unexpected end of input, expected {what}")
        b = self.s[self.i]
        tok = f"'{chr(b)}'" if 0x21 <= b < 0x7F else "byte 0x%02x" % b
        return self.err(K_JSON, f"unexpected {tok} at column {self.i + 1}, expected {what}")

    def ws(self) -> None:
        s, i, n = self.s, self.i, self.n
        while i < n and s[i] in _WS:
            i += 1
        self.i = i

    def peek(self) -> Optional[int]:
        return self.s[self.i] if self.i < self.n else None

    def run(self) -> Any:
        self.ws()
        while True:  # parse one value
            c = self.peek()
            if c == 0x7B or c == 0x5B:  # { [
                if len(self.stack) + 1 > MAX_DEPTH:
                    raise self.err(K_TOO_DEEP, f"nesting deeper than {MAX_DEPTH} levels")
                self.i += 1
                self.ws()
                close = 0x7D if c == 0x7B else 0x5D
                if self.peek() == close:
                    self.i += 1
                    v: Any = {} if c == 0x7B else []
                elif c == 0x7B:
                    self.stack.append(_Frame(_OBJ))
                    self.key(True)
                    continue
                else:
                    self.stack.append(_Frame(_ARR))
                    continue
            elif c == 0x22:
                v = self.string()
            elif c == 0x2D or (c is not None and 0x30 <= c <= 0x39):
                v = self.number()
            elif c == 0x74:
                v = self.literal(b"true", True)
            elif c == 0x66:
                v = self.literal(b"false", False)
            elif c == 0x6E:
                v = self.literal(b"null", None)
            else:
                raise self.unexpected("a JSON value")
            # the value is complete: hand it to its container, closing containers as they end
            while True:
                if not self.stack:
                    self.ws()
                    if self.i < self.n:
                        raise self.unexpected("the end of the line")
                    return v
                top = self.stack[-1]
                if top.kind == _OBJ:
                    top.items[top.pending] = v
                    top.pending = None
                    self.ws()
                    c = self.peek()
                    if c == 0x2C:
                        self.i += 1
                        self.key(False)
                        break
                    if c == 0x7D:
                        self.i += 1
                        v = self.stack.pop().items
                        continue
                    raise self.unexpected("',' or '}'")
                top.items.append(v)
                top.in_elem = False
                self.ws()
                c = self.peek()
                if c == 0x2C:
                    self.i += 1
                    top.index += 1
                    top.in_elem = True
                    self.ws()
                    break
                if c == 0x5D:
                    self.i += 1
                    v = self.stack.pop().items
                    continue
                raise self.unexpected("',' or ']'")

    def key(self, first: bool) -> None:
        self.ws()
        if self.peek() != 0x22:
            raise self.unexpected("a string key or '}'" if first else "a string key")
        k = self.string()
        top = self.stack[-1]
        dup = k in top.items
        top.pending = k
        if dup:
            raise self.err(K_DUPLICATE, "duplicate key")
        self.ws()
        if self.peek() != 0x3A:
            raise self.unexpected("':'")
        self.i += 1
        self.ws()

    def literal(self, word: bytes, v: Any) -> Any:
        rest = self.s[self.i:self.i + len(word)]
        if rest == word:
            self.i += len(word)
            return v
        if self.i + len(word) > self.n and word.startswith(self.s[self.i:]):
            self.i = self.n
            raise self.unexpected("a JSON value")
        raise self.err(K_JSON, f"invalid literal at column {self.i + 1}, expected a JSON value")

    def number(self) -> Any:
        s, n, start = self.s, self.n, self.i
        i = start
        if s[i] == 0x2D:
            i += 1

        def need_digit(i: int) -> None:
            if i >= n:
                self.i = i
                raise self.err(K_JSON, "unexpected end of input inside a number")
            if not 0x30 <= s[i] <= 0x39:
                raise self.err(K_JSON, f"invalid number at column {start + 1}")

        need_digit(i)
        if s[i] == 0x30:
            i += 1
        else:
            i = _NUMBER_DIGITS.match(s, i).end()
        is_float = False
        if i < n and s[i] == 0x2E:
            is_float = True
            i += 1
            need_digit(i)
            i = _NUMBER_DIGITS.match(s, i).end()
        if i < n and s[i] in b"eE":
            is_float = True
            i += 1
            if i < n and s[i] in b"+-":
                i += 1
            need_digit(i)
            i = _NUMBER_DIGITS.match(s, i).end()
        self.i = i
        text = s[start:i].decode("ascii")
        f = float(text)
        if f in (math.inf, -math.inf):
            raise self.err(K_RANGE, "number out of range for a 64-bit float: " + cut_text(text))
        return f if is_float else int(text)

    def string(self) -> str:
        s, n = self.s, self.n
        start = self.i + 1
        i = start
        parts: List[str] = []
        chunk = start
        while True:
            m = _SPECIAL.search(s, i)
            if m is None:
                self.i = n
                raise self.err(K_JSON, "unexpected end of input inside a string")
            i = m.start()
            b = s[i]
            if b == 0x22:
                break
            if b < 0x20:
                raise self.err(K_JSON, "control character U+%04X in a string at column %d (must be escaped)" % (b, i + 1))
            esc_at = i
            if i + 1 >= n:
                self.i = n
                raise self.err(K_JSON, "unexpected end of input inside a string")
            parts.append(s[chunk:i].decode("utf-8", "replace"))  # checked strictly once at the end
            e = s[i + 1]
            if e == 0x75:  # \u
                cp = self._hex4(i + 2, esc_at)
                i += 6
                if 0xD800 <= cp < 0xDC00 and i + 1 < n and s[i] == 0x5C and s[i + 1] == 0x75:
                    lo = self._hex4(i + 2, i)
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                parts.append(chr(cp))
                chunk = i
                continue
            r = _ESCAPES.get(e)
            if r is None:
                raise self.err(K_JSON, f"invalid escape sequence at column {esc_at + 1}")
            parts.append(r)
            i += 2
            chunk = i
        raw = s[start:i]
        if not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self.err(K_ENCODING, f"invalid UTF-8 in a string at column {start + exc.start + 1}") from None
        self.i = i + 1
        if not parts:
            return raw.decode("utf-8")
        parts.append(s[chunk:i].decode("utf-8"))
        return "".join(parts)

    def _hex4(self, i: int, at: int) -> int:
        h = self.s[i:i + 4]
        for c in h:
            if c not in _HEX:
                raise self.err(K_JSON, f"invalid \\u escape at column {at + 1}")
        if len(h) < 4:
            raise self.err(K_JSON, "unexpected end of input inside a string")
        return int(h, 16)


# ---------------------------------------------------------------------------------------------
# Python objects given to ``mist.validate``: the same limits as decoded lines

def check_object(value: Any) -> None:
    """Raise :class:`DecodeError` when a Python value cannot be a JSON message: cycles or nesting
    deeper than :data:`MAX_DEPTH`, more than :data:`MAX_VALUES` values, non-string keys, NaN or
    infinite floats, integers too big for a 64-bit float, or non-JSON types. Values are visited
    depth first in document order (twin of ``validate.rs`` ``to_val``)."""
    count = 0
    path: List[str] = []
    stack: List[Any] = []  # iterators of the open containers

    def visit(v: Any) -> Optional[Any]:
        """Check one value; return an iterator of (segment, child) when it is a container."""
        nonlocal count
        count += 1
        here = "".join(path)
        if count > MAX_VALUES:
            raise DecodeError(here, K_TOO_LARGE, f"message has more than {MAX_VALUES} values")
        if isinstance(v, dict):
            if len(stack) + 1 > MAX_DEPTH:
                raise DecodeError(here, K_TOO_DEEP, f"nesting deeper than {MAX_DEPTH} levels")
            return iter(v.items())
        if isinstance(v, (list, tuple)):
            if len(stack) + 1 > MAX_DEPTH:
                raise DecodeError(here, K_TOO_DEEP, f"nesting deeper than {MAX_DEPTH} levels")
            return enumerate(v)
        if isinstance(v, str) or isinstance(v, bool) or v is None:
            return None
        if isinstance(v, int):
            try:
                float(v)
            except OverflowError:
                raise DecodeError(here, K_RANGE, "integer out of range for a 64-bit float") from None
            return None
        if isinstance(v, float):
            if not math.isfinite(v):
                raise DecodeError(here, K_RANGE, "expected a finite number, got " + got(v))
            return None
        raise DecodeError(here, K_TYPE, "expected a JSON value, got " + got(v))

    it = visit(value)
    if it is None:
        return
    stack.append((it, isinstance(value, dict)))
    path.append("")
    while stack:
        top, is_dict = stack[-1]
        nxt = next(top, None)
        if nxt is None:
            stack.pop()
            path.pop()
            continue
        k, x = nxt
        if not is_dict:
            seg = "/" + str(k)
        elif isinstance(k, str):
            seg = "/" + pointer_segment(k)
        else:
            raise DecodeError("".join(path), K_TYPE, "expected a string key, got " + type(k).__name__)
        path.append(seg)
        child = visit(x)
        if child is None:
            path.pop()
        else:
            stack.append((child, isinstance(x, dict)))
