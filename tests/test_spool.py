"""The on-disk spool: the ``Spool`` FIFO itself, sinks spooling through outages, and crashes.

Crash tests run a real child process that is killed with SIGKILL, then a fresh sink on the same
spool directory must deliver every batch the child had spooled, at least once.
"""
from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mist.sinks._spool import Spool
from mist.sinks.http import HTTPSink
from receivers import Fault, Receiver, batch, make_lines

ROOT = Path(__file__).resolve().parent.parent
FAST = "retry_initial=0.01&retry_max_delay=0.05"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def files(root: Path):
    """The spool's files; retried when a segment vanishes mid-walk (the sink removes them as it
    delivers, concurrently with this listing)."""
    for _ in range(50):
        try:
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        except FileNotFoundError:
            time.sleep(0.01)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# -- the Spool FIFO -------------------------------------------------------------------------------


def test_put_read_remove_in_order_with_private_atomic_files(tmp_path):
    spool = Spool(str(tmp_path / "s"), 1 << 20)
    datas = [batch(make_lines(3, start=i * 3)) for i in range(4)]
    entries = []
    for i, data in enumerate(datas):
        entry, evicted = spool.put(data, 3, seq=i + 1)
        assert evicted == [] and entry is not None
        entries.append(entry)
    assert spool.pending_files == 4 and spool.pending_bytes == sum(map(len, datas))
    names = files(tmp_path / "s")
    assert not any(n.endswith(".tmp") for n in names)
    assert sum(n.endswith("-3.jsonl") for n in names) == 4
    for entry in entries:
        assert stat.S_IMODE(os.stat(entry.path).st_mode) == 0o600
    seg = Path(entries[0].path).parent
    assert stat.S_IMODE(os.stat(seg).st_mode) == 0o700
    got = []
    while spool.head() is not None:
        e = spool.head()
        got.append(Spool.read(e))
        spool.remove(e)
    assert got == datas
    assert spool.pending_bytes == 0
    spool.close()
    assert not any((tmp_path / "s").iterdir())  # an empty own segment is removed on close


def test_bound_evicts_oldest_but_never_the_pinned_batch(tmp_path):
    spool = Spool(str(tmp_path), 1000)
    a, _ = spool.put(b"a" * 399 + b"\n", 1, 1)
    b, _ = spool.put(b"b" * 399 + b"\n", 1, 2)
    spool.pin(a)
    c, evicted = spool.put(b"c" * 399 + b"\n", 1, 3)
    assert evicted == [b] and c is not None  # a is being delivered: b goes instead
    assert not os.path.exists(b.path)
    big, evicted = spool.put(b"x" * 2000, 1, 4)
    assert big is None and evicted == []  # larger than the whole spool: refused
    d, evicted = spool.put(b"d" * 799 + b"\n", 1, 5)
    assert d is None and evicted == [c]  # only the pinned one left, still no room
    assert [Spool.read(e)[:1] for e in [spool.head()]] == [b"a"]
    spool.close()


def test_a_released_segment_is_adopted_in_order_and_removed_when_drained(tmp_path):
    first = Spool(str(tmp_path), 1 << 20)
    datas = [batch(make_lines(2, start=i * 2)) for i in range(3)]
    for i, d in enumerate(datas):
        first.put(d, 2, i + 1)
    (Path(first.head().path).parent / ".0000000000000009.tmp").write_bytes(b"torn")
    first.close()  # like a process exit: files stay, lock released

    live = Spool(str(tmp_path), 1 << 20)
    live.put(b"mine\n", 1, 1)  # a live owner's segment is never taken
    second = Spool(str(tmp_path), 1 << 20)
    assert second.adopt() == []
    got = []
    while second.head() is not None:
        e = second.head()
        assert e.seq == 0 and e.lines == 2
        got.append(Spool.read(e))
        second.remove(e)
    assert got == datas
    segs = sorted(p.name for p in tmp_path.iterdir())
    assert len(segs) == 1  # the drained segment (and its torn .tmp) is gone; the live one stays
    live.close()
    second.close()


def test_adopting_respects_the_bound(tmp_path):
    first = Spool(str(tmp_path), 1 << 20)
    for i in range(5):
        first.put(b"x" * 99 + b"\n", 1, i + 1)
    first.close()
    second = Spool(str(tmp_path), 250)
    evicted = second.adopt()
    assert len(evicted) == 3 and second.pending_files == 2
    second.close()


# -- sinks through an outage ----------------------------------------------------------------------


