"""Exceptions the library raises on purpose. Nothing else escapes into application code."""
from __future__ import annotations


class ConfigError(ValueError):
    """A bad option or sink URL given to ``mist.configure`` (or the matching environment variable).

    The message names the option and says what is accepted.
    """


class BudgetExceeded(RuntimeError):
    """A traced step started after its trace had spent its ``budget_usd``."""

    def __init__(self, spent: float, budget: float, trace_id: str) -> None:
        self.spent = spent
        self.budget = budget
        self.trace_id = trace_id
        super().__init__(
            f"trace {trace_id} spent ${spent:.6f} of its ${budget:.6f} budget; "
            "raise budget_usd or stop the run"
        )
