//! `TracedStream`: the whole traced stream of a common streamed call, natively.
//!
//! `client.chat.completions.create(stream=True)` (or `messages.create(stream=True)`) without raw
//! response or content capture, on a sync client: `begin_stream` does `_Call.start`'s work (the
//! span made current, `stream_options={"include_usage": True}` added when the caller gave none)
//! and returns the proxy the call will hand back; `_mist_attach` takes the SDK's stream once the
//! request returns. From then on the proxy is the stream the caller holds: iteration (each chunk
//! passed through, the accumulator fed natively from the first chunk and those that may carry
//! usage, the usage-only chunk that `include_usage` added skipped), `with`, `close()`, any other
//! attribute passed through to the SDK stream, `isinstance(proxy, openai.Stream)` holding through
//! its `__class__`. At its end (exhausted, closed, or dropped unfinished: `stream_end` "closed" /
//! "abandoned") the clock is read; reading the held events, pricing and encoding are queued for
//! mist's background thread (`deferred`, `TracedStream::complete`), or done here
//! (`callspan::end_stream_as`) when no such thread runs.
//!
//! This is `instrumentation._TracedStream` + `_StreamTrace` + `_Call` in one object, which a
//! streamed call otherwise makes in five Python objects and a dozen Python frames, each run after
//! the SDK's work has left little of mist in the CPU caches. Whatever is out of the ordinary goes
//! back to the Python code: an event the native readers do not take (the accumulator is then made
//! in Python and takes every later event), an end the native code declines (a latency at a
//! rounding tie, a span ended already), a failed stream (its error is redacted in Python).
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use pyo3::exceptions::{PyAttributeError, PyStopIteration};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyType};
use pyo3::{PyTraverseError, PyVisit};

use crate::callspan::{begin_call, end_span_at, end_stream_as, leave, merge_found, monotonic_ns, ms, open_attrs, setup};
use crate::usage::{chat_chunk, is_usage_only_chunk, may_carry_usage, message_event_into, Counts};

#[pyclass(module = "mist._native", frozen, weakref)]
pub struct TracedStream {
    inner: OnceLock<Py<PyAny>>, // the SDK stream, once the request returned it
    span: Py<PyAny>,            // the call's `tracing.Span`
    op: Py<PyAny>,              // the span's operation and the client's `_ClientInfo`, for the Python ends
    info: Py<PyAny>,
    family: Py<PyString>,
    provider_fixed: bool,
    anthropic: bool,
    hide_usage: bool, // the call added `include_usage`: its usage-only chunk is not the caller's
    t0: i64,          // perf_counter_ns when the request was sent
    first: AtomicI64, // ... and when the first chunk came (0: none yet)
    done: AtomicBool, // the span has ended (or is being ended)
    found: Py<PyDict>, // what the events said: model, usage, finish reason (the accumulator's attrs)
    counts: [AtomicI64; 4], // Anthropic's running counts: have input (0/1), input, cache read, cache write
    acc: OnceLock<Py<PyAny>>, // the Python accumulator, once an event needed it (its attrs are `found`)
    pending: Mutex<Vec<Py<PyAny>>>, // events to read, in order, at the end (or when PENDING are waiting)
}

/// Events held for reading at once. The events worth reading (the first; those that may carry
/// model, usage or finish reason) are read together when the stream's end is completed (usually
/// by mist's background thread), not one at a time between chunks, each after the SDK's parsing
/// has evicted the readers from the caches. A stream of many such events (Responses API) has them
/// read every PENDING, as they come.
const PENDING: usize = 8;

/// `_Call.start` for a common streamed call: the span begun and made current (`callspan::begin_call`),
/// `stream_options={"include_usage": True}` put in `kwargs` when `add_usage` and the caller gave no
/// `stream_options`, and the proxy to hand back once the request returns. None when it declines
/// (a budgeted trace, anything unexpected), having changed nothing: the caller takes `_Call.start`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn begin_stream<'py>(py: Python<'py>, operation: &Bound<'py, PyAny>, kwargs: &Bound<'py, PyDict>, provider: &Bound<'py, PyAny>,
                         family: &Bound<'py, PyString>, provider_fixed: bool, add_usage: bool, info: &Bound<'py, PyAny>)
                         -> Option<Bound<'py, TracedStream>> {
    let span = begin_call(py, operation, kwargs, provider)?;
    let mut hide_usage = false;
    if add_usage {
        let absent = match kwargs.get_item(intern!(py, "stream_options")) {
            Ok(None) => true,
            Ok(Some(v)) => v.get_type().name().is_ok_and(|n| n == "Omit" || n == "NotGiven"),
            Err(_) => false,
        };
        if absent {
            let set = || -> PyResult<()> {
                let opts = PyDict::new(py);
                opts.set_item(intern!(py, "include_usage"), true)?;
                kwargs.set_item(intern!(py, "stream_options"), opts)
            };
            hide_usage = set().is_ok();
        }
    }
    let stream = TracedStream {
        inner: OnceLock::new(),
        span: span.clone().unbind(),
        op: operation.clone().unbind(),
        info: info.clone().unbind(),
        family: family.clone().unbind(),
        provider_fixed,
        anthropic: family.to_str().is_ok_and(|f| f == "anthropic"),
        hide_usage,
        t0: monotonic_ns(),
        first: AtomicI64::new(0),
        done: AtomicBool::new(false),
        found: PyDict::new(py).unbind(),
        counts: Default::default(),
        acc: OnceLock::new(),
        pending: Mutex::new(Vec::new()),
    };
    match Bound::new(py, stream) {
        Ok(s) => Some(s),
        Err(_) => {
            let _ = span.call_method0(intern!(py, "_leave"));
            None
        }
    }
}

