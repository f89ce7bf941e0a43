//! MTTP batches as OTLP/HTTP protobuf, natively (`encode.rs`; the OTLP sink's fast path).
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

mod encode;

/// A batch of MTTP JSONL as an OTLP protobuf `ExportTraceServiceRequest`, byte for byte what
/// `otlp_encode.convert()` + `encode_protobuf()` make, GIL released: `(body, spans, [(skipped
/// type, n)], invalid, bad_lines)`, or None when the batch must go to the Python encoder.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn otlp_protobuf<'py>(
    py: Python<'py>,
    data: &[u8],
    scope_version: &str,
) -> PyResult<Option<(Bound<'py, PyBytes>, u64, Vec<(Bound<'py, PyString>, u64)>, u64, u64)>> {
    let Some((body, counts)) = py.detach(|| encode::encode(data, scope_version.as_bytes())) else {
        return Ok(None);
    };
    let skipped =
        counts.skipped.iter().map(|(k, n)| Ok((crate::validate::py_str(py, k)?, *n))).collect::<PyResult<_>>()?;
    Ok(Some((PyBytes::new(py, &body), counts.spans, skipped, counts.invalid, counts.bad_lines)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(otlp_protobuf, m)?)
}
