"""In-process loopback receivers with fault injection, for the network sink tests and benchmarks.

``Receiver`` is an HTTP/1.1 server (keep-alive) on 127.0.0.1, port 0 by default, served from a
thread. Each POST consumes the next scripted fault, if any:

* ``Fault.status(code, retry_after=None)``: answer with that status, record nothing.
* ``Fault.slow(seconds, record=False)``: sleep before answering; the request is recorded only
  when ``record`` (a receiver that accepted the data but answered too late).
* ``Fault.cut()``: record, answer 200 with a Content-Length larger than what is sent, close.
* ``Fault.drop()``: close the connection without any answer (record nothing).
* ``Fault.block(event)``: wait until ``event`` is set (bounded), then answer normally.

``stop()`` closes the listening socket (connection refused until ``start()``, which binds the same
port again). Accepted requests are kept as ``Request`` objects (decoded body: gzip undone).
``OTLPReceiver`` decodes each body into an ``ExportTraceServiceRequest`` with opentelemetry-proto
(protobuf) or per the OTLP/JSON rules (hex ids, integers as strings, integer enums).
"""
from __future__ import annotations

import base64
import gzip
import http.server
import json
import socket
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

#: Upper bound on any wait inside a receiver, so a broken test cannot hang.
MAX_WAIT = 20.0


class Fault:
    def __init__(self, kind: str, **kw: Any) -> None:
        self.kind = kind
        self.kw = kw

    @classmethod
    def ok(cls) -> "Fault":
        return cls("ok")

    @classmethod
    def status(cls, code: int, retry_after: Optional[str] = None) -> "Fault":
        return cls("status", code=code, retry_after=retry_after)

    @classmethod
    def slow(cls, seconds: float, record: bool = False) -> "Fault":
        return cls("slow", seconds=seconds, record=record)

    @classmethod
    def cut(cls) -> "Fault":
        return cls("cut")

    @classmethod
    def drop(cls) -> "Fault":
        return cls("drop")

    @classmethod
    def block(cls, event: threading.Event) -> "Fault":
        return cls("block", event=event)


