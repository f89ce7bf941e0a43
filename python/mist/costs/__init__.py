"""Costs: the price table (:mod:`.table`, bundled as ``prices.json``), a span's cost from its tokens
(:mod:`.pricing`), and the warning for models without a price (:mod:`.unpriced`)."""
from __future__ import annotations

from .table import PriceTable, cost, default_table

__all__ = ["PriceTable", "cost", "default_table"]
