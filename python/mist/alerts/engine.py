"""The alert engine: ``trace.span`` payloads in, ``trace.alert`` payloads out.

One :class:`AlertEngine` watches, per ``(operation, model)``:

=================  ======================================  ==========  ===========  ===============
metric             value per span                          scale       regression   default floor
=================  ======================================  ==========  ===========  ===============
``latency_ms``     ``attrs.latency_ms``, else end - start  log         up           +20 %
``cost_usd``       ``attrs.cost_usd`` (> 0)                log         up           +15 %
``tokens_out``     ``attrs.tokens_out`` (> 0)              log         up           +20 %
``error_rate``     ``status == "error"``                   pass/fail   up           +2 points and
                                                                                    × 1.5
``score.<name>``   every ``attrs["score.<name>"]``         continuous  down         -0.05
                   (pass/fail when only 0/1 arrive)                                 (-5 points)
``trace_cost_usd`` sum of a trace's ``cost_usd``, when     log         up           +15 %
                   its root span (no ``parent_id``) ends
=================  ======================================  ==========  ===========  ===============

The floor is the practical-significance half of an alert: a change fires only when the
detector finds it (statistically) *and* the post-change level (the mean of the detector's run
since the change, on the log scale for latency, cost and tokens: about the median) differs from
the baseline by at least the floor, in the regression direction.  Floors are set per metric and
per series (``floors=``, ``mist.configure(alert_floors=…)``, ``MIST_ALERT_FLOORS``, ``mist alerts
--floor``; syntax in :func:`mist.config.parse_alert_floors`).

Late scores: ``observe_eval(payload)`` feeds the ``score`` of an ``eval.result`` (an eval that
arrived after its span ended, e.g. from an offline judge or ``mist.score(..., span=ended)``) to
the ``score.<name>`` series of the span it names, exactly as if the span had carried the
attribute ``score.<name>``: inline and late scores of one name share one series.  The span's
``(operation, model)`` comes from the caller when it knows the span (the live pipeline passes
the ended span's), else from an index of the last ``max_indexed_spans`` spans this engine
observed (by ``span_id``); an eval.result whose span is unknown goes to a series keyed by what
it carries, ``{"suite": …, "task": …}``.  ``name`` defaults to ``suite`` (mist-go's results
have no ``name``); a missing or non-finite ``score`` is skipped.  The evidence of such a series
is the scored spans' ids; its clock is the eval's timestamp.

Each metric is a series with its own self-starting detector (:mod:`mist.alerts.detectors`),
two-sided underneath: a change in the regression direction fires, a change the other way
silently becomes the new baseline.

Lifecycle of one series:

- the first ``min_observations`` (100) values only teach the detector (changes are absorbed
  silently): a new series cannot yet tell an autocorrelated wander from a change (at 30, 9 in
  100 new series of AR(1) latency with φ = 0.9 alerted in their first 2,000 calls; at 100, 3);
- a change in the regression direction smaller than the series' floor fires nothing: like a
  change the other way, it silently becomes the new baseline (counted in ``stats()
  ["below_floor"]``), and is looked at once more as its level is re-learned (20, 40 and 80
  values; 200, 400, 800 for pass/fail series): when that level, measured from the baseline
  before the change, reaches the floor after all, it fires then (``_second_look``).  The floor
  is tested on a lower confidence bound of the change (``_floor_level``), not on the alarm
  run's mean, which overstates a small change;
- a change in the regression direction of at least the floor fires **one** ``firing`` alert
  (value = the post-change level, baseline = the level before, since_ns = the timestamp of the
  first value of the change as the CUSUM estimates it, evidence = up to ``evidence`` span ids
  since then; the message states the change, e.g. "rose 52% from 1.10 ms to 1.67 ms", with as
  many digits as make the two levels print differently);
- the detector then re-learns the current level from the values that follow; further worsening
  is absorbed into the same alert;
- the alert **resolves** once a level re-learned after the alert (or after a later change back)
  from at least 20 values (200 for pass/fail series; retested at twice as many, up to 640 and
  1,600) is closer to the old baseline than to the alerting level *and* within half the floor
  of the baseline (hysteresis, on the statistic and on the effect: a separate recovery window,
  not the same threshold crossed back; see ``_check_recovery``);
- after resolving, the series cannot fire again for ``cooldown`` values (a change that persists
  fires when the cooldown ends).

Memory is bounded: at most ``max_series`` ``(operation, model)`` groups (least recently seen
evicted) and ``max_open_traces`` per-trace cost sums.  ``observe`` never raises: payloads it
cannot read are skipped and counted (``stats()``).  The engine is guarded by a lock, so it may be
fed from one thread and saved (``state_dict``) from another.
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Dict, List, Optional, Tuple

from ..config import ALERT_FLOORS, parse_alert_floors
from .detectors import BernoulliCusum, CusumDetector, K, ODDS_RATIO, side_arl0

__all__ = ["AlertEngine"]

STATE_VERSION = 1
_SCORE_PROBE = 20          # score values looked at before choosing continuous vs pass/fail
_RECOVERY_CONT = 20       # values behind a re-learned level before the first recovery test …
_RECOVERY_BINARY = 200
_RECOVERY_LAST_CONT = 640  # … then retested at twice as many, up to these (see _check_recovery)
_RECOVERY_LAST_BINARY = 1600
_Z_ALARM = 2.0   # standard errors the level is moved towards the baseline for the floor, at an alarm
_Z_LOOK = 1.0    # … and on a level re-learned after a change found below the floor (_second_look)
_SATURATED = 3.0  # |run mean| in σ beyond which the run's latest value is trusted (_post_level)
_LOOK_LAST_CONT = 80      # a change below the floor is looked at again at 20, 40, 80 values …
_LOOK_LAST_BINARY = 800   # … (200, 400, 800 for a rate): see _second_look
_SPAN_ID = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")

# metric -> (kind, regression direction)
_POSITIVE = "positive"
_BINARY = "binary"
_CONTINUOUS = "continuous"
_UNDECIDED = "undecided"

_NO_ATTRS: Dict[str, Any] = {}  # the attributes of a span without any (never modified)


def _number(v: Any) -> Optional[float]:
    """A finite float from an int/float (not bool), else None."""
    t = type(v)
    if t is float:
        return v if v - v == 0.0 else None  # rejects NaN and ±inf
    if t is int:
        return float(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        f = float(v)
        return f if f - f == 0.0 else None
    return None


def _score_value(v: Any) -> Optional[float]:
    if v is True:
        return 1.0
    if v is False:
        return 0.0
    return _number(v)


def _round(v: float) -> float:
    if v != v or v in (math.inf, -math.inf):
        return 0.0
    return float(f"{v:.6g}")


def _plain(v: float, sig: int = 2) -> str:
    """``v`` with ``sig`` significant digits, never in exponent notation."""
    if v == 0:
        return "0"
    digits = max(0, sig - 1 - int(math.floor(math.log10(abs(v)))))
    out = f"{v:.{digits}f}"
    if digits and abs(float(out)) >= 10.0 ** (sig - digits):  # rounded up a decade: 9.996 → 10.0
        out = f"{v:.{digits - 1}f}"
    return out


def _fmt(metric: str, kind: str, v: float, extra: int = 0) -> str:
    """``v`` in the metric's units: 3 significant digits for latency (``820 ms``, ``1.10 ms``,
    ``2.40 s``), 2 for a cost under $1, whole tokens, a rate in percent, a score to 2 decimals;
    ``extra`` more digits (see :func:`_fmt_distinct`)."""
    if metric == "latency_ms":
        if v < 1000.0:
            ms = _plain(v, 3 + extra)
            if float(ms) < 1000.0:  # (999.7 rounds to 1000: written in seconds)
                return ms + " ms"
        return _plain(v / 1000.0, 3 + extra) + " s"
    if metric in ("cost_usd", "trace_cost_usd"):
        return "$" + (_plain(v, 2 + extra) if v < 1.0 else f"{v:,.{2 + extra}f}")
    if metric == "tokens_out":
        return f"{v:,.{extra}f}"
    if kind == _BINARY:
        return f"{100.0 * v:.{(1 if v < 0.1 or v > 0.9 else 0) + extra}f}%"
    return f"{v:.{2 + extra}f}" if abs(v) < 10.0 else _plain(v, 3 + extra)


def _fmt_distinct(metric: str, kind: str, values: Tuple[float, ...]) -> List[str]:
    """``values`` formatted with as few extra digits as make different values print differently
    (never "from 1.1 ms to 1.1 ms": 1.098 and 1.114 print as 1.10 ms and 1.11 ms)."""
    for extra in range(7):
        out = [_fmt(metric, kind, v, extra) for v in values]
        if all(out[i] != out[j] or values[i] == values[j]
               for i in range(len(values)) for j in range(i)):
            break
    return out


def _change(kind: str, a: float, b: float, sa: str, sb: str) -> str:
    """How far ``a`` → ``b`` (printed ``sa``, ``sb``) moved, in the terms of the metric's floor:
    relative for latency, cost and tokens (``52%``, ``2.9×``), in points for a rate
    (``23 points``), absolute for a score (``0.29``).  Points and score differences are those of
    the printed values, so the message's numbers add up."""
    if kind == _POSITIVE:
        if a <= 0.0:
            return ""
        r = b / a
        if r >= 2.0 or r <= 0.5:  # a factor reads better than +193% (or -67%)
            f = r if r >= 2.0 else 1.0 / r
            return f"{f:.1f}×" if f < 10.0 else f"{f:,.0f}×"
        return _small(abs(r - 1.0) * 100.0) + "%"
    try:
        d = abs(float(sb.rstrip("%")) - float(sa.rstrip("%")))
    except ValueError:  # (not expected: these formats are plain numbers)
        d = abs(b - a) * (100.0 if kind == _BINARY else 1.0)
    if kind == _BINARY:
        n = _small(d)
        return f"{n} point" + ("" if n == "1" else "s")
    decimals = max(len(x.partition(".")[2]) for x in (sa, sb))
    return f"{d:.{decimals}f}"


