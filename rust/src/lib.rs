//! `mist._native`: the hot path of mist-trace — canonical MTTP encoding and span buffering.
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

mod callspan;
mod core;
mod deferred;
mod emit;
mod fdwriter;
mod generated;
mod ids;
mod jsonw;
mod keyorder;
mod otlp;
mod streamtap;
mod tracedstream;
mod usage;
mod validate;

use jsonw::Enc;

/// Canonical bytes of one envelope dict (no newline).
#[pyfunction]
fn encode(py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::with_capacity(512);
    let mut e = Enc::new(&mut buf);
    generated::encode_envelope(&mut e, message)?;
    Ok(PyBytes::new(py, &buf).unbind())
}

/// Canonical bytes of any JSON-able value (free-form objects sorted).
#[pyfunction]
fn encode_value(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::with_capacity(256);
    Enc::new(&mut buf).value(value, 0)?;
    Ok(PyBytes::new(py, &buf).unbind())
}

/// Canonical bytes of a payload dict of a known type.
#[pyfunction]
fn encode_payload(py: Python<'_>, mtype: &str, payload: &Bound<'_, PyDict>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::with_capacity(256);
    let mut e = Enc::new(&mut buf);
    match generated::payload_encoder(mtype) {
        Some(f) => f(&mut e, payload)?,
        None => e.value(payload.as_any(), 0)?,
    }
    Ok(PyBytes::new(py, &buf).unbind())
}

