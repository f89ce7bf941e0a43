"""The Rust extension's architecture holds: its top-level modules (``rust/src/<name>.rs`` or
``rust/src/<name>/``) depend on each other without cycles, and nothing in ``rust/src`` is about
provider responses or streams (that instrumentation is pure Python).

An edge ``a -> b`` is any path into another top-level module written in a file of ``a``: ``use
crate::b::…``, ``use crate::{b::…}``, an inline ``crate::b::f(…)``, or a ``super::`` chain that
climbs to the crate root and down into ``b``. ``super::`` within a folder stays inside it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Set

SRC = Path(__file__).resolve().parents[1] / "rust" / "src"

FORBIDDEN = ("openai", "anthropic", "stream", "callspan", "deferred", "usage")

Graph = Dict[str, Set[str]]


def strip_code(text: str) -> str:
    """Rust source without comments, string, byte-string and char literals (kept as blanks)."""
    out: List[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), m.end())
            i = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
        elif c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            i = text.index('"', i) + 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and (m := re.compile(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'").match(text, i)):
            i = m.end()  # a char literal (a lifetime `'a` has no closing quote and is kept)
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _group_heads(text: str, start: int) -> List[str]:
    """First identifiers of the top-level items of the `{…}` group opening at `start`."""
    depth, i, item, heads = 0, start, "", []
    while i < len(text):
        c = text[i]
        if c == "{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif c == "}":
            depth -= 1
            if depth == 0:
                heads.append(item)
                break
        if depth == 1 and c == ",":
            heads.append(item)
            item = ""
        else:
            item += c
        i += 1
    names = []
    for h in heads:
        m = re.match(r"\s*([A-Za-z_]\w*)", h)
        if m:
            names.append(m.group(1))
    return names


def module_path(rel: Path) -> List[str]:
    """Module path of a file under rust/src: `lib.rs` → [], `a.rs` → [a], `a/mod.rs` → [a], `a/b.rs` → [a, b]."""
    parts = list(rel.with_suffix("").parts)
    if parts and parts[-1] == "mod":
        parts.pop()
    if parts == ["lib"]:
        return []
    return parts


def references(code: str, path: List[str]) -> Set[str]:
    """Top-level modules a file at module `path` names (its own included), from comment-free code."""
    refs: Set[str] = set()
    for m in re.finditer(r"(?<![\w$])crate\s*::\s*(\{|[A-Za-z_]\w*)", code):
        if m.group(1) == "{":
            refs.update(_group_heads(code, m.start(1)))
        else:
            refs.add(m.group(1))
    for m in re.finditer(r"(?<![\w$:])((?:super\s*::\s*)+)(\{|[A-Za-z_]\w*)", code):
        up = m.group(1).count("super")
        if up < len(path):
            continue  # stays inside the file's own top-level module
        if m.group(2) == "{":
            refs.update(_group_heads(code, m.start(2)))
        else:
            refs.add(m.group(2))
    return {r for r in refs if r not in ("self", "super", "crate")}


def top_level_modules() -> Set[str]:
    lib = strip_code((SRC / "lib.rs").read_text(encoding="utf-8"))
    return set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_]\w*)\s*;", lib, re.M))


def module_graph() -> Graph:
    mods = top_level_modules()
    graph: Graph = {m: set() for m in mods}
    for f in sorted(SRC.rglob("*.rs")):
        path = module_path(f.relative_to(SRC))
        if not path:
            continue  # the crate root registers everything: not part of the layering
        owner = path[0]
        for ref in references(strip_code(f.read_text(encoding="utf-8")), path):
            if ref in mods and ref != owner:
                graph.setdefault(owner, set()).add(ref)
    return graph


def find_cycle(graph: Graph) -> Optional[List[str]]:
    """A cycle as [a, b, …, a], or None when the graph is acyclic."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in graph}
    for targets in graph.values():
        for t in targets:
            color.setdefault(t, WHITE)
    stack: List[str] = []

    def visit(n: str) -> Optional[List[str]]:
        color[n] = GREY
        stack.append(n)
        for t in sorted(graph.get(n, ())):
            if color[t] == GREY:
                return stack[stack.index(t):] + [t]
            if color[t] == WHITE:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        color[n] = BLACK
        return None

    for n in sorted(color):
        if color[n] == WHITE:
            found = visit(n)
            if found:
                return found
    return None


def _show(graph: Graph) -> str:
    return "\n".join(f"  {a} -> {', '.join(sorted(b)) or '(nothing)'}" for a, b in sorted(graph.items()))


# ---- the checks ----

def test_top_level_modules_form_no_cycle():
    graph = module_graph()
    assert len(graph) >= 5, _show(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "cycle between rust/src modules: " + " -> ".join(cycle) + "\n" + _show(graph)


def test_every_rust_file_belongs_to_a_declared_module():
    mods = top_level_modules()
    stray = [str(f.relative_to(SRC)) for f in SRC.rglob("*.rs") if module_path(f.relative_to(SRC))[:1] not in ([], *([m] for m in mods))]
    assert not stray, f"files outside the modules lib.rs declares: {stray}"


def test_no_provider_or_stream_code_in_rust():
    bad = [str(p.relative_to(SRC)) for p in SRC.rglob("*") if any(w in p.relative_to(SRC).as_posix().lower() for w in FORBIDDEN)]
    assert not bad, f"rust/src paths about provider responses or streams: {bad}"


# ---- the checker itself ----

def test_find_cycle_on_synthetic_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    cyc = find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert cyc is not None and cyc[0] == cyc[-1] and set(cyc) == {"a", "b", "c"}
    cyc = find_cycle({"x": {"y"}, "y": {"z"}, "z": {"y"}})
    assert cyc == ["y", "z", "y"]


def test_references_parser():
    src = '''
    //! docs naming crate::otlp are not code
    use std::sync::Mutex;
    use crate::codec::{self, Enc};
    use crate::{buffer::{self, Push}, config};
    /* crate::validate in a block comment */
    fn f() { crate::atfork::install(); let s = "crate::otlp"; let c = '{'; let r = r#"crate::otlp"#; }
    fn g<'a>(x: &'a str) -> &'a str { super::super::span::now(x) }
    mod tests { use super::*; }
    '''
    code = strip_code(src)
    assert references(code, ["ids", "x"]) == {"codec", "buffer", "config", "atfork", "span"}
    # within a folder `super::` stays inside it
    assert references(strip_code("use super::jsonw::Enc; use super::{decode, generated};"), ["codec", "keyorder"]) == set()
    # from a top-level file, `super::` reaches the crate root
    assert references(strip_code("use super::{codec::Enc, config};"), ["atfork"]) == {"codec", "config"}


def test_a_cycle_in_rust_sources_is_found(tmp_path, monkeypatch):
    """End to end on a tiny synthetic crate: a -> b -> a through `use` and an inline path."""
    (tmp_path / "lib.rs").write_text("mod a;\nmod b;\nmod c;\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mod.rs").write_text("mod inner;\nuse crate::c::X;\n")
    (tmp_path / "a" / "inner.rs").write_text("pub fn f() { crate::b::g() }\n")
    (tmp_path / "b.rs").write_text("use crate::{a::inner};\npub fn g() {}\n")
    (tmp_path / "c.rs").write_text("pub struct X;\n")
    monkeypatch.setitem(globals(), "SRC", tmp_path)
    graph = module_graph()
    assert graph == {"a": {"b", "c"}, "b": {"a"}, "c": set()}
    assert find_cycle(graph) == ["a", "b", "a"]
