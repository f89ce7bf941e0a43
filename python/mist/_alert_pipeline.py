"""Live regression alerts: spans → the alert engine → ``trace.alert``, all off the hot path.

The emit path only keeps a reference-level observation of each span (no encoding, no dict). A
background thread collects them in bulk every ``INTERVAL`` seconds, turns them into payloads and
feeds :class:`mist.alerts.AlertEngine`; the alerts it returns go to the sinks and to ``on_alert``
callbacks. To bound the GIL time it takes from the application, each round handles at most
``MAX_PER_ROUND`` spans, oldest first; the core keeps at most 4096 waiting, and spans emitted
while that buffer is full are not observed (counted as ``skipped`` in ``mist.stats()['alerts']``).

Late eval scores (``eval.result``, sent by :mod:`mist.evals` once the scored span has ended) take
the same road: the caller's thread only appends ``(payload, operation, model, timestamp)`` to a
bounded queue (``MAX_EVALS``; beyond it they are counted as ``skipped``), and the alert thread
feeds them to :meth:`AlertEngine.observe_eval` after the spans of the same round, so a late score
joins the ``score.<name>`` series of its span's ``(operation, model)``.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, Optional, Tuple

from ._backend import core

INTERVAL = 0.1
YIELD_EVERY = 16  # spans observed between two releases of the GIL
MAX_PER_ROUND = 200  # 2,000 spans/s steady per process, far above LLM call rates; bursts wait in the buffer

MAX_EVALS = 4096     # late scores waiting for the alert thread

counters: Dict[str, int] = {"observed": 0, "evals": 0, "skipped": 0, "alerts": 0, "errors": 0}
_evals: Deque[Tuple[Dict[str, Any], Optional[str], Optional[str], int]] = deque()
_engine: Any = None
_thread: Optional[threading.Thread] = None
_lock = threading.Lock()


def _state_path() -> Optional[str]:
    """``MIST_ALERT_STATE=FILE``: detector state survives restarts (loaded at start, saved at exit)."""
    return os.environ.get("MIST_ALERT_STATE") or None


def engine() -> Any:
    global _engine
    if _engine is None:
        from .alerts import AlertEngine

        path = _state_path()
        if path and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    _engine = AlertEngine.from_state(json.load(f))
            except (OSError, ValueError):
                counters["errors"] += 1  # a damaged state file: start fresh rather than fail
        if _engine is None:
            _engine = AlertEngine()
    return _engine


def save_state() -> bool:
    """Write the detectors' state to ``MIST_ALERT_STATE`` (atomically); False when not set."""
    path = _state_path()
    if not path or _engine is None:
        return False
    try:
        with _lock:
            state = _engine.state_dict()
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, path)
        return True
    except (OSError, ValueError, TypeError):
        counters["errors"] += 1
        return False


def observe_eval(payload: Dict[str, Any], operation: Optional[str] = None,
                 model: Optional[str] = None) -> None:
    """Queue one late score (an ``eval.result`` payload, and the ``(operation, model)`` of its
    span when the caller knows it) for the alert thread. O(1), never raises, never blocks."""
    try:
        if len(_evals) >= MAX_EVALS:
            counters["skipped"] += 1
            return
        _evals.append((payload, operation, model, time.time_ns()))
    except Exception:
        counters["errors"] += 1


def _take_evals(limit: int) -> list:
    out = []
    pop = _evals.popleft
    try:
        while len(out) < limit:
            out.append(pop())
    except IndexError:
        pass
    return out


def _deliver(alerts: list, deliver: Any) -> int:
    """Hand each alert the engine returned to the sinks and callbacks; how many there were."""
    for a in alerts:
        deliver(a)
    return len(alerts)


def process(drain: bool = False) -> int:
    """Run the engine over spans observed so far, oldest first, then over the late scores
    queued meanwhile: one round of at most ``MAX_PER_ROUND`` of each (the background thread), or
    everything pending (``drain``, at flush). Returns the number of alerts fired."""
    fired = 0
    with _lock:
        while True:
            obs, dropped = core.take_observations(MAX_PER_ROUND)
            counters["skipped"] += dropped
            evs = _take_evals(MAX_PER_ROUND) if _evals else []
            if not obs and not evs:
                return fired
            from ._alerting import deliver

            eng = engine()
            before = fired
            # spans, then late scores; plain calls (this loop runs once per span)
            observe = eng.observe
            for i, p in enumerate(obs):
                if i % YIELD_EVERY == YIELD_EVERY - 1:
                    time.sleep(0)  # let the GIL go: the application's threads wait at most this many spans
                try:
                    alerts = observe(p, p.get("end_ns"))
                except Exception:
                    counters["errors"] += 1
                    continue
                fired += _deliver(alerts, deliver)
            for p, op, model, ts in evs:
                try:
                    alerts = eng.observe_eval(p, ts, operation=op, model=model)
                except Exception:
                    counters["errors"] += 1
                    continue
                fired += _deliver(alerts, deliver)
            counters["observed"] += len(obs)
            counters["evals"] += len(evs)
            counters["alerts"] += fired - before
            if not drain:
                return fired


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
    _thread = threading.Thread(target=_run, name="mist-alert-engine", daemon=True)
    _thread.start()


def after_fork_in_child() -> None:
    """The child keeps the parent's detector state (no re-alert storm) but needs its own thread."""
    global _thread, _lock
    _thread = None
    _lock = threading.Lock()
    _evals.clear()  # the parent's thread feeds the parent's queue; the child starts empty
