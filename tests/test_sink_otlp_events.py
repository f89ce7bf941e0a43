"""Alerts and late eval scores over OTLP: log records at ``/v1/logs``, decoded by opentelemetry-proto.

A late ``mist.score`` becomes the GenAI conventions' ``gen_ai.evaluation.result`` event parented
to the evaluated span; a ``trace.alert`` becomes a ``mist.alert`` event.  A backend without a logs
endpoint (Arize Phoenix answers 405) stops the sink trying, and spans go on.
"""
from __future__ import annotations

import json
import warnings
from typing import Any, Dict

import pytest

pytest.importorskip("opentelemetry.proto.collector.logs.v1.logs_service_pb2")

import mist  # noqa: E402
from mist.sinks import otlp_logs  # noqa: E402
from mist.sinks.otlp import OTLPSink  # noqa: E402
from receivers import OTLPReceiver, batch, make_lines, otlp_json_to_proto  # noqa: E402
from test_sink_otlp import FAST, T1, anyvalue, attrs_of, envelope, send  # noqa: E402

INFO, WARN, ERROR = 9, 13, 17

ALERT = {"level": "critical", "metric": "latency_ms", "value": 1830.5, "threshold": 1200, "message":
         "chat/gpt-4o latency_ms rose 52% from 1.20 s to 1.83 s", "state": "firing", "baseline": 1204.25,
         "detector": "cusum", "series": {"operation": "chat", "model": "gpt-4o"}, "since_ns": 1_750_000_000_000_000_000,
         "evidence": ["b7ad6b7169203331", "00f067aa0ba902b7"]}
GO_EVAL = {"suite": "qa", "task": "capital-cities", "passed": False, "score": 0.25, "baseline_score": 0.75,
           "delta": -0.5, "duration_ms": 1234, "error": "judge timed out"}
LATE = {"suite": "mist", "task": "llm.call", "passed": False, "score": 0.42, "baseline_score": 0, "delta": 0,
        "duration_ms": 0, "trace_id": T1, "span_id": "b7ad6b7169203331", "name": "faithfulness"}


@pytest.fixture
def receiver():
    r = OTLPReceiver()
    yield r
    r.stop()


def records(receiver: OTLPReceiver) -> Dict[str, Any]:
    return {r.event_name + ":" + anyvalue_name(r): r for _, r in receiver.log_records()}


