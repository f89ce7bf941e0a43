"""``python -m codegen [--check]``: write (or check) every generated file."""
from __future__ import annotations

import argparse
import difflib
import sys

from . import model, python_out, rust_out, validator_py, validator_rust

TARGETS = {
    "python/mist/codec/generated.py": python_out.generate,
    "rust/src/codec/generated.rs": rust_out.generate,
    "python/mist/validation/generated.py": validator_py.generate,
    "rust/src/validate/generated.rs": validator_rust.generate,
}


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if any generated file is stale")
    args = ap.parse_args()
    schema = model.load()
    stale = []
    for rel, gen in TARGETS.items():
        path = model.ROOT / rel
        text = gen(schema)
        if not text.endswith("\n"):
            text += "\n"
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old == text:
            continue
        if args.check:
            stale.append(rel)
            diff = difflib.unified_diff(old.splitlines(), text.splitlines(), rel, rel + " (regenerated)", lineterm="")
            sys.stderr.write("\n".join(list(diff)[:40]) + "\n")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
    if stale:
        print("codegen: stale generated files: " + ", ".join(stale) + " (run `python -m codegen`)", file=sys.stderr)
        return 1
    if args.check:
        print("codegen: generated files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
