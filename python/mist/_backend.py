"""Pick the backend: the native extension, or the pure-Python twin.

``MIST_PURE_PYTHON=1`` forces the fallback; a failed import of the extension falls back silently.
"""
from __future__ import annotations

import os

core: object
if os.environ.get("MIST_PURE_PYTHON", "").strip() not in ("", "0"):
    from . import _pycore as core

    backend = "python"
else:
    try:
        from . import _native as core  # type: ignore[no-redef]

        backend = "native"
    except ImportError:
        from . import _pycore as core  # type: ignore[no-redef]

        backend = "python"
