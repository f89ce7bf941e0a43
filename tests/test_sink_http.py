"""HTTP sink against real loopback receivers with injected faults.

Every test ends by checking what the receiver got (each envelope exactly once, in order) and what
the sink counted. Timing is only ever asserted as a generous upper bound on calls that must not
hang, or as a lower bound on a wait the server asked for.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mist.errors import ConfigError
from mist.sinks.http import HTTPSink
from mist.sinks._retry import RetryPolicy, parse_retry_after
from receivers import Fault, Receiver, batch, make_lines

DATA = Path(__file__).parent / "data" / "mist-go-canonical.jsonl"
FAST = "retry_initial=0.01&retry_max_delay=0.05"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def make_sink(receiver: Receiver, query: str = "", path: str = "/ingest", **env: str) -> HTTPSink:
    q = f"spool=off&{FAST}" + (f"&{query}" if query else "")
    return HTTPSink.from_url(f"{receiver.url}{path}?{q}", environ=env)


def write_batches(sink: HTTPSink, n_batches: int, per_batch: int, start: int = 0):
    lines = make_lines(n_batches * per_batch, start=start)
    for i in range(n_batches):
        sink.write(batch(lines[i * per_batch:(i + 1) * per_batch]))
    return lines


# -- happy path -----------------------------------------------------------------------------------


def test_batches_arrive_in_order_over_one_persistent_connection(receiver):
    sink = make_sink(receiver)
    lines = write_batches(sink, 20, 50)
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines
    assert [r.path for r in receiver.requests] == ["/ingest"] * 20
    req = receiver.requests[0]
    assert req.headers["content-type"] == "application/x-ndjson"
    assert "content-encoding" not in req.headers
    assert len(req.headers["idempotency-key"]) == 32
    stats = sink.stats()
    assert stats["connections"] == 1
    assert stats["sent_batches"] == 20
    assert stats["sent_envelopes"] == 1000
    assert stats["sent_bytes"] == sum(len(r.raw) for r in receiver.requests)
    assert stats.get("dropped_envelopes", 0) == 0 and stats["queue_bytes"] == 0


def test_gzip_bodies_decode_to_the_same_lines(receiver):
    sink = make_sink(receiver, "gzip=1")
    lines = write_batches(sink, 5, 200)
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines
    for req in receiver.requests:
        assert req.headers["content-encoding"] == "gzip"
        assert req.raw[:2] == b"\x1f\x8b" and len(req.raw) < len(req.body) / 3
    assert sink.stats()["sent_bytes"] == sum(len(r.raw) for r in receiver.requests)


def test_batch_none_posts_each_mist_go_envelope_byte_for_byte(receiver):
    originals = [line for line in DATA.read_bytes().split(b"\n") if line]
    sink = make_sink(receiver, "batch=none")
    # hand them over in uneven batches, as a batcher would
    for i in range(0, len(originals), 37):
        sink.write(b"".join(line + b"\n" for line in originals[i:i + 37]))
    assert sink.flush(20)
    sink.close(5)
    assert [r.body for r in receiver.requests] == originals
    assert all(r.headers["content-type"] == "application/json" for r in receiver.requests)
    assert sink.stats()["sent_batches"] == len(originals)


def test_large_batches_are_split_at_line_boundaries(receiver):
    sink = make_sink(receiver, "max_body=8KiB")
    lines = write_batches(sink, 2, 300)
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines
    assert len(receiver.requests) > 2
    for req in receiver.requests:
        assert len(req.body) <= 8 * 1024 and req.body.endswith(b"\n")


def test_batch_without_trailing_newline_is_completed(receiver):
    sink = make_sink(receiver)
    lines = make_lines(3)
    sink.write(b"\n".join(lines))  # last line unterminated
    sink.write(b"")  # ignored
    assert sink.flush(5)
    sink.close(5)
    assert receiver.lines() == lines


# -- configuration ----------------------------------------------------------------------------


def test_headers_from_env_and_url_credentials_never_leak(receiver):
    secret = "s3cr3t/+=value"
    env = {"MIST_HTTP_HEADERS": f"Authorization=Bearer%20{secret.replace('/', '%2F').replace('+', '%2B').replace('=', '%3D')}, X-Team = blue"}
    url = f"http://alice:pa%40ss@127.0.0.1:{receiver.port}/ingest?spool=off&{FAST}"
    sink = HTTPSink.from_url(url, environ=env)
    assert "alice" not in sink.url and "pa%40ss" not in sink.url
    assert sink.url.startswith(f"http://127.0.0.1:{receiver.port}/ingest?")
    sink.write(batch(make_lines(2)))
    assert sink.flush(5)
    sink.close(5)
    hdrs = receiver.requests[0].headers
    assert hdrs["authorization"] == f"Bearer {secret}"  # MIST_HTTP_HEADERS wins over user:pass
    assert hdrs["x-team"] == "blue"
    shown = repr(sink) + str(sink.stats()) + sink.last_error
    assert secret not in shown and "alice" not in shown

    basic = HTTPSink.from_url(url, environ={})
    basic.write(batch(make_lines(1)))
    assert basic.flush(5)
    basic.close(5)
    assert receiver.requests[-1].headers["authorization"] == "Basic " + base64.b64encode(b"alice:pa@ss").decode()


@pytest.mark.parametrize(
    "url, needle",
    [
        ("ftp://127.0.0.1/x", "scheme"),
        ("http:///nohost", "missing host"),
        ("http://127.0.0.1:99999/x", "port"),
        ("http://127.0.0.1/x?gzip=maybe", "?gzip"),
        ("http://127.0.0.1/x?timeout=abc", "?timeout"),
        ("http://127.0.0.1/x?timeout=0", "?timeout"),
        ("http://127.0.0.1/x?batch=some", "?batch"),
        ("http://127.0.0.1/x?queue_bytes=lots", "?queue_bytes"),
        ("http://127.0.0.1/x?spool_bytes=0", "?spool_bytes"),
        ("http://127.0.0.1/x?gzp=1", "?gzp"),
        ("https://127.0.0.1/x?cafile=/does/not/exist.pem", "?cafile"),
    ],
)
def test_bad_urls_and_options_raise_config_error_naming_them(url, needle):
    with pytest.raises(ConfigError) as info:
        HTTPSink.from_url(url, environ={})
    assert needle in str(info.value)


def test_bad_header_env_names_the_variable_not_the_value():
    with pytest.raises(ConfigError) as info:
        HTTPSink.from_url("http://127.0.0.1/x?spool=off", environ={"MIST_HTTP_HEADERS": "ok=1,topsecret"})
    assert "MIST_HTTP_HEADERS" in str(info.value) and "entry 2" in str(info.value)
    assert "topsecret" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        HTTPSink.from_url("http://127.0.0.1/x?spool=off", environ={"MIST_HTTP_HEADERS": "X-A=line%0Abreak"})
    assert "line break" in str(info.value) and "break" not in str(info.value).split(":")[0]


def test_default_spool_dir_is_per_user_state_dir_and_per_endpoint(tmp_path):
    env = {"XDG_STATE_HOME": str(tmp_path)}
    a = HTTPSink.from_url("http://127.0.0.1:1/a", environ=env)
    b = HTTPSink.from_url("http://127.0.0.1:1/b", environ=env)
    c = HTTPSink.from_url("http://127.0.0.1:1/a", environ=dict(env, MIST_HTTP_HEADERS="Authorization=other"))
    roots = {s._spool.root for s in (a, b, c)}
    assert len(roots) == 3
    assert all(r.startswith(str(tmp_path / "mist" / "spool")) for r in roots)
    d = HTTPSink.from_url("http://127.0.0.1:1/a", environ={"MIST_SPOOL_DIR": str(tmp_path / "x")})
    assert d._spool.root.startswith(str(tmp_path / "x"))
    e = HTTPSink.from_url(f"http://127.0.0.1:1/a?spool={tmp_path / 'mine'}", environ=env)
    assert e._spool.root == str(tmp_path / "mine")
    for s in (a, b, c, d, e):
        s.close(0)
    assert not (tmp_path / "mist").exists()  # nothing spooled: nothing created


# -- retries --------------------------------------------------------------------------------------


def test_transient_statuses_are_retried_and_delivered_exactly_once(receiver):
    receiver.script(Fault.status(503), Fault.status(502), Fault.status(504), Fault.status(429))
    sink = make_sink(receiver)
    lines = write_batches(sink, 3, 10)
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines
    stats = sink.stats()
    assert stats["retries"] == 4
    assert stats["failures.http_503"] == stats["failures.http_502"] == 1
    assert stats.get("dropped_envelopes", 0) == 0


def test_http_500_is_retried_a_bounded_number_of_times(receiver):
    receiver.script(Fault.status(500), Fault.status(500))  # third attempt succeeds
    sink = make_sink(receiver)
    first = write_batches(sink, 1, 5)
    assert sink.flush(10)
    receiver.script(Fault.status(500), Fault.status(500), Fault.status(500))  # poison: dropped
    write_batches(sink, 1, 5, start=100)
    third = write_batches(sink, 1, 5, start=200)
    assert not sink.flush(10)  # a batch was dropped since the last flush
    sink.close(5)
    assert receiver.lines() == first + third
    stats = sink.stats()
    assert stats["dropped"]["http_500"] == 5 and stats["dropped_envelopes"] == 5
    assert stats["retries"] == 4


def test_other_4xx_are_dropped_without_retry(receiver):
    receiver.script(Fault.status(400), Fault.status(413), Fault.status(307))
    sink = make_sink(receiver)
    lines = write_batches(sink, 4, 3)
    assert not sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines[9:]
    assert receiver.fault_counts["status"] == 3  # each failed batch was tried once
    stats = sink.stats()
    assert stats["dropped"]["http_400"] == stats["dropped"]["http_413"] == stats["dropped"]["http_307"] == 3
    assert stats.get("retries", 0) == 0


def test_retry_after_is_honoured_lower_bound():
    """Lower bound: the retry cannot come before what Retry-After asked (seconds and HTTP date)."""
    with Receiver() as r:
        stamps = []
        orig = r._next_fault

        def next_fault():
            stamps.append(time.monotonic())
            return orig()

        r._next_fault = next_fault  # type: ignore[method-assign]
        # served right away, so the date is 1..2 s ahead (HTTP dates have 1 s resolution)
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 2))
        r.script(Fault.status(429, retry_after=date), Fault.status(503, retry_after="1"))
        sink = make_sink(r, "retry_max_delay=5")
        lines = write_batches(sink, 1, 2)
        assert sink.flush(15)
        sink.close(5)
        assert r.lines() == lines
        assert len(stamps) == 3
        assert stamps[1] - stamps[0] >= 0.9
        assert stamps[2] - stamps[1] >= 0.95


def test_parse_retry_after_and_backoff_policy():
    import random

    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("soon") is None and parse_retry_after("-5") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    policy = RetryPolicy(initial=0.5, max_delay=8.0, window=30.0, retry_500=3)
    rng = random.Random(1)
    for attempt in range(1, 40):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        delays = [policy.delay(attempt, None, rng) for _ in range(50)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # full jitter spreads over the whole range
    assert policy.delay(1, 100.0, rng) == 8.0  # Retry-After is capped
    assert policy.delay(5, 2.0, rng) == 2.0
    assert [policy.classify(s) for s in (200, 204, 429, 502, 503, 504)] == ["ok", "ok"] + ["retry"] * 4
    assert [policy.classify(s) for s in (400, 401, 403, 404, 413, 301, 501)] == ["drop"] * 7
    assert policy.classify(500, 1) == policy.classify(500, 2) == "retry"
    assert policy.classify(500, 3) == "drop"


# -- connection faults ----------------------------------------------------------------------------


def test_timeout_then_retry_delivers_once(receiver):
    receiver.script(Fault.slow(1.5, record=False))
    sink = make_sink(receiver, "read_timeout=0.3")
    lines = write_batches(sink, 2, 4)
    assert sink.flush(15)
    sink.close(5)
    assert receiver.lines() == lines
    stats = sink.stats()
    assert stats["failures.timeout"] == 1 and stats["retries"] == 1


def test_late_answer_after_accepting_is_deduplicated_by_idempotency_key(receiver):
    receiver.script(Fault.slow(1.0, record=True))  # receiver keeps the data, answers too late
    sink = make_sink(receiver, "read_timeout=0.3")
    lines = write_batches(sink, 2, 4)
    assert sink.flush(15)
    sink.close(5)
    assert receiver.lines()[:4] == lines[:4] and len(receiver.lines()) == 12  # one duplicate
    keys = [r.headers["idempotency-key"] for r in receiver.requests]
    assert keys[0] == keys[1] != keys[2]
    assert receiver.unique_lines() == lines


def test_a_spooled_batch_keeps_its_idempotency_key_in_the_next_process(receiver, tmp_path):
    """The receiver got the batch but answered too late; the endpoint then counts as down and the
    batch goes to the spool; the next process (a new sink on the same spool) resends it under the
    same key, so a deduplicating receiver keeps it once."""
    receiver.script(Fault.slow(1.0, record=True), *[Fault.status(503)] * 10_000)  # then down
    url = f"{receiver.url}/ingest?spool={tmp_path}&{FAST}&read_timeout=0.3&retry_window=0"
    first = HTTPSink.from_url(url, environ={})
    lines = make_lines(6)
    first.write(batch(lines))
    assert not first.flush(5)
    first.close(2)
    assert first.stats()["spooled_envelopes"] == 6 and "sent_envelopes" not in first.stats()
    with receiver._lock:
        receiver._faults.clear()  # the endpoint is back
    second = HTTPSink.from_url(url, environ={})  # a later process: delivers what the spool holds
    assert receiver.wait_items(12, timeout=10)  # the first request's 6 lines, then the resent 6
    second.close(5)
    keys = [r.headers["idempotency-key"] for r in receiver.requests]  # accepted requests only
    assert len(keys) == 2 and keys[0] == keys[1]
    assert receiver.unique_lines() == lines


def test_connection_dropped_before_answer_is_retried(receiver):
    receiver.script(Fault.drop(), Fault.drop())
    sink = make_sink(receiver)
    lines = write_batches(sink, 3, 5)
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines
    assert receiver.fault_counts["drop"] == 2
    assert sink.stats()["retries"] >= 1


def test_response_cut_mid_body_counts_as_delivered(receiver):
    receiver.script(Fault.cut())
    sink = make_sink(receiver)
    lines = write_batches(sink, 3, 5)
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines  # the 200 status line was the acknowledgement: no resend
    stats = sink.stats()
    assert stats["response_errors"] == 1 and stats.get("retries", 0) == 0
    assert stats["connections"] == 2  # the cut connection was replaced


def test_connection_refused_until_the_receiver_comes_back():
    r = Receiver()
    port = r.port
    r.stop()
    sink = HTTPSink.from_url(f"http://127.0.0.1:{port}/x?spool=off&{FAST}&retry_window=60", environ={})
    lines = write_batches(sink, 3, 5)
    deadline = time.monotonic() + 10
    while sink.stats().get("failures.refused", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.stats()["failures.refused"] >= 3
    r = Receiver(port)
    try:
        assert sink.flush(10)
        sink.close(5)
        assert r.lines() == lines
    finally:
        r.stop()


def test_receiver_restart_mid_run_loses_and_duplicates_nothing(receiver):
    sink = make_sink(receiver)
    lines = make_lines(400)
    for i in range(0, 200, 20):
        sink.write(batch(lines[i:i + 20]))
    assert sink.flush(10)
    receiver.restart()  # kills the keep-alive connection; same port
    for i in range(200, 300, 20):
        sink.write(batch(lines[i:i + 20]))
    assert sink.flush(10)
    receiver.stop()
    for i in range(300, 400, 20):
        sink.write(batch(lines[i:i + 20]))
    time.sleep(0.05)
    receiver.start()
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines
    assert sink.stats()["connections"] >= 2


# -- never blocking, bounded memory -------------------------------------------------------------


def test_write_returns_while_the_endpoint_hangs(receiver):
    gate = threading.Event()
    receiver.script(Fault.block(gate))
    sink = make_sink(receiver, "read_timeout=30")
    lines = make_lines(200)
    for i in range(0, 200, 10):
        sink.write(batch(lines[i:i + 10]))  # the first POST hangs; writes must not
    assert not gate.is_set()  # all 20 writes returned while the receiver still held the request
    assert sink.stats()["queue_batches"] >= 18
    gate.set()
    assert sink.flush(10)
    sink.close(5)
    assert receiver.lines() == lines


def test_full_queue_drops_oldest_and_counts(receiver):
    gate = threading.Event()
    receiver.script(Fault.block(gate))
    sink = make_sink(receiver, "read_timeout=30&queue_bytes=20KiB")
    lines = make_lines(500)
    sink.write(batch(lines[:10]))
    while receiver.fault_counts.get("block", 0) == 0:  # bounded by the receiver's MAX_WAIT via flush below
        time.sleep(0.005)
    for i in range(10, 500, 10):
        sink.write(batch(lines[i:i + 10]))
    stats = sink.stats()
    assert stats["queue_bytes"] <= 20 * 1024
    assert stats["dropped"]["queue_full"] > 0
    gate.set()
    assert not sink.flush(10)  # drops happened
    sink.close(5)
    got = receiver.lines()
    assert got[:10] == lines[:10]  # in flight when the queue filled
    assert got[-10:] == lines[-10:]  # newest kept
    assert len(got) + sink.stats()["dropped_envelopes"] == 500
    assert got == [line for line in lines if line in set(got)]  # still in order


def test_close_returns_within_timeout_when_endpoint_hangs(receiver):
    gate = threading.Event()
    receiver.script(Fault.block(gate))
    sink = make_sink(receiver, "read_timeout=30")
    write_batches(sink, 5, 10)
    t0 = time.monotonic()
    sink.close(0.5)
    elapsed = time.monotonic() - t0
    gate.set()
    assert elapsed < 3.0  # not the 30 s read timeout
    stats = sink.stats()
    assert stats["dropped"]["shutdown"] >= 40  # spool=off: what is left is counted, not lost silently
    sink.write(b"{}\n")
    assert sink.stats()["dropped"]["closed"] == 1


# -- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_tls_is_verified_by_default(tls_cert):
    cert, key = tls_cert
    r = Receiver()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    r._server.socket = ctx.wrap_socket(r._server.socket, server_side=True)
    try:
        base = f"https://127.0.0.1:{r.port}/x?spool=off&{FAST}&retry_window=60&timeout=2"
        untrusted = HTTPSink.from_url(base, environ={})
        untrusted.write(batch(make_lines(2)))
        assert not untrusted.flush(1.0)
        assert untrusted.stats()["failures.tls"] >= 1
        untrusted.close(0.2)
        assert r.lines() == []

        trusted = HTTPSink.from_url(base + f"&cafile={cert}", environ={})
        lines = make_lines(3)
        trusted.write(batch(lines))
        assert trusted.flush(10)
        trusted.close(2)
        insecure = HTTPSink.from_url(base + "&verify=0", environ={})
        insecure.write(batch(lines))
        assert insecure.flush(10)
        insecure.close(2)
        assert r.lines() == lines + lines
    finally:
        r.stop()


# -- fork ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_sends_only_its_own_batches(receiver):
    gate = threading.Event()
    receiver.script(Fault.block(gate))
    sink = make_sink(receiver, "read_timeout=30")
    parent_lines = write_batches(sink, 3, 4)  # first is in flight (blocked), two are queued
    while receiver.fault_counts.get("block", 0) == 0:
        time.sleep(0.005)
    child_lines = make_lines(4, start=1000)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: we reset them
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            sink.after_fork_in_child()
            sink.write(batch(child_lines))
            code = 0 if sink.flush(10) else 3
            sink.close(2)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    gate.set()
    assert sink.flush(10)
    sink.close(5)
    got = receiver.lines()
    assert sorted(got) == sorted(parent_lines + child_lines)
    assert len(got) == len(parent_lines) + len(child_lines)


# -- end to end through mist.configure (fresh interpreters) ----------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def run_mist(code: str, env: dict, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("MIST_SINK", None)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), e.get("PYTHONPATH", "")])
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=e,
                          cwd=str(cwd))


def test_configure_with_an_http_url_delivers_traced_spans(receiver, tmp_path):
    code = f"""
