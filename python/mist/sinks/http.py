"""HTTP transport: POST JSONL batches to a MIST receiver (``http://``, ``https://``).

``HTTPSink`` is a ``PostingSink``; ``PostingSink`` holds the machinery every network sink shares
(the OTLP sink reuses it and only changes how a batch becomes a request body):

* ``write()`` never touches the network. It appends the batch to a bounded in-memory queue
  (``queue_bytes``) and returns; when the queue is full the *oldest* batch is dropped and counted
  (``dropped.queue_full``). One sender thread per sink does all network I/O, retries and spooling.
* The sender keeps one persistent connection (``http.client``), with separate connect and read
  timeouts, TLS verification on by default. A connection the server closed while idle is reopened
  and the request re-sent at once.
* Retries follow ``_retry.RetryPolicy``. Each request body carries an ``Idempotency-Key`` header,
  a hash of the lines it carries: the same across its retries and when a later process resends
  those lines from the spool, so a receiver can discard the duplicate a timed-out request may
  cause (the receiver had the data but its answer came too late). Envelope ids are random, so
  different batches never share a key.
* When a batch has been retried for ``retry_window`` seconds the endpoint counts as down: that
  batch and everything queued behind it go to the on-disk spool (``_spool.Spool``) and the sender
  probes with capped backoff; once the endpoint answers, the spool drains in order, then the
  memory queue. Without a spool (``?spool=off``) a batch is dropped after its window
  (``dropped.retry_window``). The queue is also spooled when it passes half its bound while the
  sender waits, so a slow endpoint causes spooling, not drops (but a single request that hangs
  longer than the queue takes to fill still ends in ``dropped.queue_full``: the sender is inside
  that request; memory stays bounded).
* ``close(timeout)`` returns within ``timeout``: the sender sends while the endpoint answers; on the
  first failure, or when little time is left, whatever is still in memory is written to the spool
  in one file. If the sender thread is stuck (e.g. in DNS resolution) ``close`` spools the queue
  itself. Batches already spooled stay on disk for the next process.

Guarantees: every batch handed to ``write`` is delivered, dropped with a counted reason, or left
in the spool. Within one process nothing acknowledged is sent twice, except a request whose
answer timed out (same ``Idempotency-Key``). Across a crash, spooled batches are delivered at
least once, under the key they had.

URL options (``http[s]://[user:pass@]host[:port]/path?opt=value&…``)::

    gzip=1                 gzip request bodies (Content-Encoding: gzip)
    batch=none             one envelope per POST, body = the envelope's bytes exactly
                           (what mist-go's receiver and tokentrace's POST /mist read)
    timeout=S              connect and read timeout in seconds (default 5 and 10)
    connect_timeout=S, read_timeout=S
    verify=0               do not verify the TLS certificate (default: verify)
    cafile=PATH            trust this CA bundle (PEM) for https
    queue_bytes=N          in-memory queue bound (default 32MiB; suffixes K, M, G, KiB, MiB, GiB)
    max_body=N             split batched bodies at line boundaries above N bytes (default 4MiB)
    retry_window=S         retry one batch this long before spooling (default 30)
    retry_max_delay=S      cap on one backoff wait, incl. Retry-After (default 30)
    retry_initial=S        first backoff ceiling (default 0.5)
    spool=DIR | off        spool directory (default: $MIST_SPOOL_DIR/<hash> or
                           ${XDG_STATE_HOME:-~/.local/state}/mist/spool/<hash>)
    spool_bytes=N          spool bound (default 256MiB)

``stats()`` (ints except ``dropped``; "envelopes" are JSONL lines)::

    sent_batches, sent_envelopes, sent_bytes   acknowledged requests, their lines, body bytes sent
    retries                                    failed attempts that were retried
    failures.<reason>                          failed attempts: timeout, refused, connection, tls,
                                               dns, http_<status>
    dropped_envelopes, dropped_batches         lines / batches given up, total
    dropped                                    {reason: lines given up}: queue_full, spool_full,
                                               http_<status>, retry_window (no spool), shutdown
                                               (no spool at close), closed (written after close),
                                               encode_error, spool_unreadable
    spooled_batches/_envelopes/_bytes          written to the spool (cumulative)
    unspooled_envelopes                        delivered from the spool
    spool_pending_bytes, spool_pending_files   what the spool holds now
    queue_bytes, queue_batches                 what the memory queue holds now
    outages, connections, reconnects, response_errors, spool_errors, sender_crashes

Headers come from ``MIST_HTTP_HEADERS`` (``k=v,k2=v2``, values URL-decoded) and from
``user:pass@`` in the URL (``Authorization: Basic``). They are never logged and never appear in
``url``, ``stats()`` or error messages.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
import zlib
from collections import deque
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple

from mist import config
from mist.errors import ConfigError
from mist.sinks._retry import DROP, OK, RetryPolicy, parse_retry_after
from mist.sinks._spool import DEFAULT_SPOOL_BYTES, Spool, SpoolEntry, default_spool_root
from mist.sinks.base import Sink

DEFAULT_QUEUE_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_BODY = 4 * 1024 * 1024
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 10.0
#: Spooled files are coalesced up to this size (fewer fsyncs during an outage).
_SPOOL_FILE_BYTES = 16 * 1024 * 1024
#: Responses larger than this are not read; the connection is closed instead.
_MAX_RESPONSE = 1024 * 1024
_GZIP_LEVEL = 1

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# configuration helpers (shared with the OTLP sink)


def parse_headers(text: Optional[str], variable: str) -> Dict[str, str]:
    """Parse ``k=v,k2=v2`` (values URL-decoded, whitespace trimmed) from environment ``variable``.

    Raises ``ConfigError`` naming the variable and the entry's position, never its value.
    """
    headers: Dict[str, str] = {}
    if not text:
        return headers
    for position, item in enumerate(text.split(","), 1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = urllib.parse.unquote(key.strip())
        if not sep or not key:
            raise ConfigError(f"{variable}: entry {position} is not key=value (expected k=v,k2=v2)")
        value = urllib.parse.unquote(value.strip())
        check_header(key, value, f"{variable} entry {position}")
        headers[key] = value
    return headers


def check_header(key: str, value: str, where: str) -> None:
    """Reject header names/values ``http.client`` would refuse at send time."""
    if not _TOKEN.match(key):
        raise ConfigError(f"{where}: header name is not a valid HTTP token")
    if any(ch in value for ch in "\r\n\0"):
        raise ConfigError(f"{where}: header value contains a line break or NUL")


def parse_bool(name: str, value: str) -> bool:
    low = value.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"option ?{name}={value!r}: expected 1/0, true/false, yes/no")


def parse_seconds(name: str, value: str, *, allow_zero: bool = False) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not (seconds == seconds) or seconds < 0 or (seconds == 0 and not allow_zero) or seconds > 86400 * 365:
        raise ConfigError(f"option ?{name}={value!r}: expected a positive number of seconds")
    return seconds


def parse_size(name: str, value: str) -> int:
    match = _SIZE.match(value)
    if not match:
        raise ConfigError(f"option ?{name}={value!r}: expected bytes, e.g. 1048576, 64MiB or 1G")
    number = int(match.group(1))
    unit = (match.group(2) or "b").lower()[:1]
    scale = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    size = number * scale
    if size <= 0:
        raise ConfigError(f"option ?{name}={value!r}: must be greater than zero")
    return size


class Endpoint:
    """A parsed HTTP(S) endpoint: where to connect and what to show (no credentials)."""

    __slots__ = ("scheme", "host", "port", "path", "auth_header")

    def __init__(self, url: str) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"sink URL {_redact(url)!r}: bad host or port ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ConfigError(f"sink URL {_redact(url)!r}: scheme must be http or https")
        if not parts.hostname:
            raise ConfigError(f"sink URL {_redact(url)!r}: missing host (http://HOST[:PORT]/PATH)")
        self.scheme = scheme
        self.host = parts.hostname
        self.port = port or (443 if scheme == "https" else 80)
        self.path = parts.path or "/"
        self.auth_header: Optional[str] = None
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
            self.auth_header = "Basic " + token

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def display(self, query: str = "") -> str:
        return f"{self.scheme}://{self.netloc}{self.path}" + (f"?{query}" if query else "")


def _redact(url: str) -> str:
    """``url`` with any ``user:pass@`` removed, for error messages."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def split_query(url: str) -> Tuple[str, Dict[str, str], str]:
    """``(url without query, options, query string)``; repeated options: the last one wins."""
    base, _, query = url.partition("?")
    query, _, _ = query.partition("#")
    options: Dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        options[key] = value
    return base, options, query


