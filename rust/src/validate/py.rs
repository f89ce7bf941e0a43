//! Native decoding and validation of MTTP lines: the Python-facing side. This file turns the
//! results of `decode.rs` and `generated.rs` into Python values:
//!
//! - `validate_line(bytes) -> [(pointer, kind, message)]`
//! - `validate_object(dict) -> [(pointer, kind, message)]` (a Python envelope, same limits)
//! - `validate_chunk(data, final, report) -> (consumed, lines, invalid, kinds, reported)`: every
//!   complete line of a block of a file, GIL released; the first `report` invalid lines come back
//!   as `(line_index, pointer, kind, message, n_errors)`.
//! - `validate_fd(fd, report, progress) -> (lines, invalid, kinds, reported, read_error)`: a whole
//!   regular file, read and checked natively (what `mist validate` uses for plain files). Unix
//!   only (positional reads on a C descriptor); elsewhere `mist validate` feeds `validate_chunk`.
//! - `decode_line(bytes) -> dict` and `decode_chunk(data, final) -> (consumed, items)` for `mist.read`.
use std::borrow::Cow;
use std::collections::BTreeMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::decode::{self, DErr, Num, VErr, Val, MAX_DEPTH, MAX_VALUES};
use super::generated;

type PyErrTuple = (String, &'static str, String);

fn tuples(list: Vec<VErr>) -> Vec<PyErrTuple> {
    list.into_iter().map(|e| (e.ptr, e.kind, e.msg)).collect()
}

/// Schema errors of one line (no trailing newline): `[(pointer, kind, message)]`, empty if valid.
#[pyfunction]
fn validate_line(line: &[u8]) -> Vec<PyErrTuple> {
    tuples(decode::check_line(line))
}

/// Schema errors of a Python envelope (dict or any value), same limits as a decoded line.
#[pyfunction]
fn validate_object(value: &Bound<'_, PyAny>) -> PyResult<Vec<PyErrTuple>> {
    let mut conv = ToVal { path: Vec::new(), count: 0 };
    match conv.val(value, 0) {
        Err(Fail::Py(e)) => Err(e),
        Err(Fail::Bad(e)) => Ok(tuples(vec![e])),
        Ok(v) => {
            let mut e = decode::Errs::default();
            generated::check_envelope(&v, &mut e);
            Ok(tuples(e.list))
        }
    }
}

/// Lines of `data` ending in `\n` (and, when `final_`, the unterminated rest), as
/// (index, bytes without `\n`, terminated).
fn split_lines(data: &[u8], final_: bool) -> (Vec<(usize, &[u8], bool)>, usize) {
    let mut out = Vec::new();
    let mut start = 0;
    let mut idx = 0;
    while let Some(end) = decode::find_byte(data, start, b'\n') {
        out.push((idx, &data[start..end], true));
        idx += 1;
        start = end + 1;
    }
    if final_ && start < data.len() {
        out.push((idx, &data[start..], false));
        start = data.len();
    }
    (out, start)
}

/// An unterminated last line that does not decode: a writer cut off mid-line.
fn torn(e: DErr) -> DErr {
    VErr { ptr: e.ptr, kind: "torn", msg: format!("torn last line (no newline at the end of the file): {}", e.msg) }
}

struct ChunkResult {
    lines: u64,
    invalid: u64,
    kinds: BTreeMap<&'static str, u64>,
    reported: Vec<(usize, String, &'static str, String, usize)>,
    consumed: usize,
}

/// Lines per worker below which a block is checked on the calling thread alone.
const PARALLEL_MIN_LINES: usize = 2048;

fn check_lines(lines: &[(usize, &[u8], bool)], report: usize) -> ChunkResult {
    let mut r = ChunkResult { lines: lines.len() as u64, invalid: 0, kinds: BTreeMap::new(), reported: Vec::new(), consumed: 0 };
    for &(idx, line, terminated) in lines {
        let mut errs = match decode::decode(line, generated::INSPECT_DEPTH) {
            Err(e) if !terminated => vec![torn(e)],
            Err(e) => vec![e],
            Ok(v) => {
                let mut e = decode::Errs::default();
                generated::check_envelope(&v, &mut e);
                e.list
            }
        };
        if errs.is_empty() {
            continue;
        }
        r.invalid += 1;
        for e in &errs {
            *r.kinds.entry(e.kind).or_insert(0) += 1;
        }
        if r.reported.len() < report {
            let n = errs.len();
            let first = errs.swap_remove(0);
            r.reported.push((idx, first.ptr, first.kind, first.msg, n));
        }
    }
    r
}

/// Every line of a block, split across the machine's cores (results merged in line order).
fn check_chunk(data: &[u8], final_: bool, report: usize) -> ChunkResult {
    let (lines, consumed) = split_lines(data, final_);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8).min(lines.len() / PARALLEL_MIN_LINES).max(1);
    let mut r = if workers == 1 {
        check_lines(&lines, report)
    } else {
        let per = lines.len().div_ceil(workers);
        let parts: Vec<ChunkResult> = std::thread::scope(|sc| {
            let mut pieces = lines.chunks(per);
            let own = pieces.next().unwrap_or(&[]);
            let handles: Vec<_> = pieces.map(|part| sc.spawn(move || check_lines(part, report))).collect();
            let mut out = vec![check_lines(own, report)]; // the calling thread takes the first share
            out.extend(handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
            out
        });
        let mut all = ChunkResult { lines: 0, invalid: 0, kinds: BTreeMap::new(), reported: Vec::new(), consumed: 0 };
        for p in parts {
            all.lines += p.lines;
            all.invalid += p.invalid;
            for (k, n) in p.kinds {
                *all.kinds.entry(k).or_insert(0) += n;
            }
            for rep in p.reported {
                if all.reported.len() < report {
                    all.reported.push(rep);
                }
            }
        }
        all
    };
    r.consumed = consumed;
    r
}

/// Validate every complete line of `data` (a block of a file) with the GIL released.
/// Returns `(consumed, lines, invalid, {kind: errors}, [(line_index, pointer, kind, message, n_errors)])`.
#[pyfunction]
#[pyo3(signature = (data, final_=false, report=20))]
fn validate_chunk<'py>(py: Python<'py>, data: &[u8], final_: bool, report: usize) -> PyResult<Bound<'py, PyTuple>> {
    let r = py.detach(|| check_chunk(data, final_, report));
    let kinds = PyDict::new(py);
    for (k, n) in &r.kinds {
        kinds.set_item(k, n)?;
    }
    let reported = PyList::empty(py);
    for (idx, ptr, kind, msg, n) in r.reported {
        reported.append((idx, ptr, kind, msg, n))?;
    }
    PyTuple::new(py, [r.consumed.into_pyobject(py)?.into_any(), r.lines.into_pyobject(py)?.into_any(),
        r.invalid.into_pyobject(py)?.into_any(), kinds.into_any(), reported.into_any()])
}

