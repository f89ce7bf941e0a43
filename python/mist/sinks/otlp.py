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
the HTTP sink accepts except ``batch``, plus ``encoding=protobuf|json`` (default protobuf) and
``compression=gzip|none`` (same as ``gzip=1|0``).

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

from mist.sinks import otlp_encode
from mist import config
from mist.errors import ConfigError
from mist.sinks.http import (
    TRANSPORT_OPTIONS,
    Endpoint,
    PostingSink,
    _redact,
    parse_headers,
    reject_unknown,
    split_query,
    transport_kwargs,
)

DEFAULT_PORT = 4318
TRACES_PATH = config.OTLP_TRACES_PATH


class OTLPSink(PostingSink):
    """Spans as OTLP ``ExportTraceServiceRequest`` (protobuf or JSON) over HTTP(S)."""

    kind = "otlp"
    retry_500_default = 1  # OTLP/HTTP: only 429, 502, 503, 504 are retryable

    def __init__(self, endpoint: str, *, encoding: str = "protobuf",
                 resource: Optional[otlp_encode.Resource] = None, **kwargs: Any) -> None:
        self._resource = resource
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
        reject_unknown(options, url, TRANSPORT_OPTIONS + ("encoding", "compression"))

        hdrs: Dict[str, str] = {}
        for var, value in config.otlp_headers(env):
            hdrs.update(parse_headers(value, var))
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
                   resource=resource, **kw)

    # -- PostingSink hooks ----------------------------------------------------------------------
    def _encode(self, chunk: bytes) -> Optional[Tuple[bytes, int]]:
        version = getattr(sys.modules.get("mist"), "__version__", "") or ""
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

    def _on_success(self, response_body: bytes, items: int) -> None:
        rejected, _message = otlp_encode.rejected_spans(response_body, self._json)
        with self._otlp_lock:
            c = self._otlp_counts
            c["otlp_spans"] = c.get("otlp_spans", 0) + items
            if rejected:
                c["otlp_rejected_spans"] = c.get("otlp_rejected_spans", 0) + rejected

    def _extra_stats(self) -> Dict[str, int]:
        with self._otlp_lock:
            return dict(self._otlp_counts)

    def after_fork_in_child(self) -> None:
        self._otlp_lock = threading.Lock()
        self._otlp_counts = {}
        super().after_fork_in_child()


__all__: List[str] = ["OTLPSink"]
