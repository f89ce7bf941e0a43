//! `emit_span`: one trace.span envelope, encoded on the caller's thread straight into the batch.
use std::sync::atomic::Ordering::Relaxed;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

use super::{ids, observe, price};
use crate::buffer::{self, Push};
use crate::codec::{
    self, is_empty, key_text, Enc, EncodeTooLarge, StrBytes, SPAN_ATTRS, SPAN_END_NS, SPAN_KEYS, SPAN_OPERATION,
    SPAN_PARENT_ID, SPAN_SPAN_ID, SPAN_START_NS, SPAN_STATUS, SPAN_TRACE_ID,
};
use crate::config::{self, Config};

/// mist-go's receivers reject messages over 10 MiB.
const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
const DROPPED_ATTRS: &[u8] = br#"{"mist.error":"attrs dropped: span over the 10 MiB message limit"}"#;

pub(super) enum Id<'py, const N: usize> {
    Gen([u8; N]),
    Py(Bound<'py, PyAny>),
}

impl<const N: usize> Id<'_, N> {
    fn write(&self, e: &mut Enc) -> PyResult<()> {
        match self {
            Id::Gen(b) => {
                e.buf.push(b'"');
                e.buf.extend_from_slice(b);
                e.buf.push(b'"');
                Ok(())
            }
            Id::Py(v) => e.value(v, 0),
        }
    }
}

/// Sampling hash of a trace id: its last 16 hex digits, else CRC-32 of its text.
fn trace_hash(t: &Id<'_, 32>) -> u64 {
    let text: Vec<u8> = match t {
        Id::Gen(b) => b.to_vec(),
        Id::Py(v) => match v.cast_exact::<PyString>() {
            Ok(s) => match codec::str_bytes(s) {
                Ok(b) => b.bytes().to_vec(),
                Err(_) => return 0,
            },
            Err(_) => return 0,
        },
    };
    let tail = &text[text.len().saturating_sub(16)..];
    std::str::from_utf8(tail)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit()))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or_else(|| crc32fast::hash(&text) as u64)
}

fn int_or_value(e: &mut Enc, v: &Bound<'_, PyAny>) -> PyResult<()> {
    if v.is_exact_instance_of::<PyInt>() {
        e.int(v)
    } else {
        e.value(v, 0)
    }
}

