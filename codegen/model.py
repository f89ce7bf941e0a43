"""Read the MTTP schema into plain field tables that every generator shares."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schema" / "mttp.schema.json"


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # string | integer | number | boolean | object | array | any
    omit: str  # "" (always written), "zero" (Go omitempty), "absent" (omitted when missing/None)
    required: bool


@dataclass(frozen=True)
class Message:
    name: str  # definition name, e.g. TraceSpan
    type: Optional[str]  # MIST type string, None for the envelope
    fields: Tuple[Field, ...]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**schema["$defs"][ref[len("#/$defs/"):]], **extra}
    return node


def _kind(schema: dict, node: dict) -> str:
    node = _resolve(schema, node)
    if "const" in node:
        return "string" if isinstance(node["const"], str) else "any"
    if "enum" in node:
        return "string" if all(isinstance(e, str) for e in node["enum"]) else "any"
    if "anyOf" in node:
        kinds = {_kind(schema, n) for n in node["anyOf"]}
        return kinds.pop() if len(kinds) == 1 else "any"
    return node.get("type", "any")


def _message(schema: dict, name: str, node: dict) -> Message:
    required = set(node.get("required", ()))
    fields = []
    for fname, fnode in node["properties"].items():
        omit = fnode.get("x-omitempty", False)
        omit = "zero" if omit is True else ("absent" if omit == "absent" else "")
        if fname not in required and not omit and "x-mist-go" not in fnode:
            raise SystemExit(f"schema: optional field {name}.{fname} needs x-omitempty")
        fields.append(Field(fname, _kind(schema, fnode), omit, fname in required))
    return Message(name, node.get("x-mist-type"), tuple(fields))


def load(path: Path = SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def envelope(schema: dict) -> Message:
    return _message(schema, "Envelope", schema)


def payloads(schema: dict) -> List[Message]:
    return [
        _message(schema, name, node)
        for name, node in schema["$defs"].items()
        if isinstance(node, dict) and node.get("x-mist-type")
    ]


def well_known_attrs(schema: dict) -> Dict[str, str]:
    attrs = schema["$defs"]["Attrs"]
    return {k: _kind(schema, v) for k, v in attrs["properties"].items()}


def attr_patterns(schema: dict) -> Dict[str, str]:
    attrs = schema["$defs"]["Attrs"]
    return {k: _kind(schema, v) for k, v in attrs.get("patternProperties", {}).items()}