#: Options every ``PostingSink`` understands in its URL.
TRANSPORT_OPTIONS = (
    "gzip", "timeout", "connect_timeout", "read_timeout", "verify", "cafile", "queue_bytes",
    "max_body", "retry_window", "retry_max_delay", "retry_initial", "spool", "spool_bytes",
)


def transport_kwargs(options: Dict[str, str], environ: Mapping[str, str]) -> Dict[str, Any]:
    """Constructor keyword arguments from the shared URL options (consumed from ``options``)."""
    kw: Dict[str, Any] = {}
    if "gzip" in options:
        kw["gzip"] = parse_bool("gzip", options.pop("gzip"))
    if "timeout" in options:
        t = parse_seconds("timeout", options.pop("timeout"))
        kw["connect_timeout"] = kw["read_timeout"] = t
    if "connect_timeout" in options:
        kw["connect_timeout"] = parse_seconds("connect_timeout", options.pop("connect_timeout"))
    if "read_timeout" in options:
        kw["read_timeout"] = parse_seconds("read_timeout", options.pop("read_timeout"))
    if "verify" in options:
        kw["verify"] = parse_bool("verify", options.pop("verify"))
    if "cafile" in options:
        cafile = options.pop("cafile")
        if not os.path.isfile(cafile):
            raise ConfigError(f"option ?cafile={cafile!r}: no such file (expected a PEM CA bundle)")
        kw["cafile"] = cafile
    if "queue_bytes" in options:
        kw["queue_bytes"] = parse_size("queue_bytes", options.pop("queue_bytes"))
    if "max_body" in options:
        kw["max_body_bytes"] = parse_size("max_body", options.pop("max_body"))
    retry: Dict[str, float] = {}
    if "retry_window" in options:
        retry["window"] = parse_seconds("retry_window", options.pop("retry_window"), allow_zero=True)
    if "retry_max_delay" in options:
        retry["max_delay"] = parse_seconds("retry_max_delay", options.pop("retry_max_delay"))
    if "retry_initial" in options:
        retry["initial"] = parse_seconds("retry_initial", options.pop("retry_initial"))
    if retry:
        kw["retry"] = retry
    if "spool" in options:
        value = options.pop("spool")
        if value.strip().lower() in ("off", "none", "0", "false", "no"):
            kw["spool"] = False
        elif not value.strip():
            raise ConfigError("option ?spool=: expected a directory or 'off'")
        else:
            kw["spool_dir"] = os.path.expanduser(value)
    if "spool_bytes" in options:
        kw["spool_bytes"] = parse_size("spool_bytes", options.pop("spool_bytes"))
    return kw


