"""A span's cost from its tokens and the configured price table; unknown models are flagged
``unpriced: true``, never $0 (:mod:`.unpriced` warns about them once per model)."""
from __future__ import annotations

from typing import Optional

from ..core import runtime as _runtime


def estimate(attrs: dict) -> Optional[float]:
    """The cost of span attrs (None: no table, no str model, or a model without a price)."""
    table = _runtime.settings.prices
    model = attrs.get("model")
    if table is None or not isinstance(model, str):
        return None
    get = attrs.get
    tin, tout, cr, cw, rs, w1 = (get("tokens_in"), get("tokens_out"), get("tokens_cache_read"),
                                 get("tokens_cache_write"), get("tokens_reasoning"), get("tokens_cache_write_1h"))
    # the table takes ints and None (0); user attrs may be "12" or 12.0: int() them (this runs
    # right after a model call, with little of mist in the CPU caches: no call per count)
    if not ((tin is None or type(tin) is int) and (tout is None or type(tout) is int)
            and (cr is None or type(cr) is int) and (cw is None or type(cw) is int)
            and (rs is None or type(rs) is int) and (w1 is None or type(w1) is int)):
        try:
            tin, tout, cr, cw, rs, w1 = (int(v or 0) for v in (tin, tout, cr, cw, rs, w1))
        except (TypeError, ValueError, OverflowError):
            return None
    return table.cost(model, tin, tout, cr, cw, rs, cache_write_1h=w1)


def price(attrs: dict) -> Optional[float]:
    """Set ``cost_usd`` (or ``unpriced: true``) on span attrs; returns the cost."""
    cost = estimate(attrs)
    if cost is None:
        if _runtime.settings.prices is not None and isinstance(attrs.get("model"), str):
            attrs["unpriced"] = True
        return None
    attrs["cost_usd"] = cost
    return cost
