"""Streaming change detectors and ``mist.alerts.changepoints`` (issue 5, items 1 and 4)."""
from __future__ import annotations

import json
import math
import random

import pytest

from mist.alerts import changepoints
from mist.alerts.detectors import (
    FALSE_ALARM_RATE,
    BernoulliCusum,
    CusumDetector,
    bernoulli_threshold,
    cusum_threshold,
    side_arl0,
)


def _normal(rng: random.Random, n: int, mu: float = 0.0, sd: float = 1.0) -> list:
    return [rng.gauss(mu, sd) for _ in range(n)]


def _lognormal(rng: random.Random, n: int, median: float, sigma: float) -> list:
    return [rng.lognormvariate(math.log(median), sigma) for _ in range(n)]


def _bernoulli(rng: random.Random, n: int, p: float) -> list:
    return [1 if rng.random() < p else 0 for _ in range(n)]


# --- changepoints: injected changes in each direction for each kind -------------------------------

CHANGE_AT = 1500


def _series(kind: str, direction: int, seed: int) -> list:
    rng = random.Random(seed)
    if kind == "continuous":  # an eval score moving by 1.5 standard deviations
        return _normal(rng, CHANGE_AT, 0.80, 0.04) + _normal(rng, 1500, 0.80 + direction * 0.06, 0.04)
    if kind == "positive":  # latency ×2 or ÷2 on a lognormal (σ = 0.5) background
        return (_lognormal(rng, CHANGE_AT, 800.0, 0.5)
                + _lognormal(rng, 1500, 800.0 * 2.0 ** direction, 0.5))
    # pass rate 0.90 → 0.70 or 0.90 → 0.98
    return _bernoulli(rng, CHANGE_AT, 0.9) + _bernoulli(rng, 3000, 0.7 if direction < 0 else 0.98)


@pytest.mark.parametrize("kind", ["continuous", "positive", "binary"])
@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("seed", [1, 2])
def test_changepoints_finds_an_injected_change(kind: str, direction: int, seed: int) -> None:
    found = changepoints(_series(kind, direction, seed), kind=kind)
    assert len(found) == 1, found
    # the CUSUM's start estimate lands close to the true change
    tolerance = 40 if kind == "binary" else 10
    assert abs(found[0] - CHANGE_AT) <= tolerance, found


@pytest.mark.parametrize("kind", ["continuous", "positive", "binary"])
def test_changepoints_quiet_on_stationary_series(kind: str) -> None:
    total = 0
    for seed in range(4):
        rng = random.Random(100 + seed)
        if kind == "continuous":
            xs = _normal(rng, 10_000, 0.7, 0.1)
        elif kind == "positive":
            xs = _lognormal(rng, 10_000, 0.002, 0.5)
        else:
            xs = _bernoulli(rng, 10_000, 0.9)
        total += len(changepoints(xs, kind=kind))
    # design rate: 1 per 100,000 values, so ~0.4 expected in 40,000
    assert total <= 1


def test_changepoints_two_changes_in_sequence() -> None:
    rng = random.Random(7)
    xs = _normal(rng, 1000) + _normal(rng, 1000, 2.0) + _normal(rng, 1000, 0.0)
    found = changepoints(xs)
    assert len(found) == 2
    assert abs(found[0] - 1000) <= 5 and abs(found[1] - 2000) <= 5


def test_changepoints_accepts_booleans_for_binary_and_any_iterable() -> None:
    rng = random.Random(3)
    xs = [rng.random() < 0.95 for _ in range(1000)] + [rng.random() < 0.5 for _ in range(500)]
    found = changepoints(iter(xs), kind="binary")
    assert len(found) == 1 and abs(found[0] - 1000) <= 20


def test_changepoints_short_or_empty_series() -> None:
    assert changepoints([]) == []
    assert changepoints([1.0, 2.0, 3.0]) == []


def test_changepoints_higher_sensitivity_detects_a_small_shift_sooner() -> None:
    rng = random.Random(11)
    xs = _normal(rng, 2000) + _normal(rng, 600, 0.6)
    slow = changepoints(xs, sensitivity=0.1)
    fast = changepoints(xs, sensitivity=10.0)
    assert fast and abs(fast[0] - 2000) <= 30
    assert len(slow) <= len(fast)


