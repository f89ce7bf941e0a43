"""``memory://``: keeps every line in process, for tests (see :mod:`mist.testing`)."""
from __future__ import annotations

import json
import threading
from typing import Any, Dict, List

from .base import Sink


class MemorySink(Sink):
    url = "memory://"

    def __init__(self) -> None:
        self._lines: List[bytes] = []
        self._lock = threading.Lock()

    def write(self, batch: bytes) -> None:
        lines = batch.splitlines()
        with self._lock:
            self._lines.extend(lines)

    def lines(self) -> List[bytes]:
        """The raw canonical lines written so far (without newlines)."""
        with self._lock:
            return list(self._lines)

    def messages(self) -> List[Dict[str, Any]]:
        """Every envelope written so far, decoded."""
        return [json.loads(line) for line in self.lines()]

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._lines = []
