"""``mist.read(path)``: the envelopes of an MTTP JSONL file, decoded strictly and streamed.

Plain or gzip files (by the ``.gz`` suffix or the gzip magic bytes), or ``-`` for stdin. Blocks of
the file are decoded natively when the extension is there (``_native.decode_chunk``), else line by
line with ``mist.codec.strictjson``; the values are the same either way. Memory stays flat: at most one
block and one partial line are held.

Blank lines are skipped (they carry no message). A torn last line (no newline at the end of the
file and not a complete JSON value, as a writer killed mid-line leaves) is skipped silently. Any
other line that is not a JSON object raises ``ValueError("FILE:LINE: why")`` with
``errors="raise"`` (after every good line before it was yielded), or is skipped with
``errors="skip"``. Schema problems are not read errors: use ``mist.validate`` for those.
"""
from __future__ import annotations

import gzip
import os
import sys
import zlib
from typing import IO, Any, Dict, Iterator, List, Literal, Optional, Tuple, Union

from ..codec import strictjson as _strictjson

BLOCK = 1 << 20
MAX_LINE = _strictjson.MAX_LINE_BYTES

Item = Union[Dict[str, Any], Tuple[int, str, bool]]


def open_binary(path: Union[str, "os.PathLike[str]"]) -> Tuple[IO[bytes], bool]:
    """A binary stream for ``path`` (``-`` is stdin; gzip by suffix or magic), and whether to close it."""
    if str(path) == "-":
        stream = sys.stdin.buffer
        head = stream.peek(2)[:2] if hasattr(stream, "peek") else b""
        if head == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=stream, mode="rb"), True
        return stream, False
    f = open(path, "rb")
    magic = f.peek(2)[:2]  # works on pipes too: nothing is consumed
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb"), True
    return f, True


def blocks(stream: IO[bytes], size: int = BLOCK) -> Iterator[Tuple[bytes, bool, int]]:
    """``(data, final, skipped_long)`` blocks that end on a line boundary (``final``: the rest of
    the file). A line longer than the 10 MiB limit is never buffered whole: its bytes are dropped
    and its length comes as ``skipped_long`` with an empty block (negative when it was the
    unterminated last line); the next block starts at the line that follows."""
    pending = b""
    while True:
        chunk = stream.read(size)
        if not chunk:
            yield pending, True, 0
            return
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > MAX_LINE:
            # one line over the limit: drop it up to its newline, reporting its length
            n = len(data)
            while True:
                chunk = stream.read(size)
                if not chunk:
                    yield b"", True, -n
                    return
                nl = chunk.find(b"\n")
                if nl >= 0:
                    n += nl
                    pending = chunk[nl + 1:]
                    yield b"", False, n
                    break
                n += len(chunk)
            continue
        if cut == 0:
            pending = data
            continue
        pending = data[cut:]
        yield data[:cut], False, 0


def _decode_chunk_python(data: bytes, final: bool) -> Tuple[int, List[Item]]:
    """Pure-Python twin of ``_native.decode_chunk``."""
    out: List[Item] = []
    idx = 0
    start = 0
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        terminated = end >= 0
        if not terminated:
            if not final:
                break
            end = n
        line = data[start:end]
        if line.strip(b" \t\r"):
            try:
                v = _strictjson.decode(line)
            except _strictjson.DecodeError as exc:
                out.append((idx, str(exc), terminated))
            else:
                if isinstance(v, dict):
                    out.append(v)
                else:
                    out.append((idx, "expected a JSON object, got " + _strictjson.got(v), terminated))
        idx += 1
        start = end + 1
    return min(start, n), out


def _decoder() -> Any:
    from ..core.backend import backend, core

    if backend == "native" and hasattr(core, "decode_chunk"):
        return core.decode_chunk
    return _decode_chunk_python


def read(path: Union[str, "os.PathLike[str]"], errors: Literal["raise", "skip"] = "raise") -> Iterator[Dict[str, Any]]:
    """Envelopes (dicts) of a JSONL or .gz file, or ``-`` for stdin, in file order.

    ``errors="raise"``: a bad line raises ``ValueError("FILE:LINE: why")``; ``"skip"``: bad lines
    are left out. Blank lines and a torn last line are always skipped.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"mist.read: errors must be 'raise' or 'skip', got {errors!r}")
    name = "<stdin>" if str(path) == "-" else os.fspath(path)
    stream, close = open_binary(path)
    return _iterate(stream, close, name, errors == "raise")


def _iterate(stream: IO[bytes], close: bool, name: str, strict: bool) -> Iterator[Dict[str, Any]]:
    decode = _decoder()
    lineno = 1  # number of the first line of the current block
    try:
        for data, final, skipped_long in blocks(stream):
            if skipped_long < 0:  # an over-long torn last line
                break
            if skipped_long:
                if strict:
                    raise ValueError(f"{name}:{lineno}: " + _strictjson.too_large(skipped_long).message)
                lineno += 1
            consumed, items = decode(data, final)
            for item in items:
                if type(item) is dict:
                    yield item  # type: ignore[misc]
                    continue
                idx, why, terminated = item  # type: ignore[misc]
                if strict and terminated:
                    raise ValueError(f"{name}:{lineno + idx}: {why}")
            lineno += data.count(b"\n", 0, consumed)
    except (OSError, EOFError, zlib.error) as exc:
        raise OSError(f"{name}: cannot read: {exc}") from exc
    finally:
        if close:
            stream.close()


__all__ = ["read", "open_binary", "blocks"]
