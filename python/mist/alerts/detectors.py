"""Streaming change detectors: one small object per series, O(1) time and memory per observation.

Two detectors, both two-sided underneath (an upward and a downward one-sided CUSUM share the
same running baseline) and both self-starting (nothing to configure: they learn the baseline
from the series itself):

``CusumDetector`` -- continuous values (eval scores), or positive heavy-tailed values on a log
    scale (``log=True``: latency, cost, tokens; a ×1.5 step in cost is a shift of
    ``log(1.5)/σ_log`` standard deviations, whatever the level).

``BernoulliCusum`` -- pass/fail values (errors, binary eval scores).

Method, continuous (``CusumDetector``)
--------------------------------------
1. *Warm-up* (``WARMUP`` = 16 values): location = mean of the values winsorised at the median
   ± 3 robust standard deviations (1.4826 × MAD), scale = 1.2533 × their mean absolute
   deviation (the normal-consistent mean absolute deviation: 88 % efficient, unlike the MAD).
2. *Running robust baseline*: a Huber M-estimate of location (residuals clipped at ±2.5 σ̂) and a
   clipped mean absolute deviation for scale, updated by stochastic approximation with gain
   ``1/n`` (an expanding window: the running mean of all values so far, as in Hawkins' (1987)
   self-starting CUSUM) until ``n`` reaches ``MEMORY`` = 2500, then ``1/2500`` (an EWMA, so the
   baseline follows slow drifts, which are not what we alert on).  Once past its first
   ``YOUNG_FREEZE`` = 40 values the location stops learning while either CUSUM is above
   ``FREEZE`` = ½ its threshold, so a change being accumulated is not absorbed into the
   baseline it is measured against; the scale always learns (freezing it biases it low).
   Freezing is a trade: it skips values from the in-control excursions too, which biases the
   estimates; from a quarter of the threshold instead of half, the false-alarm rate rose 1.7×
   on normal data and 5× on a pass rate (measured with the benchmark), for a 0.5 σ shift found
   ~10 % sooner.
3. *Standardise* each value against the baseline *before* it is updated (a recursive residual):
   ``t = (x - m) / (s·sqrt(1 + τ/n_loc))`` (τ: step 4); while the estimates are young (fewer
   than 250 values) ``t`` is mapped to a standard normal value with Wallace's (1959)
   approximation of the Student-t → normal transform (``ν`` = 0.88 n / τ: the efficiency of the
   scale estimate, and fewer effective values when they are correlated), which keeps the
   false-alarm rate of a just-started series close to the nominal one (Hawkins 1987; Hawkins &
   Olwell 1998, ch. 7).
   The standardised value is winsorised at ``CLIP`` = ±2.5, which bounds what one outlier or a
   heavy tail can add to the sum (one value adds at most 2 of the ~10 needed).  At ±3,
   Student-t(3) noise still raised 0.6-1.1 false alarms per 100,000 (clusters of a few extreme
   values, each adding 2.5); at ±2.5, 0.2, for no measurable loss of speed on a step.
4. *Normalise for real noise* (``_set_v``).  The CUSUM's threshold assumes independent, normal
   increments; real series are autocorrelated (AR(1) with φ = 0.9: the variance of a sum of n
   values is 19× that of n independent ones), seasonal, bursty and heavy-tailed, and on such
   series the i.i.d. calibration raised 20 to 2,000 false alarms per 100,000 values (AR(1)
   0.5 and 0.9, cycles, bursts; 5 for Student-t(3)).  Each sum therefore adds
   ``z / sqrt(κ τ)``, with two corrections, each ≥ 1 and estimated from the series:

   - ``τ``, dependence: the long-run variance of the winsorised residuals over their variance.
     The larger of the AR(1) value ``(1 + ρ) / (1 - ρ)`` from the lag-1 correlation (less
     ``RHO_PENALTY / sqrt(n)``, so that sampling noise in a young series does not inflate it,
     after Kendall's correction of its small-sample bias)
     and the batch-means value: ``BATCH`` = 64 × the variance of the means of 64 consecutive
     values, which sees dependence that outlasts one lag (cycles, bursts).  Batch means rather
     than prewhitening: prewhitening an AR(1) with φ = 0.9 leaves a step only 10 % of its size
     after its first value, so it is found later than with the inflated variance, and it does
     nothing for a cycle or a burst.  Each sum uses its own batch semivariance (from the
     batches whose mean fell on its side): bursts that go up inflate the upward sum only (this
     halved the bursts' false alarms).  A batch mean enters the estimate ``BATCH_LAG`` = 4
     batches late and is dropped if an alarm comes first, so the start of a change does not
     inflate the variance it is measured against (entered at once, a 0.6 σ step at n = 2000
     inflated the upward variance threefold and was never found).
   - ``κ``, heavy tails: the winsorised residuals' second moment over its value for normal
     data (0.9776), each side from its own half (a skewed series has its heavier tail on one
     side), shrunk towards 1 with a prior worth ``C0_PRIOR`` = 32 values.  Raw lognormal
     (σ = 1.5) values with ``kind="continuous"``: 14 false alarms per 100,000 → 0.1.

   The moments are learned from every value of a mature series (bursts are noise: leaving
   excursions out raised the bursts' false alarms 10-fold), and outside excursions while young.
   Slow drift and seasonality are handled the same way: the baseline follows what is slower
   than its memory, and a cycle faster than that is variance at the detector's time scale,
   not a change (a ±20 % daily cycle over 1,000 values raised τ to ~5: no false alarm in
   2,000,000 values).  The price is sensitivity on such series: a step must stand out
   against the noise as it really is, not as an i.i.d. model would have it.
5. *CUSUM* (Page 1954) with reference ``k`` = 0.5 (tuned to a shift of 1 σ):
   ``S⁺ = max(0, S⁺ + z - k)``, ``S⁻ = max(0, S⁻ - z - k)``; an alarm when ``S > h``.
6. *Where the change started*: the CUSUM's last zero is the maximum-likelihood change point for
   a change of the design size (Page 1954, Hinkley 1971), but it comes too early when the sum
   happened to be wandering above zero when a large change arrived.  A second, "fast" CUSUM
   with ``k`` = 1.5 runs inside the main one (it is never above it, so it costs nothing while
   the main sum is at zero); at an alarm the start is whichever of the two candidates has the
   larger generalised likelihood ratio with the post-change mean estimated,
   ``(Σ residual)² / n``.  The post-change level is the mean of the values since the start,
   each winsorised at ±6 σ around the mean of the run so far (robust to an outlier, unbiased
   for a change of any size).
7. After an alarm both sums restart from 0; the caller decides whether the change is accepted
   (``rebaseline()``): the location is then re-learned from the values that follow, from
   scratch (Hawkins' recursion: the first new value is the location, each later one is
   standardised against the mean of those before it), keeping the scale.  Re-learning from
   the run itself would carry its selection bias: after a false alarm the run's mean is
   ~1 σ off, and the detector would promptly alarm back (measured: it halves the ARL0).

Method, pass/fail (``BernoulliCusum``)
--------------------------------------
Reynolds & Stoumbos (1999): the CUSUM of the log-likelihood ratio of each 0/1 value,
``x·log(p₁/p₀) + (1-x)·log((1-p₁)/(1-p₀))``, with ``p₀`` the running estimate of P(x = 1)
and ``p₁`` the rate with the odds multiplied (upward sum) or divided (downward sum) by
``ODDS_RATIO`` = 2.25, i.e. 10 % → 20 % failures: each sum is designed for the shift it must
detect (a pass rate falling from 0.90 to 0.80 is exactly odds ÷ 2.25, and a design for a
smaller or larger ratio, 1.8 or 2.8, detected it later at the same ARL0: measured with known
parameters, median delay 161 and 153 against 149).

The estimate ``p₀``: a Jeffreys start ``(ones + ½)/(n + 1)`` after a 20-value warm-up, then an
expanding window (the running mean of all values so far) and, once ``n`` reaches
``BERN_MEMORY`` = 5000, an EWMA of that memory.  Below ``BERN_YOUNG`` = 500 values each value
enters at once.  Past that, each value enters ``BERN_LAG`` = 64 values late (a queue of bits,
O(1) per value), and a value due to enter while a sum is above ``FREEZE`` × its threshold is
dropped.  The lag keeps the start of a change out of the baseline it is measured against
until the freeze takes over: with immediate entry, the first values of a 0.90 → 0.80 drop
pulled ``p₀`` towards 0.80 (each by ``1/n``) and slowed its detection (median delay 169 → 162
values over 1000 trials at changepoints' thresholds, the false-alarm rate on long stationary
streams unchanged within noise).  A value leaving the queue during an excursion arrived
``BERN_LAG`` values earlier, mostly before the excursion began, so dropping it selects far
less than freezing values as they arrive did.  Lags of 32 to 256
gave the same gain within noise; longer lags raise the false-alarm rate of young series (the
estimate is older, and a burst of the rarer outcome no longer raises ``p₀`` at once), so the
shortest that gave the full gain is used.  The increments are
recomputed when ``p₀`` moves by more than 2 % (relative).  A single value adds at most
``log 2.25`` ≈ 0.81, so no single failure can alarm.  The start of a change is refined to the
maximum-likelihood change point (with the post-change rate estimated) among the run start and
the last ``EVENTS`` = 32 occurrences of the rarer outcome (just before one, when it became more
frequent; just after one, when it became rarer).  ``rebaseline()`` re-learns ``p₀`` from the
values that follow (a new warm-up).

Failures come in bursts (a rate limit, a flaky dependency), and the thresholds assume
independent values: both are multiplied by the overdispersion ``disp`` ≥ 1, the variance of the
counts in batches of 64 values (around their own running mean) over the binomial variance,
shrunk towards 1 by a prior worth 32 batches and, as for the continuous detector, with each
batch entering 4 batches late and dropped at an alarm (``_batch``).  Bursts of 10 % errors
lasting 20 values on a 2 % base: 8.2 false alarms per 100,000 → 4.5; on independent values
it costs ~8 % of detection delay (a 0.90 → 0.80 drop: median 139 → 150 values).

Calibration: from a false-alarm rate to ``h``
--------------------------------------------
The target is a false-alarm budget: at ``sensitivity`` = 1, at most one alarm per
``1/FALSE_ALARM_RATE`` = 100,000 values of a stationary series, both directions together.
``side_arl0(sensitivity, bad)`` splits the budget into an in-control average run length (ARL0)
per one-sided sum: evenly (``bad=0``, e.g. ``changepoints``), or, when one direction is the
regression direction (the alert engine), 10/11 of the budget to that direction and 1/11 to the
other, which only re-baselines silently.  ``sensitivity`` multiplies the budget
(2 → one per 50,000; 0.1 → one per million).

For both CUSUMs ``log ARL0`` is, to a very good approximation, linear in ``h`` with slope 1
(Siegmund 1985: ``ARL0 ≈ 2(e^b - b - 1)`` with ``b = h + 1.166`` for the normal CUSUM with
``k = 0.5``; Wald's identity gives slope 1 for any log-likelihood-ratio CUSUM), so
``h = log(ARL0) - c``.

``CONT_INTERCEPT`` (continuous): for i.i.d. normal values the known-parameter CUSUM gives
``c`` = 1.88 (numpy, 4·10⁸ values per point, h = 5…8), and the self-starting detector met its
target with ``c`` = 1.83.  With the normalisation of step 4 that value left the engine's latency
detector at 1.3-1.5 false alarms per 100,000 on Student-t(3) noise and 2.5-2.8 on bursty
(Markov-switching) noise: the normalisation matches the variance, not the shape, of those
processes.  With the winsorising bound lowered from 3 to 2.5 (step 3) and ``c`` = 1.35 (h 0.48
higher than the i.i.d. value: about half a value more delay on a +50 % latency step), every
noise model of ``benches/bench_detectors.py`` stays within the budget (1,000,000 values each,
engine / changepoints, per 100,000: i.i.d. 0.4 / 0.4, Student-t(3) 0.6 / 0.7, Markov bursts
0.5 / 0.4, AR(1), cycles and trend ≤ 0.3) except two harsher stress cases (bursts of +50 %
latency or of 5× the error rate lasting 10-20 values on average, whose long ones are level
shifts to any detector of level changes: 2.5-4.5).

``BERN_INTERCEPT_UP`` / ``_DOWN`` (pass/fail) were measured by simulation (the ``--calibrate``
mode of ``benches/bench_detectors.py`` before commit 73f00c4, in the history):

1. the known-parameter Bernoulli CUSUMs on a grid of ``q`` (the rarer outcome's probability),
   at h = 5, 6, 7, 8, taking the smallest intercept seen (conservative: it grows slowly with
   ``h``);
2. the self-starting detector falls short of its target, by different amounts in its two
   directions and for different ``q``, so its margin is measured for each direction
   separately at the operating point (100,000 per side) on stationary 0/1 values with ``q`` =
   0.02 (an error flag), 0.1 (a 90 % pass rate) and 0.3, 120 × 500,000 values each (650-860
   alarms per direction): the shortfall in log units plus two standard errors
   (``2/sqrt(alarms)``, so the budget holds with ~97.5 % confidence), rounded up to 0.01.
   Measured: UP 0.36 + 0.07, 0.11 + 0.08, 0.09 + 0.08; DOWN 0.23 + 0.07, 0.24 + 0.07,
   0.16 + 0.08 (q = 0.02, 0.1, 0.3); the tables' other points get the margin interpolated in
   log q.  Below ``q`` = 0.01 the ``q`` = 0.01 intercept is used, which is conservative.
   For scale: a CUSUM told the true rate, its threshold at exactly the same budget, finds a
   0.90 → 0.80 drop in 146 values (median), this one in ~156.

``benches/bench_detectors.py`` measures the false-alarm rates (1,000,000 values per noise
model: i.i.d., AR(1), Student-t(3), lognormal, daily cycles, Markov bursts), the detection
delays and the change points found in real annotated series (TCPD).

References
----------
- E. S. Page (1954). Continuous inspection schemes. Biometrika 41(1/2), 100-115.
- D. V. Hinkley (1971). Inference about the change-point from cumulative sum tests.
  Biometrika 58(3), 509-523.
- D. M. Hawkins (1987). Self-starting CUSUM charts for location and scale.
  The Statistician 36, 299-316.
- D. M. Hawkins & D. H. Olwell (1998). Cumulative Sum Charts and Charting for Quality
  Improvement. Springer.
- M. R. Reynolds & Z. G. Stoumbos (1999). A CUSUM chart for monitoring a proportion when
  inspecting continuously. Journal of Quality Technology 31(1), 87-108.
- D. Siegmund (1985). Sequential Analysis: Tests and Confidence Intervals. Springer.
- M. G. Kendall (1954). Note on bias in the estimation of autocorrelation. Biometrika 41,
  403-404.
- D. L. Wallace (1959). Bounds on normal approximations to Student's and the chi-square
  distributions. Annals of Mathematical Statistics 30(4), 1121-1130.
- P. J. Huber (1964). Robust estimation of a location parameter. Ann. Math. Statist. 35, 73-101.
- G. Lorden (1971), G. V. Moustakides (1986): optimality of the CUSUM (minimax detection delay
  for a given ARL0).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

__all__ = [
    "FALSE_ALARM_RATE",
    "CusumDetector",
    "BernoulliCusum",
    "side_arl0",
    "cusum_threshold",
    "bernoulli_threshold",
]

# --- design constants --------------------------------------------------------------------------

FALSE_ALARM_RATE = 1e-5   #: default budget: false alarms per value (both directions together)
GOOD_SIDE_SHARE = 1.0 / 11.0  #: share of the budget for the non-regression direction (engine)

K = 0.5          #: CUSUM reference value, in standard deviations (tuned to a 1 σ shift)
KF = 1.5         #: reference value of the "fast" CUSUM that locates the start of large changes
CLIP = 2.5       #: winsorising bound for standardised values (and the Huber constant)
RUN_CLIP = 6.0   #: post-change level: values winsorised at ±6 σ around the run's mean so far
WARMUP = 16      #: values collected before the first robust estimate
MEMORY = 2500    #: effective memory of the running baseline once it is full (continuous)
FREEZE = 0.5     #: the baseline stops learning while a sum is above FREEZE × h
YOUNG = 250      #: below this many values the small-sample corrections are applied
YOUNG_FREEZE = 40  #: the location learns from every value until it has this many
_C0_NORMAL = 0.9776  # E[min(Z², CLIP²)] for Z ~ N(0, 1)
_ABS_DEV = 0.7939        # E[min(|Z|, CLIP)] for Z ~ N(0, 1): scale consistency of the clipped MAD
_INV_ABS_DEV = 1.0 / _ABS_DEV

ODDS_RATIO = 2.25   #: Bernoulli design change: odds × 2.25 (10 % → 20 %) or ÷ 2.25
BERN_WARMUP = 20
BERN_MEMORY = 5000
BERN_YOUNG = 500    #: below this many values the rate estimate never freezes (nor lags)
BERN_LAG = 64       #: once past BERN_YOUNG, a value enters the rate estimate this many values late
_BERN_TOL = 0.02    # recompute increments when p moves by more than 2 % (relative)
_P_MIN = 1e-4
_LAG_LAST = 1 << (BERN_LAG - 1)  # the newest value's bit in the lag queue
EVENTS = 32         #: rare events remembered to refine the start of a change
DISP_PRIOR = 32     #: prior weight (batches) of dispersion 1 in the overdispersion estimate

#: log ARL0 - h for the continuous CUSUM: below the i.i.d. normal value (1.83) so that heavier,
#: correlated and bursty noise stays within the budget too (see "Calibration" above)
CONT_INTERCEPT = 1.35
# the normalisation for real noise (method, step 4)
BATCH = 64          #: values per batch of the batch-means variance estimate
BATCH_LAG = 4       #: batches a batch mean waits before it enters the variance estimate
RHO_MAX = 0.95      #: largest lag-1 correlation believed (τ ≤ 39 from it)
RHO_PENALTY = 0.25  #: ρ is lowered by RHO_PENALTY / sqrt(n): sampling noise does not inflate τ
C0_PRIOR = 32       #: prior weight (values) of the normal second moment in κ
_NB_MAX = 16 * MEMORY // BATCH  # batch-means memory: 625 batches (40,000 values)
_NB_MIN = 4         # batches before the batch-means estimate is used
#: (q, log ARL0 - h) for the Bernoulli CUSUM whose sum looks for the rarer outcome to become
#: more frequent (UP) or less frequent (DOWN); q = probability of the rarer outcome.  The
#: known-parameter values minus a self-starting margin measured for each direction at
#: q = 0.02, 0.1 and 0.3 (interpolated in log q between them; same script): UP 0.44, 0.19,
#: 0.17; DOWN 0.31, 0.32, 0.24.
BERN_INTERCEPT_UP: Tuple[Tuple[float, float], ...] = (
    (0.01, 5.26), (0.02, 4.58), (0.05, 3.87), (0.1, 3.39), (0.2, 2.92), (0.3, 2.73), (0.5, 2.67),
)
BERN_INTERCEPT_DOWN: Tuple[Tuple[float, float], ...] = (
    (0.01, 5.96), (0.02, 5.22), (0.05, 4.32), (0.1, 3.67), (0.2, 3.12), (0.3, 2.85), (0.5, 2.6),
)

_log = math.log
_sqrt = math.sqrt
_log1p = math.log1p
_INF = float("inf")
_NEG_INF = -_INF
# precomputed bounds of the hot path (the same floats the expressions they replace evaluate to)
_NEG_CLIP = -CLIP
_FIRST_CLIP = 2.0 * RUN_CLIP       # first value of a run: winsorised at ±2·RUN_CLIP σ
_NEG_FIRST_CLIP = -2.0 * RUN_CLIP
_BIG = 1e300  # "never" as a finite number, so states stay strict JSON


def side_arl0(sensitivity: float = 1.0, bad: int = 0) -> Tuple[float, float]:
    """In-control average run lengths ``(upward, downward)`` for a false-alarm budget.

    The budget is ``FALSE_ALARM_RATE × sensitivity`` alarms per value, both sums together.
    ``bad`` is the regression direction (+1 up, -1 down, 0 none): the regression side gets
    10/11 of the budget, the other side (which only re-baselines) 1/11.
    """
    try:
        sens = float(sensitivity)
    except (TypeError, ValueError):
        sens = math.nan
    if not (0.0 < sens < _INF) or isinstance(sensitivity, bool):
        raise ValueError(f"sensitivity must be a positive number, got {sensitivity!r}")
    rate = FALSE_ALARM_RATE * sens
    if bad == 0:
        return 2.0 / rate, 2.0 / rate
    main = 1.0 / (rate * (1.0 - GOOD_SIDE_SHARE))
    other = 1.0 / (rate * GOOD_SIDE_SHARE)
    return (main, other) if bad > 0 else (other, main)


def cusum_threshold(arl0: float) -> float:
    """Decision threshold ``h`` (in standard deviations) of the continuous CUSUM for an ARL0."""
    return max(2.0, _log(arl0) - CONT_INTERCEPT)


def _interp(table: Tuple[Tuple[float, float], ...], q: float) -> float:
    if q <= table[0][0]:
        return table[0][1]
    lq = _log(q)
    for (q0, c0), (q1, c1) in zip(table, table[1:]):
        if q <= q1:
            w = (lq - _log(q0)) / (_log(q1) - _log(q0))
            return c0 + w * (c1 - c0)
    return table[-1][1]


def bernoulli_threshold(p: float, arl0: float, up: bool) -> float:
    """Decision threshold ``h`` (log-likelihood units) of one Bernoulli CUSUM sum.

    ``p`` is the in-control P(x = 1); ``up`` says whether the sum looks for P(x = 1) to rise.
    """
    q = min(p, 1.0 - p)
    rarer_up = up if p <= 0.5 else not up
    c = _interp(BERN_INTERCEPT_UP if rarer_up else BERN_INTERCEPT_DOWN, q)
    return max(1.0, _log(arl0) - c)


def _median(xs: list) -> float:
    ys = sorted(xs)
    n = len(ys)
    mid = n // 2
    return ys[mid] if n % 2 else 0.5 * (ys[mid - 1] + ys[mid])


class CusumDetector:
    """Self-starting, robust, two-sided CUSUM for a continuous (or, ``log=True``, positive) series.

    ``update(x, tag)`` returns +1 (the level rose), -1 (it fell) or 0.  After an alarm:
    ``start`` is the 1-based index of the first value of the change, ``start_tag`` the tag passed
    with it, ``count`` the number of values since, ``level`` the post-change level and
    ``before`` the baseline it was measured against (both in the series' units), ``shift`` the
    change in baseline standard deviations.  Values that cannot be used (NaN, ±inf, and for
    ``log=True`` values ≤ 0) are ignored.
    """

    __slots__ = (
        "log", "arl_up", "arl_dn", "h_up", "h_dn", "hf_up", "hf_dn", "floor_abs", "floor_rel",
        "n", "warm", "m", "sabs", "s", "inv_s", "n_loc", "n_sc", "young",
        "up", "dn", "up_start", "dn_start", "up_tag", "dn_tag", "up_sum", "dn_sum",
        "fu", "fd", "fu_start", "fd_start", "fu_tag", "fd_tag", "fu_sum", "fd_sum",
        "start", "start_tag", "count", "level", "lvl", "before", "shift", "alarms",
        "nv", "c0", "c0p", "c1", "zprev", "bn", "bsum", "nb", "bmean", "cbu", "cbd", "bq",
        "tau", "inv_vu", "inv_vd",
    )

    def __init__(self, arl_up: float = 2e5, arl_dn: float = 2e5, *, log: bool = False,
                 floor: Optional[float] = None) -> None:
        self.log = bool(log)
        self.arl_up = float(arl_up)
        self.arl_dn = float(arl_dn)
        self.h_up = cusum_threshold(self.arl_up)
        self.h_dn = cusum_threshold(self.arl_dn)
        self.hf_up = FREEZE * self.h_up
        self.hf_dn = FREEZE * self.h_dn
        # smallest scale the detector will believe in: 0.5 % on a log scale (a constant series
        # that starts to jitter by less than that is not a change); otherwise relative to level
        self.floor_abs = (0.005 if log else 1e-9) if floor is None else float(floor)
        self.floor_rel = 0.0 if log else 1e-3
        self.n = 0
        self.warm: Optional[list] = []
        self.m = 0.0
        self.sabs = 0.0
        self.s = 1.0
        self.inv_s = 1.0
        self.n_loc = 0
        self.n_sc = 0
        self.young = True
        self.up = 0.0
        self.dn = 0.0
        self.up_start = 0
        self.dn_start = 0
        self.up_tag: Any = None
        self.dn_tag: Any = None
        self.up_sum = 0.0
        self.dn_sum = 0.0
        self.fu = self.fd = self.fu_sum = self.fd_sum = 0.0
        self.fu_start = self.fd_start = 0
        self.fu_tag: Any = None
        self.fd_tag: Any = None
        self.start = 0
        self.start_tag: Any = None
        self.count = 0
        self.level = 0.0
        self.lvl = 0.0
        self.before = 0.0
        self.shift = 0.0
        self.alarms = 0
        # long-run variance of the clipped standardised residuals (see _set_v)
        self.nv = 0
        self.c0 = 1.0
        self.c0p = 0.5  # the part of c0 from positive residuals
        self.c1 = 0.0
        self.zprev = 0.0
        self.bn = 0
        self.bsum = 0.0
        self.nb = 0
        self.bmean = 0.0
        self.cbu = self.cbd = 1.0
        self.bq: list = []  # batch means not yet in the estimate, oldest first
        self.tau = 1.0
        self.inv_vu = self.inv_vd = 1.0

    # -- helpers -----------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once the warm-up is over and the detector can alarm."""
        return self.warm is None

    def to_units(self, v: float) -> float:
        """Internal (possibly log) value → the series' units."""
        return math.exp(v) if self.log else v

    @property
    def baseline(self) -> float:
        """Current baseline level in the series' units (0 during warm-up)."""
        return self.to_units(self.m) if self.warm is None else 0.0

    @property
    def scale(self) -> float:
        """Current scale (standard deviation, of logs when ``log=True``)."""
        return self.s

    def reference(self, direction: int) -> float:
        """The CUSUM reference level ``baseline ± k·σ`` in the series' units: values beyond it
        add evidence of a change in ``direction``."""
        return self.to_units(self.m + direction * K * self.s)

    def _set_scale(self, sabs: float) -> None:
        self.sabs = sabs
        s = sabs / _ABS_DEV
        floor = self.floor_abs
        if self.floor_rel:
            floor = max(floor, self.floor_rel * abs(self.m))
        if s < floor:
            s = floor
        self.s = s
        self.inv_s = 1.0 / s

    def _start(self) -> None:
        xs = self.warm
        assert xs is not None
        med = _median(xs)
        mad = _median([abs(x - med) for x in xs]) * 1.4826
        if mad <= 0.0:
            mad = _median([abs(x - med) for x in xs if x != med] or [0.0]) * 1.4826
        lo, hi = med - CLIP * mad, med + CLIP * mad
        w = [lo if x < lo else hi if x > hi else x for x in xs]
        self.m = sum(w) / len(w)
        self.n_loc = len(xs)
        self.n_sc = len(xs)
        self._set_scale(sum(abs(x - self.m) for x in w) / len(w) * _ABS_DEV / 0.7979)
        self.warm = None
        self.young = True
        zs = [max(-CLIP, min(CLIP, (x - self.m) * self.inv_s)) for x in xs]
        self.nv = len(zs)
        self.c0 = sum(z * z for z in zs) / len(zs)
        self.c0p = sum(z * z for z in zs if z > 0.0) / len(zs)
        self.c1 = sum(a * b for a, b in zip(zs, zs[1:])) / (len(zs) - 1)
        self.zprev = zs[-1]
        self._set_v()

    def _batch(self) -> None:
        """End of a batch of ``BATCH`` values.  Its mean enters the batch-means variance
        estimate ``BATCH_LAG`` batches later, unless an alarm came first (``rebaseline`` drops
        the queue): a batch is evidence about the noise only once it is known not to be part of
        a change (entered at once, the first batches of a 0.6 σ step inflated the upward
        variance threefold within 200 values at n = 2000, and the step was never found)."""
        q = self.bq
        q.append(self.bsum / BATCH)
        self.bsum = 0.0
        self.bn = 0
        if len(q) <= BATCH_LAG:
            self._set_v()
            return
        bm = q.pop(0)
        nb = self.nb
        if nb < _NB_MAX:
            nb += 1
            self.nb = nb
        # deviations from the batch means' own running mean: a steady offset (the baseline
        # lagging a slow trend) is a bias, not noise (around 0, a 5 %-per-1,000-values trend
        # inflated the upward variance elevenfold and hid a doubling)
        d = bm - self.bmean
        self.bmean += d / nb
        if d > 0.0:
            self.cbu += (2.0 * BATCH * d * d - self.cbu) / nb
            self.cbd -= self.cbd / nb
        else:
            self.cbd += (2.0 * BATCH * d * d - self.cbd) / nb
            self.cbu -= self.cbu / nb
        self._set_v()

    def _set_v(self) -> None:
        """The normalisation of the clipped standardised residuals ``zr`` before they are summed.

        ``zr`` is already divided by the robust scale ``s``; two corrections remain, each ≥ 1
        (a correction below 1 would make the detector more sensitive than the i.i.d. normal
        calibration, on the strength of a noisy estimate):

        - ``kappa``, heavy tails: the second moment ``c0`` of ``zr`` relative to its value for
          normal data (0.9776); shrunk towards 1 by a prior worth ``C0_PRIOR`` values;
        - ``tau``, dependence: the long-run variance of ``zr`` over its variance, the larger of
          the AR(1) value ``(1 + ρ) / (1 - ρ)`` (lag-1 correlation ``ρ`` less a penalty of
          ``RHO_PENALTY / sqrt(n)``, so sampling noise alone does not inflate it) and the
          batch-means value ``BATCH × Var(batch mean) / c0``, which sees dependence that lasts
          longer than one lag (cycles, bursts).  Each sum uses its own batch-means value, from
          the batches whose mean fell on its side (a semi-variance): bursts that only go up
          inflate the upward sum, not the downward one.
        """
        c0 = self.c0
        nv = self.nv
        if c0 < 1e-12:  # a constant series: nothing to correct
            self.tau = 1.0
            self.inv_vu = self.inv_vd = 1.0
            return
        # the lag-1 correlation of n values is biased low by about (1 + 3ρ)/n (Kendall 1954;
        # from 16 values of an AR(1) with φ = 0.9 it reads ~0.67): corrected, a new series of
        # that kind false-alarmed in its first 2,000 values 14 times in 100 rather than 21
        rho = self.c1 / c0
        rho += (1.0 + 3.0 * rho) / (nv + 1.0) - RHO_PENALTY / _sqrt(nv + 1.0)
        if rho < 0.0:
            rho = 0.0
        elif rho > RHO_MAX:
            rho = RHO_MAX
        tau = tu = td = (1.0 + rho) / (1.0 - rho)
        if self.nb >= _NB_MIN:
            cbu = self.cbu / c0
            cbd = self.cbd / c0
            if cbu > tu:
                tu = cbu
            if cbd > td:
                td = cbd
            cb = 0.5 * (cbu + cbd)
            if cb > tau:
                tau = cb
        # heavy tails, each side from its own half of the second moment (a skewed series has
        # the heavier tail on one side: that side's sum needs the larger normalisation)
        prior = C0_PRIOR * _C0_NORMAL
        ku = (nv * 2.0 * self.c0p + prior) / ((nv + C0_PRIOR) * _C0_NORMAL)
        kd = (nv * 2.0 * (c0 - self.c0p) + prior) / ((nv + C0_PRIOR) * _C0_NORMAL)
        if ku < 1.0:
            ku = 1.0
        if kd < 1.0:
            kd = 1.0
        self.tau = tau
        self.inv_vu = 1.0 / _sqrt(ku * tu)
        self.inv_vd = 1.0 / _sqrt(kd * td)

    # -- the hot path ------------------------------------------------------------------------
    def update(self, x: float, tag: Any = None) -> int:
        """Feed one value; return +1 / -1 on an upward / downward alarm, else 0."""
        # This is the per-span hot path of the alert engine: state read more than once is held
        # in locals.
        if self.log:
            if not x > 0.0 or x == _INF:
                return 0
            x = _log(x)
        elif x != x or x == _INF or x == _NEG_INF:
            return 0
        n = self.n + 1
        self.n = n
        if self.warm is not None:
            return self._warm_up(x)
        s = self.s
        if self.n_loc == 0:  # first value after a re-baseline
            self.m = x
            self.n_loc = 1
            if self.floor_rel:
                self._set_scale(self.sabs)
            return 0
        r = x - self.m
        zr = r * self.inv_s
        rr0 = r
        # the residual clipped for the baseline update (Huber) and for the variance estimate;
        # the first value of a run is winsorised at ±2·RUN_CLIP σ around the baseline
        if zr > CLIP:
            if zr > _FIRST_CLIP:
                rr0 = _FIRST_CLIP * s
            zr = CLIP
        elif zr < _NEG_CLIP:
            if zr < _NEG_FIRST_CLIP:
                rr0 = _NEG_FIRST_CLIP * s
            zr = _NEG_CLIP
        young = self.young
        if young:
            # small-sample correction: Student t -> normal (Wallace 1959), ν = the effective
            # number of values behind the scale estimate (fewer when they are correlated)
            # (the location's own error: variance τ/n for n correlated values, not 1/n)
            t = (r * self.inv_s) / _sqrt(1.0 + self.tau / self.n_loc)
            nu = 0.88 * self.n_sc / self.tau
            z = _sqrt(nu * _log1p(t * t / nu)) * (8.0 * nu + 1.0) / (8.0 * nu + 3.0)
            if t < 0.0:
                z = -z
            if z > CLIP:
                z = CLIP
            elif z < _NEG_CLIP:
                z = _NEG_CLIP
        else:
            z = zr
        w = RUN_CLIP * s
        # the CUSUMs; inside each, a "fast" CUSUM with a larger reference value (KF), whose
        # runs are short, gives a second, later candidate for the start of a large change
        # (it is never above the main sum, so it only needs updating while that is positive)
        prev = self.up
        up = prev + z * self.inv_vu - K
        if up > 0.0:
            if prev == 0.0:
                self.up_start = n
                self.up_tag = tag
                self.up_sum = rr0
            else:
                # the post-change level: values winsorised at ±RUN_CLIP σ around the run's mean
                # so far (robust to an outlier, unbiased however large the change)
                total = self.up_sum
                mu = total / (n - self.up_start)
                if r > mu + w:
                    self.up_sum = total + (mu + w)
                elif r < mu - w:
                    self.up_sum = total + (mu - w)
                else:
                    self.up_sum = total + r
            fprev = self.fu
            f = fprev + z * self.inv_vu - KF
            if f > 0.0:
                if fprev == 0.0:
                    self.fu_start = n
                    self.fu_tag = tag
                    self.fu_sum = rr0
                else:
                    total = self.fu_sum
                    mu = total / (n - self.fu_start)
                    if r > mu + w:
                        self.fu_sum = total + (mu + w)
                    elif r < mu - w:
                        self.fu_sum = total + (mu - w)
                    else:
                        self.fu_sum = total + r
                self.fu = f
            else:
                self.fu = 0.0
            if up > self.h_up:
                return self._alarm(1, n)
        else:
            up = 0.0
            self.fu = 0.0
        self.up = up
        prev = self.dn
        dn = prev - z * self.inv_vd - K
        if dn > 0.0:
            if prev == 0.0:
                self.dn_start = n
                self.dn_tag = tag
                self.dn_sum = rr0
            else:
                total = self.dn_sum
                mu = total / (n - self.dn_start)
                if r > mu + w:
                    self.dn_sum = total + (mu + w)
                elif r < mu - w:
                    self.dn_sum = total + (mu - w)
                else:
                    self.dn_sum = total + r
            fprev = self.fd
            f = fprev - z * self.inv_vd - KF
            if f > 0.0:
                if fprev == 0.0:
                    self.fd_start = n
                    self.fd_tag = tag
                    self.fd_sum = rr0
                else:
                    total = self.fd_sum
                    mu = total / (n - self.fd_start)
                    if r > mu + w:
                        self.fd_sum = total + (mu + w)
                    elif r < mu - w:
                        self.fd_sum = total + (mu - w)
                    else:
                        self.fd_sum = total + r
                self.fd = f
            else:
                self.fd = 0.0
            if dn > self.h_dn:
                return self._alarm(-1, n)
        else:
            dn = 0.0
            self.fd = 0.0
        self.dn = dn
        # the moments behind the normalisation (_set_v): learned from every value once the
        # detector is mature (an excursion of a bursty series is part of its noise: left out,
        # the bursts model's false alarms rose 10-fold); while young (large gains) not during
        # an excursion, whose first values would otherwise inflate the scale they are measured
        # against (a +50 % step 40 values into a series was missed 62 times in 400, 45 so)
        if not young or (up < self.hf_up and dn < self.hf_dn):
            nv = self.nv
            if nv < MEMORY:
                nv += 1
                self.nv = nv
            zz = zr * zr
            self.c0 += (zz - self.c0) / nv
            self.c0p += ((zz if zr > 0.0 else 0.0) - self.c0p) / nv
            self.c1 += (zr * self.zprev - self.c1) / nv
            bn = self.bn + 1
            self.bsum += zr
            if bn == BATCH:
                self._batch()
            else:
                self.bn = bn
        self.zprev = zr
        # baseline update with the clipped residual zr (Huber): the scale always learns; the
        # location stops learning while a sum is above FREEZE × h, once it is no longer young
        ns = self.n_sc
        if ns < MEMORY:
            ns += 1
            self.n_sc = ns
        sabs = self.sabs
        sabs += ((zr if zr >= 0.0 else -zr) * s - sabs) / ns
        self.sabs = sabs
        if (young and self.n_loc < YOUNG_FREEZE) or (up < self.hf_up and dn < self.hf_dn):
            nl = self.n_loc
            if nl < MEMORY:
                nl += 1
                self.n_loc = nl
                if nl >= YOUNG:
                    self.young = False
            self.m += zr * s / nl
        s = sabs * _INV_ABS_DEV
        if s < self.floor_abs or (self.floor_rel and s < self.floor_rel * abs(self.m)):
            self._set_scale(sabs)
        else:
            self.s = s
            self.inv_s = 1.0 / s
        return 0

    def _warm_up(self, x: float) -> int:
        """Collect a warm-up value; the robust estimates start once ``WARMUP`` are in."""
        warm = self.warm
        warm.append(x)
        if len(warm) >= WARMUP:
            self._start()
        return 0

    def _alarm(self, direction: int, n: int) -> int:
        if direction > 0:
            start, tag, total = self.up_start, self.up_tag, self.up_sum
            f, fstart, ftag, ftotal = self.fu, self.fu_start, self.fu_tag, self.fu_sum
        else:
            start, tag, total = self.dn_start, self.dn_tag, self.dn_sum
            f, fstart, ftag, ftotal = self.fd, self.fd_start, self.fd_tag, self.fd_sum
        count = n - start + 1
        if f > 0.0 and fstart > start:
            # maximum-likelihood choice between the two candidate starts, with the post-change
            # mean estimated from each segment: the log GLR of a segment is (Σ residual)² / 2nσ²
            fcount = n - fstart + 1
            if ftotal * ftotal / fcount > total * total / count:
                start, tag, total, count = fstart, ftag, ftotal, fcount
        self.start = start
        self.start_tag = tag
        self.count = count
        mean = total / count
        self.before = self.to_units(self.m)
        self.level = self.to_units(self.m + mean)
        self.shift = mean * self.inv_s
        self.alarms += 1
        self.lvl = self.m + mean
        self.up = self.dn = self.fu = self.fd = 0.0
        return direction

    def rebaseline(self) -> None:
        """Accept the last alarm's change: re-learn the location from the values that follow.

        The location restarts from scratch (Hawkins' self-starting recursion: the first new value
        is the new location, each later one is standardised against the mean of those before it,
        inflated by ``sqrt(1 + 1/n)``), so the new baseline carries no selection bias from the
        alarm run; the scale is kept."""
        if self.warm is not None:
            return
        self.n_loc = 0
        self.young = True
        self.up = self.dn = self.fu = self.fd = 0.0
        self.bq = []

    # -- persistence -------------------------------------------------------------------------
    def state(self) -> Dict[str, Any]:
        """JSON-able state (tags must be JSON-able themselves)."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> "CusumDetector":
        """The detector ``state()`` saved; a state saved before the long-run variance existed
        loads with it at its start values (1: independent values), re-estimated from there."""
        self = cls(state["arl_up"], state["arl_dn"], log=state["log"])
        for name in cls.__slots__:
            if name in state:
                setattr(self, name, state[name])
        if self.warm is not None:
            self.warm = list(self.warm)
        self.bq = [float(b) for b in self.bq]
        self.h_up = cusum_threshold(self.arl_up)  # the thresholds of this version's calibration
        self.h_dn = cusum_threshold(self.arl_dn)
        self.hf_up = FREEZE * self.h_up
        self.hf_dn = FREEZE * self.h_dn
        return self


def _glr(k: int, n: int, q0: float, rise: bool) -> float:
    """Log generalised likelihood ratio of ``k`` events in ``n`` values at the estimated rate
    ``k/n`` against the rate ``q0``; -inf unless the rate moved the way ``rise`` says."""
    if n <= 0 or (k <= q0 * n if rise else k >= q0 * n):
        return -_INF
    q = k / n
    g = k * _log(q / q0) if k else 0.0
    if k < n:
        g += (n - k) * _log((1.0 - q) / (1.0 - q0))
    return g


class BernoulliCusum:
    """Self-starting two-sided Bernoulli CUSUM (Reynolds & Stoumbos 1999) for 0/1 values.

    ``update(x, tag)`` takes a truthy/falsy value (1 = the event: an error, a pass) and returns
    +1 (P(x = 1) rose), -1 (it fell) or 0.  After an alarm the same attributes as
    :class:`CusumDetector` describe the change (``level`` and ``before`` are rates, ``shift``
    is the log odds ratio between them).
    """

    __slots__ = (
        "arl_up", "arl_dn", "h_up", "h_dn", "hf_up", "hf_dn",
        "n", "wn", "ones", "p", "n_p", "p_design", "p_up", "p_dn", "a_up", "b_up", "a_dn", "b_dn",
        "up", "dn", "up_start", "dn_start", "up_tag", "dn_tag", "up_sum", "dn_sum",
        "start", "start_tag", "count", "level", "before", "shift", "alarms", "rare", "ev",
        "lag", "lag_n", "bn", "bsum", "bq", "nb", "bmean", "cb", "disp", "run_count", "run_level",
    )

    log = False

    def __init__(self, arl_up: float = 2e5, arl_dn: float = 2e5) -> None:
        self.arl_up = float(arl_up)
        self.arl_dn = float(arl_dn)
        self.h_up = self.h_dn = self.hf_up = self.hf_dn = _BIG  # set when the warm-up ends
        self.n = 0
        self.wn = 0  # values collected in the current warm-up, -1 once it is over
        self.ones = 0
        self.p = 0.5
        self.n_p = 0
        self.p_design = -1.0
        self.p_up = self.p_dn = 0.5
        self.a_up = self.b_up = self.a_dn = self.b_dn = 0.0
        self.up = 0.0
        self.dn = 0.0
        self.up_start = 0
        self.dn_start = 0
        self.up_tag: Any = None
        self.dn_tag: Any = None
        self.up_sum = 0
        self.dn_sum = 0
        self.start = 0
        self.start_tag: Any = None
        self.count = 0
        self.level = 0.0
        self.before = 0.0
        self.shift = 0.0
        self.alarms = 0
        self.rare = 1      # the rarer outcome under the current estimate
        self.ev: list = []  # (index, tag) of the last EVENTS rarer outcomes
        self.lag = 0       # the last lag_n values not yet in the estimate, oldest in bit 0
        self.lag_n = 0
        # overdispersion (bursts): batch counts' variance over the binomial one (see _batch)
        self.bn = 0
        self.bsum = 0
        self.bq: list = []
        self.nb = 0
        self.bmean = 0.0
        self.cb = 0.0
        self.disp = 1.0
        self.run_count = 0    # the last alarm's run (unrefined): its length and rate
        self.run_level = 0.0

    @property
    def ready(self) -> bool:
        """True once the warm-up is over and the detector can alarm."""
        return self.wn < 0

    @property
    def baseline(self) -> float:
        """Current estimate of P(x = 1)."""
        return self.p

    def reference(self, direction: int) -> float:
        """The rate the sum in ``direction`` is tuned to detect (odds × or ÷ 2.25)."""
        return self.p_up if direction > 0 else self.p_dn

    def _design(self) -> None:
        p = self.p
        odds = p / (1.0 - p)
        p_up = odds * ODDS_RATIO / (1.0 + odds * ODDS_RATIO)
        p_dn = odds / ODDS_RATIO / (1.0 + odds / ODDS_RATIO)
        self.p_up = p_up
        self.p_dn = p_dn
        self.a_up = _log(p_up / p)
        self.b_up = _log((1.0 - p_up) / (1.0 - p))
        self.a_dn = _log(p_dn / p)
        self.b_dn = _log((1.0 - p_dn) / (1.0 - p))
        self.h_up = bernoulli_threshold(p, self.arl_up, True) * self.disp
        self.h_dn = bernoulli_threshold(p, self.arl_dn, False) * self.disp
        self.hf_up = FREEZE * self.h_up
        self.hf_dn = FREEZE * self.h_dn
        self.p_design = p
        self.rare = 1 if p <= 0.5 else 0

    def _set_p(self, p: float) -> None:
        if p < _P_MIN:
            p = _P_MIN
        elif p > 1.0 - _P_MIN:
            p = 1.0 - _P_MIN
        self.p = p
        pd = self.p_design
        q = pd if pd < 0.5 else 1.0 - pd
        if abs(p - pd) > _BERN_TOL * q:
            self._design()

    def update(self, x: Any, tag: Any = None) -> int:
        """Feed one 0/1 value; return +1 / -1 on an upward / downward alarm, else 0."""
        x = 1 if x else 0
        n = self.n + 1
        self.n = n
        if x == self.rare:
            ev = self.ev
            ev.append((n, tag))
            if len(ev) > EVENTS:
                del ev[0]
        wn = self.wn
        if wn >= 0:
            wn += 1
            self.ones += x
            if wn >= BERN_WARMUP:
                self.n_p = wn
                self._set_p((self.ones + 0.5) / (wn + 1.0))
                wn = -1
            self.wn = wn
            return 0
        bn = self.bn + 1
        if bn == BATCH:
            self._batch(self.bsum + x)
        else:
            self.bn = bn
            if x:
                self.bsum += 1
        # (the hot path: state read twice is held in locals; a sum at rest is exactly 0.0, never
        # negative, so it is not written again while it stays at rest)
        up_prev = self.up
        dn_prev = self.dn
        if x:
            up = up_prev + self.a_up
            dn = dn_prev + self.a_dn
        else:
            up = up_prev + self.b_up
            dn = dn_prev + self.b_dn
        if up > 0.0:
            if up_prev == 0.0:
                self.up_start = n
                self.up_tag = tag
                self.up_sum = x
            elif x:
                self.up_sum += x
            if up > self.h_up:
                return self._alarm(1, n)
            self.up = up
        else:
            up = 0.0
            if up_prev != 0.0:
                self.up = 0.0
        if dn > 0.0:
            if dn_prev == 0.0:
                self.dn_start = n
                self.dn_tag = tag
                self.dn_sum = x
            elif x:
                self.dn_sum += x
            if dn > self.h_dn:
                return self._alarm(-1, n)
            self.dn = dn
        else:
            dn = 0.0
            if dn_prev != 0.0:
                self.dn = 0.0
        np_ = self.n_p
        if np_ >= BERN_YOUNG:
            # x enters the estimate BERN_LAG values late (the rate is estimated from the values
            # before the last BERN_LAG); the value leaving the queue now enters it unless a sum
            # is above FREEZE × h, when it is dropped (it arrived BERN_LAG values earlier, mostly
            # before the excursion began, so dropping it selects far less than freezing did)
            k = self.lag_n
            if k < BERN_LAG:
                self.lag |= x << k
                self.lag_n = k + 1
                return 0
            bits = self.lag
            self.lag = ((bits >> 1) | _LAG_LAST) if x else bits >> 1
            if up >= self.hf_up or dn >= self.hf_dn:
                return 0
            x = bits & 1
        if np_ < BERN_MEMORY:
            np_ += 1
            self.n_p = np_
        p = self.p + (x - self.p) / np_
        pd = self.p_design
        if (p - pd if p > pd else pd - p) > _BERN_TOL * (pd if pd < 0.5 else 1.0 - pd):
            self._set_p(p)
        else:
            self.p = p
        return 0

    def _batch(self, ones: int) -> None:
        """End of a batch of ``BATCH`` values with ``ones`` events: the overdispersion.

        Failures and passes come in bursts (a rate limit, an outage, a hard stretch of
        traffic); the CUSUM's threshold assumes independent values.  ``disp`` = the variance of
        the batch counts (around their own running mean) over the binomial variance
        ``BATCH p (1 - p)``, at least 1; both thresholds are multiplied by it (in the diffusion
        limit the log ARL0 of a log-likelihood-ratio CUSUM is h times 2·drift/variance, and
        overdispersion multiplies the variance).  As in :class:`CusumDetector`, a batch enters
        ``BATCH_LAG`` batches late and is dropped at an alarm.  Bursts of 10 % errors (mean 20
        values) on a 2 % base: 8.2 false alarms per 100,000 → see the benchmark."""
        self.bn = 0
        self.bsum = 0
        q = self.bq
        q.append(ones)
        if len(q) <= BATCH_LAG:
            return
        bm = q.pop(0) / BATCH
        nb = self.nb
        if nb == 0:  # the first batch: the rate the others deviate from
            self.bmean = bm
            self.nb = 1
            return
        if nb < _NB_MAX:
            nb += 1
            self.nb = nb
        d = bm - self.bmean
        self.bmean += d / nb
        self.cb += (BATCH * d * d - self.cb) / (nb - 1)
        if nb < _NB_MIN:
            return
        # shrunk towards 1 by a prior worth DISP_PRIOR batches: from 20 batches of independent
        # values the raw ratio has a standard deviation of ~0.3, and a threshold raised by it
        # delays the detection of a real change
        p = self.p
        disp = (self.cb / (p * (1.0 - p)) * (nb - 1) + DISP_PRIOR) / (nb - 1 + DISP_PRIOR)
        if disp < 1.0:
            disp = 1.0
        if abs(disp - self.disp) > _BERN_TOL * self.disp:
            self.disp = disp
            self._design()

    def _alarm(self, direction: int, n: int) -> int:
        if direction > 0:
            start, tag, ones = self.up_start, self.up_tag, self.up_sum
        else:
            start, tag, ones = self.dn_start, self.dn_tag, self.dn_sum
        count = n - start + 1
        before = self.p
        rare = self.rare
        # the rate over the whole run, before the start is refined (the refinement picks the
        # densest recent stretch, whose rate overstates the change far more than the run's)
        self.run_count = count
        self.run_level = ones / count
        # refine the start to the maximum-likelihood change point (Hinkley 1971) with the
        # post-change rate estimated rather than the design one: candidates are the run start
        # and, among the recent rare events, each event (the rarer outcome became more frequent)
        # or the value right after each event (it became less frequent)
        rise = (direction > 0) == (rare == 1)
        q0 = before if rare == 1 else 1.0 - before
        k0 = ones if rare == 1 else count - ones
        best = _glr(k0, count, q0, rise)
        j = 0
        for idx, etag in reversed(self.ev):
            if idx < start:
                break
            if rise:
                j += 1
                cand, k = idx, j
            else:
                cand, k = idx + 1, j
                j += 1
            if cand <= start or cand > n:
                continue
            g = _glr(k, n - cand + 1, q0, rise)
            if g > best:
                best = g
                start, tag = cand, etag
                k0 = k
        count = n - start + 1
        ones = k0 if rare == 1 else count - k0
        self.start = start
        self.start_tag = tag
        self.count = count
        level = ones / count
        self.before = before
        self.level = level
        lv = min(max((ones + 0.5) / (count + 1.0), _P_MIN), 1.0 - _P_MIN)
        self.shift = _log(lv / (1.0 - lv)) - _log(before / (1.0 - before))
        self.alarms += 1
        self.up = 0.0
        self.dn = 0.0
        return direction

    def rebaseline(self) -> None:
        """Accept the last alarm's change: re-learn P(x = 1) from the values that follow (a new
        warm-up of ``BERN_WARMUP`` values, then the expanding-window estimate), so the new
        baseline carries no selection bias from the alarm run."""
        if self.wn >= 0:
            return
        self.wn = 0
        self.ones = 0
        self.up = 0.0
        self.dn = 0.0
        self.lag = 0
        self.lag_n = 0
        self.bq = []

    def state(self) -> Dict[str, Any]:
        """JSON-able state (tags must be JSON-able themselves)."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> "BernoulliCusum":
        self = cls.__new__(cls)
        fresh = cls(state["arl_up"], state["arl_dn"])
        for name in cls.__slots__:
            # a name absent from an older state (the lag, the overdispersion) starts fresh
            setattr(self, name, state[name] if name in state else getattr(fresh, name))
        self.ev = [(int(i), t) for i, t in self.ev]
        self.bq = [int(b) for b in self.bq]
        return self