/// Bytes read per block by `validate_fd`.
#[cfg(unix)]
const FILE_BLOCK: usize = 4 << 20;

/// What `validate_fd` found so far: counts, kinds and the first reported lines (1-based numbers).
#[cfg(unix)]
#[derive(Default)]
struct FileTotals {
    lines: u64,
    invalid: u64,
    kinds: BTreeMap<&'static str, u64>,
    reported: Vec<(u64, String, &'static str, String, usize)>,
}

#[cfg(unix)]
impl FileTotals {
    fn add(&mut self, r: ChunkResult, report: usize) {
        for (idx, ptr, kind, msg, n) in r.reported {
            if self.reported.len() < report {
                self.reported.push((self.lines + idx as u64 + 1, ptr, kind, msg, n));
            }
        }
        self.lines += r.lines;
        self.invalid += r.invalid;
        for (k, n) in r.kinds {
            *self.kinds.entry(k).or_insert(0) += n;
        }
    }

    /// A line over the size limit, counted from its length without ever being held.
    fn add_long(&mut self, n: usize, torn_: bool, report: usize) {
        let e = if torn_ { torn(decode::too_large(n)) } else { decode::too_large(n) };
        let r = ChunkResult {
            lines: 1,
            invalid: 1,
            kinds: BTreeMap::from([(e.kind, 1)]),
            reported: vec![(0, e.ptr, e.kind, e.msg, 1)],
            consumed: 0,
        };
        self.add(r, report);
    }
}

/// Validate a whole regular file from its descriptor (read with `pread` from offset 0, so Python
/// buffering on the same descriptor does not matter), GIL released: a reader thread fills blocks
/// while complete lines are checked on every core. Memory stays flat: two blocks in flight and at
/// most one partial line (a line over the limit is counted, not kept). `progress(lines, invalid)`
/// is called after each block (and Ctrl-C is honoured there).
/// Returns `(lines, invalid, {kind: errors}, [(line, pointer, kind, message, n_errors)], read_error)`.
#[cfg(unix)]
#[pyfunction]
#[pyo3(signature = (fd, report=20, progress=None))]
fn validate_fd<'py>(py: Python<'py>, fd: i32, report: usize, progress: Option<Py<PyAny>>) -> PyResult<Bound<'py, PyTuple>> {
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::FromRawFd;
    use std::sync::mpsc;

    let result: Result<(FileTotals, Option<String>), PyErr> = py.detach(|| {
        // the descriptor stays Python's: never closed here
        let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        let (tx, rx) = mpsc::sync_channel::<Result<Vec<u8>, String>>(2);
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::scope(|sc| {
            let file = &file;
            sc.spawn(move || {
                let mut offset = 0u64;
                loop {
                    let mut buf = back_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(FILE_BLOCK));
                    buf.resize(FILE_BLOCK, 0);
                    let n = match file.read_at(&mut buf, offset) {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    buf.truncate(n);
                    offset += n as u64;
                    let done = n == 0;
                    if tx.send(Ok(buf)).is_err() || done {
                        return;
                    }
                }
            });
            let rx = rx; // owned here: dropped on any early return, which stops the reader
            let mut t = FileTotals::default();
            let mut work: Vec<u8> = Vec::with_capacity(FILE_BLOCK * 2);
            let mut skipping: Option<usize> = None; // length so far of a line over the limit
            for msg in rx.iter() {
                let block = match msg {
                    Ok(b) => b,
                    Err(e) => return Ok((t, Some(e))),
                };
                if block.is_empty() {
                    break;
                }
                let mut rest: &[u8] = &block;
                if let Some(n) = skipping {
                    match decode::find_byte(rest, 0, b'\n') {
                        None => {
                            skipping = Some(n + rest.len());
                            let _ = back_tx.send(block);
                            continue;
                        }
                        Some(p) => {
                            t.add_long(n + p, false, report);
                            skipping = None;
                            rest = &rest[p + 1..];
                        }
                    }
                }
                work.extend_from_slice(rest);
                let _ = back_tx.send(block);
                let r = check_chunk(&work, false, report.saturating_sub(t.reported.len()));
                let consumed = r.consumed;
                t.add(r, report);
                work.drain(..consumed);
                if work.len() > decode::MAX_LINE_BYTES {
                    skipping = Some(work.len());
                    work.clear();
                }
                if let Some(cb) = &progress {
                    let (lines, invalid) = (t.lines, t.invalid);
                    Python::attach(|py| -> PyResult<()> {
                        py.check_signals()?;
                        cb.call1(py, (lines, invalid))?;
                        Ok(())
                    })?;
                } else {
                    Python::attach(|py| py.check_signals())?;
                }
            }
            if let Some(n) = skipping {
                t.add_long(n, true, report);
            } else if !work.is_empty() {
                let r = check_chunk(&work, true, report.saturating_sub(t.reported.len()));
                t.add(r, report);
            }
            Ok((t, None))
        })
    });
    let (t, read_error) = result?;
    let kinds = PyDict::new(py);
    for (k, n) in &t.kinds {
        kinds.set_item(k, n)?;
    }
    let reported = PyList::empty(py);
    for (line, ptr, kind, msg, n) in t.reported {
        reported.append((line, ptr, kind, msg, n))?;
    }
    PyTuple::new(py, [t.lines.into_pyobject(py)?.into_any(), t.invalid.into_pyobject(py)?.into_any(),
        kinds.into_any(), reported.into_any(), read_error.into_pyobject(py)?.into_any()])
}

