"""Live regression alerts: finished spans → the alert engine → ``trace.alert``, off the hot path.

An observer of finished spans (:mod:`mist.core.hooks`): the hook's background thread hands it
every span's payload and every late eval score (``eval.result``, sent by :mod:`mist.tracing.scores`
once the scored span has ended: it joins the ``score.<name>`` series of its span's ``(operation,
model)``); it feeds them to :class:`mist.alerts.AlertEngine` and delivers the alerts the engine
returns (:mod:`.delivery`). ``MIST_ALERT_STATE=FILE`` keeps the detectors' state across restarts
(loaded at the first span, saved at exit). The engine's floors are those of
``configure(alert_floors=…)`` / ``MIST_ALERT_FLOORS`` (the current configuration, over those a
saved state was written with).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from .. import config
from ..core import hooks, runtime
from . import delivery
from .engine import AlertEngine

counters: Dict[str, int] = {"alerts": 0}
_engine: Optional[AlertEngine] = None
_floors: Any = None  # the configured floors the engine was given (runtime.settings.alert_floors)


def engine() -> AlertEngine:
    global _engine, _floors
    if _engine is None:
        _floors = None
        path = config.alert_state()
        if path and os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    _engine = AlertEngine.from_state(json.load(f))
            except (OSError, ValueError):
                hooks.counters["errors"] += 1  # a damaged state file: start fresh rather than fail
        if _engine is None:
            _engine = AlertEngine()
    floors = runtime.settings.alert_floors
    if floors is not _floors:  # a new engine, or configure() was called since
        _engine.set_floors(floors)
        _floors = floors
    return _engine


def save_state() -> bool:
    """Write the detectors' state to ``MIST_ALERT_STATE`` (atomically); False when not set. Called
    by the hook's ``shutdown``, which holds the lock the spans are observed under."""
    path = config.alert_state()
    if not path or _engine is None:
        return False
    try:
        state = _engine.state_dict()
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, path)
        return True
    except (OSError, ValueError, TypeError):
        hooks.counters["errors"] += 1
        return False


def _deliver(alerts: list) -> None:
    for a in alerts:
        delivery.deliver(a)
    counters["alerts"] += len(alerts)


class AlertObserver:
    """The alert engine as an observer of finished spans and late scores."""

    def on_end(self, payload: Dict[str, Any]) -> None:
        _deliver(engine().observe(payload, payload.get("end_ns")))

    def on_score(self, payload: Dict[str, Any], operation: Optional[str], model: Optional[str], ts: int) -> None:
        _deliver(engine().observe_eval(payload, ts, operation=operation, model=model))

    def shutdown(self) -> None:
        save_state()

    def after_fork(self) -> None:
        delivery.after_fork_in_child()

    def stats(self) -> Dict[str, int]:
        return {"alerts": counters["alerts"],
                "callback_errors": delivery.counters["callback_errors"],
                "callback_dropped": delivery.counters["callback_dropped"]}


observer = AlertObserver()
