"""Regression alerts: streaming change detectors and the alert engine (SPEC §2, §3, §5).

- :func:`changepoints` runs the alert engine's detectors over a recorded series (offline use);
  :func:`changepoint_detector` is the detector it runs, for a stream fed one value at a time;
- :class:`AlertEngine` turns ``trace.span`` payloads into ``trace.alert`` payloads;
- :mod:`mist.alerts.detectors` holds the detectors, their method, calibration and references.

Standard library only; importing this package does not start anything.
"""
from __future__ import annotations

from typing import Any, Iterable, List

from .detectors import BernoulliCusum, CusumDetector, side_arl0
from .engine import AlertEngine

__all__ = ["changepoints", "AlertEngine", "KINDS"]

KINDS = ("continuous", "positive", "binary")


def _values(values: Any, kind: str) -> List[float]:
    if values is None or isinstance(values, (str, bytes, bytearray, dict)):
        raise ValueError(
            f"changepoints(values): expected a sequence of numbers, got {type(values).__name__}")
    try:
        xs = list(values)
    except TypeError:
        raise ValueError(
            f"changepoints(values): expected a sequence of numbers, got {type(values).__name__}"
        ) from None
    out: List[float] = []
    for i, v in enumerate(xs):
        if isinstance(v, bool):
            if kind != "binary":
                raise ValueError(f"changepoints: values[{i}] is {v!r}; booleans are only "
                                 'accepted with kind="binary"')
            out.append(1.0 if v else 0.0)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"changepoints: values[{i}] = {v!r} is not a number") from None
        if isinstance(v, (str, bytes)):
            raise ValueError(f"changepoints: values[{i}] = {v!r} is a string, not a number")
        if f != f or f in (float("inf"), float("-inf")):
            raise ValueError(f"changepoints: values[{i}] = {v!r} is not finite; drop or "
                             "impute missing values first")
        if kind == "positive" and f <= 0.0:
            raise ValueError(f'changepoints: values[{i}] = {v!r}, but kind="positive" needs '
                             'values > 0 (it works on a log scale); use kind="continuous"')
        if kind == "binary" and f not in (0.0, 1.0):
            raise ValueError(f'changepoints: values[{i}] = {v!r}, but kind="binary" needs 0/1 '
                             '(or True/False) values; use kind="continuous" for graded scores')
        out.append(f)
    return out


def _detector(kind: str, arl_up: float, arl_dn: float) -> Any:
    """The detector :func:`changepoints` runs for ``kind`` (also what the detector benchmark
    measures as its ``mist changepoints`` rows)."""
    if kind == "binary":
        return BernoulliCusum(arl_up, arl_dn)
    return CusumDetector(arl_up, arl_dn, log=(kind == "positive"))


def changepoint_detector(kind: str = "continuous", sensitivity: float = 1.0) -> Any:
    """A fresh detector configured exactly as :func:`changepoints` configures it (the false-alarm
    budget split evenly between the two directions); ``update(x)`` returns ±1 on an alarm, then
    call ``rebaseline()``, as :func:`changepoints` does."""
    if kind not in KINDS:
        raise ValueError(f"changepoint_detector: kind must be one of "
                         f"{', '.join(map(repr, KINDS))}; got {kind!r}")
    return _detector(kind, *side_arl0(sensitivity, 0))


def changepoints(values: Iterable[Any], *, kind: str = "continuous",
                 sensitivity: float = 1.0) -> List[int]:
    """Estimated start index of each change in ``values``, in either direction.

    Runs the same online detectors the alert engine uses, one value at a time, and re-baselines
    after each detected change, like the engine.  ``kind``: ``"continuous"`` (any numbers, e.g.
    eval scores), ``"positive"`` (values > 0 on a log scale: latency, cost, tokens) or
    ``"binary"`` (0/1 or True/False: pass/fail).  With ``sensitivity`` = 1 a stationary series
    yields at most about one false change per 100,000 values, also when its values are
    autocorrelated, heavy-tailed, skewed, seasonal or bursty: the detectors estimate how much the
    series really varies at their time scale and weigh the evidence against that
    (``benches/bench_detectors.py`` measures it on such noise, and on real annotated series).
    The price is sensitivity on such series, and caution while a series is young: the
    detectors need a warm-up of about 20 values, so changes in the first ~20 values are not
    reported, and a strongly autocorrelated series reads as noise until they have seen enough
    of it.  Skewed positive values (latency, cost) are best given as ``kind="positive"``.

    Raises ``ValueError`` for an unknown ``kind`` or values that do not fit it.
    """
    if kind not in KINDS:
        raise ValueError(f"changepoints: kind must be one of {', '.join(map(repr, KINDS))}; "
                         f"got {kind!r}")
    try:
        up, dn = side_arl0(sensitivity, 0)
    except (TypeError, ValueError):
        raise ValueError(f"changepoints: sensitivity must be a positive number, "
                         f"got {sensitivity!r}") from None
    xs = _values(values, kind)
    det = _detector(kind, up, dn)
    found: List[int] = []
    update = det.update
    for x in xs:
        if update(x):
            found.append(det.start - 1)  # every value is used, so the count is the index + 1
            det.rebaseline()
    return found
