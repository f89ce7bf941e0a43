"""``null://``: discard everything (benchmarks)."""
from __future__ import annotations

from .base import Sink


class NullSink(Sink):
    url = "null://"

    def write(self, batch: bytes) -> None:
        pass

    def native_target(self) -> None:
        return None  # the native writer discards