def reject_unknown(options: Dict[str, str], url: str, accepted: Tuple[str, ...]) -> None:
    if options:
        name = sorted(options)[0]
        raise ConfigError(
            f"sink URL {_redact(url)!r}: unknown option ?{name}= (accepted: {', '.join(sorted(accepted))})"
        )


# ---------------------------------------------------------------------------------------------
# the shared machinery


class _Unit:
    """A batch being delivered: its remaining request bodies (raw JSONL chunks), in order."""

    __slots__ = ("chunks", "seq", "entry", "body", "body_items", "path", "key", "attempts", "fails_500",
                 "first_failure", "done", "partial")

    def __init__(self, chunks: Deque[bytes], seq: int, entry: Optional[SpoolEntry]) -> None:
        self.chunks = chunks
        self.seq = seq  # lowest write sequence number covered; 0 for batches from an earlier process
        self.entry = entry  # the spool file backing this batch, if any
        self.body: Optional[bytes] = None  # encoded body of chunks[0], reused across retries
        self.body_items = 0
        self.path = ""  # request path of that body
        self.key = ""
        self.attempts = 0
        self.fails_500 = 0
        self.first_failure: Optional[float] = None
        self.done = False
        self.partial = False  # some chunks were already acknowledged (or dropped)

    def remainder(self) -> bytes:
        return b"".join(self.chunks)


class _Outcome:
    __slots__ = ("kind", "status", "retry_after", "reason", "body")

    def __init__(self, kind: str, status: int = 0, retry_after: Optional[float] = None,
                 reason: str = "", body: bytes = b"") -> None:
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.reason = reason
        self.body = body


def _count_lines(data: bytes) -> int:
    n = data.count(b"\n")
    return n if data.endswith(b"\n") else n + 1


