"""Cost of a span from its tokens and the price table; unknown models are flagged, never $0."""
from __future__ import annotations

import threading
from typing import Any, Optional, Set

from . import _runtime

_unpriced_seen: Set[str] = set()
_lock = threading.Lock()


def estimate(attrs: dict) -> Optional[float]:
    table = _runtime.settings.prices
    model = attrs.get("model")
    if table is None or not isinstance(model, str):
        return None
    get = attrs.get
    tin, tout, cr, cw, rs = get("tokens_in"), get("tokens_out"), get("tokens_cache_read"), get("tokens_cache_write"), get(
        "tokens_reasoning")
    try:
        # Counts are ints (or absent) on every span mist makes: the table takes those as they are
        # (None counts as 0); anything else goes through int(), as user attrs may be "12" or 12.0.
        if not ((tin is None or type(tin) is int) and (tout is None or type(tout) is int) and (cr is None or type(cr) is int)
                and (cw is None or type(cw) is int) and (rs is None or type(rs) is int)):
            tin, tout, cr, cw, rs = int(tin or 0), int(tout or 0), int(cr or 0), int(cw or 0), int(rs or 0)
        return table.cost(model, tin, tout, cr, cw, rs)
    except Exception:
        return None


def price(attrs: dict) -> Optional[float]:
    """Set ``cost_usd`` (or ``unpriced: true``) on span attrs; returns the cost."""
    cost = estimate(attrs)
    if cost is None:
        if _runtime.settings.prices is not None and isinstance(attrs.get("model"), str):
            attrs["unpriced"] = True
            alert_unpriced(attrs["model"], attrs.get("provider"))
        return None
    attrs["cost_usd"] = cost
    return cost


def alert_unpriced(model: str, provider: Any = None) -> None:
    """One ``unpriced_model`` warning alert per model per process."""
    with _lock:
        if model in _unpriced_seen:
            return
        _unpriced_seen.add(model)
    from ._alerting import deliver

    series = {"model": model}
    if isinstance(provider, str):
        series["provider"] = provider
    deliver({
        "level": "warning",
        "metric": "unpriced_model",
        "value": 1,
        "threshold": 0,
        "message": f"model {model!r} has no known price: its spans carry unpriced=true and no cost; "
                   "add it with configure(prices={...}) or MIST_PRICES",
        "state": "firing",
        "detector": "price_table",
        "series": series,
    })