@pytest.mark.parametrize(
    "values, kind, fragment",
    [
        ([1.0, 2.0], "gaussian", "kind must be one of"),
        ([1.0, float("nan")], "continuous", "values[1]"),
        ([1.0, float("inf")], "continuous", "not finite"),
        ([1.0, "2.0"], "continuous", "string"),
        ([1.0, None], "continuous", "not a number"),
        ([1.0, 0.0], "positive", 'kind="positive" needs values > 0'),
        ([1, 0, 0.5], "binary", 'kind="binary" needs 0/1'),
        ([True, False], "continuous", "booleans"),
        ("1,2,3", "continuous", "sequence of numbers"),
        (None, "continuous", "sequence of numbers"),
        (42, "continuous", "sequence of numbers"),
    ],
)
def test_changepoints_bad_input_is_a_clear_value_error(values, kind, fragment) -> None:
    with pytest.raises(ValueError) as info:
        changepoints(values, kind=kind)
    assert fragment in str(info.value)


def test_changepoints_bad_sensitivity() -> None:
    for bad in (0, -1.0, float("nan"), "high"):
        with pytest.raises(ValueError, match="sensitivity"):
            changepoints([1.0] * 50, sensitivity=bad)


# --- the detectors themselves -------------------------------------------------------------------

def test_budget_split_adds_up_to_the_false_alarm_rate() -> None:
    for bad in (0, 1, -1):
        for sens in (0.1, 1.0, 3.0):
            up, dn = side_arl0(sens, bad)
            assert 1.0 / up + 1.0 / dn == pytest.approx(FALSE_ALARM_RATE * sens)
    up, dn = side_arl0(1.0, 1)
    assert up < dn  # the regression direction gets most of the budget
    up, dn = side_arl0(1.0, -1)
    assert dn < up


def test_thresholds_grow_with_the_target_run_length() -> None:
    assert cusum_threshold(1e4) < cusum_threshold(1e5) < cusum_threshold(1e6)
    assert 9.0 < cusum_threshold(1.1e5) < 11.0  # ~10 standard deviations, as in the notes
    for p in (0.01, 0.1, 0.5, 0.9, 0.99):
        assert bernoulli_threshold(p, 1e4, True) < bernoulli_threshold(p, 1e6, True)
    # symmetric in the labels: P(x=1)=0.1 rising is P(x=1)=0.9 falling
    assert bernoulli_threshold(0.1, 1e5, True) == pytest.approx(bernoulli_threshold(0.9, 1e5, False))


def _run(det, xs) -> list:
    out = []
    for i, x in enumerate(xs):
        a = det.update(x, i)
        if a:
            out.append((i, a))
            det.rebaseline()
    return out


def test_calibration_matches_the_target_run_length() -> None:
    """At a deliberately short target ARL0 (so the test is fast) the measured in-control run
    length per side is never shorter than the target allows (within a factor of 1.6) and not
    far longer: the Bernoulli CUSUM within 1.6× of it; the continuous one, whose intercept holds
    the budget on heavier, correlated and bursty noise too (``benches/bench_detectors.py``), is
    conservative on i.i.d. normal values by design, within 4×."""
    target = 400.0
    for make, gen, most in (
        (lambda: CusumDetector(target, target), lambda r: r.gauss(0.0, 1.0), 4.0),
        (lambda: CusumDetector(target, target, log=True), lambda r: r.lognormvariate(3.0, 1.0), 4.0),
        (lambda: BernoulliCusum(target, target), lambda r: 1 if r.random() < 0.8 else 0, 1.6),
    ):
        rng = random.Random(5)
        det = make()
        alarms = _run(det, [gen(rng) for _ in range(60_000)])
        per_side = 2 * 60_000 / max(1, len(alarms))
        assert target / 1.6 < per_side < target * most, per_side


def test_outliers_and_heavy_tails_do_not_alarm() -> None:
    rng = random.Random(9)
    clean = [rng.gauss(0.0, 1.0) for _ in range(20_000)]
    dirty = [x + (rng.choice((-1, 1)) * 1e6 if i % 97 == 0 else 0.0) for i, x in enumerate(clean)]
    # a wild value every 97 adds at most what one in-range value can (winsorised at ±3σ): no
    # run of alarms, at most the one an excursion that came close anyway may now reach
    base = _run(CusumDetector(*side_arl0()), clean)
    assert len(base) <= 1
    assert len(_run(CusumDetector(*side_arl0()), dirty)) <= len(base) + 1
    # Student-t with 3 degrees of freedom: much heavier tails than the normal it assumes
    ts = [rng.gauss(0, 1) / math.sqrt(rng.gammavariate(1.5, 2.0) / 3.0) for _ in range(20_000)]
    assert len(_run(CusumDetector(*side_arl0()), ts)) <= 1


