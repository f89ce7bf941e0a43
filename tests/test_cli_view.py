"""``mist view``: a self-contained page whose charts and embedded runs reflect the file, and that
cannot be made to run anything the file says. (Rendering in a real browser: test_view_browser.py.)"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from mist.cli import main

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "report_fixture.jsonl"
A, B, C = "a" * 32, "b" * 32, "c" * 32


def make_page(tmp_path: Path, src: Path = FIXTURE, *args: str) -> str:
    copy = tmp_path / src.name
    if copy != src:
        shutil.copy(src, copy)
    assert main(["view", str(copy), *args]) == 0
    out = copy.with_suffix(".html")
    assert out.exists()
    return out.read_text(encoding="utf-8")


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="mist-data">(.*?)</script>', html, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def svgs(html: str):
    return re.findall(r"<svg class=\"chart[^\"]*\".*?</svg>", html, re.S)


def test_writes_file_next_to_the_input_and_says_so(tmp_path, capsys):
    make_page(tmp_path)
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {tmp_path / 'report_fixture.html'} (")
    assert "16 spans, 3 runs, 1 alert" in out


def test_page_is_self_contained(tmp_path):
    html = make_page(tmp_path)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", html, re.I)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert len(re.findall(r"<script", html)) == 2  # the JSON data and the renderer, both inline
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src &#x27;none&#x27;" in csp
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"sha256-{digest}" in csp  # only this exact script may run


def test_charts_show_the_numbers(tmp_path):
    html = make_page(tmp_path)
    charts = svgs(html)
    assert len(charts) >= 5
    by_model = next(c for c in charts if 'aria-label="cost by model"' in c)
    assert "claude-sonnet-4-5" in by_model and "$0.01350" in by_model and "$0.00139" in by_model  # one precision
    assert "local-llama (+1 unpriced)" in by_model
    by_step = next(c for c in charts if 'aria-label="cost by agent step"' in c)
    assert by_step.count("<rect") == 3  # steps 0, 1, 2
    assert "step 2: $0.0135 in 3 spans" in by_step
    latency = next(c for c in charts if "latency distribution" in c)
    for op in ("chat", "agent.run", "agent.step", "tool.search"):
        assert f">{op}<title>" in latency
    over_time = next(c for c in charts if 'aria-label="cost over time"' in c)
    assert 'class="alert"' in over_time and "cost per call rose on chat gpt-4o-mini" in over_time
    assert 'aria-label="scores over time"' in html and ">relevance<" in html
    assert "$0.0149" in html and "$0.00496" in html  # headline cards


def test_embedded_runs_newest_first_with_marks(tmp_path):
    data = embedded(make_page(tmp_path))
    runs = data["traces"]
    assert [r["id"] for r in runs] == [C, B, A]  # by end time of the root: 9.5 s, 8 s, 4 s
    a = runs[2]
    assert (a["total"], a["shown"], a["cost"]) == (9, 9, 0.01431)
    assert [r["op"] for r in a["spans"]][:3] == ["agent.run", "agent.step", "chat"]
    assert [r["d"] for r in a["spans"]] == [0, 1, 2, 1, 2, 2, 2, 1, 2]
    first_error = next(r for r in a["spans"] if r["mk"] and "e" in r["mk"])
    assert first_error["et"] == "RateLimitError: rate limited" and first_error["s"] == 610.0
    kinds = [m["kind"] for m in a["marks"]]
    assert kinds == ["error", "score"]
    # the late eval score (faithfulness 0.3 on the retry) is the first score below 0.5
    drop = next(r for r in a["spans"] if r["mk"] == "s")
    assert "faithfulness=0.3" in drop["sc"]
    claude = next(r for r in a["spans"] if r["m"] == "claude-sonnet-4-5")
    assert claude["in"] == "Summarise the findings" and claude["out"] == "The findings are inconclusive."


HOSTILE = [
    "</script><script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "<!--",
    "<svg onload=alert(3)>",
    "\u2028\u2029",
]


def test_untrusted_text_cannot_inject_markup(tmp_path):
    path = tmp_path / "hostile.jsonl"
    env = []
    for i, bad in enumerate(HOSTILE):
        attrs = {"model": bad, "input": bad, "output": bad, "error": bad, "error_type": bad,
                 "tokens_in": 10, "tokens_out": 1, "cost_usd": 0.001, "step": i, f"score.{bad}": 0.1}
        env.append({"version": "1", "id": "%032x" % i, "source": bad, "type": "trace.span", "timestamp_ns": 10 + i,
                    "payload": {"trace_id": "%032x" % (i + 1), "span_id": "%016x" % (i + 1), "operation": bad,
                                "start_ns": 1_000_000_000 * i, "end_ns": 1_000_000_000 * i + 5, "status": "error",
                                "attrs": attrs}})
        env.append({"version": "1", "id": "%032x" % (100 + i), "source": bad, "type": "trace.alert",
                    "timestamp_ns": 1_000_000_000 * i + 3,
                    "payload": {"level": bad, "metric": bad, "value": 1, "threshold": 0, "message": bad,
                                "series": {bad: bad}}})
    path.write_text("\n".join(json.dumps(e) for e in env) + "\n")
    html = make_page(tmp_path, path)
    for bad in HOSTILE[:4]:
        assert bad not in html
    assert "<script>alert" not in html and "<img" not in html
    assert not re.search(r"<[^>]*\bon\w+=", html)  # no event-handler attribute in any tag
    data_block = re.search(r'id="mist-data">(.*?)</script>', html, re.S).group(1)
    assert "\u2028" not in data_block and "<" not in data_block
    assert len(re.findall(r"<script", html)) == 2
    data = embedded(html)  # the strings survive as data, not markup
    assert {r["spans"][0]["op"] for r in data["traces"]} >= set(HOSTILE[:4])


def test_big_runs_are_sampled_but_keep_marked_spans(tmp_path):
    path = tmp_path / "big.jsonl"
    tid = "e" * 32
    lines = []
    n = 1200
    for i in range(n):
        status = "error" if i == 777 else "ok"
        p = {"trace_id": tid, "span_id": "%016x" % (i + 1), "parent_id": "%016x" % 0xffff, "operation": "chat",
             "start_ns": 1_000_000 * i, "end_ns": 1_000_000 * i + 500_000, "status": status,
             "attrs": {"cost_usd": 0.001, "tokens_in": 1, "tokens_out": 1}}
        lines.append({"version": "1", "id": "%032x" % i, "source": "t", "type": "trace.span",
                      "timestamp_ns": p["end_ns"], "payload": p})
    root = {"trace_id": tid, "span_id": "%016x" % 0xffff, "operation": "agent.run", "start_ns": 0,
            "end_ns": 1_000_000 * n, "status": "ok"}
    lines.append({"version": "1", "id": "f" * 32, "source": "t", "type": "trace.span", "timestamp_ns": 0,
                  "payload": root})
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    html = make_page(tmp_path, path)
    run = embedded(html)["traces"][0]
    assert run["total"] == n + 1 and run["shown"] == 300
    assert any(r["mk"] == "e" and r["s"] == 777.0 for r in run["spans"])
    assert len(html) < 400_000


def test_output_to_stdout_and_custom_path(tmp_path, capsys):
    assert main(["view", str(FIXTURE), "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    out = tmp_path / "x" / "page.html"
    out.parent.mkdir()
    assert main(["view", str(FIXTURE), "-o", str(out), "--traces", "1"]) == 0
    assert len(embedded(out.read_text())["traces"]) == 1


def test_file_with_only_alerts_still_renders(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_text(json.dumps({"version": "1", "id": "0" * 32, "source": "t", "type": "trace.alert",
                                "timestamp_ns": 5, "payload": {"level": "critical", "metric": "m", "value": 1,
                                                               "threshold": 0, "message": "boom"}}) + "\n")
    html = make_page(tmp_path, path)
    assert "boom" in html and embedded(html) == {"traces": []}


@pytest.mark.parametrize("argv, needle", [
    (["view", "/nonexistent.jsonl", "-o", "{tmp}/x.html"], "no such file"),
    (["view", "{fixture}", "-o", "/nonexistent-dir/x.html"], "does not exist"),
    (["view", "{fixture}", "-o", "{fixture}"], "would overwrite"),
    (["view", "{fixture}", "--traces", "-3"], "--traces"),
    (["view", "{fixture}", "--colour"], "unrecognized arguments"),
])
def test_errors_are_one_line_exit_2(tmp_path, capsys, argv, needle):
    argv = [a.format(fixture=FIXTURE, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mist: ") and err.count("\n") == 1 and needle in err, err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["view", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "mist view traces.jsonl -o report.html" in out
