"""``mist.instrument(client)`` for Google's ``google-genai`` SDK (``google.genai.Client``).

    client = mist.instrument(genai.Client())
    client.models.generate_content(model="gemini-2.5-flash", contents="...")   # one span

Traced: ``client.models.generate_content`` / ``generate_content_stream`` and their ``client.aio``
twins, as ``generate_content`` spans with ``model`` (the answer's ``model_version``),
``provider: "gcp.gemini"`` (``gcp.vertex_ai`` for a Vertex AI client), tokens from
``usage_metadata`` (``tokens_in`` includes cached content, ``tokens_out`` includes thoughts),
``finish_reason``, ``cost_usd``; streamed calls also ``ttft_ms`` and, when not read to the end,
``stream_end: "closed"``. Usage comes from the last chunk that carries it (Gemini repeats the
running totals on every chunk). Budgets are checked before the request is sent; errors mark the span
and are re-raised unchanged; content is captured (redacted) when capture is on.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..core import runtime as _runtime
from ..errors import BudgetExceeded
from ..providers import from_response
from ..tracing.span import Span
from ..providers.common import plain as _plain
from .call import redactor

OPERATION = "generate_content"
METHODS = (("models", "generate_content", False, False), ("models", "generate_content_stream", True, False),
           ("aio.models", "generate_content", False, True), ("aio.models", "generate_content_stream", True, True))


def is_client(client: Any) -> bool:
    """A ``google.genai`` client (``Client``, or the ``AsyncClient`` at ``client.aio``)."""
    for klass in type(client).__mro__:
        if (getattr(klass, "__module__", "") or "").startswith("google.genai") and klass.__name__ in ("Client", "AsyncClient"):
            return True
    return False


def patch(client: Any, original_attr: str) -> List[Tuple[Any, str, bool, Any]]:
    """Wrap the client's model-call methods; returns ``(target, name, had own attr, original)``."""
    provider = "gcp.gemini"
    try:
        if getattr(getattr(client, "_api_client", None), "vertexai", False):
            provider = "gcp.vertex_ai"
    except Exception:
        pass
    patches: List[Tuple[Any, str, bool, Any]] = []
    for path, name, streamed, is_async in METHODS:
        try:
            target = client
            for attr in path.split("."):
                target = getattr(target, attr)
            original = getattr(target, name)
            if getattr(original, original_attr, None) is not None:
                continue
            wrapper = _wrap(original, streamed, is_async, provider)
            setattr(wrapper, original_attr, original)
            own = name in vars(target)
            setattr(target, name, wrapper)
            patches.append((target, name, own, original))
        except Exception:
            continue
    return patches


def _begin(kwargs: Dict[str, Any], provider: str) -> Optional[Span]:
    """The call's span (not made current); raises BudgetExceeded before anything is sent."""
    try:
        model = kwargs.get("model")
        if isinstance(model, str):
            model = model.rsplit("/", 1)[-1]  # "models/gemini-2.5-flash"
        span = Span(OPERATION, model=model if isinstance(model, str) and model else None, provider=provider)
        st = span._state
    except Exception:
        return None
    if st is not None and st.budget is not None:
        st.check()
    try:
        if _runtime.settings.capture_content and kwargs.get("contents") is not None:
            span.attrs["input"] = redactor().redact(_plain(kwargs.get("contents")))
    except Exception:
        pass
    return span


def _read(span: Span, response: Any) -> None:
    found = from_response(response)
    for key, value in found.items():
        if value is not None and not (key == "provider" and "provider" in span.attrs):
            span.attrs[key] = value


def _finish(span: Span, exc: Optional[BaseException] = None, text: Optional[str] = None) -> None:
    try:
        if exc is not None:
            span.error(exc)
            span.attrs["error"] = redactor().redact_text(span.attrs.get("error", ""))
        elif text and _runtime.settings.capture_content:
            span.attrs["output"] = redactor().redact(text)
    except Exception:
        pass
    span.end()


def _text(response: Any) -> Optional[str]:
    try:
        parts = response.candidates[0].content.parts
        return "".join(p.text for p in parts if isinstance(getattr(p, "text", None), str))
    except Exception:
        return None


def _wrap(original: Callable[..., Any], streamed: bool, is_async: bool, provider: str) -> Callable[..., Any]:
    if not streamed and not is_async:
        def generate_content(*args: Any, **kwargs: Any) -> Any:
            span = _begin(kwargs, provider)
            if span is None:
                return original(*args, **kwargs)
            try:
                response = original(*args, **kwargs)
            except BaseException as exc:
                _finish(span, exc)
                raise
            try:
                _read(span, response)
                _finish(span, text=_text(response))
            except Exception:
                pass
            return response
        return generate_content

    if not streamed:
        async def agenerate_content(*args: Any, **kwargs: Any) -> Any:
            span = _begin(kwargs, provider)
            if span is None:
                return await original(*args, **kwargs)
            try:
                response = await original(*args, **kwargs)
            except BaseException as exc:
                _finish(span, exc)
                raise
            try:
                _read(span, response)
                _finish(span, text=_text(response))
            except Exception:
                pass
            return response
        return agenerate_content

    if not is_async:
        def generate_content_stream(*args: Any, **kwargs: Any) -> Any:
            span = _begin(kwargs, provider)
            if span is None:
                return original(*args, **kwargs)
            try:
                stream = original(*args, **kwargs)
            except BaseException as exc:
                _finish(span, exc)
                raise
            return _stream(span, stream)
        return generate_content_stream

    async def agenerate_content_stream(*args: Any, **kwargs: Any) -> Any:
        span = _begin(kwargs, provider)
        if span is None:
            return await original(*args, **kwargs)
        try:
            stream = await original(*args, **kwargs)
        except BaseException as exc:
            _finish(span, exc)
            raise
        return _astream(span, stream)
    return agenerate_content_stream


class _Chunks:
    """What a stream's chunks said so far."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self.parts: List[str] = []
        self.first = True

    def feed(self, chunk: Any) -> None:
        try:
            if self.first:
                self.first = False
                self.span.attrs["ttft_ms"] = round((time.time_ns() - self.span.start_ns) / 1e6, 3)
            if getattr(chunk, "usage_metadata", None) is not None or isinstance(chunk, dict):
                _read(self.span, chunk)
            if _runtime.settings.capture_content:
                piece = _text(chunk)
                if piece and sum(map(len, self.parts)) < 65536:
                    self.parts.append(piece)
        except Exception:
            pass

    def done(self, exc: Optional[BaseException] = None, closed: bool = False) -> None:
        if closed:
            self.span.attrs["stream_end"] = "closed"
        _finish(self.span, exc, "".join(self.parts) or None)


def _stream(span: Span, stream: Any) -> Any:
    chunks = _Chunks(span)
    try:
        for chunk in stream:
            chunks.feed(chunk)
            yield chunk
    except GeneratorExit:
        chunks.done(closed=True)
        raise
    except BaseException as exc:
        chunks.done(exc)
        raise
    chunks.done()


async def _astream(span: Span, stream: Any) -> Any:
    chunks = _Chunks(span)
    try:
        async for chunk in stream:
            chunks.feed(chunk)
            yield chunk
    except GeneratorExit:
        chunks.done(closed=True)
        raise
    except BaseException as exc:
        chunks.done(exc)
        raise
    chunks.done()



__all__ = ["is_client", "patch", "BudgetExceeded"]
