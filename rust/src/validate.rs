//! Native decoding and validation of MTTP lines (placeholder: registers nothing yet).
use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
