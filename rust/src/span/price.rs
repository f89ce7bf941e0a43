//! A span's cost: prices per million tokens from the configured pricer (cached per model), and
//! `PriceTable.cost`'s formula in the same float order, so both backends write the same bytes.
//! Used by `emit_span` (priced while its line is built); a `mist.Span`'s attrs are priced in
//! Python (`mist.costs.pricing`) with the same table and formula.
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyString};

use crate::codec::{self, StrBytes};
use crate::config::Config;

fn find<'a, 'py>(items: &'a [(StrBytes<'py>, Bound<'py, PyAny>)], key: &str) -> Option<&'a Bound<'py, PyAny>> {
    items.iter().rev().find(|(k, _)| k.bytes() == key.as_bytes()).map(|(_, v)| v)
}

fn count(v: Option<&Bound<'_, PyAny>>) -> Option<i64> {
    v.filter(|v| v.is_exact_instance_of::<PyInt>()).and_then(|v| v.extract::<i64>().ok())
}

/// USD per million tokens of `model` (input, output, cache read, cache write, reasoning, 1-hour
/// cache write) from the configured price table, cached per model name; None when it has no price.
fn price_per_million(py: Python<'_>, cfg: &Config, model: &Bound<'_, PyString>) -> PyResult<Option<[f64; 6]>> {
    let Some(pricer) = &cfg.pricer else { return Ok(None) };
    let key = codec::str_bytes(model)?.bytes().to_vec();
    let cached = {
        let g = cfg.prices.lock().unwrap_or_else(|e| e.into_inner());
        g.get(&key).copied()
    };
    if let Some(p) = cached {
        return Ok(p);
    }
    let r = pricer.bind(py).call1((model,))?;
    let p: Option<[f64; 6]> = if r.is_none() {
        None
    } else {
        r.extract::<(f64, f64, f64, f64, f64, f64)>().ok().map(|t| [t.0, t.1, t.2, t.3, t.4, t.5])
    };
    let mut g = cfg.prices.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() < 4096 {
        g.insert(key, p);
    }
    Ok(p)
}

/// `PriceTable.cost`'s formula (same float order): counts in, USD out. `cw1h` is the part of the
/// cache write `cw` written with the 1-hour TTL (priced `p[5]`; the rest at `p[3]`).
#[allow(clippy::too_many_arguments)]
fn cost_of(p: &[f64; 6], tin: i64, tout: i64, cr: i64, cw: i64, rs: i64, cw1h: i64) -> f64 {
    let fresh = tin.saturating_sub(cr).saturating_sub(cw).max(0);
    let plain = tout.saturating_sub(rs).max(0);
    let w1 = if cw > 0 { cw1h.max(0).min(cw) } else { 0 };
    let w5 = cw - w1;
    (fresh as f64 * p[0] + plain as f64 * p[1] + cr as f64 * p[2] + w5 as f64 * p[3] + rs as f64 * p[4] + w1 as f64 * p[5])
        / 1e6
}

/// emit_span's cost: when tokens and a model are given but no cost, price them (same formula and
/// float order as `PriceTable.cost`), else mark the span `unpriced: true`.
pub(super) fn price_items<'py>(
    py: Python<'py>,
    cfg: &Config,
    items: &mut Vec<(StrBytes<'py>, Bound<'py, PyAny>)>,
    added: &mut Option<(&'static str, Bound<'py, PyAny>)>,
) -> PyResult<()> {
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
    let p = price_per_million(py, cfg, &model)?;
    match p {
        Some(p) => {
            let cr = count(find(items, "tokens_cache_read")).unwrap_or(0);
            let cw = count(find(items, "tokens_cache_write")).unwrap_or(0);
            let rs = count(find(items, "tokens_reasoning")).unwrap_or(0);
            let cw1h = count(find(items, "tokens_cache_write_1h")).unwrap_or(0);
            let c = cost_of(&p, tin.unwrap_or(0), tout.unwrap_or(0), cr, cw, rs, cw1h);
            let v = PyFloat::new(py, c).into_any();
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

#[cfg(test)]
mod tests {
    use super::cost_of;

    #[test]
    fn cost_splits_cache_writes_by_ttl() {
        let p = [3.0, 15.0, 0.3, 3.75, 15.0, 6.0];
        // the documented order: fresh, plain, cache read, 5-minute write, reasoning, 1-hour write
        let want = |fresh: f64, plain: f64, cr: f64, w5: f64, rs: f64, w1: f64| -> u64 {
            ((fresh * p[0] + plain * p[1] + cr * p[2] + w5 * p[3] + rs * p[4] + w1 * p[5]) / 1e6).to_bits()
        };
        // no 1-hour part: today's formula
        assert_eq!(cost_of(&p, 1000, 200, 100, 300, 50, 0).to_bits(), want(600.0, 150.0, 100.0, 300.0, 50.0, 0.0));
        // 120 of the 300 written for an hour
        assert_eq!(cost_of(&p, 1000, 200, 100, 300, 50, 120).to_bits(), want(600.0, 150.0, 100.0, 180.0, 50.0, 120.0));
        // the 1-hour part is clamped to [0, cache write], and ignored without a cache write
        assert_eq!(cost_of(&p, 1000, 200, 100, 300, 50, 999).to_bits(), want(600.0, 150.0, 100.0, 0.0, 50.0, 300.0));
        assert_eq!(cost_of(&p, 1000, 200, 100, 300, 50, -5).to_bits(), want(600.0, 150.0, 100.0, 300.0, 50.0, 0.0));
        assert_eq!(cost_of(&p, 1000, 200, 100, 0, 50, 40).to_bits(), want(900.0, 150.0, 100.0, 0.0, 50.0, 0.0));
        // fresh input and plain output never go negative
        assert_eq!(cost_of(&p, 10, 5, 100, 0, 50, 0).to_bits(), want(0.0, 0.0, 100.0, 0.0, 50.0, 0.0));
    }
}
