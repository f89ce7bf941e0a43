"""The background writer: takes sealed batches from the core and hands them to every sink.

All I/O happens here, never on the application's threads. On the native backend the wait for a
batch releases the GIL; sinks' own writes (``os.write``, sockets) release it too.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional

from ..sinks.base import Sink


class Writer:
    def __init__(self, core: Any) -> None:
        self._core = core
        self.sinks: List[Sink] = []
        self.interval = 1.0
        self._cond = threading.Condition()
        self._done = 0  # sequence number of the last batch handed to every sink
        self._thread: "threading.Thread | None" = None
        self._stop = False
        self._start_lock = threading.Lock()
        self._native_fds: "List[Optional[str]] | None" = None  # set while the native (GIL-free) writer runs
        self.counters: Dict[str, Any] = {"written": 0, "batches_written": 0, "dropped": {}, "sinks": {}}

    # ---- lifecycle ----
    def _fds(self) -> "List[Optional[str]] | None":
        """What the native writer appends to, when every sink is a plain file (or null)."""
        if not hasattr(self._core, "start_fd_writer") or not self.sinks:
            return None
        targets: List[Optional[str]] = []
        for sink in self.sinks:
            if not hasattr(sink, "native_target"):
                return None
            targets.append(sink.native_target())
        return targets

    def restart(self, timeout: float = 2.0) -> None:
        """Stop whichever writer runs and start the one the current sinks want."""
        if self._native_fds is not None:
            self._core.stop_fd_writer()
            self._native_fds = None
        t = self._thread
        if t is not None and t.is_alive():
            self._stop = True
            self._core.wake()
            t.join(timeout)
        self._thread = None
        self.ensure_started()

    def ensure_started(self) -> None:
        if self._native_fds is not None:
            return
        fds = self._fds()
        if fds is not None:
            with self._start_lock:
                if self._native_fds is None:
                    self._core.start_fd_writer(fds, self.interval)
                    self._native_fds = fds
            return
        t = self._thread
        if t is not None and t.is_alive():
            return
        with self._start_lock:
            t = self._thread
            if t is not None and t.is_alive():
                return
            self._stop = False
            with self._cond:
                self._done = self._core.consumed_seq()  # batches another writer already took
            t = threading.Thread(target=self._run, name="mist-writer", daemon=True)
            t.start()
            self._thread = t

    def _run(self) -> None:
        take = self._core.take
        while True:
            try:
                got = take(self.interval)
            except Exception:  # pragma: no cover - the core never raises here
                time.sleep(self.interval)
                continue
            if got is None:
                if self._stop:
                    return
                continue
            seq, batch, lines = got
            if self._stop or self._thread is not threading.current_thread():
                self._core.untake(seq, batch)  # replaced while waiting: the new writer writes it
                return
            self._dispatch(batch, lines)
            with self._cond:
                self._done = seq
                self._cond.notify_all()

    def _dispatch(self, batch: bytes, lines: int) -> None:
        ok = True
        for sink in list(self.sinks):
            per = self.counters["sinks"].setdefault(sink.url, {"written": 0, "dropped": 0, "errors": {}})
            try:
                sink.write(batch)
                per["written"] += lines
            except BaseException as exc:  # a sink never reaches the application
                ok = False
                per["dropped"] += lines
                reason = type(exc).__name__
                per["errors"][reason] = per["errors"].get(reason, 0) + 1
                key = f"sink_error:{reason}"
                self.counters["dropped"][key] = self.counters["dropped"].get(key, 0) + lines
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
        if ok:
            self.counters["written"] += lines
            self.counters["batches_written"] += 1

    # ---- flush / shutdown ----
    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(0.0, timeout)
        target = self._core.seal()
        if self._native_fds is not None:
            return bool(self._core.wait_written(target, max(0.0, timeout)))
        t = self._thread
        if t is None or not t.is_alive() or t is threading.current_thread():
            self._drain_here(target, deadline)
        else:
            with self._cond:
                while self._done < target:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(min(left, 0.25))
        ok = self._done >= target
        for sink in list(self.sinks):
            try:
                ok = sink.flush(max(0.0, deadline - time.monotonic())) and ok
            except Exception:
                ok = False
        return ok

    def _drain_here(self, target: int, deadline: float) -> None:
        """No live writer (stopped, or after a fork before it restarted): write on this thread."""
        while self._done < target and time.monotonic() < deadline:
            got = self._core.take(0.0)
            if got is None:
                break
            seq, batch, lines = got
            self._dispatch(batch, lines)
            self._done = seq

    def stop(self, timeout: float) -> bool:
        ok = self.flush(timeout * 0.8)  # the rest is for the sinks' close()
        if self._native_fds is not None:
            self._core.stop_fd_writer()
            self._native_fds = None
            return ok
        self._stop = True
        self._core.wake()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(min(max(timeout, 0.0), self.interval + 0.5))
        return ok

    def close_sinks(self, sinks: List[Sink], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for sink in sinks:
            try:
                sink.close(max(0.0, deadline - time.monotonic()))
            except Exception:
                pass

    def after_fork_in_child(self) -> None:
        self._cond = threading.Condition()
        self._start_lock = threading.Lock()
        self._thread = None
        self._native_fds = None
        self._done = 0
        self._stop = False
        self.counters = {"written": 0, "batches_written": 0, "dropped": {}, "sinks": {}}
        for sink in self.sinks:
            try:
                sink.after_fork_in_child()
            except Exception:
                pass

    def snapshot(self) -> Dict[str, Any]:
        """Counters, including the native writer's when it runs."""
        if self._native_fds is None:
            return self.counters
        written, per_target = self._core.fd_writer_stats()
        by_index = {i: (w, d, e) for i, w, d, e in per_target}
        out: Dict[str, Any] = {"written": written, "batches_written": 0, "dropped": dict(self.counters["dropped"]), "sinks": {}}
        for i, sink in enumerate(self.sinks):
            w, d, e = by_index.get(i, (0, 0, 0))
            out["sinks"][sink.url] = {"written": w, "dropped": d, "errors": {"OSError": d} if d else {}}
            if d:
                out["dropped"]["sink_error:OSError"] = out["dropped"].get("sink_error:OSError", 0) + d
        return out
