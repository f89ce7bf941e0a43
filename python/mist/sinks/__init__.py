"""Sinks: where batches of canonical JSONL go. ``open_sinks("file://a.jsonl,stdout://")``."""
from __future__ import annotations

from typing import List

from ..errors import ConfigError
from .base import Sink

SCHEMES = "file://, stdout://, stderr://, stdio://, http(s)://, otlp://, otlp+https://, memory://, null://"


def open_sink(url: str) -> Sink:
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"sink {url!r} has no scheme; use one of {SCHEMES}")
    scheme = scheme.lower()
    if scheme == "file":
        from .file import FileSink

        if not rest:
            raise ConfigError(f"sink {url!r} names no file; write file://PATH (relative) or file:///abs/path")
        return FileSink(rest)
    if scheme in ("stdout", "stderr", "stdio"):
        from .stream import StreamSink

        return StreamSink("stderr" if scheme == "stderr" else "stdout")
    if scheme == "memory":
        from .memory import MemorySink

        return MemorySink()
    if scheme == "null":
        from .null import NullSink

        return NullSink()
    if scheme in ("http", "https"):
        from .http import HTTPSink

        return HTTPSink.from_url(url)
    if scheme in ("otlp", "otlp+http", "otlp+https"):
        from .otlp import OTLPSink

        return OTLPSink.from_url(url)
    raise ConfigError(f"sink {url!r}: unknown scheme {scheme!r}; use one of {SCHEMES}")


def open_sinks(spec: str) -> List[Sink]:
    """Several sinks separated by commas."""
    urls = [u for u in (spec or "").split(",") if u.strip()]
    if not urls:
        raise ConfigError(f"sink {spec!r} is empty; use one of {SCHEMES}")
    return [open_sink(u) for u in urls]
