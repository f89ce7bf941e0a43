"""mist's OTLP sink against a real OTLP backend: an Arize Phoenix server (``pip install -e '.[phoenix]'``).

The test starts ``phoenix serve`` on loopback ports with a temporary working directory, exports a
traced agent run (an agent span, two LLM calls, a tool call) through ``otlp://``, and reads the
spans back through Phoenix's REST API (``GET /v1/projects/{project}/spans``): the LLM spans show
their model, token counts and cost, the tool span is a TOOL, the parents hold. Skipped, saying
why, where Phoenix is not installed or does not start.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest

import mist

PROJECT = "mist-phoenix-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read() or b"null")


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    exe = shutil.which("phoenix", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("arize-phoenix is not installed (pip install -e '.[phoenix]'): no real OTLP backend to test against")
    work = tmp_path_factory.mktemp("phoenix")
    port, grpc = _free_port(), _free_port()
    env = {**os.environ, "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_WORKING_DIR": str(work), "PHOENIX_TELEMETRY_ENABLED": "false"}
    for var in [k for k in env if k.startswith(("OTEL_", "MIST_"))]:
        env.pop(var)
    log = open(work / "phoenix.log", "wb")
    proc = subprocess.Popen([exe, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.skip(f"phoenix serve exited ({proc.returncode}): "
                            + (work / "phoenix.log").read_text(errors="replace")[-800:])
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.skip("phoenix serve did not answer within 120 s: "
                                + (work / "phoenix.log").read_text(errors="replace")[-800:])
                time.sleep(0.5)
        yield base, port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _flat(d: Any, prefix: str = "") -> Dict[str, Any]:
    """Phoenix may return attributes nested (``{"llm": {"model_name": …}}``) or dotted: both as dotted."""
    out: Dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(_flat(v, key))
            else:
                out[key] = v
    return out


def _spans(base: str) -> List[Dict[str, Any]]:
    try:
        doc = _get(f"{base}/v1/projects/{PROJECT}/spans?limit=100")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the project does not exist until its first span arrives
            return []
        raise
    return doc.get("data") or []


def test_an_agent_run_reads_back_from_phoenix(phoenix, monkeypatch):
    base, port = phoenix
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={PROJECT},deployment.environment=ci")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "mist-phoenix-agent")
    mist.configure(f"otlp://127.0.0.1:{port}?spool=off", alerts=False)
    try:
        with mist.trace("agent.run", user_id="u-42", session_id="sess-7") as root:
            for step in range(2):
                with mist.span("llm.call", model="gpt-4o-mini", provider="openai", step=step,
                               temperature=0.2, max_tokens=128, request_model="gpt-4o-mini") as s:
                    s.set(response_model="gpt-4o-mini-2024-07-18")
                    s.usage(tokens_in=1000 + step, tokens_out=200)
            with mist.span("tool.search", query="weather"):
                pass
        # a late score: Phoenix takes no OTLP logs (405 at /v1/logs); the sink learns it, counts
        # the score as skipped, and the export stays clean (flush true, nothing dropped)
        mist.score("faithfulness", 0.8, span=root)
        assert mist.flush(15)
        stats = mist.stats()
        [(url, sink)] = stats["sinks"].items()
        assert sink["otlp_logs_unsupported"] == 405 and sink["otlp_skipped.eval.result"] == 1
        assert not [k for k in stats["dropped"] if k.startswith(url)]
    finally:
        mist.configure("null://")
    trace_id = root.trace_id

    deadline = time.monotonic() + 30
    spans: List[Dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans = [s for s in _spans(base) if s.get("context", {}).get("trace_id") == trace_id]
        if len(spans) >= 4:
            break
        time.sleep(0.5)
    assert len(spans) == 4, (stats, spans)
    by_name: Dict[str, List[Dict[str, Any]]] = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)
    llm = by_name["chat gpt-4o-mini"]
    assert len(llm) == 2
    root_span = by_name["agent.run"][0]
    for s in llm:
        a = _flat(s.get("attributes"))
        assert s["span_kind"] == "LLM"
        assert a["llm.model_name"] == "gpt-4o-mini"
        assert a["gen_ai.request.model"] == "gpt-4o-mini"
        assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
        assert a["llm.token_count.prompt"] in (1000, 1001) and a["llm.token_count.completion"] == 200
        assert a["llm.token_count.total"] == a["llm.token_count.prompt"] + 200
        assert a["gen_ai.usage.input_tokens"] == a["llm.token_count.prompt"]
        assert a["llm.cost.total"] > 0 and a["mist.cost_usd"] == a["llm.cost.total"]
        assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 128
        assert s["parent_id"] == root_span["context"]["span_id"]
    tool = by_name["tool.search"][0]
    assert tool["span_kind"] == "TOOL"
    r = _flat(root_span.get("attributes"))
    assert root_span["span_kind"] == "AGENT" and r["user.id"] == "u-42" and r["session.id"] == "sess-7"
