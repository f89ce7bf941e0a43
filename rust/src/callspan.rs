//! The span of an instrumented client call, begun and finished in one native call each.
//!
//! `instrumentation`'s common call (no stream, no raw response, no content capture) runs mist's
//! code twice: before the request, and after the answer, when milliseconds of SDK and network work
//! have left little of mist in the CPU caches and every Python frame costs microseconds. The
//! Python version of the two halves is `_enter` (a `Span` made current) and `_finish` (answer read,
//! latency, context restored, priced, emitted): three to six Python frames each. `begin_call` and
//! `finish_call` do the same work on the same `tracing.Span` objects without a Python frame, and
//! decline (returning None / False, having changed nothing) whatever is out of the ordinary, which
//! then takes the Python path: a budgeted trace, a response `usage::record_usage` does not read, a
//! latency at an exact rounding tie, a span already ended. An unknown model (which the Python
//! pricer flags and alerts on) and a trace with a budget finish through `Span.end`.
use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString, PyType};

use crate::ids;

/// `tracing.Span` and the ContextVar holding the current span, set once by `tracing`.
static SETUP: Mutex<Option<(Py<PyType>, Py<PyAny>)>> = Mutex::new(None);

#[pyfunction]
pub fn set_span_type(span_type: Bound<'_, PyType>, current: Bound<'_, PyAny>) {
    *SETUP.lock().unwrap_or_else(|e| e.into_inner()) = Some((span_type.unbind(), current.unbind()));
}

pub(crate) fn setup(py: Python<'_>) -> Option<(Bound<'_, PyType>, Bound<'_, PyAny>)> {
    let g = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref().map(|(t, v)| (t.bind(py).clone(), v.bind(py).clone()))
}

/// `time.perf_counter_ns()`: CPython reads CLOCK_MONOTONIC on Linux.
pub(crate) fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// A new instance of `span_type` with every slot unset (what `Span.__new__(Span)` makes).
fn alloc<'py>(py: Python<'py>, span_type: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>> {
    unsafe {
        let tp = span_type.as_type_ptr();
        let slot = pyo3::ffi::PyType_GetSlot(tp, pyo3::ffi::Py_tp_alloc);
        let alloc: pyo3::ffi::allocfunc = if slot.is_null() { pyo3::ffi::PyType_GenericAlloc } else { std::mem::transmute(slot) };
        Bound::from_owned_ptr_or_err(py, alloc(tp, 0))
    }
}

/// `instrumentation._enter(op, info, kwargs)` for a call outside any budgeted trace: a new `Span`
/// (`model` from the call's keyword arguments when it is a str, then `provider`), made the current
/// span. None when it declines (inside a trace with a budget, or anything unexpected): the caller
/// then takes `_enter`, which also checks the budget.
#[pyfunction]
pub fn begin_call<'py>(py: Python<'py>, operation: &Bound<'py, PyAny>, kwargs: &Bound<'py, PyDict>,
                       provider: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    let run = || -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some((span_type, current)) = setup(py) else { return Ok(None) };
        let parent = current.call_method1(intern!(py, "get"), (py.None(),))?;
        let (trace_id, parent_id) = if parent.is_none() {
            (PyString::new(py, unsafe { std::str::from_utf8_unchecked(&ids::id128()) }).into_any(), py.None().into_bound(py))
        } else {
            if !parent.getattr(intern!(py, "_state"))?.is_none() {
                return Ok(None);
            }
            (parent.getattr(intern!(py, "trace_id"))?, parent.getattr(intern!(py, "span_id"))?)
        };
        let attrs = PyDict::new(py);
        if let Some(model) = kwargs.get_item(intern!(py, "model"))? {
            if model.is_instance_of::<PyString>() {
                attrs.set_item(intern!(py, "model"), model)?;
            }
        }
        if !provider.is_none() {
            attrs.set_item(intern!(py, "provider"), provider)?;
        }
        let span = alloc(py, &span_type)?;
        span.setattr(intern!(py, "trace_id"), trace_id)?;
        span.setattr(intern!(py, "parent_id"), parent_id)?;
        span.setattr(intern!(py, "_state"), py.None())?;
        span.setattr(intern!(py, "span_id"), PyString::new(py, unsafe { std::str::from_utf8_unchecked(&ids::span_id()) }))?;
        span.setattr(intern!(py, "operation"), operation)?;
        span.setattr(intern!(py, "attrs"), attrs)?;
        span.setattr(intern!(py, "status"), intern!(py, "ok"))?;
        span.setattr(intern!(py, "end_ns"), 0)?;
        span.setattr(intern!(py, "_token"), py.None())?;
        span.setattr(intern!(py, "start_ns"), ids::now_ns())?;
        let token = current.call_method1(intern!(py, "set"), (&span,))?;
        span.setattr(intern!(py, "_token"), token)?;
        Ok(Some(span))
    };
    run().unwrap_or(None)
}