#[pyfunction]
fn new_span_id(py: Python<'_>) -> Bound<'_, PyString> {
    let b = ids::span_id();
    PyString::new(py, unsafe { std::str::from_utf8_unchecked(&b) })
}

#[pyfunction]
fn new_trace_id(py: Python<'_>) -> Bound<'_, PyString> {
    let b = ids::id128();
    PyString::new(py, unsafe { std::str::from_utf8_unchecked(&b) })
}

#[pyfunction]
fn now_ns() -> i64 {
    ids::now_ns()
}

/// Configure the buffer. `source` is the emitting service name.
#[pyfunction]
#[pyo3(signature = (source, batch_bytes, max_buffer_bytes, sample=1.0, context=None, on_fork=None, pricer=None, on_unpriced=None, observe=false))]
#[allow(clippy::too_many_arguments)]
fn configure(
    py: Python<'_>,
    source: &Bound<'_, PyString>,
    batch_bytes: usize,
    max_buffer_bytes: usize,
    sample: f64,
    context: Option<Py<PyAny>>,
    on_fork: Option<Py<PyAny>>,
    pricer: Option<Py<PyAny>>,
    on_unpriced: Option<Py<PyAny>>,
    observe: bool,
) -> PyResult<()> {
    let mut src = Vec::new();
    Enc::new(&mut src).pystr(source)?;
    let sample = if sample >= 1.0 { u64::MAX } else if sample <= 0.0 { 0 } else { (sample * u64::MAX as f64) as u64 };
    deferred::drain(py, false); // spans that ended under the old configuration go where it said
    core::set_config(core::Config { source: src, batch_bytes, max_bytes: max_buffer_bytes, sample, context, on_fork, pricer, on_unpriced, observe });
    Ok(())
}

fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// Seal the open batch and return the sequence number of the last batch queued.
#[pyfunction]
fn seal(py: Python<'_>) -> u64 {
    deferred::drain(py, false);
    core::seal()
}

/// Wait (GIL released) up to `timeout` seconds for the next batch: `(seq, bytes, lines)` or None.
#[pyfunction]
#[pyo3(signature = (timeout, max_bytes=4 << 20))]
fn take(py: Python<'_>, timeout: f64, max_bytes: usize) -> Option<(u64, Py<PyBytes>, u64)> {
    let d = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    deferred::drain(py, true);
    let got = py.detach(|| core::take(d, max_bytes, false));
    got.map(|b| {
        let out = PyBytes::new(py, &b.bytes).unbind();
        core::recycle(b.bytes);
        (b.seq, out, b.lines)
    })
}

/// Queue one already-encoded line (an alert or eval result); False when the buffer is full.
#[pyfunction]
fn push_line(line: &[u8]) -> bool {
    match core::config() {
        Some(cfg) => !matches!(core::push_lines(line, count_lines(line), &cfg), core::Push::Full),
        None => false,
    }
}

/// Start the native writer over files it appends to (None discards); replaces any running one.
#[pyfunction]
fn start_fd_writer(py: Python<'_>, paths: Vec<Option<String>>, interval: f64) {
    deferred::no_drainer();
    deferred::drain(py, false);
    fdwriter::start(paths, Duration::from_secs_f64(interval.clamp(0.001, 3600.0)));
}

#[pyfunction]
fn stop_fd_writer() {
    fdwriter::stop();
}

/// Wait with the GIL released until batch `target` is written by the native writer.
#[pyfunction]
fn wait_written(py: Python<'_>, target: u64, timeout: f64) -> bool {
    let d = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    py.detach(|| fdwriter::wait_done(target, d))
}

/// Native writer counters: (lines written to every target, [(target index, written, dropped, errno)]).
#[pyfunction]
fn fd_writer_stats() -> (u64, Vec<(i32, u64, u64, i32)>) {
    (fdwriter::WRITTEN.load(std::sync::atomic::Ordering::Relaxed), fdwriter::per_fd())
}

/// Span payloads kept for the alert engine since the last call, and how many were dropped.
#[pyfunction]
#[pyo3(signature = (limit=usize::MAX))]
fn take_observations(py: Python<'_>, limit: usize) -> PyResult<(Vec<Bound<'_, PyDict>>, u64)> {
    deferred::drain(py, true);
    emit::take_observations(py, limit)
}

/// Sequence number of the last batch already taken by a writer.
#[pyfunction]
fn consumed_seq() -> u64 {
    core::consumed_seq()
}

/// Give back a batch taken by a writer that has since been replaced.
#[pyfunction]
fn untake(seq: u64, batch: &[u8]) {
    core::untake(core::Batch { seq, bytes: batch.to_vec(), lines: count_lines(batch) })
}

/// Wake a writer blocked in `take`.
#[pyfunction]
fn wake() {
    core::wake()
}

/// Counters of the native buffer.
#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    use std::sync::atomic::Ordering::Relaxed;
    deferred::drain(py, false);
    let d = PyDict::new(py);
    let (queued, batches, seq) = core::pending();
    d.set_item("emitted", core::EMITTED.load(Relaxed))?;
    d.set_item("bytes", core::BYTES.load(Relaxed))?;
    d.set_item("dropped_buffer_full", core::DROPPED_FULL.load(Relaxed))?;
    d.set_item("dropped_encode_error", core::DROPPED_ERROR.load(Relaxed))?;
    d.set_item("sampled_out", core::SAMPLED_OUT.load(Relaxed))?;
    d.set_item("queued_bytes", queued)?;
    d.set_item("queued_batches", batches)?;
    d.set_item("batches", seq)?;
    let bad = PyDict::new(py);
    for (i, name) in jsonw::BAD_NAMES.iter().enumerate() {
        let n = jsonw::BAD[i].load(Relaxed);
        if n > 0 {
            bad.set_item(name, n)?;
        }
    }
    d.set_item("bad_values", bad)?;
    Ok(d)
}

/// A batch of MTTP JSONL as an OTLP protobuf `ExportTraceServiceRequest`, byte for byte what
/// `otlp_encode.convert()` + `encode_protobuf()` make, GIL released: `(body, spans, [(skipped
/// type, n)], invalid, bad_lines)`, or None when the batch must go to the Python encoder.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn otlp_protobuf<'py>(
    py: Python<'py>,
    data: &[u8],
    scope_version: &str,
) -> PyResult<Option<(Bound<'py, PyBytes>, u64, Vec<(Bound<'py, PyString>, u64)>, u64, u64)>> {
    let Some((body, counts)) = py.detach(|| otlp::encode(data, scope_version.as_bytes())) else {
        return Ok(None);
    };
    let skipped = counts.skipped.iter().map(|(k, n)| Ok((validate::py_str(py, k)?, *n))).collect::<PyResult<_>>()?;
    Ok(Some((PyBytes::new(py, &body), counts.spans, skipped, counts.invalid, counts.bad_lines)))
}

