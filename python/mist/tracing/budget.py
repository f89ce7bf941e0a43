"""Budgets: a warning alert at 80% of ``budget_usd``, a critical one and ``BudgetExceeded`` at 100%."""
from __future__ import annotations

from typing import Any

from ..alerts.delivery import deliver
from ..errors import BudgetExceeded

WARN_AT = 0.8


def _alert(state: Any, level: str, message: str) -> None:
    deliver({
        "level": level,
        "metric": "budget",
        "value": round(state.spent, 12),
        "threshold": state.budget if level == "critical" else round(state.budget * WARN_AT, 12),
        "message": message,
        "state": "firing",
        "detector": "budget",
        "series": {"trace_id": state.trace_id},
    })


def after_cost(state: Any) -> None:
    if not state.warned and state.spent >= state.budget * WARN_AT:
        state.warned = True
        _alert(state, "warning", f"trace {state.trace_id} has spent ${state.spent:.4f} of its ${state.budget:.4f} budget (80%)")


def exceeded(state: Any) -> None:
    if not state.exceeded:
        state.exceeded = True
        state.warned = True
        _alert(state, "critical", f"trace {state.trace_id} spent ${state.spent:.4f}, over its ${state.budget:.4f} budget: the next step was stopped")
    raise BudgetExceeded(state.spent, state.budget, state.trace_id)