/// The current span back to what it was before `span` (`Span._leave`).
pub(crate) fn leave<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, current: &Bound<'py, PyAny>) -> PyResult<()> {
    let token = span.getattr(intern!(py, "_token"))?;
    if token.is_none() {
        return Ok(());
    }
    span.setattr(intern!(py, "_token"), py.None())?;
    if current.call_method1(intern!(py, "reset"), (token,)).is_err() {
        // ended in another context (a task or thread): restore by hand
        if current.call_method1(intern!(py, "get"), (py.None(),))?.is(span) {
            current.call_method1(intern!(py, "set"), (py.None(),))?;
        }
    }
    Ok(())
}

/// `instrumentation._ms(ns)` where it is exact in integer arithmetic: below 2**53 ns, not at an
/// exact tie (None there: the caller declines, and Python's `round` decides).
pub(crate) fn ms(ns: i64) -> Option<f64> {
    if !(0..(1i64 << 53)).contains(&ns) || ns % 1000 == 500 {
        return None;
    }
    Some((ns / 1000 + (ns % 1000 > 500) as i64) as f64 / 1000.0)
}

/// The attrs of a span that has not ended (None: ended already, or attrs not a plain dict).
pub(crate) fn open_attrs<'py>(py: Python<'py>, span: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let run = || -> PyResult<Option<Bound<'py, PyDict>>> {
        if span.getattr(intern!(py, "end_ns"))?.is_truthy()? {
            return Ok(None);
        }
        Ok(span.getattr(intern!(py, "attrs"))?.cast_exact::<PyDict>().ok().cloned())
    };
    run().unwrap_or(None)
}

/// `Span._cost`'s first step: attrs with a model and counts but no cost are priced from the
/// native table (`price_attrs` sets `cost_usd`); true when that failed and the Python pricer
/// (`_costs.price`: an unknown model flagged unpriced, alerted once) must decide.
fn unpriced<'py>(py: Python<'py>, attrs: &Bound<'py, PyDict>) -> PyResult<bool> {
    Ok(attrs.get_item(intern!(py, "cost_usd"))?.is_none_or(|c| c.is_none())
        && attrs.contains(intern!(py, "model"))?
        && (attrs.contains(intern!(py, "tokens_in"))? || attrs.contains(intern!(py, "tokens_out"))?)
        && crate::usage::price_attrs(py, attrs).is_none())
}

/// `Span.end()` for a span whose attrs are final: priced (by `price_attrs`, as `Span._cost` does
/// first) and emitted. A trace with a budget to charge, or a model the native prices do
/// not know (the Python pricer flags it unpriced and alerts once), ends through `Span.end`.
fn end_span<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, attrs: &Bound<'py, PyDict>) -> PyResult<()> {
    if unpriced(py, attrs)? || !span.getattr(intern!(py, "_state"))?.is_none() {
        span.call_method0(intern!(py, "end"))?;
        return Ok(());
    }
    // encoded by a background thread when one runs (`deferred`), else here
    emit_ended(py, span, attrs, ids::now_ns(), true)
}

