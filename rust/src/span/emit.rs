//! `emit_span`: one trace.span envelope, encoded on the caller's thread straight into the batch.
use std::sync::atomic::Ordering::Relaxed;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyString};

use crate::core::{self, Config, Push};
use crate::generated::{SPAN_KEYS, SPAN_ATTRS, SPAN_END_NS, SPAN_OPERATION, SPAN_PARENT_ID, SPAN_SPAN_ID, SPAN_START_NS, SPAN_STATUS, SPAN_TRACE_ID};
use crate::ids;
use crate::jsonw::{self, is_empty, key_text, Enc, EncodeTooLarge, StrBytes};

/// mist-go's receivers reject messages over 10 MiB.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
const DROPPED_ATTRS: &[u8] = br#"{"mist.error":"attrs dropped: span over the 10 MiB message limit"}"#;

enum Id<'py, const N: usize> {
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
            Ok(s) => match crate::jsonw::str_bytes(s) {
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

fn find<'a, 'py>(items: &'a [(StrBytes<'py>, Bound<'py, PyAny>)], key: &str) -> Option<&'a Bound<'py, PyAny>> {
    items.iter().rev().find(|(k, _)| k.bytes() == key.as_bytes()).map(|(_, v)| v)
}

fn count(v: Option<&Bound<'_, PyAny>>) -> Option<i64> {
    v.filter(|v| v.is_exact_instance_of::<PyInt>()).and_then(|v| v.extract::<i64>().ok())
}

/// USD per million tokens of `model` (input, output, cache read, cache write, reasoning) from the
/// configured price table, cached per model name; None when it has no price. `notify` calls the
/// configured `on_unpriced` the first time a model is found unpriced.
pub(crate) fn price_per_million(py: Python<'_>, cfg: &Config, model: &Bound<'_, PyString>, notify: bool) -> PyResult<Option<[f64; 5]>> {
    let Some(pricer) = &cfg.pricer else { return Ok(None) };
    let key = jsonw::str_bytes(model)?.bytes().to_vec();
    let cached = {
        let g = core::PRICES.lock().unwrap_or_else(|e| e.into_inner());
        g.as_ref().and_then(|m| m.get(&key).copied())
    };
    if let Some(p) = cached {
        return Ok(p);
    }
    let r = pricer.bind(py).call1((model,))?;
    let p: Option<[f64; 5]> = if r.is_none() { None } else { r.extract::<(f64, f64, f64, f64, f64)>().ok().map(|t| [t.0, t.1, t.2, t.3, t.4]) };
    let mut g = core::PRICES.lock().unwrap_or_else(|e| e.into_inner());
    let m = g.get_or_insert_with(Default::default);
    if m.len() < 4096 {
        m.insert(key, p);
    }
    drop(g);
    if p.is_none() && notify {
        if let Some(cb) = &cfg.on_unpriced {
            let _ = cb.bind(py).call1((model,));
        }
    }
    Ok(p)
}

/// `PriceTable.cost`'s formula (same float order): counts in, USD out.
pub(crate) fn cost_of(p: &[f64; 5], tin: i64, tout: i64, cr: i64, cw: i64, rs: i64) -> f64 {
    let fresh = tin.saturating_sub(cr).saturating_sub(cw).max(0);
    let plain = tout.saturating_sub(rs).max(0);
    (fresh as f64 * p[0] + plain as f64 * p[1] + cr as f64 * p[2] + cw as f64 * p[3] + rs as f64 * p[4]) / 1e6
}

/// emit_span's cost: when tokens and a model are given but no cost, price them (same formula and
/// float order as `PriceTable.cost`), else mark the span `unpriced: true`.
fn price<'py>(py: Python<'py>, cfg: &Config, items: &mut Vec<(StrBytes<'py>, Bound<'py, PyAny>)>, added: &mut Option<(&'static str, Bound<'py, PyAny>)>) -> PyResult<()> {
    if cfg.pricer.is_none() || find(items, "cost_usd").is_some() {
        return Ok(());
    }
    let Some(model) = find(items, "model").and_then(|m| m.cast_exact::<PyString>().ok()).cloned() else {
        return Ok(());
    };
    let tin = count(find(items, "tokens_in"));
    let tout = count(find(items, "tokens_out"));
    if tin.is_none() && tout.is_none() {
        return Ok(());
    }
    let p = price_per_million(py, cfg, &model, true)?;
    match p {
        Some(p) => {
            let cr = count(find(items, "tokens_cache_read")).unwrap_or(0);
            let cw = count(find(items, "tokens_cache_write")).unwrap_or(0);
            let rs = count(find(items, "tokens_reasoning")).unwrap_or(0);
            let c = cost_of(&p, tin.unwrap_or(0), tout.unwrap_or(0), cr, cw, rs);
            let v = pyo3::types::PyFloat::new(py, c).into_any();
            *added = Some(("cost_usd", v.clone()));
            items.push((StrBytes::Borrowed(b"cost_usd"), v));
        }
        None => {
            let v = pyo3::types::PyBool::new(py, true).to_owned().into_any();
            *added = Some(("unpriced", v.clone()));
            items.retain(|(k, _)| k.bytes() != b"unpriced"); // the caller's own: replaced, not repeated
            items.push((StrBytes::Borrowed(b"unpriced"), v));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn emit_impl<'py>(
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
    let Some(cfg) = core::config() else { return Ok(ret) };
    let r = emit_inner(py, &cfg, op, start, end, trace_id, &span, &ret, parent_id, status, kw, attrs);
    if r.is_err() {
        core::DROPPED_ERROR.fetch_add(1, Relaxed);
    }
    Ok(ret)
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
            let cur = cv.bind(py).call_method1(intern!(py, "get"), (py.None(),))?;
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
        core::SAMPLED_OUT.fetch_add(1, Relaxed);
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
                Err(_) => jsonw::bad(jsonw::B_OBJECT),
            }
        }
        for (name, v) in kw {
            if let Some(v) = v {
                items.push((StrBytes::Borrowed(name.as_bytes()), v.clone()));
            }
        }
        if !kw.is_empty() {
            price(py, cfg, &mut items, &mut added)?;
        }
        Ok(items)
    };
    let items = build_items()?;
    core::with_scratch(|buf| -> PyResult<()> {
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
            jsonw::bad(jsonw::B_TOO_LARGE);
            buf.clear();
            let mut e = Enc::new(buf);
            res = write_line(&mut e, cfg, &trace, span, parent_id.as_ref(), op, start, end, status.as_ref(), None, true);
            if res.is_ok() && buf.len() > MAX_MESSAGE_BYTES {
                return Err(EncodeTooLarge::new_err("span over the message limit"));
            }
        }
        res?;
        match core::push(buf, cfg) {
            Push::Full => return Ok(()),
            Push::Sealed => {
                if core::NEED_WRITER.load(Relaxed) {
                    if let Some(cb) = &cfg.on_fork {
                        let _ = cb.bind(py).call0();
                    }
                }
            }
            Push::Ok => {}
        }
        if cfg.observe {
            observe(&trace, span_obj, parent_id.as_ref(), op, start, end, status.as_ref(), attrs.as_ref(), kw, added.as_ref());
        }
        Ok(())
    })
}

#[allow(clippy::too_many_arguments)]
fn observe<'py>(
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
    let mut g = core::OBS.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() >= core::MAX_OBS {
        drop(g);
        core::OBS_DROPPED.fetch_add(1, Relaxed);
        return;
    }
    if g.capacity() == 0 {
        g.reserve_exact(core::MAX_OBS);
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
    g.push(core::Obs {
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
pub fn take_observations(py: Python<'_>, limit: usize) -> PyResult<(Vec<Bound<'_, PyDict>>, u64)> {
    // the oldest `limit` first; the rest wait for the next round (when the buffer is full, new
    // spans are the ones not observed: that is the load shedding, counted in OBS_DROPPED)
    let obs: Vec<core::Obs> = {
        let mut g = core::OBS.lock().unwrap_or_else(|e| e.into_inner());
        let n = g.len().min(limit);
        g.drain(..n).collect()
    };
    let dropped = core::OBS_DROPPED.swap(0, Relaxed);
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

/// Add `emit_span` to the module.
pub fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
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
    m.add("emit_span", f)
}

/// Positional twin of `emit_span` for the span context manager: ids given, attrs a dict or None.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn emit<'py>(
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
