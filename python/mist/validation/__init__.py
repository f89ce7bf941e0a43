"""Check MTTP messages against ``schema/mttp.schema.json``: ``mist.validate(message)``.

Two engines give the same answers:

- the generated validator (``rust/src/validate_gen.rs`` on the native backend,
  ``mist.validation.generated`` on the pure-Python one; identical error lists), the default;
- ``jsonschema`` (the ``[validate]`` extra), the reference implementation, for cross-checking.

Errors are ``(pointer, kind, message)``: the JSON pointer of the offending value, a stable label
for summaries, and what was expected, e.g.
``("/payload/attrs/tokens_in", "range", "expected a non-negative integer, got -3")``.
Kinds: decoding ``json``, ``encoding``, ``blank``, ``too_large``, ``too_deep``,
``duplicate_key``, ``range`` (also a number no 64-bit float holds), ``torn`` (an unterminated
last line, files only); schema ``type``, ``const``, ``enum``, ``length``, ``pattern``, ``range``,
``required``, ``additional``.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ..codec import strictjson as _strictjson
from ..errors import ConfigError
from ..codec.strictjson import DecodeError, Error

Message = Union[Dict[str, Any], str, bytes, bytearray, memoryview]
DECODE_KINDS = ("json", "encoding", "blank", "too_large", "too_deep", "duplicate_key", "range", "torn")


def validate(message: Message) -> List[str]:
    """Schema errors of one envelope (a dict, or its JSON text as str or bytes); ``[]`` if valid.

    Each error reads ``"/payload/attrs/tokens_in: expected a non-negative integer, got -3"``.
    """
    return [format_error(e) for e in errors(message)]


def errors(message: Any, engine: str = "native") -> List[Error]:
    """``(pointer, kind, message)`` for each schema error of one envelope.

    ``engine="native"`` is the generated validator of the current backend; ``"python"`` forces the
    pure-Python one; ``"jsonschema"`` runs the reference library after the same strict decoding.
    """
    if engine == "jsonschema":
        return jsonschema_engine()(message)
    native = _native() if engine == "native" else None
    if isinstance(message, (bytes, bytearray, memoryview, str)):
        line = _as_line(message)
        if native is not None:
            return native.validate_line(line)
        return python_check_line(line)
    if native is not None:
        return native.validate_object(message)
    return python_check_object(message)


def format_error(e: Error) -> str:
    """``"pointer: message"`` (just the message for the whole document)."""
    return f"{e[0]}: {e[2]}" if e[0] else e[2]


def _as_line(message: Union[str, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(message, str):
        line = message.encode("utf-8", "surrogatepass")
    else:
        line = bytes(message)
    return line[:-1] if line.endswith(b"\n") else line


def _native() -> Any:
    """The native module when it is the backend and has the validator, else None."""
    from ..core.backend import backend, core

    if backend == "native" and hasattr(core, "validate_line"):
        return core
    return None


def python_check_line(line: bytes) -> List[Error]:
    """The pure-Python validator on one line (no trailing newline)."""
    from . import generated as _validate_gen

    try:
        value = _strictjson.decode(line)
    except DecodeError as exc:
        return [exc.error]
    out: List[Error] = []
    _validate_gen.check_envelope(value, out)
    return out


def python_check_object(value: Any) -> List[Error]:
    """The pure-Python validator on a Python envelope (same limits as a decoded line)."""
    from . import generated as _validate_gen

    try:
        _strictjson.check_object(value)
    except DecodeError as exc:
        return [exc.error]
    out: List[Error] = []
    _validate_gen.check_envelope(value, out)
    return out


# ---------------------------------------------------------------------------------------------
# bulk: one block of a file at a time (what `mist validate` streams)

ChunkResult = Tuple[int, int, int, Dict[str, int], List[Tuple[int, str, str, str, int]]]


def check_chunk_python(data: bytes, final: bool, report: int,
                       check_line: Callable[[bytes], List[Error]] = python_check_line) -> ChunkResult:
    """Pure-Python twin of ``_native.validate_chunk``: every complete line of ``data`` (and the
    unterminated rest when ``final``). Returns ``(consumed, lines, invalid, {kind: errors},
    [(line_index, pointer, kind, message, n_errors)])`` for the first ``report`` invalid lines."""
    lines = invalid = 0
    kinds: Dict[str, int] = {}
    reported: List[Tuple[int, str, str, str, int]] = []
    start = 0
    n = len(data)
    while start < n:
        end = data.find(b"\n", start)
        if end < 0:
            if not final:
                break
            end, terminated = n, False
        else:
            terminated = True
        line = data[start:end]
        errs: List[Error] = []
        if not terminated:  # a writer cut off mid-line leaves text that does not decode
            try:
                _strictjson.decode(line)
            except DecodeError as exc:
                errs = [(exc.pointer, "torn", "torn last line (no newline at the end of the file): " + exc.message)]
        if not errs:
            errs = check_line(line)
        if errs:
            invalid += 1
            for e in errs:
                kinds[e[1]] = kinds.get(e[1], 0) + 1
            if len(reported) < report:
                reported.append((lines, errs[0][0], errs[0][1], errs[0][2], len(errs)))
        lines += 1
        start = end + 1
    return min(start, n), lines, invalid, kinds, reported


# ---------------------------------------------------------------------------------------------
# the jsonschema engine

_JSONSCHEMA: Optional[Callable[[Any], List[Error]]] = None


def schema() -> Dict[str, Any]:
    """The MTTP JSON Schema (embedded in the generated validator, so installed packages have it)."""
    from .generated import SCHEMA

    return json.loads(SCHEMA)


def jsonschema_engine() -> Callable[[Any], List[Error]]:
    """A checker with the same output as :func:`errors`, using the ``jsonschema`` library.

    Decoding is the same strict decoding (so hostile lines get the same decode errors); the schema
    part is the library's. ``pattern`` is matched with ECMA-262's ``$`` (end of input, not "before
    a final newline" as Python's ``re`` does), as JSON Schema specifies.
    """
    global _JSONSCHEMA
    if _JSONSCHEMA is not None:
        return _JSONSCHEMA
    try:
        import jsonschema
    except ImportError:
        raise ConfigError("--engine jsonschema needs the jsonschema library: pip install 'mist-trace[validate]'") from None
    import re

    base = jsonschema.Draft202012Validator

    def pattern(validator: Any, patrn: str, instance: Any, _schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not re.search(_ecma_end(patrn), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator: Any, pprops: Dict[str, Any], instance: Any, _schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in pprops.items():
            for k, v in instance.items():
                if re.search(_ecma_end(patrn), k):
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    base_required = base.VALIDATORS["required"]

    def required(validator: Any, req: List[str], instance: Any, _schema: Any) -> Iterator[Any]:
        """The library's errors, each labelled with the field it misses (one error per field)."""
        missing = [r for r in req if validator.is_type(instance, "object") and r not in instance]
        for err, field in zip(base_required(validator, req, instance, _schema), missing):
            err.mist_missing = field
            yield err

    cls = jsonschema.validators.extend(base, {"pattern": pattern, "patternProperties": pattern_properties,
                                              "required": required})
    v = cls(schema())

    def check(message: Any) -> List[Error]:
        if isinstance(message, (bytes, bytearray, memoryview, str)):
            try:
                value = _strictjson.decode(_as_line(message))
            except DecodeError as exc:
                return [exc.error]
        else:
            try:
                _strictjson.check_object(message)
            except DecodeError as exc:
                return [exc.error]
            value = message
        out: List[Error] = []
        for err in v.iter_errors(value):
            out.extend(_from_jsonschema(err))
        return out

    _JSONSCHEMA = check
    return check


def _ecma_end(p: str) -> str:
    return p[:-1] + r"\Z" if p.endswith("$") and not p.endswith("\\$") else p


_KIND = {"type": "type", "const": "const", "enum": "enum", "pattern": "pattern", "minLength": "length",
         "minimum": "range", "maximum": "range", "required": "required", "additionalProperties": "additional",
         "anyOf": "pattern"}


def _from_jsonschema(err: Any) -> List[Error]:
    ptr = "".join("/" + _strictjson.pointer_segment(str(p)) for p in err.absolute_path)
    if err.validator == "required":
        field = getattr(err, "mist_missing", "")
        return [(ptr + "/" + _strictjson.pointer_segment(field), "required", "missing required field")]
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        return [(ptr + "/" + _strictjson.pointer_segment(k), "additional", "unexpected field") for k in extra]
    kind = _KIND.get(err.validator, str(err.validator))
    if err.validator == "anyOf" and not isinstance(err.instance, str):
        kind = "type"
    return [(ptr, kind, err.message)]
