"""Shared fixtures. The whole suite runs once per backend (CI sets MIST_PURE_PYTHON=1 for the
second run); encoder tests also compare both cores directly in one process."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# Tests never write the default ./mist-traces.jsonl; each test configures what it needs.
os.environ.setdefault("MIST_SINK", "memory://")

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


def cores():
    from mist.core import pure as _pycore

    out = {"python": _pycore}
    try:
        from mist import _native

        out["native"] = _native
    except ImportError:  # pragma: no cover
        pass
    return out


@pytest.fixture(params=["native", "python"])
def core(request):
    """Each encoder core, by name: the same vectors run on both."""
    c = cores().get(request.param)
    if c is None:
        pytest.skip("native extension not built")
    return c


@pytest.fixture
def traced():
    """Capture what mist traces during a test (memory sink), restored afterwards."""
    import mist.testing
    from mist.alerts import pipeline as _alert_pipeline
    from mist.core import hooks

    hooks.drain()
    _alert_pipeline._engine = None  # each test starts with fresh detectors
    with mist.testing.capture() as cap:
        yield cap
    _alert_pipeline._engine = None


def compat_lines(name: str = "mist-go-canonical.jsonl"):
    with open(DATA / name, "rb") as f:
        return [line.rstrip(b"\n") for line in f if line.strip()]


def run_python(code: str, env=None, timeout=120, cwd=None):
    """Run a snippet in a fresh interpreter with this backend's environment."""
    import subprocess

    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd)


def read_jsonl(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


# --- the loopback LLM server (tests/llm_server.py), one per test module ------------------------

@pytest.fixture(scope="module")
def _server():
    from llm_server import LLMServer

    with LLMServer() as server:
        yield server


@pytest.fixture
def srv(_server):
    """The module's loopback OpenAI/Anthropic/Gemini server, reset for each test."""
    _server.reset()
    yield _server
