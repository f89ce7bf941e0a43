"""What the provider modules share: reading fields of SDK objects and dicts, and the base of the
stream accumulators."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, List, Optional

from ..redact import truncation_marker

MAX_TEXT_CHARS = 65536  # streamed output text kept for capture; the rest is only counted


_ABSENT = object()
_UNDECLARED: Dict[Any, bool] = {}  # (pydantic class, name) -> the class has no such attribute


def get(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; None when absent or failing.

    A field an SDK (pydantic) object lacks is answered from its extras: asking the object (or its
    class) goes through pydantic's ``__getattr__`` and an exception, ~3 µs each time."""
    if type(obj) is dict:
        return obj.get(name)
    try:
        fields = getattr(obj, "__dict__", None)
        if fields is not None:
            value = fields.get(name, _ABSENT)
            if value is not _ABSENT:
                return value
            key = (type(obj), name)
            undeclared = _UNDECLARED.get(key)
            if undeclared is None:
                undeclared = hasattr(key[0], "__pydantic_fields__") and not hasattr(key[0], name)
                if len(_UNDECLARED) < 4096:
                    _UNDECLARED[key] = undeclared
            if undeclared:
                extra = obj.__pydantic_extra__
                return extra.get(name) if extra else None
        value = getattr(obj, name, None)
        if value is None and isinstance(obj, Mapping):
            value = obj.get(name)
        return value
    except Exception:
        return None


def count(value: Any) -> Optional[int]:
    """A token count: a non-negative int (an integral float is accepted); None otherwise."""
    if type(value) is int:
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def text(value: Any) -> Optional[str]:
    """A non-empty string, or an SDK enum's string ``.value``; None otherwise."""
    if isinstance(value, str):
        return value or None
    if value is None:
        return None
    inner = get(value, "value")
    return inner if isinstance(inner, str) and inner else None


def put(attrs: Dict[str, Any], key: str, value: Optional[int]) -> None:
    """Set a cache or reasoning count only when it is positive (zero counts are left out)."""
    if value:
        attrs[key] = value


def given(value: Any) -> bool:
    """False for an argument the caller left out: None, or the SDKs' ``omit`` / ``NOT_GIVEN``."""
    return value is not None and type(value).__name__ not in ("Omit", "NotGiven")


class StreamAccumulator:
    """Fed every event of one streamed response; ``attrs()`` then gives what :func:`from_response`
    gives for the whole response, and ``text`` the streamed output text (capped, when kept).
    ``feed`` never raises: an event it cannot read is skipped."""

    def __init__(self, keep_text: bool = True, max_text_chars: int = MAX_TEXT_CHARS) -> None:
        self.found: Dict[str, Any] = {}
        self.events = 0
        self.keep_text = keep_text
        self._parts: List[str] = []
        self._room = max(0, int(max_text_chars))
        self._dropped = 0

    def feed(self, event: Any) -> None:
        self.events += 1
        try:
            self._feed(event)
        except Exception:
            pass

    def _feed(self, event: Any) -> None:  # pragma: no cover - every provider defines it
        raise NotImplementedError

    def attrs(self) -> Dict[str, Any]:
        """Well-known span attrs gathered so far (the keys of :func:`from_response`)."""
        return dict(self.found)

    def merge(self, found: Dict[str, Any]) -> None:
        for key, value in found.items():
            if value is not None:
                self.found[key] = value

    def add_text(self, piece: Any) -> None:
        if not self.keep_text or not isinstance(piece, str) or not piece:
            return
        if len(piece) <= self._room:
            self._parts.append(piece)
            self._room -= len(piece)
        else:
            if self._room:
                self._parts.append(piece[:self._room])
            self._dropped += len(piece) - self._room
            self._room = 0

    @property
    def text(self) -> str:
        """Streamed output text; past the cap it ends with ``…[truncated N chars]``."""
        joined = "".join(self._parts)
        return joined + truncation_marker(self._dropped) if self._dropped else joined

    @property
    def text_chars(self) -> int:
        """Characters of output text streamed (kept and cut)."""
        return sum(map(len, self._parts)) + self._dropped
