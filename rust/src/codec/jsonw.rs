//! The canonical JSON writer: Go `encoding/json` bytes, straight into one reused buffer.
//!
//! Twin of `python/mist/_jsonw.py`; the two must produce identical bytes for every input.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

pub const MAX_STRING_CHARS: usize = 65536;
pub const MAX_DEPTH: usize = 64;
pub const DEPTH_MARKER: &str = "[mist: nesting too deep]";
/// Container items one encode may visit (stops self-referencing structures).
pub const NODE_BUDGET: i64 = 1_000_000;

/// The JSON text of recently written short str objects, by address: operation names, models,
/// providers, finish reasons and trace ids repeat from span to span. Direct-mapped; each entry
/// holds its string, so an address cannot be reused by another string while it is cached. Every
/// caller holds the GIL, so the lock is never contended nor held across a fork.
const STR_SLOTS: usize = 256;
const STR_CACHED_CHARS: usize = 64;
const STR_TEXT_BYTES: usize = 96;

struct StrEntry {
    addr: usize,
    len: u8,
    text: [u8; STR_TEXT_BYTES],
    obj: Option<Py<PyString>>,
}

impl Default for StrEntry {
    fn default() -> Self {
        StrEntry { addr: 0, len: 0, text: [0; STR_TEXT_BYTES], obj: None }
    }
}

static STR_CACHE: std::sync::Mutex<Vec<StrEntry>> = std::sync::Mutex::new(Vec::new());

pyo3::create_exception!(_native, EncodeTooLarge, PyValueError);

/// Replacements made, by reason; order matches `BAD_NAMES`.
pub static BAD: [AtomicU64; 9] = [const { AtomicU64::new(0) }; 9];
pub const BAD_NAMES: [&str; 9] =
    ["surrogate", "truncated", "key", "nan", "inf", "depth", "bytes", "object", "too_large"];
pub const B_SURROGATE: usize = 0;
pub const B_TRUNCATED: usize = 1;
pub const B_KEY: usize = 2;
pub const B_NAN: usize = 3;
pub const B_INF: usize = 4;
pub const B_DEPTH: usize = 5;
pub const B_BYTES: usize = 6;
pub const B_OBJECT: usize = 7;
pub const B_TOO_LARGE: usize = 8;

#[inline]
pub fn bad(i: usize) {
    BAD[i].fetch_add(1, Relaxed);
}