def _small(x: float) -> str:
    """A percentage or a number of points: 52, 1.5, 0.52."""
    return f"{x:.0f}" if x >= 9.5 else f"{x:.1f}" if x >= 0.95 else _plain(x, 2)


def _clock(ts: int) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(ts / 1e9))


class _Series:
    """One metric of one group: its detector and alert state."""

    __slots__ = ("metric", "kind", "binary", "bad", "det", "n", "probe", "firing", "level", "base",
                 "base_i", "fire_i", "since", "fired_at", "check_at", "cool", "level_name", "ring",
                 "pend")

    def __init__(self, metric: str, kind: str, bad: int) -> None:
        self.metric = metric
        self.kind = kind
        self.binary = kind == _BINARY
        self.bad = bad
        self.det: Any = None
        self.n = 0
        self.probe: Optional[list] = None
        self.firing = False
        self.level = ""       # "warning" / "critical" of the open alert
        self.base = 0.0       # baseline (metric units) of the open alert
        self.base_i = 0.0     # same, detector-internal units (log for positive series)
        self.fire_i = 0.0     # alerting level, internal units
        self.since = 0        # since_ns of the open alert
        self.fired_at = 0.0   # alerting level, metric units
        self.check_at = 0     # learned-level weight at which to test for recovery (0 = none)
        self.cool = 0         # values left in the cooldown
        self.level_name = ""
        # a change found below the floor, taken as the baseline but looked at again once its
        # level is re-learned: [baseline, baseline (internal units), since_ns, n before it]
        self.pend: Optional[list] = None
        # (timestamp, span id) of the spans whose scores arrived late (eval.result): the
        # evidence of a series fed by late scores (None: the group's recent spans are)
        self.ring: Optional[deque] = None

    def to_state(self) -> Dict[str, Any]:
        d = {name: getattr(self, name) for name in self.__slots__ if name not in ("det", "ring")}
        d["ring"] = None if self.ring is None else [list(e) for e in self.ring]
        det = self.det
        d["det"] = None if det is None else {
            "type": "bernoulli" if isinstance(det, BernoulliCusum) else "cusum",
            "state": det.state(),
        }
        return d

    @classmethod
    def from_state(cls, d: Dict[str, Any]) -> "_Series":
        self = cls.__new__(cls)
        for name in cls.__slots__:
            if name == "pend":  # absent in states written before the floors
                self.pend = d.get("pend")
            elif name not in ("det", "ring"):
                setattr(self, name, d[name])
        ring = d.get("ring")  # absent in states written before late scores were observed
        self.ring = None if ring is None else deque(tuple(e) for e in ring)
        det = d.get("det")
        if det is None:
            self.det = None
        elif det["type"] == "bernoulli":
            self.det = BernoulliCusum.from_state(det["state"])
        else:
            self.det = CusumDetector.from_state(det["state"])
        return self


