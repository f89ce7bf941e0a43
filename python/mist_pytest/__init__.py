"""pytest fixtures for testing code that mist traces (the ``pytest11`` entry point ``mist``: loaded
by pytest when mist-trace is installed; ``-p no:mist`` turns it off).

    def test_agent_answers_with_the_small_model(mist_spans):
        run_my_agent("What is the capital of France?")
        chats = mist_spans(operation="chat")
        assert chats and all(s["attrs"]["model"].startswith("gpt-4o-mini") for s in chats)
        assert sum(s["attrs"].get("cost_usd", 0) for s in chats) < 0.01

Fixtures (each test gets its own; nothing is written to the configured sinks meanwhile):

``mist_spans``
    A callable: ``mist_spans()`` is the list of ``trace.span`` payloads traced so far in the test,
    in the order they ended; ``mist_spans(operation="chat")`` only that operation's. Each call
    flushes first, so spans that just ended are there.
``mist_capture``
    The :class:`mist.testing.Captured` behind it: ``spans(operation=None)``, ``alerts()``,
    ``messages(type=None)`` (whole MTTP envelopes), ``lines()`` (the encoded JSONL lines) and
    ``clear()``.

Both route every trace of the test to memory with :func:`mist.testing.capture` and restore the
previous sinks and settings afterwards. Options of :func:`mist.configure` for one test go in a
marker::

    @pytest.mark.mist_capture(capture_content=True, alerts=True)
    def test_prompt_is_recorded(mist_spans):
        ...

This module imports only pytest, and mist when a test first asks for a fixture; tests that do
not are left alone. It is a top-level module, not ``mist.pytest_plugin``: pytest loads plugins
before any conftest, and importing ``mist`` configures it from the environment, which a user's
conftest may not have set yet (tests/test_pytest_plugin.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from mist.testing import Captured

MARKER = "mist_capture"


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): mist.configure options (capture_content=True, alerts=True, …) "
                   "for the mist_capture and mist_spans fixtures of this test")


@pytest.fixture
def mist_capture(request: Any) -> Iterator["Captured"]:
    """Everything mist traces during the test, in memory (a :class:`mist.testing.Captured`)."""
    from mist.testing import capture

    options: Dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # the closest marker wins
        if marker.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes keyword options only (capture_content=True, "
                        f"…), not {marker.args!r}", pytrace=False)
        options.update(marker.kwargs)
    with capture(**options) as captured:
        yield captured


@pytest.fixture
def mist_spans(mist_capture: "Captured") -> Callable[..., List[Dict[str, Any]]]:
    """``mist_spans(operation=None)``: the span payloads traced so far in the test."""
    return mist_capture.spans
