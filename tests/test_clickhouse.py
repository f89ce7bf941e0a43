"""mist's NDJSON in ClickHouse (chDB, ClickHouse's in-process engine): the SQL of
``examples/clickhouse/`` gives ``mist report --by model``'s numbers on the same spans, read from a
file sink's file and from the request bodies of the HTTP sink (what a ClickHouse server's
``INSERT … FORMAT JSONEachRow`` receives)."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

chdb_session = pytest.importorskip("chdb.session", reason="chdb is not installed (pip install -e '.[peers]')")

import mist  # noqa: E402
from receivers import Receiver  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "clickhouse"
COLUMNS = "version String, id String, source String, type String, timestamp_ns UInt64, payload String"
INSERT_SETTINGS = "SETTINGS input_format_json_read_objects_as_strings = 1"


def agent_runs(seed: int = 3, runs: int = 60) -> None:
    """Traced runs with what the report distinguishes: three priced models (one served as a dated
    snapshot of the requested one), an unpriced model, cache and reasoning tokens, failed calls,
    retries, and spans with and without a latency_ms attr."""
    rng = random.Random(seed)
    for i in range(runs):
        with mist.trace("agent.run", run=i):
            for step in range(rng.randint(1, 4)):
                model = rng.choice(["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash", "local-llm"])
                for retry in range(2 if rng.random() < 0.15 else 1):
                    try:
                        with mist.span("chat", model=model, provider="x", step=step, retry=retry) as s:
                            if model == "gpt-4o-mini" and rng.random() < 0.5:
                                s.set(model="gpt-4o-mini-2024-07-18", request_model="gpt-4o-mini")
                            s.usage(tokens_in=rng.randint(100, 4000), tokens_out=rng.randint(5, 600),
                                    cache_read=rng.choice([0, 0, 64, 512]),
                                    reasoning=rng.choice([0, 0, 32]))
                            if rng.random() < 0.5:
                                s.set(latency_ms=round(rng.lognormvariate(6, 0.5), 3))
                            if retry == 0 and rng.random() < 0.1:
                                raise TimeoutError("upstream timed out")
                    except TimeoutError:
                        pass
                with mist.span("tool.search", step=step):
                    pass


def report(path: Path) -> Dict[str, Dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "mist", "report", str(path), "--by", "model", "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    return {g["group"]: g for g in json.loads(out)["groups"]}


def query(sess: Any) -> Dict[str, Dict[str, Any]]:
    rows = [json.loads(line) for line in sess.query((EXAMPLE / "report_by_model.sql").read_text(),
                                                    "JSONEachRow").bytes().splitlines() if line.strip()]
    return {r["group"]: r for r in rows}


def same(sql: Dict[str, Dict[str, Any]], rep: Dict[str, Dict[str, Any]]) -> None:
    assert set(sql) == set(rep)
    for group, r in rep.items():
        s = sql[group]
        for key in ("calls", "errors", "retries", "tokens_in", "tokens_out", "tokens_cache_read",
                    "tokens_cache_write", "tokens_reasoning", "priced", "unpriced"):
            assert s[key] == r[key], (group, key, s[key], r[key])
        assert s["cost_usd"] == pytest.approx(r["cost_usd"], abs=1e-12), group
        for key in ("latency_ms_p50", "latency_ms_p95", "latency_ms_p99"):
            assert s[key] == pytest.approx(r[key], rel=1e-12), (group, key)


@pytest.fixture
def sess():
    s = chdb_session.Session()
    s.query((EXAMPLE / "schema.sql").read_text())
    yield s
    s.close()


def test_the_sql_gives_the_reports_numbers_from_a_file(tmp_path, sess):
    path = tmp_path / "spans.jsonl"
    mist.configure(f"file://{path}", alerts=False)
    try:
        agent_runs()
        assert mist.flush(10)
    finally:
        mist.configure("null://")
    rep = report(path)
    assert {"gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash", "local-llm", None} <= set(rep)
    assert rep["local-llm"]["unpriced"] > 0 and sum(g["errors"] for g in rep.values()) > 0
    sess.query(f"INSERT INTO mist_spans SELECT * FROM file('{path}', 'JSONEachRow', '{COLUMNS}') {INSERT_SETTINGS}")
    same(query(sess), rep)


def test_the_http_sinks_bodies_are_clickhouse_inserts(tmp_path, sess):
    bodies: List[bytes] = []
    with Receiver() as r:
        r.on_accept = lambda req: bodies.append(req.body)
        path = tmp_path / "spans.jsonl"
        mist.configure([f"http://127.0.0.1:{r.port}/?spool=off&gzip=1", f"file://{path}"], alerts=False)
        try:
            agent_runs(seed=5, runs=40)
            assert mist.flush(10)
        finally:
            mist.configure("null://")
    assert bodies
    for body in bodies:  # what `INSERT INTO mist_spans … FORMAT JSONEachRow` takes in a POST body
        sess.query(f"INSERT INTO mist_spans {INSERT_SETTINGS} FORMAT JSONEachRow " + body.decode())
    same(query(sess), report(path))