#[allow(clippy::too_many_arguments)]
fn write_line(
    e: &mut Enc,
    cfg: &Config,
    trace: &Id<'_, 32>,
    span: &Id<'_, 16>,
    parent: Option<&Bound<'_, PyAny>>,
    op: &Bound<'_, PyAny>,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    status: Option<&Bound<'_, PyAny>>,
    items: Option<Vec<(StrBytes<'_>, Bound<'_, PyAny>)>>,
    drop_attrs: bool,
) -> PyResult<()> {
    e.buf.extend_from_slice(b"{\"version\":\"1\",\"id\":\"");
    e.buf.extend_from_slice(&ids::id128());
    e.buf.extend_from_slice(b"\",\"source\":");
    e.buf.extend_from_slice(&cfg.source);
    e.buf.extend_from_slice(b",\"type\":\"trace.span\",\"timestamp_ns\":");
    e.buf.extend_from_slice(itoa::Buffer::new().format(ids::now_ns()).as_bytes());
    e.buf.extend_from_slice(b",\"payload\":{");
    e.buf.extend_from_slice(SPAN_KEYS[SPAN_TRACE_ID]);
    trace.write(e)?;
    e.buf.extend_from_slice(SPAN_KEYS[SPAN_SPAN_ID]);
    span.write(e)?;
    if let Some(p) = parent.filter(|p| !is_empty(p)) {
        e.buf.extend_from_slice(SPAN_KEYS[SPAN_PARENT_ID]);
        e.value(p, 0)?;
    }
    e.buf.extend_from_slice(SPAN_KEYS[SPAN_OPERATION]);
    e.value(op, 0)?;
    e.buf.extend_from_slice(SPAN_KEYS[SPAN_START_NS]);
    int_or_value(e, start)?;
    e.buf.extend_from_slice(SPAN_KEYS[SPAN_END_NS]);
    int_or_value(e, end)?;
    e.buf.extend_from_slice(SPAN_KEYS[SPAN_STATUS]);
    match status {
        Some(s) => e.value(s, 0)?,
        None => e.buf.extend_from_slice(b"\"ok\""),
    }
    if drop_attrs {
        e.buf.extend_from_slice(SPAN_KEYS[SPAN_ATTRS]);
        e.buf.extend_from_slice(DROPPED_ATTRS);
    } else if let Some(items) = items.filter(|i| !i.is_empty()) {
        e.buf.extend_from_slice(SPAN_KEYS[SPAN_ATTRS]);
        e.spend(items.len())?;
        e.write_items(items, 1, true)?;
    }
    e.buf.extend_from_slice(b"}}\n");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn emit_impl<'py>(
    py: Python<'py>,
    op: &Bound<'py, PyAny>,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    trace_id: Option<Bound<'py, PyAny>>,
    span_id: Option<Bound<'py, PyAny>>,
    parent_id: Option<Bound<'py, PyAny>>,
    status: Option<Bound<'py, PyAny>>,
    kw: &[(&'static str, Option<Bound<'py, PyAny>>)],
    attrs: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let span: Id<'py, 16> = match span_id.filter(|v| !v.is_none()) {
        Some(v) => Id::Py(v),
        None => Id::Gen(ids::span_id()),
    };
    let ret = match &span {
        Id::Py(v) => v.clone(),
        Id::Gen(b) => PyString::new(py, unsafe { std::str::from_utf8_unchecked(b) }).into_any(),
    };
    let Some(cfg) = config::config() else { return Ok(ret) };
    let r = emit_inner(py, &cfg, op, start, end, trace_id, &span, &ret, parent_id, status, kw, attrs);
    if r.is_err() {
        buffer::DROPPED_ERROR.fetch_add(1, Relaxed);
    }
    Ok(ret)
}

/// Whether `opentelemetry.trace` is in `sys.modules` (one dictionary lookup; nothing imported).
fn otel_loaded(py: Python<'_>) -> bool {
    let key = intern!(py, "opentelemetry.trace");
    // SAFETY: called with the GIL held (`py`); PyImport_GetModuleDict returns a borrowed reference
    // to the interpreter's `sys.modules`, never freed while the interpreter runs.
    unsafe {
        let modules = pyo3::ffi::PyImport_GetModuleDict();
        if modules.is_null() {
            return false;
        }
        let found = pyo3::ffi::PyDict_Contains(modules, key.as_ptr());
        if found < 0 {
            pyo3::ffi::PyErr_Clear();
        }
        found == 1
    }
}