// 0: copy; b'u': \u00XX; b'S': maybe U+2028/9 (lead byte E2); b'X': maybe a surrogate (lead ED);
// anything else: the character after a backslash.
const U: u8 = b'u';
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = U;
        i += 1;
    }
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'<' as usize] = U;
    t[b'>' as usize] = U;
    t[b'&' as usize] = U;
    t[0xE2] = b'S';
    t[0xED] = b'X';
    t
};
const HEX: &[u8; 16] = b"0123456789abcdef";

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is zero (exact for the lowest such byte; bytes above a
/// zero byte may be false positives, which only cost a closer look).
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// Bytes of an 8-byte word that may need escaping: control characters, `"`, `\`, `<`, `>`, `&`,
/// and any non-ASCII byte (U+2028/9 and surrogates are looked at one by one).
#[inline(always)]
fn special(x: u64) -> u64 {
    let ctl = x.wrapping_sub(0x20 * LO) & !x & HI;
    let angle = zero_bytes((x ^ (0x3C * LO)) & (0xFD * LO)); // '<' 0x3C and '>' 0x3E
    ctl | (x & HI) | zero_bytes(x ^ (0x22 * LO)) | zero_bytes(x ^ (0x5C * LO)) | zero_bytes(x ^ (0x26 * LO)) | angle
}

/// Look at the byte at `i` through the escape table; returns where to look next.
#[inline(always)]
fn step(buf: &mut Vec<u8>, s: &[u8], start: &mut usize, i: usize) -> usize {
    let n = s.len();
    let b = s[i];
    let esc = ESCAPE[b as usize];
    match esc {
        0 => i + 1,
        b'S' => {
            if i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9) {
                buf.extend_from_slice(&s[*start..i]);
                buf.extend_from_slice(if s[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                *start = i + 3;
                i + 3
            } else {
                i + 1
            }
        }
        b'X' => {
            if i + 2 < n && s[i + 1] >= 0xA0 {
                buf.extend_from_slice(&s[*start..i]);
                buf.extend_from_slice(b"\\ufffd");
                bad(B_SURROGATE);
                *start = i + 3;
                i + 3
            } else {
                i + 1
            }
        }
        _ => {
            buf.extend_from_slice(&s[*start..i]);
            if esc == U {
                buf.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            } else {
                buf.extend_from_slice(&[b'\\', esc]);
            }
            *start = i + 1;
            i + 1
        }
    }
}

#[inline(always)]
fn word(s: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(s[i..i + 8].try_into().unwrap())
}

/// No byte of `s` needs escaping (most strings: ids, names, models); the last word overlaps.
#[inline]
fn clean(s: &[u8]) -> bool {
    let n = s.len();
    if n < 8 {
        return s.iter().all(|&b| ESCAPE[b as usize] == 0);
    }
    let mut i = 0;
    while i + 8 <= n {
        if special(word(s, i)) != 0 {
            return false;
        }
        i += 8;
    }
    i == n || special(word(s, n - 8)) == 0
}

/// Write `s` as a JSON string. `s` is UTF-8, except that lone surrogates may appear in their
/// 3-byte "surrogatepass" form (ED A0..BF xx); those become `\ufffd`. Clean runs are found eight
/// bytes at a time and copied whole; only words holding a special byte go through the table.
pub fn write_str_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    buf.reserve(n + 2);
    if clean(s) {
        // SAFETY: `n + 2` bytes were reserved just above.
        unsafe {
            let len = buf.len();
            let p = buf.as_mut_ptr().add(len);
            *p = b'"';
            std::ptr::copy_nonoverlapping(s.as_ptr(), p.add(1), n);
            *p.add(n + 1) = b'"';
            buf.set_len(len + n + 2);
        }
        return;
    }
    buf.push(b'"');
    let mut start = 0; // first byte not yet copied
    let mut i = 0;
    while i + 8 <= n {
        let x = word(s, i);
        let m = special(x);
        if m == 0 {
            i += 8;
            continue;
        }
        let stop = i + 8;
        i += (m.trailing_zeros() / 8) as usize;
        while i < stop {
            i = step(buf, s, &mut start, i);
        }
    }
    while i < n {
        i = step(buf, s, &mut start, i);
    }
    buf.extend_from_slice(&s[start..]);
    buf.push(b'"');
}

/// Go's `strconv.FormatFloat(f, 'f' or 'e', -1, 64)` as encoding/json lays it out.
pub fn write_f64(buf: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        bad(if f.is_nan() { B_NAN } else { B_INF });
        buf.extend_from_slice(b"null");
        return;
    }
    if f == 0.0 {
        buf.extend_from_slice(if f.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let mut zb = zmij::Buffer::new();
    let s = zb.format_finite(f).as_bytes();
    if !s.contains(&b'e') {
        // zmij writes 1e-5 <= |f| < 1e16 in plain notation, as Go does (Go up to 1e21), only
        // with ".0" after an integral value, which Go leaves out
        buf.extend_from_slice(s.strip_suffix(b".0").unwrap_or(s));
        return;
    }
    // Split into sign, significant digits and the decimal point position.
    let (neg, s) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    let (mant, exp) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(p) => (&s[..p], parse_exp(&s[p + 1..])),
        None => (s, 0i32),
    };
    let mut digits = [0u8; 32];
    let mut nd = 0usize;
    let mut point: i32 = 0;
    let mut seen_point = false;
    let mut leading = true;
    for &c in mant {
        if c == b'.' {
            seen_point = true;
            continue;
        }
        if leading && c == b'0' {
            if seen_point {
                point -= 1;
            }
            continue;
        }
        leading = false;
        digits[nd] = c;
        nd += 1;
        if !seen_point {
            point += 1;
        }
    }
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let point = point + exp;
    let digits = &digits[..nd];
    if neg {
        buf.push(b'-');
    }
    let a = f.abs();
    if (1e-6..1e21).contains(&a) {
        if point <= 0 {
            buf.extend_from_slice(b"0.");
            buf.resize(buf.len() + (-point) as usize, b'0');
            buf.extend_from_slice(digits);
        } else if point as usize >= nd {
            buf.extend_from_slice(digits);
            buf.resize(buf.len() + point as usize - nd, b'0');
        } else {
            buf.extend_from_slice(&digits[..point as usize]);
            buf.push(b'.');
            buf.extend_from_slice(&digits[point as usize..]);
        }
    } else {
        buf.push(digits[0]);
        if nd > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        let x = point - 1;
        buf.extend_from_slice(if x >= 0 { b"e+" } else { b"e-" });
        buf.extend_from_slice(itoa::Buffer::new().format(x.unsigned_abs()).as_bytes());
    }
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = s.iter().fold(0i32, |acc, &c| acc * 10 + (c - b'0') as i32);
    if neg {
        -v
    } else {
        v
    }
}

/// Go's omitempty: absent, null, false, 0, "" and empty containers.
pub fn is_empty(v: &Bound<'_, PyAny>) -> bool {
    if v.is_none() {
        return true;
    }
    if let Ok(s) = v.cast_exact::<PyString>() {
        return s.len().map_or(false, |n| n == 0);
    }
    if v.is_exact_instance_of::<PyInt>() || v.is_exact_instance_of::<PyFloat>() || v.is_exact_instance_of::<PyBool>() {
        return !v.is_truthy().unwrap_or(true);
    }
    if v.is_exact_instance_of::<PyDict>() || v.is_exact_instance_of::<PyList>() || v.is_exact_instance_of::<PyTuple>() {
        return v.len().map_or(false, |n| n == 0);
    }
    false
}

/// The UTF-8 bytes of a Python str; lone surrogates kept in surrogatepass form.
pub fn str_bytes<'py>(s: &Bound<'py, PyString>) -> PyResult<StrBytes<'py>> {
    match s.to_str() {
        Ok(t) => Ok(StrBytes::Borrowed(unsafe { std::mem::transmute::<&[u8], &'py [u8]>(t.as_bytes()) })),
        Err(_) => {
            let b = s.call_method1(pyo3::intern!(s.py(), "encode"), ("utf-8", "surrogatepass"))?;
            Ok(StrBytes::Owned(b.cast_into::<PyBytes>()?.as_bytes().to_vec()))
        }
    }
}

pub enum StrBytes<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl StrBytes<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            StrBytes::Borrowed(b) => b,
            StrBytes::Owned(v) => v,
        }
    }
    /// Sort key: surrogates compare as U+FFFD (what the written bytes say).
    pub fn sort_key(&self) -> std::borrow::Cow<'_, [u8]> {
        let b = self.bytes();
        if !has_surrogate(b) {
            return std::borrow::Cow::Borrowed(b);
        }
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == 0xED && i + 2 < b.len() && b[i + 1] >= 0xA0 {
                out.extend_from_slice(&[0xEF, 0xBF, 0xBD]);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        std::borrow::Cow::Owned(out)
    }
}

