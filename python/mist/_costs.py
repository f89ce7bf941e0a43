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
    try:
        return table.cost(
            model,
            int(attrs.get("tokens_in") or 0),
            int(attrs.get("tokens_out") or 0),
            int(attrs.get("tokens_cache_read") or 0),
            int(attrs.get("tokens_cache_write") or 0),
            int(attrs.get("tokens_reasoning") or 0),
        )
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
