"""Type stub for the native core (``rust/src``). ``mist.core.pure`` implements the same functions.

Exact for the extension's exports: ``tests/test_native_stub.py`` runs ``mypy.stubtest`` on it."""
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = [
    "encode", "encode_value", "encode_payload", "EncodeTooLarge", "MAX_STRING_CHARS", "MAX_DEPTH",
    "configure",
    "emit_span", "emit", "MAX_MESSAGE_BYTES", "take_observations", "new_span_id", "new_trace_id",
    "now_ns",
    "seal", "take", "push_line", "consumed_seq", "untake", "wake", "need_writer", "stats", "start_fd_writer",
    "stop_fd_writer", "wait_written", "fd_writer_stats",
    "validate_line", "validate_object", "validate_chunk", "validate_fd", "decode_line", "decode_chunk",
    "VALIDATE_MAX_LINE_BYTES", "VALIDATE_MAX_DEPTH",
    "otlp_protobuf",
]

# codec/: canonical MTTP encoding
MAX_STRING_CHARS: int
MAX_DEPTH: int

class EncodeTooLarge(ValueError): ...

def encode(message: Dict[str, Any]) -> bytes: ...
def encode_value(value: Any) -> bytes: ...
def encode_payload(mtype: str, payload: Dict[str, Any]) -> bytes: ...

# config.rs
def configure(
    source: str,
    batch_bytes: int,
    max_buffer_bytes: int,
    sample: float = ...,
    context: Any = ...,
    on_fork: Optional[Callable[[], Any]] = ...,
    pricer: Optional[Callable[[str], Optional[Tuple[float, float, float, float, float, float]]]] = ...,
    observe: bool = ...,
) -> None:
    """``pricer(model)`` returns USD per million tokens as ``(input, output, cache_read,
    cache_write, reasoning, cache_write_1h)``, or None for a model it does not price (its spans
    are then marked ``unpriced: true``)."""

# span/: emit_span, pricing, observations, ids
MAX_MESSAGE_BYTES: int

def emit_span(
    operation: str,
    start_ns: int,
    end_ns: int,
    *,
    trace_id: Optional[str] = ...,
    span_id: Optional[str] = ...,
    parent_id: Optional[str] = ...,
    status: Optional[str] = ...,
    model: Optional[str] = ...,
    provider: Optional[str] = ...,
    tokens_in: Optional[int] = ...,
    tokens_out: Optional[int] = ...,
    cost_usd: Optional[float] = ...,
    attrs: Optional[Dict[str, Any]] = ...,
) -> str: ...
def emit(
    operation: str,
    start_ns: int,
    end_ns: int,
    trace_id: Optional[str],
    span_id: Optional[str],
    parent_id: Optional[str],
    status: Optional[str],
    attrs: Optional[Dict[str, Any]],
) -> str: ...
def take_observations(limit: int = ...) -> Tuple[List[Dict[str, Any]], int]: ...
def new_span_id() -> str: ...
def new_trace_id() -> str: ...
def now_ns() -> int: ...

# buffer/: the batch buffer and the native file writer
def seal() -> int: ...
def take(timeout: float, max_bytes: int = ...) -> Optional[Tuple[int, bytes, int]]: ...
def push_line(line: bytes) -> bool: ...
def consumed_seq() -> int: ...
def untake(seq: int, batch: bytes) -> None: ...
def wake() -> None: ...
def need_writer() -> bool: ...
def stats() -> Dict[str, Any]: ...
def start_fd_writer(paths: List[Optional[str]], interval: float) -> None: ...
def stop_fd_writer() -> None: ...
def wait_written(target: int, timeout: float) -> bool: ...
def fd_writer_stats() -> Tuple[int, List[Tuple[int, int, int, int]]]: ...

# validate/: strict decoding and schema validation of MTTP lines
VALIDATE_MAX_LINE_BYTES: int
VALIDATE_MAX_DEPTH: int

def validate_line(line: bytes) -> List[Tuple[str, str, str]]: ...
def validate_object(value: Any) -> List[Tuple[str, str, str]]: ...
def validate_chunk(
    data: bytes, final_: bool = ..., report: int = ...
) -> Tuple[int, int, int, Dict[str, int], List[Tuple[int, str, str, str, int]]]: ...
def validate_fd(
    fd: int, report: int = ..., progress: Optional[Callable[[int, int], Any]] = ...
) -> Tuple[int, int, Dict[str, int], List[Tuple[int, str, str, str, int]], Optional[str]]: ...
def decode_line(line: bytes) -> Dict[str, Any]: ...
def decode_chunk(data: bytes, final_: bool = ...) -> Tuple[int, List[Union[Dict[str, Any], Tuple[int, str, bool]]]]: ...

# otlp/
def otlp_protobuf(
    data: bytes, scope_version: str, service_name: Optional[str] = ..., resource: List[Tuple[str, str]] = ...
) -> Optional[Tuple[bytes, int, List[Tuple[str, int]], int, int]]: ...
