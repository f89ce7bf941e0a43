//! `StreamTap`: the iterator a traced SDK stream hands to `for chunk in stream`.
//!
//! A stream is mostly text deltas, and each chunk arrives after the SDK has parsed it, with little
//! of mist in the CPU caches. The tap passes each chunk through in one native call: only the first
//! chunk and chunks that may carry model, usage or finish reason (`usage::may_carry_usage`) are
//! read, by `_StreamTrace.feed`'s native twin below (the accumulator fed through
//! `usage::feed_chat_chunk` / `feed_message_event`, falling back to its Python `feed`); when
//! content is captured every chunk goes to the Python `_StreamTrace.feed`. The end of the stream
//! (exhausted or failed) reaches `_StreamTrace.finish`. The same logic in Python is
//! `instrumentation._TracedStream.__next__`, which `next(stream)` still uses.
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyIterator;

use crate::callspan::monotonic_ns;
use crate::usage::{feed_chat_chunk, feed_message_event, is_usage_only_chunk, may_carry_usage};

#[pyclass(module = "mist._native", frozen)]
pub struct StreamTap {
    it: Py<PyIterator>, // the SDK stream's chunk iterator
    trace: Py<PyAny>,   // its `_StreamTrace`
    anthropic: bool,
    capture: bool,
    hide_usage: bool, // the call added `include_usage`: its usage-only chunk is not the caller's
    started: AtomicBool,
    _owner: Py<PyAny>, // the traced stream: `for c in client.create(stream=True)` holds only the tap,
                       // and the stream ends its span as abandoned when it is released
}

#[pymethods]
impl StreamTap {
    #[new]
    #[pyo3(signature = (owner, it, trace, anthropic, capture, hide_usage=false))]
    fn new(owner: Py<PyAny>, it: &Bound<'_, PyAny>, trace: Py<PyAny>, anthropic: bool, capture: bool, hide_usage: bool) -> PyResult<Self> {
        let it = it.cast::<PyIterator>()?.clone().unbind();
        Ok(StreamTap { it, trace, anthropic, capture, hide_usage, started: AtomicBool::new(false), _owner: owner })
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let it = self.it.bind(py);
        let trace = self.trace.bind(py);
        loop {
            let item = match it.clone().next() {
                None => {
                    let _ = trace.call_method0(intern!(py, "finish")); // never raises; ignore if it did
                    return Ok(None);
                }
                Some(Err(e)) => {
                    let _ = trace.call_method1(intern!(py, "finish"), (e.value(py),));
                    return Err(e);
                }
                Some(Ok(item)) => item,
            };
            // true: the usage-only chunk mist asked for (include_usage), which the caller did not
            let skip = if self.capture {
                trace.call_method1(intern!(py, "feed"), (&item,)).and_then(|r| r.is_truthy()).unwrap_or(false)
            } else {
                let first = !self.started.swap(true, Relaxed);
                (first || may_carry_usage(py, &item, self.anthropic)) && self.feed(py, trace, &item, first)
            };
            if skip {
                continue;
            }
            return Ok(Some(item));
        }
    }
}

impl StreamTap {
    /// `_StreamTrace.feed(item)` when content is not captured, for the first chunk and chunks that
    /// may carry usage: the time of the first chunk, the accumulator fed (natively when it can),
    /// and whether `item` is the usage-only chunk to hide. Never raises, as `feed` does not.
    fn feed(&self, py: Python<'_>, trace: &Bound<'_, PyAny>, item: &Bound<'_, PyAny>, first: bool) -> bool {
        let note = || -> PyResult<()> {
            if first {
                if !trace.getattr(intern!(py, "first"))?.is_truthy()? {
                    trace.setattr(intern!(py, "first"), monotonic_ns())?;
                } else if !may_carry_usage(py, item, self.anthropic) {
                    return Ok(()); // a text delta after chunks read through next(stream)
                }
            }
            let acc = trace.getattr(intern!(py, "acc"))?;
            let read = if self.anthropic { feed_message_event(py, &acc, item) } else { feed_chat_chunk(py, &acc, item) };
            if read {
                let n = acc.getattr(intern!(py, "events"))?.add(1)?;
                acc.setattr(intern!(py, "events"), n)?;
            } else {
                acc.call_method1(intern!(py, "feed"), (item,))?;
            }
            Ok(())
        };
        let _ = note();
        if !self.hide_usage {
            return false;
        }
        is_usage_only_chunk(py, item)
    }
}
