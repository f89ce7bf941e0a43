//! `mist._native`: the hot path of mist-trace — canonical MTTP encoding and span buffering.
//!
//! - `codec/`: canonical JSON bytes (the writer, the generated encoders);
//! - `config.rs`: `configure()`, read lock-free by the emitter and the buffer;
//! - `span/`: `emit_span` (the line, its cost, ids, the alert engine's observations);
//! - `buffer/`: the batch buffer lines wait in, and the native file writer;
//! - `validate/`: strict decoding and schema validation of MTTP lines;
//! - `otlp/`: batches as OTLP protobuf;
//! - `atfork.rs`: the fork handler.
use pyo3::prelude::*;

mod atfork;
mod buffer;
mod codec;
mod config;
mod otlp;
mod span;
mod validate;

#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    span::reseed();
    atfork::install();
    codec::register(m)?;
    config::register(m)?;
    span::register(m)?;
    buffer::register(m)?;
    validate::register(m)?;
    otlp::register(m)?;
    Ok(())
}