class PostingSink(Sink):
    """A sink that POSTs batches from its own sender thread, with retries and a disk spool.

    Subclasses decide how a raw JSONL chunk becomes a request body (``_encode``), how batches are
    split into requests (``_split``) and which statuses are retried (``retry_500``).
    """

    #: Content-Type of the request body.
    content_type = "application/x-ndjson"
    #: Short name for the spool key and the thread name.
    kind = "http"

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        gzip: bool = False,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        verify: bool = True,
        cafile: Optional[str] = None,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        retry: Optional[Any] = None,
        spool: bool = True,
        spool_dir: Optional[str] = None,
        spool_bytes: int = DEFAULT_SPOOL_BYTES,
        spool_fsync: bool = True,
        seed: Optional[int] = None,
        display_url: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._endpoint = Endpoint(endpoint)
        self.url = display_url or self._endpoint.display()
        hdrs: Dict[str, str] = {}
        if self._endpoint.auth_header:
            hdrs["Authorization"] = self._endpoint.auth_header
        for key, value in (headers or {}).items():
            check_header(key, value, f"sink {self.url} header")
            hdrs[key] = value
        self._user_headers = hdrs
        self._gzip = bool(gzip)
        self._connect_timeout = float(connect_timeout)
        self._read_timeout = float(read_timeout)
        if self._connect_timeout <= 0 or self._read_timeout <= 0:
            raise ConfigError(f"sink {self.url}: timeouts must be positive")
        self._verify = bool(verify)
        self._cafile = cafile
        self._ssl_context: Optional[ssl.SSLContext] = None
        if self._endpoint.scheme == "https":
            self._ssl_context = self._make_ssl_context()
        self._queue_max = int(queue_bytes)
        self._max_body = int(max_body_bytes)
        if self._queue_max <= 0 or self._max_body <= 0:
            raise ConfigError(f"sink {self.url}: queue_bytes and max_body must be positive")
        if isinstance(retry, RetryPolicy):
            policy = retry
        else:
            policy = RetryPolicy(retry_500=self.retry_500_default, **(retry or {}))
        self._policy = policy
        self._spool: Optional[Spool] = None
        if spool:
            root = spool_dir or default_spool_root(self._spool_key(), dict(env))
            self._spool = Spool(root, int(spool_bytes), fsync=spool_fsync)
        self._seed = seed
        self._headers = self._base_headers()
        self._init_state()
        if self._spool is not None and Spool.root_has_segments(self._spool.root):
            self._ensure_thread()  # deliver what an earlier process left behind

    # -- subclass hooks --------------------------------------------------------------------------
    #: Attempts for HTTP 500 (see ``_retry``); the OTLP sink sets 1 (never retried, per OTLP spec).
    retry_500_default = 3

    def _split(self, data: bytes) -> List[bytes]:
        """Cut a batch into request-sized raw JSONL chunks at line boundaries."""
        if len(data) <= self._max_body:
            return [data]
        chunks: List[bytes] = []
        start, end = 0, len(data)
        while start < end:
            stop = start + self._max_body
            if stop >= end:
                chunks.append(data[start:])
                break
            cut = data.rfind(b"\n", start, stop)
            if cut < 0:  # one line longer than max_body: send it whole
                cut = data.find(b"\n", stop)
                if cut < 0:
                    chunks.append(data[start:])
                    break
            chunks.append(data[start:cut + 1])
            start = cut + 1
        return chunks

    def _encode(self, chunk: bytes) -> Optional[Tuple[bytes, int]]:
        """``(request body, items it carries)`` for one chunk, or None when nothing is to be sent."""
        return self._compress(chunk), _count_lines(chunk)

    def _path(self, chunk: bytes) -> str:
        """The request path for one chunk (the OTLP sink sends alerts and scores to ``/v1/logs``)."""
        return self._endpoint.path

    def _on_success(self, response_body: bytes, items: int, path: str) -> None:
        """Look at a 2xx response body (OTLP partial success); ``items`` is what the body carried."""

    def _extra_stats(self) -> Dict[str, int]:
        return {}

    # -- construction helpers -------------------------------------------------------------------
    def _spool_key(self) -> str:
        ep = self._endpoint
        header_part = "\n".join(f"{k.lower()}:{v}" for k, v in sorted(self._user_headers.items()))
        return f"{self.kind} {ep.scheme}://{ep.host}:{ep.port}{ep.path}\n{header_part}"

    def _make_ssl_context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=self._cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"sink {self.url}: cannot load cafile: {exc}") from None
        if not self._verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _base_headers(self) -> Dict[str, str]:
        headers = {"Content-Type": self.content_type, "User-Agent": _user_agent()}
        if self._gzip:
            headers["Content-Encoding"] = "gzip"
        headers.update(self._user_headers)
        return headers

    def _compress(self, body: bytes) -> bytes:
        if not self._gzip:
            return body
        comp = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)
        return comp.compress(body) + comp.flush()

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        # (data, unused, seq): lines are counted on the sender thread, never in write()
        self._queue: Deque[Tuple[bytes, int, int]] = deque()
        self._queue_bytes = 0
        self._moving: List[int] = []  # seqs being written to the spool right now
        self._inflight: Optional[_Unit] = None
        self._thread: Optional[threading.Thread] = None
        self._closing: Optional[float] = None  # close() deadline (monotonic)
        self._stop_at: Optional[float] = None  # when the sender must stop using the network
        self._closed = False
        self._outage = False
        self._spool_retry_at = 0.0
        self._write_seq = 0
        self._drops = 0
        self._drops_reported = 0
        self._failed_attempts = 0
        self._left_behind = False  # close() left batches of this process in the spool
        self._pid = os.getpid()
        self._conn: Optional[http.client.HTTPConnection] = None
        self._conn_used = 0
        self._rng = random.Random(self._seed)
        self._counters: Dict[str, int] = {}
        self._dropped_by: Dict[str, int] = {}
        self.last_error = ""

    # -- the Sink interface -------------------------------------------------------------------
    def write(self, batch: bytes) -> None:
        """Queue one batch; returns at once (the sender thread does the network work)."""
        if not batch:
            return
        if type(batch) is not bytes:  # bytearray / memoryview from a batcher: own an immutable copy
            batch = bytes(batch)
        if os.getpid() != self._pid:  # forked without the hooks (uWSGI): start over
            self.after_fork_in_child()
        if not batch.endswith(b"\n"):  # batches are concatenated in the spool: keep lines whole
            batch += b"\n"
        # No per-line work here (counting the lines of a 1 MiB batch alone takes ~0.4 ms).
        with self._cond:
            if self._closed or self._closing is not None:
                self._drop_locked("closed", batch.count(b"\n"))
                return
            self._write_seq += 1
            self._queue.append((batch, 0, self._write_seq))
            self._queue_bytes += len(batch)
            while self._queue_bytes > self._queue_max and len(self._queue) > 1:
                data, _, _ = self._queue.popleft()
                self._queue_bytes -= len(data)
                self._drop_locked("queue_full", data.count(b"\n"))
            thread = self._thread
            if thread is None or not thread.is_alive():
                self._ensure_thread_locked()
            self._cond.notify()

    def flush(self, timeout: float) -> bool:
        """Wait until every batch written so far was acknowledged (True), or ``timeout``.

        Returns False early when the endpoint is down (an attempt made after the call failed)
        and everything is safe in the spool, and False when any batch was dropped since the
        previous ``flush``.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            target = self._write_seq
            failed_before = self._failed_attempts
            while True:
                low = self._pending_min_seq_locked()
                if low is None or low > target:
                    ok = self._drops == self._drops_reported and not self._left_behind
                    self._drops_reported = self._drops
                    return ok
                if (self._outage and self._failed_attempts > failed_before
                        and self._all_spooled_locked(target)):
                    return False
                if self._thread is None or not self._thread.is_alive():
                    if self._closed:
                        return False
                    self._ensure_thread_locked()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 1.0))

    def close(self, timeout: float) -> None:
        """Deliver what the endpoint accepts within ``timeout``; spool the rest; stop the thread."""
        timeout = max(0.0, float(timeout))
        now = time.monotonic()
        deadline = now + timeout
        reserve = min(0.5, timeout * 0.2)
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._closing = deadline
            self._stop_at = deadline - reserve
            thread = self._thread
            self._cond.notify_all()
        current = threading.current_thread()
        if thread is not None and thread is not current:
            thread.join(max(0.0, deadline - reserve / 2 - time.monotonic()))
        # Whatever is still in memory goes to the spool from here: the sender finished, crashed,
        # never started, or is stuck in a call that cannot be interrupted (DNS, connect).
        if self._spool_everything(from_close=True):
            self._left_behind = True
        if thread is None or thread is current or not thread.is_alive():
            self._drop_conn()
            if self._spool is not None:
                if self._spool_min_seq() is not None:
                    self._left_behind = True
                self._spool.close()

    def after_fork_in_child(self) -> None:
        """Forget the parent's queue, thread, connection and spool segments (the parent sends them)."""
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.close()  # our copy of the fd only; the parent's connection is untouched
            except OSError:
                pass
        if self._spool is not None:
            self._spool.after_fork_in_child()
        self._seed = None
        self._init_state()

    def stats(self) -> Dict[str, Any]:
        """Counters (ints), plus ``dropped``: lines given up by reason (``mist.stats()`` lifts it)."""
        with self._lock:
            out: Dict[str, Any] = dict(self._counters)
            out["dropped"] = dict(self._dropped_by)
            out["queue_bytes"] = self._queue_bytes
            out["queue_batches"] = len(self._queue)
        if self._spool is not None:
            out["spool_pending_bytes"] = self._spool.pending_bytes
            out["spool_pending_files"] = self._spool.pending_files
        out.update(self._extra_stats())
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # -- counters (call with self._lock held, or from the sender thread via _count) -----------------
    def _inc_locked(self, key: str, n: int = 1) -> None:
        self._counters[key] = self._counters.get(key, 0) + n

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._inc_locked(key, n)

    def _drop_locked(self, reason: str, lines: int) -> None:
        self._inc_locked("dropped_envelopes", lines)
        self._inc_locked("dropped_batches")
        self._dropped_by[reason] = self._dropped_by.get(reason, 0) + lines
        self._drops += 1
        self._cond.notify_all()

    def _drop(self, reason: str, lines: int) -> None:
        with self._cond:
            self._drop_locked(reason, lines)

    # -- flush bookkeeping -----------------------------------------------------------------------
    def _pending_min_seq_locked(self) -> Optional[int]:
        candidates: List[int] = []
        if self._queue:
            candidates.append(self._queue[0][2])
        if self._moving:
            candidates.append(min(self._moving))
        unit = self._inflight
        if unit is not None and not unit.done and unit.seq > 0:
            candidates.append(unit.seq)
        if self._spool is not None:
            low = self._spool_min_seq()
            if low is not None:
                candidates.append(low)
        return min(candidates) if candidates else None

    def _spool_min_seq(self) -> Optional[int]:
        spool = self._spool
        if spool is None:
            return None
        with spool._lock:  # noqa: SLF001 - same package; read-only scan
            for entry in spool._entries:  # noqa: SLF001
                if entry.seq > 0:
                    return entry.seq
        return None

    def _all_spooled_locked(self, target: int) -> bool:
        if self._queue and self._queue[0][2] <= target:
            return False
        if self._moving:
            return False
        unit = self._inflight
        if unit is not None and not unit.done and unit.entry is None and 0 < unit.seq <= target:
            return False
        return True

    # -- the sender thread -----------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            self._ensure_thread_locked()

    def _ensure_thread_locked(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self._closed:
            return
        thread = threading.Thread(target=self._run, name=f"mist-{self.kind}-sender", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self) -> None:
        try:
            if self._spool is not None:
                self._adopt()
            while True:
                unit = self._next_unit()
                if unit is None or not self._deliver(unit):
                    break
        except BaseException as exc:  # never let the thread die silently with data in memory
            self.last_error = f"sender crashed: {type(exc).__name__}"
            self._count("sender_crashes")
        finally:
            try:
                self._shrink_partial_spool_file()
                self._spool_everything(from_close=self._closing is not None)
            finally:
                self._drop_conn()
                if self._closing is not None and self._spool is not None:
                    if self._spool_min_seq() is not None:
                        self._left_behind = True
                    self._spool.close()
                with self._cond:
                    self._cond.notify_all()

    def _adopt(self) -> None:
        assert self._spool is not None
        try:
            evicted = self._spool.adopt()
        except OSError:
            self._count("spool_errors")
            return
        for entry in evicted:
            self._drop("spool_full", entry.lines)

    def _past_stop(self) -> bool:
        stop = self._stop_at
        return stop is not None and time.monotonic() >= stop

    def _next_unit(self) -> Optional[_Unit]:
        while True:
            spool = self._spool
            entry = spool.head() if spool is not None else None
            with self._cond:
                if self._closing is not None:
                    if self._past_stop():
                        return None
                    # At shutdown: memory first is not possible without reordering, so keep order,
                    # but stop once nothing of *this* process is left (older spool stays on disk).
                    if not self._queue and self._spool_min_seq() is None:
                        return None
                if entry is None:
                    if self._queue:
                        data, _, seq = self._queue.popleft()
                        self._queue_bytes -= len(data)
                        unit = _Unit(deque((data,)), seq, None)
                        self._inflight = unit
                        break

                    if self._closing is not None:
                        return None
                    self._cond.wait(5.0)
                    continue
            if entry is None:
                break
            assert spool is not None
            try:
                data = spool.read(entry)
            except OSError:
                self._count("spool_errors")
                spool.remove(entry)
                self._drop("spool_unreadable", entry.lines)
                continue
            spool.pin(entry)
            unit = _Unit(deque((data,)), entry.seq, entry)
            with self._lock:
                self._inflight = unit
            break
        # split outside the lock (batch=none cuts a batch into one chunk per line); a concurrent
        # close() reading the remainder sees either form of the same bytes
        unit.chunks = deque(self._split(unit.chunks[0]))
        return unit

    def _deliver(self, unit: _Unit) -> bool:
        """Send every chunk of ``unit``. False when the sender must stop (shutting down)."""
        policy = self._policy
        while unit.chunks:
            if unit.body is None:
                try:
                    encoded = self._encode(unit.chunks[0])
                except Exception as exc:  # an encoder bug must not kill the sender
                    self.last_error = f"encode failed: {type(exc).__name__}"
                    encoded = None
                    self._drop("encode_error", _count_lines(unit.chunks[0]))
                if encoded is None:
                    unit.chunks.popleft()
                    continue
                unit.body, unit.body_items = encoded
                unit.path = self._path(unit.chunks[0])
                unit.key = hashlib.blake2b(unit.chunks[0], digest_size=16).hexdigest()
                unit.attempts = unit.fails_500 = 0
            if self._past_stop():
                return False  # closing: the remainder goes to the spool
            self._maybe_relieve_pressure(unit)
            outcome = self._post(unit.body, unit.key, unit.path)
            if outcome.kind == RETRY_STATUS_500:
                unit.fails_500 += 1
                kind = policy.classify(500, unit.fails_500)
            else:
                kind = outcome.kind
            if kind == OK:
                chunk = unit.chunks.popleft()
                unit.partial = True
                lines = _count_lines(chunk)
                with self._cond:
                    self._inc_locked("sent_batches")
                    self._inc_locked("sent_envelopes", lines)
                    self._inc_locked("sent_bytes", len(unit.body))
                    if unit.entry is not None:
                        self._inc_locked("unspooled_envelopes", lines)
                    recovered = self._outage
                    self._outage = False
                self._on_success(outcome.body, unit.body_items, unit.path)
                unit.body = None
                unit.first_failure = None
                if recovered and self._spool is not None:
                    self._adopt()  # the endpoint is back: pick up what dead processes left
                continue
            if kind in (DROP, SKIP):  # SKIP: refused for a reason the subclass counted itself
                chunk = unit.chunks.popleft()
                unit.partial = True
                if kind == DROP:
                    self._drop(outcome.reason or f"http_{outcome.status}", _count_lines(chunk))
                unit.body = None
                unit.first_failure = None
                continue
            # transient failure: back off, spool when the window is over
            now = time.monotonic()
            unit.attempts += 1
            if unit.first_failure is None:
                unit.first_failure = now
            with self._cond:
                self._inc_locked("retries")
                self._failed_attempts += 1
                self._cond.notify_all()
            if self._closing is not None:
                return False  # no retries at shutdown: the remainder goes to the spool
            delay = policy.delay(unit.attempts, outcome.retry_after, self._rng)
            if now + delay - unit.first_failure > policy.window and not self._outage:
                if self._spool is not None:
                    with self._lock:
                        self._outage = True
                        self._inc_locked("outages")
                        self._cond.notify_all()
                    self._spool_everything(from_close=False)
                else:
                    remaining = sum(_count_lines(c) for c in unit.chunks)
                    unit.chunks.clear()
                    unit.body = None
                    self._drop("retry_window", remaining)
                    break
            self._wait_backoff(now + delay)
        self._finish_unit(unit)
        return True

    def _finish_unit(self, unit: _Unit) -> None:
        with self._cond:
            unit.done = True
            entry = unit.entry
            if self._inflight is unit:
                self._inflight = None
            self._cond.notify_all()
        if entry is not None and self._spool is not None:
            self._spool.remove(entry)
            with self._cond:
                self._cond.notify_all()

    def _wait_backoff(self, until: float) -> None:
        """Sleep until ``until``; meanwhile spool arriving batches when the endpoint is down."""
        while True:
            with self._cond:
                while True:
                    if self._closing is not None:
                        return
                    if self._queue and self._should_spool_locked():
                        break
                    remaining = until - time.monotonic()
                    if remaining <= 0:
                        return
                    self._cond.wait(remaining)
            self._spool_everything(from_close=False)

    def _should_spool_locked(self) -> bool:
        if self._spool is None or time.monotonic() < self._spool_retry_at:
            return False
        return self._outage or self._queue_bytes > self._queue_max // 2

    def _maybe_relieve_pressure(self, unit: _Unit) -> None:
        with self._lock:
            spool_now = bool(self._queue) and self._should_spool_locked()
        if spool_now:
            self._spool_everything(from_close=False)

    # -- spooling ---------------------------------------------------------------------------------
    def _shrink_partial_spool_file(self) -> None:
        """Stopping mid-file: keep only the unsent lines, so the next process sends no duplicates."""
        unit = self._inflight
        spool = self._spool
        if spool is None or unit is None or unit.done or unit.entry is None or not unit.partial:
            return
        try:
            if unit.chunks:
                spool.replace(unit.entry, unit.remainder(), sum(_count_lines(c) for c in unit.chunks))
            else:
                spool.remove(unit.entry)
        except OSError:
            self._count("spool_errors")  # the whole file stays: resent, at least once

    def _spool_everything(self, *, from_close: bool) -> bool:
        """Move the in-flight remainder (if memory-backed) and the queue to the spool.

        At shutdown (``from_close``) without a usable spool, the rest is dropped and counted.
        Returns True when there was anything to move.
        """
        spool = self._spool
        with self._cond:
            unit = self._inflight
            inflight_data = b""
            if unit is not None and not unit.done and unit.entry is None and unit.chunks:
                inflight_data = unit.remainder()
            items = list(self._queue)
            self._queue.clear()
            self._queue_bytes = 0
            self._moving.extend(seq for _, _, seq in items)
            if unit is not None and inflight_data:
                self._moving.append(unit.seq)
        if not items and not inflight_data:
            return False
        failed: List[Tuple[bytes, int, int]] = []
        try:
            if inflight_data and unit is not None:
                entry = self._spool_put(spool, inflight_data, _count_lines(inflight_data), unit.seq, from_close)
                with self._cond:
                    if entry is _FAILED:
                        if from_close:  # the disk refused at shutdown: counted, not silent
                            self._drop_locked("shutdown", _count_lines(inflight_data))
                    elif entry is not None and not unit.done:
                        unit.entry = entry
                        if spool is not None:
                            spool.pin(entry)
                    elif entry is not None and spool is not None:
                        # delivered meanwhile (close() spooled a request that then succeeded)
                        spool.remove(entry)
            for group in _coalesce(items, _SPOOL_FILE_BYTES):
                data = b"".join(g[0] for g in group)
                lines = data.count(b"\n")
                if self._spool_put(spool, data, lines, group[0][2], from_close) is _FAILED:
                    failed.extend(group)
        finally:
            with self._cond:
                self._moving.clear()
                if failed and not from_close:
                    # the disk refused: keep them in memory (the queue bound still applies)
                    for item in reversed(failed):
                        self._queue.appendleft(item)
                        self._queue_bytes += len(item[0])
                elif failed:
                    for item in failed:
                        self._drop_locked("shutdown", item[0].count(b"\n"))
                self._cond.notify_all()
        return True

    def _spool_put(self, spool: Optional[Spool], data: bytes, lines: int, seq: int,
                   from_close: bool) -> Any:
        """Write one spool file; returns the entry, None (dropped: too big) or ``_FAILED``."""
        if spool is None:
            if from_close:
                self._drop("shutdown", lines)
                return None
            return _FAILED
        try:
            entry, evicted = spool.put(data, lines, seq)
        except OSError as exc:
            self.last_error = f"spool write failed: {exc.strerror or type(exc).__name__}"
            with self._lock:
                self._inc_locked("spool_errors")
                self._spool_retry_at = time.monotonic() + 5.0
            return _FAILED
        with self._cond:
            for old in evicted:
                self._drop_locked("spool_full", old.lines)
            if entry is None:
                self._drop_locked("spool_full", lines)
            else:
                self._inc_locked("spooled_batches")
                self._inc_locked("spooled_envelopes", lines)
                self._inc_locked("spooled_bytes", len(data))
        return entry

    # -- HTTP -------------------------------------------------------------------------------------
    def _drop_conn(self) -> None:
        conn = self._conn
        self._conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing must not fail the sender
                pass

    def _timeouts(self) -> Tuple[float, float]:
        stop = self._stop_at
        if stop is None:
            return self._connect_timeout, self._read_timeout
        left = max(0.01, stop - time.monotonic())
        return min(self._connect_timeout, left), min(self._read_timeout, left)

    def _open(self, connect_timeout: float) -> http.client.HTTPConnection:
        ep = self._endpoint
        conn: http.client.HTTPConnection
        if ep.scheme == "https":
            conn = http.client.HTTPSConnection(ep.host, ep.port, timeout=connect_timeout,
                                               context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(ep.host, ep.port, timeout=connect_timeout)
        conn.connect()
        sock = conn.sock
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover
                pass
        self._count("connections")
        return conn

    def _post(self, body: bytes, key: str, path: str) -> _Outcome:
        headers = dict(self._headers)
        headers["Idempotency-Key"] = key
        for fresh in (False, True):
            connect_timeout, read_timeout = self._timeouts()
            reused = False
            try:
                conn = self._conn
                if conn is None or conn.sock is None:
                    self._drop_conn()
                    conn = self._open(connect_timeout)
                    self._conn = conn
                    self._conn_used = 0
                else:
                    reused = self._conn_used > 0
                assert conn.sock is not None
                conn.sock.settimeout(read_timeout)
                # a memoryview makes http.client send the body with its own sendall (GIL released)
                # instead of first copying it after the headers while holding the GIL
                conn.request("POST", path, memoryview(body), headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self._drop_conn()
                if reused and not fresh and isinstance(exc, _STALE_ERRORS):
                    self._count("reconnects")
                    continue  # the server closed an idle keep-alive connection: resend at once
                reason = _failure_reason(exc)
                self.last_error = f"{reason}: {type(exc).__name__}"
                self._count("failures." + reason)
                return _Outcome(RETRY_TRANSIENT, reason=reason)
            self._conn_used += 1
            status = resp.status
            retry_after = parse_retry_after(resp.getheader("Retry-After"))
            data = b""
            try:
                if resp.length is not None and resp.length > _MAX_RESPONSE:
                    self._drop_conn()
                elif resp.length is not None:
                    data = resp.read()  # raises IncompleteRead when the body is cut short
                else:
                    data = resp.read(_MAX_RESPONSE)  # chunked or until close
                    if not resp.isclosed():
                        self._drop_conn()
            except (OSError, http.client.HTTPException):
                # the response was cut after its status line: the status stands
                self._count("response_errors")
                self._drop_conn()
            if resp.will_close:
                self._drop_conn()
            if 200 <= status < 300:
                return _Outcome(OK, status, body=data)
            self._count(f"failures.http_{status}")
            self.last_error = f"HTTP {status}"
            if status == 500:
                return _Outcome(RETRY_STATUS_500, status, retry_after)
            kind = self._policy.classify(status)
            return _Outcome(kind, status, retry_after, reason=f"http_{status}")
        return _Outcome(RETRY_TRANSIENT, reason="connection")  # pragma: no cover - loop always returns


RETRY_TRANSIENT = "retry"
SKIP = "skip"
RETRY_STATUS_500 = "retry500"
_FAILED = object()
_STALE_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                 ConnectionAbortedError, http.client.BadStatusLine)


def _coalesce(items: List[Tuple[bytes, int, int]], limit: int) -> List[List[Tuple[bytes, int, int]]]:
    """Consecutive groups of queued batches, each at most ``limit`` bytes (or one big batch)."""
    groups: List[List[Tuple[bytes, int, int]]] = []
    size = 0
    for item in items:
        if groups and size + len(item[0]) <= limit:
            groups[-1].append(item)
            size += len(item[0])
        else:
            groups.append([item])
            size = len(item[0])
    return groups


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ssl.SSLError) or isinstance(exc, getattr(ssl, "CertificateError", ())):
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, socket.gaierror):
        return "dns"
    return "connection"


