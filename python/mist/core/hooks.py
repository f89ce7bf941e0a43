"""The one hook that hangs work off the tracer: observers of finished spans.

Like OpenTelemetry's ``SpanProcessor.on_end``, but batched and off the hot path. The emit path
only keeps a reference-level observation of each finished span (no encoding, no dict; at most 4096
wait, further spans are counted as ``skipped``). A background thread wakes every ``INTERVAL``
seconds, takes them in bulk, oldest first, and hands each one (as its span payload dict) to every
registered observer's ``on_end``. Late eval scores take the same road through ``observe_score``.
Each round handles at most ``MAX_PER_ROUND`` spans and lets the GIL go every ``YIELD_EVERY``, so
the application's threads wait behind this work for at most that long. ``drain()`` (flush, exit)
runs every round still pending on the caller's thread.

An observer is any object with ``on_end(payload)``; it may also have ``on_score(payload,
operation, model, timestamp_ns)``, ``shutdown()``, ``after_fork()`` and ``stats() -> dict``.
Observers run on the clock of what they observe: while one handles a span or a late score,
:func:`observation_time` is that observation's time (the span's ``end_ns``, the score's time), and
an alert it fires is stamped with it (:mod:`mist.alerts.delivery`), not with the moment this
thread got round to it. Spans recorded on their own clock (``emit_span`` with past or simulated
times, ``mist demo``) get their alerts on that clock, as ``mist alerts FILE`` gives them offline.
Registered observers today: the live regression alerts (:mod:`mist.alerts.pipeline`) and the
unknown-model warning (:mod:`mist.costs.unpriced`). Adding one touches nothing else.
``configure(alerts=False)`` / ``MIST_ALERTS=0`` turns the whole hook off: the core then keeps no
observations and no observer runs.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple

from .backend import core

INTERVAL = 0.1
YIELD_EVERY = 16  # spans observed between two releases of the GIL
MAX_PER_ROUND = 200  # 2,000 spans/s steady per process, far above LLM call rates; bursts wait in the buffer
MAX_SCORES = 4096  # late scores waiting for the thread

counters: Dict[str, int] = {"observed": 0, "evals": 0, "skipped": 0, "errors": 0}
_observers: List[Any] = []
_scores: Deque[Tuple[Dict[str, Any], Optional[str], Optional[str], int]] = deque()
_thread: Optional[threading.Thread] = None
_lock = threading.Lock()
_clock = threading.local()  # .ns: the time of the observation being handled on this thread


def observation_time() -> Optional[int]:
    """The time (Unix ns) of the span or late score an observer is handling on this thread; None
    outside an observer."""
    return getattr(_clock, "ns", None)


def add_observer(observer: Any) -> Any:
    """Register ``observer``: its ``on_end(payload)`` sees every finished span from now on."""
    if not callable(getattr(observer, "on_end", None)):
        raise TypeError(f"{observer!r} has no on_end(payload) method")
    if observer not in _observers:
        _observers.append(observer)
    return observer


def remove_observer(observer: Any) -> None:
    if observer in _observers:
        _observers.remove(observer)


def observe_score(payload: Dict[str, Any], operation: Optional[str] = None, model: Optional[str] = None,
                  timestamp_ns: Optional[int] = None) -> None:
    """Queue one late score (an ``eval.result`` payload, the ``(operation, model)`` of its span
    when known, and its time: the ``timestamp_ns`` of its envelope, default now) for the
    observers. O(1), never raises, never blocks."""
    try:
        if len(_scores) >= MAX_SCORES:
            counters["skipped"] += 1
            return
        ts = timestamp_ns if type(timestamp_ns) is int else time.time_ns()
        _scores.append((payload, operation, model, ts))
    except Exception:
        counters["errors"] += 1


def _take_scores(limit: int) -> list:
    out = []
    pop = _scores.popleft
    try:
        while len(out) < limit:
            out.append(pop())
    except IndexError:
        pass
    return out


def _call(method: Any, *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        counters["errors"] += 1


def process(drain: bool = False) -> int:
    """Hand the spans finished so far, then the late scores queued meanwhile, to every observer:
    one round of at most ``MAX_PER_ROUND`` of each (the background thread), or everything
    pending (``drain``). Returns the number of spans observed."""
    seen = 0
    with _lock:
        while True:
            spans, dropped = core.take_observations(MAX_PER_ROUND)
            counters["skipped"] += dropped
            scores = _take_scores(MAX_PER_ROUND) if _scores else []
            if not spans and not scores:
                return seen
            ends = [o.on_end for o in _observers]
            try:
                for i, p in enumerate(spans):
                    if i % YIELD_EVERY == YIELD_EVERY - 1:
                        time.sleep(0)  # let the GIL go
                    end = p.get("end_ns")
                    _clock.ns = end if type(end) is int else None
                    for on_end in ends:
                        _call(on_end, p)
                on_scores = [o.on_score for o in _observers if hasattr(o, "on_score")]
                for p, op, model, ts in scores:
                    _clock.ns = ts
                    for on_score in on_scores:
                        _call(on_score, p, op, model, ts)
            finally:
                _clock.ns = None
            counters["observed"] += len(spans)
            counters["evals"] += len(scores)
            seen += len(spans)
            if not drain:
                return seen


def drain() -> None:
    """Everything pending, now (flush and exit: alerts go out with the spans they are about)."""
    process(drain=True)


def shutdown() -> None:
    """Everything pending, then each observer's ``shutdown`` (under the lock spans are observed
    under: the background thread cannot be inside an observer meanwhile)."""
    drain()
    with _lock:
        for o in list(_observers):
            if hasattr(o, "shutdown"):
                _call(o.shutdown)


def stats() -> Dict[str, int]:
    out = dict(counters)
    for o in list(_observers):
        if hasattr(o, "stats"):
            try:
                out.update(o.stats())
            except Exception:
                pass
    return out


def _run() -> None:
    while True:
        time.sleep(INTERVAL)
        try:
            process()
        except Exception:
            counters["errors"] += 1


def ensure_started() -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _thread = threading.Thread(target=_run, name="mist-observers", daemon=True)
    _thread.start()


def after_fork_in_child() -> None:
    """The child keeps the observers' state (no re-alert storm) but needs its own thread."""
    global _thread, _lock
    _thread = None
    _lock = threading.Lock()
    _scores.clear()  # the parent's thread feeds the parent's queue; the child starts empty
    for o in list(_observers):
        if hasattr(o, "after_fork"):
            _call(o.after_fork)
