"""``python/mist/_native.pyi`` is exact for the native extension: ``mypy.stubtest`` finds no
difference (a missing or extra name, a parameter renamed, moved, made optional or required).

The extension is checked on its own: the built ``_native`` library and the stub are copied into a
bare ``mist`` package in a temporary directory, so the check neither imports ``mist`` (its
``__init__`` starts nothing here) nor depends on the rest of the package.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy.stubtest")

pytestmark = pytest.mark.skipif(os.environ.get("MIST_PURE_PYTHON") == "1", reason="pure-Python backend")

STUB = Path(__file__).resolve().parents[1] / "python" / "mist" / "_native.pyi"


def _extension() -> Path:
    spec = importlib.util.find_spec("mist")  # finds the package without importing it
    dirs = list(spec.submodule_search_locations or []) if spec else []
    for d in dirs:
        for pattern in ("_native*.so", "_native*.pyd"):
            found = sorted(Path(d).glob(pattern))
            if found:
                return found[0]
    pytest.skip("the native extension is not built")


def _bare_package(root: Path, stub_text: str) -> Path:
    pkg = root / "mist"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    lib = _extension()
    shutil.copy2(lib, pkg / lib.name)
    (pkg / "_native.pyi").write_text(stub_text)
    (root / "mypy.ini").write_text("[mypy]\n")
    probe = subprocess.run(
        [sys.executable, "-c", "import mist._native as n; print(n.__file__)"],
        cwd=root, capture_output=True, text=True, env=_env(root),
    )
    if probe.returncode != 0:
        pytest.skip(f"the native extension does not import: {probe.stderr.strip()[-300:]}")
    assert Path(probe.stdout.strip()).resolve().parent == pkg.resolve(), probe.stdout
    return root


def _env(root: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    env.pop("MYPYPATH", None)
    return env


def _stubtest(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "mist._native", "--mypy-config-file", str(root / "mypy.ini")],
        cwd=root, capture_output=True, text=True, env=_env(root), timeout=600,
    )


def test_stub_matches_the_extension(tmp_path):
    root = _bare_package(tmp_path, STUB.read_text())
    r = _stubtest(root)
    assert r.returncode == 0, "python/mist/_native.pyi differs from the extension:\n" + r.stdout + r.stderr


def test_stubtest_reports_a_stale_stub(tmp_path):
    """The check above would fail: a stub missing a function and keeping a removed one is rejected."""
    text = STUB.read_text()
    assert "def wake() -> None: ..." in text
    stale = text.replace("def wake() -> None: ...", "def read_usage(obj: Any) -> Optional[Dict[str, Any]]: ...")
    root = _bare_package(tmp_path, stale)
    r = _stubtest(root)
    assert r.returncode != 0
    assert "mist._native.wake" in r.stdout and "mist._native.read_usage" in r.stdout, r.stdout
