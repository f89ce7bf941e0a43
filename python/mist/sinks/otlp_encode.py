"""MTTP JSONL → OTLP ``ExportTraceServiceRequest`` (protobuf or JSON), standard library only.

The protobuf is written by hand (varints and length-delimited fields, field numbers from
opentelemetry-proto ``trace/v1/trace.proto``, ``common/v1/common.proto``,
``resource/v1/resource.proto`` and ``collector/trace/v1/trace_service.proto``); the JSON follows
the OTLP/HTTP JSON rules: lowerCamelCase keys, hex ``traceId``/``spanId``, 64-bit integers as
decimal strings, enums as integers. On the native backend ``encode_protobuf_batch`` has the native
core (``rust/src/otlp.rs``) do both steps, byte for byte the same as ``convert`` +
``encode_protobuf`` here.

Mapping (decided here, tested in ``tests/test_sink_otlp.py``):

* Envelopes are grouped by ``source`` → one ``ResourceSpans`` each with ``service.name`` = source
  (plus ``telemetry.sdk.name`` = ``mist``, ``telemetry.sdk.language`` = ``python``); one
  ``ScopeSpans`` with scope ``mist``.
* Only ``trace.span`` envelopes become spans; other types are skipped and counted
  (``skipped[type]``). The OTLP sink sends ``trace.alert`` and ``eval.result`` lines as log
  records (``mist.sinks.otlp_logs``) to the collector's logs endpoint instead: a late score
  refers to a span exported in an earlier request, and a span cannot be amended after the fact.
* Ids: ``trace_id`` (32 hex) → 16 bytes; ``span_id``/``parent_id`` (16 hex, or 32 hex from the
  Go tools → the last 16 hex, as mist-go does for ``traceparent``) → 8 bytes. A span whose trace
  or span id is not valid hex of the right length, or all zeros, is skipped (``invalid``); an
  invalid parent id is left out (the span becomes a root).
* Kind CLIENT for inference spans (those with a ``model``), INTERNAL otherwise.
* Name: ``"{gen_ai.operation.name} {model}"`` for inference spans, else the MIST ``operation``.
* ``gen_ai.operation.name``: an explicit ``gen_ai.operation.name`` attr; else the operation if
  it (or its first or last ``.``/``/``-separated part) is a GenAI operation name or an alias
  (``completion`` → ``text_completion``, ``embed`` → ``embeddings``, ``tool`` → ``execute_tool``,
  ``agent`` → ``invoke_agent``…); else ``chat`` for inference spans; else not set.
* ``provider`` → ``gen_ai.provider.name``; ``model`` → ``gen_ai.request.model`` and
  ``gen_ai.response.model`` (``request_model``/``response_model`` attrs override each);
  ``tokens_in`` → ``gen_ai.usage.input_tokens``; ``tokens_out`` → ``…output_tokens``;
  ``tokens_cache_read`` → ``gen_ai.usage.cache_read.input_tokens``; ``tokens_cache_write`` →
  ``gen_ai.usage.cache_creation.input_tokens``; ``tokens_reasoning`` →
  ``gen_ai.usage.reasoning.output_tokens`` (integers; MTTP and GenAI count the same way, so
  nothing is added or subtracted); ``finish_reason`` → ``gen_ai.response.finish_reasons``
  (string array); ``error_type`` → ``error.type`` (``_OTHER`` for an error span without one).
* Status: ``ok`` → STATUS_CODE_OK, ``error`` → STATUS_CODE_ERROR with the ``error`` attr as
  message (the attr is also kept as ``mist.error``).
* ``mist.operation`` keeps the MIST operation; ``cost_usd`` → ``mist.cost_usd`` (double);
  ``latency_ms`` → ``mist.latency_ms`` (double); ``score.<name>`` → ``mist.score.<name>``
  (double); every other attr ``k`` → ``mist.k`` with its JSON type (bool, int, double, string,
  array, kvlist), except keys that already start with ``gen_ai.``, which pass through as-is.
  ``null`` values are left out (OTLP attributes cannot be empty).
"""
from __future__ import annotations

