"""``mist.instrument(client)``: trace every model call of an OpenAI or Anthropic client.

    client = mist.instrument(openai.OpenAI())
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])   # one "chat" span

Works on ``openai.OpenAI`` / ``AsyncOpenAI`` (and their Azure subclasses) and ``anthropic.Anthropic``
/ ``AsyncAnthropic``, recognised by class name and module, without importing either SDK. The client
is patched in place (its resource objects get a traced ``create``) and returned; instrumenting it
again changes nothing, and ``client.with_options(...)`` / ``client.copy(...)`` return instrumented
copies. Traced methods and their span operation:

==========================================  ==============  =====================================
method                                      operation       notes
==========================================  ==============  =====================================
``chat.completions.create`` / ``.parse``    ``chat``        ``stream=True`` supported
``chat.completions.stream(...)``            ``chat``        SDK helper (goes through ``create``)
``responses.create`` / ``.parse``           ``responses``   ``stream=True`` supported
``responses.stream(...)``                   ``responses``   SDK helper (goes through ``create``)
``embeddings.create``                       ``embeddings``
``completions.create`` (legacy)             ``text_completion``
``messages.create`` / ``.parse``            ``messages``    Anthropic; ``stream=True`` supported
``messages.stream(...)``                    ``messages``    Anthropic helper (``text_stream``,
                                                            ``get_final_message()`` …)
==========================================  ==============  =====================================

Each span carries ``model`` (the request's, replaced by the model the response names, e.g. a dated
snapshot), ``provider``, token counts with OpenTelemetry GenAI semantics (``tokens_in`` includes
cache reads and writes, ``tokens_out`` includes reasoning — Anthropic's cache-exclusive
``input_tokens`` are summed), ``finish_reason``, ``latency_ms`` and, once it ends, ``cost_usd``
from the price table. A failing call gets ``status: "error"``, ``error`` and ``error_type`` (the
SDK's exception class name); the exception itself is re-raised unchanged.

Streams. A streamed call returns a thin wrapper around the SDK's stream object that behaves like it
(iteration, ``with``, ``close()``, attributes such as ``.response``; ``isinstance`` still holds).
The span ends when the stream is exhausted, closed, raises, or is dropped unfinished
(``stream_end: "closed"`` / ``"abandoned"`` then says so); ``ttft_ms`` is the time to the first
event. Usage comes from the final events. OpenAI Chat Completions only report streamed usage when
asked, so when the caller did not pass ``stream_options``, ``{"include_usage": True}`` is added to
the request and the extra usage-only chunk this produces is consumed here, never shown to the
caller: the stream looks exactly as it would without instrumentation. Pass
``instrument(client, include_usage=False)`` to leave requests untouched (streamed chat spans then
have no token counts).

Budgets. Every traced call checks its trace's ``budget_usd`` before anything is sent: a call that
would start over budget raises :class:`mist.BudgetExceeded` and no request leaves the process.

Content. With ``capture_content`` on, the request's messages (``input``) and the output text
(``output``) are recorded, passed through the configured redactor (secrets removed, size-capped).
Off by default.

Tracing never breaks the application: a failure inside the instrumentation is swallowed and the
original call proceeds untraced.
"""
from __future__ import annotations

import functools
import inspect
import sys
import time
import types
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

from .core import runtime as _runtime
from .errors import BudgetExceeded
from .tracing import Span
from .core.backend import core
from .usage import AnthropicStreamUsage, OpenAIStreamUsage, from_response

__all__ = ["instrument", "is_instrumented"]

_MARK = "_mist_instrumented"
_ORIGINAL = "__mist_original__"
_RAW_HEADER = "X-Stainless-Raw-Response"

# How each traced method is handled.
_PLAIN = "plain"  # request -> response object
_STREAMABLE = "streamable"  # may return a stream when stream=True
_OPENAI_HELPER = "openai_helper"  # .stream(...) helper that calls the traced create() itself
_ANTHROPIC_HELPER = "anthropic_helper"  # .stream(...) helper that bypasses create()

# (resource path on the client, method, span operation, handling)
_OPENAI_METHODS: Tuple[Tuple[Tuple[str, ...], str, str, str], ...] = (
    (("chat", "completions"), "create", "chat", _STREAMABLE),
    (("chat", "completions"), "parse", "chat", _PLAIN),
    (("chat", "completions"), "stream", "chat", _OPENAI_HELPER),
    (("responses",), "create", "responses", _STREAMABLE),
    (("responses",), "parse", "responses", _PLAIN),
    (("responses",), "stream", "responses", _OPENAI_HELPER),
    (("embeddings",), "create", "embeddings", _PLAIN),
    (("completions",), "create", "text_completion", _STREAMABLE),
)
_ANTHROPIC_METHODS: Tuple[Tuple[Tuple[str, ...], str, str, str], ...] = (
    (("messages",), "create", "messages", _STREAMABLE),
    (("messages",), "parse", "messages", _PLAIN),
    (("messages",), "stream", "messages", _ANTHROPIC_HELPER),
)