import mist
mist.configure("{receiver.url}/mist?batch=none&spool=off")
for i in range(5):
    with mist.trace("run"):
        with mist.span("chat", model="gpt-4o-mini", provider="openai") as s:
            s.usage(tokens_in=10, tokens_out=5)
assert mist.flush(10)
print(mist.stats()["sinks"])
"""
    proc = run_mist(code, {}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    envs = [json.loads(r.body) for r in receiver.requests]
    assert len(envs) == 10 and all(e["type"] == "trace.span" for e in envs)
    assert {e["payload"]["operation"] for e in envs} == {"run", "chat"}


def test_configure_rejects_a_bad_option_naming_it(tmp_path):
    proc = run_mist('import mist\nmist.configure("http://127.0.0.1:9/x?gzip=perhaps")', {}, tmp_path)
    assert proc.returncode != 0 and "ConfigError" in proc.stderr and "?gzip" in proc.stderr


def test_interpreter_exit_during_an_outage_is_bounded_and_spools(tmp_path):
    r = Receiver()
    port = r.port
    r.stop()
    code = f"""
import mist, time
mist.configure("http://127.0.0.1:{port}/mist?spool={tmp_path / 'spool'}&retry_window=60")
for i in range(200):
    with mist.span("step", i=i):
        pass
"""
    t0 = time.monotonic()
    proc = run_mist(code, {"MIST_EXIT_TIMEOUT": "1"}, tmp_path)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 20  # interpreter start + 1 s shutdown budget, never the 60 s retry window
    spooled = [p for p in (tmp_path / "spool").rglob("*.jsonl")]
    lines = [line for p in spooled for line in p.read_bytes().splitlines()]
    spans = [json.loads(line)["payload"]["span_id"] for line in lines if b'"trace.span"' in line]
    assert len(spans) == len(set(spans)) == 200  # (a loaded machine may add latency alerts)
    with Receiver(port) as r2:
        sink = HTTPSink.from_url(f"http://127.0.0.1:{port}/mist?spool={tmp_path / 'spool'}", environ={})
        assert r2.wait_items(200, timeout=10)
        sink.close(5)
        assert sorted(r2.lines()) == sorted(lines)
