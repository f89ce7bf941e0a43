"""The core in use: the native extension (``mist._native``), or its pure-Python twin (:mod:`.pure`).

Both encode and buffer spans with byte-identical output. ``MIST_PURE_PYTHON=1`` forces the
pure one; a failed import of the extension falls back to it silently (see :mod:`mist.codec`).
"""
from __future__ import annotations

from typing import Any

from ..codec import native

core: Any
if native is not None:
    core = native
    backend = "native"
else:
    from . import pure as core

    backend = "python"
