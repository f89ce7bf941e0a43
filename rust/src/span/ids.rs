//! Ids and the clock. Span ids come from a SplitMix64 sequence over an atomic counter: unique
//! within a process by construction (the mix is a bijection) and re-seeded from the OS in a forked
//! child (a `pthread_atfork` handler on unix, so even forks that bypass Python's hooks get new ids).
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

/// A fresh seed from the OS (falls back to time and pid if the OS gives no random bytes).
pub fn reseed() {
    let pid = std::process::id() as u64;
    let mut s = os_random().unwrap_or_else(|| now_ns() as u64 ^ (pid << 32));
    s ^= mix(pid.wrapping_mul(GOLDEN));
    SEED.store(s, Relaxed);
    COUNTER.store(0, Relaxed);
}

/// 8 random bytes from the OS: `getrandom(2)` on Linux and Android, `getentropy(3)` on Apple
/// systems, `/dev/urandom` on other unixes, std's OS-seeded hasher keys on Windows and the rest.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn os_random() -> Option<u64> {
    let mut b = [0u8; 8];
    let got = unsafe { libc::getrandom(b.as_mut_ptr() as *mut libc::c_void, 8, 0) };
    (got == 8).then(|| u64::from_le_bytes(b))
}

#[cfg(target_vendor = "apple")]
fn os_random() -> Option<u64> {
    let mut b = [0u8; 8];
    let got = unsafe { libc::getentropy(b.as_mut_ptr() as *mut libc::c_void, 8) };
    (got == 0).then(|| u64::from_le_bytes(b))
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android", target_vendor = "apple"))))]
fn os_random() -> Option<u64> {
    urandom()
}

#[cfg(not(unix))]
fn os_random() -> Option<u64> {
    Some(std_random())
}

/// The portable fallbacks, compiled (and tested) everywhere.
#[cfg_attr(not(test), allow(dead_code))]
fn urandom() -> Option<u64> {
    use std::io::Read;
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).ok()?;
    Some(u64::from_le_bytes(b))
}

/// std seeds `RandomState`'s keys from the OS (BCryptGenRandom/ProcessPrng on Windows); hashing the
/// clock and pid with them gives a seed that differs per process and per call.
#[cfg_attr(not(test), allow(dead_code))]
fn std_random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ns());
    h.write_u32(std::process::id());
    h.finish()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sources_give_distinct_values() {
        assert!(os_random().is_some());
        let (a, b) = (urandom().unwrap(), urandom().unwrap());
        assert_ne!(a, b);
        assert_ne!(std_random(), std_random()); // fresh hasher keys each call
    }
}