class _Group:
    """The series of one (operation, model), and its most recent span ids (evidence).

    An ``eval`` group holds the late scores whose span is unknown: ``op`` is then the
    eval.result's ``task`` and ``model`` its ``suite``."""

    __slots__ = ("op", "model", "series", "ring", "keys", "scores", "eval",
                 "latency", "cost", "tokens", "errors", "trace_cost")

    def __init__(self, op: str, model: str, evidence: int, eval: bool = False) -> None:
        self.op = op
        self.model = model
        self.eval = eval
        self.series: Dict[str, _Series] = {}
        self.ring: deque = deque(maxlen=evidence)
        self.keys: Tuple[str, ...] = ()   # the attribute keys of the last span …
        self.scores: List[str] = []       # … and the score.<name> keys among them
        # the fixed metrics' series (also in ``series``), held here for the per-span path
        self.latency: Optional[_Series] = None
        self.cost: Optional[_Series] = None
        self.tokens: Optional[_Series] = None
        self.errors: Optional[_Series] = None
        self.trace_cost: Optional[_Series] = None

    def add(self, s: _Series) -> None:
        """Add a series (it must be new to this group)."""
        self.series[s.metric] = s
        slot = _FIXED_SLOTS.get(s.metric)
        if slot is not None:
            setattr(self, slot, s)


# fixed metric -> the _Group slot that also holds its series (score.<name> series have none)
_FIXED_SLOTS = {"latency_ms": "latency", "cost_usd": "cost", "tokens_out": "tokens",
                "error_rate": "errors", "trace_cost_usd": "trace_cost"}