def sink_at(port: int, spool: Path, extra: str = "") -> HTTPSink:
    q = f"spool={spool}&{FAST}&retry_window=0" + (f"&{extra}" if extra else "")
    return HTTPSink.from_url(f"http://127.0.0.1:{port}/x?{q}", environ={})


def test_outage_spools_then_recovery_delivers_in_order_exactly_once(tmp_path):
    r = Receiver()
    port = r.port
    r.stop()
    sink = sink_at(port, tmp_path / "spool")
    lines = make_lines(300)
    for i in range(0, 300, 30):
        sink.write(batch(lines[i:i + 30]))
    assert not sink.flush(10)  # returns once everything is safe on disk, endpoint still down
    stats = sink.stats()
    assert stats["spooled_envelopes"] == 300 and stats["outages"] == 1
    assert stats["spool_pending_files"] >= 1
    r = Receiver(port)
    try:
        assert sink.flush(10)
        sink.close(5)
        assert r.lines() == lines
        stats = sink.stats()
        assert stats["unspooled_envelopes"] == 300 and stats.get("dropped_envelopes", 0) == 0
        assert files(tmp_path / "spool") == []
    finally:
        r.stop()


def test_close_during_outage_is_bounded_and_the_next_process_delivers(tmp_path):
    r = Receiver()
    port = r.port
    r.stop()
    sink = sink_at(port, tmp_path / "spool", "retry_window=60")  # still inside the retry window
    lines = make_lines(200)
    for i in range(0, 200, 20):
        sink.write(batch(lines[i:i + 20]))
    t0 = time.monotonic()
    sink.close(0.5)
    assert time.monotonic() - t0 < 3.0
    assert sink.stats()["spooled_envelopes"] == 200
    assert any(n.endswith(".jsonl") for n in files(tmp_path / "spool"))

    r = Receiver(port)
    try:
        nxt = sink_at(port, tmp_path / "spool")
        assert r.wait_items(200, timeout=10)  # delivered without any new write
        nxt.close(5)
        assert r.lines() == lines
        assert files(tmp_path / "spool") == []
    finally:
        r.stop()


def test_spool_bound_drops_oldest_and_counts(tmp_path):
    r = Receiver()
    port = r.port
    r.stop()
    lines = make_lines(400)
    per = 20
    size = len(batch(lines[:per]))
    sink = sink_at(port, tmp_path / "spool", f"spool_bytes={size * 5 + 10}")
    for i in range(0, 400, per):
        sink.write(batch(lines[i:i + per]))
        sink.flush(5)  # one file per batch: the bound is exact
    stats = sink.stats()
    assert stats["dropped"]["spool_full"] > 0
    r = Receiver(port)
    try:
        sink.flush(10)
        sink.close(5)
        got = r.lines()
        # the first batch was being retried (pinned, never evicted); of the rest the newest survive
        assert got[:per] == lines[:per]
        assert got[per:] == lines[len(lines) - len(got) + per:]
        assert len(got) + sink.stats()["dropped_envelopes"] == 400
    finally:
        r.stop()


def test_flapping_endpoint_inside_the_window_needs_no_spool(tmp_path):
    with Receiver() as r:
        r.script(*[Fault.status(503)] * 5, Fault.drop(), Fault.status(429, retry_after="0"))
        sink = sink_at(r.port, tmp_path / "spool", "retry_window=60")
        lines = make_lines(100)
        for i in range(0, 100, 10):
            sink.write(batch(lines[i:i + 10]))
        assert sink.flush(10)
        sink.close(5)
        assert r.lines() == lines
        assert sink.stats().get("spooled_batches", 0) == 0


