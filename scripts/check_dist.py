#!/usr/bin/env python3
"""Build and check mist-trace's distributions: the sdist, the native wheel (cp310-abi3) and the
pure-Python wheel (py3-none-any).

    python scripts/check_dist.py --build          # build all three into dist/, then check them
    python scripts/check_dist.py [DIST]           # check what DIST (default dist/) already holds
    python scripts/check_dist.py --build --python python3.10   # also smoke-test on 3.10

--build makes the sdist with ``python -m build`` (PEP 517, through build_backend/mist_build.py),
then both wheels *from the unpacked sdist*, as pip does: the native one with cargo, the pure one
with MIST_BUILD_PURE=1. Cargo's output goes to target/dist-check (kept between runs).

The checks: file lists (what each must hold and must not), wheel tags, RECORD hashes, the
metadata (PEP 639 License-Expression and License-File, Requires-Python >=3.10, no Requires-Dist
outside an extra, the same in all three), then installs into fresh venvs with no cargo, rustc or
rustup on PATH: the pure wheel, the sdist and an editable install of the unpacked sdist must give
``mist.backend == "python"``, the native wheel ``"native"``. The ``mist`` command runs from each,
and a fast selection of the test suite against each wheel (the tests copied out of the tree, so
the source tree cannot be imported).
Ends with ``check_dist: N passed, M failed``; exit status 1 if any check failed.
"""
from __future__ import annotations

import argparse
import base64
import csv
import email.parser
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

ROOT = Path(__file__).resolve().parents[1]
DIST_NAME = "mist_trace"
RUST_TOOLS = ("cargo", "rustc", "rustup")

# In every wheel (beside the dist-info), under mist/.
WHEEL_MUST = ["mist/__init__.py", "mist/py.typed", "mist/_native.pyi", "mist/costs/prices.json",
              "mist/cli/__init__.py", "mist/core/pure.py", "mist_pytest/__init__.py"]
# In the sdist, under its top folder.
SDIST_MUST = ["pyproject.toml", "README.md", "LICENSE", "PKG-INFO", "Cargo.toml", "Cargo.lock",
              "build_backend/mist_build.py", "rust/src/lib.rs", "python/mist/__init__.py",
              "python/mist/py.typed", "python/mist/_native.pyi", "python/mist_pytest/__init__.py",
              "schema/mttp.schema.json", "tests/conftest.py"]
SDIST_DIRS = ["build_backend", "python/mist", "python/mist_pytest", "rust", "schema", "codegen", "tests", "benches"]
# Never in any distribution.
STRAY = re.compile(r"(^|/)(__pycache__|\.venv|venv|target|dist|build|\.git|\.hypothesis|\.benchmarks|"
                   r"\.pytest_cache|\.mypy_cache|node_modules)/|\.py[co]$|\.whl$|(^|/)mist-traces\.jsonl$|"
                   r"(^|/)\.DS_Store$")
EXTENSIONS = re.compile(r"\.(so|pyd|dylib)$")

# Tests run against each installed wheel: fast, no optional dependencies beyond these.
SMOKE_DEPS = ["pytest>=7", "hypothesis>=6", "msgspec>=0.18"]
SMOKE_TESTS = ["test_encoder.py", "test_batching.py", "test_tracing.py", "test_reader.py", "test_redact.py",
               "test_hooks.py", "test_demo.py"]
SMOKE_DESELECT = ["test_batching.py::test_eight_threads_times_100k_spans",  # a minute on its own
                  "test_batching.py::test_sigterm_default_loses_at_most_one_flush_interval_and_opt_in_loses_nothing"]
SMOKE_ENV = {"MIST_BULK_ENVELOPES": "2000", "MIST_HYPOTHESIS_EXAMPLES": "50"}


def say(text: str) -> None:
    print(text, flush=True)


