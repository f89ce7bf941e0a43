//! The written order of an object's keys, cached per key set.
//!
//! Spans carry the same few attrs keys call after call; sorting them (and escaping each key) on
//! every span was about a tenth of `emit_span`. This keeps, per thread, the last key sets seen
//! (direct-mapped by where the key texts live): the position of each key in sorted order and the
//! JSON text `"key":` of each. A hit is checked byte for byte against the keys, so it never
//! depends on object addresses or lifetimes, and it holds no Python object.
use std::cell::RefCell;
use std::rc::Rc;

use pyo3::prelude::*;

use super::jsonw::{write_str_bytes, StrBytes};

const SLOTS: usize = 64; // a power of two
const MAX_KEYS: usize = 16;
const MAX_KEY_BYTES: usize = 1024; // all keys together; longer sets are sorted every time

pub struct KeyOrder {
    raw: Vec<u8>,               // the keys' bytes, in the object's order
    raw_ends: [u16; MAX_KEYS],  // where each of them ends in `raw`
    perm: [u8; MAX_KEYS],       // item index of each key, in written order
    text: Vec<u8>,              // `"key":` of each key, in written order
    text_ends: [u16; MAX_KEYS], // where each of them ends in `text`
    n: usize,
}

thread_local! {
    static ORDERS: RefCell<Vec<Option<Rc<KeyOrder>>>> = const { RefCell::new(Vec::new()) };
}

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

impl KeyOrder {
    fn build(items: &[(StrBytes<'_>, Bound<'_, PyAny>)]) -> KeyOrder {
        let n = items.len();
        let mut o = KeyOrder { raw: Vec::new(), raw_ends: [0; MAX_KEYS], perm: [0; MAX_KEYS], text: Vec::new(), text_ends: [0; MAX_KEYS], n };
        for (i, (k, _)) in items.iter().enumerate() {
            o.raw.extend_from_slice(k.bytes());
            o.raw_ends[i] = o.raw.len() as u16;
        }
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| items[a].0.bytes().cmp(items[b].0.bytes())); // stable, as write_items sorts
        for (j, &i) in idx.iter().enumerate() {
            o.perm[j] = i as u8;
            write_str_bytes(&mut o.text, items[i].0.bytes());
            o.text.push(b':');
            o.text_ends[j] = o.text.len() as u16;
        }
        o
    }

    fn matches(&self, items: &[(StrBytes<'_>, Bound<'_, PyAny>)]) -> bool {
        if self.n != items.len() {
            return false;
        }
        let mut start = 0;
        for (i, (k, _)) in items.iter().enumerate() {
            let end = self.raw_ends[i] as usize;
            if k.bytes() != &self.raw[start..end] {
                return false;
            }
            start = end;
        }
        true
    }

    pub fn keys(&self) -> usize {
        self.n
    }

    /// The item index and the `"key":` text of the `j`-th key written.
    #[inline]
    pub fn nth(&self, j: usize) -> (usize, &[u8]) {
        let start = if j == 0 { 0 } else { self.text_ends[j - 1] as usize };
        (self.perm[j] as usize, &self.text[start..self.text_ends[j] as usize])
    }
}

/// The cached order of these items' keys; None (sort them) for fewer than two keys, more than
/// `MAX_KEYS`, long keys, or any key that is not plain str text (those are counted as they are
/// written, which must happen every time).
pub fn key_order(items: &[(StrBytes<'_>, Bound<'_, PyAny>)]) -> Option<Rc<KeyOrder>> {
    let n = items.len();
    if !(2..=MAX_KEYS).contains(&n) {
        return None;
    }
    let mut h = n as u64;
    let mut total = 0;
    for (k, _) in items {
        let b = match k {
            StrBytes::Borrowed(b) => *b,
            StrBytes::Owned(_) => return None,
        };
        total += b.len();
        // the slot comes from where the key text lives (literal keys and static names stay put:
        // cheap and stable); a hit is then checked on the bytes themselves
        h = mix(mix(h, b.as_ptr() as u64), b.len() as u64);
    }
    if total > MAX_KEY_BYTES {
        return None;
    }
    let slot = (h >> (64 - SLOTS.trailing_zeros())) as usize;
    ORDERS
        .try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            if c.is_empty() {
                c.resize(SLOTS, None);
            }
            if let Some(o) = c[slot].as_ref().filter(|o| o.matches(items)) {
                return Some(o.clone());
            }
            let o = Rc::new(KeyOrder::build(items));
            c[slot] = Some(o.clone());
            Some(o)
        })
        .ok()
        .flatten()
}
