"""``mist tail``: one readable line per span, alert and eval result; ``--follow`` as the file grows.

Following survives what log files go through: when the file is *truncated* (size below what was
read) reading restarts at the top; when it is *rotated* (the path now names a different file, by
inode, or was removed and re-created) the old file is drained and the new one is read from its
start. A line still being written (no newline yet) is held back until it is complete. Polling uses
a short sleep (``--interval``), never a busy loop; Ctrl-C stops cleanly (exit 0).
"""
from __future__ import annotations

import collections
import gzip
import os
import sys
import time
from typing import IO, Any, Callable, Deque, Dict, List, Optional, Tuple

from mist.cli import CLIError
from mist.cli._inputs import FILES_HELP, expand
from mist.cli._money import STREAM_DECIMALS, alert_amounts, fmt_usd
from mist.cli._names import ShortNames
from mist.cli._tracefile import (
    Palette, Span, as_number, decode, describe_os_error, display_name, flat, fmt_ms, fmt_time, one_line,
)

HELP = "pretty-print spans and alerts as they arrive (--follow), one line each"
DESCRIPTION = """\
Print a MIST trace file one line per message: time (UTC), operation, model,
step/retry, tokens in→out, cost, latency, status and scores for spans;
alerts are highlighted; eval results are shown too.

Without --follow, prints the last N lines (-n, default 10; -n all for the whole
file) and exits. With --follow, keeps printing as the file grows, across
truncation and rotation, until Ctrl-C.

Long operation and model names lose their middle (claude-so…-20250929); two
different names never look the same. Costs have 6 decimals; a smaller non-zero
cost shows as <$0.000001."""
EPILOG = """\
examples:
  mist tail traces.jsonl                  # the last 10 messages
  mist tail traces.jsonl -n all           # everything
  mist tail traces.jsonl --follow         # keep watching (Ctrl-C to stop)
  mist tail traces.jsonl -f -n 0          # only what arrives from now on
  mist tail logs/ -n 50                   # the last 50 across rotated files (not with -f)
  some-agent | mist tail -                # read a stream from stdin"""

READ_CHUNK = 1 << 16
OP_WIDTH = 24
MODEL_WIDTH = 22


# --------------------------------------------------------------------------------------------
# one line per message


