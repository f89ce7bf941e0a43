"""OTLP sink: spans decoded by a real OTLP receiver (opentelemetry-proto), both encodings.

Every mapped attribute, id, time, kind, name and status is checked against the MTTP input.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from mist.sinks import otlp_encode  # noqa: E402
from mist.errors import ConfigError  # noqa: E402
from mist.sinks.otlp import OTLPSink  # noqa: E402
from receivers import Fault, OTLPReceiver, batch, make_lines, otlp_json_to_proto  # noqa: E402

DATA = Path(__file__).parent / "data" / "mist-go-canonical.jsonl"
FAST = "retry_initial=0.01&retry_max_delay=0.05"
# The gen_ai.* attributes of the compat file's Anthropic chat span (b7ad6b7169203331) in OTLP,
# as (value kind, value): what both OTLP encoders must write for it.
CHAT_GENAI = {
    "gen_ai.operation.name": ("string_value", "chat"),
    "gen_ai.provider.name": ("string_value", "anthropic"),
    "gen_ai.request.model": ("string_value", "claude-sonnet-4-5"),
    "gen_ai.response.model": ("string_value", "claude-sonnet-4-5"),
    "gen_ai.usage.input_tokens": ("int_value", 1500),
    "gen_ai.usage.output_tokens": ("int_value", 420),
    "gen_ai.usage.cache_read.input_tokens": ("int_value", 800),
    "gen_ai.usage.cache_creation.input_tokens": ("int_value", 100),
    "gen_ai.usage.reasoning.output_tokens": ("int_value", 64),
    "gen_ai.response.finish_reasons": [("string_value", "stop")],
    "gen_ai.conversation.id": ("string_value", "conv_1"),
}
CLIENT, INTERNAL = 3, 1


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def envelope(i: int, source: str, payload: Dict[str, Any], type_: str = "trace.span") -> bytes:
    return dumps({"version": "1", "id": f"{i:032x}", "source": source, "type": type_,
                  "timestamp_ns": 1_750_000_000_000_000_000 + i, "payload": payload})


T1 = "0af7651916cd43dd8448eb211c80319c"
T2 = "4bf92f3577b34da6a3ce929d0e0e4736"

SPANS: List[Dict[str, Any]] = [
    {  # an inference span with every well-known attribute
        "trace_id": T1, "span_id": "b7ad6b7169203331", "parent_id": "00f067aa0ba902b7",
        "operation": "llm.call", "start_ns": 1_750_000_000_123_456_789, "end_ns": 1_750_000_001_987_654_321,
        "status": "ok",
        "attrs": {"cost_usd": 7920, "finish_reason": "stop", "latency_ms": 1864, "model": "claude-sonnet-4-5",
                  "provider": "anthropic", "retry": 0, "score.accuracy": 1, "score.f1": 0.75, "step": 3,
                  "tokens_cache_read": 800, "tokens_cache_write": 100, "tokens_in": 1500,
                  "tokens_out": 420, "tokens_reasoning": 64, "unpriced": False,
                  "input": "hi <there> & you", "tags": ["a", 1, True], "meta": {"k": "v", "n": 2},
                  "gen_ai.conversation.id": "conv_1", "big": 18446744073709551615},
    },
    {  # a tool step: no model, INTERNAL, operation name mapped from the alias
        "trace_id": T1, "span_id": "1111111111111111", "parent_id": "b7ad6b7169203331",
        "operation": "tool.search", "start_ns": 10, "end_ns": 20, "status": "ok",
        "attrs": {"query": "weather"},
    },
    {  # an error from the Go tools: 32-hex span and parent ids, explicit error type
        "trace_id": T2, "span_id": "c2ce30b88bfea08f03852dde483ef826", "parent_id": "445f093505070c89b3832caa57833f65",
        "operation": "embeddings", "start_ns": 100, "end_ns": 200, "status": "error",
        "attrs": {"error": "rate limited: try later", "error_type": "RateLimitError", "model": "text-embedding-3-small",
                  "finish_reason": ["length", "stop"]},
    },
    {  # an error without a type, a root span without attrs
        "trace_id": T2, "span_id": "2222222222222222", "operation": "agent.run", "start_ns": 5, "end_ns": 6,
        "status": "error",
    },
]


def mixed_batch() -> bytes:
    lines = [
        envelope(0, "agent", SPANS[0]),
        envelope(1, "agent", SPANS[1]),
        envelope(2, "infermux", SPANS[2]),
        envelope(3, "agent", {"level": "critical", "metric": "cost_usd", "value": 2, "threshold": 1,
                              "message": "cost up"}, "trace.alert"),
        envelope(4, "agent", {"suite": "s", "task": "t", "passed": True, "score": 1, "baseline_score": 1,
                              "delta": 0, "duration_ms": 3}, "eval.result"),
        envelope(5, "agent", SPANS[3]),
        envelope(6, "agent", {"trace_id": "zz", "span_id": "1", "operation": "x", "start_ns": 1, "end_ns": 2,
                              "status": "ok"}),
        b"{not json",
    ]
    return b"".join(line + b"\n" for line in lines)


def anyvalue(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [anyvalue(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: anyvalue(kv.value) for kv in v.kvlist_value.values}
    return (which, getattr(v, which))


def attrs_of(span: Any) -> Dict[str, Any]:
    out = {}
    for kv in span.attributes:
        assert kv.key not in out, f"duplicate attribute {kv.key}"
        out[kv.key] = anyvalue(kv.value)
    return out


@pytest.fixture
def receiver():
    r = OTLPReceiver()
    yield r
    r.stop()


def send(receiver: OTLPReceiver, data: bytes, query: str = "", env: Dict[str, str] = None) -> OTLPSink:
    sink = OTLPSink.from_url(f"otlp://127.0.0.1:{receiver.port}?spool=off&{FAST}" + (f"&{query}" if query else ""),
                             environ=env or {})
    sink.write(data)
    assert sink.flush(10)
    sink.close(5)
    return sink


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_spans_map_to_genai_conventions(receiver, encoding):
    sink = send(receiver, mixed_batch(), f"encoding={encoding}")
    req = receiver.requests[0]
    assert req.path == "/v1/traces"
    assert req.headers["content-type"] == ("application/json" if encoding == "json" else "application/x-protobuf")
    msg = req.decoded
    services = [{kv.key: kv.value.string_value for kv in rs.resource.attributes} for rs in msg.resource_spans]
    assert services == [
        {"service.name": "agent", "telemetry.sdk.name": "mist", "telemetry.sdk.language": "python"},
        {"service.name": "infermux", "telemetry.sdk.name": "mist", "telemetry.sdk.language": "python"},
    ]
    assert all(rs.scope_spans[0].scope.name == "mist" for rs in msg.resource_spans)
    spans = {s.span_id.hex(): s for _, s in receiver.spans()}
    assert len(spans) == 4

    s = spans["b7ad6b7169203331"]
    assert s.trace_id.hex() == T1 and s.parent_span_id.hex() == "00f067aa0ba902b7"
    assert s.name == "chat claude-sonnet-4-5" and s.kind == CLIENT
    assert s.start_time_unix_nano == 1_750_000_000_123_456_789 and s.end_time_unix_nano == 1_750_000_001_987_654_321
    assert s.status.code == 1 and s.status.message == ""
    assert attrs_of(s) == {
        **CHAT_GENAI,
        "mist.operation": ("string_value", "llm.call"),
        "mist.cost_usd": ("double_value", 7920.0),
        "mist.latency_ms": ("double_value", 1864.0),
        "mist.score.accuracy": ("double_value", 1.0),
        "mist.score.f1": ("double_value", 0.75),
        "mist.retry": ("int_value", 0),
        "mist.step": ("int_value", 3),
        "mist.unpriced": ("bool_value", False),
        "input.value": ("string_value", "hi <there> & you"),
        "openinference.span.kind": ("string_value", "LLM"),
        "llm.model_name": ("string_value", "claude-sonnet-4-5"),
        "llm.provider": ("string_value", "anthropic"),
        "llm.token_count.prompt": ("int_value", 1500),
        "llm.token_count.completion": ("int_value", 420),
        "llm.token_count.total": ("int_value", 1920),
        "llm.token_count.prompt_details.cache_read": ("int_value", 800),
        "llm.token_count.prompt_details.cache_write": ("int_value", 100),
        "llm.token_count.completion_details.reasoning": ("int_value", 64),
        "llm.cost.total": ("double_value", 7920.0),
        "mist.tags": [("string_value", "a"), ("int_value", 1), ("bool_value", True)],
        "mist.meta": {"k": ("string_value", "v"), "n": ("int_value", 2)},
        "mist.big": ("double_value", 18446744073709551615.0),
    }

    s = spans["1111111111111111"]
    assert s.name == "tool.search" and s.kind == INTERNAL
    assert attrs_of(s) == {
        "gen_ai.operation.name": ("string_value", "execute_tool"),
        "mist.operation": ("string_value", "tool.search"),
        "openinference.span.kind": ("string_value", "TOOL"),
        "mist.query": ("string_value", "weather"),
    }

    s = spans["03852dde483ef826"]  # last 16 hex of the Go tools' 32-hex ids
    assert s.parent_span_id.hex() == "b3832caa57833f65"
    assert s.name == "embeddings text-embedding-3-small" and s.kind == CLIENT
    assert s.status.code == 2 and s.status.message == "rate limited: try later"
    a = attrs_of(s)
    assert a["error.type"] == ("string_value", "RateLimitError")
    assert a["gen_ai.operation.name"] == ("string_value", "embeddings")
    assert a["gen_ai.response.finish_reasons"] == [("string_value", "length"), ("string_value", "stop")]
    assert a["mist.error"] == ("string_value", "rate limited: try later")
    assert a["openinference.span.kind"] == ("string_value", "EMBEDDING")

    s = spans["2222222222222222"]
    assert s.parent_span_id == b"" and s.kind == INTERNAL and s.name == "agent.run"
    assert s.status.code == 2
    assert attrs_of(s) == {
        "gen_ai.operation.name": ("string_value", "invoke_agent"),
        "error.type": ("string_value", "_OTHER"),
        "mist.operation": ("string_value", "agent.run"),
        "openinference.span.kind": ("string_value", "AGENT"),
    }

    stats = sink.stats()
    assert stats["otlp_spans"] == 4 and stats["sent_envelopes"] == 8
    assert stats["otlp_log_records"] == 2 and not [k for k in stats if k.startswith("otlp_skipped.")]
    assert [r.path for r in receiver.requests] == ["/v1/traces", "/v1/logs"]
    assert stats["otlp_invalid_spans"] == 1 and stats["otlp_bad_lines"] == 1


def test_protobuf_and_json_encodings_decode_to_the_same_message():
    groups, _ = otlp_encode.convert(mixed_batch() + DATA.read_bytes())
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    pb = trace_service_pb2.ExportTraceServiceRequest()
    pb.ParseFromString(otlp_encode.encode_protobuf(groups, "1.2.3"))
    doc = json.loads(otlp_encode.encode_json(groups, "1.2.3"))
    assert pb == otlp_json_to_proto(doc)
    assert pb.resource_spans[0].scope_spans[0].scope.version == "1.2.3"
    # the OTLP/JSON specifics: hex ids, 64-bit integers as strings, enums as integers, camelCase
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == T1 and span["spanId"] == "b7ad6b7169203331"
    assert span["startTimeUnixNano"] == "1750000000123456789" and span["kind"] == 3
    assert span["status"] == {"code": 1}
    ints = [a["value"] for a in span["attributes"] if "intValue" in a["value"]]
    assert ints and all(isinstance(v["intValue"], str) for v in ints)

    def keys(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k not in ("key",):
                    yield k
                yield from keys(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from keys(v)

    assert not [k for k in keys(doc) if "_" in k]


def test_every_mist_go_span_arrives_with_ids_times_and_status(receiver):
    lines = [json.loads(line) for line in DATA.read_bytes().split(b"\n") if line]
    sink = send(receiver, DATA.read_bytes())
    expected = [e for e in lines if e["type"] == "trace.span"]
    got = receiver.spans()
    assert len(got) == len(expected)
    by_id = {s.span_id.hex(): (svc, s) for svc, s in got}
    for env in expected:
        p = env["payload"]
        svc, s = by_id[p["span_id"][-16:]]
        assert svc == env["source"]
        assert s.trace_id.hex() == p["trace_id"]
        assert s.parent_span_id.hex() == p.get("parent_id", "")[-16:]
        assert (s.start_time_unix_nano, s.end_time_unix_nano) == (p["start_ns"], p["end_ns"])
        assert s.status.code == (2 if p["status"] == "error" else 1)
        attrs = p.get("attrs", {})
        a = attrs_of(s)
        model = attrs.get("model")
        assert s.kind == (CLIENT if model else INTERNAL)
        if model:
            assert s.name.endswith(" " + model) and a["gen_ai.request.model"] == ("string_value", model)
        else:
            assert s.name == p["operation"]
        for key, otel in (("tokens_in", "gen_ai.usage.input_tokens"), ("tokens_out", "gen_ai.usage.output_tokens")):
            if isinstance(attrs.get(key), int):
                assert a[otel] == ("int_value", attrs[key])
        if "cost_usd" in attrs:
            assert a["mist.cost_usd"] == ("double_value", float(attrs["cost_usd"]))
    stats = sink.stats()
    assert stats["otlp_spans"] == len(expected)
    skipped = sum(v for k, v in stats.items() if k.startswith("otlp_skipped."))
    events = [e for e in lines if e["type"] in ("trace.alert", "eval.result")]
    assert stats.get("otlp_log_records", 0) == len(events) == len(receiver.log_records())
    assert skipped == len(lines) - len(expected) - len(events)


def test_gzip_and_headers_from_otel_env_but_never_mist_headers(receiver):
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=general,x-tenant=a%20b",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=traces",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "MIST_HTTP_HEADERS": "Authorization=Bearer mist-secret",
    }
    send(receiver, batch(make_lines(20)), env=env)
    req = receiver.requests[0]
    assert req.headers["content-encoding"] == "gzip" and req.raw[:2] == b"\x1f\x8b"
    assert req.headers["api-key"] == "traces" and req.headers["x-tenant"] == "a b"
    assert "authorization" not in req.headers
    assert receiver.items == 20
    send(receiver, batch(make_lines(5)), "compression=none", env=env)
    assert "content-encoding" not in receiver.requests[1].headers


def test_http_json_protocol_env_selects_json(receiver):
    send(receiver, batch(make_lines(3)), env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})
    assert receiver.requests[0].headers["content-type"] == "application/json"
    assert receiver.items == 3


@pytest.mark.parametrize(
    "url, env, shown",
    [
        ("otlp://127.0.0.1:4318", {}, "http://127.0.0.1:4318/v1/traces"),
        ("otlp://collector", {}, "http://collector:4318/v1/traces"),
        ("otlp+https://api.vendor.example", {}, "https://api.vendor.example/v1/traces"),
        ("otlp+https://api.vendor.example:4318/custom/traces", {}, "https://api.vendor.example:4318/custom/traces"),
        ("otlp://", {}, "http://localhost:4318/v1/traces"),
        ("otlp://", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/base/"}, "http://c:4318/base/v1/traces"),
        ("otlp://", {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://t:9/x"},
         "https://t:9/x"),
        ("otlp://h:1?encoding=json", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:2"}, "http://h:1/v1/traces?encoding=json"),
    ],
)
def test_endpoint_resolution(url, env, shown, tmp_path):
    sink = OTLPSink.from_url(url + ("&" if "?" in url else "?") + f"spool={tmp_path}", environ=env)
    assert sink.url.split("?")[0] == shown.split("?")[0]
    sink.close(0)


def test_timeout_env_is_milliseconds():
    sink = OTLPSink.from_url("otlp://h:1?spool=off", environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"})
    assert sink._read_timeout == 2.5 and sink._connect_timeout == 2.5
    sink.close(0)


@pytest.mark.parametrize(
    "url, env, needle",
    [
        ("otlp://h:1?encoding=xml", {}, "?encoding"),
        ("otlp://h:1?batch=none", {}, "?batch"),
        ("otlp://h:1?compression=zstd", {}, "?compression"),
        ("otlp://h:1?nope=1", {}, "?nope"),
        ("otlp://h:99999", {}, "port"),
        ("otel://h:1", {}, "scheme"),
        ("otlp://h:1", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ("otlp://h:1", {"OTEL_EXPORTER_OTLP_COMPRESSION": "br"}, "OTEL_EXPORTER_OTLP_COMPRESSION"),
        ("otlp://h:1", {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ("otlp://h:1", {"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "OTEL_EXPORTER_OTLP_HEADERS"),
    ],
)
def test_bad_configuration_raises_config_error(url, env, needle):
    with pytest.raises(ConfigError) as info:
        OTLPSink.from_url(url, environ=env)
    assert needle in str(info.value)


def test_500_is_not_retried_but_503_is(receiver):
    receiver.script(Fault.status(500), Fault.status(503, retry_after="0"))
    sink = OTLPSink.from_url(f"otlp://127.0.0.1:{receiver.port}?spool=off&{FAST}", environ={})
    sink.write(batch(make_lines(4)))
    assert not sink.flush(10)  # dropped
    sink.write(batch(make_lines(6, start=4)))
    assert sink.flush(10)
    sink.close(5)
    assert receiver.items == 6
    stats = sink.stats()
    assert stats["dropped"]["http_500"] == 4 and stats["retries"] == 1 and stats["otlp_spans"] == 6


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_partial_success_is_counted(encoding):
    with OTLPReceiver(rejected=2) as r:
        sink = send(r, batch(make_lines(5)), f"encoding={encoding}")
        assert sink.stats()["otlp_rejected_spans"] == 2


def test_batches_of_only_alerts_send_no_traces_request(receiver):
    alert = envelope(1, "a", {"level": "warning", "metric": "m", "value": 1, "threshold": 0, "message": "x"},
                     "trace.alert")
    sink = send(receiver, alert + b"\n")
    assert [r.path for r in receiver.requests] == ["/v1/logs"]
    assert sink.stats()["otlp_log_records"] == 1
    receiver.requests.clear()
    sink = send(receiver, alert + b"\n", "logs=none")
    assert receiver.requests == []
    assert sink.stats()["otlp_skipped.trace.alert"] == 1


def test_outage_spools_raw_batches_and_recovery_encodes_them(tmp_path):
    r = OTLPReceiver()
    port = r.port
    r.stop()
    sink = OTLPSink.from_url(f"otlp://127.0.0.1:{port}?spool={tmp_path}&{FAST}&retry_window=0", environ={})
    lines = make_lines(50)
    for i in range(5):
        sink.write(batch(lines[i * 10:(i + 1) * 10]))
    assert not sink.flush(5)
    assert sink.stats()["spooled_envelopes"] == 50
    r = OTLPReceiver(port)
    try:
        assert sink.flush(10)
        sink.close(5)
        ids = [s.span_id.hex() for _, s in r.spans()]
        expected = [json.loads(line)["payload"]["span_id"] for line in lines]
        assert ids == expected
    finally:
        r.stop()


REQUEST_SPAN = {
    "trace_id": T1, "span_id": "3333333333333333", "operation": "chat", "start_ns": 1, "end_ns": 2,
    "status": "ok",
    "attrs": {"model": "gpt-4o-mini-2024-07-18", "request_model": "gpt-4o-mini", "provider": "openai",
              "temperature": 0, "top_p": 0.9, "top_k": 40, "frequency_penalty": 0.5, "presence_penalty": -0.5,
              "max_tokens": 256, "seed": 7, "choice_count": 2, "stop_sequences": "END",
              "user_id": "u-1", "session_id": "s-1", "tokens_in": 10, "tokens_out": 5, "cost_usd": 0.00012,
              "output": {"role": "assistant", "content": "hé"},
              "gen_ai.request.max_tokens": 1, "gen_ai.request.encoding_formats": ["float"]},
}


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_request_parameters_users_sessions_and_models(receiver, encoding):
    send(receiver, envelope(0, "svc", REQUEST_SPAN), f"encoding={encoding}")
    (_, s), = receiver.spans()
    assert s.name == "chat gpt-4o-mini-2024-07-18"
    a = attrs_of(s)
    assert a["gen_ai.request.model"] == ("string_value", "gpt-4o-mini")
    assert a["gen_ai.response.model"] == ("string_value", "gpt-4o-mini-2024-07-18")
    assert a["llm.model_name"] == ("string_value", "gpt-4o-mini-2024-07-18")
    assert a["gen_ai.request.temperature"] == ("double_value", 0.0)  # a double even when integral
    assert a["gen_ai.request.top_p"] == ("double_value", 0.9)
    assert a["gen_ai.request.top_k"] == ("double_value", 40.0)
    assert a["gen_ai.request.frequency_penalty"] == ("double_value", 0.5)
    assert a["gen_ai.request.presence_penalty"] == ("double_value", -0.5)
    assert a["gen_ai.request.max_tokens"] == ("int_value", 256)  # the mapped value wins over a raw gen_ai.* attr
    assert a["gen_ai.request.seed"] == ("int_value", 7)
    assert a["gen_ai.request.choice.count"] == ("int_value", 2)
    assert a["gen_ai.request.stop_sequences"] == [("string_value", "END")]
    assert a["gen_ai.request.encoding_formats"] == [("string_value", "float")]
    assert a["user.id"] == ("string_value", "u-1") and a["session.id"] == ("string_value", "s-1")
    assert a["mist.cost_usd"] == a["llm.cost.total"] == ("double_value", 0.00012)
    assert a["llm.token_count.total"] == ("int_value", 15)
    assert a["output.value"] == ("string_value", '{"role":"assistant","content":"hé"}')
    assert a["output.mime_type"] == ("string_value", "application/json")
    assert not [k for k in a if k.startswith("mist.") and k not in ("mist.operation", "mist.cost_usd")]


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_resource_from_otel_service_name_and_resource_attributes(receiver, encoding):
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs, deployment.environment=prod%20eu,"
                                       "openinference.project.name=p%2C1,telemetry.sdk.name=x",
           "OTEL_SERVICE_NAME": "checkout"}
    send(receiver, mixed_batch(), f"encoding={encoding}", env=env)
    resources = [[(kv.key, kv.value.string_value) for kv in rs.resource.attributes]
                 for rs in receiver.requests[0].decoded.resource_spans]
    extra = [("deployment.environment", "prod eu"), ("openinference.project.name", "p,1")]
    fixed = [("telemetry.sdk.name", "mist"), ("telemetry.sdk.language", "python")]
    assert resources == [[("service.name", "checkout")] + fixed + extra] * 2  # one per source, as before
    receiver.requests.clear()
    del env["OTEL_SERVICE_NAME"]
    send(receiver, mixed_batch(), f"encoding={encoding}", env=env)
    names = [rs.resource.attributes[0].value.string_value for rs in receiver.requests[0].decoded.resource_spans]
    assert names == ["from-attrs", "from-attrs"]


def test_malformed_resource_attributes_are_ignored_with_a_warning(receiver):
    with pytest.warns(RuntimeWarning, match="OTEL_RESOURCE_ATTRIBUTES"):
        send(receiver, mixed_batch(), env={"OTEL_RESOURCE_ATTRIBUTES": "a=1,novalue"})
    attrs = [kv.key for kv in receiver.requests[0].decoded.resource_spans[0].resource.attributes]
    assert attrs == ["service.name", "telemetry.sdk.name", "telemetry.sdk.language"]