def anyvalue_name(record: Any) -> str:
    a = attrs_of(record)
    return str((a.get("gen_ai.evaluation.name") or a.get("mist.alert.state") or ("", ""))[1])


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_scores_and_alerts_become_log_records(receiver, encoding):
    resolved = {**ALERT, "state": "resolved", "level": "warning", "message": "latency back"}
    data = batch([envelope(1, "agent", LATE, "eval.result"), envelope(2, "agent", GO_EVAL, "eval.result"),
                  envelope(3, "agent", ALERT, "trace.alert"), envelope(4, "agent", resolved, "trace.alert")])
    sink = send(receiver, data, f"encoding={encoding}")
    [req] = receiver.requests
    assert req.path == "/v1/logs"
    assert req.headers["content-type"] == ("application/json" if encoding == "json" else "application/x-protobuf")
    [rl] = req.decoded.resource_logs
    assert {kv.key: kv.value.string_value for kv in rl.resource.attributes}["service.name"] == "agent"
    assert rl.scope_logs[0].scope.name == "mist"
    got = records(receiver)
    assert sorted(got) == ["gen_ai.evaluation.result:capital-cities", "gen_ai.evaluation.result:faithfulness",
                           "mist.alert:firing", "mist.alert:resolved"]

    late = got["gen_ai.evaluation.result:faithfulness"]
    assert late.trace_id.hex() == T1 and late.span_id.hex() == "b7ad6b7169203331"  # parented to the span
    assert late.severity_number == INFO and late.severity_text == "INFO"
    assert late.time_unix_nano == late.observed_time_unix_nano == 1_750_000_000_000_000_001
    assert attrs_of(late) == {  # no pass/fail label: a late score has no verdict
        "event.name": ("string_value", "gen_ai.evaluation.result"),
        "gen_ai.evaluation.name": ("string_value", "faithfulness"),
        "gen_ai.evaluation.score.value": ("double_value", 0.42),
        "mist.eval.suite": ("string_value", "mist"),
        "mist.eval.task": ("string_value", "llm.call"),
    }

    go = got["gen_ai.evaluation.result:capital-cities"]
    assert go.trace_id == b"" and go.span_id == b""
    assert attrs_of(go) == {
        "event.name": ("string_value", "gen_ai.evaluation.result"),
        "gen_ai.evaluation.name": ("string_value", "capital-cities"),
        "gen_ai.evaluation.score.value": ("double_value", 0.25),
        "gen_ai.evaluation.score.label": ("string_value", "fail"),
        "error.type": ("string_value", "_OTHER"),
        "mist.eval.error": ("string_value", "judge timed out"),
        "mist.eval.suite": ("string_value", "qa"),
        "mist.eval.task": ("string_value", "capital-cities"),
        "mist.eval.passed": ("bool_value", False),
        "mist.eval.baseline_score": ("double_value", 0.75),
        "mist.eval.delta": ("double_value", -0.5),
        "mist.eval.duration_ms": ("int_value", 1234),
    }

    firing = got["mist.alert:firing"]
    assert firing.severity_number == ERROR and firing.severity_text == "ERROR"
    assert anyvalue(firing.body) == ("string_value", ALERT["message"])
    assert firing.trace_id == b""
    assert attrs_of(firing) == {
        "event.name": ("string_value", "mist.alert"),
        "mist.alert.level": ("string_value", "critical"),
        "mist.alert.metric": ("string_value", "latency_ms"),
        "mist.alert.state": ("string_value", "firing"),
        "mist.alert.detector": ("string_value", "cusum"),
        "mist.alert.value": ("double_value", 1830.5),
        "mist.alert.threshold": ("double_value", 1200.0),
        "mist.alert.baseline": ("double_value", 1204.25),
        "mist.alert.since_ns": ("int_value", 1_750_000_000_000_000_000),
        "mist.alert.series.operation": ("string_value", "chat"),
        "mist.alert.series.model": ("string_value", "gpt-4o"),
        "mist.alert.evidence": [("string_value", "b7ad6b7169203331"), ("string_value", "00f067aa0ba902b7")],
    }
    assert got["mist.alert:resolved"].severity_number == INFO
    stats = sink.stats()
    assert stats["otlp_log_records"] == 4 and stats["sent_envelopes"] == 4
    assert "otlp_spans" not in stats


def test_warning_alert_is_warn():
    record = otlp_logs.map_alert({**ALERT, "level": "warning"}, 1)
    assert record[1] == WARN


def test_protobuf_and_json_decode_to_the_same_message():
    data = batch([envelope(1, "a", LATE, "eval.result"), envelope(2, "b", ALERT, "trace.alert"),
                  envelope(3, "a", {**GO_EVAL, "score": float("inf")}, "eval.result")])
    groups, counts = otlp_logs.convert(data)
    assert counts.spans == 3
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    pb = logs_service_pb2.ExportLogsServiceRequest()
    pb.ParseFromString(otlp_logs.encode_protobuf(groups, "1.2.3"))
    doc = json.loads(otlp_logs.encode_json(groups, "1.2.3"))
    assert pb == otlp_json_to_proto(doc, logs=True)
    assert [rl.resource.attributes[0].value.string_value for rl in pb.resource_logs] == ["a", "b"]
    assert pb.resource_logs[0].scope_logs[0].scope.version == "1.2.3"
    record = doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["traceId"] == T1 and record["timeUnixNano"] == "1750000000000000001"
    assert record["eventName"] == "gen_ai.evaluation.result"


def test_mixed_batch_sends_spans_first_then_events_in_order(receiver):
    lines = make_lines(3)
    data = batch([lines[0], envelope(9, "svc", LATE, "eval.result"), lines[1],
                  envelope(10, "svc", ALERT, "trace.alert"), lines[2]])
    sink = send(receiver, data)
    assert [r.path for r in receiver.requests] == ["/v1/traces", "/v1/logs"]
    assert len(receiver.spans()) == 3
    assert [r.event_name for _, r in receiver.log_records()] == ["gen_ai.evaluation.result", "mist.alert"]
    stats = sink.stats()
    assert (stats["otlp_spans"], stats["otlp_log_records"], stats["sent_envelopes"]) == (3, 2, 5)