class Formatter:
    """Turns decoded envelopes into display lines. Operation and model names are shortened to
    their columns, unique over everything this formatter has shown (see ``_names.ShortNames``);
    :meth:`prime` with the envelopes about to be shown settles their names up front."""

    def __init__(self, color: Palette, width: int = 0) -> None:
        self.c = color
        self.width = width
        self.ops = ShortNames(OP_WIDTH)
        self.models = ShortNames(MODEL_WIDTH)

    def prime(self, env: Dict[str, Any]) -> None:
        p = env.get("payload")
        if env.get("type") == "trace.span" and type(p) is dict:
            op = p.get("operation")
            if op:
                self.ops.add(flat(op))
            a = p.get("attrs")
            model = a.get("model") if type(a) is dict else None
            if type(model) is str and model:
                self.models.add(flat(model))

    def line(self, env: Dict[str, Any]) -> str:
        kind = env.get("type")
        payload = env.get("payload")
        if kind == "trace.span":
            span = Span.from_payload(payload, env.get("timestamp_ns"))
            if span is not None:
                return self.span(span)
        elif kind == "trace.alert" and isinstance(payload, dict):
            return self.alert(env.get("timestamp_ns"), payload)
        elif kind == "eval.result" and isinstance(payload, dict):
            return self.eval(env.get("timestamp_ns"), payload)
        ts = env.get("timestamp_ns")
        body = one_line(payload, 160)
        return self.c.dim(f"{fmt_time(ts if isinstance(ts, int) else None)}  {one_line(kind, 30) or '?'}  {body}")

    def span(self, s: Span) -> str:
        c = self.c
        when = fmt_time(s.end_ns if s.end_ns is not None else s.timestamp_ns)
        op = self.ops(flat(s.operation)) if s.operation else "(no operation)"
        model = self.models(flat(s.model)) if s.model else "-"
        where = ""
        if s.step is not None:
            where = f"#{s.step}"
        if s.retry:
            where += f" r{s.retry}"
        tokens = f"{s.tokens_in:,}→{s.tokens_out:,}" if (s.tokens_in or s.tokens_out) else "-"
        cost = fmt_usd(s.cost, STREAM_DECIMALS) if s.cost is not None else ("unpriced" if s.unpriced else "-")
        status = c.red("ERROR") if s.error else c.green("ok   ")
        parts = [c.dim(when), op.ljust(OP_WIDTH),
                 c.paint("cyan", model.ljust(MODEL_WIDTH)) if s.model else model.ljust(MODEL_WIDTH),
                 where.ljust(7), tokens.rjust(13), (c.yellow(cost.rjust(10)) if s.unpriced else cost.rjust(10)),
                 fmt_ms(s.latency_ms).rjust(8), status]
        if s.scores:
            parts.append(" ".join(f"{k}={v:.3g}" for k, v in sorted(s.scores.items())))
        if s.error:
            et, em = s.attrs.get("error_type"), s.attrs.get("error")
            detail = ": ".join(str(x) for x in (et, em) if x not in (None, ""))
            if detail:
                parts.append(c.red(one_line(detail, 80)))
        return "  ".join(parts).rstrip()

    def alert(self, ts: Any, p: Dict[str, Any]) -> str:
        level = str(p.get("level", "warning"))
        state = p.get("state")
        value, threshold = alert_amounts(p)
        text = (f"{fmt_time(ts if isinstance(ts, int) else None)}  ALERT {level.upper()}"
                f"{' ' + str(state) if state else ''}  {one_line(p.get('metric'), 40)}  "
                f"value {one_line(value, 20)} threshold {one_line(threshold, 20)}")
        series = p.get("series")
        if isinstance(series, dict) and series:
            text += "  [" + one_line(", ".join(f"{k}={v}" for k, v in sorted(series.items())), 80) + "]"
        if p.get("message"):
            text += "  " + one_line(p.get("message"), 120)
        if state == "resolved":
            return self.c.paint("green+bold", text)
        return self.c.paint("red+bold" if level == "critical" else "yellow+bold", text)

    def eval(self, ts: Any, p: Dict[str, Any]) -> str:
        ok = p.get("passed") is True
        label = "/".join(one_line(p.get(k), 30) for k in ("suite", "task") if p.get(k) not in (None, ""))
        text = f"{fmt_time(ts if isinstance(ts, int) else None)}  EVAL  {label or '-'}  " + \
            ("passed" if ok else "FAILED") + f"  score {_num(p.get('score'))}"
        if p.get("name"):
            text += f"  ({one_line(p.get('name'), 30)} for span {one_line(p.get('span_id'), 16)[:8]})"
        if p.get("error"):
            text += "  " + one_line(p.get("error"), 80)
        return text if ok else self.c.red(text)


def _num(value: Any) -> str:
    n = as_number(value)
    return f"{n:.4g}" if n is not None else one_line(value, 12)


# --------------------------------------------------------------------------------------------
# reading


