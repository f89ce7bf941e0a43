"""Real series with annotated change points (TCPD) and the benchmark's two metrics.

The data is read at run time from ``../shared/data/tcpd-dev`` (or ``$MIST_TCPD_DIR``), never
copied into the project: each series has its own licence.  Metrics as defined by van den Burg &
Williams, "An Evaluation of Change Point Detection Algorithms" (2020), section 4:

- **F1** with a margin of 5 observations: precision counts the predicted points within the margin
  of any annotator's point (each annotated point matched at most once), recall is averaged over the
  annotators; the start of the series (index 0) is a change point in every set;
- **covering**: how well the predicted partition covers each annotator's partition (Jaccard overlap
  of segments weighted by their length), averaged over the annotators.

Missing values (``null``) are filled with the previous value, as the dataset's README says.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT.parent / "shared" / "data" / "tcpd-dev"
MARGIN = 5


def data_dir() -> Optional[Path]:
    """The TCPD folder, or None when it is not on this machine."""
    d = Path(os.environ.get("MIST_TCPD_DIR") or DEFAULT_DIR)
    return d if (d / "annotations.json").is_file() else None


def load(directory: Optional[Path] = None) -> List[Tuple[str, List[float], Dict[str, List[int]]]]:
    """``[(name, values, {annotator: [change points]})]`` for every univariate series."""
    d = directory or data_dir()
    if d is None:
        raise FileNotFoundError("TCPD data not found: set MIST_TCPD_DIR or put it in "
                                f"{DEFAULT_DIR}")
    annotations = json.loads((d / "annotations.json").read_text())
    out = []
    for name in sorted(annotations):
        doc = json.loads((d / name / f"{name}.json").read_text())
        series = doc["series"]
        if len(series) != 1:
            continue
        values: List[float] = []
        last = 0.0
        for v in series[0]["raw"]:
            if v is None:
                v = last
            last = float(v)
            values.append(last)
        out.append((name, values, annotations[name]))
    return out


def _true_positives(truth: Set[int], predicted: Set[int], margin: int) -> Set[int]:
    left = set(predicted)
    hits: Set[int] = set()
    for tau in sorted(truth):
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            hits.add(tau)
            left.remove(close[0][1])
    return hits


def f1(annotations: Dict[str, List[int]], predicted: Iterable[int], margin: int = MARGIN) -> float:
    """TCPD's F1 (alpha = 0.5) of ``predicted`` against every annotator's points."""
    sets = [set(a) | {0} for a in annotations.values()]
    x = set(predicted) | {0}
    union: Set[int] = set().union(*sets)
    precision = len(_true_positives(union, x, margin)) / len(x)
    recall = sum(len(_true_positives(t, x, margin)) / len(t) for t in sets) / len(sets)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _segments(points: Iterable[int], n: int) -> List[Tuple[int, int]]:
    cuts = sorted({p for p in points if 0 < p < n})
    bounds = [0] + cuts + [n]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _cover(predicted: Sequence[Tuple[int, int]], truth: Sequence[Tuple[int, int]], n: int) -> float:
    total = 0.0
    for a, b in truth:
        best = 0.0
        for c, d in predicted:
            inter = min(b, d) - max(a, c)
            if inter > 0:
                best = max(best, inter / (max(b, d) - min(a, c)))
        total += (b - a) * best
    return total / n


def covering(annotations: Dict[str, List[int]], predicted: Iterable[int], n: int) -> float:
    """TCPD's covering of the annotators' partitions by the predicted one (mean over annotators)."""
    mine = _segments(predicted, n)
    scores = [_cover(mine, _segments(a, n), n) for a in annotations.values()]
    return sum(scores) / len(scores)
