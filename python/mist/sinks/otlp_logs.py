"""MTTP ``trace.alert`` and ``eval.result`` lines → OTLP ``ExportLogsServiceRequest`` (protobuf or JSON).

Alerts and late scores are rare next to spans, so this encoder is pure Python on both backends.
The OTLP sink sends what it produces to the collector's logs endpoint (``/v1/logs``).  Field
numbers are those of opentelemetry-proto ``logs/v1/logs.proto`` and
``collector/logs/v1/logs_service.proto``; the JSON follows the OTLP/JSON rules (lowerCamelCase,
hex ids, 64-bit integers as strings).

Mapping (decided here, tested in ``tests/test_sink_otlp_events.py``):

* ``eval.result`` → the GenAI semantic conventions' ``gen_ai.evaluation.result`` event: a log
  record with ``event_name`` ``gen_ai.evaluation.result`` (also as the attribute ``event.name``,
  which collectors older than the field read), severity INFO, time = the envelope's timestamp, and
  the evaluated span's ``trace_id``/``span_id`` (the conventions: *parented to the GenAI operation
  span being evaluated*).  Attributes: ``gen_ai.evaluation.name`` (the score's ``name``, else the
  ``task``, else the ``suite``), ``gen_ai.evaluation.score.value`` (double);
  ``gen_ai.evaluation.score.label`` ``pass``/``fail`` only for an evaluator's verdict (results
  without a ``name``, as mist-go writes them: a late ``mist.score`` has no verdict, its
  ``passed`` is only ``score >= 0.5``); ``error.type`` ``_OTHER`` and ``mist.eval.error`` for a
  failed evaluation; ``mist.eval.suite``, ``mist.eval.task``, and for evaluator results
  ``mist.eval.passed``, ``…baseline_score``, ``…delta``, ``…duration_ms``.
* ``trace.alert`` → an event ``mist.alert`` (the GenAI conventions have no alert): severity WARN
  for a firing ``warning``, ERROR for a firing ``critical``, INFO when ``resolved``; the message
  as the body; attributes ``mist.alert.level``, ``.metric``, ``.value``, ``.threshold``,
  ``.state``, ``.baseline``, ``.detector``, ``.since_ns``, ``.evidence`` (span ids, a string
  array) and ``mist.alert.series.<key>`` per series label.  An alert is about a series, not one
  span: it carries no trace context.
* Resource and scope as for spans (``service.name`` = ``OTEL_SERVICE_NAME`` or the envelope's
  ``source``; scope ``mist``).  Lines of other types, and events whose payload is not an object,
  are counted and skipped.
"""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple

from .otlp_encode import (
    ConvertCounts,
    Resource,
    _as_double,
    _decode_lines,
    _json_any,
    _ld,
    _pack_fixed64,
    _pb_any,
    _pb_kv,
    _pb_string,
    _span_id,
    _time,
    _trace_id,
    json_request,
    pb_request,
)

EVENT_TYPES = ("trace.alert", "eval.result")
EVAL_EVENT = "gen_ai.evaluation.result"
ALERT_EVENT = "mist.alert"

SEVERITY_INFO = 9
SEVERITY_WARN = 13
SEVERITY_ERROR = 17
_SEVERITY_TEXT = {SEVERITY_INFO: "INFO", SEVERITY_WARN: "WARN", SEVERITY_ERROR: "ERROR"}

# A mapped record: (time_ns, severity, event_name, body or None, attrs, trace_id or b"", span_id or b"")
LogRecord = Tuple[int, int, str, Optional[str], List[Tuple[str, Any]], bytes, bytes]


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def map_eval(payload: Dict[str, Any], ts: int) -> LogRecord:
    name = _text(payload.get("name"))
    suite, task = _text(payload.get("suite")), _text(payload.get("task"))
    attrs: List[Tuple[str, Any]] = [("event.name", EVAL_EVENT),
                                    ("gen_ai.evaluation.name", name or task or suite or "unnamed")]
    score = _as_double(payload.get("score"))
    if score is not None and not math.isnan(score):
        attrs.append(("gen_ai.evaluation.score.value", score))
    passed = payload.get("passed")
    if name is None and isinstance(passed, bool):
        attrs.append(("gen_ai.evaluation.score.label", "pass" if passed else "fail"))
    error = _text(payload.get("error"))
    if error is not None:
        attrs.append(("error.type", "_OTHER"))
        attrs.append(("mist.eval.error", error))
    if suite is not None:
        attrs.append(("mist.eval.suite", suite))
    if task is not None:
        attrs.append(("mist.eval.task", task))
    if name is None:
        if isinstance(passed, bool):
            attrs.append(("mist.eval.passed", passed))
        for key in ("baseline_score", "delta"):
            v = _as_double(payload.get(key))
            if v is not None:
                attrs.append(("mist.eval." + key, v))
        d = payload.get("duration_ms")
        if isinstance(d, int) and not isinstance(d, bool):
            attrs.append(("mist.eval.duration_ms", d))
    trace_id = _trace_id(payload.get("trace_id")) or b""
    span_id = (_span_id(payload.get("span_id")) or b"") if trace_id else b""
    return ts, SEVERITY_INFO, EVAL_EVENT, None, attrs, trace_id, span_id


