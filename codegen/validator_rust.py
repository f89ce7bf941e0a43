"""Generate ``rust/src/validate/generated.rs``: the native schema validator.

Checks work on the decoded tree of ``rust/src/validate/decode.rs`` and push ``(pointer, kind, message)``
errors. Word for word the same errors as the generated Python validator
(``python/mist/validation/generated.py``); both come from :mod:`codegen.validator_model`.
"""
from __future__ import annotations

from typing import List, Optional

from . import validator_model as vm

TYPE_TEST = {
    "string": "matches!(v, Val::Str(_))",
    "integer": "is_int(v)",
    "number": "matches!(v, Val::Num(_))",
    "boolean": "matches!(v, Val::Bool(_))",
    "null": "matches!(v, Val::Null)",
    "object": "is_obj(v)",
    "array": "is_arr(v)",
}


def _lit(s: str) -> str:
    """A Rust string literal (valid for str and, with a b prefix, for ASCII bytes)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            out.append("\\u{%x}" % ord(ch))
    return '"' + "".join(out) + '"'


def _blit(s: str) -> str:
    """A byte-string literal of the UTF-8 bytes of ``s``."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append("\\x%02x" % b)
    return 'b"' + "".join(out) + '"'


def _fn(c: Optional[vm.Check]) -> Optional[str]:
    return None if c is None else f"c_{c.name}"


def _bound(v) -> str:
    return f"Bound::I({v}i128)" if isinstance(v, int) else f"Bound::F({float(v)!r}f64)"


def _pat(name: str, p: vm.Pattern) -> str:
    alts = []
    for alt in p.alternatives:
        atoms = []
        for a in alt:
            mask = 0
            for lo, hi in a.ranges:
                for b in range(lo, hi + 1):
                    mask |= 1 << b
            mx = "u32::MAX" if a.max == -1 else str(a.max)
            atoms.append(f"PAtom {{ mask: [{mask & (2**64 - 1):#x}, {mask >> 64:#x}], min: {a.min}, max: {mx} }}")
        alts.append("&[" + ", ".join(atoms) + "]")
    return (f"/// `{p.source}`\nstatic PAT_{name}: Pat = Pat {{ start: {str(p.anchored_start).lower()}, "
            f"end: {str(p.anchored_end).lower()}, alts: &[{', '.join(alts)}] }};")


