"""The native OTLP protobuf encoder (``rust/src/otlp.rs``): the same bytes and counts as
``otlp_encode.convert()`` + ``encode_protobuf()`` for every batch, odd and broken lines included.

The native encoder may decline a batch (returns None) that Python's lenient ``json`` could read
differently from the strict decoder (NaN, duplicate keys, numbers past a 64-bit float, …); the
sink then runs the Python encoder. The tests pin down both: equal output whenever it answers,
and that it answers for every batch of strict JSON.
"""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import DATA, cores, run_python
from mist.sinks import otlp_encode

native = cores().get("native")
pytestmark = pytest.mark.skipif(native is None, reason="native extension not built")

T1 = "0af7651916cd43dd8448eb211c80319c"
S1 = "b7ad6b7169203331"
VERSION = "0.1.0"


def python_result(data: bytes) -> Tuple[bytes, int, List[Tuple[str, int]], int, int]:
    groups, c = otlp_encode.convert(data)
    body = otlp_encode.encode_protobuf(groups, VERSION) if groups else b""
    return body, c.spans, list(c.skipped.items()), c.invalid, c.bad_lines


def native_result(data: bytes) -> Optional[Tuple[bytes, int, List[Tuple[str, int]], int, int]]:
    got = native.otlp_protobuf(data, VERSION)
    return None if got is None else (got[0], got[1], list(got[2]), got[3], got[4])


def assert_same(data: bytes) -> None:
    got = native_result(data)
    assert got is not None, data[:300]
    assert got == python_result(data), data[:300]


def line(payload: Any, source: Any = "agent", type_: Any = "trace.span", **extra: Any) -> bytes:
    env = {"version": "1", "id": "1" * 32, "source": source, "type": type_, "timestamp_ns": 1, "payload": payload}
    env.update(extra)
    return json.dumps(env).encode("utf-8", "surrogatepass")


def span(attrs: Any = None, **fields: Any) -> dict:
    p = {"trace_id": T1, "span_id": S1, "operation": "chat", "start_ns": 1, "end_ns": 2, "status": "ok"}
    p.update(fields)
    if attrs is not None:
        p["attrs"] = attrs
    return p


# ---------------------------------------------------------------------------------------------
# (a) the fixture files


@pytest.mark.parametrize("path", sorted(DATA.glob("*.jsonl")), ids=lambda p: p.name)
def test_fixture_files_whole_and_line_by_line(path):
    data = path.read_bytes()
    assert_same(data)
    span_lines = [raw for raw in data.split(b"\n") if b'"trace.span"' in raw]
    assert span_lines
    for raw in span_lines:
        assert_same(raw)
        assert native_result(raw)[1] == 1  # every fixture span is valid


# ---------------------------------------------------------------------------------------------
# odd inputs, one by one