#[allow(clippy::too_many_arguments)]
fn emit_inner<'py>(
    py: Python<'py>,
    cfg: &Config,
    op: &Bound<'py, PyAny>,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    trace_id: Option<Bound<'py, PyAny>>,
    span: &Id<'py, 16>,
    span_obj: &Bound<'py, PyAny>,
    parent_id: Option<Bound<'py, PyAny>>,
    status: Option<Bound<'py, PyAny>>,
    kw: &[(&'static str, Option<Bound<'py, PyAny>>)],
    attrs: Option<Bound<'py, PyAny>>,
) -> PyResult<()> {
    let mut trace_id = trace_id.filter(|v| !v.is_none());
    let mut parent_id = parent_id.filter(|v| !v.is_none());
    if trace_id.is_none() {
        if let Some(cv) = &cfg.context {
            let cv = cv.bind(py);
            let mut cur = cv.call_method1(intern!(py, "get"), (py.None(),))?;
            if otel_loaded(py) {
                // OpenTelemetry is imported: its current span, when innermost, is the parent
                // (the context's `outer`: mist.tracing.context; absent on a bare ContextVar)
                if let Ok(outer) = cv.getattr(intern!(py, "outer")) {
                    cur = outer.call1((cur,))?;
                }
            }
            if !cur.is_none() {
                trace_id = Some(cur.getattr(intern!(py, "trace_id"))?);
                if parent_id.is_none() {
                    parent_id = Some(cur.getattr(intern!(py, "span_id"))?);
                }
            }
        }
    }
    let trace: Id<'py, 32> = match trace_id {
        Some(v) => Id::Py(v),
        None => Id::Gen(ids::id128()),
    };
    if cfg.sample != u64::MAX && trace_hash(&trace) > cfg.sample {
        buffer::SAMPLED_OUT.fetch_add(1, Relaxed);
        return Ok(());
    }
    let status = status.filter(|v| !v.is_none());
    let mut added: Option<(&'static str, Bound<'py, PyAny>)> = None;
    let mut build_items = || -> PyResult<Vec<(StrBytes<'py>, Bound<'py, PyAny>)>> {
        let mut items: Vec<(StrBytes<'py>, Bound<'py, PyAny>)> = Vec::with_capacity(8);
        if let Some(a) = attrs.as_ref().filter(|a| !a.is_none()) {
            match a.cast::<PyDict>() {
                Ok(d) => {
                    for (k, v) in d.iter() {
                        if let Ok(s) = k.cast_exact::<PyString>() {
                            if let Ok(t) = s.to_str() {
                                if kw.iter().any(|(n, val)| val.is_some() && *n == t) {
                                    continue;
                                }
                            }
                        }
                        items.push((key_text(&k)?, v));
                    }
                }
                Err(_) => codec::bad(codec::B_OBJECT),
            }
        }
        for (name, v) in kw {
            if let Some(v) = v {
                items.push((StrBytes::Borrowed(name.as_bytes()), v.clone()));
            }
        }
        if !kw.is_empty() {
            price::price_items(py, cfg, &mut items, &mut added)?;
        }
        Ok(items)
    };
    let items = build_items()?;
    buffer::with_scratch(|buf| -> PyResult<()> {
        let mut res = {
            let mut e = Enc::new(buf);
            write_line(&mut e, cfg, &trace, span, parent_id.as_ref(), op, start, end, status.as_ref(), Some(items), false)
        };
        let too_big = match &res {
            Err(err) if err.is_instance_of::<EncodeTooLarge>(py) => true,
            Ok(()) => buf.len() > MAX_MESSAGE_BYTES,
            Err(_) => false,
        };
        if too_big {
            codec::bad(codec::B_TOO_LARGE);
            buf.clear();
            let mut e = Enc::new(buf);
            res = write_line(&mut e, cfg, &trace, span, parent_id.as_ref(), op, start, end, status.as_ref(), None, true);
            if res.is_ok() && buf.len() > MAX_MESSAGE_BYTES {
                return Err(EncodeTooLarge::new_err("span over the message limit"));
            }
        }
        res?;
        match buffer::push(buf, cfg) {
            Push::Full => return Ok(()),
            Push::Sealed => {
                if buffer::NEED_WRITER.load(Relaxed) {
                    if let Some(cb) = &cfg.on_fork {
                        let _ = cb.bind(py).call0();
                    }
                }
            }
            Push::Ok => {}
        }
        if cfg.observe {
            observe::observe(&trace, span_obj, parent_id.as_ref(), op, start, end, status.as_ref(), attrs.as_ref(), kw, added.as_ref());
        }
        Ok(())
    })
}

