"""pytest fixtures for testing code that mist traces (loaded by pytest when mist-trace is installed).

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

This file imports only pytest, and mist when a test first asks for a fixture; tests that do not
are left alone. It relies on nothing of the package around it, so that it can be loaded as a
top-level module: loaded as ``mist.pytest_plugin``, Python imports the ``mist`` package first,
which configures mist from the environment before a user's conftest has set it
(tests/test_pytest_plugin.py shows both).
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
