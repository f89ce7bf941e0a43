"""Compile ``schema/mttp.schema.json`` into checker tables that both validator generators emit.

One :class:`Check` per schema node (``$ref`` targets are shared by name). Each check knows the JSON
type it accepts, its constraints, the phrase used in error messages ("a non-negative integer", "32
lowercase hex characters") and its children. The Python and Rust generators walk the same tables,
so the two validators report the same errors, in the same order, with the same words.

Only the keywords the MTTP schema uses are supported; anything else stops codegen with a message
naming the keyword and where it is, so a schema change can never be silently ignored.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

#: Keywords that only annotate (no effect on validity).
ANNOTATIONS = {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
SUPPORTED = {
    "type", "const", "enum", "pattern", "minLength", "minimum", "maximum", "properties",
    "patternProperties", "additionalProperties", "required", "items", "anyOf", "allOf", "$ref",
}
TYPES = ("string", "integer", "number", "boolean", "null", "object", "array")
NOUNS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
         "null": "null", "object": "an object", "array": "an array"}
INT64 = (-(2**63), 2**63 - 1)

# error kinds (stable labels, shown in summaries)
K_TYPE, K_CONST, K_ENUM, K_LENGTH, K_PATTERN, K_RANGE = "type", "const", "enum", "length", "pattern", "range"
K_REQUIRED, K_ADDITIONAL = "required", "additional"
MSG_REQUIRED = "missing required field"


class SchemaError(SystemExit):
    """A schema construct the validator generators do not handle."""


# ------------------------------------------------------------------------------------------
# patterns: a small regex subset compiled to atoms both languages can match exactly

@dataclass(frozen=True)
class Atom:
    """One ASCII character class (inclusive byte ranges) repeated min..max times (max -1: unbounded)."""
    ranges: Tuple[Tuple[int, int], ...]
    min: int
    max: int


@dataclass(frozen=True)
class Pattern:
    source: str
    anchored_start: bool
    anchored_end: bool
    alternatives: Tuple[Tuple[Atom, ...], ...]

    def python_regex(self) -> str:
        """An equivalent Python regex (``re.match`` when start-anchored, else ``re.search``)."""
        def cls(a: Atom) -> str:
            parts = []
            for lo, hi in a.ranges:
                parts.append(re.escape(chr(lo)) if lo == hi else re.escape(chr(lo)) + "-" + re.escape(chr(hi)))
            body = "".join(parts)
            if len(a.ranges) == 1 and a.ranges[0][0] == a.ranges[0][1]:
                return body
            return "[" + body + "]"

        def rep(a: Atom) -> str:
            if (a.min, a.max) == (1, 1):
                return ""
            if a.max == -1:
                return "{%d,}" % a.min
            return "{%d}" % a.min if a.min == a.max else "{%d,%d}" % (a.min, a.max)

        alts = ["".join(cls(a) + rep(a) for a in alt) for alt in self.alternatives]
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return body + ("\\Z" if self.anchored_end else "")

    def matches(self, s: str) -> bool:
        rx = re.compile(self.python_regex())
        return bool(rx.match(s) if self.anchored_start else rx.search(s))

    def describe(self) -> str:
        """Words for error messages: "32 lowercase hex characters", else the pattern itself."""
        names = {((48, 57), (97, 102)): "lowercase hex", ((48, 57),): "decimal digit",
                 ((97, 122),): "lowercase letter"}
        counts, kind = [], None
        for alt in self.alternatives:
            if len(alt) != 1 or alt[0].min != alt[0].max or alt[0].ranges not in names:
                break
            if kind not in (None, names[alt[0].ranges]):
                break
            kind = names[alt[0].ranges]
            counts.append(str(alt[0].min))
        else:
            if self.anchored_start and self.anchored_end and kind:
                return " or ".join(counts) + " " + kind + " characters"
        return "a string matching " + self.source


def compile_pattern(src: str, where: str) -> Pattern:
    """Parse ``^?(alt|alt)$?`` where each alternative is a sequence of ASCII classes/literals."""
    def fail(why: str) -> SchemaError:
        return SchemaError(f"codegen: pattern {src!r} at {where}: {why} (extend codegen/validator_model.py)")

    s = src
    start = s.startswith("^")
    if start:
        s = s[1:]
    end = s.endswith("$") and not s.endswith("\\$")
    if end:
        s = s[:-1]
    if s.startswith("(") and s.endswith(")"):
        s = s[1:-1]
        if "(" in s or ")" in s:
            raise fail("nested groups")
    elif "|" in s or "(" in s:
        raise fail("alternation must be one group around the whole pattern")
    alts = []
    for part in s.split("|"):
        atoms: List[Atom] = []
        i = 0
        while i < len(part):
            c = part[i]
            if c == "[":
                j = part.index("]", i)
                body, i = part[i + 1:j], j + 1
                if body.startswith("^"):
                    raise fail("negated classes")
                ranges, k = [], 0
                while k < len(body):
                    if k + 2 < len(body) and body[k + 1] == "-":
                        ranges.append((ord(body[k]), ord(body[k + 2])))
                        k += 3
                    else:
                        ch = body[k + 1] if body[k] == "\\" else body[k]
                        ranges.append((ord(ch), ord(ch)))
                        k += 2 if body[k] == "\\" else 1
                ranges_t = tuple(sorted(ranges))
            elif c == "\\":
                if i + 1 >= len(part) or part[i + 1].isalnum():
                    raise fail("only escaped punctuation is supported")
                ranges_t, i = ((ord(part[i + 1]), ord(part[i + 1])),), i + 2
            elif c in ".*+?{}$^":
                raise fail(f"unsupported syntax {c!r}")
            else:
                ranges_t, i = ((ord(c), ord(c)),), i + 1
            if any(hi > 127 for _, hi in ranges_t):
                raise fail("non-ASCII characters")
            lo, hi = 1, 1
            if i < len(part) and part[i] in "*+?{":
                q = part[i]
                if q == "{":
                    j = part.index("}", i)
                    spec, i = part[i + 1:j], j + 1
                    a, _, b = spec.partition(",")
                    lo = int(a)
                    hi = lo if "," not in spec else (int(b) if b else -1)
                else:
                    lo, hi = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[q]
                    i += 1
            atoms.append(Atom(ranges_t, lo, hi))
        if not atoms:
            raise fail("empty alternative")
        alts.append(tuple(atoms))
    return Pattern(src, start, end, tuple(alts))


# ------------------------------------------------------------------------------------------
# checks

@dataclass
class Check:
    name: str
    where: str
    type: Optional[str] = None
    desc: str = "a JSON value"
    const: Optional[str] = None
    enum: Optional[Tuple[str, ...]] = None
    min_length: Optional[int] = None
    pattern: Optional[Pattern] = None
    minimum: Optional[Union[int, float]] = None
    maximum: Optional[Union[int, float]] = None
    props: List[Tuple[str, Optional["Check"]]] = field(default_factory=list)
    pattern_props: List[Tuple[Pattern, Optional["Check"]]] = field(default_factory=list)
    additional: Union[bool, "Check"] = True
    required: List[str] = field(default_factory=list)
    items: Optional["Check"] = None
    any_of: List["Check"] = field(default_factory=list)
    #: allOf if/then: (key, const value, [(property, check)]) applied when obj[key] == value
    when: List[Tuple[str, str, List[Tuple[str, Optional["Check"]]]]] = field(default_factory=list)
    what: str = "this object"

    @property
    def is_object(self) -> bool:
        return bool(self.props or self.pattern_props or self.additional is not True or self.required or self.when)

    def range_message(self, low: bool) -> str:
        """Message prefix for a minimum (``low``) or maximum violation; the value follows."""
        noun = NOUNS[self.type or "number"]
        if low:
            if self.minimum == 0:
                return f"expected {self.desc}, got "
            return f"expected {noun} >= {self.minimum}, got "
        return f"expected {noun} <= {self.maximum}, got "

    def type_message(self) -> str:
        return f"expected {self.desc}, got "


class Compiler:
    def __init__(self, schema: dict):
        self.schema = schema
        self.by_name: Dict[str, Optional[Check]] = {}
        self.order: List[Check] = []

    def ref(self, ref: str, where: str) -> Optional[Check]:
        if not ref.startswith("#/$defs/"):
            raise SchemaError(f"codegen: only local $defs references are supported ({ref} at {where})")
        name = ref[len("#/$defs/"):]
        if name not in self.by_name:
            self.by_name[name] = None  # recursion guard (a recursive schema would need a cut-off)
            self.by_name[name] = self.node(self.schema["$defs"][name], f"#/$defs/{name}", name)
        return self.by_name[name]

    def node(self, n: Any, where: str, name: str) -> Optional[Check]:
        if n is True or n == {}:
            return None
        if not isinstance(n, dict):
            raise SchemaError(f"codegen: unsupported schema {n!r} at {where}")
        for k in n:
            if k not in SUPPORTED and k not in ANNOTATIONS and not k.startswith("x-"):
                raise SchemaError(f"codegen: schema keyword {k!r} at {where} is not supported by the "
                                  f"validator generator (extend codegen/validator_model.py)")
        keys = {k for k in n if k in SUPPORTED}
        if keys == {"$ref"}:
            return self.ref(n["$ref"], where)
        if "$ref" in keys:
            raise SchemaError(f"codegen: $ref next to other keywords at {where}")
        c = Check(name=re.sub(r"\W", "_", name), where=where)
        t = n.get("type")
        if isinstance(t, list) or (t is not None and t not in TYPES):
            raise SchemaError(f"codegen: type {t!r} at {where}: only one JSON type per node is supported")
        c.type = t
        if "const" in n:
            if not isinstance(n["const"], str):
                raise SchemaError(f"codegen: non-string const at {where}")
            c.const = n["const"]
            c.desc = json.dumps(c.const, ensure_ascii=False)
        if "enum" in n:
            if not all(isinstance(e, str) for e in n["enum"]):
                raise SchemaError(f"codegen: non-string enum at {where}")
            c.enum = tuple(n["enum"])
            c.desc = "one of " + ", ".join(json.dumps(e, ensure_ascii=False) for e in c.enum)
        if c.const is not None or c.enum is not None:
            if t not in (None, "string"):
                raise SchemaError(f"codegen: const/enum with type {t} at {where}")
        c.min_length = n.get("minLength")
        if "pattern" in n:
            c.pattern = compile_pattern(n["pattern"], where)
        for bound in ("minimum", "maximum"):
            if bound in n:
                v = n[bound]
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise SchemaError(f"codegen: {bound} at {where} must be a number")
                if isinstance(v, int) and not INT64[0] <= v <= INT64[1]:
                    raise SchemaError(f"codegen: {bound} at {where} is outside int64")
                setattr(c, bound, v)
        implied = None
        if c.min_length is not None or c.pattern is not None:
            implied = "string"
        if c.minimum is not None or c.maximum is not None:
            implied = implied or "number"
        if "properties" in n or "patternProperties" in n or "additionalProperties" in n or "required" in n:
            implied = "object"
        if "items" in n:
            implied = "array"
        if t is None and implied is not None:
            raise SchemaError(f"codegen: {where} constrains a {implied} without \"type\": add it")
        for pname, pnode in n.get("properties", {}).items():
            c.props.append((pname, self.node(pnode, f"{where}/properties/{pname}", f"{name}_{pname}")))
        for i, (pat, pnode) in enumerate(n.get("patternProperties", {}).items()):
            c.pattern_props.append((compile_pattern(pat, where), self.node(pnode, f"{where}/patternProperties/{pat}", f"{name}_pp{i}")))
        ap = n.get("additionalProperties", True)
        if ap is False:
            c.additional = False
        elif ap is not True:
            c.additional = self.node(ap, f"{where}/additionalProperties", f"{name}_additional") or True
        c.required = list(n.get("required", []))
        if "items" in n:
            c.items = self.node(n["items"], f"{where}/items", f"{name}_items")
        for i, alt in enumerate(n.get("anyOf", [])):
            sub = self.node(alt, f"{where}/anyOf/{i}", f"{name}_any{i}")
            if sub is None:
                return None  # anyOf with an always-valid branch accepts anything
            c.any_of.append(sub)
        for i, cond in enumerate(n.get("allOf", [])):
            c.when.append(self.conditional(cond, f"{where}/allOf/{i}", f"{name}_when{i}"))
        if n.get("x-mist-type"):
            c.what = f"a {n['x-mist-type']} payload"
        c.desc = self.describe(c)
        self.order.append(c)
        return c

    def conditional(self, cond: dict, where: str, name: str):
        """``{"if": {"properties": {K: {"const": V}}, "required": [K]}, "then": {"properties": {...}}}``."""
        shape = SchemaError(f"codegen: allOf entry at {where} must be an if/then on one const property")
        if set(cond) != {"if", "then"}:
            raise shape
        cif, then = cond["if"], cond["then"]
        props = cif.get("properties", {})
        if set(cif) != {"properties", "required"} or len(props) != 1 or set(then) != {"properties"}:
            raise shape
        (key, kn), = props.items()
        if set(kn) != {"const"} or cif["required"] != [key] or not isinstance(kn["const"], str):
            raise shape
        then_props = [(p, self.node(pn, f"{where}/then/properties/{p}", f"{name}_{p}"))
                      for p, pn in then["properties"].items()]
        return key, kn["const"], then_props

    @staticmethod
    def describe(c: Check) -> str:
        if c.any_of:
            return " or ".join(a.desc for a in c.any_of)
        if c.const is not None or c.enum is not None:
            return c.desc
        if c.pattern is not None:
            return c.pattern.describe()
        if c.type == "string" and c.min_length:
            return "a non-empty string" if c.min_length == 1 else f"a string of at least {c.min_length} characters"
        if c.type in ("integer", "number") and c.minimum == 0:
            return "a non-negative " + c.type
        return NOUNS.get(c.type or "", "a JSON value")


@dataclass
class Tables:
    root: Check
    checks: List[Check]
    #: containers nested deeper than this are never inspected by any check (None: unbounded)
    inspect_depth: Optional[int]


def compile_schema(schema: dict) -> Tables:
    comp = Compiler(schema)
    root = comp.node(schema, "#", "Envelope")
    if root is None or root.type != "object":
        raise SchemaError("codegen: the envelope schema must be an object")
    return Tables(root, comp.order, _inspect_depth(root))


def _inspect_depth(root: Check) -> Optional[int]:
    """Deepest level (root object = 1) at which a check looks inside a container."""
    best = 0

    def walk(c: Optional[Check], level: int, seen: Tuple[str, ...]) -> bool:
        nonlocal best
        if c is None:
            return True
        if c.name in seen:
            return False  # recursive schema: no cut-off
        seen = seen + (c.name,)
        kids: List[Optional[Check]] = [k for _, k in c.props] + [k for _, k in c.pattern_props]
        if isinstance(c.additional, Check):
            kids.append(c.additional)
        kids += [k for _, _, tp in c.when for _, k in tp]
        if c.items is not None:
            kids.append(c.items)
        if c.is_object or c.items is not None:
            best = max(best, level)
        ok = all(walk(k, level + 1, seen) for k in kids)
        return ok and all(walk(a, level, seen) for a in c.any_of)

    return best if walk(root, 1, ()) else None
