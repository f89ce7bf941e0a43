"""Uses of mist's API that a type checker MUST reject: each line marked ``# expect-error`` has to get
an error from mypy --strict and from pyright, and no other line may get one (tests/test_typing.py).

A decorator typed ``Any``, or an ``Any`` return, would let these through silently: this file is what
proves ``@mist.step`` and ``mist.wrap`` keep the ParamSpec, and ``mist.instrument`` the client type.
Never run.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List

import anthropic
import openai

import mist


@mist.step
def tokenize(text: str, *, lower: bool = False) -> List[str]:
    return text.split()


@mist.step("plan")
def plan(goal: str, steps: int = 3) -> Dict[str, int]:
    return {goal: steps}


@mist.step("fetch")
async def fetch(url: str) -> bytes:
    return url.encode()


@mist.step
def numbers(n: int) -> Iterator[int]:
    yield from range(n)


def work(item: int, scale: float = 1.0) -> float:
    return item * scale


def on_int(value: int) -> None:
    print(value)


def wrong_calls() -> None:
    tokenize(1)  # expect-error
    tokenize("a", upper=True)  # expect-error
    plan("x", "three")  # expect-error
    numbers("5")  # expect-error
    mist.wrap(work)("1")  # expect-error
    mist.wrap(work)(1, 2.0, 3)  # expect-error


def wrong_results() -> None:
    words: str = tokenize("a b")  # expect-error
    body: bytes = fetch("u")  # expect-error
    first: str = next(numbers(3))  # expect-error
    scaled: int = mist.wrap(work)(1)  # expect-error
    del words, body, first, scaled


def wrong_clients() -> None:
    client: anthropic.Anthropic = mist.instrument(openai.OpenAI())  # expect-error
    same: openai.AsyncOpenAI = mist.uninstrument(openai.OpenAI())  # expect-error
    del client, same


def wrong_spans() -> None:
    with mist.span("chat") as s:
        print(s.spent_usd)  # expect-error
        s.usage(tokens_in="812")  # expect-error
        s.score("q", "high")  # expect-error
    with mist.trace("run", budget_usd="lots"):  # expect-error
        pass
    with mist.trace("run") as t:
        label: str = t.budget_usd  # expect-error
        del label
    mist.current_span().set(a=1)  # expect-error


def wrong_api() -> None:
    mist.on_alert(on_int)  # expect-error
    mist.score("q", 0.5, span="span-id")  # expect-error
    mist.emit_span("op", "start", 2)  # expect-error
    mist.read("traces.jsonl", errors="ignore")  # expect-error
    mist.configure(sample="all")  # expect-error
    mist.configure(sink=42)  # expect-error
    flushed: str = mist.flush()  # expect-error
    counts: List[Any] = mist.stats()  # expect-error
    del flushed, counts