/// One envelope from one line (no trailing newline). Raises ValueError("pointer: message").
#[pyfunction]
fn decode_line<'py>(py: Python<'py>, line: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut keys = KeyCache::new();
    match decode::decode(line, usize::MAX) {
        Ok(v @ Val::Obj(_)) => to_py(py, &v, &mut keys),
        Ok(v) => Err(PyValueError::new_err(not_object(&v))),
        Err(e) => Err(PyValueError::new_err(err_text(&e))),
    }
}

fn not_object(v: &Val) -> String {
    let mut m = String::from("expected a JSON object, got ");
    decode::got(&mut m, v);
    m
}

fn err_text(e: &DErr) -> String {
    if e.ptr.is_empty() {
        e.msg.clone()
    } else {
        format!("{}: {}", e.ptr, e.msg)
    }
}

/// Envelopes of every complete line of `data`: `(consumed, items)` where an item is a dict, or
/// `(line_index, message, terminated)` for a line that does not decode. Blank lines are skipped.
#[pyfunction]
#[pyo3(signature = (data, final_=false))]
fn decode_chunk<'py>(py: Python<'py>, data: &[u8], final_: bool) -> PyResult<(usize, Bound<'py, PyList>)> {
    let (lines, consumed) = split_lines(data, final_);
    let out = PyList::empty(py);
    let mut keys = KeyCache::new();
    for (idx, line, terminated) in lines {
        if line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        match decode::decode(line, usize::MAX) {
            Ok(v @ Val::Obj(_)) => out.append(to_py(py, &v, &mut keys)?)?,
            Ok(v) => out.append((idx, not_object(&v), terminated))?,
            Err(e) => out.append((idx, err_text(&e), terminated))?,
        }
    }
    Ok((consumed, out))
}

