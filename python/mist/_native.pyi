"""Type stub for the native core (``rust/src``). ``mist._pycore`` implements the same functions."""
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

MAX_STRING_CHARS: int
MAX_DEPTH: int
MAX_MESSAGE_BYTES: int

class EncodeTooLarge(ValueError): ...

def encode(message: Dict[str, Any]) -> bytes: ...
def encode_value(value: Any) -> bytes: ...
def encode_payload(mtype: str, payload: Dict[str, Any]) -> bytes: ...
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
def new_span_id() -> str: ...
def read_usage(obj: Any) -> Optional[Dict[str, Any]]:
    """``usage._from_chat_or_message`` natively (None: any other shape, or one left to Python).
    Native only: the pure core reads responses with ``mist.usage`` itself."""
def price_attrs(attrs: Dict[str, Any]) -> Optional[float]:
    """Set and return ``cost_usd`` for a str model and int counts; None (attrs untouched) otherwise."""

def record_usage(result: Any, attrs: Dict[str, Any], family: str, provider_fixed: bool) -> bool:
    """``read_usage`` into span attrs (provider kept only when it adds to the client's), then
    ``price_attrs``. Native only; False, attrs untouched, when Python must read ``result``."""

def set_span_type(span_type: type, current: Any) -> None:
    """Register ``tracing.Span`` and the current-span ContextVar for ``begin_call``."""

def begin_call(operation: str, kwargs: Dict[str, Any], provider: Optional[str]) -> Optional[Any]:
    """``instrumentation._enter`` natively: a new current ``Span``; None (nothing done) inside a
    trace with a budget or when tracing itself fails, and the caller then runs ``_enter``."""

def finish_call(span: Any, result: Any, family: str, provider_fixed: bool, t0: int) -> bool:
    """``instrumentation._finish`` natively (``t0`` a ``time.perf_counter_ns()`` reading); False,
    nothing changed, when the caller must run ``_finish``."""

def end_stream(span: Any, found: Dict[str, Any], family: str, provider_fixed: bool, t0: int, first: int) -> bool:
    """``_StreamTrace.finish`` natively for a stream read to its end without capture; False,
    nothing changed, when the caller must finish it in Python."""

def may_carry_usage(item: Any, anthropic: bool) -> bool:
    """``instrumentation._may_carry_usage`` natively (True, the safe answer, wherever unsure)."""

def feed_chat_chunk(acc: Any, chunk: Any) -> bool:
    """``OpenAIStreamUsage._feed(chunk)`` for a Chat Completions chunk, its text left out: model,
    finish reason, provider and usage into the accumulator's attrs. Native only; False, ``acc``
    untouched, when Python must read the chunk."""

def feed_message_event(acc: Any, event: Any) -> bool:
    """``AnthropicStreamUsage._feed(event)`` for a raw Messages stream event, its text left out:
    model, cumulative counts and stop reason into the accumulator. Native only; False, ``acc``
    untouched, when Python must read the event."""

class StreamTap:
    """The iterator ``for chunk in stream`` gets from a traced sync SDK stream: passes chunks
    through, reading those that may carry usage (the first too) into ``trace.acc`` natively (all
    go to ``trace.feed`` when content is captured), hiding the usage-only chunk mist asked for
    (``hide_usage``), and calling ``trace.finish`` when the stream ends or fails. Holds ``owner``
    (the traced stream) while it lives. Native only."""

    def __init__(self, owner: Any, it: Iterator[Any], trace: Any, anthropic: bool, capture: bool,
                 hide_usage: bool = False) -> None: ...
    def __iter__(self) -> "StreamTap": ...
    def __next__(self) -> Any: ...

def begin_stream(operation: str, kwargs: Dict[str, Any], provider: Optional[str], family: str, provider_fixed: bool,
                 add_usage: bool, info: Any) -> Optional["TracedStream"]:
    """``_Call.start`` natively for a common sync streamed call: the span begun and made current,
    ``stream_options={"include_usage": True}`` added (``add_usage``, none given), and the proxy to
    hand back once the request returns. None, nothing changed, when it declines (a budgeted trace)."""

class TracedStream:
    """A traced sync SDK stream, all native: passes chunks through (reading the first and those that
    may carry usage, hiding the usage-only chunk mist asked for), passes other attributes to the SDK
    stream (``isinstance`` holds through ``__class__``), and ends the call's span when exhausted,
    failed, closed or dropped (``stream_end``); the end's clock readings are taken then, its
    usage events read and its line encoded by mist's background thread when one runs
    (``rust/src/deferred.rs``). Made by ``begin_stream``. Native only."""

    def _mist_attach(self, result: Any) -> Optional["TracedStream"]:
        """Take the SDK stream (the span leaves the current context); None when ``result`` is not
        a sync iterator (the caller records it as a response)."""
    def _mist_failed(self, exc: BaseException) -> None: ...
    def _mist_finish(self, exc: Optional[BaseException] = None, how: str = "complete") -> None: ...
    @property
    def _mist_span(self) -> Any: ...
    @property
    def _mist_t0(self) -> int: ...
    @property
    def _mist_done(self) -> bool: ...
    def __iter__(self) -> "TracedStream": ...
    def __next__(self) -> Any: ...
    def __enter__(self) -> "TracedStream": ...
    def __exit__(self, et: Any, exc: Any, tb: Any) -> Any: ...
    def close(self) -> Any: ...
    def __getattr__(self, name: str) -> Any: ...

USAGE_VIEW_NAMES: List[str]
def new_trace_id() -> str: ...
def now_ns() -> int: ...
def configure(
    source: str,
    batch_bytes: int,
    max_buffer_bytes: int,
    sample: float = ...,
    context: Any = ...,
    on_fork: Optional[Callable[[], Any]] = ...,
    pricer: Optional[Callable[[str], Optional[Tuple[float, float, float, float, float]]]] = ...,
    on_unpriced: Optional[Callable[[str], Any]] = ...,
) -> None: ...
def seal() -> int: ...
def take(timeout: float, max_bytes: int = ...) -> Optional[Tuple[int, bytes, int]]: ...
def push_line(line: bytes) -> bool: ...
def wake() -> None: ...
def consumed_seq() -> int: ...
def untake(seq: int, batch: bytes) -> None: ...
def take_observations(limit: int = ...) -> Tuple[List[Dict[str, Any]], int]: ...
def stats() -> Dict[str, Any]: ...
def need_writer() -> bool: ...
def start_fd_writer(paths: List[Optional[str]], interval: float) -> None: ...
def stop_fd_writer() -> None: ...
def wait_written(target: int, timeout: float) -> bool: ...
def fd_writer_stats() -> Tuple[int, List[Tuple[int, int, int, int]]]: ...
def otlp_protobuf(
    data: bytes, scope_version: str
) -> Optional[Tuple[bytes, int, List[Tuple[str, int]], int, int]]: ...