#[pymethods]
impl TracedStream {
    /// The SDK's stream, returned by the request: the span leaves the current context (as
    /// `_Call.returned` does) and this proxy, now standing for `result`, is returned. None when
    /// `result` is not a sync iterator: the caller then records it as a response (`returned`).
    fn _mist_attach(slf: &Bound<'_, Self>, result: &Bound<'_, PyAny>) -> Option<Py<Self>> {
        let py = slf.py();
        let this = slf.get();
        let span = this.span.bind(py);
        let _ = match setup(py) {
            Some((_, current)) => leave(py, span, &current),
            None => span.call_method0(intern!(py, "_leave")).map(|_| ()),
        };
        if !result.get_type().hasattr(intern!(py, "__next__")).unwrap_or(false) {
            this.done.store(true, Relaxed);
            return None;
        }
        if this.inner.set(result.clone().unbind()).is_err() {
            return None;
        }
        Some(slf.clone().unbind())
    }

    /// The request failed: `_Call.failed(exc)` (latency, error redacted, span ended).
    fn _mist_failed(&self, py: Python<'_>, exc: &Bound<'_, PyAny>) {
        if self.done.swap(true, Relaxed) {
            return;
        }
        let run = || -> PyResult<()> {
            let f = py.import(intern!(py, "mist.instrumentation"))?.getattr(intern!(py, "_stream_failed"))?;
            f.call1((&self.span, &self.op, &self.info, self.t0, exc))?;
            Ok(())
        };
        let _ = run();
    }

    #[getter]
    fn _mist_span(&self, py: Python<'_>) -> Py<PyAny> {
        self.span.clone_ref(py)
    }

    #[getter]
    fn _mist_t0(&self) -> i64 {
        self.t0
    }

    #[getter]
    fn _mist_done(&self) -> bool {
        self.done.load(Relaxed)
    }

    /// End the span now (`_StreamTrace.finish`): `how` "complete", "closed" or "abandoned".
    #[pyo3(signature = (exc=None, how="complete"))]
    fn _mist_finish(slf: &Bound<'_, Self>, exc: Option<&Bound<'_, PyAny>>, how: &str) {
        let how = match how {
            "complete" => "complete",
            "abandoned" => "abandoned",
            _ => "closed",
        };
        slf.get().finish(slf.py(), exc, how, Some(slf));
    }

    #[getter]
    fn __class__<'py>(slf: &Bound<'py, Self>) -> Bound<'py, PyType> {
        match slf.get().inner.get() {
            Some(inner) => inner.bind(slf.py()).get_type(),
            None => slf.get_type(),
        }
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        if name.to_str()?.starts_with("_mist_") {
            return Err(PyAttributeError::new_err(name.clone().unbind()));
        }
        self.inner(py)?.getattr(name)
    }

    fn __setattr__(&self, py: Python<'_>, name: &Bound<'_, PyString>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner(py)?.setattr(name, value)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.inner(py)?.repr()?.to_string())
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.get().next(slf)
    }

    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let inner = slf.get().inner(slf.py())?;
        if let Some(enter) = inner.getattr_opt(intern!(slf.py(), "__enter__"))? {
            enter.call0()?;
        }
        Ok(slf.clone().unbind())
    }

    fn __exit__<'py>(slf: &Bound<'py, Self>, et: &Bound<'py, PyAny>, exc: &Bound<'py, PyAny>, tb: &Bound<'py, PyAny>)
                     -> PyResult<Bound<'py, PyAny>> {
        let (py, this) = (slf.py(), slf.get());
        let out = match this.inner(py)?.getattr_opt(intern!(py, "__exit__")) {
            Ok(Some(leave)) => leave.call1((et, exc, tb)),
            Ok(None) => Ok(py.None().into_bound(py)),
            Err(e) => Err(e),
        };
        this.finish(py, None, "closed", Some(slf));
        out
    }

    fn close<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let (py, this) = (slf.py(), slf.get());
        let out = this.inner(py)?.call_method0(intern!(py, "close"));
        this.finish(py, None, "closed", Some(slf));
        out
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(inner) = self.inner.get() {
            visit.call(inner)?;
        }
        if let Some(acc) = self.acc.get() {
            visit.call(acc)?;
        }
        if let Ok(pending) = self.pending.try_lock() {
            for item in pending.iter() {
                visit.call(item)?;
            }
        }
        visit.call(&self.span)?;
        visit.call(&self.info)?;
        visit.call(&self.found)
    }
}

