"""The CLI contract and what people read: --version, usage errors, money with one precision per
column, names shortened in the middle and unique, report rows per requested model family."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mist
from mist.cli import main
from mist.cli._money import fmt_usd, usd_column, usd_decimals
from mist.cli._names import ELLIPSIS, ShortNames, shorten, shorten_unique
from mist.cli._tracefile import model_family

T = 1_767_225_600_000_000_000


def envelope(i: int, op: str, *, trace: int = 1, parent: bool = True, status: str = "ok", **attrs) -> dict:
    p = {"trace_id": "%032x" % trace, "span_id": "%016x" % (trace * 1000 + i), "operation": op,
         "start_ns": T + i * 1_000_000, "end_ns": T + i * 1_000_000 + 200_000_000, "status": status}
    if parent:
        p["parent_id"] = "%016x" % (trace * 1000)
    if attrs:
        p["attrs"] = attrs
    return {"version": "1", "id": "%032x" % (trace * 1000 + i), "source": "t", "type": "trace.span",
            "timestamp_ns": p["end_ns"], "payload": p}


def write(tmp_path: Path, envs, name: str = "t.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in envs))
    return str(path)


# ---------------------------------------------------------------------------------------------
# the command line itself


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"mist {mist.__version__} ({mist.backend} core)\n"


def test_version_and_no_arguments_in_a_real_process():
    run = [sys.executable, "-m", "mist"]
    env = dict(os.environ, NO_COLOR="1")
    got = subprocess.run(run + ["--version"], capture_output=True, text=True, env=env, timeout=60)
    assert got.returncode == 0 and got.stdout.strip().startswith(f"mist {mist.__version__} (")
    got = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert got.returncode == 2 and got.stdout == ""
    assert got.stderr.startswith("usage: mist ") and "report" in got.stderr


def test_no_arguments_prints_the_usage_on_stderr_exit_2(capsys):
    assert main([]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.startswith("usage: mist ") and "COMMAND" in cap.err and "replay" in cap.err


@pytest.mark.parametrize("argv, start, needle", [
    (["nope"], "mist: argument COMMAND: invalid choice: 'nope'", "(see mist --help)"),
    (["--nope"], "mist: unrecognized arguments: --nope", "(see mist --help)"),
    (["report", "x.jsonl", "--by", "colour"], "mist: report: argument --by: invalid choice", "(see mist report --help)"),
    (["tail"], "mist: tail: the following arguments are required: FILE", "(see mist tail --help)"),
    (["report", "/nonexistent/x.jsonl"], "mist: cannot read /nonexistent/x.jsonl", "no such file"),
])
def test_errors_have_one_mist_prefix_and_exit_2(capsys, argv, start, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(start) and needle in err, err
    assert err.count("\n") == 1 and err.count("mist:") == 1, err


# ---------------------------------------------------------------------------------------------
# money


@pytest.mark.parametrize("value, text", [
    (1.6e-07, "$0.00000016"),  # an embedding: never $0.000000
    (1.6e-09, "<$0.00000001"),  # below 8 decimals
    (0.014886, "$0.0149"),
    (0.0009996, "$0.00100"),  # rounds up a decade: still 3 significant digits
    (0.5, "$0.500"),  # 3 significant digits: $0.123 is not $0.12
    (12.5, "$12.50"),
    (1161.03, "$1,161.03"),
    (1234567.891, "$1,234,567.89"),
    (1e15, "$1,000,000,000,000,000.00"),
    (0, "$0.00"),
    (0.0, "$0.00"),
    (-1.25, "-$1.25"),
    (-2e-10, ">-$0.00000001"),
    (None, "-"),
    (float("nan"), "-"),
    (float("inf"), "-"),
])
def test_one_amount_fits_its_size(value, text):
    assert fmt_usd(value) == text


@pytest.mark.parametrize("values, texts", [
    ([1161.03, 687.886518], ["$1,161.03", "$687.89"]),  # the issue: not $1,161.03 next to $687.886518
    ([0.014886, 0.000021, 0.0], ["$0.0148860", "$0.0000210", "$0.0000000"]),
    ([1161.03, 1.6e-07], ["$1,161.030000", "<$0.000001"]),  # 10 significant digits at most
    ([0.25, 1.6e-07, None], ["$0.25000000", "$0.00000016", "-"]),
    ([0.0, 0.0], ["$0.00", "$0.00"]),
    ([], []),
])
def test_a_column_shares_one_precision(values, texts):
    assert usd_column(values) == texts


def test_stream_precision_is_fixed():
    assert [fmt_usd(v, 6) for v in (0.00027, 4e-07, 6e-07, 1234.5)] == [
        "$0.000270", "<$0.000001", "$0.000001", "$1,234.500000"]


def test_random_columns_align_and_never_print_zero_for_non_zero():
    rng = random.Random(5)
    for _ in range(500):
        values = [rng.choice([0.0, rng.random() * 10 ** rng.randint(-11, 9)]) for _ in range(rng.randint(1, 8))]
        texts = usd_column(values)
        d = usd_decimals(values)
        assert 2 <= d <= 8
        for v, t in zip(values, texts):
            assert re.fullmatch(r"<?\$\d{1,3}(,\d{3})*\.\d{%d}" % d, t), (values, texts)
            if v:
                assert t.startswith("<$") or float(t[1:].replace(",", "")) > 0, (v, t)
                assert not t.startswith("<$") or v < 10 ** -d
            else:
                assert t == "$" + "0." + "0" * d
        smallest = min((v for v in values if v), default=None)
        if smallest is not None and d < 8 and max(values) < 10 ** (10 - 1 - d):
            # the smallest amount shows at least 3 significant digits
            shown = texts[values.index(smallest)]
            digits = shown[1:].replace(",", "").replace(".", "").lstrip("0")
            assert len(digits) >= 3, (values, texts)


def _cost_column(out: str, title: str = "cost") -> list:
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] in (["model"], ["operation"]))
    col = lines[header].split().index(title)
    rows = []
    for line in lines[header + 1:]:
        if not line.strip() or line.startswith(("…", "model names")) or line.startswith("  "):
            break
        rows.append(line.split()[col])
    return rows


def test_report_table_with_mixed_magnitudes(tmp_path, capsys):
    envs = [envelope(0, "agent.run", parent=False)]
    envs += [envelope(1, "chat", model="gpt-4o", tokens_in=1, tokens_out=1, cost_usd=1161.03)]
    envs += [envelope(2, "chat", model="gpt-4o-mini", tokens_in=1, tokens_out=1, cost_usd=687.886518)]
    path = write(tmp_path, envs)
    assert main(["report", path, "--by", "model"]) == 0
    out = capsys.readouterr().out
    assert _cost_column(out) == ["$1,161.03", "$687.89", "$0.00"]
    assert "total cost      $1,848.92" in out

    envs.append(envelope(3, "embed", model="text-embedding-3-small", tokens_in=8, cost_usd=1.6e-07))
    path = write(tmp_path, envs)
    assert main(["report", path, "--by", "model"]) == 0
    out = capsys.readouterr().out
    assert _cost_column(out) == ["$1,161.030000", "$687.886518", "<$0.000001", "$0.000000"]
    assert main(["report", path, "--by", "operation"]) == 0
    assert _cost_column(capsys.readouterr().out) == ["$1,848.916518", "<$0.000001", "$0.000000"]
    # machine output keeps the full numbers
    assert main(["report", path, "--by", "model", "--format", "json"]) == 0
    rows = {r["group"]: r for r in json.loads(capsys.readouterr().out)["groups"]}
    assert rows["text-embedding-3-small"]["cost_usd"] == 1.6e-07
    assert main(["report", path, "--by", "model", "--format", "csv"]) == 0
    assert "text-embedding-3-small,1,0,0,8,0,0,0,0,1.6e-07," in capsys.readouterr().out


def test_tail_and_replay_show_tiny_costs(tmp_path, capsys):
    envs = [envelope(0, "agent.run", parent=False),
            envelope(1, "embed", model="text-embedding-3-small", tokens_in=8, cost_usd=1.6e-07),
            envelope(2, "chat", model="gpt-4o-mini", tokens_in=1000, tokens_out=100, cost_usd=0.00021)]
    path = write(tmp_path, envs)
    assert main(["tail", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "<$0.000001" in lines[1] and "$0.000210" in lines[2]  # a stream: 6 decimals
    assert main(["replay", path]) == 0
    out = capsys.readouterr().out
    assert "3 spans  $0.00021016" in out  # one precision for the run: 8 decimals for $1.6e-07
    assert "$0.00000016" in out and "$0.00021000" in out


# ---------------------------------------------------------------------------------------------
# names


def test_shorten_keeps_both_ends():
    assert shorten("claude-sonnet-4-5-20250929", 19) == "claude-so…-20250929"
    assert shorten("claude-sonnet-4-5-20250929", 26) == "claude-sonnet-4-5-20250929"
    assert shorten("abcdef", 4) == "ab…f"
    assert shorten("abcdef", 2) == "a…"
    assert shorten("abcdef", 1) == "…"
    assert shorten("abcdef", 0) == ""
    for width in range(1, 30):
        s = shorten("gpt-4o-mini-2024-07-18-with-a-long-tail", width)
        assert len(s) == width and s.count(ELLIPSIS) == 1


def test_shorten_unique_lengthens_only_colliding_names():
    a = "acme-research-model-alpha-2025-01-01-preview"
    b = "acme-research-model-beta-2025-01-01-preview"
    c = "claude-sonnet-4-5-20250929"
    got = shorten_unique([a, b, c, a, "short"], 22)
    assert set(got) == {a, b, c, "short"}
    assert got[c] == "claude-sonn…5-20250929" and got["short"] == "short"
    assert got[a] != got[b] and len(got[a]) == len(got[b]) > 22
    # lengthened just until the first character that differs shows
    assert got[a] == "acme-research-model-a…a-2025-01-01-preview"
    assert got[b] == "acme-research-model-b…a-2025-01-01-preview"
    assert shorten(a, 22) == shorten(b, 22)  # (they would have collided)


def test_shorten_unique_random_sets_are_unique():
    rng = random.Random(9)
    alphabet = "ab-"
    for _ in range(300):
        names = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(rng.randint(1, 12))}
        width = rng.randint(1, 12)
        got = shorten_unique(names, width)
        assert set(got) == names
        assert len(set(got.values())) == len(names), got
        for name, shown in got.items():
            if shown != name:
                head, _, tail = shown.partition(ELLIPSIS)
                assert name.startswith(head) and name.endswith(tail) and len(shown) < len(name) + 1


def test_short_names_for_a_growing_listing():
    names = ShortNames(12)
    first = names("service-alpha-endpoint")
    assert first == "servic…point"
    second = names("service-omega-endpoint")  # collides: both get the longer, distinct forms
    assert second != first and names("service-alpha-endpoint") != second
    assert names.shown["service-alpha-endpoint"] == shorten_unique(
        ["service-alpha-endpoint", "service-omega-endpoint"], 12)["service-alpha-endpoint"]
    assert names("short") == "short"


LONG_A = "acme-research-model-alpha-2025-01-01-preview"
LONG_B = "acme-research-model-beta-2025-01-01-preview"
OP_A = "retrieval.vector_search.primary_index.rerank"
OP_B = "retrieval.vector_search.backup_index.rerank"


def _similar_names_file(tmp_path: Path) -> str:
    envs = [envelope(0, "agent.run", parent=False)]
    for i, (op, model) in enumerate([(OP_A, LONG_A), (OP_B, LONG_B), (OP_A, LONG_B), (OP_B, LONG_A)], start=1):
        envs.append(envelope(i, op, model=model, tokens_in=10, tokens_out=1, cost_usd=0.001 * i, step=i))
    return write(tmp_path, envs)


def test_tail_tells_long_similar_names_apart(tmp_path, capsys):
    path = _similar_names_file(tmp_path)
    assert main(["tail", path, "-n", "all"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "…" in line]
    assert len(lines) == 4
    shown = [(line.split()[1], line.split()[2]) for line in lines]
    ops, models = {s[0] for s in shown}, {s[1] for s in shown}
    assert len(ops) == 2 and len(models) == 2  # never two names alike
    assert all(o.startswith("retrieval.") and o.endswith(".rerank") for o in ops)
    assert all(m.startswith("acme-") and m.endswith("-preview") for m in models)
    # the same name shows the same all along (the batch is known before printing)
    assert shown[0] == (shown[2][0], shown[3][1]) and shown[1] == (shown[3][0], shown[2][1])


def test_tail_follow_style_stream_lengthens_on_collision(capsys):
    from mist.cli._tracefile import Palette
    from mist.cli.tail import Formatter

    fmt = Formatter(Palette(False))
    one = fmt.line(envelope(1, "chat", model=LONG_A)).split()[2]
    two = fmt.line(envelope(2, "chat", model=LONG_B)).split()[2]
    again = fmt.line(envelope(3, "chat", model=LONG_A)).split()[2]
    assert one.count("…") == 1 and two != one and again != two and len(again) == len(two)


def test_view_tells_long_similar_operations_apart(tmp_path):
    path = _similar_names_file(tmp_path)
    out = tmp_path / "page.html"
    assert main(["view", path, "-o", str(out)]) == 0
    html = out.read_text()
    latency = re.search(r'aria-label="latency distribution per operation">.*?</svg>', html, re.S).group(0)
    labels = re.findall(r'text-anchor="end">([^<]*)<title>', latency)
    ops = [x for x in labels if x.startswith("retrieval")]
    assert len(ops) == 2 and len(set(ops)) == 2 and all("…" in x for x in ops)
    models = re.search(r'aria-label="cost by model">.*?</svg>', html, re.S).group(0)
    bars = [x for x in re.findall(r'text-anchor="end">([^<]*)</text>', models) if x.startswith("acme")]
    assert len(bars) == 2 and len(set(bars)) == 2 and all("…" in x for x in bars)
    data = json.loads(re.search(r'id="mist-data">(.*?)</script>', html, re.S).group(1))
    # the waterfall's labels: operation and model each shortened (and unique) as in mist tail
    wl = [r["wl"] for r in data["traces"][0]["spans"] if r["op"] != "agent.run"]
    assert [x.rsplit(" ", 1)[1] for x in wl] == ["#1", "#2", "#3", "#4"]
    assert len({x.rsplit(" ", 1)[0] for x in wl}) == 4 and all(x.count("…") == 2 for x in wl)
    assert [r["op"] for r in data["traces"][0]["spans"]][1:3] == [OP_A, OP_B]  # the tree: in full


# ---------------------------------------------------------------------------------------------
# report rows per requested model family


@pytest.mark.parametrize("model, request_model, family", [
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", None, "gpt-4o-mini"),
    ("gpt-4o-mini", None, "gpt-4o-mini"),
    ("claude-sonnet-4-5-20250929", None, "claude-sonnet-4-5"),
    ("claude-3-5-sonnet@20240620", None, "claude-3-5-sonnet"),
    ("gpt-4-0613", None, "gpt-4-0613"),  # not a date: left alone
    ("chatgpt-4o-latest", None, "chatgpt-4o-latest"),
    ("mistral-large-2411", None, "mistral-large-2411"),
    ("model-20251399", None, "model-20251399"),  # no 13th month
    ("served-name", "my-deployment", "my-deployment"),
    (None, None, None),
    ("", None, None),
])
def test_model_family(model, request_model, family):
    assert model_family(model, request_model) == family


def _snapshot_file(tmp_path: Path) -> str:
    envs = [envelope(0, "agent.run", parent=False)]
    # successful calls: the served snapshot as model, the requested name as request_model
    envs.append(envelope(1, "chat", model="gpt-4o-mini-2024-07-18", request_model="gpt-4o-mini",
                         tokens_in=100, tokens_out=10, cost_usd=0.00002))
    envs.append(envelope(2, "chat", model="gpt-4o-mini-2024-07-18", request_model="gpt-4o-mini",
                         tokens_in=200, tokens_out=20, cost_usd=0.00004))
    # a failed call keeps only the requested name
    envs.append(envelope(3, "chat", model="gpt-4o-mini", status="error", tokens_in=100, tokens_out=0, cost_usd=0.000015))
    # a requested snapshot, and an odd span (a token count as text) that takes the slow path
    envs.append(envelope(4, "chat", model="claude-sonnet-4-5-20250929", tokens_in=10, tokens_out=5, cost_usd=0.0001))
    envs.append(envelope(5, "chat", model="claude-sonnet-4-5-20250929", request_model="claude-sonnet-4-5",
                         tokens_in="lots", tokens_out=5, cost_usd=0.0002))
    envs.append(envelope(6, "chat", model="claude-sonnet-4-5", tokens_in=10, tokens_out=5, cost_usd=0.0001))
    return write(tmp_path, envs)


def test_report_merges_snapshots_into_the_requested_model(tmp_path, capsys):
    path = _snapshot_file(tmp_path)
    assert main(["report", path, "--by", "model", "--format", "json"]) == 0
    rows = {r["group"]: r for r in json.loads(capsys.readouterr().out)["groups"]}
    assert set(rows) == {"gpt-4o-mini", "claude-sonnet-4-5", None}
    gpt = rows["gpt-4o-mini"]
    assert (gpt["calls"], gpt["errors"], gpt["tokens_in"], gpt["cost_usd"]) == (3, 1, 400, 0.000075)
    assert gpt["served_models"] == {"gpt-4o-mini": 1, "gpt-4o-mini-2024-07-18": 2}
    claude = rows["claude-sonnet-4-5"]
    assert (claude["calls"], claude["cost_usd"]) == (3, 0.0004)
    assert claude["served_models"] == {"claude-sonnet-4-5": 1, "claude-sonnet-4-5-20250929": 2}
    assert rows[None]["served_models"] == {}

    assert main(["report", path, "--by", "model"]) == 0
    out = capsys.readouterr().out
    table = [line.split()[0] for line in out.splitlines()[out.splitlines().index(next(
        line for line in out.splitlines() if line.startswith("model "))) + 1:][:3]]
    assert table == ["claude-sonnet-4-5", "gpt-4o-mini", "(none)"]
    assert "model names as recorded (calls):" in out
    assert "  gpt-4o-mini: gpt-4o-mini (1), gpt-4o-mini-2024-07-18 (2)" in out


@pytest.mark.skipif(not hasattr(os, "fork") or not sys.platform.startswith("linux"), reason="needs os.fork")
def test_model_families_agree_across_worker_processes(tmp_path, capsys):
    path = _snapshot_file(tmp_path)
    reports = []
    for jobs in ("1", "2"):
        assert main(["report", path, "--by", "model", "--format", "json", "--jobs", jobs]) == 0
        reports.append(json.loads(capsys.readouterr().out)["groups"])
    assert reports[0] == reports[1]


def test_spans_keep_the_served_snapshot(tmp_path, capsys):
    path = _snapshot_file(tmp_path)
    assert main(["tail", path, "-n", "all"]) == 0
    out = capsys.readouterr().out
    assert "gpt-4o-mini-2024-07-18" in out and "claude-sonn…5-20250929" in out
    assert main(["report", path, "--by", "operation", "--format", "json"]) == 0
    assert {r["group"] for r in json.loads(capsys.readouterr().out)["groups"]} == {"chat", "agent.run"}