class Request:
    __slots__ = ("path", "headers", "raw", "body", "time", "decoded")

    def __init__(self, path: str, headers: Dict[str, str], raw: bytes, body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.raw = raw
        self.body = body
        self.time = time.monotonic()
        self.decoded: Any = None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "Receiver"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def handle(self) -> None:
        start = time.thread_time()
        owner = self.server.owner
        with owner._lock:
            owner._conns.add(self.connection)
        try:
            super().handle()
        except (ConnectionError, socket.timeout, OSError):
            pass
        finally:
            with owner._lock:
                owner._conns.discard(self.connection)
            owner._add_cpu(time.thread_time() - start)

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        fault = owner._next_fault()
        kind = fault.kind if fault else "ok"
        if kind == "drop":
            self.close_connection = True
            owner._note_fault(kind)
            return
        if kind == "status":
            owner._note_fault(kind)
            self.send_response(fault.kw["code"])  # type: ignore[union-attr]
            if fault.kw.get("retry_after") is not None:  # type: ignore[union-attr]
                self.send_header("Retry-After", fault.kw["retry_after"])  # type: ignore[union-attr]
            body = b"scripted failure"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = raw
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(raw)
        req = Request(self.path, headers, raw, body)
        if kind == "slow":
            owner._note_fault(kind)
            # record=True: the data was accepted, only the answer comes too late
            accepted = owner.accept(req) if fault.kw["record"] else None  # type: ignore[union-attr]
            time.sleep(min(fault.kw["seconds"], MAX_WAIT))  # type: ignore[union-attr]
            if accepted is None:
                self.close_connection = True
                return
            self._answer(*accepted)
            return
        if kind == "block":
            owner._note_fault(kind)
            fault.kw["event"].wait(MAX_WAIT)  # type: ignore[union-attr]
        status, resp_type, resp_body = owner.accept(req)
        if kind == "cut":
            owner._note_fault(kind)
            self.send_response(status)
            self.send_header("Content-Type", resp_type)
            self.send_header("Content-Length", str(len(resp_body) + 100))
            self.end_headers()
            self.wfile.write(resp_body[:1])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._answer(status, resp_type, resp_body)

    def _answer(self, status: int, resp_type: str, resp_body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", resp_type)
            self.send_header("Content-Length", str(len(resp_body)))
            self.end_headers()
            if resp_body:
                self.wfile.write(resp_body)
        except OSError:  # the client gave up (timed out) meanwhile
            self.close_connection = True


class Receiver:
    """A loopback MIST receiver: records every accepted POST (see the module docstring)."""

    status = 200

    def __init__(self, port: int = 0, *, keep_bodies: bool = True, faults: Optional[List[Fault]] = None) -> None:
        self._port = port
        self._faults: Deque[Fault] = deque(faults or ())  # scripted before the port opens
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.requests: List[Request] = []
        self.fault_counts: Dict[str, int] = {}
        self.keep_bodies = keep_bodies
        self.items = 0  # envelopes (MIST) or spans (OTLP) accepted
        self.bytes = 0  # request bytes on the wire
        self.cpu = 0.0  # thread CPU seconds spent serving
        self.on_accept: Optional[Callable[[Request], None]] = None
        self._conns: set = set()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self.start()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.owner = self
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="receiver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket and every open connection (connection refused afterwards)."""
        server = self._server
        if server is None:
            return
        self._server = None
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # like a process exit: established keep-alive connections die too
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(MAX_WAIT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- faults -------------------------------------------------------------------------------
    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _note_fault(self, kind: str) -> None:
        with self._lock:
            self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1

    def _add_cpu(self, seconds: float) -> None:
        with self._lock:
            self.cpu += seconds

    # -- accepting ----------------------------------------------------------------------------
    def count_items(self, req: Request) -> int:
        return req.body.count(b"\n") + (0 if req.body.endswith(b"\n") or not req.body else 1)

    def response(self, req: Request) -> "tuple[int, str, bytes]":
        return self.status, "text/plain", b""

    def accept(self, req: Request) -> "tuple[int, str, bytes]":
        n = self.count_items(req)
        if self.on_accept is not None:
            self.on_accept(req)
        with self._cond:
            self.items += n
            self.bytes += len(req.raw)
            if self.keep_bodies:
                self.requests.append(req)
            self._cond.notify_all()
        return self.response(req)

    def wait_items(self, n: int, timeout: float = 10.0) -> bool:
        """Wait (bounded) until at least ``n`` items were accepted."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.items < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def lines(self) -> List[bytes]:
        """Every accepted envelope line (MIST receivers), in arrival order."""
        out: List[bytes] = []
        with self._lock:
            reqs = list(self.requests)
        for req in reqs:
            out.extend(line for line in req.body.split(b"\n") if line)
        return out

    def unique_lines(self, key: str = "idempotency-key") -> List[bytes]:
        """Lines with requests that repeat an ``Idempotency-Key`` removed (what a deduping receiver keeps)."""
        seen = set()
        out: List[bytes] = []
        with self._lock:
            reqs = list(self.requests)
        for req in reqs:
            k = req.headers.get(key)
            if k is not None and k in seen:
                continue
            seen.add(k)
            out.extend(line for line in req.body.split(b"\n") if line)
        return out


# ---------------------------------------------------------------------------------------------
# OTLP


def otlp_json_to_proto(doc: Dict[str, Any], logs: bool = False) -> Any:
    """Parse an OTLP/JSON ``ExportTraceServiceRequest`` (``ExportLogsServiceRequest`` with
    ``logs``) per the spec into the protobuf message.

    OTLP/JSON differs from proto3's canonical JSON in one way: trace and span ids are hex, not
    base64. Everything else (lowerCamelCase names, int64 as strings, integer enums) is what
    ``json_format`` accepts; unknown fields are errors.
    """
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    def fix(obj: Any) -> Any:
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    out[k] = base64.b64encode(bytes.fromhex(v)).decode("ascii")
                else:
                    out[k] = fix(v)
            return out
        if isinstance(obj, list):
            return [fix(v) for v in obj]
        return obj

    msg = (logs_service_pb2.ExportLogsServiceRequest() if logs
           else trace_service_pb2.ExportTraceServiceRequest())
    json_format.Parse(json.dumps(fix(doc)), msg, ignore_unknown_fields=False)
    return msg


class OTLPReceiver(Receiver):
    """Decodes OTLP/HTTP trace exports and, at ``/v1/logs``, log exports (protobuf or JSON), as a
    collector with both pipelines does; ``decoded`` is the request message.  ``logs_status``:
    answer log exports with this status instead (a traces-only backend: 404, Phoenix: 405)."""

    def __init__(self, *args: Any, rejected: int = 0, logs_status: int = 200, **kwargs: Any) -> None:
        self.rejected = rejected
        self.logs_status = logs_status
        super().__init__(*args, **kwargs)

    @staticmethod
    def is_logs(req: Request) -> bool:
        return req.path.endswith("/v1/logs")

    def count_items(self, req: Request) -> int:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        logs = self.is_logs(req)
        if logs and self.logs_status != 200:
            req.decoded = None
            return 0
        ctype = req.headers.get("content-type", "")
        if ctype == "application/x-protobuf":
            msg = (logs_service_pb2.ExportLogsServiceRequest() if logs
                   else trace_service_pb2.ExportTraceServiceRequest())
            msg.ParseFromString(req.body)
        elif ctype == "application/json":
            msg = otlp_json_to_proto(json.loads(req.body), logs=logs)
        else:
            raise AssertionError(f"unexpected content type {ctype!r}")
        req.decoded = msg
        if logs:
            return sum(len(sl.log_records) for rl in msg.resource_logs for sl in rl.scope_logs)
        return sum(len(ss.spans) for rs in msg.resource_spans for ss in rs.scope_spans)

    def response(self, req: Request) -> "tuple[int, str, bytes]":
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        logs = self.is_logs(req)
        if logs and self.logs_status != 200:
            return self.logs_status, "text/plain", b"Method Not Allowed"
        resp: Any = logs_service_pb2.ExportLogsServiceResponse() if logs else trace_service_pb2.ExportTraceServiceResponse()
        if self.rejected:
            if logs:
                resp.partial_success.rejected_log_records = self.rejected
            else:
                resp.partial_success.rejected_spans = self.rejected
            resp.partial_success.error_message = "some rejected"
        if req.headers.get("content-type") == "application/json":
            body = b"{}"
            if self.rejected:
                key = "rejectedLogRecords" if logs else "rejectedSpans"
                body = json.dumps({"partialSuccess": {key: str(self.rejected),
                                                      "errorMessage": "some rejected"}}).encode()
            return 200, "application/json", body
        return 200, "application/x-protobuf", resp.SerializeToString()

    def spans(self) -> List[Any]:
        """``(service_name, span)`` pairs for every accepted span, in order."""
        return self._items(logs=False)

    def log_records(self) -> List[Any]:
        """``(service_name, log_record)`` pairs for every accepted log record, in order."""
        return self._items(logs=True)

    def _items(self, logs: bool) -> List[Any]:
        out = []
        with self._lock:
            reqs = [r for r in self.requests if self.is_logs(r) == logs and r.decoded is not None]
        for req in reqs:
            for res in (req.decoded.resource_logs if logs else req.decoded.resource_spans):
                service = {kv.key: kv.value.string_value for kv in res.resource.attributes}.get("service.name")
                for scope in (res.scope_logs if logs else res.scope_spans):
                    out.extend((service, item) for item in (scope.log_records if logs else scope.spans))
        return out


# ---------------------------------------------------------------------------------------------
# generated batches


def make_lines(count: int, *, start: int = 0, seed: int = 7, source: str = "svc") -> List[bytes]:
    """``count`` canonical-looking ``trace.span`` lines (no newline), deterministic per arguments."""
    import random as _random

    rng = _random.Random(seed * 1_000_003 + start)
    out = []
    for i in range(start, start + count):
        trace = f"{rng.getrandbits(128):032x}"
        env = {
            "version": "1",
            "id": f"{i:032x}",
            "source": source,
            "type": "trace.span",
            "timestamp_ns": 1_700_000_000_000_000_000 + i,
            "payload": {
                "trace_id": trace,
                "span_id": f"{rng.getrandbits(64) | 1:016x}",
                "operation": "chat",
                "start_ns": 1_700_000_000_000_000_000 + i * 1000,
                "end_ns": 1_700_000_000_000_000_000 + i * 1000 + 250_000_000,
                "status": "ok",
                "attrs": {
                    "cost_usd": 0.00042,
                    "model": "gpt-4o-mini",
                    "provider": "openai",
                    "tokens_in": 1000 + i % 97,
                    "tokens_out": 200 + i % 31,
                },
            },
        }
        out.append(json.dumps(env, separators=(",", ":")).encode())
    return out


def batch(lines: List[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)