impl TracedStream {
    /// `__next__`: the SDK stream's next chunk, noted; its end or failure ends the span.
    fn next<'py>(&self, slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let inner = self.inner(py)?;
        loop {
            // SAFETY: PyIter_Next on the SDK stream (an iterator: `_mist_attach` checked its type
            // has __next__) returns a new reference, or NULL at the end or with an error set.
            let item = unsafe { Bound::from_owned_ptr_or_opt(py, pyo3::ffi::PyIter_Next(inner.as_ptr())) };
            let Some(item) = item else {
                return match PyErr::take(py) {
                    None => {
                        self.finish(py, None, "complete", Some(slf));
                        Err(PyStopIteration::new_err(()))
                    }
                    Some(e) => {
                        self.finish(py, Some(e.value(py).as_any()), "complete", Some(slf));
                        Err(e)
                    }
                };
            };
            let first = self.first.load(Relaxed) == 0;
            if first {
                self.first.store(monotonic_ns(), Relaxed);
            }
            if (first || may_carry_usage(py, &item, self.anthropic)) && self.hold(py, &item) {
                continue; // the usage-only chunk mist asked for (include_usage), which the caller did not
            }
            return Ok(item);
        }
    }

    fn inner<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        match self.inner.get() {
            Some(inner) => Ok(inner.bind(py)),
            None => Err(PyAttributeError::new_err("the traced stream has no SDK stream yet")),
        }
    }

    fn load_counts(&self) -> Counts {
        let c = &self.counts;
        Counts { have: c[0].load(Relaxed) != 0, input: c[1].load(Relaxed), cache_read: c[2].load(Relaxed), cache_write: c[3].load(Relaxed) }
    }

    /// An event worth reading, kept to be read with the others (`PENDING`). True when `item` is the
    /// usage-only chunk that `include_usage` added (the caller does not see it). Never raises.
    fn hold(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> bool {
        let full = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.push(item.clone().unbind());
            p.len() >= PENDING
        };
        if full {
            self.read_pending(py);
        }
        if !self.hide_usage {
            return false;
        }
        is_usage_only_chunk(py, item)
    }

    /// The held events into the accumulator, in order (the lock is not held while they are read:
    /// the Python accumulator runs Python code).
    fn read_pending(&self, py: Python<'_>) {
        let events = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for item in events {
            self.feed(py, item.bind(py));
        }
    }

    /// One event into the accumulator (natively while it can; the Python accumulator, made the
    /// first time an event needs it, takes that event and every later one). Never raises, as
    /// `_StreamTrace.feed`.
    fn feed(&self, py: Python<'_>, item: &Bound<'_, PyAny>) {
        let found = self.found.bind(py);
        let read = || -> PyResult<()> {
            if let Some(acc) = self.acc.get() {
                acc.bind(py).call_method1(intern!(py, "feed"), (item,))?;
                return Ok(());
            }
            let native = if self.anthropic {
                message_event_into(py, found, self.load_counts(), item).map(|n| {
                    let c = &self.counts;
                    c[0].store(n.have as i64, Relaxed);
                    c[1].store(n.input, Relaxed);
                    c[2].store(n.cache_read, Relaxed);
                    c[3].store(n.cache_write, Relaxed);
                })
            } else {
                let staged = PyDict::new(py);
                chat_chunk(py, found, item, &staged).map(|_| found.update(staged.as_mapping()))
                    .and_then(|r| r.map_err(|_| crate::usage::Pass))
            };
            if native.is_ok() {
                return Ok(());
            }
            self.python_acc(py)?.call_method1(intern!(py, "feed"), (item,))?;
            Ok(())
        };
        let _ = read();
    }

    /// The Python accumulator (`usage.OpenAIStreamUsage` / `AnthropicStreamUsage`), made with what
    /// was read so far: its attrs are `found`, its running counts this stream's.
    fn python_acc<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        if self.acc.get().is_none() {
            let name = if self.anthropic { intern!(py, "AnthropicStreamUsage") } else { intern!(py, "OpenAIStreamUsage") };
            let acc = py.import(intern!(py, "mist.usage"))?.getattr(name)?.call0()?;
            acc.setattr(intern!(py, "_attrs"), self.found.bind(py))?;
            if self.anthropic {
                let c = self.load_counts();
                acc.setattr(intern!(py, "_have_input"), c.have)?;
                acc.setattr(intern!(py, "_input"), c.input)?;
                acc.setattr(intern!(py, "_cache_read"), c.cache_read)?;
                acc.setattr(intern!(py, "_cache_write"), c.cache_write)?;
            }
            let _ = self.acc.set(acc.unbind());
        }
        Ok(self.acc.get().expect("set above").bind(py))
    }

    /// End the span once. Without an error, and with `me` (this stream, alive), the end is
    /// queued (`deferred`): its clock readings taken now, its events read and its line encoded
    /// by a background thread (`complete`). Else, or when nothing drains, natively here
    /// (`end_stream_as`); what that declines, and a failed stream, through
    /// `instrumentation._end_stream_py` (`_StreamTrace.finish`'s Python half).
    fn finish(&self, py: Python<'_>, exc: Option<&Bound<'_, PyAny>>, how: &'static str, me: Option<&Bound<'_, Self>>) {
        if self.done.swap(true, Relaxed) {
            return;
        }
        if exc.is_none() {
            if let Some(me) = me {
                if crate::deferred::defer_stream(py, me, monotonic_ns(), crate::ids::now_ns(), how) {
                    return;
                }
            }
        }
        self.read_pending(py);
        let span = self.span.bind(py);
        let found = self.found.bind(py);
        let first = self.first.load(Relaxed);
        if exc.is_none() {
            let how_set = if how == "complete" { None } else { Some(how) };
            if end_stream_as(py, span, found, self.family.bind(py), self.provider_fixed, self.t0, first, how_set) {
                return;
            }
        }
        let run = || -> PyResult<()> {
            let f = py.import(intern!(py, "mist.instrumentation"))?.getattr(intern!(py, "_end_stream_py"))?;
            f.call1((span, found, &self.info, &self.op, self.t0, first, exc, how))?;
            Ok(())
        };
        let _ = run(); // tracing never raises into the caller's loop
    }

    /// The end `finish` queued, run by the thread that drains the queue: the held events read,
    /// what they said merged into the span's attrs (as `instrumentation._merge`), latency and
    /// time to first event from the readings taken at the end (`_ms`, Python's `round` at an
    /// exact tie), `stream_end` when closed early, priced, `end_ns` set and the line encoded.
    /// A span ended meanwhile is left as it is. Never raises.
    pub(crate) fn complete(&self, py: Python<'_>, t_end: i64, end_ns: i64, how: &str) {
        self.read_pending(py);
        let span = self.span.bind(py);
        let Some(attrs) = open_attrs(py, span) else { return };
        let fill = || -> PyResult<()> {
            merge_found(py, &attrs, self.found.bind(py), self.family.bind(py), self.provider_fixed)?;
            attrs.set_item(intern!(py, "latency_ms"), ms_exact(py, t_end - self.t0)?)?;
            let first = self.first.load(Relaxed);
            if first != 0 {
                attrs.set_item(intern!(py, "ttft_ms"), ms_exact(py, first - self.t0)?)?;
            }
            if how != "complete" {
                attrs.set_item(intern!(py, "stream_end"), how)?;
            }
            Ok(())
        };
        let _ = fill(); // as `_close_stream`: whatever could not be noted, the span still ends
        let _ = end_span_at(py, span, &attrs, end_ns);
    }
}

