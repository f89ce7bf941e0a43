"""``mist validate FILE…``: check every line of MTTP files against the schema.

Streams files of any size in constant memory. On the native backend a regular file is read and
checked entirely in native code (a reader thread, every core checking lines, GIL released); gzip
and stdin come in blocks of a few MiB, each checked in one native call; the pure-Python backend
checks line by line. A line over the 10 MiB message limit is skipped unread and reported. Prints ``FILE:LINE: pointer: message`` for
each bad line (capped per file, then a count of the rest) and a summary per file: lines, valid,
invalid, errors by kind. Exit 0 when every line is valid, 1 when any is not, 2 when a file
cannot be read.
"""
from __future__ import annotations

import json
import os
import sys
import time
import zlib
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from mist.cli import CLIError
from mist.cli._inputs import expand

HELP = "check every line of MTTP trace files against the schema"
DESCRIPTION = (
    "Check every line of MTTP trace files (JSONL, .gz, or - for stdin) against the MTTP v1 schema.\n\n"
    "Each bad line is reported as FILE:LINE: POINTER: MESSAGE (the JSON pointer of the offending value\n"
    "and what was expected), then a summary per file. Exit 0: all lines valid; 1: some invalid;\n"
    "2: a file could not be read."
)
EPILOG = (
    "error kinds:\n"
    "  decoding  json, encoding, blank, too_large, too_deep, duplicate_key, range, torn\n"
    "  schema    type, const, enum, length, pattern, range, required, additional\n\n"
    "examples:\n"
    "  mist validate traces.jsonl\n"
    "  mist validate a.jsonl b.jsonl.gz --format json\n"
    "  zcat old.jsonl.gz | mist validate -\n"
    "  mist validate traces.jsonl --engine jsonschema   # the reference implementation (slower)"
)

BLOCK = 4 << 20
PROGRESS_EVERY_S = 0.5

ChunkFn = Callable[[bytes, bool, int], Tuple[int, int, int, Dict[str, int], List[Tuple[int, str, str, str, int]]]]


def add_arguments(p: Any) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="JSONL or .gz trace files, directories (their trace files) or glob patterns; "
                        "each validated on its own; - reads stdin")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.add_argument("--engine", choices=["native", "jsonschema"], default="native",
                   help="native: the generated validator of this backend (default); jsonschema: the reference library")
    p.add_argument("--max-errors", type=int, default=20, metavar="N",
                   help="bad lines printed per file before only counting them (default: 20)")


def _engine(name: str) -> Tuple[str, ChunkFn, Optional[Callable[..., Any]]]:
    """The chunk checker of an engine, the name it is reported under, and the native whole-file
    checker when there is one (regular files are then read and checked natively)."""
    import importlib

    v = importlib.import_module("mist.validation")
    if name == "jsonschema":
        check = v.jsonschema_engine()
        return "jsonschema", lambda data, final, report: v.check_chunk_python(data, final, report, check), None
    native = v._native()
    if native is not None:
        return "native", native.validate_chunk, getattr(native, "validate_fd", None)
    return "python", v.check_chunk_python, None


class FileReport:
    """What one file gave: counts, the first errors, and whether it could be read to the end."""

    def __init__(self, name: str, cap: int):
        self.name = name
        self.cap = cap
        self.lines = 0
        self.invalid = 0
        self.kinds: Dict[str, int] = {}
        self.errors: List[Dict[str, Any]] = []
        self.read_error: Optional[str] = None

    def add(self, consumed_lines: int, invalid: int, kinds: Dict[str, int], reported: List[Tuple[int, str, str, str, int]]) -> None:
        for idx, ptr, kind, msg, n in reported:
            self.errors.append({"line": self.lines + idx + 1, "pointer": ptr, "kind": kind, "message": msg,
                                "errors_on_line": n})
        self.lines += consumed_lines
        self.invalid += invalid
        for k, n in kinds.items():
            self.kinds[k] = self.kinds.get(k, 0) + n

    @property
    def room(self) -> int:
        return max(0, self.cap - len(self.errors))

    def as_json(self) -> Dict[str, Any]:
        out = {"file": self.name, "lines": self.lines, "valid": self.lines - self.invalid, "invalid": self.invalid,
               "errors_by_kind": dict(sorted(self.kinds.items())), "errors": self.errors,
               "invalid_lines_not_shown": self.invalid - len(self.errors)}
        if self.read_error:
            out["read_error"] = self.read_error
        return out


def _validate_file(path: str, chunk: ChunkFn, whole: Optional[Callable[..., Any]], rep: FileReport,
                   progress: Optional["_Progress"]) -> None:
    from mist.codec.strictjson import too_large
    from mist.validation.reader import blocks, open_binary

    try:
        stream, close = open_binary(path)
    except OSError as exc:
        rep.read_error = exc.strerror or str(exc)
        return
    try:
        if whole is not None and _regular_file(stream):
            tick = (lambda lines, invalid: progress.show(rep.name, lines, invalid)) if progress is not None else None
            lines, invalid, kinds, reported, error = whole(stream.fileno(), rep.cap, tick)
            rep.add(lines, invalid, kinds, [(line - 1, ptr, kind, msg, n) for line, ptr, kind, msg, n in reported])
            rep.read_error = error
            return
        for data, final, skipped in blocks(stream, BLOCK):
            if skipped:
                e = too_large(abs(skipped))
                kind = "torn" if skipped < 0 else e.kind
                msg = e.message if skipped > 0 else "torn last line (no newline at the end of the file): " + e.message
                rep.add(1, 1, {kind: 1}, [(0, "", kind, msg, 1)] if rep.room else [])
                continue
            consumed, lines, invalid, kinds, reported = chunk(data, final, rep.room)
            rep.add(lines, invalid, kinds, reported)
            if progress is not None:
                progress.show(rep.name, rep.lines, rep.invalid)
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt .gz, an I/O error mid-file
        rep.read_error = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    finally:
        if close:
            stream.close()


