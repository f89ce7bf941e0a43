//! `StreamTap`: the iterator a traced SDK stream hands to `for chunk in stream`.
//!
//! A stream is mostly text deltas, and each chunk arrives after the SDK has parsed it, with little
//! of mist in the CPU caches. The tap passes each chunk through in one native call: only the first
//! chunk, chunks that may carry model, usage or finish reason (`usage::may_carry_usage`), and every
//! chunk when content is captured reach the Python `_StreamTrace.feed`; the end of the stream
//! (exhausted or failed) reaches `_StreamTrace.finish`. The same logic in Python is
//! `instrumentation._TracedStream.__next__`, which `next(stream)` still uses.
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyIterator;

use crate::usage::may_carry_usage;

#[pyclass(module = "mist._native", frozen)]
pub struct StreamTap {
    it: Py<PyIterator>, // the SDK stream's chunk iterator
    trace: Py<PyAny>,   // its `_StreamTrace`
    anthropic: bool,
    capture: bool,
    started: AtomicBool,
    _owner: Py<PyAny>, // the traced stream: `for c in client.create(stream=True)` holds only the tap,
                       // and the stream ends its span as abandoned when it is released
}

#[pymethods]
impl StreamTap {
    #[new]
    fn new(owner: Py<PyAny>, it: &Bound<'_, PyAny>, trace: Py<PyAny>, anthropic: bool, capture: bool) -> PyResult<Self> {
        let it = it.cast::<PyIterator>()?.clone().unbind();
        Ok(StreamTap { it, trace, anthropic, capture, started: AtomicBool::new(false), _owner: owner })
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
            if self.capture || !self.started.swap(true, Relaxed) || may_carry_usage(py, &item, self.anthropic) {
                // True: the usage-only chunk mist asked for (include_usage), which the caller did not
                let skip = trace.call_method1(intern!(py, "feed"), (&item,)).and_then(|r| r.is_truthy()).unwrap_or(false);
                if skip {
                    continue;
                }
            }
            return Ok(Some(item));
        }
    }
}
