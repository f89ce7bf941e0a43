"""An in-process loopback server that answers like the OpenAI and Anthropic HTTP APIs.

Tests and benchmarks point the real ``openai`` / ``anthropic`` clients at it (``base_url=``,
``max_retries=0``, dummy keys) so instrumentation is exercised through the SDKs' own request,
parsing and streaming code rather than mocks of SDK objects. Endpoints:

* ``POST /v1/chat/completions`` — a ``chat.completion`` object, or with ``"stream": true`` SSE
  ``chat.completion.chunk`` events ending in ``data: [DONE]``; with
  ``stream_options.include_usage`` every chunk carries ``"usage": null`` and a final chunk with
  empty ``choices`` carries the usage block, as the real API does.
* ``POST /v1/responses`` — a ``response`` object, or the SSE event sequence ``response.created`` …
  ``response.output_text.delta`` … ``response.completed`` (usage only in the last one).
* ``POST /v1/embeddings`` — a ``list`` of embeddings (``float`` or ``base64``).
* ``POST /v1/completions`` — a legacy ``text_completion`` (non-streaming only).
* ``POST /v1/messages`` — an Anthropic ``message``, or SSE ``message_start``,
  ``content_block_start``, ``ping``, ``content_block_delta``…, ``content_block_stop``,
  ``message_delta``, ``message_stop``; ``input_tokens`` *excludes* cache reads and writes, as the
  real API reports them.

Usage blocks are the provider's raw JSON (``server.chat_usage`` etc.), so each test states exactly
what the provider sends. ``fail_next`` scripts errors (429 with ``Retry-After``, 500, 529 …) in
each provider's error shape; ``stream_error_after`` breaks a stream off with an in-band error event.
``latency_s`` delays each answer (the benchmark uses ~1 ms). Every request is recorded, so tests can
count what reached the network. ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` answer as Gemini does (``usageMetadata`` on every streamed chunk,
complete on the last); ``gemini_url`` is the ``base_url`` for ``google-genai``. ``queue_tool_call`` scripts agent turns: the next Chat Completions or
Responses answer (streamed or not) asks for a function call instead of answering with text.
"""
from __future__ import annotations

import base64
import copy
import json
import struct
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Deque, Dict, List, Optional

#: Request model → the dated snapshot the API reports back (as the real services do).
SNAPSHOTS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "o4-mini": "o4-mini-2025-04-16",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
}

DEFAULT_TEXT = "The answer is 42, as computed by the loopback model."

# Shaped like the API references' examples: cached prompt tokens and reasoning tokens included.
CHAT_USAGE = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 192,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
RESPONSES_USAGE = {
    "input_tokens": 1500,
    "input_tokens_details": {"cached_tokens": 1024},
    "output_tokens": 420,
    "output_tokens_details": {"reasoning_tokens": 256},
    "total_tokens": 1920,
}
# Anthropic: input_tokens counts only the tokens after the last cache breakpoint.
ANTHROPIC_USAGE = {
    "input_tokens": 100,
    "cache_creation_input_tokens": 248,
    "cache_read_input_tokens": 1800,
    "output_tokens": 503,
    "service_tier": "standard",
}
EMBEDDING_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
# Gemini: promptTokenCount includes the cached tokens; candidatesTokenCount excludes thoughts.
GEMINI_USAGE = {
    "promptTokenCount": 1200,
    "cachedContentTokenCount": 1000,
    "candidatesTokenCount": 150,
    "thoughtsTokenCount": 100,
    "totalTokenCount": 1450,
}