/// True once, in a forked child that has no writer yet.
#[pyfunction]
fn need_writer() -> bool {
    core::NEED_WRITER.swap(false, std::sync::atomic::Ordering::AcqRel)
}

#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    ids::reseed();
    core::install_fork_handler();
    m.add_function(wrap_pyfunction!(encode, m)?)?;
    m.add_function(wrap_pyfunction!(encode_value, m)?)?;
    m.add_function(wrap_pyfunction!(encode_payload, m)?)?;
    emit::register(m)?;
    m.add_function(wrap_pyfunction!(emit::emit, m)?)?;
    m.add_function(wrap_pyfunction!(new_span_id, m)?)?;
    m.add_function(wrap_pyfunction!(usage::read_usage, m)?)?;
    m.add_function(wrap_pyfunction!(usage::price_attrs, m)?)?;
    m.add_function(wrap_pyfunction!(usage::record_usage, m)?)?;
    m.add_function(wrap_pyfunction!(callspan::set_span_type, m)?)?;
    m.add_function(wrap_pyfunction!(callspan::begin_call, m)?)?;
    m.add_function(wrap_pyfunction!(callspan::finish_call, m)?)?;
    m.add_function(wrap_pyfunction!(callspan::end_stream, m)?)?;
    m.add_function(wrap_pyfunction!(usage::may_carry_usage, m)?)?;
    m.add_function(wrap_pyfunction!(usage::feed_chat_chunk, m)?)?;
    m.add_function(wrap_pyfunction!(usage::feed_message_event, m)?)?;
    m.add_class::<streamtap::StreamTap>()?;
    m.add_function(wrap_pyfunction!(tracedstream::begin_stream, m)?)?;
    m.add_class::<tracedstream::TracedStream>()?;
    m.add("USAGE_VIEW_NAMES", usage::VIEW_NAMES.to_vec())?;
    m.add_function(wrap_pyfunction!(new_trace_id, m)?)?;
    m.add_function(wrap_pyfunction!(now_ns, m)?)?;
    m.add_function(wrap_pyfunction!(configure, m)?)?;
    m.add_function(wrap_pyfunction!(seal, m)?)?;
    m.add_function(wrap_pyfunction!(take, m)?)?;
    m.add_function(wrap_pyfunction!(wake, m)?)?;
    m.add_function(wrap_pyfunction!(push_line, m)?)?;
    m.add_function(wrap_pyfunction!(consumed_seq, m)?)?;
    m.add_function(wrap_pyfunction!(untake, m)?)?;
    m.add_function(wrap_pyfunction!(take_observations, m)?)?;
    m.add_function(wrap_pyfunction!(start_fd_writer, m)?)?;
    m.add_function(wrap_pyfunction!(stop_fd_writer, m)?)?;
    m.add_function(wrap_pyfunction!(wait_written, m)?)?;
    m.add_function(wrap_pyfunction!(fd_writer_stats, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(need_writer, m)?)?;
    m.add_function(wrap_pyfunction!(otlp_protobuf, m)?)?;
    validate::register(m)?;
    m.add("EncodeTooLarge", m.py().get_type::<jsonw::EncodeTooLarge>())?;
    m.add("MAX_STRING_CHARS", jsonw::MAX_STRING_CHARS)?;
    m.add("MAX_DEPTH", jsonw::MAX_DEPTH)?;
    m.add("MAX_MESSAGE_BYTES", emit::MAX_MESSAGE_BYTES)?;
    Ok(())
}

