//! Spans: `emit_span` builds a trace.span line on the caller's thread and pushes it to the buffer.
//!
//! - `emit.rs`: `emit_span` / `emit`, the line itself (ids, sampling, attrs, size limit);
//! - `price.rs`: the span's cost (`cost_usd`, or `unpriced: true`);
//! - `observe.rs`: the spans kept for the alert engine (`take_observations`);
//! - `ids.rs`: span and trace ids, the clock.
use pyo3::prelude::*;

mod emit;
mod ids;
mod observe;
mod price;

/// A fresh id sequence (at import, and in a forked child).
pub(crate) use ids::reseed;

/// In a forked child: new ids, and none of the parent's pending observations.
#[cfg_attr(not(unix), allow(dead_code))] // called by the unix fork handler only
pub(crate) fn after_fork_child() {
    ids::reseed();
    observe::after_fork_child();
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    emit::register(m)?;
    observe::register(m)?;
    ids::register(m)?;
    Ok(())
}
