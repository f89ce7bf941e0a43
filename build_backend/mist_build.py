"""The PEP 517 build backend of mist-trace (``[build-system] backend-path = ["build_backend"]``).

A wheel is built one of two ways, chosen when the frontend asks what the build needs:

- **native** (``cp310-abi3``): the Rust extension ``mist._native`` through maturin, when ``cargo``
  is on PATH;
- **pure** (``py3-none-any``): the same Python package without the extension, through hatchling,
  when there is no ``cargo`` on PATH or ``MIST_BUILD_PURE=1`` is set. ``mist.backend`` is then
  ``"python"``, the byte-identical pure-Python core.

So ``pip install`` of the sdist works without a Rust toolchain instead of trying to download one,
and editable installs (``pip install -e .``) keep building the extension where cargo is. Where cargo
is there but the Rust build fails, the error ends with a line naming MIST_BUILD_PURE=1 and the
pure wheel. The sdist is always hatchling's, so it is the same whether or not cargo made it.

This file runs in the frontend's isolated build environment: the standard library only, with
maturin or hatchling imported when the hook that needs it is called.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Dict, List, Optional

MATURIN = "maturin>=1.9.4,<2"
HATCHLING = "hatchling>=1.27"  # PEP 639 (License-Expression, License-File)

ConfigSettings = Optional[Dict[str, Any]]
_said: List[bool] = []


def native() -> bool:
    """Build the Rust extension: cargo is on PATH and MIST_BUILD_PURE is not set."""
    if os.environ.get("MIST_BUILD_PURE", "").strip() not in ("", "0"):
        return False
    return shutil.which("cargo") is not None


def _say(msg: str) -> None:
    print(f"mist-build: {msg}", file=sys.stderr, flush=True)


def _backend() -> Any:
    if native():
        import maturin

        return maturin
    if not _said:
        why = "no cargo on PATH" if shutil.which("cargo") is None else "MIST_BUILD_PURE is set"
        _say(f"{why}: building the pure-Python package (py3-none-any; mist.backend == 'python')")
        _said.append(True)
    from hatchling import build as hatchling

    return hatchling


def _requires() -> List[str]:
    return [MATURIN] if native() else [HATCHLING]


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    return _requires()


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
    return _requires()


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return [HATCHLING]


def _guarded(hook: Any, *args: Any) -> Any:
    try:
        return hook(*args)
    except (Exception, SystemExit):  # maturin exits 1 when cargo fails
        if native():
            _say("the Rust build failed; to install without the extension: MIST_BUILD_PURE=1 pip install "
                 "mist-trace, or pip install the py3-none-any wheel")
        raise


def __getattr__(name: str) -> Any:
    """The optional ``prepare_metadata_for_build_{wheel,editable}`` hooks: the chosen backend's,
    or none (AttributeError) when it has none (hatchling leaves them out under pip), so that the
    frontend falls back on building the wheel and reading its metadata."""
    if name in ("prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable"):
        hook = getattr(_backend(), name)
        return lambda metadata_directory, config_settings=None: _guarded(hook, metadata_directory, config_settings)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_wheel(wheel_directory: str, config_settings: ConfigSettings = None,
                metadata_directory: Optional[str] = None) -> str:
    return _guarded(_backend().build_wheel, wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory: str, config_settings: ConfigSettings = None,
                   metadata_directory: Optional[str] = None) -> str:
    return _guarded(_backend().build_editable, wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    from hatchling import build as hatchling

    return hatchling.build_sdist(sdist_directory, config_settings)