import json
import struct
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..codec import native

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1

KIND_INTERNAL = 1
KIND_CLIENT = 3
STATUS_OK = 1
STATUS_ERROR = 2

GENAI_OPERATIONS = frozenset({
    "chat", "text_completion", "embeddings", "generate_content", "execute_tool",
    "invoke_agent", "create_agent",
})
_OPERATION_ALIASES = {
    "completion": "text_completion", "completions": "text_completion",
    "embed": "embeddings", "embedding": "embeddings",
    "tool": "execute_tool", "tool_call": "execute_tool",
    "agent": "invoke_agent",
    "generate": "generate_content",
    "chat_completion": "chat", "chat_completions": "chat", "messages": "chat",
}

_TOKEN_ATTRS = {
    "tokens_in": "gen_ai.usage.input_tokens",
    "tokens_out": "gen_ai.usage.output_tokens",
    "tokens_cache_read": "gen_ai.usage.cache_read.input_tokens",
    "tokens_cache_write": "gen_ai.usage.cache_creation.input_tokens",
    "tokens_reasoning": "gen_ai.usage.reasoning.output_tokens",
}
#: request parameters recorded by the instrumentation (integers, then doubles)
_REQUEST_INT_ATTRS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "seed": "gen_ai.request.seed",
    "choice_count": "gen_ai.request.choice.count",
}
_REQUEST_DOUBLE_ATTRS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
}
_INT_ATTRS = {**_TOKEN_ATTRS, **_REQUEST_INT_ATTRS}
_DOUBLE_ATTRS = {"cost_usd": "mist.cost_usd", "latency_ms": "mist.latency_ms"}
_RENAMED = {"user_id": "user.id", "session_id": "session.id"}
#: attrs consumed by the mapping above (not repeated as ``mist.<key>``)
_MAPPED = frozenset({
    "model", "provider", "finish_reason", "error_type", "error", "request_model", "response_model",
    "gen_ai.operation.name", "stop_sequences", "input", "output",
}) | frozenset(_INT_ATTRS) | frozenset(_REQUEST_DOUBLE_ATTRS) | frozenset(_DOUBLE_ATTRS) | frozenset(_RENAMED)

#: OpenInference (what Arize Phoenix reads): the span kind by GenAI operation
_OI_KINDS = {"embeddings": "EMBEDDING", "execute_tool": "TOOL", "invoke_agent": "AGENT", "create_agent": "AGENT"}

SCOPE_NAME = "mist"


class Float(float):
    """Marks a value that must be written as a double even when it is integral (``3`` → 3.0)."""


class ConvertCounts:
    """What a conversion kept and skipped."""

    __slots__ = ("spans", "skipped", "invalid", "bad_lines")

    def __init__(self) -> None:
        self.spans = 0
        self.skipped: Dict[str, int] = {}
        self.invalid = 0
        self.bad_lines = 0


# A mapped span: (trace_id, span_id, parent_id or b"", name, kind, start, end, attrs, code, message)
MappedSpan = Tuple[bytes, bytes, bytes, str, int, int, int, List[Tuple[str, Any]], int, str]


# ---------------------------------------------------------------------------------------------
# mapping


def _span_id(value: Any) -> Optional[bytes]:
    if not isinstance(value, str):
        return None
    if len(value) == 32:
        value = value[16:]
    if len(value) != 16:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    # fromhex skips whitespace: "0123 4567…" would give fewer bytes than the field length says
    return None if len(raw) != 8 or raw == b"\0" * 8 else raw


def _trace_id(value: Any) -> Optional[bytes]:
    if not isinstance(value, str) or len(value) != 32:
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return None if len(raw) != 16 or raw == b"\0" * 16 else raw