def test_stopping_mid_file_keeps_only_the_unsent_lines(tmp_path):
    r = Receiver()
    port = r.port
    r.stop()
    a = sink_at(port, tmp_path / "spool", "batch=none")
    lines = make_lines(10)
    a.write(batch(lines))
    assert not a.flush(5)  # all ten are in one spool file
    # jittered backoff: at most ~40 tries/s, so the 503s last well past close()
    r = Receiver(port, faults=[*[Fault.ok()] * 4, *[Fault.status(503)] * 500])
    try:
        deadline = time.monotonic() + 10
        while r.fault_counts.get("status", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        a.close(0.5)  # four acknowledged, the fifth keeps failing
        assert r.items == 4
        names = [n for n in files(tmp_path / "spool") if n.endswith(".jsonl")]
        assert len(names) == 1 and names[0].endswith("-6.jsonl")
        with r._lock:
            r._faults.clear()
        b = sink_at(port, tmp_path / "spool", "batch=none")
        assert r.wait_items(10, timeout=10)
        b.close(5)
        assert [req.body for req in r.requests] == lines  # nothing sent twice
    finally:
        r.stop()


def test_two_live_sinks_on_one_spool_never_drain_each_other(tmp_path):
    r = Receiver()
    port = r.port
    r.stop()
    a = sink_at(port, tmp_path / "spool")
    a_lines = make_lines(50, start=0)
    a.write(batch(a_lines))
    assert not a.flush(5)  # spooled, endpoint down
    with Receiver() as other:
        b = HTTPSink.from_url(f"http://127.0.0.1:{other.port}/x?spool={tmp_path / 'spool'}&{FAST}", environ={})
        b_lines = make_lines(10, start=1000)
        b.write(batch(b_lines))
        assert b.flush(5)
        b.close(5)
        assert other.lines() == b_lines  # a's spooled batches stayed with a
    a.close(0.2)
    with Receiver(port) as r:
        c = sink_at(port, tmp_path / "spool")
        assert r.wait_items(50, timeout=10)
        c.close(5)
        assert r.lines() == a_lines


# -- crashes ----------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time, json
    sys.path[:0] = [sys.argv[1], sys.argv[2]]
    from mist.sinks.http import HTTPSink
    from receivers import make_lines, batch
    port, spool, mode = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    q = "spool=" + spool + "&retry_initial=0.01&retry_max_delay=0.05&retry_window=0"
    sink = HTTPSink.from_url("http://127.0.0.1:%d/x?%s" % (port, q), environ={})
    if mode == "write":
        lines = make_lines(4000)
        for i in range(0, 4000, 20):
            sink.write(batch(lines[i:i + 20]))
            print(sink.stats().get("spooled_envelopes", 0), flush=True)
            time.sleep(0.002)
    print("idle", flush=True)
    time.sleep(60)
    """
)


def spawn(port: int, spool: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT / "python"), str(ROOT / "tests"), str(port), str(spool), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_while_spooling_then_restarted_delivers_everything_spooled(tmp_path):
    port = free_port()
    spool = tmp_path / "spool"
    child = spawn(port, spool, "write")
    spooled = 0
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            if line.strip().isdigit():
                spooled = int(line)
                if spooled >= 1000:
                    break
        assert spooled >= 1000, child.stderr.read()
        child.send_signal(signal.SIGKILL)  # mid-run: still writing and spooling
    finally:
        child.kill()
        child.wait(10)
    lines = make_lines(4000)
    with Receiver(port) as r:
        sink = sink_at(port, spool)
        assert r.wait_items(spooled, timeout=20)
        deadline = time.monotonic() + 20
        while any(n.endswith(".jsonl") for n in files(spool)) and time.monotonic() < deadline:
            time.sleep(0.02)  # an earlier process's backlog is drained in the background
        assert sink.flush(10)
        sink.close(5)
        got = r.lines()
        assert got[:spooled] == lines[:spooled]  # everything reported spooled, in order
        assert set(got) <= set(lines)
        assert len(got) == len(set(got))  # nothing was acknowledged before the kill: no duplicates
    assert files(spool) == []


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_while_draining_then_restarted_delivers_at_least_once(tmp_path):
    spool = tmp_path / "spool"
    lines = make_lines(200)
    seed = Spool(str(spool), 1 << 20)
    for i in range(0, 200, 20):
        seed.put(batch(lines[i:i + 20]), 20, i + 1)
    seed.close()  # an earlier process left 10 files
    with Receiver() as r:
        r.script(*[Fault.slow(0.3, record=True) for _ in range(40)])  # slow acks: kill lands mid-drain
        child = spawn(r.port, spool, "drain")
        try:
            assert r.wait_items(60, timeout=30)
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(10)
        with r._lock:
            r._faults.clear()
        sink = sink_at(r.port, spool)
        assert r.wait_items(200, timeout=20)
        deadline = time.monotonic() + 10
        while files(spool) and time.monotonic() < deadline:
            time.sleep(0.02)
        sink.close(5)
        got = r.lines()
        assert set(got) == set(lines)  # at least once
        assert len(got) - len(lines) <= 20  # at most the one batch in flight at the kill came twice
        first_seen = sorted(set(got), key=got.index)
        assert first_seen == lines  # and in order
    assert files(spool) == []