def test_unusable_values_are_ignored() -> None:
    det = CusumDetector(log=True)
    for x in (float("nan"), 0.0, -5.0, float("inf")):
        assert det.update(x) == 0
    assert det.n == 0
    det = CusumDetector()
    for x in (float("nan"), float("inf"), float("-inf")):
        assert det.update(x) == 0
    assert det.n == 0


def test_a_constant_series_that_moves_alarms_and_one_that_jitters_slightly_does_not() -> None:
    det = CusumDetector()
    assert _run(det, [1.0] * 200 + [1.0 + 1e-7 * (i % 2) for i in range(200)]) == []
    det = CusumDetector()
    alarms = _run(det, [1.0] * 200 + [0.5] * 50)
    assert alarms and alarms[0][1] == -1 and alarms[0][0] < 210


def test_alarm_reports_start_level_and_baseline() -> None:
    rng = random.Random(4)
    det = CusumDetector(*side_arl0(1.0, 1), log=True)
    xs = _lognormal(rng, 2000, 800.0, 0.3) + _lognormal(rng, 500, 2400.0, 0.3)
    for i, x in enumerate(xs):
        if det.update(x, i):
            break
    assert 2000 <= i < 2020
    assert abs(det.start_tag - 2000) <= 3
    assert det.before == pytest.approx(800.0, rel=0.05)
    assert det.level == pytest.approx(2400.0, rel=0.2)
    assert det.shift > 2.0


def test_bernoulli_single_failure_never_alarms_and_a_burst_does() -> None:
    det = BernoulliCusum(*side_arl0(1.0, 1))
    assert _run(det, [0] * 5000 + [1] + [0] * 5000) == []
    det = BernoulliCusum(*side_arl0(1.0, 1))
    alarms = _run(det, [0] * 5000 + [1] * 30)
    assert alarms and alarms[0][1] == 1 and alarms[0][0] < 5030


@pytest.mark.parametrize("cls, gen", [
    (CusumDetector, lambda r: r.gauss(10.0, 2.0)),
    (BernoulliCusum, lambda r: 1 if r.random() < 0.3 else 0),
])
def test_state_round_trip_continues_identically(cls, gen) -> None:
    rng = random.Random(12)
    xs = [gen(rng) for _ in range(3000)]
    ys = [gen(rng) + (3.0 if cls is CusumDetector else 0) for _ in range(200)]
    a = cls()
    _run(a, xs)
    b = cls.from_state(json.loads(json.dumps(a.state())))
    assert _run(a, ys) == _run(b, ys)
    assert a.state() == b.state()


def test_bernoulli_rate_estimate_lags_so_the_start_of_a_change_stays_out() -> None:
    """Past its young phase the rate estimate takes each value BERN_LAG values late: the first
    values of a change do not move the baseline they are measured against."""
    from mist.alerts.detectors import BERN_LAG

    rng = random.Random(31)
    history = _bernoulli(rng, 3000, 0.9)
    a, b = BernoulliCusum(*side_arl0()), BernoulliCusum(*side_arl0())
    assert _run(a, history) == _run(b, history) == []
    p0 = a.p
    assert _run(a, [1] * (BERN_LAG // 2)) == []           # the pass rate rose ...
    assert _run(b, _bernoulli(rng, BERN_LAG // 2, 0.8)) == []  # ... or fell a little
    assert a.p == b.p != p0  # only values from before the change entered either estimate


@pytest.mark.parametrize("kind", ["continuous", "positive", "binary"])
def test_changepoint_detector_is_what_changepoints_runs(kind: str) -> None:
    from mist.alerts import changepoint_detector

    xs = _series(kind, -1, 3)
    det = changepoint_detector(kind)
    starts = []
    for x in xs:
        if det.update(x):
            starts.append(det.start - 1)
            det.rebaseline()
    assert starts == changepoints(xs, kind=kind) and len(starts) == 1
    with pytest.raises(ValueError, match="kind"):
        changepoint_detector("gaussian")
