"""One ``unpriced_model`` warning alert per model per process: an observer of finished spans
(:mod:`mist.core.hooks`) that looks for ``unpriced: true``."""
from __future__ import annotations

import threading
from typing import Any, Dict, Set

from ..alerts.delivery import deliver


class UnpricedModels:
    def __init__(self) -> None:
        self.seen: Set[str] = set()
        self._lock = threading.Lock()

    def on_end(self, payload: Dict[str, Any]) -> None:
        attrs = payload.get("attrs")
        if not attrs or attrs.get("unpriced") is not True:
            return
        model = attrs.get("model")
        if isinstance(model, str):
            self.alert(model, attrs.get("provider"))

    def alert(self, model: str, provider: Any = None) -> None:
        with self._lock:
            if model in self.seen:
                return
            self.seen.add(model)
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


observer = UnpricedModels()