class Checker:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: List[str] = []

    def check(self, ok: bool, what: str, detail: object = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            say(f"  FAIL {what}" + (f": {detail}" if detail != "" else ""))
        return ok


def step(title: str) -> Callable[[], None]:
    t0 = time.monotonic()
    say(f"== {title}")

    def done() -> None:
        say(f"   ({time.monotonic() - t0:.1f}s)")

    return done


def run(cmd: Sequence[Union[str, Path]], *, env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run quietly; on failure, show the end of what it printed."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([str(c) for c in cmd], env=e, cwd=cwd, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if r.returncode != 0:
        say(r.stdout[-6000:])
    return r


# --- building -------------------------------------------------------------------------------

def tool_python(work: Path) -> Path:
    """A venv with pypa/build, the PEP 517 frontend."""
    venv = work / "tool"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "build>=1"], check=True)
    return venv / "bin" / "python"


def unpack(sdist: Path, into: Path) -> Path:
    """The sdist's top folder, unpacked into ``into``."""
    with tarfile.open(sdist) as tf:
        tf.extractall(into, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(into)
    return next(into.iterdir())


def build(dist: Path, work: Path, c: Checker) -> None:
    if dist.exists():
        shutil.rmtree(dist)
    dist.mkdir(parents=True)
    py = tool_python(work)
    done = step("build the sdist")
    c.check(run([py, "-m", "build", "--sdist", "-o", dist, ROOT]).returncode == 0, "sdist builds")
    done()
    sdists = sorted(dist.glob(f"{DIST_NAME}-*.tar.gz"))
    if not c.check(len(sdists) == 1, "one sdist built", sdists):
        return
    tree = unpack(sdists[0], work / "sdist-src")
    now = time.time()  # the sdist's fixed mtimes would let cargo reuse a stale build in target/dist-check
    for p in tree.rglob("*"):
        os.utime(p, (now, now))
    if shutil.which("cargo"):
        done = step("build the native wheel from the sdist (maturin, release)")
        r = run([py, "-m", "build", "--wheel", "-o", dist, tree],
                env={"CARGO_TARGET_DIR": str(ROOT / "target" / "dist-check"), "MIST_BUILD_PURE": ""})
        c.check(r.returncode == 0, "native wheel builds from the sdist")
        done()
    else:
        c.check(False, "native wheel builds from the sdist", "no cargo on PATH")
    done = step("build the pure wheel from the sdist (MIST_BUILD_PURE=1)")
    r = run([py, "-m", "build", "--wheel", "-o", dist, tree], env={"MIST_BUILD_PURE": "1"})
    c.check(r.returncode == 0, "pure wheel builds from the sdist")
    c.check("building the pure-Python package" in (r.stdout or ""), "the backend says it builds the pure package")
    done()


# --- contents -------------------------------------------------------------------------------

def parse_metadata(text: str) -> email.message.Message:
    return email.parser.Parser().parsestr(text)


def check_metadata(c: Checker, label: str, text: str, version: str) -> Dict[str, Any]:
    m = parse_metadata(text)
    mv = tuple(int(x) for x in (m.get("Metadata-Version") or "0").split("."))
    c.check(mv >= (2, 4), f"{label}: Metadata-Version >= 2.4 (PEP 639)", m.get("Metadata-Version"))
    c.check(m.get("Name") == "mist-trace", f"{label}: Name", m.get("Name"))
    c.check(m.get("Version") == version, f"{label}: Version", m.get("Version"))
    c.check(m.get("License-Expression") == "MIT", f"{label}: License-Expression: MIT", m.get("License-Expression"))
    c.check(m.get_all("License-File") == ["LICENSE"], f"{label}: License-File: LICENSE", m.get_all("License-File"))
    c.check(m.get("License") is None, f"{label}: no legacy License field")
    classifiers = m.get_all("Classifier") or []
    c.check(not any(x.startswith("License ::") for x in classifiers), f"{label}: no License :: classifier (PEP 639)")
    for want in ("Programming Language :: Python :: 3 :: Only", "Programming Language :: Python :: 3.10",
                 "Typing :: Typed", "Development Status :: 4 - Beta"):
        c.check(want in classifiers, f"{label}: classifier {want!r}")
    c.check(m.get("Requires-Python", "").replace(" ", "") == ">=3.10", f"{label}: Requires-Python >=3.10",
            m.get("Requires-Python"))
    deps = m.get_all("Requires-Dist") or []
    bare = [d for d in deps if not re.search(r"extra\s*==", d)]
    c.check(not bare, f"{label}: no Requires-Dist outside an extra (zero runtime dependencies)", bare)
    urls = m.get_all("Project-URL") or []
    c.check(any(u.startswith("Homepage,") for u in urls) and any(u.startswith("Issues,") for u in urls),
            f"{label}: Project-URL Homepage and Issues", urls)
    c.check(m.get("Description-Content-Type", "").startswith("text/markdown") and len(m.get_payload() or "") > 1000,
            f"{label}: the README as a markdown description")
    return {"classifiers": sorted(classifiers), "requires": sorted(map(normal_requirement, deps)),
            "extras": sorted(m.get_all("Provides-Extra") or []), "urls": sorted(urls),
            "summary": m.get("Summary"), "keywords": sorted(re.split(r"[,\s]+", m.get("Keywords") or ""))}


def normal_requirement(req: str) -> str:
    """``name[extra]<2,>=1 ; extra == "x"`` as both backends may spell it: no spaces, one quote
    style, the specifiers sorted."""
    spec, _, marker = re.sub(r"\s+", "", req).replace('"', "'").partition(";")
    name = re.match(r"[A-Za-z0-9._-]+(\[[^\]]*\])?", spec)
    head = name.group(0) if name else ""
    return head + ",".join(sorted(filter(None, spec[len(head):].strip("()").split(",")))) + ";" + marker


def check_record(c: Checker, label: str, z: zipfile.ZipFile, record_name: str) -> None:
    rows = list(csv.reader(io.StringIO(z.read(record_name).decode())))
    listed = {r[0] for r in rows}
    names = set(z.namelist())
    c.check(listed == names, f"{label}: RECORD lists exactly the wheel's files", sorted(listed ^ names)[:10])
    bad = []
    for name, digest, _size in rows:
        if not digest:
            continue
        algo, _, want = digest.partition("=")
        got = base64.urlsafe_b64encode(hashlib.new(algo, z.read(name)).digest()).rstrip(b"=").decode()
        if got != want:
            bad.append(name)
    c.check(not bad, f"{label}: RECORD hashes match", bad[:10])


def check_wheel(c: Checker, path: Path, kind: str, version: str, license_text: bytes,
                package_files: Optional[Set[str]]) -> Dict[str, Any]:
    label = f"{kind} wheel"
    tag = path.name[:-4].split("-", 2)[2]
    if kind == "native":
        c.check(re.fullmatch(r"cp310-abi3-\w+", tag) is not None, f"{label}: tag cp310-abi3-<platform>", tag)
    else:
        c.check(tag == "py3-none-any", f"{label}: tag py3-none-any", tag)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        di = f"{DIST_NAME}-{version}.dist-info"
        wheel_meta = parse_metadata(z.read(f"{di}/WHEEL").decode())
        c.check(wheel_meta.get_all("Tag") == [tag], f"{label}: WHEEL Tag matches the file name", wheel_meta.get_all("Tag"))
        purelib = (wheel_meta.get("Root-Is-Purelib") or "").strip().lower() == "true"
        c.check(purelib == (kind == "pure"), f"{label}: Root-Is-Purelib {kind == 'pure'}")
        outside = [n for n in names if not (n.startswith(("mist/", "mist_pytest/")) or n.startswith(di + "/"))]
        c.check(not outside, f"{label}: only mist/, mist_pytest/ (the pytest plugin) and {di}/", outside[:10])
        for must in WHEEL_MUST:
            c.check(must in names, f"{label}: has {must}")
        c.check(z.read(f"{di}/licenses/LICENSE") == license_text if f"{di}/licenses/LICENSE" in names else False,
                f"{label}: {di}/licenses/LICENSE is the LICENSE")
        stray = [n for n in names if STRAY.search(n) or n.endswith(".jsonl")]
        c.check(not stray, f"{label}: no stray files", stray[:10])
        ext = [n for n in names if EXTENSIONS.search(n)]
        if kind == "native":
            c.check(len(ext) == 1 and ext[0].startswith("mist/_native."), f"{label}: one extension, mist/_native.*", ext)
            needed = elf_needed(z.read(ext[0])) if ext and ext[0].endswith(".so") else None
            if needed is not None:  # abi3: the interpreter provides the C API; no libpython to find
                c.check(not any("libpython" in n for n in needed), f"{label}: the extension does not link libpython",
                        needed)
        else:
            c.check(not ext, f"{label}: no compiled extension", ext)
        if package_files is not None:
            got = {n[len("mist/"):] for n in names if n.startswith("mist/") and not EXTENSIONS.search(n)}
            c.check(got == package_files, f"{label}: the package's files are the sdist's python/mist",
                    sorted(got ^ package_files)[:10])
        ep = z.read(f"{di}/entry_points.txt").decode()
        c.check(re.search(r"^\[console_scripts\][^\[]*^mist\s*=\s*mist\.cli:main\s*$", ep, re.M | re.S) is not None,
                f"{label}: console script mist = mist.cli:main")
        c.check(re.search(r"^\[pytest11\][^\[]*^mist\s*=\s*mist_pytest\s*$", ep, re.M | re.S) is not None,
                f"{label}: pytest plugin mist = mist_pytest")
        check_record(c, label, z, f"{di}/RECORD")
        return check_metadata(c, label, z.read(f"{di}/METADATA").decode(), version)


def elf_needed(data: bytes) -> Optional[List[str]]:
    """The shared libraries an ELF file needs (readelf -d), or None without readelf."""
    if not shutil.which("readelf"):
        return None
    with tempfile.NamedTemporaryFile(suffix=".so") as f:
        f.write(data)
        f.flush()
        r = subprocess.run(["readelf", "-d", f.name], capture_output=True, text=True)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout) if r.returncode == 0 else None


