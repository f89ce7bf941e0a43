"""``stdout://``, ``stderr://``, ``stdio://``: JSONL to a standard stream (looked up at each write)."""
from __future__ import annotations

import sys

from .base import Sink


class StreamSink(Sink):
    def __init__(self, name: str) -> None:
        self.name = name
        self.url = name + "://"

    def write(self, batch: bytes) -> None:
        stream = getattr(sys, self.name)
        if stream is None:
            raise OSError(f"sys.{self.name} is closed")
        buf = getattr(stream, "buffer", None)
        if buf is not None:
            stream.flush()
            buf.write(batch)
            buf.flush()
        else:
            stream.write(batch.decode("utf-8"))
            stream.flush()
