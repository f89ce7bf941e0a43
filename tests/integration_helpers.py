"""What the framework integration tests share: the captured spans written to a trace file and
replayed with the real ``mist replay`` command line, and a tree of the spans by parent."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Dict, List

from conftest import ROOT


def replay(cap: Any, tmp_path: Any) -> str:
    """Write what ``cap`` holds to a JSONL file and return ``mist replay FILE`` (no colour)."""
    cap.flush()
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in cap.lines()))
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    out = subprocess.run([sys.executable, "-m", "mist", "replay", str(path)], capture_output=True, text=True,
                         env=env, timeout=60, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    return out.stdout


def children(spans: List[Dict[str, Any]], parent: Dict[str, Any]) -> List[Dict[str, Any]]:
    pid = parent["span_id"]
    return sorted((s for s in spans if s.get("parent_id") == pid), key=lambda s: s["start_ns"])


def find(spans: List[Dict[str, Any]], operation: str) -> List[Dict[str, Any]]:
    return [s for s in spans if s["operation"] == operation]