/// Parameters of `emit_span`, in slot order: three positional-or-keyword, the rest keyword-only.
const PARAMS: [&str; 13] = [
    "operation", "start_ns", "end_ns", "trace_id", "span_id", "parent_id", "status", "model", "provider",
    "tokens_in", "tokens_out", "cost_usd", "attrs",
];
const N_POSITIONAL: usize = 3;
/// The parameter names as interned strings (a strong reference kept for the process's life):
/// call sites pass interned keyword names, so matching is a pointer compare.
static PARAM_PTRS: std::sync::OnceLock<[usize; 13]> = std::sync::OnceLock::new();

const EMIT_SPAN_DOC: &std::ffi::CStr = c"emit_span(operation, start_ns, end_ns, *, trace_id=None, span_id=None, parent_id=None, status=None, model=None, provider=None, tokens_in=None, tokens_out=None, cost_usd=None, attrs=None)
--

The low-level hot path: one trace.span envelope, encoded on the caller's thread. Returns the span id.";

fn type_error(msg: String) -> PyErr {
    pyo3::exceptions::PyTypeError::new_err(msg)
}

/// Which parameter a keyword names: pointer compare first, text compare for keywords that are
/// not the interned constants (e.g. from a `**dict` built at run time).
fn param_index(name: &Bound<'_, PyAny>, ptrs: &[usize; 13]) -> PyResult<usize> {
    let p = name.as_ptr() as usize;
    if let Some(i) = ptrs.iter().position(|&q| q == p) {
        return Ok(i);
    }
    let text = name.cast::<PyString>().ok().and_then(|s| s.to_str().ok().map(str::to_owned));
    match text.as_deref().and_then(|t| PARAMS.iter().position(|&n| n == t)) {
        Some(i) => Ok(i),
        None => Err(type_error(format!(
            "emit_span() got an unexpected keyword argument '{}'",
            text.unwrap_or_else(|| name.to_string())
        ))),
    }
}

/// Vectorcall arguments → the 13 parameter slots (borrowed), with Python's own argument errors.
unsafe fn parse_args<'py>(
    py: Python<'py>,
    args: *const *mut pyo3::ffi::PyObject,
    nargsf: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> PyResult<[Option<Bound<'py, PyAny>>; 13]> {
    let ptrs = PARAM_PTRS.get().ok_or_else(|| type_error("emit_span() called before module init".into()))?;
    let nargs = (nargsf as usize) & !(1usize << (usize::BITS - 1)); // PY_VECTORCALL_ARGUMENTS_OFFSET
    if nargs > N_POSITIONAL {
        return Err(type_error(format!("emit_span() takes 3 positional arguments but {nargs} were given")));
    }
    let mut slots: [Option<Bound<'py, PyAny>>; 13] = Default::default();
    for (i, slot) in slots.iter_mut().enumerate().take(nargs) {
        *slot = Some(Bound::from_borrowed_ptr(py, *args.add(i)));
    }
    if !kwnames.is_null() {
        let names = Bound::from_borrowed_ptr(py, kwnames).cast_into::<pyo3::types::PyTuple>()?;
        for (j, name) in names.iter().enumerate() {
            let i = param_index(&name, ptrs)?;
            if slots[i].is_some() {
                return Err(type_error(format!("emit_span() got multiple values for argument '{}'", PARAMS[i])));
            }
            slots[i] = Some(Bound::from_borrowed_ptr(py, *args.add(nargs + j)));
        }
    }
    let missing: Vec<&str> = (0..N_POSITIONAL).filter(|&i| slots[i].is_none()).map(|i| PARAMS[i]).collect();
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
        let list = match quoted.len() {
            1 => quoted[0].clone(),
            2 => format!("{} and {}", quoted[0], quoted[1]),
            _ => format!("{}, {}, and {}", quoted[0], quoted[1], quoted[2]),
        };
        let s = if missing.len() == 1 { "" } else { "s" };
        return Err(type_error(format!("emit_span() missing {} required positional argument{s}: {list}", missing.len())));
    }
    Ok(slots)
}

