//! Spans of instrumented calls, encoded off the caller's path.
//!
//! An instrumented call ends right after its network wait, when little of mist is in the CPU
//! caches, and encoding its line there (`emit::emit_impl`: attrs ordered, floats and ints
//! written, the line pushed, the alert observation kept) costs ~15 µs of the caller's time, where
//! the same work done for many spans in a row costs a few. So a finished call span (its attrs
//! final, priced, `end_ns` set) is queued here as the arguments `emit_impl` would have taken,
//! and a background thread that runs anyway encodes the queue: mist's alert thread (every 0.1 s)
//! or its writer thread (each time it takes a batch). `mist.flush()`, `stats()` and
//! `configure()` encode what is queued first, so what they report and where it goes are as if
//! every span had been encoded when it ended. The order of lines changes at most that much: a
//! deferred span may follow lines emitted after it ended (MTTP consumers order by ids and times).
//!
//! A span is encoded on the caller's thread as before when no drainer has run in the last
//! `STALE_MS` (a native file writer without alerts, a stopped thread), or `MAX_JOBS` wait.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use pyo3::prelude::*;

/// The arguments of one `emit_impl` call.
pub struct Job {
    op: Py<PyAny>,
    start: Py<PyAny>,
    end: Py<PyAny>,
    trace: Py<PyAny>,
    span: Py<PyAny>,
    parent: Py<PyAny>,
    status: Py<PyAny>,
    attrs: Option<Py<PyAny>>,
}

static JOBS: Mutex<Vec<Job>> = Mutex::new(Vec::new());
/// When a background thread last encoded the queue (ms on `monotonic`, 0: never).
static LAST_DRAIN_MS: AtomicU64 = AtomicU64::new(0);
const MAX_JOBS: usize = 1024;
const STALE_MS: u64 = 2_000;

fn now_ms() -> u64 {
    (crate::callspan::monotonic_ns() / 1_000_000).max(1) as u64
}

/// Queue a finished span's line; false when it must be encoded now (no live drainer, queue full),
/// after what waits (`py`'s thread encodes the queue, so no line waits for a drainer that stopped).
#[allow(clippy::too_many_arguments)]
pub fn defer<'py>(py: Python<'py>, op: &Bound<'py, PyAny>, start: &Bound<'py, PyAny>, end: &Bound<'py, PyAny>, trace: &Bound<'py, PyAny>,
                  span: &Bound<'py, PyAny>, parent: &Bound<'py, PyAny>, status: &Bound<'py, PyAny>,
                  attrs: Option<&Bound<'py, PyAny>>) -> bool {
    let last = LAST_DRAIN_MS.load(Relaxed);
    if last == 0 || now_ms().saturating_sub(last) > STALE_MS {
        drain(py, false);
        return false;
    }
    let mut g = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() >= MAX_JOBS {
        drop(g);
        drain(py, false);
        return false;
    }
    if g.capacity() == 0 {
        g.reserve(64);
    }
    g.push(Job {
        op: op.clone().unbind(),
        start: start.clone().unbind(),
        end: end.clone().unbind(),
        trace: trace.clone().unbind(),
        span: span.clone().unbind(),
        parent: parent.clone().unbind(),
        status: status.clone().unbind(),
        attrs: attrs.map(|a| a.clone().unbind()),
    });
    true
}

/// Encode every queued span, oldest first. `background`: called by a thread that drains
/// regularly (it keeps deferral on). The lock is not held while encoding (an encode can run
/// Python code: a pricer, a context lookup), and the GIL is let go between slices of 64, so a
/// long queue does not stall the application's threads.
pub fn drain(py: Python<'_>, background: bool) {
    if background {
        LAST_DRAIN_MS.store(now_ms(), Relaxed);
    }
    loop {
        let jobs: Vec<Job> = {
            let mut g = JOBS.lock().unwrap_or_else(|e| e.into_inner());
            if g.is_empty() {
                return;
            }
            let n = g.len().min(64);
            g.drain(..n).collect()
        };
        for j in jobs {
            let _ = crate::emit::emit_impl(
                py,
                j.op.bind(py),
                j.start.bind(py),
                j.end.bind(py),
                Some(j.trace.into_bound(py)),
                Some(j.span.into_bound(py)),
                Some(j.parent.into_bound(py)),
                Some(j.status.into_bound(py)),
                &[],
                j.attrs.map(|a| a.into_bound(py)),
            );
        }
        py.detach(|| ());
    }
}

/// The background drainer changed (a native file writer, which runs without the GIL, took over):
/// spans are encoded where they end until a thread drains again.
pub fn no_drainer() {
    LAST_DRAIN_MS.store(0, Relaxed);
}

/// In a forked child: the parent's queue is the parent's to encode (its references are leaked,
/// not released: no Python here), and no drainer runs until the child starts one.
pub fn after_fork_child() {
    LAST_DRAIN_MS.store(0, Relaxed);
    if let Ok(mut g) = JOBS.try_lock() {
        std::mem::forget(std::mem::take(&mut *g));
    }
}
