"""OTLP/HTTP sink: spans to an OpenTelemetry collector (``otlp://``, ``otlp+https://``).

The batch (MTTP JSONL) is converted by ``mist.sinks.otlp_encode`` on the sender thread (protobuf by the
native core, GIL released, when the native backend runs) and POSTed to ``/v1/traces`` by the same
machinery as the HTTP sink (queue, retries, spool): the spool keeps the raw JSONL, so batches
spooled by one process are re-encoded by the next with its own settings.

URLs::

    otlp://HOST[:PORT][/PATH]          plain HTTP, default port 4318
    otlp+https://HOST[:PORT][/PATH]    HTTPS, default port 443
    otlp://                            the endpoint from the environment (below), else localhost:4318

Without a path the request goes to ``/v1/traces``; a path is used as given. Options: everything
the HTTP sink accepts except ``batch``, plus ``encoding=protobuf|json`` (default protobuf),
``compression=gzip|none`` (same as ``gzip=1|0``) and ``logs=PATH|none`` (below).

Alerts and late scores: ``trace.alert`` and ``eval.result`` lines become OTLP log records (the
GenAI conventions' ``gen_ai.evaluation.result`` event, parented to the evaluated span, and a
``mist.alert`` event; the mapping is in ``mist.sinks.otlp_logs``) POSTed to the same collector's
logs endpoint: ``/v1/logs`` in place of a trailing ``/v1/traces``, the path of
``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`` when it names the same collector, or ``?logs=PATH``.
``?logs=none``, a traces path that does not end in ``/v1/traces``, or a logs endpoint on another
host turn this off (the lines are then counted in ``otlp_skipped.<type>``).  A collector that
answers the logs endpoint with 404, 405, 415 or 501 takes no logs (Arize Phoenix answers 405): the
sink stops sending them for its lifetime (``otlp_logs_unsupported``, ``last_error`` says why), and
spans are not affected.

Resource: ``service.name`` is ``OTEL_SERVICE_NAME``, else the ``service.name`` of
``OTEL_RESOURCE_ATTRIBUTES``, else the envelopes' ``source`` (one ``ResourceSpans`` per source);
the other ``OTEL_RESOURCE_ATTRIBUTES`` entries (``k=v,…``, values percent-decoded) are added to it
(``openinference.project.name=NAME`` picks the Arize Phoenix project).

Environment (OpenTelemetry exporter variables; the URL's host and options win over them):
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as given) or ``OTEL_EXPORTER_OTLP_ENDPOINT``
(``/v1/traces`` appended); ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` / ``OTEL_EXPORTER_OTLP_HEADERS``
(``k=v,…``, values URL-decoded; the traces-specific one wins per key);
``…_TRACES_COMPRESSION`` / ``…_COMPRESSION`` (``gzip`` or ``none``); ``…_TRACES_TIMEOUT`` /
``…_TIMEOUT`` (milliseconds); ``…_TRACES_PROTOCOL`` / ``…_PROTOCOL`` (``http/protobuf`` or
``http/json``; ``grpc`` is refused with a ConfigError, mist speaks OTLP/HTTP only).
``MIST_HTTP_HEADERS`` is *not* used here: credentials meant for a MIST receiver must not leak to
a third-party collector.

Retries: 429, 502, 503, 504 and dropped connections, as the OTLP spec says; HTTP 500 and every
other error status drop the batch (counted). A 2xx with ``partial_success`` counts
``otlp_rejected_spans``.
"""
from __future__ import annotations

import os
import sys
import threading
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional, Tuple

from mist.sinks import otlp_encode, otlp_logs
from mist import config
from mist.errors import ConfigError
from mist.sinks.http import (
    TRANSPORT_OPTIONS,
    Endpoint,
    SKIP,
    PostingSink,
    _Outcome,
    _redact,
    parse_headers,
    reject_unknown,
    split_query,
    transport_kwargs,
)

DEFAULT_PORT = 4318
TRACES_PATH = config.OTLP_TRACES_PATH
LOGS_PATH = "/v1/logs"
#: statuses of a collector (or a traces-only backend) that has no OTLP logs endpoint
_NO_LOGS = (404, 405, 415, 501)


