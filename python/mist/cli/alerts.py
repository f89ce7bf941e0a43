"""``mist alerts FILE``: replay a recorded trace file through the alert engine, offline."""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import uuid
from typing import Any, Dict, Iterator, List, Sequence, Tuple

from .. import config
from . import CLIError
from ._inputs import FILES_HELP, expand

HELP = "replay a recorded trace file through the regression detectors; print the alerts"
DESCRIPTION = """\
Replays the trace.span and eval.result lines of FILE (JSONL, optionally gzip-compressed), in
file order, through a fresh alert engine -- the same detectors `mist.configure(alerts=True)`
runs live -- and prints every alert that would have fired or resolved, then a summary line.
A late score (eval.result) joins the score.<name> series of the span it names (that span's
operation and model, wherever the span is in the file before it), else a series keyed by its
suite and task. Span end times and eval.result timestamps are the clock, so the output does not
depend on when you run it.

A change alerts only when it is both detected and at least as big as its floor: latency and
output tokens +20% (median), cost per call and per run +15%, error rate +2 points and x1.5,
scores -0.05 (pass rates -5 points). MIST_ALERT_FLOORS and --floor change them, per metric
(latency_ms, cost_usd, tokens_out, trace_cost_usd, error_rate, score, score.NAME) or per series
(OPERATION:METRIC, OPERATION/MODEL:METRIC); relative floors are fractions (0.3 = +30%), the others
in the metric's units, error_rate as POINTS or POINTS:RATIO (0.05:2)."""
EPILOG = """\
examples:
  mist alerts mist-traces.jsonl
  mist alerts traces.jsonl.gz --format jsonl > alerts.jsonl
  mist alerts traces.jsonl --sensitivity 2     # twice the false-alarm budget, faster alerts
  mist alerts traces.jsonl --floor latency_ms=0.5 --floor chat/gpt-4o:cost_usd=0.3
  mist alerts traces.jsonl --floor latency_ms=0  # every detected latency rise, however small
  mist alerts logs/                            # a directory: its files in rotation order, as one
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="+", metavar="FILE", help=FILES_HELP)
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text: one readable line per alert (default); jsonl: trace.alert "
                             "envelopes on stdout, the summary on stderr")
    parser.add_argument("--sensitivity", type=float, default=1.0,
                        help="multiplies the false-alarm budget (default 1: about one false "
                             "alert per 100,000 values of a series)")
    parser.add_argument("--floor", action="append", default=[], metavar="METRIC=FLOOR",
                        help="the smallest change that alerts, e.g. latency_ms=0.3 (+30%%), "
                             "error_rate=0.05:2, score=0.1, chat/gpt-4o:cost_usd=0.5; repeatable, "
                             "over MIST_ALERT_FLOORS and the defaults")


def _lines(paths: Sequence[str]) -> Iterator[Tuple[int, bytes, bool]]:
    """(line number, bytes, is the last line of its file without a newline) for each non-blank
    line of ``paths``, read one after the other (line numbers count on across files)."""
    base = 0
    for path in paths:
        number = 0
        for number, line, last in _file_lines(path):
            yield base + number, line, last
        base += number


def _file_lines(path: str) -> Iterator[Tuple[int, bytes, bool]]:
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


def _scored_spans(path: Sequence[str]) -> set:
    """Span ids that the file's eval.result lines name (a first, cheap pass: only lines that
    mention eval.result are decoded), so the replay can remember just those spans' series."""
    wanted = set()
    for _number, line, _last in _lines(path):
        if b'"eval.result"' not in line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if type(msg) is dict and msg.get("type") == "eval.result":
            payload = msg.get("payload")
            sid = payload.get("span_id") if type(payload) is dict else None
            if type(sid) is str and sid:
                wanted.add(sid)
    return wanted


def run(args: argparse.Namespace) -> int:
    from ..alerts.engine import AlertEngine

    floors = config.alert_floors() or {}  # (a bad value: ConfigError, one line naming it)
    for spec in args.floor:
        floors.update(config.parse_alert_floors(spec, "--floor"))
    try:
        engine = AlertEngine(sensitivity=args.sensitivity, floors=floors)
    except ValueError as exc:
        raise CLIError(f"--sensitivity: {exc}") from None
    out = sys.stdout
    jsonl = args.format == "jsonl"
    spans = evals = bad = 0
    alerts: List[Dict[str, Any]] = []
    # the (operation, model) of each span a late score names, however far apart they are
    files = expand(args.file, "alerts")
    if files == ["-"]:
        raise CLIError("alerts: reads its input twice, so '-' (stdin) is not accepted; give a file")
    wanted = _scored_spans(files)
    scored: Dict[str, Tuple[str, str]] = {}
    for number, line, last in _lines(files):
        try:
            msg = json.loads(line)
        except ValueError:
            if not last:  # a torn last line is expected (a writer was killed); others count
                bad += 1
            continue
        kind = msg.get("type") if type(msg) is dict else None
        if kind != "trace.span" and kind != "eval.result":
            continue
        payload = msg.get("payload")
        if type(payload) is not dict:
            bad += 1
            continue
        if kind == "eval.result":
            evals += 1
            ts = msg.get("timestamp_ns")
            ts = ts if type(ts) is int else 0
            sid = payload.get("span_id")
            op, model = scored.get(sid, (None, None)) if type(sid) is str else (None, None)
            found = engine.observe_eval(payload, ts, operation=op, model=model)
        else:
            spans += 1
            end = payload.get("end_ns")
            ts = end if type(end) is int else msg.get("timestamp_ns")
            ts = ts if type(ts) is int else 0
            if wanted:
                sid = payload.get("span_id")
                if type(sid) is str and sid in wanted:
                    attrs = payload.get("attrs")
                    model = attrs.get("model") if type(attrs) is dict else None
                    op = payload.get("operation")
                    scored[sid] = (op if type(op) is str and op else "unknown",
                                   model if type(model) is str else "")
            found = engine.observe(payload, ts)
        for alert in found:
            alerts.append(alert)
            if jsonl:
                out.write(codec.encode(_envelope(alert, ts)).decode("utf-8") + "\n")
            else:
                out.write(_text(alert, ts) + "\n")
    fired = sum(1 for a in alerts if a.get("state") == "firing")
    resolved = sum(1 for a in alerts if a.get("state") == "resolved")
    read = f"{spans} span{'s' if spans != 1 else ''}"
    if evals:
        read += f" and {evals} eval result{'s' if evals != 1 else ''}"
    summary = (f"{read} read, {fired} alert"
               f"{'s' if fired != 1 else ''} fired, {resolved} resolved")
    if bad:
        summary += f", {bad} unreadable line{'s' if bad != 1 else ''} skipped"
    still = engine.stats()["firing_now"]
    if still:
        summary += f"; {still} still firing at the end of the file"
    print(summary, file=sys.stderr if jsonl else out)
    out.flush()
    return 0
