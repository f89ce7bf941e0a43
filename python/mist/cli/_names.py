"""Names for narrow places: shortened in the middle, and never two alike in one listing.

Model and operation names differ at both ends (``claude-sonnet-4-5-20250929``,
``agent.tool.search_v1`` / ``…_v2``), so a name too long for its column keeps its start and its end
and loses the middle: ``claude-so…-20250929``. Within one table or listing, two different names
never show the same: names whose shortened forms collide are lengthened together, one character
at a time, until each differs from the others (or is shown in full). Every command that prints
names in a fixed width (report, replay, tail, view) goes through here.
"""
from __future__ import annotations

from typing import Dict, Iterable, List

ELLIPSIS = "…"


def shorten(name: str, width: int) -> str:
    """``name`` in at most ``width`` characters, its middle replaced by ``…`` when too long."""
    if len(name) <= width:
        return name
    if width <= 1:
        return ELLIPSIS[:max(0, width)]
    keep = width - 1
    head = (keep + 1) // 2
    tail = keep - head
    return name[:head] + ELLIPSIS + (name[len(name) - tail:] if tail else "")


def shorten_unique(names: Iterable[str], width: int) -> Dict[str, str]:
    """Each distinct name -> its shown form: :func:`shorten` to ``width``, lengthened where two
    different names would otherwise show the same."""
    out: Dict[str, str] = {}
    groups: Dict[str, List[str]] = {}
    for name in dict.fromkeys(names):
        groups.setdefault(shorten(name, width), []).append(name)
    for short, members in groups.items():
        w = width
        while len(members) > 1 and w < max(map(len, members)):
            w += 1
            regroup: Dict[str, List[str]] = {}
            for name in members:
                regroup.setdefault(shorten(name, w), []).append(name)
            members = []
            for s, ms in regroup.items():
                if len(ms) == 1:
                    out[ms[0]] = s
                else:
                    members.extend(ms)
        for name in members:  # alone from the start, or (only if names contain "…") in full
            out[name] = shorten(name, w)
    return out


class ShortNames:
    """:func:`shorten_unique` for a listing that grows (``mist tail``): a name keeps its shown
    form until a later name collides with it; from then on both show the longer forms that tell
    them apart. ``prime`` gives names known in advance their final forms from the start."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.shown: Dict[str, str] = {}
        self._by_short: Dict[str, List[str]] = {}  # the width-long form -> names that have it

    def prime(self, names: Iterable[str]) -> None:
        for name in names:
            self.add(name)

    def add(self, name: str) -> str:
        got = self.shown.get(name)
        if got is not None:
            return got
        short = shorten(name, self.width)
        same = self._by_short.setdefault(short, [])
        same.append(name)
        if len(same) == 1:
            self.shown[name] = short
        else:
            self.shown.update(shorten_unique(same, self.width))
        return self.shown[name]

    __call__ = add