ODD_SPANS = [
    span({"model": "gpt-4o", "provider": "openai", "tokens_in": 10, "tokens_out": 2.0, "tokens_cache_read": -1,
          "tokens_cache_write": 2**63, "tokens_reasoning": True, "cost_usd": 3, "latency_ms": "slow",
          "finish_reason": ["stop", 1, None, {"é": [1.5, "\u2028"]}], "score.f1": 1, "score.ok": True,
          "gen_ai.request.model": "dup", "gen_ai.system": "x", "nested": {"a": None, "b": [None, [], {}]},
          "big": 10**30, "neg": -(2**63) - 1, "f": -0.0, "huge": 1e300, "tiny": 5e-324, "int_float": 3.0}),
    span({"request_model": "req", "response_model": "", "model": "m", "gen_ai.operation.name": "generate_content"}),
    span({"error": {"code": 429, "msg": "slow \ud800 down\x7f"}}, status="error"),
    span({"error": "", "error_type": ""}, status="error"),
    span({"error": None}, status="error"),
    span({"error": ["a", 1.0e16, 1e-05, 1e15, -0.0]}, status="error"),
    span({"finish_reason": "", "model": ""}),
    span({"finish_reason": {"not": "a list"}, "tokens_in": None, "cost_usd": None}),
    span({"tokens_in": 1e300, "tokens_out": -2.0**63, "cost_usd": 2**64, "latency_ms": [1]}),
    span({"": "empty key", "\ud800key": "\udfffvalue", "k": "\U0001f600 naïve 日本"}),
    span(None, operation=" Tool.Search "),
    span({}, operation="invo\u212ae_agent"),
    span({}, operation="\u3000embed\x1c"),
    span({}, operation="a.b/c:completion"),
    span({}, operation="\u0130nvoke_agent"),
    span({"model": "m"}, operation="x.y"),
    span({}, operation=12),
    span("not a dict"),
    span({}, span_id="c2ce30b88bfea08f03852dde483ef826", parent_id="445f093505070c89b3832caa57833f65"),
    span({}, span_id="B7AD6B7169203331", trace_id=T1.upper()),
    span({}, parent_id="0" * 16),
    span({}, parent_id="zz"),
    span({}, span_id="\u00e9" * 16 + S1),
    span({}, start_ns=-5, end_ns=2**64 + 1),
    span({}, start_ns=1.9e19, end_ns=1e300),
    span({}, start_ns=True, end_ns="1"),
    span({}, status=None),
    # request parameters, users, sessions, OpenInference attributes (issue 17)
    span({"model": "m", "provider": "p", "temperature": 0, "top_p": 0.95, "top_k": 40, "frequency_penalty": -1,
          "presence_penalty": True, "max_tokens": 2.0, "seed": "7", "choice_count": None, "stop_sequences": "END",
          "user_id": "u", "session_id": 12, "tokens_in": 2**62, "tokens_out": 2**62, "tokens_cache_read": 1,
          "tokens_reasoning": 0, "cost_usd": 1e-7, "input": [{"role": "user", "content": "é \u2028 <x>"}],
          "output": "plain", "gen_ai.request.temperature": 9, "gen_ai.request.stop_sequences": ["dup"]}),
    span({"stop_sequences": ["a", 1, None, {"b": 2.5}], "user_id": None, "session_id": {"k": [1]},
          "input": {"n": 1e16, "f": 1e-05, "z": -0.0}, "output": None, "tokens_in": 3, "tokens_out": "x"}),
    span({"stop_sequences": {"no": 1}, "input": 12, "output": True, "max_tokens": 1e300, "temperature": "hot"},
         operation="tool.run"),
    span({"model": "e"}, operation="embeddings"),
    span({}, operation="create_agent"),
]
INVALID_SPANS = [
    span({}, trace_id="0" * 32),
    span({}, span_id="0" * 16),
    span({}, span_id=S1[:15]),
    span({}, trace_id=T1[:16] + " " + T1[17:]),  # bytes.fromhex would skip the space
    span({}, span_id="b7ad 6b7169203331"),
    span({}, span_id=S1 + "é"),
    span({}, trace_id=12),
]


@pytest.mark.parametrize("payload", ODD_SPANS + INVALID_SPANS)
def test_odd_spans(payload):
    for data in (line(payload), line(payload, source="infermux") + b"\n" + line(payload, source="")):
        assert_same(data)
    assert native_result(line(payload))[3] == (payload in INVALID_SPANS)


@pytest.mark.parametrize("service_name,resource", [
    (None, []), ("checkout", []), (None, [("deployment.environment", "prod"), ("service.name", "x")]),
    ("", [("telemetry.sdk.name", "x"), ("k", "é\u2028"), ("k2", "")]),
])
def test_resources_from_the_environment(service_name, resource):
    data = b"\n".join(line(p, source=src) for p, src in ((span({"model": "m"}), "a"), (span({}), "b")))
    want = otlp_encode.encode_protobuf(otlp_encode.convert(data)[0], VERSION,
                                       otlp_encode.Resource(service_name, resource))
    got = native.otlp_protobuf(data, VERSION, service_name, resource)
    assert got is not None and got[0] == want


def test_invalid_ids_are_skipped_not_written_short():
    for payload in INVALID_SPANS:
        assert python_result(line(payload))[1:] == (0, [], 1, 0)


