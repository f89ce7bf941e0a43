"""Model prices and the cost of one inference call.

A :class:`PriceTable` holds USD prices per million tokens for input, output, cache reads, cache
writes and reasoning tokens, keyed by model name. The bundled table (``mist/prices.json``, schema
``schema/prices.schema.json``) is read on first use; ``configure(prices=...)`` and ``MIST_PRICES``
add or override entries through :meth:`PriceTable.update`.

Token semantics follow OpenTelemetry GenAI (SPEC §2): ``tokens_in`` *includes* cache reads and cache
writes, ``tokens_out`` *includes* reasoning tokens, so::

    cost = (tokens_in - cache_read - cache_write) * input
         + cache_read * cache_read_price
         + (cache_write - cache_write_1h) * cache_write_price + cache_write_1h * cache_write_1h_price
         + (tokens_out - reasoning) * output + reasoning * reasoning_price

``cache_write_1h`` is the part of the cache writes made with a one-hour lifetime (Anthropic's
``ephemeral_1h_input_tokens``: 2× input, where five-minute writes cost 1.25×); its price defaults
to ``cache_write``.

An unknown model costs ``None``, never ``0.0``: the caller marks the span ``unpriced``.

Model names are matched the way providers write them: case-insensitively, without provider or path
prefixes (``openai/gpt-4o``, ``models/gemini-2.5-pro``, ``accounts/fireworks/models/…``), without
Bedrock region and vendor prefixes (``us.anthropic.claude-…-v1:0``), with dotted Claude versions
(``claude-3.5-sonnet``), and with version suffixes (dated snapshots ``-2024-07-18`` / ``-20250929``,
``-latest``, ``-preview``, ``-001``, ``@20241022``, ``-v2:0``) matched to the longest known name.
A suffix that names a different product (``gpt-4o-audio-preview``, ``claude-opus-4-9``) does *not*
fall back to a shorter name: a wrong price is worse than none.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

from ..errors import ConfigError

__all__ = [
    "PriceTable",
    "default_table",
    "set_default_table",
    "cost",
    "resolve",
    "normalize_model",
    "PRICE_FIELDS",
]

#: Price fields of an entry, USD per million tokens.
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning", "cache_write_1h")
_INFO_FIELDS = ("provider", "as_of", "source", "notes")
_ALLOWED_FIELDS = frozenset(PRICE_FIELDS + _INFO_FIELDS)
_TOP_LEVEL_FIELDS = frozenset(("version", "currency", "unit", "notes", "models", "aliases"))

# Separators after which a version suffix may start.
_SEPARATORS = frozenset("-_@:")
# A suffix that only says *which snapshot* of a model: dates, build numbers, channels, Bedrock and
# Vertex version tags. Anything else (``-audio-preview``, ``-mini``, ``-1``) names another product.
_VERSION_SUFFIX = re.compile(
    r"(?:[-_@:]"
    r"(?:\d{4}-\d{2}-\d{2}"  # -2024-07-18
    r"|\d{2}-\d{2}"  # -05-20 (gemini previews)
    r"|\d{2}-\d{4}"  # -08-2024 (cohere), -09-2025 (gemini)
    r"|\d{3,8}"  # -20250929, -0613, -2411, -001
    r"|v\d+(?:[.:]\d+)*"  # -v2, -v1:0 (bedrock / vertex)
    r"|\d+:\d+"  # -1:0 (bedrock)
    r"|latest|preview|exp|experimental|beta|alpha|stable|thinking"
    r"))+"
)
_BEDROCK_PREFIX = re.compile(
    r"^(?:(?:us|eu|apac|ap|jp|au|ca|us-gov|global)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|moonshot|moonshotai|google)"
    r"\.(?=[a-z])"
)

_MISSING = object()
_CACHE_LIMIT = 4096
_PriceTuple = Tuple[float, float, float, float, float, float]
_Hit = Tuple[str, Dict[str, Any], _PriceTuple]
PathLike = Union[str, "os.PathLike[str]"]


def normalize_model(name: str) -> str:
    """The lowercase, trimmed form of a model name that table keys are written in."""
    return name.strip().lower()


def _candidates(name: str) -> Iterator[str]:
    """Normalised names to try for ``name``, most specific first."""
    n = name.strip().lower()
    if not n:
        return
    if "/" in n:
        segments = [s for s in n.split("/") if s]
        forms = ["/".join(segments[i:]) for i in range(len(segments))]
    else:
        forms = [n]
    seen = set()
    for form in forms:
        for variant in _variants(form):
            if variant not in seen:
                seen.add(variant)
                yield variant


def _variants(form: str) -> Iterator[str]:
    yield form
    stripped = _BEDROCK_PREFIX.sub("", form, count=1)
    if stripped != form:
        yield stripped
        form = stripped
    if form.startswith("claude") and "." in form:
        # Anthropic ids use dashes (claude-3-5-sonnet); routers often write claude-3.5-sonnet.
        yield form.replace(".", "-")


def _check_price(value: Any, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: '{field}' must be a number of USD per million tokens, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: '{field}' must be a finite non-negative number, got {value!r}")
    return value


class PriceTable:
    """Prices per model with name resolution and a cheap, cached :meth:`cost`.

    Thread-safe: lookups read immutable snapshots; :meth:`update` swaps them under a lock.
    """

    def __init__(self, *, bundled: bool = True) -> None:
        """Create a table; with ``bundled=True`` (the default) the bundled prices load on first use."""
        self._lock = threading.RLock()
        self._want_bundled = bundled
        self._loaded = False
        self._version: Optional[str] = None
        self._entries: Dict[str, Dict[str, Any]] = {}
        self._aliases: Dict[str, str] = {}
        # (index, cost cache by model, cost cache by (model, provider)), swapped as one object so a
        # reader never pairs a new index with an old cache.
        self._state: Tuple[Dict[str, _Hit], Dict[str, Optional[_PriceTuple]], Dict[Tuple[str, str], Optional[_PriceTuple]]] = ({}, {}, {})

    # ------------------------------------------------------------------ loading and updating

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            if self._want_bundled:
                try:
                    doc = json.loads(_read_bundled())
                    self._merge(doc, where="bundled mist/prices.json", strict_info=True)
                except Exception as exc:  # a broken install must not break tracing
                    import warnings

                    self._entries, self._aliases = {}, {}

                    warnings.warn(f"mist: cannot load the bundled price table ({exc}); every model is unpriced")
            self._rebuild()
            self._loaded = True

    def update(self, prices: Union[Mapping[str, Any], PathLike], *, option: str = "prices") -> None:
        """Add or override prices from a mapping or a JSON file of the bundled table's shape.

        Accepted forms: ``{"models": {...}, "aliases": {...}}`` (the bundled shape), or a flat
        ``{model: entry}`` mapping where an entry is a dict of prices or a string naming another
        model (an alias, e.g. an Azure deployment name). An entry for a known model may give only the
        fields it changes; a new model needs at least ``input`` and ``output``. ``option`` names the
        setting in error messages (``"prices"`` or ``"MIST_PRICES"``).

        Raises :class:`mist.errors.ConfigError` (one line naming the option and file) for an
        unreadable file, invalid JSON, or a bad entry; the table is left unchanged then.
        """
        if isinstance(prices, (str, os.PathLike)):
            path = os.path.expanduser(os.fspath(prices))
            where = f"{option} file {path!r}"
            try:
                with open(path, "r", encoding="utf-8") as f:
                    doc = json.load(f)
            except OSError as exc:
                raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc}); give the path of a JSON price file") from None
            except ValueError as exc:
                raise ConfigError(f"{where}: not valid JSON ({exc})") from None
        elif isinstance(prices, Mapping):
            where = option
            doc = prices
        else:
            raise ConfigError(f"{option}: expected a dict of model prices or the path of a JSON file, got {type(prices).__name__}")
        if not isinstance(doc, Mapping):
            raise ConfigError(f"{where}: expected a JSON object of model prices, got {type(doc).__name__}")
        self._ensure_loaded()
        with self._lock:
            saved = (dict(self._entries), dict(self._aliases), self._version)
            try:
                self._merge(doc, where=where, strict_info=False)
            except BaseException:
                self._entries, self._aliases, self._version = saved
                raise
            self._rebuild()

    def _merge(self, doc: Mapping[str, Any], *, where: str, strict_info: bool) -> None:
        models = doc.get("models")
        if isinstance(models, Mapping) or isinstance(doc.get("aliases"), Mapping):
            models = models or {}
            if not isinstance(models, Mapping):
                raise ConfigError(f"{where}: 'models' must be an object of name -> prices")
            unknown = set(doc) - _TOP_LEVEL_FIELDS
            if unknown:
                raise ConfigError(f"{where}: unknown top-level key(s) {sorted(unknown)}; expected models, aliases, version")
            aliases = doc.get("aliases") or {}
            if not isinstance(aliases, Mapping):
                raise ConfigError(f"{where}: 'aliases' must be an object of name -> model")
            version = doc.get("version")
            if version is not None:
                self._version = str(version)
        else:
            flat_models: Dict[str, Any] = {}
            flat_aliases: Dict[str, Any] = {}
            for key, value in doc.items():
                (flat_aliases if isinstance(value, str) else flat_models)[key] = value
            models, aliases = flat_models, flat_aliases
        for raw_name, entry in models.items():
            if not isinstance(raw_name, str) or not raw_name.strip():
                raise ConfigError(f"{where}: model names must be non-empty strings, got {raw_name!r}")
            name = normalize_model(raw_name)
            at = f"{where}: model {raw_name!r}"
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{at}: expected an object with input/output prices, got {type(entry).__name__}")
            unknown = set(entry) - _ALLOWED_FIELDS
            if unknown:
                raise ConfigError(f"{at}: unknown field(s) {sorted(unknown)}; allowed: {', '.join(PRICE_FIELDS + _INFO_FIELDS)}")
            base = dict(self._entries.get(name, {}))
            if not strict_info and any(f in entry for f in PRICE_FIELDS):
                # The bundled date and source no longer describe an overridden price.
                for field in ("as_of", "source", "notes"):
                    base.pop(field, None)
                base["source"] = where
            for field in PRICE_FIELDS:
                if field in entry:
                    base[field] = _check_price(entry[field], at, field)
            for field in _INFO_FIELDS:
                if field in entry:
                    if not isinstance(entry[field], str):
                        raise ConfigError(f"{at}: '{field}' must be a string, got {entry[field]!r}")
                    base[field] = entry[field]
            for field in ("input", "output"):
                if field not in base:
                    raise ConfigError(f"{at}: '{field}' price is required for a model the table does not know")
            if strict_info:
                for field in ("provider", "as_of", "source"):
                    if field not in base:
                        raise ConfigError(f"{at}: '{field}' is required in the bundled table")
            self._entries[name] = base
            self._aliases.pop(name, None)
        pending = list(aliases.items())
        for raw_alias, target in pending:
            if not isinstance(raw_alias, str) or not raw_alias.strip() or not isinstance(target, str) or not target.strip():
                raise ConfigError(f"{where}: alias {raw_alias!r} -> {target!r}: both must be non-empty strings")
        while pending:  # in passes, so aliases of aliases may come in any order
            unresolved = []
            for raw_alias, target in pending:
                alias, tgt = normalize_model(raw_alias), normalize_model(target)
                if tgt not in self._entries:
                    tgt = self._resolve_name_in(tgt, self._entries, self._aliases) or ""
                if not tgt or tgt == alias:
                    unresolved.append((raw_alias, target))
                    continue
                self._aliases[alias] = tgt
                if alias in self._entries:
                    del self._entries[alias]
            if len(unresolved) == len(pending):
                raw_alias, target = unresolved[0]
                raise ConfigError(f"{where}: alias {raw_alias!r} points to {target!r}, which the table does not know")
            pending = unresolved

    def _rebuild(self) -> None:
        index: Dict[str, _Hit] = {}
        for name, entry in self._entries.items():
            index[name] = (name, entry, _price_tuple(entry))
        for alias, target in self._aliases.items():
            for _ in range(8):  # follow alias -> alias chains a short way
                if target in index or target not in self._aliases:
                    break
                target = self._aliases[target]
            hit = index.get(target)
            if hit is not None:
                index.setdefault(alias, hit)
        # One assignment: readers on other threads see the old state or the new one, never half.
        self._state = (index, {}, {})

    # ------------------------------------------------------------------ lookups

    @staticmethod
    def _lookup(cand: str, index: Mapping[str, Any]) -> Any:
        hit = index.get(cand)
        if hit is not None:
            return hit
        for i in range(len(cand) - 1, 0, -1):
            if cand[i] in _SEPARATORS:
                hit = index.get(cand[:i])
                if hit is not None and _VERSION_SUFFIX.fullmatch(cand, i):
                    return hit
        return None

    def _find(self, model: str, provider: Optional[str], index: Mapping[str, _Hit]) -> Optional[_Hit]:
        cands = list(_candidates(model))
        if provider:
            p = provider.strip().lower()
            for cand in cands:
                hit = self._lookup(f"{p}/{cand}", index)
                if hit is not None:
                    return hit
        for cand in cands:
            hit = self._lookup(cand, index)
            if hit is not None:
                return hit
        return None

    def _resolve_name_in(self, name: str, entries: Mapping[str, Any], aliases: Mapping[str, str]) -> Optional[str]:
        index = {k: k for k in entries}
        for a, t in aliases.items():
            index.setdefault(a, t)
        for cand in _candidates(name):
            hit = self._lookup(cand, index)
            if hit is not None:
                return hit
        return None

    def resolve(self, model: Optional[str], provider: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The price entry ``model`` resolves to, or None when the table does not know it.

        The returned dict is a fresh copy with every price filled in (defaults applied) plus
        ``model`` (the canonical table key), ``provider``, ``as_of`` and ``source`` when known.
        ``provider`` (e.g. ``"groq"``) first tries a host-specific key ``"groq/<model>"`` that a
        user may have added with :meth:`update`.
        """
        if not isinstance(model, str) or not model:
            return None
        self._ensure_loaded()
        hit = self._find(model, provider, self._state[0])
        if hit is None:
            return None
        name, entry, prices = hit
        out: Dict[str, Any] = {"model": name}
        if "provider" in entry:
            out["provider"] = entry["provider"]
        out.update(zip(PRICE_FIELDS, prices))
        for field in ("as_of", "source", "notes"):
            if field in entry:
                out[field] = entry[field]
        return out

    def _prices(self, model: str, provider: Optional[str]) -> Optional[_PriceTuple]:
        """Prices for ``model`` after a cache miss: resolve once and remember the answer."""
        state = self._state
        if not self._loaded:
            self._ensure_loaded()
            state = self._state
        hit = self._find(model, provider, state[0]) if isinstance(model, str) and model else None
        p = None if hit is None else hit[2]
        cache: Dict[Any, Any] = state[1] if provider is None else state[2]
        if len(cache) < _CACHE_LIMIT:  # bound memory when callers invent endless model names
            cache[model if provider is None else (model, provider)] = p
        return p

    def per_million(self, model: str) -> Optional[_PriceTuple]:
        """USD per million tokens (input, output, cache read, cache write, reasoning, one-hour cache
        write), or None.
        The native core caches this per model name and applies :meth:`cost`'s formula itself."""
        p = self._state[1].get(model, _MISSING) if isinstance(model, str) else None
        if p is _MISSING:
            p = self._prices(model, None)
        return p

    def cost(
        self,
        model: Optional[str],
        tokens_in: Optional[int],
        tokens_out: Optional[int],
        cache_read: Optional[int] = 0,
        cache_write: Optional[int] = 0,
        reasoning: Optional[int] = 0,
        *,
        provider: Optional[str] = None,
        cache_write_1h: Optional[int] = 0,
    ) -> Optional[float]:
        """USD cost of one call, or None when ``model`` has no known price.

        Counts follow OpenTelemetry GenAI: ``tokens_in`` includes ``cache_read`` and
        ``cache_write``; ``tokens_out`` includes ``reasoning``. ``None`` counts are 0. If the subsets
        exceed their totals (a caller passed Anthropic's cache-exclusive ``input_tokens``), the
        uncached remainder is taken as 0 rather than negative. Never raises.
        """
        try:
            if provider is None:
                p = self._state[1].get(model, _MISSING)
            else:
                p = self._state[2].get((model, provider), _MISSING)
            if p is _MISSING:
                p = self._prices(model, provider)  # type: ignore[arg-type]
            if p is None:
                return None
            cr = cache_read or 0
            cw = cache_write or 0
            rs = reasoning or 0
            fresh = (tokens_in or 0) - cr - cw
            if fresh < 0:
                fresh = 0
            plain = (tokens_out or 0) - rs
            if plain < 0:
                plain = 0
            w1 = min(max(cache_write_1h or 0, 0), cw) if cw > 0 else 0
            return (fresh * p[0] + plain * p[1] + cr * p[2] + (cw - w1) * p[3] + rs * p[4] + w1 * p[5]) / 1e6
        except Exception:  # unhashable model, non-numeric counts: no cost rather than an exception
            return None

    # ------------------------------------------------------------------ introspection

    @property
    def version(self) -> Optional[str]:
        """The ``version`` of the last table file applied (the bundled table's review date)."""
        self._ensure_loaded()
        return self._version

    def models(self) -> Dict[str, Dict[str, Any]]:
        """A copy of every entry, keyed by canonical name (prices as given, defaults not applied)."""
        self._ensure_loaded()
        with self._lock:
            return {k: dict(v) for k, v in self._entries.items()}

    def aliases(self) -> Dict[str, str]:
        """A copy of the alias map (alias -> canonical name)."""
        self._ensure_loaded()
        with self._lock:
            return dict(self._aliases)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.resolve(model) is not None

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)


