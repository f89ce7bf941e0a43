//! Spans kept for the observers of finished spans (`mist.core.hooks`): when configured with
//! `observe=True`, `emit_span` keeps each span it writes as references (no encoding, no dict)
//! so the hot path pays only a few increfs; the observers' thread takes them with
//! `take_observations`, which builds the payloads in bulk.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::emit::Id;
use crate::codec::is_empty;

/// What the alert engine needs of one span.
struct Obs {
    trace: Result<Py<PyAny>, [u8; 32]>,
    span: Py<PyAny>,
    parent: Option<Py<PyAny>>,
    op: Py<PyAny>,
    start: Py<PyAny>,
    end: Py<PyAny>,
    status: Option<Py<PyAny>>,
    attrs: Option<Py<PyAny>>,
    kw: [Option<(&'static str, Py<PyAny>)>; 6],
}

/// The alert thread takes a few hundred per round; keeping more would only cost memory.
const MAX_OBS: usize = 4096;
static OBS: Mutex<Vec<Obs>> = Mutex::new(Vec::new());
static OBS_DROPPED: AtomicU64 = AtomicU64::new(0);

/// In a forked child: the parent's pending observations are the parent's (their references are
/// leaked, not released: the fork handler must not run Python). OBS is only ever locked under the
/// GIL, which the forking thread holds, so it is free here.
pub(super) fn after_fork_child() {
    if let Ok(mut g) = OBS.try_lock() {
        std::mem::forget(std::mem::take(&mut *g));
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn observe<'py>(
    trace: &Id<'py, 32>,
    span: &Bound<'py, PyAny>,
    parent: Option<&Bound<'py, PyAny>>,
    op: &Bound<'py, PyAny>,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    status: Option<&Bound<'py, PyAny>>,
    attrs: Option<&Bound<'py, PyAny>>,
    kw: &[(&'static str, Option<Bound<'py, PyAny>>)],
    added: Option<&(&'static str, Bound<'py, PyAny>)>,
) {
    let mut g = OBS.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() >= MAX_OBS {
        drop(g);
        OBS_DROPPED.fetch_add(1, Relaxed);
        return;
    }
    if g.capacity() == 0 {
        g.reserve_exact(MAX_OBS);
    }
    let mut kws: [Option<(&'static str, Py<PyAny>)>; 6] = Default::default();
    let mut n = 0;
    for (name, v) in kw.iter().chain(added.map(|(a, b)| (*a, Some(b.clone()))).iter()) {
        if let Some(v) = v {
            if n < kws.len() {
                kws[n] = Some((*name, v.clone().unbind()));
                n += 1;
            }
        }
    }
    g.push(Obs {
        trace: match trace {
            Id::Py(v) => Ok(v.clone().unbind()),
            Id::Gen(b) => Err(*b),
        },
        span: span.clone().unbind(), // the str emit_span returns: no second copy
        parent: parent.filter(|p| !is_empty(p)).map(|p| p.clone().unbind()),
        op: op.clone().unbind(),
        start: start.clone().unbind(),
        end: end.clone().unbind(),
        status: status.map(|s| s.clone().unbind()),
        attrs: attrs.filter(|a| a.is_instance_of::<PyDict>()).map(|a| a.clone().unbind()),
        kw: kws,
    });
}

/// The observations kept since the last call, as trace.span payload dicts, and how many were
/// dropped because the alert thread fell behind.
#[pyfunction]
#[pyo3(signature = (limit=usize::MAX))]
fn take_observations(py: Python<'_>, limit: usize) -> PyResult<(Vec<Bound<'_, PyDict>>, u64)> {
    // the oldest `limit` first; the rest wait for the next round (when the buffer is full, new
    // spans are the ones not observed: that is the load shedding, counted in OBS_DROPPED)
    let obs: Vec<Obs> = {
        let mut g = OBS.lock().unwrap_or_else(|e| e.into_inner());
        let n = g.len().min(limit);
        g.drain(..n).collect()
    };
    let dropped = OBS_DROPPED.swap(0, Relaxed);
    let mut out = Vec::with_capacity(obs.len());
    for o in obs {
        let d = PyDict::new(py);
        match o.trace {
            Ok(t) => d.set_item(intern!(py, "trace_id"), t)?,
            Err(b) => d.set_item(intern!(py, "trace_id"), unsafe { std::str::from_utf8_unchecked(&b) })?,
        }
        d.set_item(intern!(py, "span_id"), o.span)?;
        if let Some(p) = o.parent {
            d.set_item(intern!(py, "parent_id"), p)?;
        }
        d.set_item(intern!(py, "operation"), o.op)?;
        d.set_item(intern!(py, "start_ns"), o.start)?;
        d.set_item(intern!(py, "end_ns"), o.end)?;
        match o.status {
            Some(s) => d.set_item(intern!(py, "status"), s)?,
            None => d.set_item(intern!(py, "status"), intern!(py, "ok"))?,
        }
        let a = match o.attrs {
            Some(a) => a.bind(py).cast::<PyDict>()?.copy()?,
            None => PyDict::new(py),
        };
        for (k, v) in o.kw.into_iter().flatten() {
            a.set_item(k, v)?;
        }
        d.set_item(intern!(py, "attrs"), a)?;
        out.push(d);
    }
    Ok((out, dropped))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(take_observations, m)?)
}
