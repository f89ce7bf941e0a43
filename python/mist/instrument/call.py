"""One traced model call: its span begun (and the budget checked) before the request is sent,
ended on the caller's thread with what the answer says; and the wrappers that patch client methods."""
from __future__ import annotations

import functools
import time
from typing import Any, Callable, Dict, Optional

from ..core import runtime as _runtime
from ..errors import BudgetExceeded
from ..providers import from_response, openai as _openai
from ..tracing import Span
from .responses import traced_response
from .streams import helper_manager, traced_stream

_perf = time.perf_counter_ns
_RAW_HEADER = "X-Stainless-Raw-Response"  # set by the SDKs' with_raw_response / with_streaming_response


def _ms(ns: int) -> float:
    """Nanoseconds as milliseconds rounded to 3 places: exactly ``round(ns / 1e6, 3)``, in integer
    arithmetic except at exact ties (float ``round`` with digits goes through a decimal conversion:
    ~1 µs warm, ~10 µs with its code out of the CPU caches, as it is after a network call)."""
    if 0 <= ns < 9007199254740992:  # 2**53: ns / 1e6 is within 2**-53 of exact
        r = ns % 1000
        if r != 500:  # not a tie: the nearest multiple of 1 µs, whichever way the float rounds
            return (ns // 1000 + (r > 500)) / 1000
    return round(ns / 1e6, 3)


#: request parameters recorded on the span (kwarg → attr; exported as ``gen_ai.request.*``)
_REQUEST_PARAMS = (
    ("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"),
    ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"),
    ("max_tokens", "max_tokens"), ("max_completion_tokens", "max_tokens"), ("max_output_tokens", "max_tokens"),
    ("seed", "seed"), ("n", "choice_count"), ("candidate_count", "choice_count"),
    ("stop", "stop_sequences"), ("stop_sequences", "stop_sequences"),
)


def request_params(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The sampling parameters a request sets (numbers; stop strings), under their span attr names.
    SDK sentinels (``NOT_GIVEN``, ``omit``) and ``n=1`` are left out."""
    out: Dict[str, Any] = {}
    for kwarg, attr in _REQUEST_PARAMS:
        value = kwargs.get(kwarg)
        if value is None or attr in out:
            continue
        if attr == "stop_sequences":
            if isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
                out[attr] = value if isinstance(value, str) else list(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if not (attr == "choice_count" and value == 1):
                out[attr] = value
    return out


class Call:
    """One traced request: its span, what to capture, and how its answer is read."""

    __slots__ = ("span", "op", "info", "t0", "capture", "hide_usage")

    def __init__(self, span: Span, op: str, info: Any) -> None:
        self.span = span
        self.op = op
        self.info = info
        self.t0 = _perf()
        self.capture = False
        self.hide_usage = False

    @classmethod
    def begin(cls, op: str, info: Any, kwargs: Dict[str, Any]) -> "Optional[Call]":
        """The call's span, entered (the current span); None when tracing itself failed.

        Raises :class:`BudgetExceeded` when the trace is over budget: nothing has been sent.
        May add ``stream_options`` to ``kwargs`` (the package docstring says when)."""
        try:
            module = info.module
            model = module.request_model(kwargs) if hasattr(module, "request_model") else kwargs.get("model")
            span = Span(op, model=model if isinstance(model, str) and model else None, provider=info.provider)
        except Exception:
            return None
        try:
            span.__enter__()
        except BudgetExceeded:
            raise
        except Exception:
            return None
        call = cls(span, op, info)
        try:
            params = request_params(module.request_options(kwargs) if hasattr(module, "request_options") else kwargs)
            if params:
                span.attrs.update(params)
            if info.include_usage and kwargs.get("stream") is True:
                call.hide_usage = _openai.add_stream_usage(op, kwargs)
            if _runtime.settings.capture_content:
                call.capture = True
                call.put("input", info.module.request_content(op, kwargs))
        except Exception:
            pass
        call.t0 = _perf()
        return call

    def returned(self, result: Any, streaming: bool, kwargs: Dict[str, Any]) -> Any:
        """What the caller gets: a stream that ends the span when it ends, a raw response that is
        read when parsed, or the response itself, recorded (the span then ended)."""
        latency = _perf() - self.t0
        try:
            self.span._leave()
            headers = kwargs.get("extra_headers")
            mode = headers.get(_RAW_HEADER) if headers else None
            if mode is not None:
                return traced_response(result, self, streaming, mode)
            if streaming:
                stream = traced_stream(result, self)
                if stream is not None:
                    return stream
            self.span.attrs["latency_ms"] = _ms(latency)
            self.record(result)
        except Exception:
            pass
        self.end()
        return result

    def failed(self, exc: BaseException) -> None:
        self.span._leave()
        self.end(exc)

    def record(self, response: Any) -> None:
        """What the response says, into the span's attrs."""
        self.merge(from_response(response))
        if self.capture:
            self.put("output", self.info.module.response_content(self.op, response))

    def merge(self, found: Dict[str, Any]) -> None:
        """Found attrs into the span's: a provider only when it adds to the client's (one not
        fixed by its host or class, and not just its SDK family); a model the response names that
        differs from the requested one becomes ``model``, the requested one ``request_model``."""
        attrs, info = self.span.attrs, self.info
        for key, value in found.items():
            if value is not None and not (key == "provider" and (info.provider_fixed or value == info.family)):
                if key == "model" and "request_model" not in attrs:
                    requested = attrs.get("model")
                    if requested and requested != value:  # the response names a snapshot: keep both
                        attrs["request_model"] = requested
                attrs[key] = value

    def put(self, key: str, value: Any) -> None:
        """Captured content, redacted and size-capped (nothing when there is none)."""
        if value is not None:
            self.span.attrs[key] = redactor().redact(value)

    def end_stream(self, acc: Any, first: int, exc: Optional[BaseException], how: str) -> None:
        """End a stream's span: what its events said, time to the first event, how it ended when not
        by its end (``stream_end``), the streamed text when captured."""
        try:
            now = _perf()
            self.merge(acc.attrs())
            attrs = self.span.attrs
            attrs["latency_ms"] = _ms(now - self.t0)
            if first:
                attrs["ttft_ms"] = _ms(first - self.t0)
            if how != "complete" and exc is None:
                attrs["stream_end"] = how
            if self.capture and acc.text_chars:
                self.put("output", acc.text)
        except Exception:
            pass
        self.end(exc)

    def end(self, exc: Optional[BaseException] = None) -> None:
        """End the span (once); an exception's message is redacted first (API errors can quote input)."""
        span = self.span
        if span.end_ns:
            return
        try:
            if "latency_ms" not in span.attrs:
                span.attrs["latency_ms"] = _ms(_perf() - self.t0)
            if exc is not None:
                span.error(exc)
                span.attrs["error"] = redactor().redact_text(span.attrs.get("error", ""))
        except Exception:
            pass
        span.end()


_fallback_redactor: Any = None


def redactor() -> Any:
    """The configured redactor (``configure(redact=...)``), else the built-in patterns."""
    global _fallback_redactor
    configured = _runtime.settings.redactor
    if configured is not None:
        return configured
    if _fallback_redactor is None:
        from ..redact import Redactor

        _fallback_redactor = Redactor()
    return _fallback_redactor


# ---------------------------------------------------------------------------------------- wrappers


def wrap_call(original: Callable[..., Any], op: str, handling: str, info: Any) -> Callable[..., Any]:
    """A traced ``create`` / ``parse`` / ``generate_content``: sync or async as ``info`` says.
    ``handling``: "streamable" (a stream when ``stream=True``), "stream" (always), "plain"."""
    always, streamable = handling == "stream", handling == "streamable"
    if info.is_async:

        @functools.wraps(original)
        async def traced_async(*args: Any, **kwargs: Any) -> Any:
            call = Call.begin(op, info, kwargs)
            if call is None:
                return await original(*args, **kwargs)
            try:
                result = await original(*args, **kwargs)
            except BaseException as exc:
                call.failed(exc)
                raise
            return call.returned(result, always or streamable and kwargs.get("stream") is True, kwargs)

        return traced_async

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        call = Call.begin(op, info, kwargs)
        if call is None:
            return original(*args, **kwargs)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        return call.returned(result, always or streamable and kwargs.get("stream") is True, kwargs)

    return traced


def wrap_helper(original: Callable[..., Any], op: str, sends: bool, info: Any) -> Callable[..., Any]:
    """A traced stream helper (``.stream(...)``, which returns a manager for ``with``).

    OpenAI's helpers send their request through the traced ``create``, which makes the span; the
    manager is wrapped only so that leaving its block ends the span. Anthropic's ``messages.stream``
    sends the request itself when its manager is entered: the span is made and the budget checked
    here, before any request."""

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        call = Call.begin(op, info, kwargs) if sends else None
        if call is not None:
            call.span._leave()
        try:
            manager = original(*args, **kwargs)
        except BaseException as exc:
            if call is not None:
                call.failed(exc)
            raise
        return helper_manager(manager, call)

    return stream