def _user_agent() -> str:
    import sys

    mist = sys.modules.get("mist")
    version = getattr(mist, "__version__", "") if mist is not None else ""
    return f"mist-trace/{version or 'dev'} python/{sys.version_info[0]}.{sys.version_info[1]}"


class HTTPSink(PostingSink):
    """POST JSONL batches (NDJSON) to a MIST receiver; see the module docstring for the options."""

    kind = "http"

    def __init__(self, endpoint: str, *, one_per_request: bool = False, **kwargs: Any) -> None:
        self._one_per_request = bool(one_per_request)
        if self._one_per_request:
            self.content_type = "application/json"
        super().__init__(endpoint, **kwargs)

    @classmethod
    def from_url(cls, url: str, *, headers: Optional[Mapping[str, str]] = None,
                 environ: Optional[Mapping[str, str]] = None) -> "HTTPSink":
        """Build from ``http[s]://…?options``; raises ``ConfigError`` naming a bad option.

        Headers: ``MIST_HTTP_HEADERS`` from ``environ`` (default ``os.environ``), then ``headers``.
        """
        env = os.environ if environ is None else environ
        base, options, _ = split_query(url)
        endpoint = Endpoint(base)  # validates scheme/host/port early with a clear message
        kw = transport_kwargs(options, env)
        one = False
        if "batch" in options:
            value = options.pop("batch").strip().lower()
            if value in ("none", "1", "one", "single"):
                one = True
            elif value not in ("ndjson", "lines", "auto"):
                raise ConfigError(f"option ?batch={value!r}: expected 'none' (one envelope per POST) or 'ndjson'")
        reject_unknown(options, url, TRANSPORT_OPTIONS + ("batch",))
        hdrs = parse_headers(config.http_headers(env), "MIST_HTTP_HEADERS")
        hdrs.update(headers or {})
        _, _, query = url.partition("?")
        display = endpoint.display(query.partition("#")[0])
        return cls(base, one_per_request=one, headers=hdrs, display_url=display, environ=env, **kw)

    def _split(self, data: bytes) -> List[bytes]:
        if not self._one_per_request:
            return super()._split(data)
        return [line + b"\n" for line in data.split(b"\n") if line]

    def _encode(self, chunk: bytes) -> Optional[Tuple[bytes, int]]:
        if self._one_per_request:  # the body is the envelope's bytes exactly, no newline
            return self._compress(chunk[:-1] if chunk.endswith(b"\n") else chunk), 1
        return self._compress(chunk), _count_lines(chunk)