fn has_surrogate(b: &[u8]) -> bool {
    b.windows(2).any(|w| w[0] == 0xED && w[1] >= 0xA0)
}

/// One encode: the output buffer and the work budget.
pub struct Enc<'a> {
    pub buf: &'a mut Vec<u8>,
    pub budget: i64,
}

impl<'a> Enc<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Enc { buf, budget: NODE_BUDGET }
    }

    pub fn spend(&mut self, n: usize) -> PyResult<()> {
        self.budget -= n as i64;
        if self.budget < 0 {
            return Err(EncodeTooLarge::new_err("value too large or self-referencing"));
        }
        Ok(())
    }

    pub fn pystr(&mut self, s: &Bound<'_, PyString>) -> PyResult<()> {
        let n = s.len()?;
        if n > MAX_STRING_CHARS {
            bad(B_TRUNCATED);
            let slice = pyo3::types::PySlice::new(s.py(), 0, MAX_STRING_CHARS as isize, 1);
            let head = s.as_any().get_item(slice)?.cast_into::<PyString>()?;
            let hb = str_bytes(&head)?;
            write_str_bytes(self.buf, hb.bytes());
            self.buf.pop(); // reopen the string for the marker
            let marker = format!("…[truncated {} chars]\"", n - MAX_STRING_CHARS);
            self.buf.extend_from_slice(marker.as_bytes());
            return Ok(());
        }
        let key = s.as_ptr() as usize;
        // Fibonacci hashing: strings a page apart (constants of one module) would share a slot
        // under plain `addr % slots` and evict each other on every call
        let slot = ((key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - STR_SLOTS.trailing_zeros())) as usize;
        if n <= STR_CACHED_CHARS {
            let g = STR_CACHE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = g.get(slot).filter(|e| e.addr == key) {
                self.buf.extend_from_slice(&e.text[..e.len as usize]);
                return Ok(());
            }
        }
        let b = str_bytes(s)?;
        let start = self.buf.len();
        write_str_bytes(self.buf, b.bytes());
        let written = &self.buf[start..];
        // only text written without a replacement (no surrogate: nothing counted) is kept
        if n <= STR_CACHED_CHARS && matches!(b, StrBytes::Borrowed(_)) && written.len() <= STR_TEXT_BYTES {
            let mut g = STR_CACHE.lock().unwrap_or_else(|e| e.into_inner());
            if g.is_empty() {
                g.resize_with(STR_SLOTS, StrEntry::default);
            }
            let e = &mut g[slot];
            e.text[..written.len()].copy_from_slice(written);
            e.len = written.len() as u8;
            e.addr = key;
            // the old string is released now: dropping a Py<T> where PyO3 has not counted the
            // thread as attached (the raw emit_span entry point) would only queue the decref
            if let Some(old) = e.obj.replace(s.clone().unbind()) {
                old.drop_ref(s.py());
            }
        }
        Ok(())
    }

    pub fn int(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(i) = v.extract::<i64>() {
            self.buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        } else if let Ok(u) = v.extract::<u64>() {
            self.buf.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
        } else {
            let s = v.str()?;
            self.buf.extend_from_slice(s.to_str()?.as_bytes());
        }
        Ok(())
    }

    /// Any Python value, in `_jsonw.value`'s order of checks.
    pub fn value(&mut self, v: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
        if let Ok(s) = v.cast_exact::<PyString>() {
            return self.pystr(s);
        }
        if v.is_exact_instance_of::<PyInt>() {
            return self.int(v);
        }
        if let Ok(f) = v.cast_exact::<PyFloat>() {
            write_f64(self.buf, f.value());
            return Ok(());
        }
        if v.is_none() {
            self.buf.extend_from_slice(b"null");
            return Ok(());
        }
        if let Ok(b) = v.cast_exact::<PyBool>() {
            self.buf.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            bad(B_DEPTH);
            write_str_bytes(self.buf, DEPTH_MARKER.as_bytes());
            return Ok(());
        }
        if let Ok(d) = v.cast::<PyDict>() {
            return self.obj(d, depth + 1);
        }
        if let Ok(l) = v.cast::<PyList>() {
            self.spend(l.len())?;
            self.buf.push(b'[');
            // index loop: the list may change under a __str__ we call
            let mut i = 0;
            while i < l.len() {
                if i > 0 {
                    self.buf.push(b',');
                }
                self.value(&l.get_item(i)?, depth + 1)?;
                i += 1;
            }
            self.buf.push(b']');
            return Ok(());
        }
        if let Ok(t) = v.cast::<PyTuple>() {
            self.spend(t.len())?;
            self.buf.push(b'[');
            for (i, x) in t.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                self.value(&x, depth + 1)?;
            }
            self.buf.push(b']');
            return Ok(());
        }
        let py = v.py();
        if v.is_instance_of::<PyInt>() {
            let i = py.get_type::<PyInt>().call1((v,))?;
            return self.int(&i);
        }
        if v.is_instance_of::<PyFloat>() {
            write_f64(self.buf, v.extract::<f64>()?);
            return Ok(());
        }
        if v.is_instance_of::<PyString>() {
            let s = v.str()?;
            return self.pystr(&s);
        }
        if v.is_instance_of::<PyBytes>() || v.is_instance_of::<PyByteArray>() || v.is_instance_of::<pyo3::types::PyMemoryView>() {
            bad(B_BYTES);
            let b = py.get_type::<PyBytes>().call1((v,))?;
            let s = b.call_method1(pyo3::intern!(py, "decode"), ("utf-8", "replace"))?;
            return self.pystr(s.cast::<PyString>()?);
        }
        bad(B_OBJECT);
        match v.str() {
            Ok(s) => self.pystr(&s),
            Err(_) => {
                let name = v.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                write_str_bytes(self.buf, format!("<unprintable {}>", name).as_bytes());
                Ok(())
            }
        }
    }

    /// A free-form object: keys as text, sorted, values at `depth`.
    pub fn obj(&mut self, d: &Bound<'_, PyDict>, depth: usize) -> PyResult<()> {
        let n = d.len();
        if n == 0 {
            self.buf.extend_from_slice(b"{}");
            return Ok(());
        }
        self.spend(n)?;
        let mut items: Vec<(StrBytes<'_>, Bound<'_, PyAny>)> = Vec::with_capacity(n);
        for (k, v) in d.iter() {
            items.push((key_text(&k)?, v));
        }
        self.write_items(items, depth, true)
    }

    pub fn write_items(&mut self, mut items: Vec<(StrBytes<'_>, Bound<'_, PyAny>)>, depth: usize, braces: bool) -> PyResult<()> {
        if let Some(order) = super::keyorder::key_order(&items) {
            // the same bytes as below, without sorting or escaping the keys again
            if braces {
                self.buf.push(b'{');
            }
            for j in 0..order.keys() {
                if j > 0 || !braces {
                    self.buf.push(b',');
                }
                let (i, key) = order.nth(j);
                self.buf.extend_from_slice(key);
                self.value(&items[i].1, depth)?;
            }
            if braces {
                self.buf.push(b'}');
            }
            return Ok(());
        }
        if items.iter().any(|(k, _)| matches!(k, StrBytes::Owned(_)) && has_surrogate(k.bytes())) {
            items.sort_by(|a, b| a.0.sort_key().cmp(&b.0.sort_key()));
        } else {
            items.sort_by(|a, b| a.0.bytes().cmp(b.0.bytes()));
        }
        if braces {
            self.buf.push(b'{');
        }
        for (i, (k, v)) in items.iter().enumerate() {
            if i > 0 || !braces {
                self.buf.push(b',');
            }
            self.key(k)?;
            self.buf.push(b':');
            self.value(v, depth)?;
        }
        if braces {
            self.buf.push(b'}');
        }
        Ok(())
    }

    fn key(&mut self, k: &StrBytes<'_>) -> PyResult<()> {
        // keys are capped like any string: count code points only when the byte length could exceed it
        let b = k.bytes();
        if b.len() > MAX_STRING_CHARS {
            let chars = b.iter().filter(|&&c| (c & 0xC0) != 0x80).count();
            if chars > MAX_STRING_CHARS {
                bad(B_TRUNCATED);
                let cut = b.iter().enumerate().filter(|(_, &c)| (c & 0xC0) != 0x80).nth(MAX_STRING_CHARS).map(|(i, _)| i).unwrap_or(b.len());
                write_str_bytes(self.buf, &b[..cut]);
                self.buf.pop();
                self.buf.extend_from_slice(format!("…[truncated {} chars]\"", chars - MAX_STRING_CHARS).as_bytes());
                return Ok(());
            }
        }
        write_str_bytes(self.buf, b);
        Ok(())
    }

    /// Fields of `d` not in `known`, sorted, each preceded by a comma.
    pub fn extras(&mut self, d: &Bound<'_, PyDict>, known: &[&str]) -> PyResult<()> {
        if d.len() <= known.len() {
            let mut all_known = true;
            for k in d.keys().iter() {
                match k.cast_exact::<PyString>().ok().and_then(|s| s.to_str().ok()) {
                    Some(s) if known.contains(&s) => {}
                    _ => {
                        all_known = false;
                        break;
                    }
                }
            }
            if all_known {
                return Ok(());
            }
        }
        let mut items = Vec::new();
        for (k, v) in d.iter() {
            if let Ok(s) = k.cast_exact::<PyString>() {
                if s.to_str().map_or(false, |s| known.contains(&s)) {
                    continue;
                }
            }
            items.push((key_text(&k)?, v));
        }
        if items.is_empty() {
            return Ok(());
        }
        self.write_items(items, 0, false)
    }
}