/// `instrumentation._ms(ns)`: `callspan::ms`, or at an exact tie (and out of its range) Python's
/// `round(ns / 1e6, 3)` itself.
fn ms_exact<'py>(py: Python<'py>, ns: i64) -> PyResult<Bound<'py, PyAny>> {
    match ms(ns) {
        Some(v) => Ok(pyo3::types::PyFloat::new(py, v).into_any()),
        None => py.import(intern!(py, "builtins"))?.getattr(intern!(py, "round"))?.call1((ns as f64 / 1e6, 3)),
    }
}

impl Drop for TracedStream {
    /// Dropped before its end (the caller broke out of its loop and let go): the span ends as
    /// "abandoned", as `_StreamProxy.__del__` ends it. Not while the interpreter shuts down.
    fn drop(&mut self) {
        if *self.done.get_mut() {
            return;
        }
        // SAFETY: a pyclass is dropped from its tp_dealloc, which runs attached to the interpreter.
        let py = unsafe { Python::assume_attached() };
        let saved = PyErr::take(py); // an exception being raised must survive this
        let finalizing = py.import(intern!(py, "sys")).and_then(|s| s.call_method0(intern!(py, "is_finalizing")))
            .and_then(|r| r.is_truthy()).unwrap_or(true);
        if !finalizing {
            self.finish(py, None, "abandoned", None);
        }
        let _ = PyErr::take(py);
        if let Some(e) = saved {
            e.restore(py);
        }
    }
}