def test_sources_types_and_lines_python_skips_or_cannot_read():
    ws = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
    lines = [
        line(span()), line(span(), source="\ud800src"), line(span(), source=None), line(span(), source=""),
        line({}, type_="trace.alert"), line({}, type_="trace.alert"), line({}, type_=None), line({}, type_="\udc00t"),
        line(span(), type_="unknown"), b"", b"   \r", ws.encode(), b"\xef\xbb\xbf" + line(span()),
        b"{not json", b"[1,2]", b"null", b'"text"', b'{"type":"trace.span","payload":{"a":"\x01"}}',
        line(span({"model": "bad \xff utf-8"})).replace(b"\\u00ff", b"\xff"),  # invalid UTF-8 → U+FFFD
        line(span({"raw": "\ud800"})).replace(b"\\ud800", b"\xed\xa0\x80"),  # an encoded surrogate
        b"\x0b\x0c" + line(span()) + b"\r",
    ]
    data = b"\n".join(lines) + b"\n"
    assert_same(data)
    got = native_result(data)
    assert got[1] == 6 and got[4] == 7  # the BOM, \x0b and \x0c lines are not JSON
    assert ("\udc00t", 1) in got[2]
    for c in ws:  # each of Python's whitespace characters alone is a blank line
        assert_same(line(span()) + b"\n" + c.encode() + b"\n")
    for c in "\u200b\ufeff\u180e\x85x":
        assert_same(line(span()) + b"\n" + (c * 2).encode())


def test_lines_that_fail_alone_but_parse_joined_follow_python():
    # Python parses the batch joined as one array first: here that gives three values for the
    # three lines (two spans and a list), although no line parses alone
    two = line(span()) + b"," + line(span(), source="b")
    data = b"\n".join([two, b"[1", b"2]"])
    assert_same(data)
    assert native_result(data)[1:] == (2, [], 0, 1)
    assert native_result(b"\n".join([two, b"[1"]))[1:] == (0, [], 0, 2)


@pytest.mark.parametrize("lax", [
    b'{"type":"trace.span","payload":NaN}',
    b'{"type":"x","payload":{"a":-Infinity}}',
    b'{"type":"trace.span","type":"x"}',
    b'{"type":"x","payload":1e400}',
    b'{"type":"x","payload":1' + b"0" * 400 + b"}",
    b"[" * 600 + b"]" * 600,
])
def test_lines_python_reads_laxly_are_left_to_python(lax):
    data = line(span()) + b"\n" + lax + b"\n"
    assert native_result(data) is None
    assert native_result(line(span()) + b"\n{oops NaN\n") is None  # could be a NaN literal
    body, counts = otlp_encode.encode_protobuf_batch(data, VERSION)  # Python's answer, on either backend
    assert (body, counts.spans, list(counts.skipped.items()), counts.invalid, counts.bad_lines) == python_result(data)


def test_attributes_nested_deeper_than_the_writer_follows_are_left_to_python():
    deep: Any = "x"
    for _ in range(150):
        deep = [deep]
    assert native_result(line(span({"deep": deep}))) is None
    shallow: Any = "x"
    for _ in range(90):
        shallow = {"k": shallow}
    assert_same(line(span({"shallow": shallow, "finish_reason": [shallow]}, status="error")))


# ---------------------------------------------------------------------------------------------
# (b) generated batches

_KEYS = ["model", "provider", "request_model", "response_model", "tokens_in", "tokens_out", "tokens_cache_read",
         "tokens_cache_write", "tokens_reasoning", "cost_usd", "latency_ms", "finish_reason", "error", "error_type",
         "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.usage.input_tokens",
         "gen_ai.response.finish_reasons", "gen_ai.conversation.id", "score.f1", "score.x", "step", "unpriced",
         "temperature", "top_p", "max_tokens", "seed", "choice_count", "stop_sequences", "user_id", "session_id",
         "input", "output", "gen_ai.request.temperature", "gen_ai.request.stop_sequences", "gen_ai.request.seed"]
_key = st.sampled_from(_KEYS) | st.text(max_size=8)
_scalar = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**300, -0.0, 1e300, 5e-324, 1e16,
                       1e-5, 3.0, 2.0**63, -(2.0**63), "chat", "gpt-4o", "\ud800", "\U0001f600", "\x00\x7f"])
)
_value = st.recursive(_scalar, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_key, kids, max_size=3),
                      max_leaves=10)


