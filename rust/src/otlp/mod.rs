//! MTTP batches as OTLP/HTTP protobuf, natively (`encode.rs`; the OTLP sink's fast path).
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

mod encode;

/// A batch of MTTP JSONL as an OTLP protobuf `ExportTraceServiceRequest`, byte for byte what
/// `otlp_encode.convert()` + `encode_protobuf()` make, GIL released: `(body, spans, [(skipped
/// type, n)], invalid, bad_lines)`, or None when the batch must go to the Python encoder.
/// `service_name` (None: each envelope's source) and `resource` (extra attributes, in order) make
/// the `Resource`, as `otlp_encode.Resource` does.
#[pyfunction]
#[pyo3(signature = (data, scope_version, service_name=None, resource=Vec::new()))]
#[allow(clippy::type_complexity)]
fn otlp_protobuf<'py>(
    py: Python<'py>,
    data: &[u8],
    scope_version: &str,
    service_name: Option<String>,
    resource: Vec<(String, String)>,
) -> PyResult<Option<(Bound<'py, PyBytes>, u64, Vec<(Bound<'py, PyString>, u64)>, u64, u64)>> {
    let res = encode::Resource {
        service_name: service_name.map(String::into_bytes),
        attrs: resource.into_iter().map(|(k, v)| (k.into_bytes(), v.into_bytes())).collect(),
    };
    let Some((body, counts)) = py.detach(|| encode::encode_with(data, scope_version.as_bytes(), &res)) else {
        return Ok(None);
    };
    let skipped =
        counts.skipped.iter().map(|(k, n)| Ok((crate::validate::py_str(py, k)?, *n))).collect::<PyResult<_>>()?;
    Ok(Some((PyBytes::new(py, &body), counts.spans, skipped, counts.invalid, counts.bad_lines)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(otlp_protobuf, m)?)
}
