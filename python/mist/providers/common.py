"""What the provider modules share: reading fields of SDK objects and dicts, and the base of the
stream accumulators."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional

from ..redact import truncation_marker

MAX_TEXT_CHARS = 65536  # streamed output text kept for capture; the rest is only counted


class _Attributes:
    """The fields of an object that is neither a dict nor an SDK model, as a mapping's ``get``."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def get(self, name: str) -> Any:
        try:
            return getattr(self.obj, name, None)
        except Exception:
            return None


_NOTHING: Dict[str, Any] = {}
_KINDS: Dict[type, int] = {}  # class -> 0 SDK (pydantic) model, 1 mapping, 2 other object


def view(obj: Any) -> Any:
    """``obj``'s fields as something with a dict's ``get`` (None for a missing field): a dict as it
    is, an SDK (pydantic) model's fields and extra fields (one dict lookup per field read: asking
    the model for a field it lacks goes through pydantic's ``__getattr__`` and an exception, ~3 µs),
    any other mapping as it is, other objects read by attribute (None for None, numbers …)."""
    cls = type(obj)
    if cls is dict:
        return obj
    if obj is None:
        return _NOTHING
    kind = _KINDS.get(cls)
    if kind is None:
        kind = 0 if hasattr(cls, "__pydantic_fields__") else 1 if issubclass(cls, Mapping) else 2
        if len(_KINDS) < 4096:
            _KINDS[cls] = kind
    if kind == 0:
        fields = getattr(obj, "__dict__", None)
        if type(fields) is dict:
            extra = obj.__pydantic_extra__
            return {**extra, **fields} if extra else fields
    elif kind == 1:
        return obj
    return _Attributes(obj)


def count(value: Any) -> Optional[int]:
    """A token count: a non-negative int (an integral float is accepted); None otherwise."""
    kind = type(value)
    if kind is int:
        return value if value >= 0 else None
    if kind is float and value.is_integer() and value >= 0:
        return int(value)
    return None


def text(value: Any) -> Optional[str]:
    """A non-empty string, or an SDK enum's string ``.value``; None otherwise."""
    if value is None:
        return None
    if type(value) is str:
        return value or None
    if isinstance(value, str):  # a str-based enum (google-genai's FinishReason): its value, not "FinishReason.STOP"
        inner = getattr(value, "value", None)
        return (inner if isinstance(inner, str) else str.__str__(value)) or None
    inner = view(value).get("value")
    return inner if isinstance(inner, str) and inner else None


def given(value: Any) -> bool:
    """False for an argument the caller left out: None, or the SDKs' ``omit`` / ``NOT_GIVEN``."""
    return value is not None and type(value).__name__ not in ("Omit", "NotGiven")


class StreamAccumulator:
    """Fed every event of one streamed response; ``attrs()`` then gives what :func:`from_response`
    gives for the whole response, and ``text`` the streamed output text (capped, when kept).

    ``feed(event)`` (each provider's) reads one event; it never raises: an event it cannot read
    is skipped. It returns True for an event to hide from the caller (OpenAI's usage-only chunk)."""

    def __init__(self, keep_text: bool = True, max_text_chars: int = MAX_TEXT_CHARS) -> None:
        self.found: Dict[str, Any] = {}
        self.events = 0
        self.keep_text = keep_text
        self._parts: List[str] = []
        self._room = max(0, int(max_text_chars))
        self._dropped = 0

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


def plain(value: Any, depth: int = 0, *, max_depth: int = 8,
          leaf: Optional[Callable[[Any, int], Any]] = None) -> Any:
    """SDK values (pydantic models, dicts, lists) as JSON-able data for content capture: at most
    100 items a level, ``max_depth`` levels deep, anything else as its ``str``. ``leaf(value,
    depth)``, when given, converts every value that is not a scalar, dict or list instead (a
    framework's own types: LangChain's messages)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if depth > max_depth:
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1, max_depth=max_depth, leaf=leaf) for k, v in list(value.items())[:100]}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1, max_depth=max_depth, leaf=leaf) for v in value[:100]]
    if leaf is not None:
        return leaf(value, depth)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return plain(dump(exclude_none=True), depth + 1, max_depth=max_depth)
        except Exception:
            pass
    return str(value)