class Recorded:
    """One request as the server saw it."""

    __slots__ = ("method", "path", "headers", "body", "time")

    def __init__(self, method: str, path: str, headers: Dict[str, str], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.time = time.monotonic()

    def __repr__(self) -> str:
        return f"<Recorded {self.method} {self.path}>"


class _Failure:
    __slots__ = ("status", "path", "retry_after", "message", "headers")

    def __init__(self, status: int, path: Optional[str], retry_after: Optional[str], message: Optional[str],
                 headers: Optional[Dict[str, str]]) -> None:
        self.status = status
        self.path = path
        self.retry_after = retry_after
        self.message = message
        self.headers = headers or {}


_OPENAI_ERROR = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
_ANTHROPIC_ERROR = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class LLMServer:
    """The loopback server. Use as a context manager or call :meth:`start` / :meth:`stop`.

    Attributes tests may change between calls: ``text`` (the assistant's answer), ``chunk_chars``
    (characters per streamed delta), ``latency_s`` (delay before each answer), ``chat_usage``,
    ``responses_usage``, ``anthropic_usage``, ``embedding_usage``, ``gemini_usage`` (raw provider usage blocks),
    ``finish_reason`` / ``stop_reason``, ``stream_error_after`` (send an error event after this many
    content deltas, then end the stream).
    """

    def __init__(self, *, latency_s: float = 0.0, text: str = DEFAULT_TEXT, chunk_chars: int = 8) -> None:
        self._defaults = {"latency_s": latency_s, "text": text, "chunk_chars": chunk_chars}
        self.latency_s = latency_s
        self.text = text
        self.chunk_chars = chunk_chars
        self.chat_usage: Dict[str, Any] = copy.deepcopy(CHAT_USAGE)
        self.responses_usage: Dict[str, Any] = copy.deepcopy(RESPONSES_USAGE)
        self.anthropic_usage: Dict[str, Any] = copy.deepcopy(ANTHROPIC_USAGE)
        self.embedding_usage: Dict[str, Any] = copy.deepcopy(EMBEDDING_USAGE)
        self.gemini_usage: Dict[str, Any] = copy.deepcopy(GEMINI_USAGE)
        self.finish_reason = "stop"
        self.stop_reason = "end_turn"
        self.stream_error_after: Optional[int] = None
        self.record = True
        self.requests: List[Recorded] = []
        self._failures: Deque[_Failure] = deque()
        self._tool_calls: Deque[Dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "LLMServer":
        handler = type("_BoundHandler", (_Handler,), {"server_state": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="llm-loopback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "LLMServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """``base_url`` for ``openai.OpenAI``."""
        return self.url + "/v1"

    @property
    def gemini_url(self) -> str:
        """``base_url`` for ``google.genai.Client(http_options={"base_url": ...})``."""
        return self.url

    @property
    def anthropic_url(self) -> str:
        """``base_url`` for ``anthropic.Anthropic``."""
        return self.url

    # ------------------------------------------------------------------ scripting

    def fail_next(self, status: int, *, path: Optional[str] = None, retry_after: Optional[str] = None,
                  message: Optional[str] = None, times: int = 1, headers: Optional[Dict[str, str]] = None) -> None:
        """Answer the next ``times`` requests (to ``path`` if given) with an error ``status`` in the
        provider's error shape; ``retry_after`` sets the ``Retry-After`` header."""
        with self._lock:
            for _ in range(times):
                self._failures.append(_Failure(status, path, retry_after, message, headers))

    def queue_tool_call(self, name: str, arguments: Any = None, *, call_id: Optional[str] = None) -> None:
        """The next Chat Completions or Responses answer is a call of function ``name`` with
        ``arguments`` (a dict, sent JSON-encoded) and ``finish_reason: "tool_calls"``; queued calls
        are answered one per request, in order, then answers are text again."""
        with self._lock:
            self._tool_calls.append({"name": name, "arguments": json.dumps(arguments or {}),
                                     "call_id": call_id or "call_" + uuid.uuid4().hex[:24]})

    def _take_tool_call(self) -> Optional[Dict[str, Any]]:
        with self._lock:
            return self._tool_calls.popleft() if self._tool_calls else None

    def _take_failure(self, path: str) -> Optional[_Failure]:
        with self._lock:
            for i, f in enumerate(self._failures):
                if f.path is None or f.path == path:
                    del self._failures[i]
                    return f
        return None

    def count(self, path: Optional[str] = None) -> int:
        """Requests received (to ``path`` if given)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def bodies(self, path: Optional[str] = None) -> List[Any]:
        with self._lock:
            return [r.body for r in self.requests if path is None or r.path == path]

    def reset(self) -> None:
        """Forget recorded requests and scripted failures, and restore every default answer."""
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self._tool_calls.clear()
        self.latency_s = self._defaults["latency_s"]
        self.text = self._defaults["text"]
        self.chunk_chars = self._defaults["chunk_chars"]
        self.chat_usage = copy.deepcopy(CHAT_USAGE)
        self.responses_usage = copy.deepcopy(RESPONSES_USAGE)
        self.anthropic_usage = copy.deepcopy(ANTHROPIC_USAGE)
        self.embedding_usage = copy.deepcopy(EMBEDDING_USAGE)
        self.gemini_usage = copy.deepcopy(GEMINI_USAGE)
        self.finish_reason = "stop"
        self.stop_reason = "end_turn"
        self.stream_error_after = None
        self.record = True

    def _record(self, rec: Recorded) -> None:
        if self.record:
            with self._lock:
                self.requests.append(rec)

    # ------------------------------------------------------------------ content

    def pieces(self) -> List[str]:
        n = max(1, self.chunk_chars)
        return [self.text[i:i + n] for i in range(0, len(self.text), n)] or [""]


def _model(body: Dict[str, Any]) -> str:
    m = body.get("model") if isinstance(body, dict) else None
    m = m if isinstance(m, str) else "unknown-model"
    return SNAPSHOTS.get(m, m)


def _sse(event: Optional[str], data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return (head + f"data: {payload}\n\n").encode("utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (a stream broken off, a keep-alive connection dropped) is normal."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms ACK stalls
    server_state: LLMServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    # ------------------------------------------------------------------ plumbing

    def _read_body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _json(self, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> None:
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _start_sse(self, headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _chunk(self, data: bytes) -> bool:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
            return False

    def _end_sse(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _send_events(self, events: List[bytes]) -> None:
        for ev in events:
            if not self._chunk(ev):
                return
        self._end_sse()

    # ------------------------------------------------------------------ routing

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        st = self.server_state
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        st._record(Recorded("POST", path, {k.lower(): v for k, v in self.headers.items()}, body))
        if st.latency_s:
            time.sleep(st.latency_s)
        anthropic = path == "/v1/messages"
        fail = st._take_failure(path)
        if fail is not None:
            return self._error(fail, anthropic)
        body = body if isinstance(body, dict) else {}
        if path == "/v1/chat/completions":
            return self._chat(body)
        if path == "/v1/responses":
            return self._responses(body)
        if path == "/v1/embeddings":
            return self._embeddings(body)
        if path == "/v1/completions":
            return self._completions(body)
        if anthropic:
            return self._messages(body)
        if path.startswith("/v1beta/models/") and ":" in path:
            model, method = path[len("/v1beta/models/"):].rsplit(":", 1)
            if method in ("generateContent", "streamGenerateContent"):
                return self._gemini(model, method == "streamGenerateContent")
        self._json(404, {"error": {"message": f"Unknown path {path}", "type": "invalid_request_error",
                                   "param": None, "code": "unknown_url"}})

    def _error(self, fail: _Failure, anthropic: bool) -> None:
        headers = dict(fail.headers)
        if fail.retry_after is not None:
            headers["retry-after"] = fail.retry_after
        if anthropic:
            kind = _ANTHROPIC_ERROR.get(fail.status, "api_error")
            headers.setdefault("request-id", "req_" + uuid.uuid4().hex[:24])
            body: Dict[str, Any] = {"type": "error", "error": {"type": kind, "message": fail.message or kind.replace("_", " ")}}
        else:
            kind, code = _OPENAI_ERROR.get(fail.status, ("server_error", None))
            headers.setdefault("x-request-id", "req_" + uuid.uuid4().hex)
            if fail.status == 429:
                headers.setdefault("x-ratelimit-limit-requests", "500")
                headers.setdefault("x-ratelimit-remaining-requests", "0")
            msg = fail.message or ("Rate limit reached for requests" if fail.status == 429 else "The server had an error while processing your request.")
            body = {"error": {"message": msg, "type": kind, "param": None, "code": code}}
        self._json(fail.status, body, headers)

    # ------------------------------------------------------------------ OpenAI chat

    def _chat(self, body: Dict[str, Any]) -> None:
        st = self.server_state
        model = _model(body)
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        call = st._take_tool_call()
        if not body.get("stream"):
            message: Dict[str, Any] = {"role": "assistant", "content": st.text, "refusal": None, "annotations": []}
            if call is not None:
                message["content"] = None
                message["tool_calls"] = [{"id": call["call_id"], "type": "function",
                                          "function": {"name": call["name"], "arguments": call["arguments"]}}]
            return self._json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{
                    "index": 0, "message": message, "logprobs": None,
                    "finish_reason": st.finish_reason if call is None else "tool_calls",
                }],
                "usage": st.chat_usage, "service_tier": "default", "system_fingerprint": "fp_loopback",
            }, {"x-request-id": "req_" + uuid.uuid4().hex})
        opts = body.get("stream_options") or {}
        include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))

        def chunk(delta: Dict[str, Any], finish: Optional[str]) -> Dict[str, Any]:
            c: Dict[str, Any] = {
                "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": "fp_loopback",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                c["usage"] = None
            return c

        events = [_sse(None, chunk({"role": "assistant", "content": "", "refusal": None}, None))]
        if call is not None:
            events.append(_sse(None, chunk({"tool_calls": [{"index": 0, "id": call["call_id"], "type": "function",
                                                            "function": {"name": call["name"], "arguments": ""}}]}, None)))
            events.append(_sse(None, chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["arguments"]}}]}, None)))
        for i, piece in enumerate(st.pieces() if call is None else []):
            if st.stream_error_after is not None and i >= st.stream_error_after:
                events.append(_sse(None, {"error": {"message": "The server had an error while streaming.",
                                                    "type": "server_error", "param": None, "code": None}}))
                return self._after_headers(events)
            events.append(_sse(None, chunk({"content": piece}, None)))
        events.append(_sse(None, chunk({}, st.finish_reason if call is None else "tool_calls")))
        if include_usage:
            events.append(_sse(None, {
                "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "service_tier": "default", "system_fingerprint": "fp_loopback", "choices": [],
                "usage": st.chat_usage,
            }))
        events.append(_sse(None, "[DONE]"))
        self._after_headers(events)

    def _after_headers(self, events: List[bytes], headers: Optional[Dict[str, str]] = None) -> None:
        self._start_sse(headers)
        self._send_events(events)

    # ------------------------------------------------------------------ OpenAI responses

    def _responses(self, body: Dict[str, Any]) -> None:
        st = self.server_state
        model = _model(body)
        rid = "resp_" + uuid.uuid4().hex
        mid = "msg_" + uuid.uuid4().hex
        created = int(time.time())
        call = st._take_tool_call()
        fid = "fc_" + uuid.uuid4().hex

        def function_call(status: str) -> Dict[str, Any]:
            assert call is not None
            return {"type": "function_call", "id": fid, "call_id": call["call_id"], "name": call["name"],
                    "arguments": call["arguments"] if status == "completed" else "", "status": status}

        def response(status: str, text: Optional[str], usage: Any) -> Dict[str, Any]:
            output = []
            if call is not None and status == "completed":
                output.append(function_call("completed"))
            elif text is not None:
                output.append({
                    "type": "message", "id": mid, "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
                })
            return {
                "id": rid, "object": "response", "created_at": created, "status": status,
                "background": False, "error": None, "incomplete_details": None,
                "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
                "model": model, "output": output, "parallel_tool_calls": True,
                "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
                "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled",
                "usage": usage, "user": None, "metadata": {},
            }

        if not body.get("stream"):
            return self._json(200, response("completed", st.text, st.responses_usage))
        seq = [0]

        def ev(kind: str, **fields: Any) -> bytes:
            data = {"type": kind, "sequence_number": seq[0], **fields}
            seq[0] += 1
            return _sse(kind, data)

        if call is not None:
            return self._after_headers([
                ev("response.created", response=response("in_progress", None, None)),
                ev("response.in_progress", response=response("in_progress", None, None)),
                ev("response.output_item.added", output_index=0, item=function_call("in_progress")),
                ev("response.function_call_arguments.delta", item_id=fid, output_index=0, delta=call["arguments"]),
                ev("response.function_call_arguments.done", item_id=fid, output_index=0, name=call["name"],
                   arguments=call["arguments"]),
                ev("response.output_item.done", output_index=0, item=function_call("completed")),
                ev("response.completed", response=response("completed", None, st.responses_usage)),
            ])
        events = [
            ev("response.created", response=response("in_progress", None, None)),
            ev("response.in_progress", response=response("in_progress", None, None)),
            ev("response.output_item.added", output_index=0,
               item={"type": "message", "id": mid, "status": "in_progress", "role": "assistant", "content": []}),
            ev("response.content_part.added", item_id=mid, output_index=0, content_index=0,
               part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}),
        ]
        for i, piece in enumerate(st.pieces()):
            if st.stream_error_after is not None and i >= st.stream_error_after:
                events.append(ev("error", code="server_error", message="The server had an error while streaming.", param=None))
                return self._after_headers(events)
            events.append(ev("response.output_text.delta", item_id=mid, output_index=0, content_index=0,
                             delta=piece, logprobs=[]))
        part = {"type": "output_text", "text": st.text, "annotations": [], "logprobs": []}
        events += [
            ev("response.output_text.done", item_id=mid, output_index=0, content_index=0, text=st.text, logprobs=[]),
            ev("response.content_part.done", item_id=mid, output_index=0, content_index=0, part=part),
            ev("response.output_item.done", output_index=0,
               item={"type": "message", "id": mid, "status": "completed", "role": "assistant", "content": [part]}),
            ev("response.completed", response=response("completed", st.text, st.responses_usage)),
        ]
        self._after_headers(events)

    # ------------------------------------------------------------------ OpenAI embeddings

    def _embeddings(self, body: Dict[str, Any]) -> None:
        st = self.server_state
        inputs = body.get("input")
        n = len(inputs) if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int) else 1
        dims = int(body.get("dimensions") or 8)
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i in range(n):
            vec = [((i + 1) * (j + 1)) / 100.0 for j in range(dims)]
            emb: Any = base64.b64encode(struct.pack("<%df" % dims, *vec)).decode() if b64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        self._json(200, {"object": "list", "data": data, "model": _model(body), "usage": st.embedding_usage})

    # ------------------------------------------------------------------ OpenAI legacy completions

    def _completions(self, body: Dict[str, Any]) -> None:
        st = self.server_state
        usage = {k: v for k, v in st.chat_usage.items() if k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        self._json(200, {
            "id": "cmpl-" + uuid.uuid4().hex[:24], "object": "text_completion", "created": int(time.time()),
            "model": _model(body), "system_fingerprint": "fp_loopback",
            "choices": [{"text": st.text, "index": 0, "logprobs": None, "finish_reason": st.finish_reason}],
            "usage": usage,
        })

    # ------------------------------------------------------------------ Anthropic messages

    def _messages(self, body: Dict[str, Any]) -> None:
        st = self.server_state
        model = _model(body)
        mid = "msg_" + uuid.uuid4().hex[:24]
        headers = {"request-id": "req_" + uuid.uuid4().hex[:24]}
        usage = dict(st.anthropic_usage)
        if not body.get("stream"):
            return self._json(200, {
                "id": mid, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": st.text}],
                "stop_reason": st.stop_reason, "stop_sequence": None, "usage": usage,
            }, headers)
        start_usage = {k: v for k, v in usage.items() if k != "output_tokens"}
        start_usage["output_tokens"] = 1
        events = [
            _sse("message_start", {"type": "message_start", "message": {
                "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
            _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "text", "text": ""}}),
            _sse("ping", {"type": "ping"}),
        ]
        for i, piece in enumerate(st.pieces()):
            if st.stream_error_after is not None and i >= st.stream_error_after:
                events.append(_sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
                return self._after_headers(events, headers)
            events.append(_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                       "delta": {"type": "text_delta", "text": piece}}))
        events += [
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": st.stop_reason, "stop_sequence": None},
                                   "usage": {"output_tokens": usage.get("output_tokens", 0)}}),
            _sse("message_stop", {"type": "message_stop"}),
        ]
        self._after_headers(events, headers)


def _gemini_handler(self: "_Handler", model: str, stream: bool) -> None:
    st = self.server_state
    rid = uuid.uuid4().hex[:22]

    def answer(text: str, finish: Optional[str], usage: Dict[str, Any]) -> Dict[str, Any]:
        candidate: Dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": rid}

    if not stream:
        return self._json(200, answer(st.text, "STOP", st.gemini_usage))
    pieces = st.pieces()
    partial = {k: v for k, v in st.gemini_usage.items() if k in ("promptTokenCount", "cachedContentTokenCount")}
    events = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        events.append(_sse(None, answer(piece, "STOP" if last else None, st.gemini_usage if last else partial)))
    self._after_headers(events)


def serve(**kwargs: Any) -> LLMServer:
    """A started server (stop it with ``.stop()``)."""
    return LLMServer(**kwargs).start()


_Handler._gemini = _gemini_handler  # type: ignore[attr-defined]

__all__ = ["LLMServer", "Recorded", "serve", "SNAPSHOTS", "DEFAULT_TEXT", "CHAT_USAGE", "RESPONSES_USAGE",
           "ANTHROPIC_USAGE", "EMBEDDING_USAGE", "GEMINI_USAGE"]


def main() -> None:
    """``python tests/llm_server.py [--latency-ms MS]``: serve in this process (the benchmarks run
    the server out of the measured process, as a real API is). Prints the URL, serves until its
    standard input closes."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    args = ap.parse_args()
    with LLMServer(latency_s=args.latency_ms / 1e3) as srv:
        srv.record = False
        print(srv.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