/// `mist.emit_span(operation, start_ns, end_ns, *, ...)` — the low-level hot path. Returns the span
/// id. A raw METH_FASTCALL function: keyword names are matched by pointer, which is most of the
/// per-call saving over a generic argument parser on a call with a dozen keywords.
unsafe extern "C" fn emit_span_fastcall(
    _slf: *mut pyo3::ffi::PyObject,
    args: *const *mut pyo3::ffi::PyObject,
    nargsf: pyo3::ffi::Py_ssize_t,
    kwnames: *mut pyo3::ffi::PyObject,
) -> *mut pyo3::ffi::PyObject {
    let py = Python::assume_attached();
    fn nn(v: Option<Bound<'_, PyAny>>) -> Option<Bound<'_, PyAny>> {
        v.filter(|v| !v.is_none())
    }
    let run = std::panic::AssertUnwindSafe(|| -> PyResult<Bound<'_, PyAny>> {
        let [op, start, end, trace_id, span_id, parent_id, status, model, provider, tokens_in, tokens_out, cost_usd, attrs] =
            parse_args(py, args, nargsf, kwnames)?;
        let (op, start, end) = (op.unwrap(), start.unwrap(), end.unwrap());
        let kw = [
            ("cost_usd", nn(cost_usd)),
            ("model", nn(model)),
            ("provider", nn(provider)),
            ("tokens_in", nn(tokens_in)),
            ("tokens_out", nn(tokens_out)),
        ];
        emit_impl(py, &op, &start, &end, trace_id, span_id, parent_id, status, &kw, attrs) // None is filtered there
    });
    match std::panic::catch_unwind(run) {
        Ok(Ok(v)) => v.into_ptr(),
        Ok(Err(e)) => {
            e.restore(py);
            std::ptr::null_mut()
        }
        Err(_) => {
            pyo3::panic::PanicException::new_err("mist: emit_span panicked").restore(py);
            std::ptr::null_mut()
        }
    }
}

/// Add `emit_span` and `emit` to the module.
pub(super) fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    let py = m.py();
    let ptrs: Vec<usize> = PARAMS.iter().map(|n| PyString::intern(py, n).unbind().into_ptr() as usize).collect();
    let _ = PARAM_PTRS.set(ptrs.try_into().expect("13 names"));
    let def: &'static mut pyo3::ffi::PyMethodDef = Box::leak(Box::new(pyo3::ffi::PyMethodDef {
        ml_name: c"emit_span".as_ptr(),
        ml_meth: pyo3::ffi::PyMethodDefPointer { PyCFunctionFastWithKeywords: emit_span_fastcall },
        ml_flags: pyo3::ffi::METH_FASTCALL | pyo3::ffi::METH_KEYWORDS,
        ml_doc: EMIT_SPAN_DOC.as_ptr(),
    }));
    let name = m.name()?;
    let f = unsafe {
        let p = pyo3::ffi::PyCFunction_NewEx(def, std::ptr::null_mut(), name.as_ptr());
        Bound::from_owned_ptr_or_err(py, p)?
    };
    m.add("emit_span", f)?;
    m.add_function(wrap_pyfunction!(emit, m)?)?;
    m.add("MAX_MESSAGE_BYTES", MAX_MESSAGE_BYTES)
}

/// Positional twin of `emit_span` for the span context manager: ids given, attrs a dict or None.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn emit<'py>(
    py: Python<'py>,
    operation: &Bound<'py, PyAny>,
    start_ns: &Bound<'py, PyAny>,
    end_ns: &Bound<'py, PyAny>,
    trace_id: Option<Bound<'py, PyAny>>,
    span_id: Option<Bound<'py, PyAny>>,
    parent_id: Option<Bound<'py, PyAny>>,
    status: Option<Bound<'py, PyAny>>,
    attrs: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    emit_impl(py, operation, start_ns, end_ns, trace_id, span_id, parent_id, status, &[], attrs)
}