class _EventChunk(bytes):
    """A request chunk of alert and score lines (sent to the logs endpoint)."""


def default_logs_path(traces_path: str) -> Optional[str]:
    """``…/v1/logs`` for a traces path ending in ``/v1/traces``; None for any other path."""
    if traces_path.rstrip("/").endswith(TRACES_PATH):
        return traces_path.rstrip("/")[: -len(TRACES_PATH)] + LOGS_PATH
    return None


def _logs_path(endpoint: str, option: Optional[str], env: Mapping[str, str]) -> Optional[str]:
    if option is not None:
        value = option.strip()
        if value.lower() in ("none", "off", "0", ""):
            return None
        if not value.startswith("/"):
            raise ConfigError(f"option ?logs={option!r}: expected a path starting with '/' or 'none'")
        return value
    traces = urllib.parse.urlsplit(endpoint)
    logs_url = env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "").strip()
    if logs_url:
        try:
            logs = urllib.parse.urlsplit(logs_url)
            same = (logs.scheme, logs.hostname, logs.port) == (traces.scheme, traces.hostname, traces.port)
        except ValueError:
            same = False
        if same:
            return logs.path or LOGS_PATH
        import warnings

        warnings.warn(f"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT names another collector than the traces endpoint; "
                      f"mist sends alerts and scores only to the traces collector (set ?logs=PATH), so they "
                      f"are not exported", RuntimeWarning, stacklevel=3)
        return None
    return default_logs_path(traces.path)


