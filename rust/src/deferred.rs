//! Spans of instrumented calls, encoded off the caller's path.
//!
//! An instrumented call ends right after its network wait, when little of mist is in the CPU
//! caches, and encoding its line there (`emit::emit_impl`: attrs ordered, floats and ints
//! written, the line pushed, the alert observation kept) costs ~15 µs of the caller's time, where
//! the same work done for many spans in a row costs a few. So a finished call span (its attrs
//! final, priced, `end_ns` set) is queued here as the arguments `emit_impl` would have taken,
//! and a background thread that runs anyway encodes the queue: mist's alert thread (every 0.1 s)
//! or its writer thread (each time it takes a batch). A common call's end is queued whole
//! (`callspan::complete_call`), and so is a native stream's (`TracedStream::complete`): their
//! clock readings are taken when they end; reading the response or the held events, pricing and
//! encoding wait with them (the response object is held until then). `mist.flush()`, `stats()` and
//! `configure()` encode what is queued first, so what they report and where it goes are as if
//! every span had been encoded when it ended. The order of lines changes at most that much: a
//! deferred span may follow lines emitted after it ended (MTTP consumers order by ids and times).
//!
//! The work is done on the caller's thread as before when no drainer has run in the last
//! `STALE_MS` (a native file writer without alerts, a stopped thread), when `MAX_JOBS` wait, and
//! for a span whose trace has a budget (`callspan::finish_call`: charged before the next step).
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::tracedstream::TracedStream;

/// What waits: the arguments of one `emit_impl` call, or the end of a native stream (its clock
/// readings taken when it ended; its events still to read).
enum Job {
    Emit {
        op: Py<PyAny>,
        start: Py<PyAny>,
        end: Py<PyAny>,
        trace: Py<PyAny>,
        span: Py<PyAny>,
        parent: Py<PyAny>,
        status: Py<PyAny>,
        attrs: Option<Py<PyAny>>,
    },
    Stream { stream: Py<TracedStream>, t_end: i64, end_ns: i64, how: &'static str },
    Call { span: Py<PyAny>, result: Py<PyAny>, family: Py<PyString>, provider_fixed: bool, latency_ms: f64, end_ns: i64 },
}

static JOBS: Mutex<Vec<Job>> = Mutex::new(Vec::new());
/// When a background thread last encoded the queue (ms on `monotonic`, 0: never).
static LAST_DRAIN_MS: AtomicU64 = AtomicU64::new(0);
const MAX_JOBS: usize = 1024;
const STALE_MS: u64 = 2_000;
/// Jobs run between two releases of the GIL.
const SLICE: usize = 16;

fn now_ms() -> u64 {
    (crate::callspan::monotonic_ns() / 1_000_000).max(1) as u64
}

/// Queue `job`; false (`job` dropped) when it must be done now: no live drainer (`py`'s thread
/// then runs what waits first, so nothing waits for a drainer that stopped) or a full queue.
fn queue(py: Python<'_>, job: impl FnOnce() -> Job) -> bool {
    let last = LAST_DRAIN_MS.load(Relaxed);
    if last == 0 || now_ms().saturating_sub(last) > STALE_MS {
        drain(py, false);
        return false;
    }
    let mut g = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() >= MAX_JOBS {
        return false; // the drainer is behind: this one is done now, the queue left to it
    }
    if g.capacity() == 0 {
        g.reserve(64);
    }
    g.push(job());
    true
}

/// Queue a finished span's line (`emit_impl`'s arguments); false when it must be encoded now.
#[allow(clippy::too_many_arguments)]
pub fn defer<'py>(py: Python<'py>, op: &Bound<'py, PyAny>, start: &Bound<'py, PyAny>, end: &Bound<'py, PyAny>, trace: &Bound<'py, PyAny>,
                  span: &Bound<'py, PyAny>, parent: &Bound<'py, PyAny>, status: &Bound<'py, PyAny>,
                  attrs: Option<&Bound<'py, PyAny>>) -> bool {
    queue(py, || Job::Emit {
        op: op.clone().unbind(),
        start: start.clone().unbind(),
        end: end.clone().unbind(),
        trace: trace.clone().unbind(),
        span: span.clone().unbind(),
        parent: parent.clone().unbind(),
        status: status.clone().unbind(),
        attrs: attrs.map(|a| a.clone().unbind()),
    })
}

/// Queue the rest of an instrumented call's end (`callspan::complete_call`: its response read,
/// priced, encoded); false when it must be done now.
pub fn defer_call<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, result: &Bound<'py, PyAny>, family: &Bound<'py, PyString>,
                       provider_fixed: bool, latency_ms: f64, end_ns: i64) -> bool {
    queue(py, || Job::Call {
        span: span.clone().unbind(),
        result: result.clone().unbind(),
        family: family.clone().unbind(),
        provider_fixed,
        latency_ms,
        end_ns,
    })
}

/// Queue the end of a native stream (`TracedStream::complete`); false when it must end now.
pub fn defer_stream(py: Python<'_>, stream: &Bound<'_, TracedStream>, t_end: i64, end_ns: i64, how: &'static str) -> bool {
    queue(py, || Job::Stream { stream: stream.clone().unbind(), t_end, end_ns, how })
}

/// Encode every queued span, oldest first. `background`: called by a thread that drains
/// regularly (it keeps deferral on). The lock is not held while encoding (an encode can run
/// Python code: a pricer, a context lookup), and the GIL is let go between slices of `SLICE`, so a
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
            let n = g.len().min(SLICE);
            g.drain(..n).collect()
        };
        for j in jobs {
            match j {
                Job::Emit { op, start, end, trace, span, parent, status, attrs } => {
                    let _ = crate::emit::emit_impl(
                        py,
                        op.bind(py),
                        start.bind(py),
                        end.bind(py),
                        Some(trace.into_bound(py)),
                        Some(span.into_bound(py)),
                        Some(parent.into_bound(py)),
                        Some(status.into_bound(py)),
                        &[],
                        attrs.map(|a| a.into_bound(py)),
                    );
                }
                Job::Stream { stream, t_end, end_ns, how } => stream.bind(py).get().complete(py, t_end, end_ns, how),
                Job::Call { span, result, family, provider_fixed, latency_ms, end_ns } => {
                    crate::callspan::complete_call(py, span.bind(py), result.bind(py), family.bind(py), provider_fixed, latency_ms, end_ns)
                }
            }
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
