"""Redaction and size caps for captured content (span ``input`` / ``output`` attrs).

Content capture is off by default. When it is on, every captured value goes through
:meth:`Redactor.redact` first: built-in patterns replace API keys (OpenAI, Anthropic, AWS, GitHub,
Google, Slack), bearer tokens and ``Authorization``-style headers, private key blocks and e-mail
addresses with ``[REDACTED:kind]``; values under keys such as ``api_key`` or ``password`` are
replaced whole; ``redact=`` adds regexes and/or a ``str -> str`` callable. Every string is then capped
at ``max_chars`` with a visible ``…[truncated N chars]`` marker, and the whole walk is bounded (depth,
items per container, total characters) so a huge prompt costs bounded time. Never raises.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Pattern, Tuple, Union

__all__ = ["Redactor", "RedactSpec", "BUILTIN_KINDS", "TRUNCATION_MARKER", "truncation_marker"]

#: Appended to text cut at a size cap; ``{n}`` is the number of characters left out.
TRUNCATION_MARKER = "…[truncated {n} chars]"


def truncation_marker(n: int) -> str:
    """The visible marker for ``n`` characters cut from a captured value."""
    return TRUNCATION_MARKER.format(n=n)


RedactSpec = Union[None, str, Pattern[str], Callable[[str], str], Iterable[Union[str, Pattern[str], Callable[[str], str]]]]

_ERROR = "[REDACTED:redactor-error]"
_CUSTOM = "[REDACTED:custom]"

# Slack room for patterns that straddle the cap: a window this much longer than max_chars is
# redacted before cutting, so a secret that starts before the cut is matched whole.
_WINDOW_SLACK = 512

_KEY_CHARS = r"[A-Za-z0-9_\-]"


def _mark(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# (kind, cheap substring gate, pattern, replacement). A gate is a tuple of substrings, one of which
# must occur in the text (lowercased when the gate is written in lowercase) for the regex to run.
_Rule = Tuple[str, Tuple[str, ...], bool, Pattern[str], Union[str, Callable[["re.Match[str]"], str]]]


def _keep_prefix(kind: str) -> Callable[["re.Match[str]"], str]:
    marker = _mark(kind)

    def repl(m: "re.Match[str]") -> str:
        return m.group(1) + marker

    return repl


# Specific key shapes run first so they are labelled by kind; the generic header/assignment
# rules after them skip values that are already redacted.
_RULES: List[_Rule] = [
    (
        "private-key",
        ("-----BEGIN",),
        False,
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S),
        _mark("private-key"),
    ),
    (
        "anthropic-key",
        ("sk-ant-",),
        False,
        re.compile(r"\bsk-ant-" + _KEY_CHARS + r"{20,}"),
        _mark("anthropic-key"),
    ),
    (
        "openai-key",
        ("sk-",),
        False,
        re.compile(r"\bsk-(?!ant-)" + _KEY_CHARS + r"{20,}"),
        _mark("openai-key"),
    ),
    (
        "aws-access-key-id",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        False,
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        _mark("aws-access-key-id"),
    ),
    (
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        False,
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
        _mark("github-token"),
    ),
    (
        "google-api-key",
        ("AIza",),
        False,
        re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),
        _mark("google-api-key"),
    ),
    (
        "slack-token",
        ("xox",),
        False,
        re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
        _mark("slack-token"),
    ),
    (
        # Header-style credentials: keep the header name, drop the whole value (scheme included).
        "authorization",
        ("authorization", "api-key", "api_key", "apikey"),
        True,
        re.compile(
            r"((?<![A-Za-z0-9])(?:proxy-)?(?:authorization|x-api-key|api-key|x-goog-api-key|api_key|apikey)"
            r"[\"']?\s*[:=]\s*[\"']?)"
            r"(?!(?:(?:bearer|basic|token|digest|apikey)\s+)?\[REDACTED:)"
            r"(?:(?:bearer|basic|token|digest|apikey)\s+)?[^\s\"',;&}{]+",
            re.I,
        ),
        _keep_prefix("authorization"),
    ),
    (
        "aws-secret-key",
        ("secret",),
        True,
        re.compile(
            r"((?<![A-Za-z0-9])(?:aws_?)?secret_?(?:access_?)?key(?:_id)?[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{30,}",
            re.I,
        ),
        _keep_prefix("aws-secret-key"),
    ),
    (
        "bearer-token",
        ("bearer",),
        True,
        re.compile(r"(\b[Bb][Ee][Aa][Rr][Ee][Rr]\s+)(?!\[REDACTED:)(?=[A-Za-z0-9\-._~+/]*\d)[A-Za-z0-9\-._~+/]{12,}=*"),
        _keep_prefix("bearer-token"),
    ),
    (
        "email",
        ("@",),
        False,
        # Bounded repeats: a long run of word characters without "@" must not cost quadratic time.
        re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}\b"),
        _mark("email"),
    ),
]

#: The kinds the built-in patterns report, as in ``[REDACTED:kind]``.
BUILTIN_KINDS = tuple(rule[0] for rule in _RULES) + ("secret-field",)

# Mapping keys whose string values are credentials whatever they look like.
_SECRET_FIELDS = frozenset(
    {
        "api_key", "apikey", "x_api_key", "api_token", "auth_token", "access_token", "refresh_token",
        "id_token", "session_token", "token_secret", "client_secret", "secret", "secret_key",
        "aws_secret_access_key", "secret_access_key", "password", "passwd", "passphrase",
        "private_key", "authorization", "proxy_authorization", "cookie", "set_cookie",
    }
)


def _is_secret_field(key: Any) -> bool:
    if not isinstance(key, str) or len(key) > 64:
        return False
    return key.strip().lower().replace("-", "_") in _SECRET_FIELDS


class _Budget:
    __slots__ = ("nodes", "chars")

    def __init__(self, nodes: int, chars: int) -> None:
        self.nodes = nodes
        self.chars = chars


class Redactor:
    """Removes secrets from captured values and caps their size.

    ``extra`` adds to the built-in patterns: a regex string or compiled pattern (each match becomes
    ``[REDACTED:custom]``), a callable ``str -> str`` applied to every string after the patterns, or
    a list mixing them. ``max_chars`` caps every string (and mapping key); ``max_items`` caps each
    list/dict; ``max_depth`` bounds nesting; ``max_total_chars`` bounds the characters kept across
    one :meth:`redact` call. A bad ``extra`` raises :class:`mist.errors.ConfigError` here, at
    configuration time; :meth:`redact` itself never raises.
    """

    def __init__(
        self,
        extra: RedactSpec = None,
        max_chars: int = 4096,
        *,
        max_items: int = 256,
        max_depth: int = 16,
        max_total_chars: Optional[int] = None,
    ) -> None:
        from .errors import ConfigError

        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise ConfigError(f"redact: max_chars must be a positive integer, got {max_chars!r}")
        self.max_chars = max_chars
        self.max_items = max(1, int(max_items))
        self.max_depth = max(1, int(max_depth))
        self.max_total_chars = int(max_total_chars) if max_total_chars is not None else max(16 * max_chars, 65536)
        self._patterns: List[Pattern[str]] = []
        self._callables: List[Callable[[str], str]] = []
        specs: Iterable[Any]
        if extra is None:
            specs = ()
        elif isinstance(extra, (str, re.Pattern)) or callable(extra):
            specs = (extra,)
        else:
            try:
                specs = list(extra)  # type: ignore[arg-type]
            except TypeError:
                raise ConfigError(
                    f"redact: expected a regex, a callable str -> str, or a list of them, got {type(extra).__name__}"
                ) from None
        for spec in specs:
            if isinstance(spec, re.Pattern):
                if not isinstance(spec.pattern, str):
                    raise ConfigError(f"redact: pattern {spec.pattern!r} must be a str pattern, not bytes")
                self._patterns.append(spec)
            elif isinstance(spec, str):
                try:
                    self._patterns.append(re.compile(spec))
                except re.error as exc:
                    raise ConfigError(f"redact: invalid regular expression {spec!r}: {exc}") from None
            elif callable(spec):
                self._callables.append(spec)
            else:
                raise ConfigError(
                    f"redact: each entry must be a regex string, a compiled pattern or a callable, got {type(spec).__name__}"
                )

    # ------------------------------------------------------------------ public

    def redact(self, value: Any) -> Any:
        """A redacted, size-capped, JSON-able copy of ``value`` (str, list, tuple, dict, scalars).

        Strings are redacted and capped; lists and tuples become lists; dict values are redacted
        (keys kept, capped, made strings); numbers, booleans and None pass through; bytes are
        decoded as UTF-8; other objects are converted with ``model_dump()`` when they have one,
        else ``str()``. Never raises: a failure yields ``[REDACTED:redactor-error]``.
        """
        try:
            return self._walk(value, 0, _Budget(self.max_items * 64, self.max_total_chars))
        except Exception:
            return _ERROR

    def redact_text(self, text: str) -> str:
        """:meth:`redact` for one string."""
        try:
            return self._text(text, _Budget(1, self.max_total_chars))
        except Exception:
            return _ERROR

    __call__ = redact

    # ------------------------------------------------------------------ walking

    def _walk(self, value: Any, depth: int, budget: _Budget) -> Any:
        budget.nodes -= 1
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return self._text(value, budget)
        if budget.nodes < 0:
            return truncation_marker(1)
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value[: self.max_chars * 4 + _WINDOW_SLACK])
            text = raw.decode("utf-8", "replace")
            dropped = len(value) - len(raw)
            return self._text(text, budget, extra_dropped=dropped)
        if depth >= self.max_depth:
            return "…[truncated: nested too deep]"
        if isinstance(value, Mapping):
            return self._walk_mapping(value, depth, budget)
        if isinstance(value, (list, tuple, set, frozenset)):
            return self._walk_sequence(value, depth, budget)
        dump = getattr(value, "model_dump", None)  # pydantic models (SDK request/response objects)
        if callable(dump):
            try:
                dumped = dump()
            except Exception:
                dumped = None
            if isinstance(dumped, (dict, list)):
                return self._walk(dumped, depth, budget)
        try:
            text = str(value)
        except Exception:
            return _ERROR
        return self._text(text, budget)

    def _walk_mapping(self, value: Mapping[Any, Any], depth: int, budget: _Budget) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        n = 0
        for key, item in value.items():
            if n >= self.max_items or budget.nodes < 0:
                out["…"] = f"[truncated {len(value) - n} items]"
                break
            n += 1
            skey = key if isinstance(key, str) else str(key)
            if len(skey) > self.max_chars:
                skey = skey[: self.max_chars] + truncation_marker(len(skey) - self.max_chars)
            if _is_secret_field(key) and isinstance(item, (str, bytes)) and item:
                budget.nodes -= 1
                out[skey] = _mark("secret-field")
            else:
                out[skey] = self._walk(item, depth + 1, budget)
        return out

    def _walk_sequence(self, value: Any, depth: int, budget: _Budget) -> List[Any]:
        out: List[Any] = []
        total = len(value)
        if isinstance(value, (list, tuple)):
            items = value
        elif total <= self.max_items:
            items = _sorted_or_list(value)  # sets: a stable order when small enough to sort cheaply
        else:
            items = list(itertools.islice(value, self.max_items))
        for i, item in enumerate(items):
            if i >= self.max_items or budget.nodes < 0:
                out.append(f"…[truncated {total - i} items]")
                break
            out.append(self._walk(item, depth + 1, budget))
        else:
            if total > len(out):
                out.append(f"…[truncated {total - len(out)} items]")
        return out

    # ------------------------------------------------------------------ strings

    def _text(self, text: str, budget: _Budget, extra_dropped: int = 0) -> str:
        if budget.chars <= 0:
            return truncation_marker(len(text) + extra_dropped)
        limit = min(self.max_chars, budget.chars)
        # A value already cut upstream (stream accumulators) ends with a marker: fold its count in.
        if text.endswith(" chars]"):
            m = _MARKER_AT_END.search(text)
            if m is not None:
                extra_dropped += int(m.group(1))
                text = text[: m.start()]
        total = len(text)
        window = text if total <= limit + _WINDOW_SLACK else text[: limit + _WINDOW_SLACK]
        beyond = total - len(window)
        cleaned = self._scrub(window)
        if len(cleaned) > limit:
            cut = len(cleaned) - limit
            cleaned = cleaned[:limit]
        else:
            cut = 0
        dropped = cut + beyond + extra_dropped
        budget.chars -= len(cleaned)
        if dropped:
            return cleaned + truncation_marker(dropped)
        return cleaned

    def _scrub(self, text: str) -> str:
        if not text:
            return text
        lowered: Optional[str] = None
        for _kind, gate, lower, pattern, repl in _RULES:
            if lower:
                if lowered is None:
                    lowered = text.lower()
                hay = lowered
            else:
                hay = text
            for needle in gate:
                if needle in hay:
                    text, n = pattern.subn(repl, text)
                    if n:
                        lowered = None
                    break
        for pattern in self._patterns:
            text = pattern.sub(_CUSTOM, text)
        for fn in self._callables:
            try:
                result = fn(text)
            except Exception:
                return _ERROR
            if not isinstance(result, str):
                return _ERROR
            text = result
        return text


_MARKER_AT_END = re.compile(r"…\[truncated (\d+) chars\]\Z")


def _sorted_or_list(items: Any) -> List[Any]:
    try:
        return sorted(items)
    except Exception:
        return list(items)
