#!/usr/bin/env bash
# The whole test suite from a fresh clone: build the extension, check generated code, run the Rust
# tests, then every Python test on the native backend and again on the pure-Python backend.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q -e '.[test,bench,peers]'
.venv/bin/python -m codegen --check
cargo test --release --quiet
.venv/bin/python -m pytest tests -q
MIST_PURE_PYTHON=1 MIST_BULK_ENVELOPES=20000 MIST_HYPOTHESIS_EXAMPLES=300 .venv/bin/python -m pytest tests -q
