"""``mist.instrument(client)``: trace every model call of an OpenAI, Anthropic or google-genai client.

    client = mist.instrument(openai.OpenAI())
    client.chat.completions.create(model="gpt-4o-mini", messages=[...])   # one "chat" span

Works on ``openai.OpenAI`` / ``AsyncOpenAI`` (and their Azure subclasses), ``anthropic.Anthropic``
/ ``AsyncAnthropic`` and ``google.genai.Client`` (sync and ``client.aio``), recognised by class
name and module, without importing any SDK. The client
is patched in place (its resource objects get a traced ``create``) and returned; instrumenting it
again changes nothing, ``client.with_options(...)`` / ``client.copy(...)`` return instrumented
copies, and ``uninstrument(client)`` restores every patched method. Traced methods and their span
operation (the tables are ``METHODS`` in :mod:`mist.providers.openai`, ``.anthropic``, ``.gemini``):

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
``models.generate_content``                 ``generate_``   google-genai (also ``client.aio``);
``models.generate_content_stream``          ``content``     request parameters from ``config``
==========================================  ==============  =====================================

Each span carries ``model`` (the request's, replaced by the model the response names, e.g. a dated
snapshot), ``provider``, token counts with OpenTelemetry GenAI semantics (``tokens_in`` includes
cache reads and writes, ``tokens_out`` includes reasoning — Anthropic's cache-exclusive
``input_tokens`` are summed; ``tokens_cache_write_1h`` is the part of ``tokens_cache_write``
written with Anthropic's 1-hour TTL), ``finish_reason``, ``latency_ms`` and, once it ends,
``cost_usd`` from the price table. A failing call gets ``status: "error"``, ``error`` (redacted)
and ``error_type`` (the SDK's exception class name); the exception itself is re-raised unchanged.

Everything happens on the caller's thread: a call's span is complete (emitted, its cost charged to
the trace) when the call returns, or for a stream when its last event does.

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

Raw responses. ``with_raw_response`` calls are recorded from the body the SDK has read (an async
Anthropic one, and any ``stream=True`` one, when the caller parses it). ``with_streaming_response``
calls are recorded when the caller reads the answer (``.parse()``, ``.json()``; a parsed stream is
traced as above); the span ends then, or when the response is closed (leaving its ``with`` block),
whichever comes first.

Budgets. Every traced call checks its trace's ``budget_usd`` before anything is sent: a call that
would start over budget raises :class:`mist.BudgetExceeded` and no request leaves the process.

Content. With ``capture_content`` on, the request's messages (``input``) and the output text
(``output``) are recorded, passed through the configured redactor (secrets removed, size-capped).
Off by default.

Tracing never breaks the application: a failure inside the instrumentation is swallowed and the
original call proceeds untraced.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, List, Optional, Tuple, TypeVar

from .. import providers
from ..core import runtime as _runtime
from .call import wrap_call, wrap_helper

__all__ = ["instrument", "uninstrument", "is_instrumented"]

_MARK = "_mist_instrumented"  # on the client: the patches to undo, [(object, name, had its own attribute)]
_ORIGINAL = "__mist_original__"  # on a wrapper: the method it wraps
_CACHED = ("with_raw_response", "with_streaming_response")  # SDK cached properties that capture create

C = TypeVar("C")  # the client's own type: instrument() returns the client it was given


def instrument(client: C, *, include_usage: bool = True) -> C:
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
        if is_instrumented(client):
            return client
        info = ClientInfo.detect(client, include_usage)
        if info is None:
            warnings.warn(
                f"mist.instrument: {type(client).__module__}.{type(client).__qualname__} is not an OpenAI or "
                "Anthropic client (openai.OpenAI, AsyncOpenAI, anthropic.Anthropic, AsyncAnthropic) nor a "
                "google.genai.Client; "
                "it was left untraced",
                RuntimeWarning,
                stacklevel=2,
            )
            return client
        _patch(client, info)
    except Exception:  # instrumentation must never break the application
        pass
    return client


def uninstrument(client: C) -> C:
    """Undo :func:`instrument`: every patched method (and ``copy`` / ``with_options``) restored.
    Spans of calls already under way still end. Returns the client."""
    patches = getattr(client, _MARK, None)
    if not isinstance(patches, list):
        return client
    for target, name, own, original in reversed(patches):
        try:
            if own:
                setattr(target, name, original)
            else:
                delattr(target, name)
            for cached in _CACHED:
                vars(target).pop(cached, None)
        except Exception:
            pass
    try:
        delattr(client, _MARK)
    except Exception:
        pass
    return client


def is_instrumented(client: object) -> bool:
    """True when :func:`instrument` has patched ``client`` (and :func:`uninstrument` has not undone it)."""
    return isinstance(getattr(client, _MARK, None), list)


class ClientInfo:
    """What every traced call of one client shares."""

    __slots__ = ("family", "module", "is_async", "provider", "provider_fixed", "include_usage")

    def __init__(self, family: str, is_async: bool, provider: str, provider_fixed: bool, include_usage: bool) -> None:
        self.family = family
        self.module = providers.family(family)
        self.is_async = is_async
        self.provider = provider
        self.provider_fixed = provider_fixed
        self.include_usage = include_usage

    def async_twin(self) -> "ClientInfo":
        """The same client's async methods (google-genai's ``client.aio``)."""
        return ClientInfo(self.family, True, self.provider, self.provider_fixed, self.include_usage)

    @classmethod
    def detect(cls, client: Any, include_usage: bool) -> "Optional[ClientInfo]":
        if providers.gemini.is_client(client):
            return cls("gemini", type(client).__name__ == "AsyncClient", providers.gemini.client_provider(client),
                       True, bool(include_usage))
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
        provider: Any = None
        if family == "anthropic":
            provider = "aws.bedrock" if "Bedrock" in kind else "gcp.vertex_ai" if "Vertex" in kind else None
        elif "Azure" in kind:
            provider = "azure.ai.openai"
        if provider is None:
            provider = providers.provider_for_host(_host(getattr(client, "base_url", None)))
        return cls(family, is_async, provider or family, provider is not None, bool(include_usage))


def _host(url: Any) -> str:
    host = getattr(url, "host", None)
    if isinstance(host, str) or url is None:
        return host or ""
    from urllib.parse import urlsplit

    try:
        return urlsplit(str(url)).hostname or ""
    except Exception:
        return ""


def _patch(client: Any, info: ClientInfo) -> None:
    patches: List[Tuple[Any, str, bool, Any]] = []

    def replace(target: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(target, name, None)
        if not callable(original) or getattr(original, _ORIGINAL, None) is not None:
            return
        wrapper = make(original)
        setattr(wrapper, _ORIGINAL, original)
        own = name in vars(target)
        setattr(target, name, wrapper)
        patches.append((target, name, own, original))
        for cached in _CACHED:  # made again from the traced method when next used
            vars(target).pop(cached, None)

    twin = info.async_twin() if not info.is_async else info
    for path, name, op, handling in info.module.METHODS:
        try:
            target = client
            for attr in path:
                target = getattr(target, attr)
            if handling in ("helper", "sending_helper"):
                replace(target, name, lambda m: wrap_helper(m, op, handling == "sending_helper", info))
            else:
                replace(target, name, lambda m: wrap_call(m, op, handling, twin if path[0] == "aio" else info))
        except Exception:  # a resource this SDK version lacks, or one that refuses patching
            continue
    include_usage = info.include_usage
    for name in ("copy", "with_options"):
        try:
            replace(client, name, lambda m: _copier(m, include_usage))
        except Exception:
            continue
    setattr(client, _MARK, patches)


def _copier(original: Callable[..., Any], include_usage: bool) -> Callable[..., Any]:
    def copied(*args: Any, **kwargs: Any) -> Any:
        return instrument(original(*args, **kwargs), include_usage=include_usage)

    copied.__doc__ = getattr(original, "__doc__", None)
    return copied