def _jobs(files: List[str]) -> int:
    """Worker processes for several files: one per CPU (at most 4, at most one per file), on
    Linux (fork); 1 for one file or stdin."""
    if len(files) < 2 or "-" in files or not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, 4, len(files)))


def _validate_one(job: Tuple[str, str, int]) -> FileReport:
    """One file's report, in a worker process."""
    path, engine, cap = job
    _, chunk, whole = _engine(engine)
    rep = FileReport(path, cap)
    _validate_file(path, chunk, whole, rep, None)
    return rep


def _reports(files: List[str], engine: str, cap: int, chunk: ChunkFn, whole: Optional[Callable[..., Any]],
             progress: Optional["_Progress"]) -> Iterator[FileReport]:
    """Each file's report, in input order; several files are checked in parallel processes (each
    file on its own, so the reports are the same whichever way they were made)."""
    jobs = _jobs(files)
    if jobs == 1:
        for path in files:
            rep = FileReport("<stdin>" if path == "-" else path, cap)
            _validate_file(path, chunk, whole, rep, progress)
            yield rep
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        lines = invalid = 0
        for done, rep in enumerate(pool.map(_validate_one, [(f, engine, cap) for f in files]), start=1):
            lines += rep.lines
            invalid += rep.invalid
            if progress is not None:
                progress.show(f"{done}/{len(files)} files", lines, invalid)
            yield rep


def _regular_file(stream: Any) -> bool:
    """A plain file on disk (not gzip, not a pipe or terminal): the native reader can take it."""
    import io
    import stat

    if not isinstance(stream, io.BufferedReader):
        return False
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


class _Progress:
    """A one-line counter on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.shown = False

    def show(self, name: str, lines: int, invalid: int) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.shown = True
            sys.stderr.write(f"\rmist validate: {name}: {lines:,} lines, {invalid:,} invalid ")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.shown = False


def _text_safe(s: str) -> str:
    """Control characters in a pointer (from a hostile key) must not break the one-line format."""
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() or c == " " else "\\u%04x" % ord(c) for c in s)


def _kinds_text(kinds: Dict[str, int]) -> str:
    return ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))


def _print_text(rep: FileReport, out: Any) -> None:
    for e in rep.errors:
        where = f"{_text_safe(e['pointer'])}: " if e["pointer"] else ""
        more = e["errors_on_line"] - 1
        tail = f" (+{more} more error{'s' if more > 1 else ''} on this line)" if more > 0 else ""
        out.write(f"{rep.name}:{e['line']}: {where}{e['message']}{tail}\n")
    hidden = rep.invalid - len(rep.errors)
    if hidden > 0:
        out.write(f"{rep.name}: {hidden:,} more invalid line{'s' if hidden > 1 else ''} not shown (--max-errors N shows more)\n")
    if rep.read_error is not None:
        return
    summary = f"{rep.name}: {rep.lines:,} lines, {rep.lines - rep.invalid:,} valid, {rep.invalid:,} invalid"
    if rep.kinds:
        summary += f" (errors by kind: {_kinds_text(rep.kinds)})"
    out.write(summary + "\n")


def run(args: Any) -> int:
    if args.max_errors < 0:
        raise CLIError("--max-errors must be 0 or more")
    engine, chunk, whole = _engine(args.engine)
    out = sys.stdout
    try:
        out.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        pass
    progress = _Progress() if sys.stderr.isatty() else None
    reports: List[FileReport] = []
    files = expand(args.files, "validate", keep_missing=True)
    for rep in _reports(files, args.engine, args.max_errors, chunk, whole, progress):
        if progress is not None:
            progress.clear()
        reports.append(rep)
        if rep.read_error is not None:
            print(f"mist: cannot read {rep.name}: {rep.read_error}", file=sys.stderr)
        if args.format == "text":
            _print_text(rep, out)
    lines = sum(r.lines for r in reports)
    invalid = sum(r.invalid for r in reports)
    kinds: Dict[str, int] = {}
    for r in reports:
        for k, n in r.kinds.items():
            kinds[k] = kinds.get(k, 0) + n
    if args.format == "json":
        json.dump({"engine": engine, "files": [r.as_json() for r in reports], "lines": lines, "valid": lines - invalid,
                   "invalid": invalid, "errors_by_kind": dict(sorted(kinds.items()))}, out, ensure_ascii=False)
        out.write("\n")
    elif len(reports) > 1:
        summary = f"total: {len(reports)} files, {lines:,} lines, {lines - invalid:,} valid, {invalid:,} invalid"
        out.write(summary + (f" (errors by kind: {_kinds_text(kinds)})" if kinds else "") + "\n")
    out.flush()
    if any(r.read_error is not None for r in reports):
        return 2
    return 1 if invalid else 0