class AlertEngine:
    """Regression alerts from a stream of ``trace.span`` payloads.

    ``sensitivity`` multiplies the false-alarm budget (1.0: at most about one false alert per
    100,000 values of a stationary series; 2.0: twice that, with slightly faster detection).
    ``min_observations``: values a series must have before it may alert.  ``cooldown``: values
    of a series after a resolved alert during which it cannot fire again.  ``max_series``:
    ``(operation, model)`` groups kept (least recently seen evicted); ``max_open_traces``:
    per-trace cost sums kept; ``evidence``: span ids per alert; ``max_indexed_spans``: span ids
    remembered (with their ``(operation, model)``) to place late eval scores.

    ``floors``: the practical-significance floors that override the defaults
    (:data:`mist.config.ALERT_FLOORS`), as ``{key: floor}`` or the string
    ``"key=floor,key=floor"`` (:func:`mist.config.parse_alert_floors`): e.g.
    ``{"latency_ms": 0.3, "chat/gpt-4o:cost_usd": 0.5, "error_rate": (0.05, 2)}``.  A detected
    change smaller than its series' floor does not alert (the detector takes it as the new
    baseline); a bad floor raises :class:`mist.errors.ConfigError` (a ``ValueError``).

    ``observe(payload, timestamp_ns=None) -> list of alert payloads``;
    ``observe_eval(payload, timestamp_ns=None, *, operation=None, model=None)`` (late scores);
    ``stats()``; ``firing()``; ``set_floors(floors)``; ``floor_for(metric, operation, model)``;
    ``state_dict()`` / ``AlertEngine.from_state(state)``.  Not meant to be fed
    from several threads at once (a lock makes that safe, not fast).
    """

    def __init__(self, sensitivity: float = 1.0, min_observations: int = 100, cooldown: int = 50,
                 *, max_series: int = 2000, max_open_traces: int = 10_000,
                 evidence: int = 10, max_indexed_spans: int = 10_000,
                 floors: Any = None) -> None:
        side_arl0(sensitivity, 1)  # validates
        if int(min_observations) < 0 or int(cooldown) < 0:
            raise ValueError("min_observations and cooldown must be >= 0")
        if (int(max_series) < 1 or int(max_open_traces) < 0 or int(evidence) < 0
                or int(max_indexed_spans) < 0):
            raise ValueError("max_series must be >= 1; max_open_traces, evidence and "
                             "max_indexed_spans >= 0")
        self.sensitivity = float(sensitivity)
        self.min_observations = int(min_observations)
        self.cooldown = int(cooldown)
        self.max_series = int(max_series)
        self.max_open_traces = int(max_open_traces)
        self.evidence = int(evidence)
        self.max_indexed_spans = int(max_indexed_spans)
        # the floors given (checked, normalised): the keys not given keep their defaults
        self._floors: Dict[str, Any] = (
            {} if floors is None else parse_alert_floors(floors, "AlertEngine(floors=...)"))
        self._arl_up = side_arl0(self.sensitivity, 1)    # regression = up
        self._arl_down = side_arl0(self.sensitivity, -1)  # regression = down
        self._groups: "OrderedDict[Tuple[str, str], _Group]" = OrderedDict()
        self._traces: "OrderedDict[str, float]" = OrderedDict()
        # span id -> its group key, for late scores (eval.result) that name the span; a plain
        # dict (insertion-ordered) with its keys also queued oldest first, which evicts the
        # oldest more cheaply than OrderedDict.popitem(last=False)
        self._span_index: Dict[str, Tuple[str, str]] = {}
        self._span_order: deque = deque()
        # the most recently seen group and its key (the last entry of _groups): see _use_group
        self._last_key: Optional[tuple] = None
        self._last_group: Optional[_Group] = None
        self._lock = threading.Lock()
        self._spans = 0  # hot counter, kept out of the dict
        self._evals = 0
        self.counters: Dict[str, int] = {
            "skipped": 0, "firing": 0, "resolved": 0, "evicted_series": 0, "evicted_traces": 0,
            "below_floor": 0,  # changes detected but smaller than their floor (no alert)
        }

    # -- public ----------------------------------------------------------------------------------
    def observe(self, payload: Dict[str, Any], timestamp_ns: Optional[int] = None
                ) -> List[Dict[str, Any]]:
        """Feed one ``trace.span`` payload; return the alert payloads it caused (usually none).

        ``timestamp_ns`` defaults to the span's ``end_ns`` (then the current time).  Never raises.
        """
        try:
            # acquire/release rather than ``with``: half the cost, and this runs for every span
            lock = self._lock
            lock.acquire()
            try:
                return self._observe(payload, timestamp_ns)
            finally:
                lock.release()
        except Exception:  # a bad payload must never break the caller
            self.counters["skipped"] += 1
            return []

    def observe_eval(self, payload: Dict[str, Any], timestamp_ns: Optional[int] = None, *,
                     operation: Optional[str] = None, model: Optional[str] = None
                     ) -> List[Dict[str, Any]]:
        """Feed one ``eval.result`` payload (a late score); return the alert payloads it caused.

        Its ``score`` joins the ``score.<name>`` series of the span it names: of
        ``(operation, model)`` when given (the caller knows the span), else of the span's
        ``(operation, model)`` if this engine observed that ``span_id`` recently, else of a
        series keyed by the eval.result's ``suite`` and ``task``.  ``timestamp_ns`` (default:
        now) is the clock of the value.  Never raises.
        """
        try:
            with self._lock:
                return self._observe_eval(payload, timestamp_ns, operation, model)
        except Exception:  # a bad payload must never break the caller
            self.counters["skipped"] += 1
            return []

    def stats(self) -> Dict[str, int]:
        """Counters: spans and eval results seen, skipped payloads, alerts fired/resolved,
        evictions, series."""
        with self._lock:
            out = {"spans": self._spans, "evals": self._evals}
            out.update(self.counters)
            out["series"] = sum(len(g.series) for g in self._groups.values())
            out["firing_now"] = sum(
                1 for g in self._groups.values() for s in g.series.values() if s.firing)
            return out

    def firing(self) -> List[Dict[str, str]]:
        """The series currently firing, as ``{"metric": …, "operation": …, "model": …}``."""
        with self._lock:
            return [dict(self._series_obj(g), metric=s.metric)
                    for g in self._groups.values() for s in g.series.values() if s.firing]

    @property
    def floors(self) -> Dict[str, Any]:
        """The floors set on this engine (the others are the defaults), normalised."""
        return dict(self._floors)

    def set_floors(self, floors: Any) -> None:
        """Replace the floors (``None``: the defaults); they apply to every series from the next
        value on, open alerts included.  Raises :class:`mist.errors.ConfigError` when bad."""
        parsed = {} if floors is None else parse_alert_floors(floors, "AlertEngine.set_floors")
        with self._lock:
            self._floors = parsed

    def floor_for(self, metric: str, operation: Optional[str] = None,
                  model: Optional[str] = None) -> Any:
        """The floor of a series: a float, or ``(points, ratio)`` for ``error_rate``."""
        return self._floor(operation or "", model or "", metric, False)

    def state_dict(self) -> Dict[str, Any]:
        """A JSON-able snapshot; ``AlertEngine.from_state`` continues from it (no re-alerts)."""
        with self._lock:
            return {
                "version": STATE_VERSION,
                "config": {
                    "sensitivity": self.sensitivity,
                    "min_observations": self.min_observations,
                    "cooldown": self.cooldown,
                    "max_series": self.max_series,
                    "max_open_traces": self.max_open_traces,
                    "evidence": self.evidence,
                    "max_indexed_spans": self.max_indexed_spans,
                    "floors": {k: list(v) if isinstance(v, tuple) else v
                               for k, v in self._floors.items()},
                },
                "groups": [
                    dict({"operation": g.op, "model": g.model,
                          "ring": [list(e) for e in g.ring],
                          "series": [s.to_state() for s in g.series.values()]},
                         **({"eval": True} if g.eval else {}))
                    for g in self._groups.values()
                ],
                "traces": [[t, c] for t, c in self._traces.items()],
                "spans": [[sid, k[0], k[1]] for sid, k in self._span_index.items()],
                "counters": dict(self.counters, spans=self._spans, evals=self._evals),
            }

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> "AlertEngine":
        """Rebuild an engine from ``state_dict()`` output (e.g. after a restart)."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(
                f"not an AlertEngine state (expected a dict with version {STATE_VERSION}); "
                "pass what AlertEngine.state_dict() returned")
        try:
            eng = cls(**(state.get("config") or {}))
            for gd in state.get("groups", []):
                g = _Group(gd["operation"], gd["model"], eng.evidence, bool(gd.get("eval")))
                for ts, sid in gd.get("ring", []):
                    g.ring.append((ts, sid))
                for sd in gd.get("series", []):
                    s = _Series.from_state(sd)
                    if s.ring is not None:
                        s.ring = deque(s.ring, maxlen=eng.evidence)
                    g.add(s)
                eng._groups[("eval", g.model, g.op) if g.eval else (g.op, g.model)] = g
            for t, c in state.get("traces", []):
                eng._traces[t] = c
            index, order = eng._span_index, eng._span_order
            for sid, op, model in state.get("spans", []):
                if sid not in index:
                    order.append(sid)
                index[sid] = (op, model)
            counters = dict(state.get("counters", {}))
            eng._spans = int(counters.pop("spans", 0))
            eng._evals = int(counters.pop("evals", 0))
            eng.counters.update(counters)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"AlertEngine.from_state: damaged state ({exc!r}); pass what "
                             "AlertEngine.state_dict() returned") from None
        return eng

    # -- internals -------------------------------------------------------------------------------
    def _observe(self, p: Dict[str, Any], ts: Optional[int]) -> List[Dict[str, Any]]:
        # The per-span hot path (the alert thread runs it for every span, holding the GIL): the
        # common case -- the same group as the previous span, no alert, no score -- is kept
        # short.  The state is updated in a fixed order (group, evidence, span index, then the
        # metrics in the order of the module docstring's table), so a payload that raises
        # half-way (counted as skipped) always leaves the same partial state.
        if type(p) is not dict:
            self.counters["skipped"] += 1
            return []
        self._spans += 1
        attrs = p.get("attrs")
        if type(attrs) is not dict:
            attrs = _NO_ATTRS
        op = p.get("operation")
        if type(op) is not str or not op:
            op = "unknown"
        model = attrs.get("model")
        if type(model) is not str:
            model = ""
        sid = p.get("span_id")
        if type(sid) is not str:
            sid = ""
        if type(ts) is not int:
            end = p.get("end_ns")
            ts = end if type(end) is int else time.time_ns()

        key = (op, model)
        g = self._last_group if key == self._last_key else self._use_group(key)
        if self.evidence:
            g.ring.append((ts, sid))
        if sid and self.max_indexed_spans:
            index = self._span_index
            if sid not in index:  # (a known span keeps its place)
                self._span_order.append(sid)
            index[sid] = key
            if len(index) > self.max_indexed_spans:
                del index[self._span_order.popleft()]  # the oldest
        out: List[Dict[str, Any]] = []

        # The fixed metrics' series always have a detector of their kind, and error_rate only
        # gets 0.0 / 1.0, so _feed's special cases never apply to them: they are fed inline,
        # and only an alarm, an open alert or a cooldown goes on to _settle.  (s.n is counted
        # after update(), which never reads it.)
        v = attrs.get("latency_ms")
        t = type(v)
        if t is float and v - v == 0.0:  # a finite float (v - v is NaN for NaN and ±inf)
            lat = v
        elif t is int:  # (not bool: its type is bool)
            lat = float(v)
        else:
            start, end = p.get("start_ns"), p.get("end_ns")
            if type(start) is int and type(end) is int and end > start:
                lat = (end - start) / 1e6
            else:
                lat = 0.0
        if lat > 0.0:
            s = g.latency or self._new(g, "latency_ms", _POSITIVE, 1)
            a = s.det.update(lat, ts)
            s.n += 1
            if a or s.check_at or s.cool:
                self._settle(g, s, a, ts, out, lat)
        v = attrs.get("cost_usd")
        t = type(v)
        if t is float:
            cost = v if v - v == 0.0 else None
        elif t is int:
            cost = float(v)
        else:
            cost = None
        if cost is not None and cost > 0.0:
            s = g.cost or self._new(g, "cost_usd", _POSITIVE, 1)
            a = s.det.update(cost, ts)
            s.n += 1
            if a or s.check_at or s.cool:
                self._settle(g, s, a, ts, out, cost)
        v = attrs.get("tokens_out")
        t = type(v)
        if (t is int or t is float) and v > 0 and v - v == 0.0:
            s = g.tokens or self._new(g, "tokens_out", _POSITIVE, 1)
            a = s.det.update(float(v), ts)
            s.n += 1
            if a or s.check_at or s.cool:
                self._settle(g, s, a, ts, out, v)
        status = p.get("status")
        if status == "ok" or status == "error":
            s = g.errors or self._new(g, "error_rate", _BINARY, 1)
            a = s.det.update(1.0 if status == "error" else 0.0, ts)
            s.n += 1
            if a or s.check_at or s.cool:
                self._settle(g, s, a, ts, out, 0.0)
        # score.<name> attributes: the key scan is cached per group (spans of one operation and
        # model nearly always carry the same attribute keys)
        keys = tuple(attrs)
        if keys == g.keys:
            scores = g.scores
        else:
            scores = [k for k in keys if k[:6] == "score." and len(k) > 6]
            g.keys = keys
            g.scores = scores
        for k in scores:
            sv = _score_value(attrs[k])
            if sv is not None:
                s = g.series.get(k) or self._new(g, k, _UNDECIDED, -1)
                if s.ring is not None:  # the series also receives late scores
                    s.ring.append((ts, sid))
                self._feed(g, s, sv, ts, out)

        tid = p.get("trace_id")
        if type(tid) is str and tid and self.max_open_traces:
            traces = self._traces
            if p.get("parent_id"):  # a child: add its cost to the trace's running sum
                if cost is not None and cost >= 0.0:
                    traces[tid] = traces.get(tid, 0.0) + cost
                    traces.move_to_end(tid)
                    if len(traces) > self.max_open_traces:
                        traces.popitem(False)  # the oldest
                        self.counters["evicted_traces"] += 1
            else:  # the root ended: the trace is complete
                total = traces.pop(tid, None)
                if cost is not None and cost >= 0.0:
                    total = (total or 0.0) + cost
                if total is not None and total > 0.0:
                    s = g.trace_cost or self._new(g, "trace_cost_usd", _POSITIVE, 1)
                    a = s.det.update(total, ts)
                    s.n += 1
                    if a or s.check_at or s.cool:
                        self._settle(g, s, a, ts, out, total)
        return out

    def _use_group(self, key: tuple) -> _Group:
        """The group of ``key``, made the most recently seen (created when new).

        It is remembered as ``_last_group``: a key equal to ``_last_key`` is then known to be at
        the end of ``_groups`` already, so the next span of the same group skips the lookup."""
        groups = self._groups
        g = groups.get(key)
        if g is None:
            g = self._group(key)
        else:
            groups.move_to_end(key)
        self._last_key = key
        self._last_group = g
        return g

    def _group(self, key: tuple) -> _Group:
        """A new group for ``key``: ``(operation, model)`` or ``("eval", suite, task)``."""
        if key[0] == "eval" and len(key) == 3:
            g = _Group(key[2], key[1], self.evidence, True)
        else:
            g = _Group(key[0], key[1], self.evidence)
        groups = self._groups
        groups[key] = g
        if len(groups) > self.max_series:
            groups.popitem(last=False)
            self.counters["evicted_series"] += 1
        return g

    def _observe_eval(self, p: Dict[str, Any], ts: Optional[int], operation: Optional[str],
                      model: Optional[str]) -> List[Dict[str, Any]]:
        if type(p) is not dict:
            self.counters["skipped"] += 1
            return []
        sv = _number(p.get("score"))
        if sv is None:  # no usable score (null, NaN, missing): nothing to learn from
            self.counters["skipped"] += 1
            return []
        self._evals += 1
        suite = p.get("suite")
        suite = suite if type(suite) is str else ""
        name = p.get("name")
        if type(name) is not str or not name:
            name = suite or "eval"
        metric = "score." + name
        sid = p.get("span_id")
        sid = sid if type(sid) is str else ""
        if type(ts) is not int:
            ts = time.time_ns()
        key: Optional[tuple] = None
        if type(operation) is str and operation:
            key = (operation, model if type(model) is str else "")
        elif sid:
            key = self._span_index.get(sid)
        if key is None:
            task = p.get("task")
            key = ("eval", suite, task if type(task) is str else "")
        g = self._last_group if key == self._last_key else self._use_group(key)
        s = g.series.get(metric) or self._new(g, metric, _UNDECIDED, -1)
        if self.evidence:
            if s.ring is None:
                s.ring = deque(maxlen=self.evidence)
            s.ring.append((ts, sid))
        out: List[Dict[str, Any]] = []
        self._feed(g, s, sv, ts, out)
        return out

    def _new(self, g: _Group, metric: str, kind: str, bad: int) -> _Series:
        s = _Series(metric, kind, bad)
        if kind == _UNDECIDED:
            s.probe = []
        else:
            s.det = self._detector(kind, bad)
        g.add(s)
        return s

    def _detector(self, kind: str, bad: int) -> Any:
        up, dn = self._arl_up if bad > 0 else self._arl_down
        if kind == _BINARY:
            return BernoulliCusum(up, dn)
        return CusumDetector(up, dn, log=(kind == _POSITIVE))

    def _feed(self, g: _Group, s: _Series, x: float, ts: int, out: list) -> None:
        det = s.det
        if det is None or (s.binary and x != 0.0 and x != 1.0):
            self._feed_special(g, s, x, ts, out)
            return
        s.n += 1
        a = det.update(x, ts)
        if a or s.check_at or s.cool:
            self._settle(g, s, a, ts, out, x)

    def _settle(self, g: _Group, s: _Series, a: int, ts: int, out: list, x: float) -> None:
        """After a value ``x``: act on the detector's alarm ``a``, or test an open alert for
        recovery; count down the cooldown."""
        if a:
            self._alarm(g, s, a, ts, out, x)
        elif s.check_at:
            if s.firing:
                self._check_recovery(g, s, ts, out)
            elif s.pend is not None:
                self._second_look(g, s, ts, out)
        if s.cool:
            s.cool -= 1

    def _feed_special(self, g: _Group, s: _Series, x: float, ts: int, out: list) -> None:
        """A score series still choosing between continuous and pass/fail, or a pass/fail
        series that received a graded value."""
        if s.det is None:
            probe = s.probe
            probe.append((x, ts))
            if len(probe) < _SCORE_PROBE:
                return
            s.kind = _BINARY if all(v == 0.0 or v == 1.0 for v, _ in probe) else _CONTINUOUS
            s.binary = s.kind == _BINARY
            s.det = self._detector(s.kind, s.bad)
            s.probe = None
            for v, t in probe:
                self._feed(g, s, v, t, out)
            return
        # a score series that looked pass/fail got a graded value: start over, continuous
        s.kind = _CONTINUOUS
        s.binary = False
        s.det = self._detector(_CONTINUOUS, s.bad)
        s.firing = False
        s.check_at = 0
        s.pend = None
        self._feed(g, s, x, ts, out)

    # -- lifecycle -------------------------------------------------------------------------------
    # -- floors ----------------------------------------------------------------------------------
    def _floor(self, op: str, model: str, metric: str, eval_group: bool) -> Any:
        """The floor of a series: the most specific key given wins -- the series'
        (``OPERATION/MODEL:metric``, then ``OPERATION:metric``; for a score ``…:score.<name>``
        before ``…:score``), then the metric's (``score.<name>``, then ``score``), then the
        default.  A series of late scores whose span is unknown (keyed by suite and task)
        only matches metric keys."""
        family = "score" if metric[:6] == "score." else metric
        given = self._floors
        if given:
            names = () if eval_group else ((f"{op}/{model}", op) if model else (op,))
            for name in names:
                v = given.get(f"{name}:{metric}")
                if v is None and family != metric:
                    v = given.get(f"{name}:{family}")
                if v is not None:
                    return v
            v = given.get(metric)
            if v is None and family != metric:
                v = given.get(family)
            if v is not None:
                return v
        return ALERT_FLOORS[family]

    @staticmethod
    def _floor_on(floor: Any) -> bool:
        return floor[0] > 0.0 or floor[1] > 1.0 if isinstance(floor, tuple) else floor > 0.0

    @staticmethod
    def _reaches(s: _Series, floor: Any, before: float, level: float, half: bool = False) -> bool:
        """Whether the change ``before`` → ``level`` (metric units) in the regression direction
        reaches ``floor`` (half of it, every part, when ``half``)."""
        if isinstance(floor, tuple):  # error_rate: points AND ratio
            pts, ratio = floor
            if half:
                pts, ratio = 0.5 * pts, 1.0 + 0.5 * (ratio - 1.0)
            return level - before >= pts and level >= ratio * before
        f = 0.5 * floor if half else floor
        if s.kind == _POSITIVE:  # a relative rise (positive series regress upwards)
            return level >= before * (1.0 + f)
        return s.bad * (level - before) >= f  # a score: an absolute change (pass rate: points)

    # -- lifecycle (continued) ------------------------------------------------------------------
    @staticmethod
    def _post_level(s: _Series, det: Any, x: float) -> float:
        """The post-change level (metric units) an alarm reports and its floor is tested on: the
        detector's (the mean of its run since the change, each value winsorised at ±6 σ around
        the run's mean so far), or, when that run mean is itself 3 σ or more from the baseline
        and the value that raised the alarm ``x`` lies further still, ``x``.  The winsorising
        keeps one outlier from faking a level, but it also caps how fast the run mean can follow
        a change many σ wide: on a nearly constant series (a fixed cost per call, σ at its 0.5 %
        floor) a ×3 step read as +10 % after 4 values -- below the floor, and the regression
        would have been taken silently as the new baseline.  A run 3 σ out is no noise run, so
        its latest value is then the better estimate of where the series went."""
        level = det.level
        if not s.binary and abs(det.shift) >= _SATURATED and s.bad * (x - level) > 0.0:
            return x
        return level

    @staticmethod
    def _floor_level(s: _Series, det: Any, level: float, count: int, z: float, before: float,
                     before_i: float) -> float:
        """The post-change ``level`` the floor is tested on: ``z`` standard errors of a mean of
        ``count`` values closer to the baseline ``before`` (``before_i`` in the detector's
        internal units: log for latency, cost, tokens) -- a lower confidence bound of the
        change, never past the baseline.

        A CUSUM alarms when its run happened to run high, so the run's mean overstates the
        change it found, by about half a standard deviation on a small one: tested on the run's
        mean itself, a +10 % latency step (σ_log 0.3) fired in 3 of 20 series against a +20 %
        floor, +15 % in 12 of 20, and an error rate going from 2 % to 3 % (floor: +2 points and
        ×1.5) in 9 of 20.  At the alarm the bound is ``_Z_ALARM`` = 2 standard errors (a real
        change well past the floor still fires at once: +50 % latency 7-13 values after the
        step); a change that falls short is looked at again on the level re-learned after the
        alarm, with no selection, at 1 standard error (``_second_look``).  The standard error
        counts the series' real noise: the continuous detector's long-run variance and tail
        corrections, the pass/fail one's overdispersion."""
        if count <= 0 or s.bad * (level - before) <= 0.0:
            return level
        if isinstance(det, BernoulliCusum):
            se = math.sqrt(max(level * (1.0 - level), 1.0 / count) * det.disp / count)
            lb = level - s.bad * z * se
            return lb if s.bad * (lb - before) > 0.0 else before
        inv_v = det.inv_vu if s.bad > 0 else det.inv_vd
        se = det.s / (inv_v * math.sqrt(count))
        lvl_i = math.log(level) if det.log else level
        lb_i = lvl_i - s.bad * z * se
        if s.bad * (lb_i - before_i) <= 0.0:
            return before
        return math.exp(lb_i) if det.log else lb_i

    def _alarm(self, g: _Group, s: _Series, direction: int, ts: int, out: list, x: float) -> None:
        det = s.det
        if direction == s.bad and not s.firing:
            if s.n < self.min_observations:
                det.rebaseline()  # still learning: the series just settled somewhere else
                return
            level = self._post_level(s, det, x)
            if isinstance(det, BernoulliCusum):  # the whole run's rate, not the refined one's
                tested = self._floor_level(s, det, det.run_level, det.run_count, _Z_ALARM,
                                           det.before, det.before)
            else:
                tested = self._floor_level(s, det, level, det.count, _Z_ALARM, det.before, det.m)
            if not self._reaches(s, self._floor(g.op, g.model, s.metric, g.eval),
                                 det.before, tested):
                # statistically real but too small to matter: like a change the other way, it
                # silently becomes the baseline (so a new alert needs a new change >= the floor),
                # looked at once more when its level is re-learned (see _second_look)
                self.counters["below_floor"] += 1
                if s.pend is None:  # (a second small step in the window adds to the first)
                    since = det.start_tag if type(det.start_tag) is int else ts
                    s.pend = [det.before, self._base_i(det), since, s.n - det.count]
                det.rebaseline()
                s.check_at = _RECOVERY_BINARY if s.kind == _BINARY else _RECOVERY_CONT
                return
            if s.cool:
                return  # sums restarted; a change that persists fires after the cooldown
            s.pend = None
            self._fire(g, s, ts, out, level, det.before, self._base_i(det),
                       self._level_i(det, level),
                       det.start_tag if type(det.start_tag) is int else ts, det.count)
        det.rebaseline()
        if s.firing:
            s.check_at = _RECOVERY_BINARY if s.kind == _BINARY else _RECOVERY_CONT
        elif direction != s.bad:  # an improvement: the new baseline, nothing pending
            s.pend = None
            s.check_at = 0

    @staticmethod
    def _base_i(det: Any) -> float:
        """The detector's baseline in its internal units (log for latency, cost, tokens)."""
        return det.before if isinstance(det, BernoulliCusum) else det.m

    @staticmethod
    def _level_i(det: Any, level: float) -> float:
        """A post-change ``level`` (metric units) in the detector's internal units."""
        if isinstance(det, BernoulliCusum):
            return level
        if level == det.level:
            return det.lvl
        return math.log(level) if det.log else level

    def _second_look(self, g: _Group, s: _Series, ts: int, out: list) -> None:
        """Look again at a change found below the floor, once its level is re-learned.

        The level an alarm reports is the mean of the detector's run, which can fall short of
        the change: the run may start a little before it (its first values are then the old
        level) or be winsorised (see ``_post_level``).  A +24 % latency step (σ_log 0.25) read as
        +17-20 % and, taken as the new baseline, would never have alerted.  So the baseline from
        before such a change is kept, and the level re-learned since (values after the alarm: no
        selection) is compared with it at 20, 40 and 80 values (200, 400, 800 for a rate): the
        first look that reaches the floor fires, from the change's start; after the last, the
        change is let go.  A second change below the floor within the window is measured from
        the same baseline (two +12 % steps are a +25 % regression)."""
        if s.cool:
            return  # cannot fire yet: look once the cooldown is over
        det = s.det
        weight, lvl = self._weight(det)
        if weight < s.check_at:
            return
        base, base_i, since, n0 = s.pend
        now = math.exp(lvl) if s.kind == _POSITIVE else lvl
        tested = self._floor_level(s, det, now, weight, _Z_LOOK, base, base_i)
        if self._reaches(s, self._floor(g.op, g.model, s.metric, g.eval), base, tested):
            s.pend = None
            self._fire(g, s, ts, out, now, base, base_i, lvl, since, s.n - n0)
            # the level just re-learned is the alerting one: recovery is tested as it matures
            last = _RECOVERY_LAST_BINARY if s.kind == _BINARY else _RECOVERY_LAST_CONT
            s.check_at = 2 * s.check_at if 2 * s.check_at <= last else 0
            return
        last = _LOOK_LAST_BINARY if s.kind == _BINARY else _LOOK_LAST_CONT
        if 2 * s.check_at <= last:
            s.check_at *= 2
        else:
            s.pend = None
            s.check_at = 0

    def _weight(self, det: Any) -> Tuple[int, float]:
        """(values behind the current learned level, that level in internal units)."""
        if isinstance(det, BernoulliCusum):
            return (det.n_p if det.ready else 0), det.p
        return (det.n_loc if det.ready else 0), det.m

    def _check_recovery(self, g: _Group, s: _Series, ts: int, out: list) -> None:
        """Resolve an open alert once the level re-learned since its last alarm is back.

        Back means both (hysteresis on the effect, not only on the statistic):
        (a) closer to the old baseline than to the alerting level (in the detector's units: log
        for latency, cost and tokens), and (b) within half the floor of the baseline: +10 % for
        latency at the default +20 % floor, 0.025 for a score, and for an error rate less than
        1 point above it *or* below 1.25 × it (half of each part of its floor).  Requiring both
        is the stricter of the two, whichever it is.  (a) alone scales with the change: an
        820 ms → 2.4 s regression would "resolve" at 1.4 s, +70 %, a level that would itself fire
        a new alert.  (b) is the stricter for nearly every alert: for a score and an error rate
        always (an alert moved by at least the floor, so its midpoint is at least half the
        floor away, each part), for a relative floor f unless the alert rose by less than
        (1 + f/2)² - 1 (+21 % at f = 20 %: the log midpoint √(1.205) = +9.8 % is then below
        +10 %).  (a) is the stricter for such a rise within a hair of the floor, and when the
        floor is off (0: (a) alone then, as half of nothing would demand the baseline exactly).
        And because the level must come back within half the floor before the alert resolves, a
        new alert needs a new change of at least the floor from there: the same small wiggle
        around the floor cannot fire, resolve and fire again.

        The level is tested when 20 values (200 for a rate) stand behind it, then again at
        twice as many, up to 640 (1,600): a 20-value estimate of a noisy series (σ_log 0.3:
        ±7 %) can miss the band (b) by chance although the series is back, and only a new
        alarm would test it again."""
        weight, lvl = self._weight(s.det)
        if weight < s.check_at:
            return
        back = abs(lvl - s.base_i) < 0.5 * abs(s.fire_i - s.base_i)
        if back:
            floor = self._floor(g.op, g.model, s.metric, g.eval)
            if self._floor_on(floor):
                now = math.exp(lvl) if s.kind == _POSITIVE else lvl
                back = not self._reaches(s, floor, s.base, now, half=True)
        if back:
            s.check_at = 0
            self._resolve(g, s, lvl, ts, out)
        else:
            last = _RECOVERY_LAST_BINARY if s.kind == _BINARY else _RECOVERY_LAST_CONT
            s.check_at = 2 * s.check_at if 2 * s.check_at <= last else 0

    def _fire(self, g: _Group, s: _Series, ts: int, out: list, level: float, base: float,
              base_i: float, level_i: float, since: int, count: int) -> None:
        """Open an alert: the series went from ``base`` to ``level`` (metric units; ``base_i``,
        ``level_i`` in the detector's) over the ``count`` values since ``since``."""
        det = s.det
        s.firing = True
        s.base, s.base_i = base, base_i
        s.fired_at, s.fire_i = level, level_i
        if isinstance(det, BernoulliCusum):
            lo, hi = min(base, level), max(base, level)
            odds = (min(hi, 0.9999) / (1.0 - min(hi, 0.9999))) / max(lo / (1.0 - lo), 1e-4)
            big = abs(math.log(odds)) >= math.log(4.0) or hi - lo >= 0.2
        else:
            shift = abs(level_i - base_i) / det.scale if det.scale > 0.0 else math.inf
            if det.log:
                big = abs(level_i - base_i) >= math.log(2.0) or shift >= 3.0
            else:
                big = shift >= 3.0 or abs(level - base) >= 0.25 * abs(base)
        s.level_name = "critical" if big else "warning"
        s.since = since
        self.counters["firing"] += 1
        out.append(self._payload(g, s, "firing", level, count, since))

    def _resolve(self, g: _Group, s: _Series, lvl_i: float, ts: int, out: list) -> None:
        now = math.exp(lvl_i) if (s.kind == _POSITIVE) else lvl_i
        s.firing = False
        s.cool = self.cooldown
        self.counters["resolved"] += 1
        out.append(self._payload(g, s, "resolved", now, 0, ts))

    def _series_obj(self, g: _Group) -> Dict[str, str]:
        if g.eval:
            return {"suite": g.model, "task": g.op}
        d = {"operation": g.op}
        if g.model:
            d["model"] = g.model
        return d

    def _payload(self, g: _Group, s: _Series, state: str, value: float, count: int,
                 since: int) -> Dict[str, Any]:
        det = s.det
        metric, kind = s.metric, s.kind
        if state != "firing":
            since = s.since
        # span ids of the change (for a resolved alert: of the recovery), valid ids only
        ring = g.ring if s.ring is None else s.ring
        evidence = [sid for t, sid in ring
                    if (state != "firing" or t >= since) and _SPAN_ID.fullmatch(sid)]
        if isinstance(det, BernoulliCusum):
            # threshold: the rate the regression-side sum is tuned to (odds × or ÷ 2.25)
            odds = s.base / (1.0 - s.base) if s.base < 1.0 else 1e9
            odds = odds * ODDS_RATIO if s.bad > 0 else odds / ODDS_RATIO
            threshold = odds / (1.0 + odds)
            h = det.h_up if s.bad > 0 else det.h_dn
            detector = (f"bernoulli-cusum odds×{ODDS_RATIO:g} h={h:.2f} "
                        "(threshold = the rate the detector is tuned to catch)")
        else:
            scale = det.scale
            h = det.h_up if s.bad > 0 else det.h_dn
            if det.log:
                threshold = s.base * math.exp(s.bad * K * scale)
                detector = (f"cusum log-scale k={K:g}σ h={h:.2f} σ_log={scale:.3g} "
                            "(threshold = CUSUM reference level: baseline × e^(kσ))")
            else:
                threshold = s.base + s.bad * K * scale
                detector = (f"cusum k={K:g}σ h={h:.2f} σ={scale:.3g} "
                            "(threshold = CUSUM reference level: baseline ± kσ)")
        detector += "; " + self._floor_text(s, self._floor(g.op, g.model, metric, g.eval))
        return {
            "level": s.level_name or "warning",
            "metric": metric,
            "value": _round(value),
            "threshold": _round(threshold),
            "message": self._message(g, s, state, value, count, since),
            "state": state,
            "baseline": _round(s.base),
            "detector": detector,
            "series": self._series_obj(g),
            "since_ns": int(since),
            "evidence": evidence,
        }

    @staticmethod
    def _floor_text(s: _Series, floor: Any) -> str:
        """The floor, as the detector field states it: ``floor +20%``, ``floor +2 points and
        ×1.5``, ``floor -0.05``, ``no floor``."""
        if not AlertEngine._floor_on(floor):
            return "no floor"
        if isinstance(floor, tuple):
            return f"floor +{100.0 * floor[0]:g} points and ×{floor[1]:g}"
        if s.kind == _POSITIVE:
            return f"floor +{100.0 * floor:g}%"
        if s.kind == _BINARY:
            return f"floor {'+' if s.bad > 0 else '-'}{100.0 * floor:g} points"
        return f"floor {'+' if s.bad > 0 else '-'}{floor:g}"

    def _message(self, g: _Group, s: _Series, state: str, value: float, count: int,
                 since: int) -> str:
        metric, kind = s.metric, s.kind
        label = f"{g.op}/{g.model}" if g.model else g.op
        unit = "calls"
        if g.eval:
            label = (f'{g.op} (eval suite "{g.model}")' if g.op else f'eval suite "{g.model}"')
            unit = "results"
        if metric == "latency_ms":
            what = f"p50 latency for {label}"
        elif metric == "cost_usd":
            what = f"median cost per call for {label}"
        elif metric == "tokens_out":
            what = f"median output tokens for {label}"
        elif metric == "error_rate":
            what = f"error rate for {label}"
        elif metric == "trace_cost_usd":
            what = f'median cost per run of "{label}"'
            unit = "runs"
        else:
            name = metric[6:]
            what = (f'pass rate of "{name}" for {label}' if kind == _BINARY
                    else f'quality score "{name}" for {label}')
        dirn = "rose" if s.bad > 0 else "fell"
        if state == "firing":
            base, now = _fmt_distinct(metric, kind, (s.base, value))
            by = _change(kind, s.base, value, base, now)
            return (f"{what} {dirn}{' ' + by if by else ''} from {base} to {now} over the last "
                    f"{count} {unit} (since {_clock(since)})")
        now, base, fired = _fmt_distinct(metric, kind, (value, s.base, s.fired_at))
        by = _change(kind, s.base, s.fired_at, base, fired)
        return (f"{what} is back to {now} (baseline {base}; it {dirn}{' ' + by if by else ''} "
                f"to {fired} at {_clock(since)})")
