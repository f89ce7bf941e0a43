"""Money for people: one precision per column, fitted to the amounts in it.

The rule, the same in every command that prints dollars (``report``, ``replay``, ``tail``,
``view``):

- A *column* (a table column, a list printed one under the other, the amounts of one sentence)
  gets one number of decimals for all its amounts: enough for its smallest non-zero amount to
  show 3 significant digits, at least 2 (cents) and at most 8, and no more than lets its largest
  amount keep 10 significant digits (so ``$1,161.03`` next to ``$0.00000016`` does not grow to
  ``$1,161.03000000``).
- A non-zero amount that would round to zero at that precision prints as the column's
  resolution with ``<``: ``<$0.000001``, never ``$0.000000``. Zero prints as ``$0.00`` with the
  column's decimals.
- Thousands are always separated by commas (``$1,161.03``); a negative amount is ``-$1.25``.
- One amount on its own is a column of one: ``$0.00000016``, ``$0.0149``, ``$1,161.03``.
- A stream (``mist tail``), whose column is never complete, uses a fixed ``STREAM_DECIMALS``.

Machine outputs (``--format json``/``csv``, the data embedded in ``mist view`` pages) keep the
full numbers; this module is only for text meant to be read.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Tuple

MIN_DECIMALS = 2
MAX_DECIMALS = 8
SIGNIFICANT = 3  # of the smallest non-zero amount in a column
MAX_SIGNIFICANT = 10  # of the largest one
STREAM_DECIMALS = 6  # micro-dollars, for output whose column is never complete (mist tail)
COST_METRICS = ("cost_usd", "trace_cost_usd")  # alert metrics in dollars


def _exponent(v: float) -> int:
    """The decimal exponent of ``|v|`` once rounded to SIGNIFICANT digits (0.0009996 → -3)."""
    return int(f"{abs(v):.{SIGNIFICANT - 1}e}".rpartition("e")[2])


def usd_decimals(values: Iterable[Optional[float]]) -> int:
    """The decimals for a column holding ``values`` (None and non-finite values are ignored)."""
    lo = hi = 0.0
    for v in values:
        if v is None or v == 0 or not math.isfinite(v):
            continue
        a = abs(v)
        if not lo or a < lo:
            lo = a
        if a > hi:
            hi = a
    if not lo:
        return MIN_DECIMALS
    d = min(SIGNIFICANT - 1 - _exponent(lo), MAX_SIGNIFICANT - 1 - _exponent(hi))
    return max(MIN_DECIMALS, min(MAX_DECIMALS, d))


def fmt_usd(value: Optional[float], decimals: Optional[int] = None) -> str:
    """``value`` in dollars with ``decimals`` (default: fitted to the value alone); ``-`` when
    unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    if decimals is None:
        decimals = usd_decimals((value,))
    text = f"{abs(value):,.{decimals}f}"
    if value and not text.strip("0.,"):  # not zero, but it would print as zero
        return ("<$" if value > 0 else ">-$") + f"{10.0 ** -decimals:.{decimals}f}"
    return ("-$" if value < 0 else "$") + text


def usd_column(values: Iterable[Optional[float]]) -> List[str]:
    """Each of ``values`` formatted with the one precision that fits them all."""
    values = list(values)
    d = usd_decimals(values)
    return [fmt_usd(v, d) for v in values]


def alert_amounts(payload: Dict[str, Any]) -> Tuple[Any, Any]:
    """A ``trace.alert``'s value and threshold for people: dollars with one precision for the
    cost metrics, as recorded for the others."""
    value, threshold = payload.get("value"), payload.get("threshold")
    if payload.get("metric") not in COST_METRICS:
        return value, threshold
    nums = [v if type(v) in (int, float) and math.isfinite(v) else None for v in (value, threshold)]
    d = usd_decimals(nums)
    value, threshold = (fmt_usd(n, d) if n is not None else v for n, v in zip(nums, (value, threshold)))
    return value, threshold
