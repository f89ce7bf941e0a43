"""``@mist.step``: each call of a function is a span (sync, async, generator, async generator)."""
from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, Callable, Optional, ParamSpec, TypeVar, Union, overload

from . import otel_bridge as _otel
from .context import _current
from .span import Span

_OTEL = _otel.MODULE
_modules = _otel.modules

P = ParamSpec("P")
R = TypeVar("R")


# For checkers, the decorated function keeps its exact signature: parameters (P) and return type
# (R), which for an async function is its coroutine and for a generator its Generator /
# AsyncGenerator, so one pair of overloads covers the four kinds of function.
@overload
def step(operation: Callable[P, R]) -> Callable[P, R]: ...
@overload
def step(operation: Optional[str] = None) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def step(operation: Union[str, Callable[..., Any], None] = None) -> Any:
    """Decorator: each call of the function is a span (sync, async, generator, async generator).

    ``@mist.step`` or ``@mist.step("plan")``. Inside a trace, spans get ``step`` = their index.
    """
    if callable(operation):
        return step(None)(operation)
    name = operation

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        op = name or str(getattr(fn, "__qualname__", getattr(fn, "__name__", "step")))

        def start() -> Span:
            sp = Span(op)
            if sp._state is not None:
                sp.attrs["step"] = sp._state.next_step()
            return sp

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                sp = start()
                sp.__enter__()
                sp._leave()
                agen = fn(*args, **kwargs)
                exc: Optional[BaseException] = None
                try:
                    sent: Any = None
                    while True:
                        token = _current.set(sp)
                        ot = _otel.attach(sp) if _OTEL in _modules else None
                        try:
                            item = await agen.asend(sent)
                        except StopAsyncIteration:
                            return
                        finally:
                            if ot is not None:
                                _otel.detach(ot)
                            _current.reset(token)
                        sent = yield item
                except GeneratorExit:
                    await agen.aclose()
                    raise
                except BaseException as e:
                    exc = e
                    raise
                finally:
                    sp.end(exc)

            return agen_wrapper

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                sp = start()
                sp.__enter__()
                sp._leave()
                gen = fn(*args, **kwargs)
                exc: Optional[BaseException] = None
                try:
                    sent: Any = None
                    while True:
                        token = _current.set(sp)
                        ot = _otel.attach(sp) if _OTEL in _modules else None
                        try:
                            item = gen.send(sent)
                        except StopIteration as stop:
                            return stop.value
                        finally:
                            if ot is not None:
                                _otel.detach(ot)
                            _current.reset(token)
                        sent = yield item
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as e:
                    exc = e
                    raise
                finally:
                    sp.end(exc)

            return gen_wrapper

        if asyncio.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with start():
                    return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with start():
                return fn(*args, **kwargs)

        return wrapper

    return deco
