//! Canonical MTTP encoding: the bytes Go's `encoding/json` writes for mist-go's types.
//!
//! - `jsonw.rs`: the writer (escape table, itoa, Go float layout, sorted free-form objects);
//! - `keyorder.rs`: the cached written order of an object's keys;
//! - `generated.rs`: field tables and per-message encoders, generated from the schema by `codegen/`.
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

mod generated;
mod jsonw;
mod keyorder;

pub(crate) use generated::{
    SPAN_ATTRS, SPAN_END_NS, SPAN_KEYS, SPAN_OPERATION, SPAN_PARENT_ID, SPAN_SPAN_ID, SPAN_START_NS, SPAN_STATUS,
    SPAN_TRACE_ID,
};
pub(crate) use jsonw::{bad, is_empty, key_text, str_bytes, Enc, EncodeTooLarge, StrBytes, B_OBJECT, B_TOO_LARGE};

/// Values replaced while encoding, by reason (`stats()["bad_values"]`).
pub(crate) fn bad_counts() -> impl Iterator<Item = (&'static str, u64)> {
    jsonw::BAD_NAMES.iter().zip(jsonw::BAD.iter()).map(|(n, c)| (*n, c.load(std::sync::atomic::Ordering::Relaxed)))
}

/// Canonical bytes of one envelope dict (no newline).
#[pyfunction]
fn encode(py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::with_capacity(512);
    let mut e = Enc::new(&mut buf);
    generated::encode_envelope(&mut e, message)?;
    Ok(PyBytes::new(py, &buf).unbind())
}

/// Canonical bytes of any JSON-able value (free-form objects sorted).
#[pyfunction]
fn encode_value(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::with_capacity(256);
    Enc::new(&mut buf).value(value, 0)?;
    Ok(PyBytes::new(py, &buf).unbind())
}

/// Canonical bytes of a payload dict of a known type.
#[pyfunction]
fn encode_payload(py: Python<'_>, mtype: &str, payload: &Bound<'_, PyDict>) -> PyResult<Py<PyBytes>> {
    let mut buf = Vec::with_capacity(256);
    let mut e = Enc::new(&mut buf);
    match generated::payload_encoder(mtype) {
        Some(f) => f(&mut e, payload)?,
        None => e.value(payload.as_any(), 0)?,
    }
    Ok(PyBytes::new(py, &buf).unbind())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode, m)?)?;
    m.add_function(wrap_pyfunction!(encode_value, m)?)?;
    m.add_function(wrap_pyfunction!(encode_payload, m)?)?;
    m.add("EncodeTooLarge", m.py().get_type::<EncodeTooLarge>())?;
    m.add("MAX_STRING_CHARS", jsonw::MAX_STRING_CHARS)?;
    m.add("MAX_DEPTH", jsonw::MAX_DEPTH)?;
    Ok(())
}
