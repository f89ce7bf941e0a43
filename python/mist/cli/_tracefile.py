"""Shared reading and formatting for the read-side commands (report, replay, view, tail).

Reading is streaming and forgiving: plain or gzip files or ``-`` (stdin), blank lines skipped,
CRLF and a UTF-8 BOM accepted, invalid UTF-8 replaced, a torn last line (a writer killed mid-line)
tolerated, and undecodable lines counted instead of crashing. What a span *means* (its latency,
tokens, cost, step, retry, scores) is decided here once, in :class:`Span` and the small ``as_*``
helpers, so every command agrees; ``report``'s hot loop inlines the same rules for speed and its
tests check that it still agrees.

Only the standard library is used.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import re
import sys
import time
from typing import IO, Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from mist.cli import CLIError

try:  # the C scanner: decoding with it directly skips json.loads' Python-level wrapper
    from json.scanner import c_make_scanner as _make_scanner  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - interpreters without the C accelerator
    _make_scanner = None
if _make_scanner is None:  # pragma: no cover
    from json.scanner import py_make_scanner as _make_scanner  # type: ignore[assignment]

_SCAN = _make_scanner(json.JSONDecoder())
_EMPTY: Dict[str, Any] = {}
BLOCK = 1 << 20
PROGRESS_MIN_BYTES = 32 << 20  # shown from the start (reading this much takes over a second)
PROGRESS_LATE_BYTES = 1 << 20  # smaller inputs (several files, .gz): shown once a second has passed
PROGRESS_DELAY = 1.0


# --------------------------------------------------------------------------------------------
# decoding


def decode(line: str) -> Optional[Dict[str, Any]]:
    """The JSON object on ``line``, or None when the line is not one JSON object."""
    try:
        obj, end = _SCAN(line, 0)
        if end == len(line) and type(obj) is dict:
            return obj
    except (StopIteration, ValueError, RecursionError):
        pass
    try:  # slower path: surrounding whitespace, a BOM, or a genuinely bad line
        obj = json.loads(line.strip().lstrip("\ufeff"))
    except (ValueError, RecursionError):
        return None
    return obj if type(obj) is dict else None


class Progress:
    """``\\r``-updated percentage on stderr, only when stderr is a terminal and the run is long:
    from the start for big inputs, after a second for others (never for inputs under 1 MB)."""

    def __init__(self, label: str, total: int, stream: Optional[IO[str]] = None) -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.total = total
        self.enabled = total >= PROGRESS_LATE_BYTES and _isatty(self.stream)
        self._last = 0.0 if total >= PROGRESS_MIN_BYTES else time.monotonic() + PROGRESS_DELAY - 0.2
        self._shown = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        pct = min(100.0, 100.0 * done / self.total) if self.total else 100.0
        self.stream.write(f"\r{self.label}: {pct:5.1f}% of {self.total / 1e6:,.0f} MB")
        self.stream.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * (len(self.label) + 30) + "\r")
            self.stream.flush()
            self._shown = False


class Reader:
    """Lines of an MTTP JSONL file, counted as they go.

    ``lines()`` yields each non-blank line as ``str`` (no line end); ``envelopes()`` yields the
    decoded objects. Counters after (or during) iteration: ``lines_seen`` (non-blank lines),
    ``blank``, ``undecodable`` (lines that are not a JSON object), ``torn`` (a last line without a
    newline that does not decode: a writer stopped mid-line; not an error) and ``bad_examples``
    (the first few ``(line number, text)`` of undecodable lines).
    """

    def __init__(self, path: Union[str, Sequence[str]], *, progress: Optional[str] = None) -> None:
        # several paths read as their concatenation, one after the other (each file's own last
        # line may be torn); ``path`` is then the first one's name with "(+N more)"
        self.paths: List[str] = [path] if isinstance(path, str) else list(path)
        if not self.paths:
            raise CLIError("no input files")
        self.path = self.paths[0] if len(self.paths) == 1 else \
            f"{self.paths[0]} (+{len(self.paths) - 1} more)"
        self.lines_seen = 0
        self.blank = 0
        self.undecodable = 0
        self.torn = 0
        self.bad_examples: List[Tuple[int, str]] = []
        self.last_partial = False  # True while the line being handled had no newline (EOF)
        self._raw, self._stream, size = open_binary(self.paths[0])
        self._sizes = [size] + [_size_of(p) for p in self.paths[1:]]
        label = display_name(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)} files"
        self.progress = Progress(f"reading {label}", sum(self._sizes)) if progress else None

    def close(self) -> None:
        if self.progress:
            self.progress.done()
        self._close_current()

    def _close_current(self) -> None:
        try:
            self._stream.close()
        finally:
            if self._raw is not self._stream:
                self._raw.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def iter_lines(self) -> Iterator[str]:
        """Every non-blank line (str, no line end), in file order (files in the given order)."""
        for i, path in enumerate(self.paths):
            if i:
                self._close_current()
                self._raw, self._stream, _ = open_binary(path)
            yield from self._file_lines(path, sum(self._sizes[:i]))

    def _file_lines(self, path: str, before: int) -> Iterator[str]:
        read = self._stream.read
        carry = b""
        first = True
        progress = self.progress
        raw = self._raw
        while True:
            try:
                block = read(BLOCK)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise CLIError(f"cannot read {display_name(path)}: {describe_os_error(exc)}") from None
            if not block:
                break
            if progress is not None:
                try:
                    progress.update(before + raw.tell())
                except (OSError, ValueError):
                    pass
            cut = block.rfind(b"\n")
            if cut < 0:
                carry += block
                continue
            data = carry + block[: cut + 1] if carry else block[: cut + 1]
            carry = block[cut + 1:]
            text = data.decode("utf-8", "replace")
            if first:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            parts = text.split("\n")
            parts.pop()  # after the final newline
            for line in parts:
                if not line:  # (whitespace-only lines are caught in bad_line, off the hot path)
                    self.blank += 1
                    continue
                self.lines_seen += 1
                yield line
        if carry:
            text = carry.decode("utf-8", "replace")
            if first and text.startswith("\ufeff"):
                text = text[1:]
            text = text.rstrip("\r")
            if text and not text.isspace():
                self.lines_seen += 1
                self.last_partial = True
                yield text
                self.last_partial = False

    def bad_line(self, line: str) -> None:
        """Count ``line`` (just yielded by ``iter_lines``) as undecodable, torn if it was the
        unterminated last line, or blank if it is only whitespace."""
        if line.isspace():
            self.lines_seen -= 1
            self.blank += 1
            return
        if self.last_partial:
            self.torn += 1
            return
        self.undecodable += 1
        if len(self.bad_examples) < 5:
            self.bad_examples.append((self.lines_seen + self.blank, line[:120]))  # physical line no.

    def envelopes(self) -> Iterator[Dict[str, Any]]:
        """Decoded JSON objects, one per good line; bad lines are counted, not raised."""
        for line in self.iter_lines():
            env = decode(line)
            if env is None:
                self.bad_line(line)
                continue
            yield env

    def check_readable(self) -> None:
        """Raise CLIError when nothing in the file decoded (not an MTTP file at all)."""
        if self.undecodable and self.undecodable + self.torn == self.lines_seen:
            line, text = self.bad_examples[0] if self.bad_examples else (0, "")
            raise CLIError(
                f"{display_name(self.path)}: no line is a JSON object (line {line}: {text[:40]!r}); "
                "expected MTTP JSONL, one envelope per line"
            )

    def summary(self) -> Dict[str, int]:
        return {"lines": self.lines_seen, "blank": self.blank, "undecodable": self.undecodable,
                "torn": self.torn}


def display_name(path: Union[str, Sequence[str]]) -> str:
    """How an input is named in messages: ``<stdin>`` for ``-``; several files as the first one's
    name and ``(+N more)``."""
    if not isinstance(path, str):
        paths = list(path)
        if len(paths) != 1:
            return f"{paths[0]} (+{len(paths) - 1} more)" if paths else "(no input)"
        path = paths[0]
    return "<stdin>" if path == "-" else path


def describe_os_error(exc: BaseException) -> str:
    """A short reason for a failed read or write: ``no such file``, ``permission denied`` …"""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, (gzip.BadGzipFile,)):
        return "not a valid gzip file"
    if isinstance(exc, EOFError):
        return "compressed file ended early"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _size_of(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def open_binary(path: str) -> Tuple[IO[bytes], IO[bytes], int]:
    """(raw file, stream to read, size in bytes). ``-`` is stdin; ``*.gz`` is decompressed."""
    if path == "-":
        raw = sys.stdin.buffer
        return raw, raw, 0
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(path)
        raw = open(path, "rb")
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {describe_os_error(exc)}") from None
    try:
        size = os.fstat(raw.fileno()).st_size
    except OSError:
        size = 0
    if path.endswith(".gz"):
        return raw, gzip.GzipFile(fileobj=raw, mode="rb"), size  # type: ignore[return-value]
    return raw, raw, size


# --------------------------------------------------------------------------------------------
# what a span means


def as_count(value: Any) -> int:
    """A token count: a non-negative int (integral floats accepted), else 0."""
    if type(value) is int:
        return value if value > 0 else 0
    if type(value) is float and value.is_integer() and value > 0:
        return int(value)
    return 0


def as_number(value: Any) -> Optional[float]:
    """A finite int or float (never bool), else None."""
    if type(value) is int or type(value) is float:
        return value if math.isfinite(value) else None
    return None


def as_index(value: Any) -> Optional[int]:
    """A step index or retry number: a non-negative int (integral floats accepted), else None."""
    if type(value) is int:
        return value if value >= 0 else None
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    return None


def latency_of(attrs: Dict[str, Any], start: Any, end: Any) -> Optional[float]:
    """Milliseconds: the ``latency_ms`` attr when it is a number, else ``end_ns - start_ns``."""
    lat = attrs.get("latency_ms")
    if (type(lat) is float or type(lat) is int) and lat >= 0 and lat == lat and lat != math.inf:
        return lat
    if type(start) is int and type(end) is int and end >= start:
        return (end - start) / 1e6
    return None


def cost_of(attrs: Dict[str, Any], tokens_in: int, tokens_out: int) -> Tuple[Optional[float], bool]:
    """(cost in USD or None, unpriced).

    A span is *unpriced* when it says so (``unpriced: true``) or when it used tokens but carries
    no ``cost_usd``: its cost is unknown, and it is counted separately, never as $0. A span with no
    tokens and no cost (a tool call, an agent step) costs nothing and is not unpriced.
    """
    if attrs.get("unpriced") is True:
        return None, True
    c = attrs.get("cost_usd")
    if (type(c) is float or type(c) is int) and c == c and c not in (math.inf, -math.inf):
        return c, False
    if tokens_in or tokens_out:
        return None, True
    return None, False


def scores_of(attrs: Dict[str, Any]) -> Dict[str, float]:
    """``{"relevance": 0.8}`` from ``score.relevance`` attrs that are numbers."""
    out: Dict[str, float] = {}
    for k, v in attrs.items():
        if k.startswith("score.") and len(k) > 6:
            n = as_number(v)
            if n is not None:
                out[k[6:]] = n
    return out


# A trailing snapshot date: -2024-07-18, -20250929, @20240620 (Vertex). Only dates: ``-0613``,
# ``-001``, ``-latest`` or ``-v1:0`` are left alone (``-2411`` or ``chatgpt-4o-latest`` name
# another model as often as a snapshot).
_SNAPSHOT_DATE = re.compile(r"[-@](?:20\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
                            r"|20\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))$")


def model_family(model: Any, request_model: Any = None) -> Optional[str]:
    """The model a span is reported under: what was *requested*, as a family.

    Providers answer with a dated snapshot (``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``):
    successful calls record the served name as ``model`` and the requested one as
    ``request_model``, failed calls only the requested ``model``. Both go to the same row: the
    ``request_model`` attr when there is one, else ``model``, without a trailing snapshot date
    (``claude-sonnet-4-5-20250929`` → ``claude-sonnet-4-5``, ``claude-3-5-sonnet@20240620`` →
    ``claude-3-5-sonnet``). None when the span names no model.
    """
    name = request_model if type(request_model) is str and request_model else model
    if type(name) is not str or not name:
        return None
    return _SNAPSHOT_DATE.sub("", name) or name


PICO = 10 ** 12


def picos(cost: float) -> int:
    """Cost in integer 10⁻¹² USD: sums of these are exact whatever the order of addition."""
    scaled = cost * PICO
    if scaled - scaled == 0:
        return round(scaled)
    return int(cost) * PICO  # beyond float range once scaled: the value is an integer already


class Span:
    """One ``trace.span``, with the derived numbers every command shows."""

    __slots__ = (
        "trace_id", "span_id", "parent_id", "operation", "start_ns", "end_ns", "status", "attrs",
        "latency_ms", "tokens_in", "tokens_out", "tokens_cache_read", "tokens_cache_write",
        "tokens_reasoning", "cost", "unpriced", "scores", "step", "retry", "model", "timestamp_ns",
    )

    def __init__(self, **fields: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    @classmethod
    def from_payload(cls, payload: Any, timestamp_ns: Any = None) -> Optional["Span"]:
        """A Span from a ``trace.span`` payload, or None when the payload has no usable ids."""
        if type(payload) is not dict:
            return None
        tid, sid = payload.get("trace_id"), payload.get("span_id")
        if type(tid) is not str or not tid or type(sid) is not str or not sid:
            return None
        attrs = payload.get("attrs")
        if type(attrs) is not dict:
            attrs = {}
        parent = payload.get("parent_id")
        start, end = payload.get("start_ns"), payload.get("end_ns")
        start = start if type(start) is int else None
        end = end if type(end) is int else None
        op = payload.get("operation")
        ti, to = as_count(attrs.get("tokens_in")), as_count(attrs.get("tokens_out"))
        cost, unpriced = cost_of(attrs, ti, to)
        model = attrs.get("model")
        s = cls.__new__(cls)
        s.trace_id = tid
        s.span_id = sid
        s.parent_id = parent if type(parent) is str and parent else None
        s.operation = op if type(op) is str else ("" if op is None else str(op))
        s.start_ns = start
        s.end_ns = end
        s.status = "error" if payload.get("status") == "error" else "ok"
        s.attrs = attrs
        s.latency_ms = latency_of(attrs, start, end)
        s.tokens_in = ti
        s.tokens_out = to
        s.tokens_cache_read = as_count(attrs.get("tokens_cache_read"))
        s.tokens_cache_write = as_count(attrs.get("tokens_cache_write"))
        s.tokens_reasoning = as_count(attrs.get("tokens_reasoning"))
        s.cost = cost
        s.unpriced = unpriced
        s.scores = scores_of(attrs)
        s.step = as_index(attrs.get("step"))
        s.retry = as_index(attrs.get("retry")) or 0
        s.model = model if type(model) is str and model else None
        s.timestamp_ns = timestamp_ns if type(timestamp_ns) is int else None
        return s

    @property
    def error(self) -> bool:
        return self.status == "error"

    @property
    def tokens(self) -> int:
        """Total tokens (in + out; cache and reasoning tokens are already inside these)."""
        return self.tokens_in + self.tokens_out

    @property
    def sort_start(self) -> int:
        """Start time for ordering; spans without one sort by their end, then last."""
        if self.start_ns is not None:
            return self.start_ns
        return self.end_ns if self.end_ns is not None else 1 << 63

    def __repr__(self) -> str:
        return f"Span({self.operation!r}, trace={self.trace_id[:8]}, span={self.span_id[:8]})"


def iter_spans(reader: Reader) -> Iterator[Tuple[str, Any, Dict[str, Any]]]:
    """``(type, span_or_payload, envelope)`` for every decoded envelope.

    For ``trace.span`` the second item is a :class:`Span` (lines whose payload has no usable ids
    are counted as undecodable); for any other type it is the raw payload.
    """
    for env in reader.envelopes():
        kind = env.get("type")
        if kind == "trace.span":
            span = Span.from_payload(env.get("payload"), env.get("timestamp_ns"))
            if span is None:
                reader.undecodable += 1
                continue
            yield kind, span, env
        else:
            yield (kind if type(kind) is str else ""), env.get("payload"), env


# --------------------------------------------------------------------------------------------
# colour and formatting


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to anything non-empty."""
    if os.environ.get("NO_COLOR"):
        return False
    return _isatty(stream if stream is not None else sys.stdout)