def map_alert(payload: Dict[str, Any], ts: int) -> LogRecord:
    level = payload.get("level")
    state = payload.get("state")
    if state == "resolved":
        severity = SEVERITY_INFO
    else:
        severity = SEVERITY_ERROR if level == "critical" else SEVERITY_WARN
    attrs: List[Tuple[str, Any]] = [("event.name", ALERT_EVENT)]
    for key in ("level", "metric", "state", "detector"):
        v = _text(payload.get(key))
        if v is not None:
            attrs.append(("mist.alert." + key, v))
    for key in ("value", "threshold", "baseline"):
        n = _as_double(payload.get(key))
        if n is not None:
            attrs.append(("mist.alert." + key, n))
    since = payload.get("since_ns")
    if isinstance(since, int) and not isinstance(since, bool):
        attrs.append(("mist.alert.since_ns", since))
    series = payload.get("series")
    if isinstance(series, dict):
        for k, v in series.items():
            if isinstance(v, str):
                attrs.append((f"mist.alert.series.{k}", v))
    evidence = payload.get("evidence")
    if isinstance(evidence, list):
        ids = [e for e in evidence if isinstance(e, str)]
        if ids:
            attrs.append(("mist.alert.evidence", ids))
    message = payload.get("message")
    return ts, severity, ALERT_EVENT, message if isinstance(message, str) else None, attrs, b"", b""


def convert(data: bytes) -> Tuple[List[Tuple[str, List[LogRecord]]], ConvertCounts]:
    """Decode a JSONL batch and map its alerts and eval results, grouped by ``source``.

    ``counts.spans`` is the number of log records; other types are ``counts.skipped``."""
    counts = ConvertCounts()
    groups: Dict[str, List[LogRecord]] = {}
    for env in _decode_lines(data, counts):
        if not isinstance(env, dict):
            counts.bad_lines += 1
            continue
        kind = env.get("type")
        payload = env.get("payload")
        if kind not in EVENT_TYPES:
            key = kind if isinstance(kind, str) else "unknown"
            counts.skipped[key] = counts.skipped.get(key, 0) + 1
            continue
        if not isinstance(payload, dict):
            counts.invalid += 1
            continue
        ts = _time(env.get("timestamp_ns"))
        record = map_eval(payload, ts) if kind == "eval.result" else map_alert(payload, ts)
        source = env.get("source")
        source = source if isinstance(source, str) and source else "unknown_service"
        groups.setdefault(source, []).append(record)
        counts.spans += 1
    return list(groups.items()), counts


def _pb_record(record: LogRecord) -> bytes:
    ts, severity, event, body, attrs, trace_id, span_id = record
    stamp = _pack_fixed64(ts)
    parts = [b"\x09", stamp, b"\x10", bytes((severity,)), _pb_string(b"\x1a", _SEVERITY_TEXT[severity])]
    if body is not None:
        parts.append(_ld(b"\x2a", _pb_any(body)))
    parts.extend(_ld(b"\x32", _pb_kv(k, v)) for k, v in attrs)
    if trace_id:
        parts.append(b"\x4a\x10" + trace_id)
        if span_id:
            parts.append(b"\x52\x08" + span_id)
    parts.append(b"\x59" + stamp)
    parts.append(_pb_string(b"\x62", event))
    return b"".join(parts)


def encode_protobuf(groups: List[Tuple[str, List[LogRecord]]], scope_version: str = "",
                    resource: Optional[Resource] = None) -> bytes:
    """``ExportLogsServiceRequest`` bytes."""
    return pb_request(groups, _pb_record, scope_version, resource)


def _json_record(record: LogRecord) -> Dict[str, Any]:
    ts, severity, event, body, attrs, trace_id, span_id = record
    out: Dict[str, Any] = {"timeUnixNano": str(ts), "observedTimeUnixNano": str(ts),
                           "severityNumber": severity, "severityText": _SEVERITY_TEXT[severity]}
    if body is not None:
        out["body"] = _json_any(body)
    out["attributes"] = [{"key": k, "value": _json_any(v)} for k, v in attrs]
    if trace_id:
        out["traceId"] = trace_id.hex()
        if span_id:
            out["spanId"] = span_id.hex()
    out["eventName"] = event
    return out


def encode_json(groups: List[Tuple[str, List[LogRecord]]], scope_version: str = "",
                resource: Optional[Resource] = None) -> bytes:
    """``ExportLogsServiceRequest`` in OTLP/JSON."""
    return json_request("Logs", "logRecords", groups, _json_record, scope_version, resource)


def is_event_line(line: bytes) -> bool:
    """True when a JSONL line is an envelope of an event type (a cheap test first: only lines
    that name an event type are decoded)."""
    if b'"trace.alert"' not in line and b'"eval.result"' not in line:
        return False
    try:
        env = json.loads(line)
    except ValueError:
        return False
    return isinstance(env, dict) and env.get("type") in EVENT_TYPES


__all__ = ["EVENT_TYPES", "EVAL_EVENT", "ALERT_EVENT", "convert", "encode_protobuf", "encode_json",
           "is_event_line", "map_eval", "map_alert"]
