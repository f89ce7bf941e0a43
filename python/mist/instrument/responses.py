"""Raw responses (``with_raw_response`` / ``with_streaming_response``): the answer is recorded when
the caller reads it, and the span ends then or when the response is closed, whichever comes first."""
from __future__ import annotations

import inspect
from typing import Any

from .streams import Proxy, traced_stream


def traced_response(result: Any, call: Any, streaming: bool, mode: str) -> Any:
    """What a call made with the SDK's raw-response header returns to its caller."""
    if mode != "stream" and not streaming:  # with_raw_response: the body was read, record it now
        parse = getattr(result, "parse", None)
        parsed: Any = parse() if callable(parse) else None  # the SDK caches it for the caller
        if not inspect.iscoroutine(parsed):
            call.record(parsed)
            call.end()
            return result
        parsed.close()  # an async parse(): recorded when the caller awaits it
    return TracedResponse(result, ResponseState(call, streaming))


class ResponseState:
    """A raw response's call: ended when the response is parsed (a parsed stream ends it when the
    stream ends), closed, or dropped unread."""

    __slots__ = ("call", "streaming", "stream", "parsed")

    def __init__(self, call: Any, streaming: bool) -> None:
        self.call = call
        self.streaming = streaming
        self.stream: Any = None  # the traced stream parse() returned
        self.parsed: Any = None  # the SDK stream under it

    def read(self, value: Any) -> Any:
        """What the caller's ``parse()`` / ``json()`` gives: recorded, or traced if a stream."""
        try:
            call = self.call
            if not self.streaming:
                if not call.span.end_ns:
                    call.record(value)
                    call.end()
                return value
            if self.stream is not None:
                return self.stream if value is self.parsed else value
            stream = traced_stream(value, call)
            if stream is not None:
                self.stream, self.parsed = stream, value
                return stream
        except Exception:
            pass
        return value

    def finish(self, exc: Any = None, how: str = "closed") -> None:
        if self.stream is not None:
            self.stream._mist_state.finish(exc, how)
        else:
            self.call.end(exc)

    def abandon(self) -> None:
        if self.stream is None:  # a parsed stream ends the span itself
            self.call.end()


class TracedResponse(Proxy):
    """An SDK ``APIResponse`` (sync or async): ``parse()`` and ``json()`` are read, ``close()``
    ends the span; everything else is the SDK's."""

    __slots__ = ()

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._mist_read(self._mist_inner.parse(*args, **kwargs))

    def json(self, *args: Any, **kwargs: Any) -> Any:
        return self._mist_read(self._mist_inner.json(*args, **kwargs))

    def _mist_read(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            return self._mist_read_later(value)
        return self._mist_state.read(value)

    async def _mist_read_later(self, value: Any) -> Any:
        return self._mist_state.read(await value)

    def close(self) -> Any:
        state = self._mist_state
        try:
            result = self._mist_inner.close()
        except BaseException:
            state.finish()
            raise
        if inspect.isawaitable(result):
            return self._mist_close_later(result)
        state.finish()
        return result

    async def _mist_close_later(self, result: Any) -> Any:
        try:
            return await result
        finally:
            self._mist_state.finish()
