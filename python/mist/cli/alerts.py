"""``mist alerts FILE``: replay a recorded trace file through the alert engine, offline."""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import uuid
from typing import Any, Dict, Iterator, List, Tuple

from . import CLIError

HELP = "replay a recorded trace file through the regression detectors; print the alerts"
DESCRIPTION = """\
Replays the trace.span lines of FILE (JSONL, optionally gzip-compressed), in file order,
through a fresh alert engine -- the same detectors `mist.configure(alerts=True)` runs live --
and prints every alert that would have fired or resolved, then a summary line.
Span timestamps (end_ns) are the clock, so the output does not depend on when you run it."""
EPILOG = """\
examples:
  mist alerts mist-traces.jsonl
  mist alerts traces.jsonl.gz --format jsonl > alerts.jsonl
  mist alerts traces.jsonl --sensitivity 2     # twice the false-alarm budget, faster alerts
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a JSONL trace file (or .gz)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text: one readable line per alert (default); jsonl: trace.alert "
                             "envelopes on stdout, the summary on stderr")
    parser.add_argument("--sensitivity", type=float, default=1.0,
                        help="multiplies the false-alarm budget (default 1: about one false "
                             "alert per 100,000 values of a series)")


def _lines(path: str) -> Iterator[Tuple[int, bytes, bool]]:
    """(line number, bytes, is the last line without a newline) for each non-blank line."""
    try:
        with open(path, "rb") as raw:
            head = raw.read(2)
            raw.seek(0)
            stream: Any = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
            number = 0
            try:
                for line in stream:
                    number += 1
                    if not line.strip():
                        continue
                    yield number, line, not line.endswith(b"\n")
            except EOFError:  # a gzip file cut short (its writer was killed): keep what we have
                return
    except FileNotFoundError:
        raise CLIError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"cannot read {path}: it is a directory") from None
    except PermissionError:
        raise CLIError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None


from mist import codec  # noqa: E402  (canonical MTTP bytes, as the Go tools write them)


def _envelope(payload: Dict[str, Any], ts: int) -> Dict[str, Any]:
    return {"version": "1", "id": uuid.uuid4().hex, "source": "mist-alerts",
            "type": "trace.alert", "timestamp_ns": ts, "payload": payload}


def _text(payload: Dict[str, Any], ts: int) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1e9))
    state = str(payload.get("state", "firing")).upper()
    return f"{when} UTC  {state:<8} {payload['level']:<8} {payload['metric']:<16} {payload['message']}"


def run(args: argparse.Namespace) -> int:
    from ..alerts.engine import AlertEngine

    try:
        engine = AlertEngine(sensitivity=args.sensitivity)
    except ValueError as exc:
        raise CLIError(f"--sensitivity: {exc}") from None
    out = sys.stdout
    jsonl = args.format == "jsonl"
    spans = bad = 0
    alerts: List[Dict[str, Any]] = []
    for number, line, last in _lines(args.file):
        try:
            msg = json.loads(line)
        except ValueError:
            if not last:  # a torn last line is expected (a writer was killed); others count
                bad += 1
            continue
        if type(msg) is not dict or msg.get("type") != "trace.span":
            continue
        payload = msg.get("payload")
        if type(payload) is not dict:
            bad += 1
            continue
        spans += 1
        end = payload.get("end_ns")
        ts = end if type(end) is int else msg.get("timestamp_ns")
        ts = ts if type(ts) is int else 0
        for alert in engine.observe(payload, ts):
            alerts.append(alert)
            if jsonl:
                out.write(codec.encode(_envelope(alert, ts)).decode("utf-8") + "\n")
            else:
                out.write(_text(alert, ts) + "\n")
    fired = sum(1 for a in alerts if a.get("state") == "firing")
    resolved = sum(1 for a in alerts if a.get("state") == "resolved")
    summary = (f"{spans} span{'s' if spans != 1 else ''} read, {fired} alert"
               f"{'s' if fired != 1 else ''} fired, {resolved} resolved")
    if bad:
        summary += f", {bad} unreadable line{'s' if bad != 1 else ''} skipped"
    still = engine.stats()["firing_now"]
    if still:
        summary += f"; {still} still firing at the end of the file"
    print(summary, file=sys.stderr if jsonl else out)
    out.flush()
    return 0
