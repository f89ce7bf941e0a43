"""A span's cost from its tokens and the configured price table; unknown models are flagged
``unpriced: true``, never $0 (:mod:`.unpriced` warns about them once per model)."""
from __future__ import annotations

from typing import Optional

from ..core import runtime as _runtime

_COUNTS = ("tokens_in", "tokens_out", "tokens_cache_read", "tokens_cache_write", "tokens_reasoning", "tokens_cache_write_1h")


def estimate(attrs: dict) -> Optional[float]:
    """The cost of span attrs (None: no table, no str model, or a model without a price)."""
    table = _runtime.settings.prices
    model = attrs.get("model")
    if table is None or not isinstance(model, str):
        return None
    get = attrs.get
    counts = [get(k) for k in _COUNTS]
    try:
        # Counts are ints (or absent) on every span mist makes: the table takes those as they are
        # (None counts as 0); anything else goes through int(), as user attrs may be "12" or 12.0.
        if not all(c is None or type(c) is int for c in counts):
            counts = [int(c or 0) for c in counts]
        tin, tout, cr, cw, rs, cw1h = counts
        return table.cost(model, tin, tout, cr, cw, rs, cache_write_1h=cw1h)
    except Exception:
        return None


def price(attrs: dict) -> Optional[float]:
    """Set ``cost_usd`` (or ``unpriced: true``) on span attrs; returns the cost."""
    cost = estimate(attrs)
    if cost is None:
        if _runtime.settings.prices is not None and isinstance(attrs.get("model"), str):
            attrs["unpriced"] = True
        return None
    attrs["cost_usd"] = cost
    return cost
