"""Differential testing: the native validator, the pure-Python validator and the `jsonschema`
library reach the same verdict on every document of a fixed-seed corpus (>= 10,000 documents:
valid envelopes generated from the schema, each also mutated into invalid ones), and the two
generated validators give identical error lists. Byte-level mutations check that the native and
Python strict decoders fail in the same place with the same words.

The generator here is written against the schema JSON directly (not against codegen's tables), so
a mistake in codegen cannot hide in both.
"""
from __future__ import annotations

import json
import random
import string
from typing import Any, Dict, List, Tuple

import jsonschema
import pytest

from conftest import ROOT

import mist.codec.strictjson as sj
from mist.validation import generated as _validate_gen

SCHEMA = json.loads((ROOT / "schema" / "mttp.schema.json").read_text())
SEED = 20240611
VALID_DOCS = 2000
MUTATIONS_PER_DOC = 4  # 2,000 valid + 8,000 mutated = 10,000 documents

# samplers for the schema's patterns; a new pattern must be added here (the test says so)
HEX = "0123456789abcdef"
PATTERNS = {
    "^[0-9a-f]{32}$": lambda r: "".join(r.choice(HEX) for _ in range(32)),
    "^([0-9a-f]{16}|[0-9a-f]{32})$": lambda r: "".join(r.choice(HEX) for _ in range(r.choice((16, 32)))),
}
TEXT = string.ascii_letters + string.digits + " _-./:<>&\"\\\n\t\u00e9\u2028\u4e2d\U0001f600"


def _native():
    try:
        from mist import _native
    except ImportError:  # pragma: no cover
        return None
    return _native if hasattr(_native, "validate_line") else None


NATIVE = _native()


def resolve(node: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].split("/")[-1]]
    return node


def any_value(r: random.Random, depth: int = 0) -> Any:
    k = r.randrange(8 if depth < 3 else 6)
    if k == 0:
        return None
    if k == 1:
        return r.random() < 0.5
    if k == 2:
        return r.randrange(-(10**12), 10**12)
    if k == 3:
        return r.uniform(-1e6, 1e6)
    if k in (4, 5):
        return "".join(r.choice(TEXT) for _ in range(r.randrange(12)))
    if k == 6:
        return [any_value(r, depth + 1) for _ in range(r.randrange(4))]
    return {"k%d" % i: any_value(r, depth + 1) for i in range(r.randrange(4))}


def gen(node: Any, r: random.Random) -> Any:
    """A value valid under `node`."""
    if node is True or node == {}:
        return any_value(r)
    node = resolve(node)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return r.choice(node["enum"])
    if "anyOf" in node:
        return gen(r.choice(node["anyOf"]), r)
    t = node.get("type")
    if t == "string":
        if "pattern" in node:
            assert node["pattern"] in PATTERNS, f"add a sampler for pattern {node['pattern']!r} to this test"
            return PATTERNS[node["pattern"]](r)
        n = max(node.get("minLength", 0), r.randrange(16))
        return "".join(r.choice(TEXT) for _ in range(n))
    if t == "integer":
        lo, hi = node.get("minimum", -(2**63)), node.get("maximum", 2**63 - 1)
        v = r.choice([lo, hi, r.randrange(lo, hi + 1), max(lo, min(hi, r.randrange(-1000, 100000)))])
        return float(v) if r.random() < 0.05 and abs(v) < 2**53 else v  # 3.0 is an integer too
    if t == "number":
        lo = node.get("minimum", -1e9)
        return r.choice([lo + r.random() * 1e6, int(lo) + r.randrange(1000), lo])
    if t == "boolean":
        return r.random() < 0.5
    if t == "array":
        return [gen(node.get("items", {}), r) for _ in range(r.randrange(4))]
    if t == "object":
        out: Dict[str, Any] = {}
        props = node.get("properties", {})
        for k, sub in props.items():
            if k in node.get("required", ()) or r.random() < 0.5:
                out[k] = gen(sub, r)
        for pat in node.get("patternProperties", {}):
            assert pat == "^score\\.", f"teach this test to sample keys for {pat!r}"
            for i in range(r.randrange(3)):
                out["score.q%d" % i] = gen(node["patternProperties"][pat], r)
        extra = node.get("additionalProperties", True)
        if extra is not False and r.random() < 0.5:
            for i in range(r.randrange(3)):
                out["extra_%d" % i] = any_value(r) if extra is True else gen(extra, r)
        return out
    raise AssertionError(f"generator does not know {node}")


def envelope(r: random.Random) -> Dict[str, Any]:
    env = gen({k: v for k, v in SCHEMA.items() if k != "allOf"}, r)
    conds = SCHEMA["allOf"]
    pick = r.randrange(len(conds) + 1)
    if pick < len(conds):
        c = conds[pick]
        env["type"] = c["if"]["properties"]["type"]["const"]
        env["payload"] = gen(c["then"]["properties"]["payload"], r)
    else:
        env["type"] = "custom.event"
    return env


# ---------------------------------------------------------------------------------------------
# mutations: each names the class it belongs to

