"""The codec: canonical MTTP bytes, ``encode(message) -> bytes`` and ``decode(line) -> dict``.

``encode`` writes exactly what mist-go's Go encoder writes for the same values (SPEC §2), on
either backend. ``decode`` is strict JSON (stdlib), returning the envelope as a dict.

The package: ``generated`` (types, field tables and encoders generated from the schema),
``jsonw`` (the canonical JSON writer they use), ``strictjson`` (the strict reader). ``native`` is
the compiled extension (``mist._native``, whose codec is generated from the same schema), or None
when it is not built or ``MIST_PURE_PYTHON=1``: the pure-Python writer then gives the same bytes.
The codec imports nothing from mist but its own modules, the extension and :mod:`mist.config`.
"""
from __future__ import annotations

import json
import zlib
from typing import Any, Dict, Union

from .. import config
from . import jsonw
from .generated import PAYLOAD_ENCODERS, encode_envelope

native: Any = None
if not config.pure_python():
    try:
        from .. import _native as native
    except ImportError:  # not built here: the pure-Python codec gives the same bytes
        native = None


def encode_python(message: Dict[str, Any]) -> bytes:
    """``encode`` in pure Python."""
    jsonw.reset_budget()
    return encode_envelope(message).encode()


def encode_value_python(value: Any) -> bytes:
    """``encode_value`` in pure Python."""
    jsonw.reset_budget()
    return jsonw.value(value).encode()


def encode_payload_python(mtype: str, payload: Dict[str, Any]) -> bytes:
    """Canonical bytes of a payload of a known type, in pure Python."""
    jsonw.reset_budget()
    enc = PAYLOAD_ENCODERS.get(mtype)
    return (enc(payload) if enc is not None else jsonw.value(payload)).encode()


_encode = native.encode if native is not None else encode_python
_encode_value = native.encode_value if native is not None else encode_value_python


def encode(message: Dict[str, Any]) -> bytes:
    """Canonical bytes of one envelope (no trailing newline). A ``checksum`` present in the
    message is recomputed over the payload bytes written."""
    if not isinstance(message, dict):
        raise TypeError(f"mist.codec.encode: expected an envelope dict, got {type(message).__name__}")
    return _encode(message)


def encode_value(value: Any) -> bytes:
    """Canonical bytes of any JSON-able value (free-form object keys sorted)."""
    return _encode_value(value)


def decode(line: Union[bytes, bytearray, memoryview, str]) -> Dict[str, Any]:
    """One envelope from one JSON line. Raises ValueError when it is not a JSON object."""
    if isinstance(line, (bytearray, memoryview)):
        line = bytes(line)
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError(f"mist.codec.decode: expected a JSON object, got {type(obj).__name__}")
    return obj


def checksum(payload_bytes: bytes) -> int:
    """CRC-32 (IEEE) of the exact payload bytes, as mist-go computes it."""
    return zlib.crc32(payload_bytes) & 0xFFFFFFFF