def _price_tuple(entry: Mapping[str, Any]) -> _PriceTuple:
    inp = float(entry["input"])
    out = float(entry["output"])
    return (
        inp,
        out,
        float(entry.get("cache_read", inp)),
        float(entry.get("cache_write", inp)),
        float(entry.get("reasoning", out)),
        float(entry.get("cache_write_1h", entry.get("cache_write", inp))),
    )


def _read_bundled() -> str:
    try:
        from importlib import resources

        return resources.files(__package__ or "mist").joinpath("prices.json").read_text(encoding="utf-8")
    except Exception:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "prices.json"), encoding="utf-8") as f:
            return f.read()


# ---------------------------------------------------------------------- default instance

_default: Optional[PriceTable] = None
_default_lock = threading.Lock()


def default_table() -> PriceTable:
    """The process-wide table used by spans (bundled prices plus what configure applied)."""
    global _default
    table = _default
    if table is None:
        with _default_lock:
            if _default is None:
                _default = PriceTable()
            table = _default
    return table


def set_default_table(table: Optional[PriceTable]) -> None:
    """Replace the process-wide table (``configure`` builds a new one); None resets to bundled."""
    global _default
    with _default_lock:
        _default = table


def cost(
    model: Optional[str],
    tokens_in: Optional[int],
    tokens_out: Optional[int],
    cache_read: Optional[int] = 0,
    cache_write: Optional[int] = 0,
    reasoning: Optional[int] = 0,
    *,
    provider: Optional[str] = None,
    cache_write_1h: Optional[int] = 0,
) -> Optional[float]:
    """:meth:`PriceTable.cost` on the default table."""
    return default_table().cost(model, tokens_in, tokens_out, cache_read, cache_write, reasoning, provider=provider,
                                cache_write_1h=cache_write_1h)


def resolve(model: Optional[str], provider: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """:meth:`PriceTable.resolve` on the default table."""
    return default_table().resolve(model, provider)