def test_a_span_attr_that_mentions_an_event_type_stays_a_span(receiver):
    line = make_lines(1)[0].replace(b'"operation":"chat"', b'"operation":"chat","note":"\\"trace.alert\\""')
    assert b'"trace.alert"' in line.replace(b"\\", b"")
    sink = send(receiver, batch([line]))
    assert [r.path for r in receiver.requests] == ["/v1/traces"]
    assert sink.stats()["otlp_spans"] == 1


def test_a_backend_without_logs_is_learned_once_and_spans_go_on():
    """Phoenix and traces-only collectors answer /v1/logs with 405 or 404."""
    with OTLPReceiver(logs_status=405) as r:
        sink = OTLPSink.from_url(f"otlp://127.0.0.1:{r.port}?spool=off&{FAST}", environ={})
        for i in range(3):
            sink.write(batch(make_lines(2, start=2 * i) + [envelope(i, "svc", LATE, "eval.result")]))
            assert sink.flush(10)
        stats = sink.stats()
        sink.close(5)
        assert [req.path for req in r.requests] == ["/v1/traces", "/v1/logs", "/v1/traces", "/v1/traces"]
        assert len(r.spans()) == 6
        assert stats["otlp_logs_unsupported"] == 405
        assert stats["otlp_skipped.eval.result"] == 3  # the one refused, then not tried again
        assert stats["dropped"] == {}  # not a loss that fails flush()
        assert "takes no OTLP logs" in sink.last_error


def test_events_survive_an_outage_in_the_spool(tmp_path):
    r = OTLPReceiver()
    port = r.port
    r.stop()
    sink = OTLPSink.from_url(f"otlp://127.0.0.1:{port}?spool={tmp_path}&{FAST}&retry_window=0", environ={})
    sink.write(batch(make_lines(4) + [envelope(1, "svc", ALERT, "trace.alert")]))
    assert not sink.flush(3)
    r = OTLPReceiver(port)
    try:
        assert sink.flush(10)
        sink.close(5)
        assert len(r.spans()) == 4
        assert [rec.event_name for _, rec in r.log_records()] == ["mist.alert"]
    finally:
        r.stop()


@pytest.mark.parametrize("url,env,expected", [
    ("otlp://h:1", {}, "/v1/logs"),
    ("otlp://h:1/prefix/v1/traces", {}, "/prefix/v1/logs"),
    ("otlp://h:1/custom", {}, None),                                # cannot guess: off
    ("otlp://h:1/custom?logs=/ingest/logs", {}, "/ingest/logs"),
    ("otlp://h:1?logs=none", {}, None),
    ("otlp://", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/base/"}, "/base/v1/logs"),
    ("otlp://h:1", {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://h:1/my/logs"}, "/my/logs"),
])
def test_the_logs_path(url, env, expected):
    sink = OTLPSink.from_url(url + ("&" if "?" in url else "?") + "spool=off", environ=env)
    try:
        assert sink._logs_path == expected
    finally:
        sink.close(0.1)


def test_a_logs_endpoint_on_another_collector_is_refused_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sink = OTLPSink.from_url("otlp://h:1?spool=off", environ={"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://other:2"})
    sink.close(0.1)
    assert sink._logs_path is None
    assert any("another collector" in str(w.message) for w in caught)


def test_a_bad_logs_option_is_one_line():
    with pytest.raises(mist.ConfigError, match=r"\?logs='v1/logs'"):
        OTLPSink.from_url("otlp://h:1?logs=v1/logs", environ={})


def test_a_late_score_through_the_public_api_reaches_the_collector(receiver):
    mist.configure(f"otlp://127.0.0.1:{receiver.port}?spool=off&{FAST}", alerts=False)
    try:
        with mist.trace("agent.run"):
            with mist.span("llm.call", model="gpt-4o-mini") as span:
                span.usage(tokens_in=10, tokens_out=5)
        mist.score("faithfulness", 0.9, span=span)
        assert mist.flush(10)
    finally:
        mist.configure("null://")
    [(_, record)] = receiver.log_records()
    assert record.trace_id.hex() == span.trace_id and record.span_id.hex() == span.span_id
    a = attrs_of(record)
    assert a["gen_ai.evaluation.name"] == ("string_value", "faithfulness")
    assert a["gen_ai.evaluation.score.value"] == ("double_value", 0.9)
    exported = {s.span_id.hex() for _, s in receiver.spans()}
    assert span.span_id in exported
