"""Alert delivery: ``trace.alert`` envelopes to the sinks, and ``on_alert`` callbacks run on a
background thread (never the caller's); a raising callback is isolated and counted."""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Dict, List, TypeVar

from ..core import hooks
from ..core.messages import emit_message
from ..errors import ConfigError

_callbacks: List[Callable[[Dict[str, Any]], Any]] = []
_queue: "queue.Queue[Dict[str, Any]]" = queue.Queue(maxsize=10000)
_thread: "threading.Thread | None" = None
_lock = threading.Lock()
counters = {"alerts": 0, "callback_errors": 0, "callback_dropped": 0}

# A callback takes the alert payload, a dict (the MTTP ``trace.alert`` payload: ``level``,
# ``metric``, ``value``, ``threshold``, ``message``, and ``state``, ``baseline``, ``detector``,
# ``series``, ``since_ns``, ``evidence`` when known); what it returns is ignored. on_alert returns
# the callback as given, typed as given.
AlertCallback = TypeVar("AlertCallback", bound=Callable[[Dict[str, Any]], object])


def on_alert(callback: AlertCallback) -> AlertCallback:
    """Call ``callback(alert_payload)`` for every alert this process fires (usable as a decorator)."""
    if not callable(callback):
        raise ConfigError(f"mist.on_alert({callback!r}): expected a callable taking the alert payload dict")
    _callbacks.append(callback)
    return callback


def _run() -> None:
    while True:
        payload = _queue.get()
        for cb in list(_callbacks):
            try:
                cb(payload)
            except Exception:
                counters["callback_errors"] += 1
        _queue.task_done()


def deliver(payload: Dict[str, Any]) -> None:
    """Send one alert payload: to the sinks now, to callbacks on the alert thread. Its envelope's
    ``timestamp_ns`` is the time of the observation that fired it: that of the span or late score
    the calling observer is handling (:func:`mist.core.hooks.observation_time`), else now (a
    budget alert, fired on the caller's thread as the cost is charged)."""
    global _thread
    counters["alerts"] += 1
    emit_message("trace.alert", payload, hooks.observation_time())
    if not _callbacks:
        return
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="mist-alerts", daemon=True)
            _thread.start()
    try:
        _queue.put_nowait(dict(payload))
    except queue.Full:
        counters["callback_dropped"] += 1


def wait_callbacks(timeout: float = 5.0) -> bool:
    """Block until queued callbacks have run (tests, flush)."""
    import time

    deadline = time.monotonic() + timeout
    while _queue.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.005)
    return not _queue.unfinished_tasks


def after_fork_in_child() -> None:
    global _thread, _queue, _lock
    _thread = None
    _lock = threading.Lock()
    _queue = queue.Queue(maxsize=10000)