// ---------------------------------------------------------------------------------------------
// decoded tree → Python objects

/// Recently made key strings (direct-mapped), so repeated field names are made once per call.
struct KeyCache<'py> {
    slots: Vec<Option<(Vec<u8>, Bound<'py, PyString>)>>,
}

impl<'py> KeyCache<'py> {
    fn new() -> Self {
        KeyCache { slots: (0..256).map(|_| None).collect() }
    }
    fn get(&mut self, py: Python<'py>, k: &[u8]) -> PyResult<Bound<'py, PyString>> {
        if k.len() > 32 {
            return py_str(py, k);
        }
        let mut h: u32 = 2166136261;
        for &b in k {
            h = (h ^ b as u32).wrapping_mul(16777619);
        }
        let slot = &mut self.slots[(h & 255) as usize];
        if let Some((kb, s)) = slot {
            if kb.as_slice() == k {
                return Ok(s.clone());
            }
        }
        let s = py_str(py, k)?;
        *slot = Some((k.to_vec(), s.clone()));
        Ok(s)
    }
}

/// A Python str from WTF-8 (lone surrogates come back as surrogates, as `json.loads` gives them).
pub(crate) fn py_str<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyString>> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(PyString::new(py, s)),
        Err(_) => {
            let bytes = PyBytes::new(py, b);
            Ok(bytes.call_method1(pyo3::intern!(py, "decode"), ("utf-8", "surrogatepass"))?.cast_into::<PyString>()?)
        }
    }
}

fn to_py<'py>(py: Python<'py>, v: &Val, keys: &mut KeyCache<'py>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Val::Null => py.None().into_bound(py),
        Val::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Val::Num(Num::I(i)) => i.into_pyobject(py)?.into_any(),
        Val::Num(Num::U(u)) => u.into_pyobject(py)?.into_any(),
        Val::Num(Num::Big(t)) => py.get_type::<PyInt>().call1((String::from_utf8_lossy(t).as_ref(),))?,
        Val::Num(Num::F(f)) => PyFloat::new(py, *f).into_any(),
        Val::Str(s) => py_str(py, s)?.into_any(),
        Val::Arr(items) => {
            let l = PyList::empty(py);
            for x in items {
                l.append(to_py(py, x, keys)?)?;
            }
            l.into_any()
        }
        Val::Obj(members) => {
            let d = PyDict::new(py);
            for (k, x) in members {
                d.set_item(keys.get(py, k)?, to_py(py, x, keys)?)?;
            }
            d.into_any()
        }
        Val::Opaque(_) => py.None().into_bound(py), // never produced with an unlimited depth
    })
}

// ---------------------------------------------------------------------------------------------
// Python objects → tree (twin of `_strictjson.check_object`)

enum Fail {
    Py(PyErr),
    Bad(DErr),
}

impl From<PyErr> for Fail {
    fn from(e: PyErr) -> Self {
        Fail::Py(e)
    }
}

struct ToVal {
    path: Vec<Vec<u8>>,
    count: usize,
}