def _check_fn(c: vm.Check) -> List[str]:
    L = [f"/// {c.where}: {c.desc}.", f"fn c_{c.name}(v: &Val, p: &Path, e: &mut Errs) {{"]
    msg = _lit(c.type_message())
    if c.type:
        L += [f"    if !({TYPE_TEST[c.type]}) {{", f"        e.push(p, {_lit(vm.K_TYPE)}, {msg}, v);", "        return;", "    }"]
    if (c.const is not None or c.enum is not None) and not c.type:  # string values only (codegen checks)
        L += ["    if !matches!(v, Val::Str(_)) {", f"        e.push(p, {_lit(vm.K_TYPE)}, {msg}, v);", "        return;", "    }"]
    if c.const is not None:
        L += [f"    if !matches!(v, Val::Str(s) if &s[..] == {_blit(c.const)}) {{",
              f"        e.push(p, {_lit(vm.K_CONST)}, {msg}, v);", "        return;", "    }"]
    if c.enum is not None:
        alts = " | ".join(_blit(x) for x in c.enum)
        L += [f"    if !matches!(v, Val::Str(s) if matches!(&s[..], {alts})) {{",
              f"        e.push(p, {_lit(vm.K_ENUM)}, {msg}, v);", "        return;", "    }"]
    if c.min_length is not None:
        L += ["    if let Val::Str(s) = v {", f"        if char_len(s) < {c.min_length} {{",
              f"            e.push(p, {_lit(vm.K_LENGTH)}, {msg}, v);", "            return;", "        }", "    }"]
    if c.pattern is not None:
        L += ["    if let Val::Str(s) = v {", f"        if !PAT_{c.name}.is_match(s) {{",
              f"            e.push(p, {_lit(vm.K_PATTERN)}, {msg}, v);", "            return;", "        }", "    }"]
    for low, bound in ((True, c.minimum), (False, c.maximum)):
        if bound is None:
            continue
        order = "Less" if low else "Greater"
        L += ["    if let Val::Num(n) = v {", f"        if cmp_num(n, {_bound(bound)}) == Ordering::{order} {{",
              f"            e.push(p, {_lit(vm.K_RANGE)}, {_lit(c.range_message(low))}, v);", "            return;", "        }", "    }"]
    if c.is_object:
        L += ["    if let Val::Obj(m) = v {", "        for (k, x) in m.iter() {", "            let kp = Path::Key(p, k);",
              "            match &k[..] {"]
        for key, chk in c.props:
            calls = [f"{_fn(chk)}(x, &kp, e);"] if chk is not None else []
            calls += [f"{_fn(pc)}(x, &kp, e);" for pat, pc in c.pattern_props if pat.matches(key) and pc is not None]
            L.append(f"                {_blit(key)} => {{ {' '.join(calls)} }}")
        L += ["                _ => {", "                    #[allow(unused_mut)]", "                    let mut matched = false;"]
        for i, (pat, pc) in enumerate(c.pattern_props):
            call = f" {_fn(pc)}(x, &kp, e);" if pc is not None else ""
            L.append(f"                    if PAT_{c.name}_pp{i}.is_match(k) {{ matched = true;{call} }}")
        if c.additional is False:
            unexpected = _lit(f"unexpected field (not allowed in {c.what})")
            L.append(f"                    if !matched {{ e.push_msg(&kp, {_lit(vm.K_ADDITIONAL)}, {unexpected}); }}")
        elif isinstance(c.additional, vm.Check):
            L.append(f"                    if !matched {{ {_fn(c.additional)}(x, &kp, e); }}")
        else:
            L.append("                    let _ = matched;")
        L += ["                }", "            }", "        }"]
        for r in c.required:
            L.append(f"        if !has(m, {_blit(r)}) {{ e.push_msg(&Path::Key(p, {_blit(r)}), {_lit(vm.K_REQUIRED)}, {_lit(vm.MSG_REQUIRED)}); }}")
        for key, val, then in c.when:
            L.append(f"        if matches!(get(m, {_blit(key)}), Some(Val::Str(s)) if &s[..] == {_blit(val)}) {{")
            for prop, chk in then:
                if chk is not None:
                    L.append(f"            if let Some(x) = get(m, {_blit(prop)}) {{ {_fn(chk)}(x, &Path::Key(p, {_blit(prop)}), e); }}")
            L.append("        }")
        L.append("    }")
    if c.items is not None:
        L += ["    if let Val::Arr(a) = v {", "        for (i, x) in a.iter().enumerate() {",
              f"            {_fn(c.items)}(x, &Path::Idx(p, i), e);", "        }", "    }"]
    if c.any_of:
        L += [f"    let mut firsts: [&'static str; {len(c.any_of)}] = [\"\"; {len(c.any_of)}];"]
        for i, a in enumerate(c.any_of):
            L += ["    {", "        let mut sub = Errs::default();", f"        {_fn(a)}(v, p, &mut sub);",
                  "        if sub.list.is_empty() {", "            return;", "        }",
                  f"        firsts[{i}] = sub.list[0].kind;", "    }"]
        L += [f"    let kind = firsts.iter().copied().find(|k| *k != {_lit(vm.K_TYPE)}).unwrap_or({_lit(vm.K_TYPE)});",
              f"    e.push(p, kind, {msg}, v);"]
    L.append("}")
    return L


def generate(schema: dict) -> str:
    t = vm.compile_schema(schema)
    depth = "usize::MAX" if t.inspect_depth is None else str(t.inspect_depth)
    L: List[str] = [
        "// Generated by `python -m codegen` from schema/mttp.schema.json. Do not edit.",
        "//! The MTTP schema validator, native (twin of `python/mist/validation/generated.py`).",
        "#![allow(non_snake_case, non_upper_case_globals, clippy::all, dead_code, unused_variables)]",
        "",
        "use std::cmp::Ordering;",
        "",
        "use super::decode::{char_len, cmp_num, get, has, is_arr, is_int, is_obj, Bound, Errs, PAtom, Pat, Path, Val};",
        "",
        "/// Containers nested deeper than this are never looked into by a check.",
        f"pub const INSPECT_DEPTH: usize = {depth};",
        "",
    ]
    for c in t.checks:
        if c.pattern:
            L.append(_pat(c.name, c.pattern))
        for i, (pat, _) in enumerate(c.pattern_props):
            L.append(_pat(f"{c.name}_pp{i}", pat))
    L.append("")
    for c in t.checks:
        L += _check_fn(c)
        L.append("")
    L += [
        "/// Push the schema errors of a decoded envelope, in document order, without repeats.",
        "pub fn check_envelope(v: &Val, e: &mut Errs) {",
        "    let mut found = Errs::default();",
        f"    {_fn(t.root)}(v, &Path::Root, &mut found);",
        "    for err in found.list {",
        "        if !e.list.contains(&err) {",
        "            e.list.push(err);",
        "        }",
        "    }",
        "}",
        "",
    ]
    return "\n".join(L)
