"""One finished OpenTelemetry span (an SDK ``ReadableSpan``, duck-typed) → a mist span's operation,
status and attrs, following the OpenTelemetry GenAI semantic conventions (and the older names
instrumentations still write).

What is read (first name present wins; :data:`READS` is the same list, for the README):

=========================================================  ==============================
OpenTelemetry attribute                                     mist attr
=========================================================  ==============================
``gen_ai.operation.name``                                   ``operation`` (inference spans)
``gen_ai.response.model``, else ``gen_ai.request.model``    ``model``
``gen_ai.request.model`` (when the response names another)  ``request_model``
``gen_ai.provider.name``, else ``gen_ai.system``            ``provider``
``gen_ai.usage.input_tokens`` / ``…prompt_tokens``          ``tokens_in``
``gen_ai.usage.output_tokens`` / ``…completion_tokens``     ``tokens_out``
``gen_ai.usage.cache_read.input_tokens``                    ``tokens_cache_read``
``gen_ai.usage.cache_creation.input_tokens``                ``tokens_cache_write``
``gen_ai.usage.reasoning.output_tokens``                    ``tokens_reasoning``
``gen_ai.response.finish_reasons``                          ``finish_reason``
``gen_ai.request.temperature``, ``.max_tokens``, ``.top_p``  ``temperature``, ``max_tokens``…
``gen_ai.agent.name``, ``gen_ai.tool.name``                 ``agent``, ``tool``
``gen_ai.conversation.id``                                  ``session_id``
``gen_ai.input.messages``, ``gen_ai.output.messages``       ``input``, ``output`` (capture on)
span status ERROR, ``error.type``, exception events         ``status: "error"``, ``error``…
=========================================================  ==============================

Token counts have GenAI semantics on both sides (input includes cache reads and writes, output
includes reasoning), so they are copied as they are. Usage on agent and workflow spans
(``invoke_agent`` …) is the sum of their model calls' and is not copied: each call is counted once,
on its own span. Cost is not read from the span: mist prices the tokens with its own table.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

#: (mist attr, OpenTelemetry attributes read in order) — the table above, for docs and tests.
READS: List[Tuple[str, Tuple[str, ...]]] = [
    ("operation", ("gen_ai.operation.name",)),
    ("model", ("gen_ai.response.model", "gen_ai.request.model")),
    ("request_model", ("gen_ai.request.model",)),
    ("provider", ("gen_ai.provider.name", "gen_ai.system")),
    ("tokens_in", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
    ("tokens_out", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
    ("tokens_cache_read", ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                           "gen_ai.usage.details.cache_read_tokens")),
    ("tokens_cache_write", ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                            "gen_ai.usage.details.cache_write_tokens")),
    ("tokens_reasoning", ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.details.reasoning_tokens")),
    ("finish_reason", ("gen_ai.response.finish_reasons",)),
    ("agent", ("gen_ai.agent.name",)),
    ("tool", ("gen_ai.tool.name",)),
    ("tool_call_id", ("gen_ai.tool.call.id",)),
    ("session_id", ("gen_ai.conversation.id",)),
    ("response_id", ("gen_ai.response.id",)),
    ("error_type", ("error.type",)),
    ("input", ("gen_ai.input.messages", "gen_ai.prompt")),
    ("output", ("gen_ai.output.messages", "gen_ai.completion")),
]

#: request parameters: ``gen_ai.request.<name>`` → ``<name>``
REQUEST_PARAMS = ("temperature", "max_tokens", "top_p", "top_k", "frequency_penalty", "presence_penalty",
                  "seed", "stop_sequences", "choice.count")

#: operations whose usage is their children's sum (not copied: counted once, on each call)
AGGREGATE_OPS = frozenset({"invoke_agent", "create_agent", "invoke_workflow"})
#: operations named after their target: the span name ("execute_tool get_weather") is the operation
NAMED_OPS = frozenset({"execute_tool", "invoke_agent", "create_agent", "invoke_workflow"})

_CLASS_REPR = re.compile(r"^<class '(?:[\w.]*\.)?(\w+)'>$")
_TOKENS = ("tokens_in", "tokens_out", "tokens_cache_read", "tokens_cache_write", "tokens_reasoning")
_CONTENT = ("input", "output")


def _first(attributes: Any, names: Tuple[str, ...]) -> Any:
    for n in names:
        v = attributes.get(n)
        if v is not None:
            return v
    return None


def _count(v: Any) -> Optional[int]:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v if v >= 0 else None
    if isinstance(v, float) and v == v and v >= 0 and v < 2 ** 63:
        return int(v)
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


def _plain(v: Any) -> Any:
    """An attribute value as JSON can carry it (OTel sequences are tuples)."""
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def is_genai(attributes: Any) -> bool:
    """Whether span attributes say GenAI (an operation, a provider/system or a requested model)."""
    if not attributes:
        return False
    return any(attributes.get(k) is not None for k in
               ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model"))


def _status(span: Any) -> Tuple[bool, Optional[str]]:
    st = getattr(span, "status", None)
    code = getattr(getattr(st, "status_code", None), "name", None)
    return code == "ERROR", getattr(st, "description", None)


def _exception(span: Any) -> Tuple[Optional[str], Optional[str]]:
    for ev in getattr(span, "events", None) or ():
        if getattr(ev, "name", None) == "exception":
            a = getattr(ev, "attributes", None) or {}
            return a.get("exception.type"), a.get("exception.message")
    return None, None


def to_mist(span: Any, *, capture_content: bool = False, redact: Any = None) -> Tuple[str, str, Dict[str, Any]]:
    """``(operation, status, attrs)`` of a finished OpenTelemetry span. Never raises on odd values
    (they are skipped)."""
    attributes = getattr(span, "attributes", None) or {}
    name = getattr(span, "name", None) or "span"
    attrs: Dict[str, Any] = {}
    genai = is_genai(attributes)
    op_name = attributes.get("gen_ai.operation.name")
    if genai:
        if isinstance(op_name, str) and op_name and op_name not in NAMED_OPS:
            operation = op_name
        else:
            operation = str(name)
        if isinstance(op_name, str) and op_name and operation != op_name:
            attrs["otel.operation"] = op_name  # execute_tool, invoke_agent …: the name says which
        for key, names in READS:
            if key in ("operation", "error_type") or key in _CONTENT:
                continue
            v = _first(attributes, names)
            if v is None:
                continue
            if key in _TOKENS:
                if op_name in AGGREGATE_OPS:
                    continue
                n = _count(v)
                if n is not None:
                    attrs[key] = n
            elif key == "finish_reason":
                v = _plain(v)
                if isinstance(v, list):
                    v = ",".join(str(x) for x in v) if v else None
                if v:
                    attrs[key] = v
            elif isinstance(v, (str, int, float, bool)):
                attrs[key] = v
        rm = attributes.get("gen_ai.request.model")
        if attrs.get("request_model") == attrs.get("model") or not isinstance(rm, str):
            attrs.pop("request_model", None)
        for p in REQUEST_PARAMS:
            v = attributes.get("gen_ai.request." + p)
            if v is not None:
                attrs[p.replace(".", "_")] = _plain(v)
        if capture_content:
            for key, names in READS:
                if key in _CONTENT:
                    v = _first(attributes, names)
                    if v is not None:
                        v = _plain(v)
                        try:
                            attrs[key] = redact(v) if redact is not None else v
                        except Exception:
                            pass
    else:
        operation = str(name)
    kind = getattr(getattr(span, "kind", None), "name", None)
    if kind and kind != "INTERNAL":
        attrs["otel.kind"] = kind.lower()
    scope = getattr(getattr(span, "instrumentation_scope", None), "name", None)
    if scope:
        attrs["otel.scope"] = scope
    start, end = getattr(span, "start_time", None), getattr(span, "end_time", None)
    if type(start) is int and type(end) is int and end >= start:
        attrs["latency_ms"] = round((end - start) / 1e6, 3)

    failed, description = _status(span)
    etype, emsg = _exception(span)
    if failed:
        et = attributes.get("error.type") or etype
        if isinstance(et, str) and et:
            m = _CLASS_REPR.match(et)  # "<class 'openai.InternalServerError'>" → "InternalServerError"
            attrs["error_type"] = m.group(1) if m else et.rsplit(".", 1)[-1] if "<" not in et else et
        msg = description or emsg or attrs.get("error_type") or "error"
        attrs["error"] = str(msg)[:2048]
    return operation, "error" if failed else "ok", attrs