/// `end_ns` set and the span's line encoded (`emit_impl`), or queued for that (`may_defer`).
fn emit_ended<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, attrs: &Bound<'py, PyDict>, end_ns: i64, may_defer: bool) -> PyResult<()> {
    let end = PyInt::new(py, end_ns);
    span.setattr(intern!(py, "end_ns"), &end)?;
    let attrs_arg = if attrs.is_empty() { None } else { Some(attrs.as_any()) };
    let op = span.getattr(intern!(py, "operation"))?;
    let start = span.getattr(intern!(py, "start_ns"))?;
    let trace = span.getattr(intern!(py, "trace_id"))?;
    let span_id = span.getattr(intern!(py, "span_id"))?;
    let parent = span.getattr(intern!(py, "parent_id"))?;
    let status = span.getattr(intern!(py, "status"))?;
    if may_defer && crate::deferred::defer(py, &op, &start, end.as_any(), &trace, &span_id, &parent, &status, attrs_arg) {
        return Ok(());
    }
    crate::emit::emit_impl(py, &op, &start, end.as_any(), Some(trace), Some(span_id), Some(parent), Some(status), &[],
                           attrs_arg.cloned())?;
    Ok(())
}

/// `Span.end()` at `end_ns`, for an end that was queued (`deferred`) and now runs on the thread
/// that drains the queue: priced (`price_attrs`, else the Python pricer `_costs.price`, which
/// flags an unknown model unpriced and alerts once, as `Span._cost`), a budget state charged,
/// `end_ns` set and the line encoded here.
pub(crate) fn end_span_at<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, attrs: &Bound<'py, PyDict>, end_ns: i64) -> PyResult<()> {
    if unpriced(py, attrs)? {
        py.import(intern!(py, "mist._costs"))?.getattr(intern!(py, "price"))?.call1((attrs,))?;
    }
    let state = span.getattr(intern!(py, "_state"))?;
    if !state.is_none() {
        if let Some(cost) = attrs.get_item(intern!(py, "cost_usd"))? {
            if let Ok(c) = cost.extract::<f64>() {
                if c == c {
                    state.call_method1(intern!(py, "add"), (c,))?;
                }
            }
        }
    }
    emit_ended(py, span, attrs, end_ns, false) // already on the thread that drains the queue
}

/// `instrumentation._finish(span, info, result, t0)`: the answer read into the span's attrs
/// (`record_usage`), `latency_ms` from `t0` (a `time.perf_counter_ns()` reading), the current span
/// restored, the span priced and emitted. When a background thread drains `deferred`, only the
/// clock is read and the context restored here; the rest waits with the response
/// (`complete_call`). False, having changed nothing, when it declines: the caller then runs
/// `_finish`.
#[pyfunction]
pub fn finish_call<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, result: &Bound<'py, PyAny>, family: &Bound<'py, PyString>,
                        provider_fixed: bool, t0: i64) -> bool {
    let Some(latency_ms) = ms(monotonic_ns() - t0) else { return false };
    let Some((_, current)) = setup(py) else { return false };
    let Some(attrs) = open_attrs(py, span) else { return false };
    // a budget is charged now: the next step of its trace must see what this one spent
    let budgeted = span.getattr(intern!(py, "_state")).map_or(true, |s| !s.is_none());
    if !budgeted && crate::deferred::defer_call(py, span, result, family, provider_fixed, latency_ms, ids::now_ns()) {
        let _ = leave(py, span, &current);
        return true;
    }
    if !crate::usage::record_usage(py, result, &attrs, family, provider_fixed) {
        return false;
    }
    // committed: from here on, as `_finish` does, whatever fails the span is still ended
    let _ = attrs.set_item(intern!(py, "latency_ms"), latency_ms);
    let _ = leave(py, span, &current);
    let _ = end_span(py, span, &attrs); // tracing never raises into the application
    true
}

