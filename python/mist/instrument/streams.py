"""Traced streams: SDK streams (and stream-helper managers) that end their call's span when the
stream is exhausted, closed, fails or is dropped, on the thread that reads them."""
from __future__ import annotations

import inspect
import sys
import time
from typing import Any, Optional

_perf = time.perf_counter_ns


class Proxy:
    """Stands in for an SDK object: its attributes, ``isinstance`` and ``repr`` are the object's."""

    __slots__ = ("_mist_inner", "_mist_state", "__weakref__")

    def __init__(self, inner: Any, state: Any) -> None:
        object.__setattr__(self, "_mist_inner", inner)
        object.__setattr__(self, "_mist_state", state)

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
            if not sys.is_finalizing():
                self._mist_state.abandon()
        except Exception:
            pass


class StreamState:
    """A traced stream's call, accumulator and clock. Holds no reference to the stream's proxy, so
    a dropped proxy is collected and ends the span."""

    __slots__ = ("call", "acc", "it", "first", "hide", "done")

    def __init__(self, call: Any) -> None:
        self.call = call
        self.acc = call.info.module.Accumulator(keep_text=call.capture)
        self.it: Any = None  # the SDK stream's iterator, once iterated
        self.first = 0
        self.hide = call.hide_usage
        self.done = False

    def take(self, item: Any) -> bool:
        """Read one event; True to hide it from the caller (the usage-only chunk mist asked for)."""
        if not self.first:
            self.first = _perf()
        return self.acc.feed(item) and self.hide

    def finish(self, exc: Optional[BaseException] = None, how: str = "complete") -> None:
        if not self.done:
            self.done = True
            self.call.end_stream(self.acc, self.first, exc, how)

    def abandon(self) -> None:
        self.finish(None, "abandoned")


def traced_stream(result: Any, call: Any) -> Any:
    """``result`` (an SDK stream) wrapped to end ``call``'s span; None when it is not a stream."""
    if call.info.is_async:
        return TracedAsyncStream(result, StreamState(call)) if hasattr(type(result), "__anext__") else None
    return TracedStream(result, StreamState(call)) if hasattr(type(result), "__next__") else None