class Follower:
    """Reads complete lines from a path, across truncation and rotation."""

    def __init__(self, path: str, on_note: Callable[[str], None]) -> None:
        self.path = path
        self.note = on_note
        self.fh: Optional[IO[bytes]] = None
        self.ino: Optional[Tuple[int, int]] = None
        self.pos = 0
        self.partial = b""

    def open(self, at_end: bool = False) -> None:
        try:
            fh = open(self.path, "rb")
        except IsADirectoryError:
            raise CLIError(f"cannot read {self.path}: is a directory") from None
        except OSError as exc:
            raise CLIError(f"cannot read {self.path}: {describe_os_error(exc)}") from None
        self._adopt(fh, at_end)

    def _adopt(self, fh: IO[bytes], at_end: bool) -> None:
        if self.fh is not None:
            self.fh.close()
        st = os.fstat(fh.fileno())
        self.fh = fh
        self.ino = (st.st_dev, st.st_ino)
        self.pos = st.st_size if at_end else 0
        fh.seek(self.pos)
        self.partial = b""

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def read_lines(self) -> List[bytes]:
        """Complete new lines (without line ends); handles truncation and rotation."""
        assert self.fh is not None
        out: List[bytes] = []
        out.extend(self._drain())
        try:
            st = os.stat(self.path)
        except OSError:
            return out  # removed: keep the old file until a new one appears
        if (st.st_dev, st.st_ino) != self.ino:
            out.extend(self._drain())
            if self.partial:  # the old file ended without a newline: that last line is complete
                out.append(self.partial)
                self.partial = b""
            try:
                fh = open(self.path, "rb")
            except OSError:
                return out
            self.note(f"{self.path}: file was replaced (rotated); reading the new one")
            self._adopt(fh, at_end=False)
            out.extend(self._drain())
            return out
        size = os.fstat(self.fh.fileno()).st_size
        if size < self.pos:
            self.note(f"{self.path}: file was truncated; reading from the top")
            self.fh.seek(0)
            self.pos = 0
            self.partial = b""
            out.extend(self._drain())
        return out

    def _drain(self) -> List[bytes]:
        assert self.fh is not None
        lines: List[bytes] = []
        while True:
            chunk = self.fh.read(READ_CHUNK)
            if not chunk:
                break
            self.pos += len(chunk)
            data = self.partial + chunk
            parts = data.split(b"\n")
            self.partial = parts.pop()
            lines.extend(parts)
        return lines


def last_lines(path: str, n: Optional[int]) -> Tuple[List[bytes], int]:
    """The last ``n`` complete lines of a plain file (all when ``n`` is None), and the end offset."""
    try:
        fh = open(path, "rb")
    except IsADirectoryError:
        raise CLIError(f"cannot read {path}: is a directory") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {describe_os_error(exc)}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if n is None:
            data = fh.read(size)
            lines = data.split(b"\n")
        elif n == 0:
            return [], size
        else:
            block = 1 << 16
            end = size
            data = b""
            while end > 0 and data.count(b"\n") <= n:
                start = max(0, end - block)
                fh.seek(start)
                data = fh.read(end - start) + data
                end = start
                block *= 2
            lines = data.split(b"\n")
            if end > 0:
                lines = lines[1:]  # the first piece may be a partial line
    tail_partial = lines.pop() if lines else b""
    lines = [ln for ln in lines if ln.strip()]
    if tail_partial.strip():
        lines.append(tail_partial)  # a last line without newline: shown, may be torn
    if n is not None:
        lines = lines[-n:] if n else []
    return lines, size


# --------------------------------------------------------------------------------------------
# the command


def _lines_arg(value: str) -> Optional[int]:
    if value == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        raise ValueError(value) from None
    if n < 0:
        raise ValueError(value)
    return n


_lines_arg.__name__ = "count"  # argparse says: invalid count value: 'x'


def add_arguments(parser: Any) -> None:
    parser.add_argument("file", nargs="+", metavar="FILE",
                        help=FILES_HELP + "; --follow takes one plain file or '-'")
    parser.add_argument("-f", "--follow", action="store_true", help="keep reading as the file grows (Ctrl-C to stop)")
    parser.add_argument("-n", "--lines", type=_lines_arg, default=10, metavar="N",
                        help="start with the last N messages (default 10; 'all' for the whole file)")
    parser.add_argument("--interval", type=float, default=0.25, metavar="SECONDS",
                        help="how often to look for new data when following (default 0.25)")


