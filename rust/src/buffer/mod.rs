//! Where encoded lines wait for a writer: bounded in memory, never blocking the emitter on I/O.
//!
//! - `batcher.rs`: the shared batch buffer (append under a short mutex, sealed batches queued,
//!   taken by a writer with the GIL released), its counters and the emitters' scratch buffers;
//! - `fdwriter.rs`: the native writer thread for file sinks, which never touches Python.
//!
//! This file is their Python surface: writers written in Python call `take`, `untake`, `wake`.
use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

mod batcher;
mod fdwriter;

pub(crate) use batcher::{push, with_scratch, Push, DROPPED_ERROR, NEED_WRITER, SAMPLED_OUT};

/// In a forked child: a fresh buffer and counters, and no writer until Python starts one.
#[cfg_attr(not(unix), allow(dead_code))] // called by the unix fork handler only
pub(crate) fn after_fork_child() {
    batcher::after_fork_child();
    fdwriter::after_fork_child();
}

fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

/// Seal the open batch and return the sequence number of the last batch queued.
#[pyfunction]
fn seal() -> u64 {
    batcher::seal()
}

/// Wait (GIL released) up to `timeout` seconds for the next batch: `(seq, bytes, lines)` or None.
#[pyfunction]
#[pyo3(signature = (timeout, max_bytes=4 << 20))]
fn take(py: Python<'_>, timeout: f64, max_bytes: usize) -> Option<(u64, Py<PyBytes>, u64)> {
    let d = Duration::from_secs_f64(timeout.clamp(0.0, 3600.0));
    let got = py.detach(|| batcher::take(d, max_bytes, false));
    got.map(|b| {
        let out = PyBytes::new(py, &b.bytes).unbind();
        batcher::recycle(b.bytes);
        (b.seq, out, b.lines)
    })
}

/// Queue one already-encoded line (an alert or eval result); False when the buffer is full.
#[pyfunction]
fn push_line(line: &[u8]) -> bool {
    match crate::config::config() {
        Some(cfg) => !matches!(batcher::push_lines(line, count_lines(line), &cfg), Push::Full),
        None => false,
    }
}

/// Sequence number of the last batch already taken by a writer.
#[pyfunction]
fn consumed_seq() -> u64 {
    batcher::consumed_seq()
}

/// Give back a batch taken by a writer that has since been replaced.
#[pyfunction]
fn untake(seq: u64, batch: &[u8]) {
    batcher::untake(batcher::Batch { seq, bytes: batch.to_vec(), lines: count_lines(batch) })
}

/// Wake a writer blocked in `take`.
#[pyfunction]
fn wake() {
    batcher::wake()
}

/// True once, in a forked child that has no writer yet.
#[pyfunction]
fn need_writer() -> bool {
    NEED_WRITER.swap(false, AcqRel)
}

/// Counters of the native buffer.
#[pyfunction]
fn stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let (queued, batches, seq) = batcher::pending();
    d.set_item("emitted", batcher::EMITTED.load(Relaxed))?;
    d.set_item("bytes", batcher::BYTES.load(Relaxed))?;
    d.set_item("dropped_buffer_full", batcher::DROPPED_FULL.load(Relaxed))?;
    d.set_item("dropped_encode_error", DROPPED_ERROR.load(Relaxed))?;
    d.set_item("sampled_out", SAMPLED_OUT.load(Relaxed))?;
    d.set_item("queued_bytes", queued)?;
    d.set_item("queued_batches", batches)?;
    d.set_item("batches", seq)?;
    let bad = PyDict::new(py);
    for (name, n) in crate::codec::bad_counts() {
        if n > 0 {
            bad.set_item(name, n)?;
        }
    }
    d.set_item("bad_values", bad)?;
    Ok(d)
}

/// Start the native writer over files it appends to (None discards); replaces any running one.
#[pyfunction]
fn start_fd_writer(paths: Vec<Option<String>>, interval: f64) {
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
    (fdwriter::WRITTEN.load(Relaxed), fdwriter::per_fd())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(seal, m)?)?;
    m.add_function(wrap_pyfunction!(take, m)?)?;
    m.add_function(wrap_pyfunction!(push_line, m)?)?;
    m.add_function(wrap_pyfunction!(consumed_seq, m)?)?;
    m.add_function(wrap_pyfunction!(untake, m)?)?;
    m.add_function(wrap_pyfunction!(wake, m)?)?;
    m.add_function(wrap_pyfunction!(need_writer, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(start_fd_writer, m)?)?;
    m.add_function(wrap_pyfunction!(stop_fd_writer, m)?)?;
    m.add_function(wrap_pyfunction!(wait_written, m)?)?;
    m.add_function(wrap_pyfunction!(fd_writer_stats, m)?)?;
    Ok(())
}