/// A free-form key as text: str as is, anything else through str() (counted).
pub fn key_text<'py>(k: &Bound<'py, PyAny>) -> PyResult<StrBytes<'py>> {
    if let Ok(s) = k.cast_exact::<PyString>() {
        return str_bytes(s);
    }
    bad(B_KEY);
    if let Ok(s) = k.cast::<PyString>() {
        return str_bytes(s);
    }
    match k.str() {
        Ok(s) => Ok(StrBytes::Owned(str_bytes(&s)?.bytes().to_vec())),
        Err(_) => Ok(StrBytes::Owned(b"<unprintable key>".to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut b = Vec::new();
        write_f64(&mut b, x);
        String::from_utf8(b).unwrap()
    }

    fn s(x: &[u8]) -> String {
        let mut b = Vec::new();
        write_str_bytes(&mut b, x);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn floats_use_go_layout() {
        for (x, want) in [
            (0.1, "0.1"), (1e-5, "0.00001"), (1e-6, "0.000001"), (1e-7, "1e-7"), (1e21, "1e+21"),
            (1e20, "100000000000000000000"), (3.0, "3"), (-0.0, "-0"), (1.5e22, "1.5e+22"), (5e-324, "5e-324"),
            (0.0000012, "0.0000012"), (123456789.125, "123456789.125"), (-2.5e-7, "-2.5e-7"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (f64::NAN, "null"), (f64::INFINITY, "null"),
        ] {
            assert_eq!(f(x), want, "{x}");
        }
    }

    #[test]
    fn strings_escape_like_go() {
        assert_eq!(s(b"<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(s("\u{2028}x\u{2029}".as_bytes()), r#""\u2028x\u2029""#);
        assert_eq!(s(b"\x08\x0c\n\r\t\x01\x1f\"\\"), r#""\b\f\n\r\t\u0001\u001f\"\\""#);
        assert_eq!(s(&[b'a', 0xED, 0xA0, 0x80, b'b']), r#""a\ufffdb""#); // a lone surrogate
        assert_eq!(s("é日本😀".as_bytes()), "\"é日本😀\"");
    }
}