class OTLPSink(PostingSink):
    """Spans as OTLP ``ExportTraceServiceRequest`` (protobuf or JSON) over HTTP(S)."""

    kind = "otlp"
    retry_500_default = 1  # OTLP/HTTP: only 429, 502, 503, 504 are retryable

    def __init__(self, endpoint: str, *, encoding: str = "protobuf",
                 resource: Optional[otlp_encode.Resource] = None, logs_path: Optional[str] = "auto",
                 **kwargs: Any) -> None:
        self._resource = resource
        if logs_path == "auto":
            logs_path = default_logs_path(urllib.parse.urlsplit(endpoint).path)
        self._logs_path = logs_path
        self._logs_unsupported = 0  # the status with which the collector refused logs
        self._events_in_flight: Dict[str, int] = {}
        if encoding not in ("protobuf", "json"):
            raise ConfigError(f"option ?encoding={encoding!r}: expected 'protobuf' or 'json'")
        self._json = encoding == "json"
        self.content_type = "application/json" if self._json else "application/x-protobuf"
        self._otlp_lock = threading.Lock()
        self._otlp_counts: Dict[str, int] = {}
        super().__init__(endpoint, **kwargs)

    @classmethod
    def from_url(cls, url: str, *, headers: Optional[Mapping[str, str]] = None,
                 environ: Optional[Mapping[str, str]] = None) -> "OTLPSink":
        """Build from ``otlp[+https]://HOST[:PORT][/PATH]?options`` and the OTEL_* environment."""
        env = os.environ if environ is None else environ
        base, options, query = split_query(url)
        scheme, sep, rest = base.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("otlp", "otlp+http", "otlp+https"):
            raise ConfigError(f"sink URL {_redact(url)!r}: scheme must be otlp:// or otlp+https://")
        http_scheme = "https" if scheme == "otlp+https" else "http"
        if rest.strip("/"):
            try:
                parts = urllib.parse.urlsplit(f"{http_scheme}://{rest}")
                port = parts.port
            except ValueError as exc:
                raise ConfigError(f"sink URL {_redact(url)!r}: bad host or port ({exc})") from None
            if not parts.hostname:
                raise ConfigError(f"sink URL {_redact(url)!r}: missing host (otlp://HOST:PORT)")
            if port is None:
                port = 443 if http_scheme == "https" else DEFAULT_PORT
            path = parts.path if parts.path not in ("", "/") else TRACES_PATH
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            userinfo = parts.netloc.rpartition("@")[0]
            endpoint = f"{http_scheme}://{userinfo + '@' if userinfo else ''}{host}:{port}{path}"
        else:
            endpoint = config.otlp_endpoint(env) or f"{http_scheme}://localhost:{DEFAULT_PORT}{TRACES_PATH}"
        Endpoint(endpoint)  # validate early, with the URL in the message

        protocol = config.otlp_var(env, "PROTOCOL")
        encoding = "protobuf"
        if protocol:
            if protocol == "http/json":
                encoding = "json"
            elif protocol != "http/protobuf":
                raise ConfigError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: mist sends OTLP over HTTP only "
                    "(http/protobuf or http/json); point it at the collector's HTTP port (4318)"
                )
        if "encoding" in options:
            encoding = options.pop("encoding").strip().lower()
            if encoding not in ("protobuf", "json", "proto"):
                raise ConfigError(f"option ?encoding={encoding!r}: expected 'protobuf' or 'json'")
            encoding = "protobuf" if encoding == "proto" else encoding
        if "batch" in options:
            raise ConfigError("option ?batch= is not supported by otlp:// sinks (OTLP requests carry many spans)")
        logs_path = _logs_path(endpoint, options.pop("logs", None), env)

        compression = config.otlp_var(env, "COMPRESSION")
        gzip = False
        if compression:
            if compression.lower() not in ("gzip", "none"):
                raise ConfigError(f"OTEL_EXPORTER_OTLP_COMPRESSION={compression!r}: expected 'gzip' or 'none'")
            gzip = compression.lower() == "gzip"
        if "compression" in options:
            value = options.pop("compression").strip().lower()
            if value not in ("gzip", "none"):
                raise ConfigError(f"option ?compression={value!r}: expected 'gzip' or 'none'")
            gzip = value == "gzip"
        timeout_ms = config.otlp_var(env, "TIMEOUT")
        kw: Dict[str, Any] = {"gzip": gzip}
        if timeout_ms:
            try:
                seconds = float(timeout_ms) / 1000.0
            except ValueError:
                seconds = -1.0
            if not seconds > 0:
                raise ConfigError(f"OTEL_EXPORTER_OTLP_TIMEOUT={timeout_ms!r}: expected milliseconds > 0")
            kw["connect_timeout"] = kw["read_timeout"] = seconds
        kw.update(transport_kwargs(options, env))
        reject_unknown(options, url, TRANSPORT_OPTIONS + ("encoding", "compression", "logs"))

        hdrs: Dict[str, str] = {}
        for var, raw in config.otlp_headers(env):
            hdrs.update(parse_headers(raw, var))
        hdrs.update(headers or {})
        display = Endpoint(endpoint).display(query.partition("#")[0])
        try:
            service_name, resource_attrs = config.otel_resource(env)
        except UnicodeDecodeError:
            import warnings

            warnings.warn("OTEL_RESOURCE_ATTRIBUTES: a value is not valid percent-encoded UTF-8; the variable is "
                          "ignored", RuntimeWarning, stacklevel=2)
            service_name, resource_attrs = env.get("OTEL_SERVICE_NAME", "").strip() or None, []
        resource = otlp_encode.Resource(service_name, resource_attrs) if service_name or resource_attrs else None
        return cls(endpoint, encoding=encoding, headers=hdrs, display_url=display, environ=env,
                   resource=resource, logs_path=logs_path, **kw)

    # -- PostingSink hooks ----------------------------------------------------------------------
    def _split(self, data: bytes) -> List[bytes]:
        """Request-sized chunks, with the alert and score lines of each in a chunk of their own
        (after its spans: the spans an event names are exported first)."""
        chunks = super()._split(data)
        if self._logs_path is None or self._logs_unsupported:
            return chunks
        out: List[bytes] = []
        for chunk in chunks:
            if b'"trace.alert"' not in chunk and b'"eval.result"' not in chunk:
                out.append(chunk)
                continue
            spans: List[bytes] = []
            events: List[bytes] = []
            for line in chunk.split(b"\n"):
                if line.strip():
                    (events if otlp_logs.is_event_line(line) else spans).append(line + b"\n")
            if spans:
                out.append(b"".join(spans))
            if events:
                out.append(_EventChunk(b"".join(events)))
        return out

    def _path(self, chunk: bytes) -> str:
        if isinstance(chunk, _EventChunk) and self._logs_path is not None:
            return self._logs_path
        return super()._path(chunk)

    def _encode(self, chunk: bytes) -> Optional[Tuple[bytes, int]]:
        version = getattr(sys.modules.get("mist"), "__version__", "") or ""
        if isinstance(chunk, _EventChunk):
            return self._encode_events(chunk, version)
        if self._json:
            groups, counts = otlp_encode.convert(chunk)
            body = otlp_encode.encode_json(groups, version, self._resource) if groups else b""
        else:  # native when the native backend runs
            body, counts = otlp_encode.encode_protobuf_batch(chunk, version, self._resource)
        with self._otlp_lock:
            c = self._otlp_counts
            for kind, n in counts.skipped.items():
                key = "otlp_skipped." + kind
                c[key] = c.get(key, 0) + n
            if counts.invalid:
                c["otlp_invalid_spans"] = c.get("otlp_invalid_spans", 0) + counts.invalid
            if counts.bad_lines:
                c["otlp_bad_lines"] = c.get("otlp_bad_lines", 0) + counts.bad_lines
        if not counts.spans:
            return None
        return self._compress(body), counts.spans

    def _encode_events(self, chunk: bytes, version: str) -> Optional[Tuple[bytes, int]]:
        groups, counts = otlp_logs.convert(chunk)
        kinds: Dict[str, int] = {}  # per MTTP type, for otlp_skipped.* if the collector refuses them
        for _source, records in groups:
            for record in records:
                kind = "eval.result" if record[2] == otlp_logs.EVAL_EVENT else "trace.alert"
                kinds[kind] = kinds.get(kind, 0) + 1
        with self._otlp_lock:
            c = self._otlp_counts
            if counts.invalid:
                c["otlp_invalid_events"] = c.get("otlp_invalid_events", 0) + counts.invalid
            if counts.bad_lines:
                c["otlp_bad_lines"] = c.get("otlp_bad_lines", 0) + counts.bad_lines
        if self._logs_unsupported:  # learned after this chunk was split off
            self._count_skipped(kinds)
            return None
        if not counts.spans:
            return None
        self._events_in_flight = kinds  # the sender encodes and posts one body at a time
        encode = otlp_logs.encode_json if self._json else otlp_logs.encode_protobuf
        return self._compress(encode(groups, version, self._resource)), counts.spans

    def _count_skipped(self, kinds: Dict[str, int]) -> None:
        with self._otlp_lock:
            for kind, n in kinds.items():
                key = "otlp_skipped." + kind
                self._otlp_counts[key] = self._otlp_counts.get(key, 0) + n

    def _post(self, body: bytes, key: str, path: str) -> _Outcome:
        outcome = super()._post(body, key, path)
        if (outcome.status in _NO_LOGS and path == self._logs_path and path != self._endpoint.path):
            # not a loss to report on every flush: this backend takes no logs; counted as skipped
            self._logs_unsupported = outcome.status
            self.last_error = (f"HTTP {outcome.status} from {path}: the collector takes no OTLP logs, so alerts "
                               "and late scores are not exported to it (spans are); ?logs=none stops trying")
            self._count_skipped(self._events_in_flight)
            return _Outcome(SKIP, outcome.status, reason="otlp_logs_unsupported")
        return outcome

    def _on_success(self, response_body: bytes, items: int, path: str) -> None:
        logs = path == self._logs_path and path != self._endpoint.path
        rejected, _message = otlp_encode.rejected_spans(
            response_body, self._json, "rejectedLogRecords" if logs else "rejectedSpans")
        what = "log_records" if logs else "spans"
        with self._otlp_lock:
            c = self._otlp_counts
            c["otlp_" + what] = c.get("otlp_" + what, 0) + items
            if rejected:
                c["otlp_rejected_" + what] = c.get("otlp_rejected_" + what, 0) + rejected

    def _extra_stats(self) -> Dict[str, int]:
        with self._otlp_lock:
            out = dict(self._otlp_counts)
        if self._logs_unsupported:
            out["otlp_logs_unsupported"] = self._logs_unsupported
        return out

    def after_fork_in_child(self) -> None:
        self._otlp_lock = threading.Lock()
        self._otlp_counts = {}
        super().after_fork_in_child()


__all__: List[str] = ["OTLPSink"]
