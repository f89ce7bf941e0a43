"""Spans: ``mist.trace`` (a root with a budget) and ``mist.span``, and what a trace's spans share."""
from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Literal, Optional, Union

from ..costs import pricing as _costs
from ..core.backend import core
from ..errors import ConfigError
from ..providers import from_response
from . import budget as _budget
from . import otel_bridge as _otel
from .context import _current, traceparent  # noqa: F401  (re-exported)
from .scores import late_score

if TYPE_CHECKING:
    from contextvars import Token

    from typing_extensions import Self  # checkers only: no runtime dependency

_now = time.time_ns
_emit = core.emit
_new_span_id = core.new_span_id
_new_trace_id = core.new_trace_id
_OTEL = _otel.MODULE
_modules = _otel.modules
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
MAX_ERROR_CHARS = 2048


class _TraceState:
    """What every span of one trace shares: the budget and the running cost (thread-safe)."""

    __slots__ = ("trace_id", "budget", "spent", "steps", "lock", "warned", "exceeded")

    def __init__(self, trace_id: str, budget: Optional[float]) -> None:
        self.trace_id = trace_id
        self.budget = budget
        self.spent = 0.0
        self.steps = 0
        self.lock = threading.Lock()
        self.warned = False
        self.exceeded = False

    def add(self, cost: float) -> None:
        with self.lock:
            self.spent += cost
        if self.budget is not None:
            _budget.after_cost(self)

    def check(self) -> None:
        if self.budget is not None and self.spent >= self.budget:
            _budget.exceeded(self)

    def next_step(self) -> int:
        with self.lock:
            n = self.steps
            self.steps += 1
            return n