# API hosts → OpenTelemetry ``gen_ai.provider.name`` values (a suffix match on the base URL host).
_HOSTS: Tuple[Tuple[str, str], ...] = (
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure.ai.openai"),
    ("api.anthropic.com", "anthropic"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("openrouter.ai", "openrouter"),
    ("api.together.xyz", "together_ai"),
    ("api.together.ai", "together_ai"),
    ("api.fireworks.ai", "fireworks"),
    ("api.perplexity.ai", "perplexity"),
    ("api.cerebras.ai", "cerebras"),
)

_perf = time.perf_counter_ns


# ---------------------------------------------------------------------------------------- public


def instrument(client: Any, *, include_usage: bool = True) -> Any:
    """Trace every model call of ``client`` (OpenAI, AsyncOpenAI, Anthropic, AsyncAnthropic).

    Patches the client in place and returns it; calling it twice does not double-trace.
    ``include_usage=False`` stops the ``stream_options={"include_usage": True}`` that is otherwise
    added to streamed Chat Completions requests that set no ``stream_options``. An object that is
    not a supported client is returned unchanged with a ``RuntimeWarning``; ``MIST_DISABLED=1``
    returns every client unchanged.
    """
    if _runtime.disabled or client is None:
        return client
    try:
        if getattr(client, _MARK, False):
            return client
        info = _ClientInfo.detect(client, include_usage)
        if info is None:
            warnings.warn(
                f"mist.instrument: {type(client).__module__}.{type(client).__qualname__} is not an OpenAI or "
                "Anthropic client (openai.OpenAI, AsyncOpenAI, anthropic.Anthropic, AsyncAnthropic); "
                "it was left untraced",
                RuntimeWarning,
                stacklevel=2,
            )
            return client
        _patch(client, info)
    except Exception:  # instrumentation must never break the application
        pass
    return client


def is_instrumented(client: Any) -> bool:
    """True when :func:`instrument` has patched ``client``."""
    return bool(getattr(client, _MARK, False))


# ---------------------------------------------------------------------------------------- clients


class _ClientInfo:
    """What every traced call of one client shares."""

    __slots__ = ("family", "is_async", "provider", "provider_fixed", "include_usage")

    def __init__(self, family: str, is_async: bool, provider: str, provider_fixed: bool, include_usage: bool) -> None:
        self.family = family
        self.is_async = is_async
        self.provider = provider
        self.provider_fixed = provider_fixed
        self.include_usage = include_usage

    @classmethod
    def detect(cls, client: Any, include_usage: bool) -> "Optional[_ClientInfo]":
        family = None
        is_async = False
        names: List[str] = []
        for klass in type(client).__mro__:
            name = klass.__name__
            names.append(name)
            root = (getattr(klass, "__module__", "") or "").split(".", 1)[0]
            if family is None:
                if root == "openai" or name in ("OpenAI", "AsyncOpenAI", "AzureOpenAI", "AsyncAzureOpenAI"):
                    family = "openai"
                elif root == "anthropic" or name in ("Anthropic", "AsyncAnthropic"):
                    family = "anthropic"
            if name == "AsyncAPIClient" or (name.startswith("Async") and root in ("openai", "anthropic")):
                is_async = True
        if family is None:
            return None
        kind = " ".join(names)
        provider, fixed = family, False
        if family == "anthropic":
            if "Bedrock" in kind:
                provider, fixed = "aws.bedrock", True
            elif "Vertex" in kind:
                provider, fixed = "gcp.vertex_ai", True
        elif "Azure" in kind:
            provider, fixed = "azure.ai.openai", True
        if not fixed:
            host = _host(getattr(client, "base_url", None))
            for suffix, name in _HOSTS:
                if host == suffix or host.endswith("." + suffix):
                    provider, fixed = name, True
                    break
        return cls(family, is_async, provider, fixed, bool(include_usage))


def _host(url: Any) -> str:
    if url is None:
        return ""
    host = getattr(url, "host", None)
    if not isinstance(host, str):
        from urllib.parse import urlsplit

        try:
            host = urlsplit(str(url)).hostname or ""
        except Exception:
            host = ""
    return host.lower().rstrip(".")


def _patch(client: Any, info: _ClientInfo) -> None:
    methods = _OPENAI_METHODS if info.family == "openai" else _ANTHROPIC_METHODS
    for path, name, op, handling in methods:
        try:
            target = client
            for attr in path:
                target = getattr(target, attr)
            original = getattr(target, name, None)
            if original is None or not callable(original) or getattr(original, _ORIGINAL, None) is not None:
                continue
            wrapper = _make_wrapper(original, op, handling, info)
            if wrapper is not None:
                setattr(target, name, wrapper)
        except Exception:  # a resource this SDK version lacks, or one that refuses patching
            continue
    for name in ("copy", "with_options"):
        try:
            original = getattr(client, name, None)
            if callable(original) and getattr(original, _ORIGINAL, None) is None:
                setattr(client, name, _copy_wrapper(original, info.include_usage))
        except Exception:
            continue
    try:
        setattr(client, _MARK, True)
    except Exception:
        pass


def _copy_wrapper(original: Callable[..., Any], include_usage: bool) -> Callable[..., Any]:
    @functools.wraps(original)
    def copied(*args: Any, **kwargs: Any) -> Any:
        new = original(*args, **kwargs)
        return instrument(new, include_usage=include_usage)

    setattr(copied, _ORIGINAL, original)
    return copied


def _make_wrapper(original: Callable[..., Any], op: str, handling: str, info: _ClientInfo) -> Callable[..., Any]:
    if handling == _OPENAI_HELPER:
        wrapper = _openai_helper_wrapper(original)
    elif handling == _ANTHROPIC_HELPER:
        wrapper = _anthropic_helper_wrapper(original, op, info)
    elif info.is_async:
        wrapper = _async_wrapper(original, op, handling == _STREAMABLE, info)
    else:
        wrapper = _sync_wrapper(original, op, handling == _STREAMABLE, info)
    setattr(wrapper, _ORIGINAL, original)
    return wrapper


# ---------------------------------------------------------------------------------------- one call


class _Call:
    """One traced request: its span, what to capture, and how its answer is read."""

    __slots__ = ("span", "op", "info", "capture", "hide_usage", "t0", "raw_mode")

    def __init__(self, span: Span, op: str, info: _ClientInfo, t0: int = 0) -> None:
        self.span = span
        self.op = op
        self.info = info
        self.t0 = t0  # set by start(), once the span is entered
        self.capture = False
        self.hide_usage = False
        self.raw_mode: Optional[str] = None

    @classmethod
    def start(cls, op: str, info: _ClientInfo, kwargs: Dict[str, Any], streamable: bool) -> "Optional[_Call]":
        """The call's span, entered (current, budget checked); None when tracing itself failed.

        Raises :class:`BudgetExceeded` when the trace is over budget: nothing has been sent.
        May add ``stream_options`` to ``kwargs`` (see the module docstring)."""
        span = _begin_call(op, kwargs, info.provider) or _enter(op, info, kwargs)
        if span is None:
            return None
        try:
            call = cls(span, op, info)
            call.capture = bool(_runtime.settings.capture_content)
            headers = kwargs.get("extra_headers")
            if headers:
                try:
                    mode = headers.get(_RAW_HEADER)
                    call.raw_mode = mode if isinstance(mode, str) else None
                except Exception:
                    pass
            if call.capture:
                _capture(span, "input", _request_content(op, kwargs))
        except Exception:
            span._leave()
            return None
        if streamable and op == "chat" and info.include_usage and kwargs.get("stream") is True:
            try:
                if _not_given(kwargs.get("stream_options", _ABSENT)):
                    kwargs["stream_options"] = {"include_usage": True}
                    call.hide_usage = True
            except Exception:
                pass
        call.t0 = _perf()
        return call

    # -- outcomes (never raise) --

    def failed(self, exc: BaseException) -> None:
        try:
            self.span._leave()
            self.span.attrs["latency_ms"] = _ms(_perf() - self.t0)
        except Exception:
            pass
        self.end(exc)

    def end(self, exc: Optional[BaseException] = None) -> None:
        """End the span; an exception's message is redacted first (API errors can quote input)."""
        if exc is not None:
            try:
                span = self.span
                span.error(exc)
                span.attrs["error"] = _redactor().redact_text(span.attrs.get("error", ""))
            except Exception:
                pass
        self.span.end()

    def returned(self, result: Any, stream_async: Optional[bool]) -> Any:
        """Record a response and end the span, or wrap a stream so it ends the span later."""
        try:
            self.span._leave()
            if stream_async is not None:
                if stream_async and hasattr(type(result), "__anext__"):
                    return _TracedAsyncStream(result, _StreamTrace(self))
                if not stream_async and hasattr(type(result), "__next__"):
                    return _TracedStream(result, _StreamTrace(self))
            parsed = result
            if self.raw_mode is not None:
                parsed = None
                if self.raw_mode != "stream" and stream_async is None:  # with_raw_response: body already read
                    parse = getattr(result, "parse", None)
                    parsed = parse() if callable(parse) else None  # the SDK caches it for the caller
                    if inspect.isawaitable(parsed):
                        parsed.close()  # type: ignore[union-attr]
                        parsed = None
            if parsed is not None:
                self.merge(from_response(parsed))
                if self.capture:
                    _capture(self.span, "output", _response_content(self.op, parsed))
            self.span.attrs["latency_ms"] = _ms(_perf() - self.t0)
        except Exception:
            pass
        self.span.end()
        return result

    def merge(self, found: Dict[str, Any]) -> None:
        _merge(self.span.attrs, found, self.info)


class _Absent:
    __slots__ = ()


_ABSENT = _Absent()


def _not_given(value: Any) -> bool:
    """True for an argument the caller left out (absent, or the SDKs' ``omit`` / ``NOT_GIVEN``)."""
    return value is _ABSENT or type(value).__name__ in ("Omit", "NotGiven")


def _ms(ns: int) -> float:
    """Nanoseconds as milliseconds rounded to 3 places: exactly ``round(ns / 1e6, 3)``, in integer
    arithmetic except at the exact ties. (Float ``round`` with digits goes through a decimal
    conversion: ~1 µs warm, ~10 µs when its code is out of cache, as it is after a network call.)"""
    if type(ns) is int and 0 <= ns < 9007199254740992:  # 2**53: ns / 1e6 is within 2**-53 of exact
        r = ns % 1000
        if r != 500:  # not a tie: the nearest multiple of 1 µs, whichever way the float rounds
            return (ns // 1000 + (r > 500)) / 1000
    return round(ns / 1e6, 3)


# ---------------------------------------------------------------------------------------- wrappers


def _sync_wrapper(original: Callable[..., Any], op: str, streamable: bool, info: _ClientInfo) -> Callable[..., Any]:
    add_usage = streamable and op == "chat" and info.include_usage

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        if streamable and kwargs.get("stream") is True:
            if "extra_headers" not in kwargs and not _runtime.settings.capture_content:
                # the common stream: the native proxy is the call's span, stream and accumulator
                stream = _begin_stream(op, kwargs, info.provider, info.family, info.provider_fixed, add_usage, info)
                if stream is not None:
                    try:
                        result = original(*args, **kwargs)
                    except BaseException as exc:
                        stream._mist_failed(exc)
                        raise
                    attached = stream._mist_attach(result)
                    if attached is None:  # not a stream after all: recorded as a response
                        return _Call(stream._mist_span, op, info, stream._mist_t0).returned(result, None)
                    return attached
            return _sync_call(original, op, streamable, info, args, kwargs)
        if "extra_headers" in kwargs or _runtime.settings.capture_content:
            return _sync_call(original, op, streamable, info, args, kwargs)
        # the common call: one response object, nothing to capture
        span = _begin_call(op, kwargs, info.provider) or _enter(op, info, kwargs)
        if span is None:
            return original(*args, **kwargs)
        t0 = _perf()
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            _Call(span, op, info, t0).failed(exc)
            raise
        if not _finish_call(span, result, info.family, info.provider_fixed, t0):
            _finish(span, info, result, t0)
        return result

    return traced


def _sync_call(original: Callable[..., Any], op: str, streamable: bool, info: _ClientInfo, args: Any, kwargs: Dict[str, Any]) -> Any:
    """A call that may stream, asks for the raw response or captures content."""
    call = _Call.start(op, info, kwargs, streamable)
    if call is None:
        return original(*args, **kwargs)
    try:
        result = original(*args, **kwargs)
    except BaseException as exc:
        call.failed(exc)
        raise
    return call.returned(result, False if streamable and kwargs.get("stream") is True else None)


def _async_wrapper(original: Callable[..., Any], op: str, streamable: bool, info: _ClientInfo) -> Callable[..., Any]:
    @functools.wraps(original)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        if (streamable and kwargs.get("stream") is True) or "extra_headers" in kwargs or _runtime.settings.capture_content:
            call = _Call.start(op, info, kwargs, streamable)
            if call is None:
                return await original(*args, **kwargs)
            try:
                result = await original(*args, **kwargs)
            except BaseException as exc:
                call.failed(exc)
                raise
            return call.returned(result, True if streamable and kwargs.get("stream") is True else None)
        span = _begin_call(op, kwargs, info.provider) or _enter(op, info, kwargs)
        if span is None:
            return await original(*args, **kwargs)
        t0 = _perf()
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            _Call(span, op, info, t0).failed(exc)
            raise
        if not _finish_call(span, result, info.family, info.provider_fixed, t0):
            _finish(span, info, result, t0)
        return result

    return traced


# The common call (no stream, no raw response, no content capture) takes two functions, not the
# dozen of _Call's general path: it runs right after a network wait, with little of mist in the
# CPU caches, where every Python call costs microseconds rather than tens of nanoseconds. On the
# native backend the two are one native call each (rust/src/callspan.rs: `begin_call` is _enter,
# `finish_call` is _finish); they decline, having changed nothing, whatever is out of the ordinary
# (a budgeted trace, a response they do not read), which then takes _enter / _finish.


def _enter(op: str, info: _ClientInfo, kwargs: Dict[str, Any]) -> Optional[Span]:
    """The call's span, entered (current, budget checked); None when tracing itself failed.
    Raises :class:`BudgetExceeded` when the trace is over budget: nothing has been sent."""
    try:
        model = kwargs.get("model")
        span = Span(op, model=model if isinstance(model, str) else None, provider=info.provider)
    except Exception:
        return None
    try:
        span.__enter__()
    except BudgetExceeded:
        raise
    except Exception:
        return None
    return span


def _finish(span: Span, info: _ClientInfo, result: Any, t0: int) -> None:
    """Record a response (``_Call.returned`` for the common call) and end the span. Never raises."""
    try:
        latency = _perf() - t0
        span._leave()
        attrs = span.attrs
        if not _record_native(result, attrs, info.family, info.provider_fixed):
            _merge(attrs, from_response(result), info)
        attrs["latency_ms"] = _ms(latency)
    except Exception:
        pass
    span.end()


def _merge(attrs: Dict[str, Any], found: Dict[str, Any], info: _ClientInfo) -> None:
    """Found attrs into the span's: None values skipped; a provider only when it adds to the
    client's (not fixed by its host or class, and not just its family)."""
    for key, value in found.items():
        if value is None:
            continue
        if key == "provider" and (info.provider_fixed or value == info.family):
            continue
        attrs[key] = value


def _no_native_record(result: Any, attrs: Dict[str, Any], family: str, provider_fixed: bool) -> bool:
    """The pure core has no ``record_usage`` (the native one reads, merges and prices the common
    shapes as ``_merge(attrs, from_response(result), info)`` and ``Span._cost`` would)."""
    return False


_record_native = getattr(core, "record_usage", None) or _no_native_record


def _no_begin_call(op: str, kwargs: Dict[str, Any], provider: Any) -> None:
    """The pure core has no ``begin_call``: every call takes ``_enter``."""
    return None


def _no_finish_call(span: Span, result: Any, family: str, provider_fixed: bool, t0: int) -> bool:
    """The pure core has no ``finish_call``: every call takes ``_finish``."""
    return False


def _no_end_stream(span: Span, found: Dict[str, Any], family: str, provider_fixed: bool, t0: int, first: int) -> bool:
    """The pure core has no ``end_stream``: every stream ends in ``_StreamTrace.finish``."""
    return False


def _no_begin_stream(op: str, kwargs: Dict[str, Any], provider: Any, family: str, provider_fixed: bool, add_usage: bool,
                     info: _ClientInfo) -> None:
    """The pure core has no ``begin_stream``: every stream takes ``_Call.start`` and ``_TracedStream``."""
    return None


_begin_call = getattr(core, "begin_call", None) or _no_begin_call
_finish_call = getattr(core, "finish_call", None) or _no_finish_call
_end_stream = getattr(core, "end_stream", None) or _no_end_stream
# the native TracedStream (rust/src/tracedstream.rs) of a common sync stream, begun natively
_begin_stream = getattr(core, "begin_stream", None) or _no_begin_stream
_NativeStream: Any = getattr(core, "TracedStream", None)


def _stream_failed(span: Span, op: str, info: _ClientInfo, t0: int, exc: BaseException) -> None:
    """A native stream's request failed (``TracedStream._mist_failed``): ``_Call.failed``."""
    _Call(span, op, info, t0).failed(exc)


def _end_stream_py(span: Span, found: Dict[str, Any], info: _ClientInfo, op: str, t0: int, first: int,
                   exc: Optional[BaseException], how: str) -> None:
    """A native stream's end that its native half leaves to Python (an error to redact, a latency
    at a rounding tie, a span ended already): ``_StreamTrace.finish``'s Python half."""
    _close_stream(_Call(span, op, info, t0), found, first, exc, how)


def _openai_helper_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``chat.completions.stream`` / ``responses.stream``: the request goes through the traced
    ``create`` (which makes the span); the manager is wrapped only so that leaving its ``with``
    block ends the span even though the helper closes the HTTP response directly."""

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        if inspect.isawaitable(manager):  # not a manager this code knows: leave it alone
            return manager
        try:
            return _helper_manager(manager, None)
        except Exception:
            return manager

    return stream


def _anthropic_helper_wrapper(original: Callable[..., Any], op: str, info: _ClientInfo) -> Callable[..., Any]:
    """``messages.stream``: the SDK sends the request itself (not through ``create``), when its
    manager is entered. The span is made and the budget checked here, before any request."""

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        call = _Call.start(op, info, kwargs, False)
        if call is None:
            return original(*args, **kwargs)
        call.span._leave()
        try:
            manager = original(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        if inspect.isawaitable(manager):  # not a manager this code knows: trace nothing
            return manager
        try:
            return _helper_manager(manager, call)
        except Exception:
            call.span.end()
            return manager

    return stream


# ---------------------------------------------------------------------------------------- streams


class _StreamTrace:
    """What a traced stream shares with its finaliser: the call, the usage accumulator, the clock.

    Holds no reference to the stream wrapper, so a dropped wrapper is collected and ends the span."""

    __slots__ = ("call", "acc", "done", "first", "anthropic", "fast")

    def __init__(self, call: _Call) -> None:
        self.call = call
        self.anthropic = call.info.family == "anthropic"
        self.acc = AnthropicStreamUsage() if self.anthropic else OpenAIStreamUsage()
        self.done = False
        self.first = 0
        # events read natively (model, usage, finish reason) when their text is not captured
        self.fast = None if call.capture else (_feed_message_event if self.anthropic else _feed_chat_chunk)

    def feed(self, item: Any) -> bool:
        """Note one event; True when it is the usage-only chunk that ``include_usage`` added (the
        traced stream then skips it). Only events that can carry model, usage or finish reason
        reach the accumulator (all of them when the output text is captured): text deltas are most
        of a stream, and skipping them keeps the per-chunk cost near a microsecond."""
        try:
            if not self.first:
                self.first = _perf()
            elif not (self.call.capture or _carries_usage(item, self.anthropic)):
                return False  # a text delta (most of a stream): never the usage-only chunk
            acc = self.acc
            fast = self.fast
            if fast is not None and fast(acc, item):
                acc.events += 1
            else:
                acc.feed(item)
        except Exception:
            pass
        if self.call.hide_usage:
            try:  # the chunk include_usage adds: empty choices and a usage block
                return getattr(item, "usage", None) is not None and not getattr(item, "choices", None)
            except Exception:
                return False
        return False

    def finish(self, exc: Optional[BaseException] = None, how: str = "complete") -> None:
        if self.done:
            return
        self.done = True
        call = self.call
        if exc is None and how == "complete" and not call.capture:  # the common end, natively
            try:
                info = call.info
                if _end_stream(call.span, self.acc._attrs, info.family, info.provider_fixed, call.t0, self.first):
                    return
            except Exception:  # never raises into the caller's loop: the Python path ends it
                pass
        try:
            found = self.acc.attrs()
        except Exception:
            found = {}
        _close_stream(call, found, self.first, exc, how, self.acc)


def _close_stream(call: _Call, found: Dict[str, Any], first: int, exc: Optional[BaseException], how: str,
                  acc: Any = None) -> None:
    """End a stream's span in Python: what the events said (``found``), latency, time to the first
    event, how it ended when not by its end, the captured output text (from ``acc``)."""
    try:
        call.merge(found)
        attrs = call.span.attrs
        now = _perf()
        attrs["latency_ms"] = _ms(now - call.t0)
        if first:
            attrs["ttft_ms"] = _ms(first - call.t0)
        if how != "complete" and exc is None:
            attrs["stream_end"] = how
        if acc is not None and call.capture and acc.text_chars:
            _capture(call.span, "output", acc.text)
    except Exception:
        pass
    call.end(exc)


_NO_FIELD = object()
_ANTHROPIC_USAGE_EVENTS = frozenset(("message_start", "message_delta", "message_stop", "message"))


def _field(obj: Any, name: str) -> Any:
    """A field of a dict or a pydantic model without triggering its slow ``__getattr__`` on a miss;
    ``_NO_FIELD`` when the object does not declare it."""
    if type(obj) is dict:
        return obj.get(name, _NO_FIELD)
    fields = getattr(obj, "__dict__", None)
    if fields is not None:
        return fields.get(name, _NO_FIELD)
    return getattr(obj, name, _NO_FIELD)


def _may_carry_usage(item: Any, anthropic: bool) -> bool:
    """False only for events known to carry nothing but text (or nothing at all). Reads fields
    as :func:`_field` does, with one lookup of the event's fields for all of them."""
    if type(item) is dict:
        get: Callable[[str, Any], Any] = item.get
    else:
        fields = getattr(item, "__dict__", None)
        get = fields.get if fields is not None else functools.partial(getattr, item)
    kind = get("type", _NO_FIELD)
    if anthropic:
        return not isinstance(kind, str) or kind in _ANTHROPIC_USAGE_EVENTS
    if isinstance(kind, str):  # Responses API events: usage rides on response.completed & co.
        return not kind.endswith(".delta")
    usage = get("usage", _NO_FIELD)  # Chat Completions chunk
    if usage is not None:
        return True  # a usage block, or an unknown shape
    choices = get("choices", _NO_FIELD)
    if not isinstance(choices, list) or not choices:
        return True
    for choice in choices:  # _field(choice, "finish_reason"), inlined: this runs for every chunk
        fields = choice if type(choice) is dict else getattr(choice, "__dict__", None)
        if fields is None:
            if getattr(choice, "finish_reason", _NO_FIELD) is not None:
                return True
        elif fields.get("finish_reason", _NO_FIELD) is not None:
            return True
    return False


# The native twin when the extension runs (it answers True, the safe answer, wherever unsure).
_carries_usage = getattr(core, "may_carry_usage", None) or _may_carry_usage
_StreamTap = getattr(core, "StreamTap", None)
# twins of OpenAIStreamUsage._feed and AnthropicStreamUsage._feed, the text left out
_feed_chat_chunk = getattr(core, "feed_chat_chunk", None)
_feed_message_event = getattr(core, "feed_message_event", None)


class _StreamProxy:
    """What the sync and async stream wrappers share: they pass everything else through to the SDK
    stream (``isinstance(wrapper, openai.Stream)`` still holds) and end the span when dropped."""

    __slots__ = ("_mist_inner", "_mist_trace", "_mist_next", "__weakref__")

    def __init__(self, inner: Any, trace: _StreamTrace) -> None:
        object.__setattr__(self, "_mist_inner", inner)
        object.__setattr__(self, "_mist_trace", trace)
        object.__setattr__(self, "_mist_next", None)

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        return type(self._mist_inner)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_mist_"):
            raise AttributeError(name)
        return getattr(self._mist_inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._mist_inner, name, value)

    def __repr__(self) -> str:
        return repr(self._mist_inner)

    def __del__(self) -> None:
        try:
            trace = self._mist_trace
            if not trace.done and not sys.is_finalizing():
                trace.finish(None, "abandoned")
        except Exception:
            pass


class _TracedStream(_StreamProxy):
    """A sync SDK stream that ends its call's span when exhausted, closed, failed or dropped."""

    __slots__ = ()

    def _mist_iterator(self) -> Any:
        it = self._mist_next
        if it is None:
            inner = self._mist_inner
            it = inner if hasattr(type(inner), "__next__") else iter(inner)
            object.__setattr__(self, "_mist_next", it)
        return it

    def __iter__(self) -> Any:
        # `for chunk in stream`: the native tap takes each chunk through in one call, calling feed
        # and finish below as __next__ does; next(stream) and the pure core use __next__
        if _StreamTap is not None:
            try:
                trace = self._mist_trace
                call = trace.call
                return _StreamTap(self, self._mist_iterator(), trace, trace.anthropic, bool(call.capture), bool(call.hide_usage))
            except Exception:
                pass
        return self

    def __next__(self) -> Any:
        nxt = self._mist_iterator().__next__
        trace = self._mist_trace
        while True:
            try:
                item = nxt()
            except StopIteration:
                trace.finish()
                raise
            except BaseException as exc:
                trace.finish(exc)
                raise
            if trace.feed(item):
                continue
            return item

    def __enter__(self) -> "_TracedStream":
        enter = getattr(self._mist_inner, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            leave = getattr(self._mist_inner, "__exit__", None)
            return leave(et, exc, tb) if leave is not None else None
        finally:
            self._mist_trace.finish(None, "closed")

    def close(self) -> Any:
        try:
            return self._mist_inner.close()
        finally:
            self._mist_trace.finish(None, "closed")



class _TracedAsyncStream(_StreamProxy):
    """An async SDK stream that ends its call's span when exhausted, closed, failed or dropped."""

    __slots__ = ()

    def __aiter__(self) -> "_TracedAsyncStream":
        return self

    async def __anext__(self) -> Any:
        nxt = self._mist_next
        if nxt is None:
            inner = self._mist_inner
            nxt = inner.__anext__ if hasattr(type(inner), "__anext__") else inner.__aiter__().__anext__
            object.__setattr__(self, "_mist_next", nxt)
        trace = self._mist_trace
        while True:
            try:
                item = await nxt()
            except StopAsyncIteration:
                trace.finish()
                raise
            except BaseException as exc:
                trace.finish(exc)
                raise
            if trace.feed(item):
                continue
            return item

    async def __aenter__(self) -> "_TracedAsyncStream":
        enter = getattr(self._mist_inner, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            leave = getattr(self._mist_inner, "__aexit__", None)
            return (await leave(et, exc, tb)) if leave is not None else None
        finally:
            self._mist_trace.finish(None, "closed")

    async def close(self) -> Any:
        try:
            result = self._mist_inner.close()
            if inspect.isawaitable(result):
                result = await result
            return result
        finally:
            self._mist_trace.finish(None, "closed")



def _traced_raw(stream: Any) -> Any:
    """The trace of the traced raw stream an SDK helper stream reads from, if any: a
    ``_StreamTrace``, or for a native ``TracedStream`` the same ``done`` / ``finish`` on it."""
    raw = getattr(stream, "_raw_stream", None)
    if type(raw) in (_TracedStream, _TracedAsyncStream):
        return object.__getattribute__(raw, "_mist_trace")
    if _NativeStream is not None and type(raw) is _NativeStream:
        return _NativeTrace(raw)
    return None


class _NativeTrace:
    """A native ``TracedStream`` seen as the ``_StreamTrace`` an OpenAI helper manager ends."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    @property
    def done(self) -> bool:
        return bool(self._stream._mist_done)

    def finish(self, exc: Optional[BaseException] = None, how: str = "complete") -> None:
        self._stream._mist_finish(exc, how)


class _HelperManager:
    """Wraps an SDK stream-helper manager (``with client.messages.stream(...) as s``).

    Entering returns the SDK's own helper stream, so ``text_stream``, ``get_final_message()`` and
    the rest behave exactly as without instrumentation. With a ``call`` (Anthropic), the raw event
    stream under the helper is swapped for a traced one so every event is seen however the helper
    is consumed; without (OpenAI), the traced raw stream comes from ``create``. Leaving the block
    ends the span if the stream did not.
    """

    __slots__ = ("_mist_inner", "_mist_call", "_mist_stream", "_mist_trace")

    def __init__(self, manager: Any, call: Optional[_Call]) -> None:
        self._mist_inner = manager
        self._mist_call = call
        self._mist_stream: Any = None
        self._mist_trace: Any = None  # a _StreamTrace, or a _NativeTrace

    def _entered(self, stream: Any, is_async: bool) -> None:
        self._mist_stream = stream
        try:
            call = self._mist_call
            if call is None:
                self._mist_trace = _traced_raw(stream)
                return
            trace = _StreamTrace(call)
            self._mist_trace = trace
            raw = getattr(stream, "_raw_stream", None)
            if raw is not None:
                stream._raw_stream = (_TracedAsyncStream if is_async else _TracedStream)(raw, trace)
        except Exception:
            pass

    def _exited(self) -> None:
        trace = self._mist_trace
        if trace is None:
            call = self._mist_call
            if call is not None:
                call.span.end()
            return
        if not trace.done and self._mist_call is not None and trace.acc.events == 0:
            # The raw stream could not be swapped: read what the helper accumulated.
            try:
                snapshot = getattr(self._mist_stream, "current_message_snapshot", None)
                if snapshot is not None:
                    trace.feed({"type": "message_stop", "message": snapshot})
            except Exception:
                pass
        trace.finish(None, "closed")

    def _failed(self, exc: BaseException) -> None:
        call = self._mist_call
        if call is not None:
            call.failed(exc)

    def _restart_clock(self) -> None:
        call = self._mist_call
        if call is not None:
            call.span.start_ns = time.time_ns()
            call.t0 = _perf()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_mist_"):
            raise AttributeError(name)
        return getattr(self._mist_inner, name)

    def __repr__(self) -> str:
        return repr(self._mist_inner)


class _SyncHelperManager(_HelperManager):
    """A sync stream-helper manager (``with``)."""

    __slots__ = ()

    def __enter__(self) -> Any:
        self._restart_clock()
        try:
            stream = self._mist_inner.__enter__()
        except BaseException as exc:
            self._failed(exc)
            raise
        self._entered(stream, False)
        return stream

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._mist_inner.__exit__(et, exc, tb)
        finally:
            self._exited()


class _AsyncHelperManager(_HelperManager):
    """An async stream-helper manager (``async with``)."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        self._restart_clock()
        try:
            stream = await self._mist_inner.__aenter__()
        except BaseException as exc:
            self._failed(exc)
            raise
        self._entered(stream, True)
        return stream

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._mist_inner.__aexit__(et, exc, tb)
        finally:
            self._exited()


def _helper_manager(manager: Any, call: Optional[_Call]) -> _HelperManager:
    if hasattr(type(manager), "__aenter__") and not hasattr(type(manager), "__enter__"):
        return _AsyncHelperManager(manager, call)
    return _SyncHelperManager(manager, call)


# ---------------------------------------------------------------------------------------- content


def _capture(span: Span, key: str, value: Any) -> None:
    """Store redacted, size-capped content on the span; nothing when there is no content."""
    if value is None:
        return
    span.attrs[key] = _redactor().redact(value)


_fallback_redactor: Any = None


def _redactor() -> Any:
    """The configured redactor (``configure(redact=...)``), else the built-in patterns."""
    global _fallback_redactor
    redactor = _runtime.settings.redactor
    if redactor is not None:
        return redactor
    if _fallback_redactor is None:
        from .redact import Redactor

        _fallback_redactor = Redactor()
    return _fallback_redactor


def _given(value: Any) -> bool:
    return value is not None and not _not_given(value)


def _request_content(op: str, kwargs: Dict[str, Any]) -> Any:
    """The request's prompt as captured ``input``: a message list where the API has one."""
    if op == "chat":
        return kwargs.get("messages")
    if op == "messages":
        messages = kwargs.get("messages")
        system = kwargs.get("system")
        if _given(system) and isinstance(messages, (list, tuple)):
            return [{"role": "system", "content": system}] + list(messages)
        return messages
    if op == "responses":
        inp = kwargs.get("input")
        instructions = kwargs.get("instructions")
        if not _given(inp):
            inp = None
        if _given(instructions):
            msgs: List[Any] = [{"role": "system", "content": instructions}]
            if isinstance(inp, (list, tuple)):
                msgs.extend(inp)
            elif inp is not None:
                msgs.append({"role": "user", "content": inp})
            return msgs
        return inp
    if op == "text_completion":
        prompt = kwargs.get("prompt")
        return prompt if _given(prompt) else None
    inp = kwargs.get("input")
    return inp if _given(inp) else None


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _response_content(op: str, response: Any) -> Any:
    """The answer as captured ``output``: text, or the tool calls when there is no text."""
    if op == "chat" or op == "text_completion":
        choices = _get(response, "choices")
        if not choices:
            return None
        first = choices[0]
        if op == "text_completion":
            return _get(first, "text")
        message = _get(first, "message")
        content = _get(message, "content")
        if content is not None:
            return content
        calls = _get(message, "tool_calls")
        if calls:
            return [{"name": _get(_get(c, "function"), "name"), "arguments": _get(_get(c, "function"), "arguments")}
                    for c in calls]
        return None
    if op == "responses":
        text = _get(response, "output_text")
        if isinstance(text, str):
            return text
        parts = []
        for item in _get(response, "output") or ():
            for part in _get(item, "content") or ():
                if _get(part, "type") == "output_text":
                    parts.append(_get(part, "text") or "")
        return "".join(parts) if parts else None
    if op == "messages":
        texts, tools = [], []
        for block in _get(response, "content") or ():
            kind = _get(block, "type")
            if kind == "text":
                texts.append(_get(block, "text") or "")
            elif kind == "tool_use":
                tools.append({"name": _get(block, "name"), "input": _get(block, "input")})
        if texts:
            return "".join(texts)
        return tools or None
    return None  # embeddings: vectors are not content worth keeping