def _time(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    try:
        n = int(value)
    except (OverflowError, ValueError):
        return 0
    return min(max(n, 0), _UINT64_MAX)


_OP_CACHE: Dict[Tuple[str, bool], Optional[str]] = {}


def genai_operation(operation: str, attrs: Dict[str, Any], inference: bool) -> Optional[str]:
    """The ``gen_ai.operation.name`` for a span, or None when it is not a GenAI operation."""
    explicit = attrs.get("gen_ai.operation.name")
    if isinstance(explicit, str) and explicit:
        return explicit
    key = (operation, inference)
    try:
        return _OP_CACHE[key]
    except KeyError:
        pass
    result = _derive_operation(operation, inference)
    if len(_OP_CACHE) < 4096:
        _OP_CACHE[key] = result
    return result


def _derive_operation(operation: str, inference: bool) -> Optional[str]:
    op = operation.strip().lower()
    candidates = [op]
    for sep in (".", "/", ":"):
        if sep in op:
            parts = op.split(sep)
            candidates.extend((parts[-1], parts[0]))
    for cand in candidates:
        if cand in GENAI_OPERATIONS:
            return cand
        alias = _OPERATION_ALIASES.get(cand)
        if alias:
            return alias
    return "chat" if inference else None


def _as_int(value: Any) -> Optional[int]:
    if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 63:
        return int(value)
    return None


def _as_double(value: Any) -> Optional[Float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return Float(value)
    except OverflowError:
        return None


def map_span(payload: Dict[str, Any]) -> Optional[MappedSpan]:
    """One ``trace.span`` payload → a mapped span, or None when its ids are unusable."""
    trace_id = _trace_id(payload.get("trace_id"))
    span_id = _span_id(payload.get("span_id"))
    if trace_id is None or span_id is None:
        return None
    parent = _span_id(payload.get("parent_id")) or b""
    attrs = payload.get("attrs")
    if not isinstance(attrs, dict):
        attrs = {}
    operation = payload.get("operation")
    operation = operation if isinstance(operation, str) else ""
    model = attrs.get("model")
    model = model if isinstance(model, str) and model else None
    inference = model is not None
    op_name = genai_operation(operation, attrs, inference)

    out: List[Tuple[str, Any]] = []
    if op_name:
        out.append(("gen_ai.operation.name", op_name))
    provider = attrs.get("provider")
    if isinstance(provider, str) and provider:
        out.append(("gen_ai.provider.name", provider))
    request_model = attrs.get("request_model")
    response_model = attrs.get("response_model")
    if isinstance(request_model, str) and request_model:
        out.append(("gen_ai.request.model", request_model))
    elif model:
        out.append(("gen_ai.request.model", model))
    if isinstance(response_model, str) and response_model:
        out.append(("gen_ai.response.model", response_model))
    elif model:
        out.append(("gen_ai.response.model", model))
    leftovers: List[Tuple[str, Any]] = []
    ints: Dict[str, int] = {}
    for key, otel_key in _INT_ATTRS.items():
        if key in attrs:
            n = _as_int(attrs[key])
            if n is not None:
                out.append((otel_key, n))
                ints[key] = n
            elif attrs[key] is not None:
                leftovers.append(("mist." + key, attrs[key]))
    for key, otel_key in _REQUEST_DOUBLE_ATTRS.items():
        if key in attrs:
            d = _as_double(attrs[key])
            if d is not None:
                out.append((otel_key, d))
            elif attrs[key] is not None:
                leftovers.append(("mist." + key, attrs[key]))
    for key, otel_key in (("finish_reason", "gen_ai.response.finish_reasons"),
                          ("stop_sequences", "gen_ai.request.stop_sequences")):
        value = attrs.get(key)
        if isinstance(value, str):
            out.append((otel_key, [value]))
        elif isinstance(value, list):
            out.append((otel_key, [f if isinstance(f, str) else json.dumps(f) for f in value]))
    status = payload.get("status")
    is_error = status == "error"
    error_type = attrs.get("error_type")
    if isinstance(error_type, str) and error_type:
        out.append(("error.type", error_type))
    elif is_error:
        out.append(("error.type", "_OTHER"))
    for key, otel_key in _RENAMED.items():
        value = attrs.get(key)
        if value is not None:
            out.append((otel_key, value))
    out.append(("mist.operation", operation))
    cost: Optional[Float] = None
    for key, otel_key in _DOUBLE_ATTRS.items():
        if key in attrs:
            d = _as_double(attrs[key])
            if d is not None:
                out.append((otel_key, d))
                if key == "cost_usd":
                    cost = d
            elif attrs[key] is not None:
                leftovers.append((otel_key, attrs[key]))
    # OpenInference, for backends that read it (Arize Phoenix)
    out.append(("openinference.span.kind", _OI_KINDS.get(op_name or "", "LLM" if inference else "CHAIN")))
    if model:
        out.append(("llm.model_name", model))
    if isinstance(provider, str) and provider:
        out.append(("llm.provider", provider))
    tin, tout = ints.get("tokens_in"), ints.get("tokens_out")
    if tin is not None:
        out.append(("llm.token_count.prompt", tin))
    if tout is not None:
        out.append(("llm.token_count.completion", tout))
    if tin is not None and tout is not None and _INT64_MIN <= tin + tout <= _INT64_MAX:
        out.append(("llm.token_count.total", tin + tout))
    for key, oi_key in (("tokens_cache_read", "llm.token_count.prompt_details.cache_read"),
                        ("tokens_cache_write", "llm.token_count.prompt_details.cache_write"),
                        ("tokens_reasoning", "llm.token_count.completion_details.reasoning")):
        if key in ints:
            out.append((oi_key, ints[key]))
    if cost is not None:
        out.append(("llm.cost.total", cost))
    for key in ("input", "output"):
        value = attrs.get(key)
        if isinstance(value, str):
            out.append((key + ".value", value))
        elif value is not None:
            out.append((key + ".value", json.dumps(value, ensure_ascii=False, separators=(",", ":"))))
            out.append((key + ".mime_type", "application/json"))
    out.extend(leftovers)
    rest = [k for k in attrs if k not in _MAPPED]
    if "error" in attrs:
        rest.append("error")
    rest.sort()
    seen = {k for k, _ in out} if rest else ()
    for key in rest:
        value = attrs[key]
        if value is None:
            continue
        if key.startswith("gen_ai."):
            if key not in seen:
                out.append((key, value))
            continue
        if key.startswith("score."):
            d = _as_double(value)
            out.append(("mist." + key, d if d is not None else value))
            continue
        out.append(("mist." + key, value))

    message = ""
    if is_error:
        err = attrs.get("error")
        if isinstance(err, str):
            message = err
        elif err is not None:
            message = json.dumps(err, ensure_ascii=False, separators=(",", ":"))
    name = f"{op_name} {model}" if inference else operation
    return (
        trace_id, span_id, parent, name, KIND_CLIENT if inference else KIND_INTERNAL,
        _time(payload.get("start_ns")), _time(payload.get("end_ns")), out,
        STATUS_ERROR if is_error else STATUS_OK, message,
    )


def convert(data: bytes) -> Tuple[List[Tuple[str, List[MappedSpan]]], ConvertCounts]:
    """Decode a JSONL batch and map its spans, grouped by ``source`` in first-seen order."""
    counts = ConvertCounts()
    envelopes = _decode_lines(data, counts)
    groups: Dict[str, List[MappedSpan]] = {}
    for env in envelopes:
        if not isinstance(env, dict):
            counts.bad_lines += 1
            continue
        kind = env.get("type")
        if kind != "trace.span":
            key = kind if isinstance(kind, str) else "unknown"
            counts.skipped[key] = counts.skipped.get(key, 0) + 1
            continue
        payload = env.get("payload")
        mapped = map_span(payload) if isinstance(payload, dict) else None
        if mapped is None:
            counts.invalid += 1
            continue
        source = env.get("source")
        source = source if isinstance(source, str) and source else "unknown_service"
        groups.setdefault(source, []).append(mapped)
        counts.spans += 1
    return list(groups.items()), counts


def _decode_lines(data: bytes, counts: ConvertCounts) -> List[Any]:
    text = data.decode("utf-8", "replace")  # parsing str is ~30% faster than parsing bytes
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return []
    try:  # one parser call for the whole batch saves the per-call overhead
        decoded = json.loads("[" + ",".join(lines) + "]")
        if len(decoded) == len(lines):
            return decoded
    except ValueError:
        pass
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            counts.bad_lines += 1
    return out


# ---------------------------------------------------------------------------------------------
# protobuf


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def _ld(tag: bytes, payload: bytes) -> bytes:
    n = len(payload)
    return tag + (_SMALL[n] if n < 0x80 else _varint(n)) + payload


def _pb_string(tag: bytes, text: str) -> bytes:
    return _ld(tag, text.encode("utf-8", "replace"))


def _pb_any(value: Any) -> bytes:
    """An ``AnyValue`` message body."""
    if isinstance(value, str):
        return _ld(b"\x0a", value.encode("utf-8", "replace"))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, Float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return b"\x18" + _varint(value & _UINT64_MAX)
        return b"\x21" + _pack_double(float(value))
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, (list, tuple)):
        return _ld(b"\x2a", b"".join(_ld(b"\x0a", _pb_any(v)) for v in value))
    if isinstance(value, dict):
        return _ld(b"\x32", b"".join(_ld(b"\x0a", _pb_kv(str(k), v)) for k, v in value.items()))
    if value is None:
        return b""
    return _ld(b"\x0a", str(value).encode("utf-8", "replace"))


_KEY_CACHE: Dict[str, bytes] = {}


def _pb_kv(key: str, value: Any) -> bytes:
    """A ``KeyValue`` message body."""
    k = _KEY_CACHE.get(key)
    if k is None:
        k = _pb_string(b"\x0a", key)
        if len(_KEY_CACHE) < 4096:
            _KEY_CACHE[key] = k
    return k + _ld(b"\x12", _pb_any(value))


_FIELD_CACHE: Dict[Tuple[str, Any], bytes] = {}


def _pb_attr_field(key: str, value: Any) -> bytes:
    """Span field 9 (one attribute). Short string/bool values repeat a lot: cached whole."""
    t = type(value)
    if t is str and len(value) <= 128 or t is bool:
        ck = (key, value)
        hit = _FIELD_CACHE.get(ck)
        if hit is None:
            hit = _ld(b"\x4a", _pb_kv(key, value))
            if len(_FIELD_CACHE) >= 8192:
                _FIELD_CACHE.clear()
            _FIELD_CACHE[ck] = hit
        return hit
    if t is int and 0 <= value <= _INT64_MAX:
        k = _KEY_CACHE.get(key)
        if k is None:
            k = _pb_string(b"\x0a", key)
            if len(_KEY_CACHE) < 4096:
                _KEY_CACHE[key] = k
        anyv = b"\x18" + _varint(value)
        kv = k + b"\x12" + _SMALL[len(anyv)] + anyv  # an int AnyValue is at most 11 bytes
        return _ld(b"\x4a", kv)
    return _ld(b"\x4a", _pb_kv(key, value))


def _pb_span(span: MappedSpan) -> bytes:
    trace_id, span_id, parent, name, kind, start, end, attrs, code, message = span
    parts = [b"\x0a\x10", trace_id, b"\x12\x08", span_id]
    if parent:
        parts.append(b"\x22\x08")
        parts.append(parent)
    parts.append(_pb_string(b"\x2a", name))
    parts.append(b"\x30" + _SMALL[kind])
    parts.append(b"\x39" + _pack_fixed64(start))
    parts.append(b"\x41" + _pack_fixed64(end))
    for key, value in attrs:
        parts.append(_pb_attr_field(key, value))
    status = (_pb_string(b"\x12", message) if message else b"") + b"\x18" + _SMALL[code]
    parts.append(_ld(b"\x7a", status))
    return b"".join(parts)


class Resource:
    """What every ``Resource`` carries beyond its source: ``service_name`` (None: the envelopes'
    ``source``) and extra string attributes, in order (``OTEL_RESOURCE_ATTRIBUTES``)."""

    __slots__ = ("service_name", "attrs")

    def __init__(self, service_name: Optional[str] = None, attrs: Optional[List[Tuple[str, str]]] = None) -> None:
        self.service_name = service_name or None
        self.attrs = [(k, v) for k, v in (attrs or ()) if k not in _RESOURCE_FIXED]

    def native_args(self) -> Tuple[Optional[str], List[Tuple[str, str]]]:
        return self.service_name, self.attrs


_RESOURCE_FIXED = frozenset({"service.name", "telemetry.sdk.name", "telemetry.sdk.language"})


def _resource_attrs(source: str, resource: Optional[Resource] = None) -> List[Tuple[str, Any]]:
    base: List[Tuple[str, Any]] = [
        ("service.name", resource.service_name if resource is not None and resource.service_name else source),
        ("telemetry.sdk.name", "mist"), ("telemetry.sdk.language", "python"),
    ]
    return base + resource.attrs if resource is not None else base


def pb_request(groups: List[Tuple[str, List[Any]]], encode_item: Callable[[Any], bytes],
               scope_version: str = "", resource: Optional[Resource] = None) -> bytes:
    """An OTLP export request body: per source a ``Resource{Spans,Logs}`` (field 1) holding its
    resource (1) and one scope (2) with the items (2) that ``encode_item`` writes."""
    scope = _pb_string(b"\x0a", SCOPE_NAME) + (_pb_string(b"\x12", scope_version) if scope_version else b"")
    scope_field = _ld(b"\x0a", scope)
    out = []
    for source, items in groups:
        res = b"".join(_ld(b"\x0a", _pb_kv(k, v)) for k, v in _resource_attrs(source, resource))
        scoped = scope_field + b"".join([_ld(b"\x12", encode_item(i)) for i in items])
        out.append(_ld(b"\x0a", _ld(b"\x0a", res) + _ld(b"\x12", scoped)))
    return b"".join(out)


def encode_protobuf(groups: List[Tuple[str, List[MappedSpan]]], scope_version: str = "",
                    resource: Optional[Resource] = None) -> bytes:
    """``ExportTraceServiceRequest`` bytes."""
    return pb_request(groups, _pb_span, scope_version, resource)


def _native_encoder() -> Optional[Callable[..., Any]]:
    return getattr(native, "otlp_protobuf", None)


def encode_protobuf_batch(data: bytes, scope_version: str = "",
                          resource: Optional[Resource] = None) -> Tuple[bytes, ConvertCounts]:
    """``convert`` + ``encode_protobuf`` of a JSONL batch: ``(body, counts)``, body empty when
    there is no span. The native core does it when the native backend runs; when it cannot (it
    leaves batches that Python's ``json`` may read differently from its strict decoder to this
    module) or fails, it is done here."""
    native = _native_encoder()
    if native is not None:
        try:
            got = (native(bytes(data), scope_version) if resource is None
                   else native(bytes(data), scope_version, *resource.native_args()))
        except Exception:  # noqa: BLE001 - the Python encoder below is the fallback
            got = None
        if got is not None:
            body, counts = got[0], ConvertCounts()
            counts.spans, skipped, counts.invalid, counts.bad_lines = got[1:]
            counts.skipped = dict(skipped)
            return body, counts
    groups, counts = convert(data)
    return (encode_protobuf(groups, scope_version, resource) if groups else b""), counts


# ---------------------------------------------------------------------------------------------
# JSON


def _json_any(value: Any) -> Dict[str, Any]:
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, Float):
        return {"doubleValue": _json_double(value)}
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return {"intValue": str(value)}
        return {"doubleValue": float(value)}
    if isinstance(value, float):
        return {"doubleValue": _json_double(value)}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_json_any(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": str(k), "value": _json_any(v)} for k, v in value.items()]}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def _json_double(value: float) -> Any:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float(value)


def _json_span(span: MappedSpan) -> Dict[str, Any]:
    trace_id, span_id, parent, name, kind, start, end, attrs, code, message = span
    out: Dict[str, Any] = {"traceId": trace_id.hex(), "spanId": span_id.hex()}
    if parent:
        out["parentSpanId"] = parent.hex()
    out["name"] = name
    out["kind"] = kind
    out["startTimeUnixNano"] = str(start)
    out["endTimeUnixNano"] = str(end)
    out["attributes"] = [{"key": k, "value": _json_any(v)} for k, v in attrs]
    status: Dict[str, Any] = {"code": code}
    if message:
        status["message"] = message
    out["status"] = status
    return out


def json_request(signal: str, items_key: str, groups: List[Tuple[str, List[Any]]],
                 encode_item: Callable[[Any], Dict[str, Any]], scope_version: str = "",
                 resource: Optional[Resource] = None) -> bytes:
    """An OTLP/JSON export request: ``{"resource<Signal>": [{"resource", "scope<Signal>": [{"scope",
    items_key: [...]}]}]}`` per source."""
    scope: Dict[str, Any] = {"name": SCOPE_NAME}
    if scope_version:
        scope["version"] = scope_version
    per_resource = [{
        "resource": {"attributes": [{"key": k, "value": _json_any(v)} for k, v in _resource_attrs(source, resource)]},
        "scope" + signal: [{"scope": scope, items_key: [encode_item(i) for i in items]}],
    } for source, items in groups]
    return json.dumps({"resource" + signal: per_resource}, ensure_ascii=False,
                      separators=(",", ":"), allow_nan=False).encode("utf-8", "replace")


def encode_json(groups: List[Tuple[str, List[MappedSpan]]], scope_version: str = "",
                resource: Optional[Resource] = None) -> bytes:
    """``ExportTraceServiceRequest`` in OTLP/JSON."""
    return json_request("Spans", "spans", groups, _json_span, scope_version, resource)


# ---------------------------------------------------------------------------------------------
# responses


def _read_varint(buf: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _skip(buf: bytes, pos: int, wire: int) -> int:
    if wire == 0:
        return _read_varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        n, pos = _read_varint(buf, pos)
        return pos + n
    if wire == 5:
        return pos + 4
    raise ValueError("unsupported wire type")


def rejected_spans(body: bytes, json_encoding: bool, json_key: str = "rejectedSpans") -> Tuple[int, str]:
    """``(rejected_spans, error_message)`` from an ``ExportTraceServiceResponse`` (0, "" if none).

    An ``ExportLogsServiceResponse`` has the same layout (``json_key="rejectedLogRecords"``)."""
    if not body:
        return 0, ""
    try:
        if json_encoding:
            doc = json.loads(body)
            partial = doc.get("partialSuccess") or doc.get("partial_success") or {}
            snake = "".join("_" + c.lower() if c.isupper() else c for c in json_key)
            rejected = partial.get(json_key, partial.get(snake, 0))
            message = partial.get("errorMessage", partial.get("error_message", ""))
            return int(rejected or 0), str(message or "")
        pos = 0
        rejected, message = 0, ""
        while pos < len(body):
            tag, pos = _read_varint(body, pos)
            field, wire = tag >> 3, tag & 7
            if field == 1 and wire == 2:
                n, pos = _read_varint(body, pos)
                inner, pos = body[pos:pos + n], pos + n
                ipos = 0
                while ipos < len(inner):
                    itag, ipos = _read_varint(inner, ipos)
                    ifield, iwire = itag >> 3, itag & 7
                    if ifield == 1 and iwire == 0:
                        rejected, ipos = _read_varint(inner, ipos)
                        if rejected >= 1 << 63:
                            rejected -= 1 << 64
                    elif ifield == 2 and iwire == 2:
                        m, ipos = _read_varint(inner, ipos)
                        message = inner[ipos:ipos + m].decode("utf-8", "replace")
                        ipos += m
                    else:
                        ipos = _skip(inner, ipos, iwire)
            else:
                pos = _skip(body, pos, wire)
        return max(rejected, 0), message
    except (ValueError, TypeError, AttributeError):
        return 0, ""