impl ToVal {
    fn here(&self) -> String {
        let mut out = Vec::new();
        for s in &self.path {
            out.push(b'/');
            out.extend_from_slice(s);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn bad(&self, kind: &'static str, msg: String) -> Fail {
        Fail::Bad(VErr { ptr: self.here(), kind, msg })
    }

    fn val(&mut self, v: &Bound<'_, PyAny>, depth: usize) -> Result<Val<'static>, Fail> {
        self.count += 1;
        if self.count > MAX_VALUES {
            return Err(self.bad(decode::K_TOO_LARGE, format!("message has more than {} values", MAX_VALUES)));
        }
        if let Ok(d) = v.cast::<PyDict>() {
            if depth + 1 > MAX_DEPTH {
                return Err(self.bad(decode::K_TOO_DEEP, format!("nesting deeper than {} levels", MAX_DEPTH)));
            }
            let items = d.items();
            let mut members = Vec::with_capacity(items.len());
            for item in items.iter() {
                let (k, x): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
                let Ok(ks) = k.cast::<PyString>() else {
                    let tn = k.get_type().name()?.to_string();
                    return Err(self.bad(decode::K_TYPE, format!("expected a string key, got {}", tn)));
                };
                let kb = crate::codec::str_bytes(ks)?.bytes().to_vec();
                let mut seg = Vec::new();
                decode::push_segment(&mut seg, &kb);
                self.path.push(seg);
                let xv = self.val(&x, depth + 1)?;
                self.path.pop();
                members.push((Cow::Owned(kb), xv));
            }
            return Ok(Val::Obj(members));
        }
        let seq: Option<Vec<Bound<'_, PyAny>>> = if let Ok(l) = v.cast::<PyList>() {
            Some(l.iter().collect())
        } else if let Ok(t) = v.cast::<PyTuple>() {
            Some(t.iter().collect())
        } else {
            None
        };
        if let Some(seq) = seq {
            if depth + 1 > MAX_DEPTH {
                return Err(self.bad(decode::K_TOO_DEEP, format!("nesting deeper than {} levels", MAX_DEPTH)));
            }
            let mut items = Vec::with_capacity(seq.len());
            for (i, x) in seq.iter().enumerate() {
                self.path.push(i.to_string().into_bytes());
                let xv = self.val(x, depth + 1)?;
                self.path.pop();
                items.push(xv);
            }
            return Ok(Val::Arr(items));
        }
        if let Ok(s) = v.cast::<PyString>() {
            return Ok(Val::Str(Cow::Owned(crate::codec::str_bytes(s)?.bytes().to_vec())));
        }
        if let Ok(b) = v.cast::<PyBool>() {
            return Ok(Val::Bool(b.is_true()));
        }
        if v.is_none() {
            return Ok(Val::Null);
        }
        if v.is_instance_of::<PyInt>() {
            if let Ok(i) = v.extract::<i64>() {
                return Ok(Val::Num(Num::I(i)));
            }
            if let Ok(u) = v.extract::<u64>() {
                return Ok(Val::Num(Num::U(u)));
            }
            // PyLong_AsDouble: no Python code runs, OverflowError past the float range
            let f = unsafe { pyo3::ffi::PyLong_AsDouble(v.as_ptr()) };
            if f == -1.0 && PyErr::take(v.py()).is_some() {
                return Err(self.bad(decode::K_RANGE, "integer out of range for a 64-bit float".into()));
            }
            let text = v.py().get_type::<PyInt>().getattr("__repr__")?.call1((v,))?.extract::<String>()?;
            return Ok(Val::Num(Num::Big(Cow::Owned(text.into_bytes()))));
        }
        if let Ok(f) = v.cast::<PyFloat>() {
            let x = f.value();
            if !x.is_finite() {
                let mut m = String::from("expected a finite number, got ");
                m.push_str(&decode::go_float(x));
                return Err(self.bad(decode::K_RANGE, m));
            }
            return Ok(Val::Num(Num::F(x)));
        }
        let tn = v.get_type().name()?.to_string();
        Err(self.bad(decode::K_TYPE, format!("expected a JSON value, got a Python {}", tn)))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(validate_line, m)?)?;
    m.add_function(wrap_pyfunction!(validate_object, m)?)?;
    m.add_function(wrap_pyfunction!(validate_chunk, m)?)?;
    #[cfg(unix)]
    m.add_function(wrap_pyfunction!(validate_fd, m)?)?;
    m.add_function(wrap_pyfunction!(decode_line, m)?)?;
    m.add_function(wrap_pyfunction!(decode_chunk, m)?)?;
    m.add("VALIDATE_MAX_LINE_BYTES", decode::MAX_LINE_BYTES)?;
    m.add("VALIDATE_MAX_DEPTH", decode::MAX_DEPTH)?;
    Ok(())
}
