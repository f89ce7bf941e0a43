"""The Python package's architecture, enforced: no import cycles, and imports only go down.

Every import in ``python/mist`` (at module level or inside a function) is an edge of the module
graph. The graph must be acyclic, and each edge must go from a layer to the same or a lower one:

    cli, __main__               the command line: nothing imports it (but ``python -m mist``)
    mist, testing               the public API and its composition (observers registered here)
    integrations                framework callbacks (LangChain, Agents SDK, LiteLLM): nothing imports them
    instrument                  SDK clients patched: begin, finish, fail, streams
    tracing                     spans, context, @step, budgets, late scores
    providers, costs            what responses say, what spans cost (unpriced warning)
    alerts                      detectors, engine, the observer that feeds it, delivery
    core, validation            buffer, writer, runtime, hooks, messages; validator and reader
    sinks                       where batches go (and the OTLP encoder)
    codec, costs.table, redact  canonical writer and strict reader; price table; redaction
    config, errors, _native     leaves

Named contracts get their own test so a failure says which promise broke.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent / "python"

RANKS: List[Tuple[str, int]] = [  # longest prefix wins
    ("mist.cli", 9), ("mist.__main__", 9),
    ("mist.testing", 8), ("mist", 8), ("mist.integrations", 8),
    ("mist.instrument", 7), ("mist.otel", 7),
    ("mist.tracing", 6),
    ("mist.providers", 5), ("mist.costs", 5),
    ("mist.alerts", 4),
    ("mist.core", 3), ("mist.validation", 3),
    ("mist.sinks", 2),
    ("mist.codec", 1), ("mist.costs.table", 1), ("mist.redact", 1),
    ("mist.config", 0), ("mist.errors", 0), ("mist._native", 0),
]


def rank(module: str) -> int:
    best, found = -1, 99
    for prefix, r in RANKS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
            best, found = len(prefix), r
    return found


def package_of(module: str) -> str:
    """The top-level part a module belongs to (``mist.core.runtime`` -> ``mist.core``)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def modules(root: Path = ROOT) -> Dict[str, Path]:
    out = {}
    for p in root.rglob("*.py"):
        rel = p.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    out["mist._native"] = root / "mist" / "_native.pyi"
    return out


def imports(name: str, path: Path, known: Set[str]) -> List[Tuple[str, int, bool]]:
    """(imported mist module, line, at module level) for every import in a module."""
    if path.suffix == ".pyi":
        return []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    here = name if is_pkg else name.rsplit(".", 1)[0]
    top_level = {id(n) for n in tree.body}
    for n in tree.body:  # `if`/`try` blocks at module level run at import too
        if isinstance(n, (ast.If, ast.Try)):
            top_level.update(id(m) for m in ast.walk(n))
    found = []
    for node in ast.walk(tree):
        targets: List[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known]
            targets = subs if len(subs) == len(node.names) else subs + [mod]
        for t in targets:
            if t == "mist" or t.startswith("mist."):
                while t not in known and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in known and t != name:
                    found.append((t, node.lineno, id(node) in top_level))
    return found


def graph(root: Path = ROOT) -> Dict[str, List[Tuple[str, int, bool]]]:
    mods = modules(root)
    known = set(mods)
    return {m: imports(m, p, known) for m, p in mods.items()}