def _weighted(*pairs):
    """One of the strategies, picked in proportion to its weight (``one_of`` favours the novel)."""
    return st.sampled_from([s for w, s in pairs for _ in range(w)]).flatmap(lambda s: s)


_hex16 = st.integers(1, 2**64 - 1).map("{:016x}".format)
_hex32 = st.integers(1, 2**128 - 1).map("{:032x}".format)
_span_id = _weighted(
    (6, _hex16), (2, _hex32),
    (1, st.sampled_from(["0" * 16, S1.upper(), "b7ad 6b7169203331", "\u00e9" * 16 + S1, S1[:15], ""])),
    (1, st.text("0123456789abcdefA ", min_size=15, max_size=33) | _scalar),
)
_trace_id = _weighted((8, _hex32), (1, st.sampled_from(["0" * 32, T1.upper(), T1[:31] + "g", T1[:30] + " 1"])),
                      (1, _scalar))
_operation = st.sampled_from(["chat", "llm.call", "tool.search", "agent/plan", " Embed ", "invo\u212ae_agent",
                              "x:generate", "messages", "", "Completion.Create"]) | _scalar
_payload = st.fixed_dictionaries(
    {"trace_id": _trace_id, "span_id": _span_id},
    optional={"parent_id": _span_id, "operation": _operation,
              "start_ns": _scalar, "end_ns": _scalar,
              "status": _weighted((2, st.sampled_from(["ok", "error"])), (1, _scalar)),
              "attrs": _weighted((4, st.dictionaries(_key, _value, max_size=8)), (1, _scalar))},
)
_envelope = st.fixed_dictionaries(
    {"type": _weighted((6, st.just("trace.span")), (1, st.sampled_from(["trace.alert", "eval.result"])),
                       (1, _scalar)),
     "payload": _weighted((6, _payload), (1, _value))},
    optional={"source": _weighted((3, st.sampled_from(["agent", "infermux", ""])), (1, _scalar)),
              "version": st.just("1")},
)


@st.composite
def _clean_line(draw) -> bytes:
    """A line of strict JSON (json.dumps of a finite value), raw or \\u-escaped, padded or not."""
    text = json.dumps(draw(_envelope), ensure_ascii=draw(st.booleans()),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    pad = draw(st.sampled_from(["", " ", "\t", "\r"]))
    return (text + pad).encode("utf-8", "surrogatepass")  # a raw lone surrogate is invalid UTF-8


_broken_line = (
    st.sampled_from([b"{not json", b"", b"  ", b"\x0c", "\u3000".encode(), b"\xef\xbb\xbf{}", b"[1", b"2]",
                     b"null", b"[]", b'"s"', b'{"type":', b"\xff\xfe", b'{"a":"\x01"}', b"}{", b"1,2"])
    | st.binary(max_size=20)
    | _clean_line().flatmap(lambda raw: st.integers(0, max(0, len(raw) - 1)).map(lambda n: raw[:n]))
)
_lax_line = st.sampled_from([b'{"payload":NaN}', b'{"a":1,"a":2}', b'{"x":1e400}', b'[Infinity]'])


@settings(max_examples=int(os.environ.get("MIST_HYPOTHESIS_EXAMPLES", "1500")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from("ccccb"), st.data()), max_size=10),
       st.lists(_lax_line, max_size=1) | st.just([]) | st.just([]), st.randoms(), st.booleans())
def test_generated_batches_agree(kinds, lax, rnd, trailing_newline):
    lines = [data.draw(_clean_line() if kind == "c" else _broken_line) for kind, data in kinds]
    if lax:
        lines.insert(rnd.randint(0, len(lines)), lax[0])
    data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    # declined only for a lax line, or a line that may not parse in a batch that holds a NaN or
    # Infinity anywhere (the batch joined as one array might then parse in Python)
    may_defer = bool(lax) or ("b" in (k for k, _ in kinds) and (b"NaN" in data or b"Infinity" in data))
    got = native_result(data)
    if got is None:
        assert may_defer, data
    else:
        assert got == python_result(data), data


# ---------------------------------------------------------------------------------------------
# (c) what a collector decodes