def git_files(prefixes: Iterable[str]) -> Optional[Set[str]]:
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        return None
    r = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--", *prefixes], capture_output=True)
    if r.returncode != 0:
        return None
    return {p for p in r.stdout.decode().split("\0") if p}


def check_sdist(c: Checker, path: Path, version: str) -> Dict[str, Any]:
    label = "sdist"
    top = f"{DIST_NAME}-{version}/"
    with tarfile.open(path) as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        outside = [n for n in names if not n.startswith(top)]
        c.check(not outside, f"{label}: everything under {top}", outside[:10])
        rel = {n[len(top):] for n, m in zip(names, members) if n.startswith(top) and m.isfile()}
        c.check(all(m.isfile() or m.isdir() for m in members), f"{label}: only files and folders (no links)")
        for must in SDIST_MUST:
            c.check(must in rel, f"{label}: has {must}")
        stray = [n for n in rel if STRAY.search(n) or EXTENSIONS.search(n)]
        c.check(not stray, f"{label}: no stray files (target/, .venv, caches, compiled code)", stray[:10])
        roots = {n.split("/", 1)[0] for n in rel}
        allowed = {d.split("/", 1)[0] for d in SDIST_DIRS} | {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO",
                                                               "Cargo.toml", "Cargo.lock", ".gitignore"}
        c.check(roots <= allowed, f"{label}: nothing beside what builds and tests it", sorted(roots - allowed))
        size = path.stat().st_size
        c.check(size < 5 << 20, f"{label}: under 5 MiB", size)
        tracked = git_files(SDIST_DIRS)
        if tracked is not None:
            missing = sorted(p for p in tracked if p not in rel and not EXTENSIONS.search(p))
            c.check(not missing, f"{label}: every tracked file of {', '.join(SDIST_DIRS)}", missing[:10])
        read = lambda name: (tf.extractfile(top + name) or io.BytesIO()).read()  # noqa: E731
        c.check("LICENSE" in rel and read("LICENSE") == (ROOT / "LICENSE").read_bytes(), f"{label}: LICENSE is the repository's")
        meta: Dict[str, Any] = check_metadata(c, label, read("PKG-INFO").decode(), version)
        meta["package_files"] = {n[len("python/mist/"):] for n in rel if n.startswith("python/mist/")}
        return meta