def paths(v: Any, here: Tuple = ()) -> List[Tuple]:
    out = [here]
    if isinstance(v, dict):
        for k, x in v.items():
            out += paths(x, here + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += paths(x, here + (i,))
    return out


def get(v: Any, path: Tuple) -> Any:
    for k in path:
        v = v[k]
    return v


def put(v: Any, path: Tuple, value: Any) -> None:
    get(v, path[:-1])[path[-1]] = value


def other_type(v: Any, r: random.Random) -> Any:
    choices = [None, True, 7, 2.5, "text", [1], {"a": 1}]
    return r.choice([c for c in choices if type(c) is not type(v) and not (type(v) is int and type(c) is float and c.is_integer())])


def mutate(doc: Dict[str, Any], r: random.Random) -> Tuple[str, Dict[str, Any]]:
    m = json.loads(json.dumps(doc))
    kind = r.choice(["wrong_type", "missing_required", "bad_enum", "bad_id", "extra_nesting", "extra_field", "out_of_range"])
    ps = [p for p in paths(m) if p]
    if kind == "wrong_type":
        p = r.choice(ps)
        put(m, p, other_type(get(m, p), r))
    elif kind == "missing_required":
        where = r.choice([(), ("payload",)])
        obj = get(m, where)
        if isinstance(obj, dict) and obj:
            del obj[r.choice(list(obj))]
    elif kind == "bad_enum":
        for p in (("version",), ("payload", "status"), ("payload", "level"), ("payload", "state")):
            try:
                get(m, p)
            except (KeyError, TypeError):
                continue
            put(m, p, r.choice(["", "OK", "1.0", "firing ", "warn"]))
            break
    elif kind == "bad_id":
        ids = [p for p in ps if p[-1] in ("id", "trace_id", "span_id", "parent_id") or (len(p) > 1 and p[-2] == "evidence")]
        if ids:
            p = r.choice(ids)
            v = get(m, p)
            if isinstance(v, str):
                put(m, p, r.choice([v.upper(), v[:-1], v + "0", "g" + v[1:], v[:8], " " + v, v.replace("a", "A")]))
    elif kind == "extra_nesting":
        p = r.choice(ps)
        put(m, p, r.choice([[get(m, p)], {"value": get(m, p)}]))
    elif kind == "extra_field":
        where = r.choice([(), ("payload",), ("payload", "attrs")])
        try:
            obj = get(m, where)
        except (KeyError, TypeError):
            obj = None
        if isinstance(obj, dict):
            obj[r.choice(["zzz", "Trace_id", "score", "score.x"])] = r.choice([1, "x", None])
    else:
        nums = [p for p in ps if isinstance(get(m, p), int) and not isinstance(get(m, p), bool)]
        if nums:
            put(m, r.choice(nums), r.choice([-1, 2**63, -(2**63) - 1, 2**64, 4294967296]))
    return kind, m


def corpus() -> List[Tuple[str, bytes]]:
    r = random.Random(SEED)
    out = []
    for _ in range(VALID_DOCS):
        doc = envelope(r)
        out.append(("valid", json.dumps(doc, ensure_ascii=r.random() < 0.5).encode("utf-8")))
        for _ in range(MUTATIONS_PER_DOC):
            kind, m = mutate(doc, r)
            out.append((kind, json.dumps(m, ensure_ascii=False).encode("utf-8")))
    return out


CORPUS = corpus()


@pytest.fixture(scope="module")
def reference() -> List[bool]:
    """The jsonschema library's verdict on each document of the corpus."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [validator.is_valid(json.loads(line)) for _, line in CORPUS]


def test_the_corpus_is_big_and_mostly_invalid_after_mutation(reference):
    assert len(CORPUS) >= 10_000
    assert all(ok for (kind, _), ok in zip(CORPUS, reference) if kind == "valid")
    invalid = sum(not ok for (kind, _), ok in zip(CORPUS, reference) if kind != "valid")
    assert invalid > 0.7 * (len(CORPUS) - VALID_DOCS)  # some mutations land in free-form attrs
    assert len({kind for kind, _ in CORPUS}) == 8


def test_python_native_and_jsonschema_agree_on_every_document(reference):
    from mist.validation import python_check_line

    disagreements = []
    for (kind, line), ref in zip(CORPUS, reference):
        py = python_check_line(line)
        if (py == []) != ref:
            disagreements.append(("python", kind, line, py))
        if NATIVE is not None:
            nat = NATIVE.validate_line(line)
            if nat != py:
                disagreements.append(("native", kind, line, nat, py))
    assert disagreements == [], disagreements[:5]


def test_dicts_and_lines_give_the_same_errors():
    from mist.validation import python_check_object

    for kind, line in CORPUS[::7]:
        doc = json.loads(line)
        want = NATIVE.validate_line(line) if NATIVE is not None else None
        got = python_check_object(doc)
        if want is not None:
            assert got == want == NATIVE.validate_object(doc), line


@pytest.mark.skipif(NATIVE is None, reason="native extension not built")
def test_byte_mutations_fail_identically_in_both_decoders():
    """Flip, drop, duplicate and insert bytes in valid lines: the native and pure-Python decoders
    must report the same first problem (pointer, kind, words) or accept the same value."""
    from mist.validation import python_check_line

    r = random.Random(SEED + 1)
    specials = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\u",
                b"\\ud800", b"e", b"-", b"1e400", b" ", b"\r", b"\xef\xbb\xbf", b"0", b"n", b"t"]
    lines = [line for kind, line in CORPUS[:3000:3]]
    n = 0
    for line in lines:
        for _ in range(4):
            b = bytearray(line)
            for _ in range(r.randrange(1, 4)):
                i = r.randrange(len(b) + 1)
                op = r.randrange(4)
                if op == 0 and b:
                    del b[i % len(b)]
                elif op == 1:
                    b[i:i] = r.choice(specials)
                elif op == 2:
                    b = b[:i]
                else:
                    b[i:i] = b[i:i + r.randrange(1, 8)]
            mutated = bytes(b)
            assert NATIVE.validate_line(mutated) == python_check_line(mutated), mutated
            n += 1
    assert n >= 4000


def test_generated_python_validator_matches_schema_file():
    assert json.loads(_validate_gen.SCHEMA) == SCHEMA
    assert sj.MAX_DEPTH == 512
