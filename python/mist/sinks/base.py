"""The sink interface. The batcher hands each sink whole batches of canonical JSONL bytes.

A sink is called only from the background writer thread, never from application code. ``write``
may block (it runs off the hot path) but should bound its own time; anything it raises is caught
by the writer, which counts the batch as dropped for that sink with the reason.
Sinks that talk to a network own their retry/spool machinery and must return from ``close``
within ``timeout`` seconds.
"""
from __future__ import annotations

from typing import Dict


class Sink:
    #: The URL the sink was configured with (credentials removed), for stats and errors.
    url: str = ""

    def write(self, batch: bytes) -> None:
        """Take one batch: complete JSONL lines, each ending in ``\\n``."""
        raise NotImplementedError

    def flush(self, timeout: float) -> bool:
        """Push out anything the sink itself holds; True when it all reached its destination."""
        return True

    def close(self, timeout: float) -> None:
        """Flush and release resources, within ``timeout`` seconds."""

    def after_fork_in_child(self) -> None:
        """Drop state inherited from the parent (connections, threads, queues)."""

    def stats(self) -> Dict[str, int]:
        """Sink-specific counters merged into ``mist.stats()['sinks'][url]``."""
        return {}