# --- installing -----------------------------------------------------------------------------

def no_rust_path(work: Path) -> str:
    """PATH without cargo, rustc or rustup: a folder that has one is replaced by a mirror of its
    other entries (so python3 in /usr/bin stays reachable if a distro's cargo is there too)."""
    out = []
    for i, d in enumerate(p for p in os.environ.get("PATH", "").split(os.pathsep) if p):
        if not any(os.path.exists(os.path.join(d, t)) for t in RUST_TOOLS):
            out.append(d)
            continue
        if Path(d).resolve() == (Path.home() / ".cargo" / "bin").resolve():
            continue  # rustup's folder holds nothing else a build needs
        mirror = work / f"path-{i}"
        mirror.mkdir(exist_ok=True)
        for entry in os.scandir(d):
            if entry.name not in RUST_TOOLS and not (mirror / entry.name).exists():
                os.symlink(entry.path, mirror / entry.name)
        out.append(str(mirror))
    return os.pathsep.join(out)


def smoke_tests_dir(work: Path) -> Path:
    """The selected tests, their conftest, helpers and data, out of the tree."""
    d = work / "smoke-tests"
    if d.exists():
        return d
    src = ROOT / "tests"
    d.mkdir()
    for p in src.glob("*.py"):
        if not p.name.startswith("test_") or p.name in SMOKE_TESTS:
            shutil.copy2(p, d / p.name)
    shutil.copytree(src / "data", d / "data")
    (d / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: long-running tests\n")
    return d


def install_and_smoke(c: Checker, work: Path, path_env: str, label: str, target: Path, want_backend: str,
                      python: str = sys.executable, tests: bool = True) -> None:
    """Install ``target`` (a wheel, an sdist, or a source folder: editable) and try it."""
    done = step(f"{label}: install into a fresh venv, no Rust on PATH, and smoke-test")
    editable = target.is_dir()
    venv = work / ("venv-" + re.sub(r"\W+", "-", label))
    env = {"PATH": str(venv / "bin") + os.pathsep + path_env, "VIRTUAL_ENV": str(venv), "PYTHONPATH": "",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MIST_PURE_PYTHON": "", "MIST_BUILD_PURE": ""}
    # The venv gets no pip of its own (ensurepip takes ~10 s): this interpreter's pip installs into it.
    outer_pip = run([sys.executable, "-m", "pip", "--version"]).returncode == 0
    if not c.check(run([python, "-m", "venv", *(["--without-pip"] if outer_pip else []), venv], env=env).returncode == 0,
                   f"{label}: venv"):
        return done()
    py = venv / "bin" / "python"
    pip: List[Union[str, Path]] = [sys.executable, "-m", "pip", "--python", py] if outer_pip else [py, "-m", "pip"]
    c.check(run([py, "-c", "import shutil,sys; sys.exit(any(shutil.which(t) for t in ('cargo','rustc','rustup')))"],
                env=env).returncode == 0, f"{label}: no cargo, rustc or rustup on PATH")
    r = run([*pip, "install", "-q", *(["-e"] if editable else []), target, *(SMOKE_DEPS if tests else [])], env=env,
            cwd=work)
    if not c.check(r.returncode == 0, f"{label}: pip install"):
        return done()
    home = target / "python" if editable else venv
    probe = ("import mist, os, sys; print(mist.backend); "
             f"sys.exit(0 if os.path.realpath(mist.__file__).startswith(os.path.realpath({str(home)!r})) else 3)")
    r = run([py, "-c", probe], env=env, cwd=work)
    got = (r.stdout or "").strip().splitlines()[-1:] or [""]
    c.check(r.returncode == 0, f"{label}: mist is imported from {home}", r.returncode)
    c.check(got[0] == want_backend, f"{label}: mist.backend == {want_backend!r}", got[0])
    mist = venv / "bin" / "mist"
    r = run([mist, "--version"], env=env, cwd=work)
    c.check(r.returncode == 0 and f"({want_backend} core)" in r.stdout, f"{label}: mist --version names the "
            f"{want_backend} core", (r.stdout or "").strip())
    c.check(run([mist, "--help"], env=env, cwd=work).returncode == 0, f"{label}: mist --help")
    demo = work / f"demo-{venv.name}.jsonl"
    c.check(run([mist, "demo", "--out", demo, "--steps", "60"], env=env, cwd=work).returncode == 0
            and demo.stat().st_size > 0, f"{label}: mist demo writes a trace")
    c.check(run([mist, "validate", demo], env=env, cwd=work).returncode == 0, f"{label}: mist validate accepts it")
    if tests:
        d = smoke_tests_dir(work)
        cmd: List[Union[str, Path]] = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", d, "-x",
               *[x for s in SMOKE_DESELECT for x in ("--deselect", s)], *SMOKE_TESTS]
        r = run(cmd, env={**env, **SMOKE_ENV}, cwd=d)
        tail = (r.stdout or "").strip().splitlines()[-1:] or [""]
        say(f"   pytest: {tail[0]}")
        c.check(r.returncode == 0, f"{label}: the smoke selection of the suite passes", tail[0])
    done()


# --- main -----------------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dist", nargs="?", default=str(ROOT / "dist"), help="where the distributions are (default dist/)")
    ap.add_argument("--build", action="store_true", help="build the sdist and, from it, both wheels into DIST first")
    ap.add_argument("--python", action="append", default=[], metavar="PY",
                    help="also install and smoke-test the pure wheel with this interpreter (repeatable)")
    ap.add_argument("--no-tests", action="store_true", help="skip the test-suite selection (still installs and runs mist)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (venvs, unpacked sdist) and print it")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    c = Checker()
    dist = Path(args.dist).resolve()
    work = Path(tempfile.mkdtemp(prefix="mist-dist-check-"))
    try:
        if args.build:
            build(dist, work, c)
        sdists = sorted(dist.glob(f"{DIST_NAME}-*.tar.gz"))
        natives = sorted(dist.glob(f"{DIST_NAME}-*-cp*-abi3-*.whl"))
        pures = sorted(dist.glob(f"{DIST_NAME}-*-py3-none-any.whl"))
        ok = c.check(len(sdists) == 1, "one sdist in dist", sdists)
        ok &= c.check(len(natives) == 1, "one native (abi3) wheel in dist", natives)
        ok &= c.check(len(pures) == 1, "one pure (py3-none-any) wheel in dist", pures)
        others = sorted(set(dist.iterdir()) - set(sdists) - set(natives) - set(pures))
        c.check(not others, "nothing else in dist", others)
        if not ok:
            raise SystemExit(report(c, t0))
        version = sdists[0].name[len(DIST_NAME) + 1:-len(".tar.gz")]
        license_text = (ROOT / "LICENSE").read_bytes()

        done = step("contents and metadata")
        s = check_sdist(c, sdists[0], version)
        pkg = s.pop("package_files")
        n = check_wheel(c, natives[0], "native", version, license_text, pkg)
        p = check_wheel(c, pures[0], "pure", version, license_text, pkg)
        for key in s:
            c.check(s[key] == n[key] == p[key], f"sdist, native and pure wheel agree on {key}",
                    {"sdist": s[key], "native": n[key], "pure": p[key]} if not (s[key] == n[key] == p[key]) else "")
        done()

        path_env = no_rust_path(work)
        smoke_tests_dir(work)
        tests = not args.no_tests
        jobs: List[Tuple[str, Path, str, str, bool]] = [
            ("pure wheel", pures[0], "python", sys.executable, tests),
            ("native wheel", natives[0], "native", sys.executable, tests),
            ("sdist", sdists[0], "python", sys.executable, False),  # builds what the pure wheel is: tested above
            ("editable sdist tree", unpack(sdists[0], work / "editable"), "python", sys.executable, False),
        ]
        for py in args.python:
            exe = shutil.which(py)
            if c.check(exe is not None, f"interpreter {py} found"):
                jobs.append((f"pure wheel on {py}", pures[0], "python", exe, tests))
        for job in jobs:
            install_and_smoke(c, work, path_env, *job)
        return report(c, t0)
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(c: Checker, t0: float) -> int:
    if c.failed:
        print("failed:\n" + "\n".join(f"  - {f}" for f in c.failed))
    print(f"({time.monotonic() - t0:.0f}s)")
    print(f"check_dist: {c.passed} passed, {len(c.failed)} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
