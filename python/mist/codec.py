"""Canonical MTTP bytes: ``encode(message) -> bytes`` and ``decode(line) -> dict``.

``encode`` writes exactly what mist-go's Go encoder writes for the same values (SPEC §2), on
either backend. ``decode`` is strict JSON (stdlib), returning the envelope as a dict.
"""
from __future__ import annotations

import json
import zlib
from typing import Any, Dict, Union

from ._backend import core


def encode(message: Dict[str, Any]) -> bytes:
    """Canonical bytes of one envelope (no trailing newline). A ``checksum`` present in the
    message is recomputed over the payload bytes written."""
    if not isinstance(message, dict):
        raise TypeError(f"mist.codec.encode: expected an envelope dict, got {type(message).__name__}")
    return core.encode(message)


def encode_value(value: Any) -> bytes:
    """Canonical bytes of any JSON-able value (free-form object keys sorted)."""
    return core.encode_value(value)


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