class _Printer:
    def __init__(self, out: IO[str], fmt: Formatter) -> None:
        self.out = out
        self.fmt = fmt
        self.bad = 0

    @staticmethod
    def _text(raw: Any) -> str:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return raw.strip().lstrip("\ufeff")

    def emit_all(self, lines: Any) -> None:
        """Print a batch known in advance, its names settled first (two passes: one to learn
        the names, one to print, so a large batch is never held decoded)."""
        for raw in lines:
            text = self._text(raw)
            env = decode(text) if text else None
            if env is not None:
                self.fmt.prime(env)
        for raw in lines:
            self.emit(raw)

    def emit(self, raw: Any) -> None:
        raw = self._text(raw)
        if not raw:
            return
        env = decode(raw)
        if env is None:
            self.bad += 1
            return
        text = self.fmt.line(env)
        try:
            self.out.write(text + "\n")
        except UnicodeEncodeError:
            enc = getattr(self.out, "encoding", None) or "ascii"
            self.out.write(text.encode(enc, "replace").decode(enc, "replace") + "\n")


def run(args: Any) -> int:
    if not 0.01 <= args.interval <= 60:
        raise CLIError("--interval must be between 0.01 and 60 seconds")
    out = sys.stdout
    printer = _Printer(out, Formatter(Palette.for_stream(out)))
    err = sys.stderr

    def note(msg: str) -> None:
        err.write(f"mist tail: {msg}\n")
        err.flush()

    files = expand(args.file, "tail")
    if len(files) > 1:
        if args.follow:
            raise CLIError(f"tail: --follow follows one file; {len(files)} given "
                           f"({display_name(files)})")
        printer.emit_all(_last_of_many(files, args.lines))
        out.flush()
        if printer.bad:
            note(f"{printer.bad} undecodable line(s) skipped in {display_name(files)}")
        return 0
    args.file = files[0]
    try:
        if args.file == "-":
            _stream(sys.stdin.buffer, args.lines, printer, follow=args.follow)
        elif args.file.endswith(".gz"):
            if args.follow:
                raise CLIError("--follow cannot follow a .gz file; tail the uncompressed file instead")
            try:
                with gzip.open(args.file, "rb") as fh:
                    _stream(fh, args.lines, printer, follow=False)
            except FileNotFoundError:
                raise CLIError(f"cannot read {args.file}: no such file") from None
            except (OSError, EOFError) as exc:
                raise CLIError(f"cannot read {args.file}: {exc}") from None
        else:
            lines, size = last_lines(args.file, args.lines)
            printer.emit_all(lines)
            out.flush()
            if args.follow:
                follower = Follower(args.file, note)
                follower.open()
                follower.pos = size
                follower.fh.seek(size)  # type: ignore[union-attr]
                try:
                    while True:
                        got = follower.read_lines()
                        for ln in got:
                            printer.emit(ln)
                        if got:
                            out.flush()
                        else:
                            time.sleep(args.interval)
                finally:
                    follower.close()
    except KeyboardInterrupt:
        try:
            out.flush()
        except Exception:
            pass
        if printer.bad:
            note(f"{printer.bad} undecodable line(s) skipped")
        return 0
    if printer.bad:
        note(f"{printer.bad} undecodable line(s) skipped in {display_name(args.file)}")
    return 0


def _last_of_many(files: List[str], n: Optional[int]) -> List[bytes]:
    """The last ``n`` messages of several files read one after the other (the last ``n`` of
    their concatenation are among the last ``n`` of each file)."""
    keep: Deque[bytes] = collections.deque(maxlen=n) if n is not None else collections.deque()
    if n == 0:
        return []
    for path in files:
        if path.endswith(".gz"):
            try:
                with gzip.open(path, "rb") as fh:
                    for raw in fh:
                        if raw.strip():
                            keep.append(raw)
            except (OSError, EOFError) as exc:
                raise CLIError(f"cannot read {path}: {describe_os_error(exc)}") from None
        else:
            keep.extend(last_lines(path, n)[0])
    return list(keep)


def _stream(fh: IO[bytes], n: Optional[int], printer: _Printer, *, follow: bool) -> None:
    """Stdin or a .gz file: without follow keep only the last ``n``; with follow print as it comes."""
    if follow:
        for raw in iter(fh.readline, b""):
            printer.emit(raw)
            printer.out.flush()
        return
    keep: Deque[bytes] = collections.deque(maxlen=n) if n is not None else collections.deque()
    if n == 0:
        return
    for raw in fh:
        if raw.strip():
            keep.append(raw)
    printer.emit_all(keep)