def find_cycle(edges: Dict[str, List[str]]) -> Optional[List[str]]:
    """One cycle of the directed graph, as a path that ends where it starts; None when acyclic."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in edges}
    stack: List[str] = []

    def visit(n: str) -> Optional[List[str]]:
        color[n] = GREY
        stack.append(n)
        for m in edges.get(n, ()):
            if color.get(m, WHITE) == GREY:
                return stack[stack.index(m):] + [m]
            if color.get(m, WHITE) == WHITE:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = BLACK
        return None

    for n in sorted(edges):
        if color[n] == WHITE:
            found = visit(n)
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_no_import_cycles():
    g = graph()
    # the root package imports its parts; their imports of `mist` itself are not edges back
    edges = {m: [t for t, _, _ in v if t != "mist"] for m, v in g.items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def layer_violations(g: Dict[str, List[Tuple[str, int, bool]]]) -> List[str]:
    bad = []
    for m, targets in g.items():
        for t, line, _ in targets:
            if package_of(t) == package_of(m) and rank(t) == rank(m):
                continue
            if rank(t) > rank(m):
                bad.append(f"{m}:{line} imports {t} (layer {rank(m)} -> {rank(t)})")
    return bad


def test_imports_only_go_down():
    bad = layer_violations(graph())
    assert not bad, "imports that go up a layer:\n" + "\n".join(bad)


def forbidden(g, importer: str, imported: Tuple[str, ...]) -> List[str]:
    return [f"{m}:{line} imports {t}" for m, v in g.items() if m == importer or m.startswith(importer + ".")
            for t, line, _ in v if any(t == x or t.startswith(x + ".") for x in imported)]


def test_sinks_never_import_tracing():
    assert forbidden(graph(), "mist.sinks", ("mist.tracing", "mist.instrument", "mist.alerts", "mist.costs")) == []


def test_codec_imports_only_generated_code():
    g = graph()
    bad = [f"{m}:{line} imports {t}" for m, v in g.items() if m == "mist.codec" or m.startswith("mist.codec.")
           for t, line, _ in v if not (t.startswith("mist.codec") or t in ("mist._native", "mist.config"))]
    assert bad == []


def test_nothing_imports_cli():
    g = graph()
    bad = [f"{m}:{line} imports {t}" for m, v in g.items()
           if not (m == "mist.cli" or m.startswith("mist.cli.") or m == "mist.__main__")
           for t, line, _ in v if t == "mist.cli" or t.startswith("mist.cli.")]
    assert bad == []


def test_a_violation_is_reported(tmp_path):
    """The checks above can fail: a copy of the package where a sink imports tracing and the
    codec imports cli breaks each named contract."""
    import shutil

    shutil.copytree(ROOT / "mist", tmp_path / "mist", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    with open(tmp_path / "mist" / "sinks" / "null.py", "a") as f:
        f.write("\nfrom ..tracing import span\n")
    with open(tmp_path / "mist" / "codec" / "jsonw.py", "a") as f:
        f.write("\ndef _x():\n    from ..cli import main\n")
    g = graph(tmp_path)
    assert forbidden(g, "mist.sinks", ("mist.tracing",))
    assert any("mist.codec.jsonw" in v for v in layer_violations(g))
    assert any(m.startswith("mist.codec") for m, v in g.items() for t, _, _ in v if t == "mist.cli")


def test_import_mist_loads_no_third_party_module():
    code = ("import sys, mist; import mist.testing\n"
            "std = set(sys.stdlib_module_names)\n"
            "print('\\n'.join(sorted(n for n in sys.modules if n.split('.')[0] not in std "
            "and n.split('.')[0] != 'mist' and not n.startswith('_'))))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV")}
    env["MIST_SINK"] = "null://"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", "third-party modules loaded by `import mist`: " + out.stdout


def test_every_part_has_its_folder():
    for folder in ("codec", "core", "tracing", "costs", "alerts", "instrument", "providers", "validation", "sinks", "cli"):
        assert (ROOT / "mist" / folder / "__init__.py").exists(), folder
    flat = sorted(p.name for p in (ROOT / "mist").glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "config.py", "errors.py", "redact.py",
                    "testing.py"], flat


def test_nothing_imports_integrations():
    """Framework integrations import their framework: only a user's explicit import loads one."""
    g = graph()
    bad = [f"{m}:{line} imports {t}" for m, v in g.items()
           if not (m == "mist.integrations" or m.startswith("mist.integrations."))
           for t, line, _ in v if t == "mist.integrations" or t.startswith("mist.integrations.")]
    assert bad == []
