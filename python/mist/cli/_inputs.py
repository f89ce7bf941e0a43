"""Expanding a reading command's FILE arguments into the ordered list of trace files it reads.

Each argument is one of:

* ``-``: standard input, only as the sole argument;
* a file (plain or ``.gz``), taken as given whatever its name;
* a directory: the trace files directly inside it (not recursive), hidden names skipped;
  trace files are ``*.jsonl``, ``*.jsonl.gz`` and their rotations ``x.jsonl.1``,
  ``x.jsonl.2.gz``, ``x.jsonl-20261207`` (``.ndjson`` likewise);
* a glob pattern (``*``, ``?``, ``[``) that the shell did not expand (quoted, or a shell
  without globbing): its matches, each a file or a directory as above.

Order: arguments in the order given; the files an argument expands to sorted by name, with a
log's rotations oldest first (``x.jsonl.3.gz, x.jsonl.2, x.jsonl.1, x.jsonl``; dated rotations
``x.jsonl-20261206`` before ``x.jsonl``). A file named twice is read once. The inputs then read
as their concatenation in that order.
"""
from __future__ import annotations

import glob
import os
import re
from typing import List, Sequence, Tuple

from mist.cli import CLIError

_TRACE_NAME = re.compile(r"^(?P<base>.+\.(?:jsonl|ndjson))"
                         r"(?:\.(?P<num>\d+)|-(?P<date>\d{8}(?:\d*)))?(?:\.gz)?$")
_MAGIC = set("*?[")


def is_trace_name(name: str) -> bool:
    return not name.startswith(".") and _TRACE_NAME.match(name) is not None


def _order_key(path: str) -> Tuple:
    """Sort key: by base log name, then rotation oldest first, the live file last."""
    head, name = os.path.split(path)
    m = _TRACE_NAME.match(name)
    if m is None:
        return (head, name, 0, 0, "")
    base = m.group("base")
    if m.group("num") is not None:  # .N: larger N is older, so first
        return (head, base, 0, -int(m.group("num")), name)
    if m.group("date") is not None:  # -DATE: older dates first
        return (head, base, 1, 0, m.group("date"))
    return (head, base, 2, 0, name)  # the live file (or its .gz) last


def _dir_files(path: str) -> List[str]:
    try:
        names = os.listdir(path)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    found = [os.path.join(path, n) for n in names if is_trace_name(n)]
    return sorted((p for p in found if os.path.isfile(p)), key=_order_key)


def expand(args: Sequence[str], command: str, *, keep_missing: bool = False) -> List[str]:
    """The ordered, de-duplicated input files for ``args``; CLIError (exit 2) when an argument is
    missing or expands to nothing, or when ``-`` is mixed with files. With ``keep_missing`` a
    missing path (not a pattern) is kept, for a command that reports unreadable files itself."""
    if "-" in args:
        if len(args) > 1:
            raise CLIError(f"{command}: '-' (stdin) cannot be mixed with other inputs")
        return ["-"]
    out: List[str] = []
    seen = set()
    for arg in args:
        if os.path.isdir(arg):
            files = _dir_files(arg)
            if not files:
                raise CLIError(f"{command}: no trace files in {arg}")
        elif os.path.exists(arg):
            files = [arg]
        elif _MAGIC & set(arg):
            files = []
            for m in sorted(glob.glob(arg), key=_order_key):
                if os.path.isdir(m):
                    files.extend(_dir_files(m))
                elif os.path.isfile(m):
                    files.append(m)
            files.sort(key=_order_key)
            if not files:
                raise CLIError(f"{command}: no trace files match {arg}")
        elif keep_missing:
            files = [arg]
        else:
            raise CLIError(f"cannot read {arg}: no such file")
        for f in files:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


FILES_HELP = ("MTTP JSONL trace files (.gz accepted), directories (their *.jsonl, *.jsonl.gz and "
              "rotated files) or glob patterns, read as one stream; '-' = stdin")