class Palette:
    """ANSI styles that turn into plain text when colour is off."""

    _CODES = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
              "cyan": "36", "dim": "2", "bold": "1"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: Any = None) -> "Palette":
        return cls(use_color(stream))

    def paint(self, style: str, text: str) -> str:
        if not self.enabled or not text:
            return text
        codes = ";".join(self._CODES[s] for s in style.split("+"))
        return f"\x1b[{codes}m{text}\x1b[0m"

    def red(self, text: str) -> str:
        return self.paint("red", text)

    def green(self, text: str) -> str:
        return self.paint("green", text)

    def yellow(self, text: str) -> str:
        return self.paint("yellow", text)

    def dim(self, text: str) -> str:
        return self.paint("dim", text)

    def bold(self, text: str) -> str:
        return self.paint("bold", text)


def fmt_ms(value: Optional[float]) -> str:
    """``812.5ms`` below a second, ``1.23s`` above; ``-`` when unknown."""
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    if value >= 10:
        return f"{value:.1f}ms"
    return f"{value:.2f}ms"


def plural(count: int, word: str, many: str = "") -> str:
    """``1 span`` / ``3 spans`` / ``2 retries`` (with ``many``)."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def fmt_tokens(n: int) -> str:
    return f"{n:,}"


def fmt_time(ns: Optional[int], *, date: bool = False) -> str:
    """UTC wall time of a Unix-ns timestamp: ``12:34:56.789`` (with the date when asked)."""
    if ns is None:
        return "-"
    try:
        t = time.gmtime(ns // 1_000_000_000)
    except (OverflowError, OSError, ValueError):
        return str(ns)
    ms = (ns // 1_000_000) % 1000
    clock = time.strftime("%H:%M:%S", t) + f".{ms:03d}"
    return (time.strftime("%Y-%m-%d ", t) + clock) if date else clock


def flat(value: Any) -> str:
    """Any captured value as one line: whitespace runs become one space, other controls ``?``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           separators=(",", ":"))
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def one_line(value: Any, width: int) -> str:
    """Any captured value as one line of at most ``width`` characters (``…`` when cut)."""
    text = flat(value)
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text


def safe_text(value: Any) -> str:
    """Captured content for a terminal: keeps newlines and tabs, neutralises other controls."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)


def write_out(text: str, stream: Optional[IO[str]] = None) -> None:
    """Write ``text`` to stdout (or ``stream``); characters the console cannot encode become ``?``."""
    out = stream or sys.stdout
    try:
        out.write(text)
    except UnicodeEncodeError:
        enc = getattr(out, "encoding", None) or "ascii"
        out.write(text.encode(enc, "replace").decode(enc, "replace"))