class TracedStream(Proxy):
    """A sync SDK stream (iteration, ``with``, ``close()``, attributes such as ``.response``)."""

    __slots__ = ()

    def __iter__(self) -> "TracedStream":
        return self

    def __next__(self) -> Any:
        state = self._mist_state
        it = state.it
        if it is None:
            inner = self._mist_inner
            it = state.it = inner if hasattr(type(inner), "__next__") else iter(inner)
        while True:
            try:
                item = next(it)
            except StopIteration:
                state.finish()
                raise
            except BaseException as exc:
                state.finish(exc)
                raise
            if not state.take(item):
                return item

    def __enter__(self) -> "TracedStream":
        enter = getattr(self._mist_inner, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            leave = getattr(self._mist_inner, "__exit__", None)
            return leave(et, exc, tb) if leave is not None else None
        finally:
            self._mist_state.finish(None, "closed")

    def close(self) -> Any:
        try:
            return self._mist_inner.close()
        finally:
            self._mist_state.finish(None, "closed")


class TracedAsyncStream(Proxy):
    """An async SDK stream (``async for``, ``async with``, ``await close()``, attributes)."""

    __slots__ = ()

    def __aiter__(self) -> "TracedAsyncStream":
        return self

    async def __anext__(self) -> Any:
        state = self._mist_state
        it = state.it
        if it is None:
            inner = self._mist_inner
            it = state.it = inner if hasattr(type(inner), "__anext__") else inner.__aiter__()
        while True:
            try:
                item = await it.__anext__()
            except StopAsyncIteration:
                state.finish()
                raise
            except BaseException as exc:
                state.finish(exc)
                raise
            if not state.take(item):
                return item

    async def __aenter__(self) -> "TracedAsyncStream":
        enter = getattr(self._mist_inner, "__aenter__", None)
        if enter is not None:
            await enter()
        return self

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            leave = getattr(self._mist_inner, "__aexit__", None)
            return (await leave(et, exc, tb)) if leave is not None else None
        finally:
            self._mist_state.finish(None, "closed")

    async def close(self) -> Any:
        try:
            result = self._mist_inner.close()
            return (await result) if inspect.isawaitable(result) else result
        finally:
            self._mist_state.finish(None, "closed")


# ---------------------------------------------------------------------------------------- helpers


class _Helper:
    """What a wrapped stream-helper manager knows: the call it sends (Anthropic) or None (OpenAI,
    whose helper sends through the traced ``create``), and the traced stream once entered."""

    __slots__ = ("call", "stream", "state")

    def __init__(self, call: Any) -> None:
        self.call = call
        self.stream: Any = None
        self.state: Any = None

    def abandon(self) -> None:
        pass  # an entered helper's stream ends the span; a manager never entered sent nothing

    def entering(self) -> None:
        call = self.call
        if call is not None:  # the request is sent now: the call starts now
            call.span.start_ns = time.time_ns()
            call.t0 = _perf()

    def failed(self, exc: BaseException) -> None:
        if self.call is not None:
            self.call.failed(exc)

    def entered(self, stream: Any, is_async: bool) -> None:
        """The helper's stream: with a call, its raw event stream is swapped for a traced one, so
        every event is seen however the helper is read; without, the traced raw stream is found."""
        self.stream = stream
        try:
            raw: Any = getattr(stream, "_raw_stream", None)
            if self.call is None:
                if type(raw) in (TracedStream, TracedAsyncStream):
                    self.state = raw._mist_state
                return
            self.state = StreamState(self.call)
            if raw is not None:
                stream._raw_stream = (TracedAsyncStream if is_async else TracedStream)(raw, self.state)
        except Exception:
            pass

    def exited(self) -> None:
        state = self.state
        if state is None:
            if self.call is not None:
                self.call.end()
            return
        if not state.done and self.call is not None and state.acc.events == 0:
            try:  # the raw stream could not be swapped: read what the helper accumulated
                snapshot = getattr(self.stream, "current_message_snapshot", None)
                if snapshot is not None:
                    state.acc.feed({"type": "message_stop", "message": snapshot})
            except Exception:
                pass
        state.finish(None, "closed")


class HelperManager(Proxy):
    """A sync stream-helper manager: entering returns the SDK's own helper stream, so
    ``text_stream``, ``get_final_message()`` and the rest behave as without instrumentation;
    leaving the block ends the span if the stream did not."""

    __slots__ = ()

    def __enter__(self) -> Any:
        helper = self._mist_state
        helper.entering()
        try:
            stream = self._mist_inner.__enter__()
        except BaseException as exc:
            helper.failed(exc)
            raise
        helper.entered(stream, False)
        return stream

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            return self._mist_inner.__exit__(et, exc, tb)
        finally:
            self._mist_state.exited()


class AsyncHelperManager(Proxy):
    """An async stream-helper manager (``async with``), as :class:`HelperManager`."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        helper = self._mist_state
        helper.entering()
        try:
            stream = await self._mist_inner.__aenter__()
        except BaseException as exc:
            helper.failed(exc)
            raise
        helper.entered(stream, True)
        return stream

    async def __aexit__(self, et: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self._mist_inner.__aexit__(et, exc, tb)
        finally:
            self._mist_state.exited()


def helper_manager(manager: Any, call: Any) -> Any:
    try:
        if hasattr(type(manager), "__aenter__") and not hasattr(type(manager), "__enter__"):
            return AsyncHelperManager(manager, _Helper(call))
        if hasattr(type(manager), "__enter__"):
            return HelperManager(manager, _Helper(call))
    except Exception:
        pass
    if call is not None:  # not a manager this code knows: trace nothing more
        call.end()
    return manager