/// The rest of `finish_call`, queued (`deferred`) and run by the thread that drains the queue:
/// the answer read (`record_usage`, else Python's `usage.from_response`, merged as
/// `instrumentation._merge`), `latency_ms` as read when the call returned, priced and encoded
/// with the `end_ns` of that moment (`end_span_at`). A span ended meanwhile is left as it is.
pub(crate) fn complete_call<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, result: &Bound<'py, PyAny>, family: &Bound<'py, PyString>,
                                 provider_fixed: bool, latency_ms: f64, end_ns: i64) {
    let Some(attrs) = open_attrs(py, span) else { return };
    if !crate::usage::record_usage(py, result, &attrs, family, provider_fixed) {
        let read = || -> PyResult<()> {
            let found = py.import(intern!(py, "mist.usage"))?.getattr(intern!(py, "from_response"))?.call1((result,))?;
            merge_found(py, &attrs, found.cast::<PyDict>()?, family, provider_fixed)
        };
        let _ = read(); // as `_finish`: a response that cannot be read still ends the span
    }
    let _ = attrs.set_item(intern!(py, "latency_ms"), latency_ms);
    let _ = end_span_at(py, span, &attrs, end_ns);
}

/// `instrumentation._merge`: what a reader found into the span's attrs, None values skipped, a
/// provider only when it adds to the client's (not fixed by its host or class, not its `family`).
pub(crate) fn merge_found<'py>(py: Python<'py>, attrs: &Bound<'py, PyDict>, found: &Bound<'py, PyDict>, family: &Bound<'py, PyString>,
                               provider_fixed: bool) -> PyResult<()> {
    for (k, v) in found.iter() {
        if v.is_none() || (k.eq(intern!(py, "provider"))? && (provider_fixed || v.eq(family)?)) {
            continue;
        }
        attrs.set_item(k, v)?;
    }
    Ok(())
}

/// `_StreamTrace.finish()` for a stream read to its end without content capture: `found` (the
/// accumulator's attrs) merged into the span's as `instrumentation._merge` does (None values
/// skipped; a provider only when it adds to the client's), `latency_ms` from `t0` and `ttft_ms`
/// from `first` (perf_counter_ns readings; `first` 0 when no chunk came), the span priced and
/// emitted. False, having changed nothing, when it declines: the caller then finishes in Python.
#[pyfunction]
pub fn end_stream<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, found: &Bound<'py, PyDict>, family: &Bound<'py, PyString>,
                       provider_fixed: bool, t0: i64, first: i64) -> bool {
    end_stream_as(py, span, found, family, provider_fixed, t0, first, None)
}

/// `end_stream`, and for a stream closed or dropped before its end (`how`: "closed" /
/// "abandoned"), `stream_end` set to say so, as `_StreamTrace.finish(None, how)` does.
#[allow(clippy::too_many_arguments)]
pub(crate) fn end_stream_as<'py>(py: Python<'py>, span: &Bound<'py, PyAny>, found: &Bound<'py, PyDict>, family: &Bound<'py, PyString>,
                                 provider_fixed: bool, t0: i64, first: i64, how: Option<&str>) -> bool {
    let Some(latency_ms) = ms(monotonic_ns() - t0) else { return false };
    let ttft_ms = if first != 0 {
        match ms(first - t0) {
            Some(v) => Some(v),
            None => return false,
        }
    } else {
        None
    };
    let Some((_, current)) = setup(py) else { return false };
    let Some(attrs) = open_attrs(py, span) else { return false };
    let staged = || -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let mut out = Vec::with_capacity(found.len());
        for (k, v) in found.iter() {
            if v.is_none() {
                continue;
            }
            if k.eq(intern!(py, "provider"))? && (provider_fixed || v.eq(family)?) {
                continue;
            }
            out.push((k, v));
        }
        Ok(out)
    };
    let Ok(staged) = staged() else { return false };
    // committed
    for (k, v) in staged {
        let _ = attrs.set_item(k, v);
    }
    let _ = attrs.set_item(intern!(py, "latency_ms"), latency_ms);
    if let Some(t) = ttft_ms {
        let _ = attrs.set_item(intern!(py, "ttft_ms"), t);
    }
    if let Some(how) = how {
        let _ = attrs.set_item(intern!(py, "stream_end"), how);
    }
    let _ = leave(py, span, &current);
    let _ = end_span(py, span, &attrs);
    true
}