def test_native_output_decodes_to_genai_spans():
    pb2 = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    from test_sink_otlp import CHAT_GENAI, CLIENT, INTERNAL, attrs_of, mixed_batch

    body, spans, skipped, invalid, bad = native.otlp_protobuf(mixed_batch(), "1.2.3")
    assert (spans, dict(skipped), invalid, bad) == (4, {"trace.alert": 1, "eval.result": 1}, 1, 1)
    msg = pb2.ExportTraceServiceRequest()
    msg.ParseFromString(body)
    assert msg.SerializeToString() == body  # canonical field order, minimal varints
    assert [{kv.key: kv.value.string_value for kv in rs.resource.attributes}["service.name"]
            for rs in msg.resource_spans] == ["agent", "infermux"]
    assert all(rs.scope_spans[0].scope.name == "mist" and rs.scope_spans[0].scope.version == "1.2.3"
               for rs in msg.resource_spans)
    by_id = {s.span_id.hex(): s for rs in msg.resource_spans for s in rs.scope_spans[0].spans}
    s = by_id["b7ad6b7169203331"]
    assert (s.name, s.kind, s.status.code) == ("chat claude-sonnet-4-5", CLIENT, 1)
    a = attrs_of(s)
    assert {k: a[k] for k in a if k.startswith("gen_ai.")} == CHAT_GENAI
    assert a["mist.cost_usd"] == ("double_value", 7920.0) and a["mist.big"] == ("double_value", 2.0**64)
    assert a["mist.meta"] == {"k": ("string_value", "v"), "n": ("int_value", 2)}
    assert a["mist.tags"] == [("string_value", "a"), ("int_value", 1), ("bool_value", True)]
    tool = by_id["1111111111111111"]
    assert (tool.name, tool.kind, attrs_of(tool)["gen_ai.operation.name"]) == (
        "tool.search", INTERNAL, ("string_value", "execute_tool"))
    err = by_id["03852dde483ef826"]  # the last 16 hex of a 32-hex span id
    assert err.parent_span_id.hex() == "b3832caa57833f65"
    assert (err.name, err.kind, err.status.code, err.status.message) == (
        "embeddings text-embedding-3-small", CLIENT, 2, "rate limited: try later")
    assert attrs_of(err)["error.type"] == ("string_value", "RateLimitError")
    assert attrs_of(by_id["2222222222222222"])["error.type"] == ("string_value", "_OTHER")


# ---------------------------------------------------------------------------------------------
# the sink's use of it


def test_the_sink_encodes_with_native_and_falls_back_to_python(monkeypatch):
    from mist.core import backend as _backend
    from mist.sinks.otlp import OTLPSink
    from test_sink_otlp import mixed_batch

    data = mixed_batch()
    groups, _ = otlp_encode.convert(data)
    want = otlp_encode.encode_protobuf(groups, _version())
    calls: List[str] = []

    def failing(*args):
        calls.append("raise")
        raise RuntimeError("boom")

    encoders = {"raising": failing, "declining": lambda *a: calls.append("none"),
                "native": lambda *a: calls.append("native") or native.otlp_protobuf(*a)}
    for name, encoder in encoders.items():
        monkeypatch.setattr(otlp_encode, "_native_encoder", lambda: encoder)
        sink = OTLPSink("http://127.0.0.1:9/v1/traces", spool=False)
        try:
            assert sink._encode(data) == (want, 4), name
        finally:
            sink.close(0.1)
        assert sink._extra_stats() == {"otlp_skipped.trace.alert": 1, "otlp_skipped.eval.result": 1,
                                       "otlp_invalid_spans": 1, "otlp_bad_lines": 1}
    assert calls == ["raise", "none", "native"]
    monkeypatch.undo()
    if _backend.backend == "native":
        assert otlp_encode._native_encoder() is native.otlp_protobuf


def _version() -> str:
    import mist

    return getattr(mist, "__version__", "") or ""


def test_pure_python_backend_never_calls_native():
    r = run_python("from mist.sinks import otlp_encode; assert otlp_encode._native_encoder() is None; print('ok')",
                   env={"MIST_PURE_PYTHON": "1"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
