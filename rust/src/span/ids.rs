//! Ids and the clock. Span ids come from a SplitMix64 sequence over an atomic counter: unique
//! within a process by construction (the mix is a bijection) and re-seeded from the OS in a forked
//! child (a `pthread_atfork` handler, so even forks that bypass Python's hooks get new ids).
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::PyString;

static SEED: AtomicU64 = AtomicU64::new(0);
static COUNTER: AtomicU64 = AtomicU64::new(0);
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh seed from the OS (falls back to time and pid if getrandom is unavailable).
pub fn reseed() {
    let mut b = [0u8; 8];
    let got = unsafe { libc::getrandom(b.as_mut_ptr() as *mut libc::c_void, 8, 0) };
    let mut s = u64::from_le_bytes(b);
    if got != 8 {
        s = now_ns() as u64 ^ ((unsafe { libc::getpid() } as u64) << 32);
    }
    s ^= mix((unsafe { libc::getpid() } as u64).wrapping_mul(GOLDEN));
    SEED.store(s, Relaxed);
    COUNTER.store(0, Relaxed);
}

#[inline]
pub fn next_u64() -> u64 {
    let c = COUNTER.fetch_add(1, Relaxed).wrapping_add(1);
    mix(SEED.load(Relaxed).wrapping_add(c.wrapping_mul(GOLDEN)))
}

#[inline]
pub fn hex64(out: &mut [u8], mut v: u64) {
    if v == 0 {
        v = 1; // W3C trace-context rejects all-zero ids
    }
    for i in (0..16).rev() {
        out[i] = HEX[(v & 15) as usize];
        v >>= 4;
    }
}

/// 16 hex chars.
#[inline]
pub fn span_id() -> [u8; 16] {
    let mut b = [0u8; 16];
    hex64(&mut b, next_u64());
    b
}

/// 32 hex chars.
#[inline]
pub fn id128() -> [u8; 32] {
    let mut b = [0u8; 32];
    hex64(&mut b[..16], next_u64());
    hex64(&mut b[16..], next_u64());
    b
}

#[inline]
pub fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

#[pyfunction]
fn new_span_id(py: Python<'_>) -> Bound<'_, PyString> {
    let b = span_id();
    PyString::new(py, unsafe { std::str::from_utf8_unchecked(&b) })
}

#[pyfunction]
fn new_trace_id(py: Python<'_>) -> Bound<'_, PyString> {
    let b = id128();
    PyString::new(py, unsafe { std::str::from_utf8_unchecked(&b) })
}

#[pyfunction(name = "now_ns")]
fn py_now_ns() -> i64 {
    now_ns()
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(new_span_id, m)?)?;
    m.add_function(wrap_pyfunction!(new_trace_id, m)?)?;
    m.add_function(wrap_pyfunction!(py_now_ns, m)?)?;
    Ok(())
}