class Span:
    """One traced operation. Use as ``with mist.span("retrieve", model="gpt-4o") as s: ...``.

    The span becomes the current span inside the block; it ends (and is emitted) when the block
    exits. An exception escaping the block marks it ``status: "error"`` and propagates unchanged.
    """

    __slots__ = ("operation", "trace_id", "span_id", "parent_id", "start_ns", "end_ns", "attrs", "status", "_token", "_state",
                 "_otel")

    operation: str
    trace_id: str
    span_id: str
    parent_id: Optional[str]
    start_ns: int
    end_ns: int  # 0 until the span ends
    attrs: Dict[str, Any]
    status: str  # "ok" or "error"
    _token: Optional[Token[Any]]
    _state: Optional[_TraceState]
    _otel: Any

    def __init__(self, operation: str, *, model: Optional[str] = None, provider: Optional[str] = None, **attrs: Any) -> None:
        parent = _current.get()
        if parent is None:
            self.trace_id = _new_trace_id()
            self.parent_id = None
            self._state = None
        else:
            self.trace_id = parent.trace_id
            self.parent_id = parent.span_id
            self._state = parent._state
        self._otel = None
        if _OTEL in _modules:  # OpenTelemetry loaded: its current span, when innermost, is the parent
            outer = _otel.outer_parent()
            if outer is not None:
                self.trace_id, self.parent_id = outer
        self.span_id = _new_span_id()
        self.operation = operation
        if model is not None:
            attrs["model"] = model
        if provider is not None:
            attrs["provider"] = provider
        self.attrs = attrs
        self.status = "ok"
        self.end_ns = 0
        self._token = None
        self.start_ns = _now()

    # ---- context manager ----
    def __enter__(self) -> Self:
        # start_ns was taken in __init__ (back to back with this call in a `with` statement)
        st = self._state
        if st is not None and st.budget is not None:
            st.check()
        self._token = _current.set(self)
        if _OTEL in _modules:  # OpenTelemetry sees this span as its current span
            self._otel = _otel.attach(self)
        return self

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Literal[False]:
        # _leave() and end() inlined: this runs for every traced block
        token = self._token
        if token is not None:
            self._token = None
            try:
                _current.reset(token)
                if self._otel is not None:
                    self._otel = _otel.detach(self._otel)
            except ValueError:  # exited in another context (a task or thread)
                if _current.get() is self:
                    _current.set(None)
                if self._otel is not None:
                    self._otel = _otel.detach(self._otel, False)
        if self.end_ns:
            return False
        self.end_ns = _now()
        try:
            if exc is not None:
                self.error(exc)
            attrs = self.attrs
            if attrs and ("cost_usd" not in attrs or self._state is not None):
                self._cost(attrs)
            _emit(self.operation, self.start_ns, self.end_ns, self.trace_id, self.span_id,
                  self.parent_id, self.status, attrs or None)
        except Exception:  # tracing never raises into the application
            pass
        return False

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Literal[False]:
        return self.__exit__(et, exc, tb)

    def _leave(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                _current.reset(token)
                if self._otel is not None:
                    self._otel = _otel.detach(self._otel)
            except ValueError:  # exited in another context (a task or thread): restore by hand
                if _current.get() is self:
                    _current.set(None)
                if self._otel is not None:
                    self._otel = _otel.detach(self._otel, False)

    def end(self, exc: Optional[BaseException] = None) -> None:
        """End the span now (``with`` does this for you). Ending twice emits once."""
        if self.end_ns:
            return
        self.end_ns = _now()
        try:
            if exc is not None:
                self.error(exc)
            attrs = self.attrs
            if attrs:
                self._cost(attrs)
            _emit(self.operation, self.start_ns, self.end_ns, self.trace_id, self.span_id,
                  self.parent_id, self.status, attrs or None)
        except Exception:  # tracing never raises into the application
            pass

    def _cost(self, attrs: Dict[str, Any]) -> None:
        cost = attrs.get("cost_usd")
        if cost is None and "model" in attrs and ("tokens_in" in attrs or "tokens_out" in attrs):
            cost = _costs.price(attrs)  # an unknown model is flagged unpriced
        if self._state is not None and isinstance(cost, (int, float)) and cost == cost:
            self._state.add(float(cost))

    # ---- attributes ----
    def set(self, **attrs: Any) -> Self:
        """Add or replace attributes."""
        self.attrs.update(attrs)
        return self

    def usage(self, tokens_in: Optional[int] = None, tokens_out: Optional[int] = None, cache_read: Optional[int] = None,
              cache_write: Optional[int] = None, reasoning: Optional[int] = None,
              cache_write_1h: Optional[int] = None) -> Self:
        """Token counts with OpenTelemetry GenAI semantics: ``tokens_in`` includes cache reads and
        writes, ``tokens_out`` includes reasoning tokens; ``cache_write_1h`` is the part of the
        cache writes made with a one-hour lifetime (priced apart: Anthropic charges 2× input)."""
        a = self.attrs
        if tokens_in is not None:
            a["tokens_in"] = tokens_in
        if tokens_out is not None:
            a["tokens_out"] = tokens_out
        if cache_read is not None:
            a["tokens_cache_read"] = cache_read
        if cache_write is not None:
            a["tokens_cache_write"] = cache_write
        if reasoning is not None:
            a["tokens_reasoning"] = reasoning
        if cache_write_1h is not None:
            a["tokens_cache_write_1h"] = cache_write_1h
        return self

    def record(self, response: Any) -> Self:
        """Read model, usage and finish reason from an OpenAI or Anthropic response (or a dict of
        the same shape). Never raises."""
        try:
            found = from_response(response)
        except Exception:
            return self
        for k, v in found.items():
            if v is not None and (k not in ("model", "provider") or k not in self.attrs):
                self.attrs[k] = v
        return self

    def score(self, name: str, value: float) -> Self:
        """An eval score for this span (``score.<name>``); after the span ended it is sent as a
        linked ``eval.result``."""
        if self.end_ns:
            late_score(name, value, self)
        else:
            self.attrs["score." + str(name)] = value
        return self

    def error(self, exc_or_message: Union[BaseException, str]) -> Self:
        """Mark the span failed, with ``error`` and ``error_type``."""
        self.status = "error"
        if isinstance(exc_or_message, BaseException):
            self.attrs["error_type"] = type(exc_or_message).__name__
            try:
                msg = str(exc_or_message)
            except Exception:
                msg = repr(type(exc_or_message))
        else:
            msg = str(exc_or_message)
        self.attrs["error"] = msg[:MAX_ERROR_CHARS]
        return self

    @property
    def cost_usd(self) -> Optional[float]:
        """This span's cost so far (given, or computed from tokens and the price table)."""
        c = self.attrs.get("cost_usd")
        if c is None and "model" in self.attrs:
            c = _costs.estimate(self.attrs)
        return c

    @property
    def traceparent(self) -> str:
        return "00-%s-%s-01" % (self.trace_id, self.span_id[-16:])

    def __repr__(self) -> str:
        return f"<mist.Span {self.operation!r} trace={self.trace_id} span={self.span_id}>"


class Trace(Span):
    """A root span: ``with mist.trace("agent-run", budget_usd=0.50) as t: ...``.

    ``traceparent`` (a W3C header value) continues a caller's trace; ``budget_usd`` caps the
    trace's cost: the first traced step that starts after it is spent raises ``BudgetExceeded``.
    """

    __slots__ = ()

    def __init__(self, name: str, *, budget_usd: Optional[float] = None, traceparent: Optional[str] = None, **attrs: Any) -> None:
        super().__init__(name, **attrs)
        outer = _otel.outer_parent() if _OTEL in _modules else None
        self.parent_id = None
        if traceparent:
            m = _TRACEPARENT.match(traceparent.strip().lower()) if isinstance(traceparent, str) else None
            if m and m.group(1) != "ff" and m.group(2) != "0" * 32 and m.group(3) != "0" * 16:
                self.trace_id = m.group(2)
                self.parent_id = m.group(3)
            else:
                self.trace_id = _new_trace_id()  # malformed header: start a fresh trace, never raise
        elif outer is not None:  # inside an OpenTelemetry span (not a mist one): join its trace
            self.trace_id, self.parent_id = outer
        else:
            self.trace_id = _new_trace_id()
        if budget_usd is not None and (isinstance(budget_usd, bool) or not isinstance(budget_usd, (int, float)) or budget_usd < 0):
            raise ConfigError(f"mist.trace(budget_usd={budget_usd!r}): expected a non-negative number of dollars")
        self._state = _TraceState(self.trace_id, None if budget_usd is None else float(budget_usd))
        if budget_usd is not None:
            self.attrs["budget_usd"] = float(budget_usd)

    def __enter__(self) -> Self:
        self._token = _current.set(self)
        if _OTEL in _modules:  # OpenTelemetry sees this trace as its current span
            self._otel = _otel.attach(self)
        self.start_ns = _now()
        return self

    @property
    def spent_usd(self) -> float:
        """The cost of every span of this trace that has ended so far."""
        return self._state.spent if self._state is not None else 0.0

    @property
    def budget_usd(self) -> Optional[float]:
        """The ``budget_usd`` this trace was given (None: no budget)."""
        return self._state.budget if self._state is not None else None


span = Span
trace = Trace

if TYPE_CHECKING:
    # context.py and scores.py are below this module (it imports them), so they cannot name Span:
    # their public functions are re-exported from here, declared for checkers with Span in their types
    def current_span() -> Optional[Span]:
        """The innermost open span in this context (a :class:`mist.Span`), or None."""

    def score(name: str, value: float, *, span: Optional[Span] = None) -> None:
        """Attach an eval score to ``span`` (default: the current span). While the span is open it
        becomes the attr ``score.<name>``; once it has ended, a linked ``eval.result`` is sent."""
else:
    from .context import current_span
    from .scores import score
