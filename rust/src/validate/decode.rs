//! Strict JSON decoding of one MTTP line, and the runtime the generated validator uses.
//!
//! No Python here (the fuzzer compiles this file on its own). Twin of `python/mist/_strictjson.py`:
//! both accept exactly RFC 8259 JSON and report the first problem with the same pointer, kind and
//! words. Hostile input is an error value, never a panic: lines over the 10 MiB mist-go message
//! limit, nesting deeper than `MAX_DEPTH`, duplicate keys, numbers that overflow a 64-bit float,
//! invalid UTF-8 inside strings, a BOM, blank lines. Lone surrogate escapes are kept (as WTF-8,
//! three bytes ED A0..BF xx), as Python's `json` keeps them.
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;

/// mist-go's message size limit: longer lines are rejected unread.
pub const MAX_LINE_BYTES: usize = 10 << 20;
/// Deepest nesting accepted (the root object is level 1).
pub const MAX_DEPTH: usize = 512;
/// Values a Python object may hold before it is rejected (cycles, shared sub-trees).
pub const MAX_VALUES: usize = 1_000_000;
/// Characters of a value quoted in a message before it is cut with "…".
pub const GOT_CHARS: usize = 40;

pub const K_JSON: &str = "json";
pub const K_ENCODING: &str = "encoding";
pub const K_BLANK: &str = "blank";
pub const K_TOO_LARGE: &str = "too_large";
pub const K_TOO_DEEP: &str = "too_deep";
pub const K_DUPLICATE: &str = "duplicate_key";
pub const K_RANGE: &str = "range";
pub const K_TYPE: &str = "type";

#[derive(Debug, Clone, PartialEq)]
pub enum Num<'a> {
    I(i64),
    U(u64),
    /// An integer outside i64/u64 that still fits a 64-bit float: its decimal text.
    Big(Cow<'a, [u8]>),
    F(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Num(Num<'a>),
    /// WTF-8 text (UTF-8, plus lone surrogates in their 3-byte form).
    Str(Cow<'a, [u8]>),
    Arr(Vec<Val<'a>>),
    Obj(Vec<(Cow<'a, [u8]>, Val<'a>)>),
    /// A container too deep for any check to look into: checked for syntax only. true = object.
    Opaque(bool),
}

/// One error: JSON pointer, stable kind label, message.
#[derive(Debug, Clone, PartialEq)]
pub struct VErr {
    pub ptr: String,
    pub kind: &'static str,
    pub msg: String,
}

#[derive(Default, Debug)]
pub struct Errs {
    pub list: Vec<VErr>,
}

/// Where a value sits, as a stack-allocated chain (rendered only when an error is pushed).
pub enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p [u8]),
    Idx(&'p Path<'p>, usize),
}

impl Path<'_> {
    pub fn render(&self) -> String {
        let mut segs: Vec<&Path> = Vec::new();
        let mut p = self;
        loop {
            match p {
                Path::Root => break,
                Path::Key(up, _) | Path::Idx(up, _) => {
                    segs.push(p);
                    p = up;
                }
            }
        }
        let mut out = Vec::new();
        for s in segs.iter().rev() {
            out.push(b'/');
            match s {
                Path::Key(_, k) => push_segment(&mut out, k),
                Path::Idx(_, i) => out.extend_from_slice(i.to_string().as_bytes()),
                Path::Root => {}
            }
        }
        into_string(out)
    }
}

/// A pointer segment: `~` → `~0`, `/` → `~1`, lone surrogates → U+FFFD.
pub fn push_segment(out: &mut Vec<u8>, k: &[u8]) {
    let mut i = 0;
    while i < k.len() {
        let b = k[i];
        if b == b'~' {
            out.extend_from_slice(b"~0");
        } else if b == b'/' {
            out.extend_from_slice(b"~1");
        } else if is_surrogate_at(k, i) {
            out.extend_from_slice("\u{fffd}".as_bytes());
            i += 3;
            continue;
        } else {
            out.push(b);
        }
        i += 1;
    }
}

#[inline]
fn is_surrogate_at(s: &[u8], i: usize) -> bool {
    s[i] == 0xED && i + 2 < s.len() && (0xA0..=0xBF).contains(&s[i + 1])
}

fn into_string(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Errors kept per line (the rest of a hostile line's errors are dropped, not rendered).
pub const MAX_ERRORS: usize = 100;

impl Errs {
    /// An error whose message ends with the offending value, e.g. `expected a string, got 12`.
    pub fn push(&mut self, p: &Path, kind: &'static str, prefix: &str, v: &Val) {
        if self.list.len() >= MAX_ERRORS {
            return;
        }
        let mut msg = prefix.to_string();
        got(&mut msg, v);
        self.list.push(VErr { ptr: p.render(), kind, msg });
    }
    pub fn push_msg(&mut self, p: &Path, kind: &'static str, msg: &str) {
        if self.list.len() >= MAX_ERRORS {
            return;
        }
        self.list.push(VErr { ptr: p.render(), kind, msg: msg.to_string() });
    }
}

// ---------------------------------------------------------------------------------------------
// how values are quoted in messages (twin of `_strictjson.got`)

/// Append the message form of a value: `"text"` (cut at 40 characters), numbers in Go's
/// shortest layout, `true`, `null`, `an object`, `an array`.
pub fn got(out: &mut String, v: &Val) {
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(Num::I(i)) => out.push_str(&i.to_string()),
        Val::Num(Num::U(u)) => out.push_str(&u.to_string()),
        Val::Num(Num::Big(t)) => cut_text(out, &String::from_utf8_lossy(t)),
        Val::Num(Num::F(f)) => out.push_str(&go_float(*f)),
        Val::Str(s) => quote(out, s),
        Val::Arr(_) | Val::Opaque(false) => out.push_str("an array"),
        Val::Obj(_) | Val::Opaque(true) => out.push_str("an object"),
    }
}

pub fn cut_text(out: &mut String, t: &str) {
    match t.char_indices().nth(GOT_CHARS) {
        Some((i, _)) => {
            out.push_str(&t[..i]);
            out.push('…');
        }
        None => out.push_str(t),
    }
}

/// A JSON-quoted string for messages: `"` `\` and control characters escaped, lone surrogates
/// as `\ufffd`, other text raw; at most `GOT_CHARS` characters, then `…`.
pub fn quote(out: &mut String, s: &[u8]) {
    let mut buf: Vec<u8> = Vec::with_capacity(s.len().min(200) + 2);
    buf.push(b'"');
    let mut chars = 0;
    let mut i = 0;
    while i < s.len() {
        if chars == GOT_CHARS {
            break;
        }
        let b = s[i];
        if b >= 0x80 {
            if is_surrogate_at(s, i) {
                buf.extend_from_slice(b"\\ufffd");
                i += 3;
            } else {
                let n = utf8_len(b);
                let end = (i + n).min(s.len());
                buf.extend_from_slice(&s[i..end]);
                i = end;
            }
        } else {
            match b {
                b'"' => buf.extend_from_slice(b"\\\""),
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                0..=0x1f | 0x7f => buf.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
                _ => buf.push(b),
            }
            i += 1;
        }
        chars += 1;
    }
    buf.push(b'"');
    out.push_str(&into_string(buf));
    if i < s.len() {
        out.push('…');
    }
}

#[inline]
fn utf8_len(b: u8) -> usize {
    if b >= 0xF0 {
        4
    } else if b >= 0xE0 {
        3
    } else if b >= 0xC0 {
        2
    } else {
        1
    }
}

/// Characters in WTF-8 text (a lone surrogate counts as one, as in Python).
pub fn char_len(s: &[u8]) -> usize {
    s.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// Go's `strconv.FormatFloat(f, 'f' or 'e', -1, 64)` as encoding/json lays it out
/// (plain for 1e-6 <= |f| < 1e21, else exponent form `1e+21`, `1.5e-7`).
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !f.is_finite() {
        return if f.is_nan() { "NaN".into() } else if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    // shortest round-trip digits, as d.ddde±x
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let nd = digits.len() as i32;
    let point = exp + 1; // decimal point position relative to the digits
    let a = f.abs();
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if (1e-6..1e21).contains(&a) {
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..(-point) {
                out.push('0');
            }
            out.push_str(&digits);
        } else if point >= nd {
            out.push_str(&digits);
            for _ in 0..(point - nd) {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(if exp >= 0 { "e+" } else { "e-" });
        out.push_str(&exp.unsigned_abs().to_string());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// helpers for the generated checks

#[inline]
pub fn is_int(v: &Val) -> bool {
    match v {
        Val::Num(Num::F(f)) => f.fract() == 0.0,
        Val::Num(_) => true,
        _ => false,
    }
}
#[inline]
pub fn is_obj(v: &Val) -> bool {
    matches!(v, Val::Obj(_) | Val::Opaque(true))
}
#[inline]
pub fn is_arr(v: &Val) -> bool {
    matches!(v, Val::Arr(_) | Val::Opaque(false))
}

pub fn get<'v, 'a>(m: &'v [(Cow<'a, [u8]>, Val<'a>)], key: &[u8]) -> Option<&'v Val<'a>> {
    m.iter().find(|(k, _)| &k[..] == key).map(|(_, v)| v)
}
pub fn has(m: &[(Cow<'_, [u8]>, Val<'_>)], key: &[u8]) -> bool {
    m.iter().any(|(k, _)| &k[..] == key)
}

/// A schema bound: integer or float.
#[allow(dead_code)]
#[derive(Clone, Copy)]
pub enum Bound {
    I(i128),
    F(f64),
}

/// Exact comparison of a decoded number with a schema bound.
#[inline(always)]
pub fn cmp_num(n: &Num, b: Bound) -> Ordering {
    match (n, b) {
        (Num::I(i), Bound::I(b)) => (*i as i128).cmp(&b),
        (Num::U(u), Bound::I(b)) => (*u as i128).cmp(&b),
        (Num::Big(t), Bound::I(_)) => {
            if t.first() == Some(&b'-') {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Num::F(f), Bound::I(b)) => cmp_f64_int(*f, b),
        (n, Bound::F(b)) => {
            let x = match n {
                Num::I(i) => *i as f64,
                Num::U(u) => *u as f64,
                Num::Big(t) => std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0),
                Num::F(f) => *f,
            };
            x.partial_cmp(&b).unwrap_or(Ordering::Equal)
        }
    }
}

fn cmp_f64_int(f: f64, b: i128) -> Ordering {
    if f >= 1.0e38 {
        return Ordering::Greater;
    }
    if f <= -1.0e38 {
        return Ordering::Less;
    }
    let t = f.trunc();
    match (t as i128).cmp(&b) {
        Ordering::Equal => f.partial_cmp(&t).unwrap_or(Ordering::Equal),
        o => o,
    }
}

/// One ASCII class (a 128-bit membership mask) repeated `min..=max` times.
pub struct PAtom {
    pub mask: [u64; 2],
    pub min: u32,
    pub max: u32,
}

impl PAtom {
    #[inline]
    fn has(&self, b: u8) -> bool {
        b < 128 && (self.mask[(b >> 6) as usize] >> (b & 63)) & 1 == 1
    }
}

/// A compiled schema pattern: `^?(alt|alt)$?` over ASCII classes (see codegen/validator_model.py).
pub struct Pat {
    pub start: bool,
    pub end: bool,
    pub alts: &'static [&'static [PAtom]],
}

impl Pat {
    pub fn is_match(&self, s: &[u8]) -> bool {
        if self.start && self.end {
            // the common shape (ids): fixed counts, so no backtracking is needed
            let mut all_fixed = true;
            for alt in self.alts {
                if !alt.iter().all(|a| a.min == a.max) {
                    all_fixed = false;
                    break;
                }
                if alt.iter().map(|a| a.min as usize).sum::<usize>() != s.len() {
                    continue;
                }
                let mut i = 0;
                let ok = alt.iter().all(|a| {
                    let n = a.min as usize;
                    let run = s[i..i + n].iter().all(|&b| a.has(b));
                    i += n;
                    run
                });
                if ok {
                    return true;
                }
            }
            if all_fixed {
                return false;
            }
        }
        let starts = if self.start { 0..=0 } else { 0..=s.len() };
        for i in starts {
            for alt in self.alts {
                if seq_match(alt, s, i, self.end) {
                    return true;
                }
            }
        }
        false
    }
}

fn seq_match(atoms: &[PAtom], s: &[u8], i: usize, end: bool) -> bool {
    let Some((a, rest)) = atoms.split_first() else {
        return !end || i == s.len();
    };
    let mut k = 0usize;
    while (k as u64) < a.max as u64 && i + k < s.len() && a.has(s[i + k]) {
        k += 1;
    }
    if (k as u64) < a.min as u64 {
        return false;
    }
    let mut c = k;
    loop {
        if seq_match(rest, s, i + c, end) {
            return true;
        }
        if c as u64 == a.min as u64 {
            return false;
        }
        c -= 1;
    }
}

// ---------------------------------------------------------------------------------------------
// the line-level checks and the strict parser

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` equal to zero get their high bit set (exact for the first such byte).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// First index of `needle` in `s[from..]` (eight bytes at a time).
#[inline]
pub fn find_byte(s: &[u8], from: usize, needle: u8) -> Option<usize> {
    let pat = LO * needle as u64;
    let mut i = from;
    while i + 8 <= s.len() {
        let w = u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
        let m = zero_bytes(w ^ pat);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == needle).map(|p| i + p)
}

/// An error found while decoding: where, what kind, what.
pub type DErr = VErr;
/// Boxed inside the parser, so results stay small.
type PErr = Box<VErr>;

/// Checks on a raw line before parsing: size, blank, BOM. `line` has no trailing `\n`.
pub fn precheck(line: &[u8]) -> Result<(), DErr> {
    if line.len() > MAX_LINE_BYTES {
        return Err(too_large(line.len()));
    }
    if line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
        return Err(VErr { ptr: String::new(), kind: K_BLANK, msg: "blank line (expected a JSON object)".into() });
    }
    if line.starts_with(b"\xEF\xBB\xBF") {
        return Err(VErr {
            ptr: String::new(),
            kind: K_ENCODING,
            msg: "UTF-8 byte order mark at the start of the line (JSON text must not have one)".into(),
        });
    }
    Ok(())
}

pub fn too_large(n: usize) -> DErr {
    VErr {
        ptr: String::new(),
        kind: K_TOO_LARGE,
        msg: format!("line is {} bytes, over the 10 MiB message limit ({} bytes)", n, MAX_LINE_BYTES),
    }
}

/// Decode one line (no trailing newline) into a tree. Containers nested deeper than `inspect`
/// are checked but not kept (`Val::Opaque`); pass `usize::MAX` to keep everything.
pub fn decode(line: &[u8], inspect: usize) -> Result<Val<'_>, DErr> {
    precheck(line)?;
    Parser { s: line, i: 0, inspect, stack: Vec::new() }.run().map_err(|e| *e)
}

/// The errors of one line: decoding problems (at most one) or schema errors.
pub fn check_line(line: &[u8]) -> Vec<VErr> {
    match decode(line, super::generated::INSPECT_DEPTH) {
        Err(e) => vec![e],
        Ok(v) => {
            let mut e = Errs::default();
            super::generated::check_envelope(&v, &mut e);
            e.list
        }
    }
}

enum Frame<'a> {
    Obj {
        items: Vec<(Cow<'a, [u8]>, Val<'a>)>,
        /// keys of an object too deep to keep, or of a large object (duplicate detection)
        keys: Option<HashSet<Cow<'a, [u8]>>>,
        /// one bit per key hash seen: most keys skip the duplicate scan
        bloom: u64,
        opaque: bool,
        pending: Option<Cow<'a, [u8]>>,
    },
    Arr {
        items: Vec<Val<'a>>,
        opaque: bool,
        index: usize,
        in_elem: bool,
    },
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    inspect: usize,
    stack: Vec<Frame<'a>>,
}

const DUP_HASH_AT: usize = 16;

/// A key's bit in an object's 64-bit filter of the keys seen so far (length, first and last byte:
/// cheap, and enough to tell the usual field names apart).
#[inline]
fn key_bit(k: &[u8]) -> u64 {
    let h = match k {
        [] => 0,
        [a, .., z] => k.len() * 7 + *a as usize * 3 + *z as usize,
        [a] => 1 + *a as usize * 3,
    };
    1u64 << (h & 63)
}

impl<'a> Parser<'a> {
    fn ptr(&self) -> String {
        let mut out = Vec::new();
        for f in &self.stack {
            match f {
                Frame::Obj { pending: Some(k), .. } => {
                    out.push(b'/');
                    push_segment(&mut out, k);
                }
                Frame::Arr { index, in_elem: true, .. } => {
                    out.push(b'/');
                    out.extend_from_slice(index.to_string().as_bytes());
                }
                _ => {}
            }
        }
        into_string(out)
    }

    #[cold]
    fn err(&self, kind: &'static str, msg: String) -> PErr {
        Box::new(VErr { ptr: self.ptr(), kind, msg })
    }

    /// "unexpected X at column N, expected WHAT" (or end of input).
    #[cold]
    fn unexpected(&self, what: &str) -> PErr {
        if self.i >= self.s.len() {
            return self.err(K_JSON, format!("unexpected end of input, expected {}", what));
        }
        let b = self.s[self.i];
        let tok = if (0x21..0x7f).contains(&b) { format!("'{}'", b as char) } else { format!("byte 0x{:02x}", b) };
        self.err(K_JSON, format!("unexpected {} at column {}, expected {}", tok, self.i + 1, what))
    }

    #[inline]
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn run(mut self) -> Result<Val<'a>, PErr> {
        self.ws();
        'value: loop {
            // parse one value at self.i (whitespace already skipped)
            let mut v = match self.peek() {
                Some(b'{') | Some(b'[') => {
                    let is_obj = self.s[self.i] == b'{';
                    if self.stack.len() + 1 > MAX_DEPTH {
                        return Err(self.err(K_TOO_DEEP, format!("nesting deeper than {} levels", MAX_DEPTH)));
                    }
                    self.i += 1;
                    let opaque = self.stack.len() + 1 > self.inspect;
                    self.ws();
                    let close = if is_obj { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                        if opaque {
                            Val::Opaque(is_obj)
                        } else if is_obj {
                            Val::Obj(Vec::new())
                        } else {
                            Val::Arr(Vec::new())
                        }
                    } else if is_obj {
                        let items = if opaque { Vec::new() } else { Vec::with_capacity(8) };
                        self.stack.push(Frame::Obj { items, keys: None, bloom: 0, opaque, pending: None });
                        self.key(true)?;
                        continue 'value;
                    } else {
                        self.stack.push(Frame::Arr { items: Vec::new(), opaque, index: 0, in_elem: true });
                        continue 'value;
                    }
                }
                Some(b'"') => Val::Str(self.string()?),
                Some(b'-') | Some(b'0'..=b'9') => Val::Num(self.number()?),
                Some(b't') => self.literal(b"true", Val::Bool(true))?,
                Some(b'f') => self.literal(b"false", Val::Bool(false))?,
                Some(b'n') => self.literal(b"null", Val::Null)?,
                _ => return Err(self.unexpected("a JSON value")),
            };
            // the value is complete: hand it to its container, closing containers as they end
            loop {
                let Some(top) = self.stack.last_mut() else {
                    self.ws();
                    if self.i < self.s.len() {
                        return Err(self.unexpected("the end of the line"));
                    }
                    return Ok(v);
                };
                match top {
                    Frame::Obj { items, opaque, pending, .. } => {
                        let k = pending.take().unwrap_or(Cow::Borrowed(b""));
                        if !*opaque {
                            items.push((k, v));
                        }
                        self.ws();
                        match self.peek() {
                            Some(b',') => {
                                self.i += 1;
                                self.key(false)?;
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.i += 1;
                                v = match self.stack.pop() {
                                    Some(Frame::Obj { items, opaque: false, .. }) => Val::Obj(items),
                                    _ => Val::Opaque(true),
                                };
                            }
                            _ => return Err(self.unexpected("',' or '}'")),
                        }
                    }
                    Frame::Arr { items, opaque, in_elem, .. } => {
                        if !*opaque {
                            items.push(v);
                        }
                        *in_elem = false;
                        self.ws();
                        match self.peek() {
                            Some(b',') => {
                                self.i += 1;
                                if let Some(Frame::Arr { index, in_elem, .. }) = self.stack.last_mut() {
                                    *index += 1;
                                    *in_elem = true;
                                }
                                self.ws();
                                continue 'value;
                            }
                            Some(b']') => {
                                self.i += 1;
                                v = match self.stack.pop() {
                                    Some(Frame::Arr { items, opaque: false, .. }) => Val::Arr(items),
                                    _ => Val::Opaque(false),
                                };
                            }
                            _ => return Err(self.unexpected("',' or ']'")),
                        }
                    }
                }
            }
        }
    }

    /// A member key, its duplicate check and the ':' after it; leaves self.i at the value.
    fn key(&mut self, first: bool) -> Result<(), PErr> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.unexpected(if first { "a string key or '}'" } else { "a string key" }));
        }
        let k = self.string()?;
        let Some(Frame::Obj { items, keys, bloom, opaque, pending }) = self.stack.last_mut() else { unreachable!() };
        let bit = key_bit(&k);
        let dup = if let Some(set) = keys.as_mut() {
            !set.insert(k.clone())
        } else if *bloom & bit != 0 && items.iter().any(|(x, _)| *x == k) {
            true
        } else {
            *bloom |= bit;
            if *opaque || items.len() >= DUP_HASH_AT {
                let mut set: HashSet<Cow<'a, [u8]>> = items.iter().map(|(x, _)| x.clone()).collect();
                set.insert(k.clone());
                *keys = Some(set);
            }
            false
        };
        *pending = Some(k);
        if dup {
            return Err(self.err(K_DUPLICATE, "duplicate key".into()));
        }
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.unexpected("':'"));
        }
        self.i += 1;
        self.ws();
        Ok(())
    }

    fn literal(&mut self, word: &[u8], v: Val<'a>) -> Result<Val<'a>, PErr> {
        let rest = &self.s[self.i..];
        if rest.starts_with(word) {
            self.i += word.len();
            return Ok(v);
        }
        if word.starts_with(rest) {
            self.i = self.s.len();
            return Err(self.unexpected("a JSON value"));
        }
        Err(self.err(K_JSON, format!("invalid literal at column {}, expected a JSON value", self.i + 1)))
    }

    fn number(&mut self) -> Result<Num<'a>, PErr> {
        let s = self.s;
        let start = self.i;
        let mut i = self.i;
        if s[i] == b'-' {
            i += 1;
        }
        let digit = |i: usize| i < s.len() && s[i].is_ascii_digit();
        let need_digit = |this: &mut Self, i: usize| -> Result<(), PErr> {
            if i >= s.len() {
                this.i = i;
                return Err(this.err(K_JSON, "unexpected end of input inside a number".into()));
            }
            if !s[i].is_ascii_digit() {
                return Err(this.err(K_JSON, format!("invalid number at column {}", start + 1)));
            }
            Ok(())
        };
        need_digit(self, i)?;
        if s[i] == b'0' {
            i += 1;
        } else {
            while digit(i) {
                i += 1;
            }
        }
        let mut float = false;
        if i < s.len() && s[i] == b'.' {
            float = true;
            i += 1;
            need_digit(self, i)?;
            while digit(i) {
                i += 1;
            }
        }
        if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
            float = true;
            i += 1;
            if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
                i += 1;
            }
            need_digit(self, i)?;
            while digit(i) {
                i += 1;
            }
        }
        self.i = i;
        let text = &s[start..i];
        let neg = s[start] == b'-';
        let digits = &text[neg as usize..];
        if !float && digits.len() <= 18 {
            let v = digits.iter().fold(0i64, |acc, &c| acc * 10 + (c - b'0') as i64);
            return Ok(Num::I(if neg { -v } else { v }));
        }
        // SAFETY: the grammar above admits only ASCII digits, '-', '+', '.', 'e', 'E'
        let t = unsafe { std::str::from_utf8_unchecked(text) };
        if !float {
            if let Ok(v) = t.parse::<i64>() {
                return Ok(Num::I(v));
            }
            if let Ok(v) = t.parse::<u64>() {
                return Ok(Num::U(v));
            }
        }
        let f: f64 = t.parse().unwrap_or(f64::INFINITY);
        if f.is_infinite() {
            let mut msg = String::from("number out of range for a 64-bit float: ");
            cut_text(&mut msg, t);
            return Err(self.err(K_RANGE, msg));
        }
        if float {
            Ok(Num::F(f))
        } else {
            Ok(Num::Big(Cow::Borrowed(text)))
        }
    }

    /// A string at self.i (the opening quote): its decoded WTF-8 bytes.
    #[inline]
    fn string(&mut self) -> Result<Cow<'a, [u8]>, PErr> {
        // the common case: no escape, no control character, before the closing quote
        let s = self.s;
        let start = self.i + 1;
        let mut i = start;
        let mut high = 0u64;
        while i + 8 <= s.len() {
            let w = u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
            let m = zero_bytes(w ^ (LO * b'"' as u64)) | zero_bytes(w ^ (LO * b'\\' as u64)) | (w.wrapping_sub(LO * 0x20) & !w & HI);
            if m != 0 {
                let at = i + (m.trailing_zeros() / 8) as usize;
                if s[at] != b'"' {
                    return self.string_slow();
                }
                let keep = if at > i { u64::MAX >> (64 - 8 * (at - i)) } else { 0 };
                high |= w & keep;
                i = at;
                if high & HI != 0 && std::str::from_utf8(&s[start..i]).is_err() {
                    return self.string_slow();
                }
                self.i = i + 1;
                return Ok(Cow::Borrowed(&s[start..i]));
            }
            high |= w;
            i += 8;
        }
        self.string_slow()
    }

    /// Any string, escapes and errors included.
    #[inline(never)]
    fn string_slow(&mut self) -> Result<Cow<'a, [u8]>, PErr> {
        let s = self.s;
        let start = self.i + 1;
        let mut i = start;
        let mut high = 0u64;
        let mut owned: Option<Vec<u8>> = None;
        let mut chunk = start;
        loop {
            // fast scan to the next special byte: eight bytes at a time, then one by one
            while i + 8 <= s.len() {
                let w = u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
                let m = zero_bytes(w ^ (LO * b'"' as u64)) | zero_bytes(w ^ (LO * b'\\' as u64)) | (w.wrapping_sub(LO * 0x20) & !w & HI);
                high |= w; // may include bytes past the string: only makes the UTF-8 check run
                if m != 0 {
                    i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            while i < s.len() {
                let b = s[i];
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                high |= b as u64;
                i += 1;
            }
            if i >= s.len() {
                self.i = s.len();
                return Err(self.err(K_JSON, "unexpected end of input inside a string".into()));
            }
            let b = s[i];
            if b == b'"' {
                break;
            }
            if b < 0x20 {
                return Err(self.err(
                    K_JSON,
                    format!("control character U+{:04X} in a string at column {} (must be escaped)", b, i + 1),
                ));
            }
            // an escape
            let o = owned.get_or_insert_with(Vec::new);
            o.extend_from_slice(&s[chunk..i]);
            let esc_at = i;
            if i + 1 >= s.len() {
                self.i = s.len();
                return Err(self.err(K_JSON, "unexpected end of input inside a string".into()));
            }
            match s[i + 1] {
                b'"' => o.push(b'"'),
                b'\\' => o.push(b'\\'),
                b'/' => o.push(b'/'),
                b'b' => o.push(8),
                b'f' => o.push(12),
                b'n' => o.push(b'\n'),
                b'r' => o.push(b'\r'),
                b't' => o.push(b'\t'),
                b'u' => {
                    let cp = hex4(s, i + 2).map_err(|eof| self.escape_err(eof, esc_at))?;
                    i += 6;
                    let mut c = cp as u32;
                    if (0xD800..0xDC00).contains(&cp) && i + 1 < s.len() && s[i] == b'\\' && s[i + 1] == b'u' {
                        let lo = hex4(s, i + 2).map_err(|eof| self.escape_err(eof, i))?;
                        if (0xDC00..0xE000).contains(&lo) {
                            c = 0x10000 + (((cp as u32) - 0xD800) << 10) + (lo as u32 - 0xDC00);
                            i += 6;
                        }
                    }
                    push_wtf8(o, c);
                    chunk = i;
                    continue;
                }
                _ => {
                    return Err(self.err(K_JSON, format!("invalid escape sequence at column {}", esc_at + 1)));
                }
            }
            i += 2;
            chunk = i;
        }
        // i is at the closing quote
        if high & HI != 0 {
            if let Err(e) = std::str::from_utf8(&s[start..i]) {
                return Err(self.err(K_ENCODING, format!("invalid UTF-8 in a string at column {}", start + e.valid_up_to() + 1)));
            }
        }
        self.i = i + 1;
        Ok(match owned {
            None => Cow::Borrowed(&s[start..i]),
            Some(mut o) => {
                o.extend_from_slice(&s[chunk..i]);
                Cow::Owned(o)
            }
        })
    }

    #[cold]
    fn escape_err(&self, eof: bool, at: usize) -> PErr {
        if eof {
            self.err(K_JSON, "unexpected end of input inside a string".into())
        } else {
            self.err(K_JSON, format!("invalid \\u escape at column {}", at + 1))
        }
    }
}

/// Four hex digits at `i`: Err(true) at end of input, Err(false) when not hex.
fn hex4(s: &[u8], i: usize) -> Result<u16, bool> {
    let mut v = 0u16;
    for k in 0..4 {
        let Some(&c) = s.get(i + k) else { return Err(true) };
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(false),
        };
        v = (v << 4) | d as u16;
    }
    Ok(v)
}

/// Code point as WTF-8 (surrogates get the generalized 3-byte form).
pub fn push_wtf8(o: &mut Vec<u8>, c: u32) {
    if c < 0x80 {
        o.push(c as u8);
    } else if c < 0x800 {
        o.push(0xC0 | (c >> 6) as u8);
        o.push(0x80 | (c & 0x3F) as u8);
    } else if c < 0x10000 {
        o.push(0xE0 | (c >> 12) as u8);
        o.push(0x80 | ((c >> 6) & 0x3F) as u8);
        o.push(0x80 | (c & 0x3F) as u8);
    } else {
        o.push(0xF0 | (c >> 18) as u8);
        o.push(0x80 | ((c >> 12) & 0x3F) as u8);
        o.push(0x80 | ((c >> 6) & 0x3F) as u8);
        o.push(0x80 | (c & 0x3F) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &[u8]) -> Vec<(String, &'static str)> {
        check_line(line).into_iter().map(|e| (e.ptr, e.kind)).collect()
    }

    #[test]
    fn hostile_lines_are_errors_not_panics() {
        let deep = "[".repeat(100_000);
        assert_eq!(kinds(deep.as_bytes())[0].1, K_TOO_DEEP);
        assert_eq!(kinds(b"")[0].1, K_BLANK);
        assert_eq!(kinds(b"\xEF\xBB\xBF{}")[0].1, K_ENCODING);
        assert_eq!(kinds(b"{\"a\":\"\xff\"}")[0], ("/a".into(), K_ENCODING));
        assert_eq!(kinds(b"{\"a\":1,\"a\":2}")[0], ("/a".into(), K_DUPLICATE));
        assert_eq!(kinds(b"{\"a\":[1e400]}")[0], ("/a/0".into(), K_RANGE));
        assert_eq!(kinds(b"{\"a\":\"\x00\"}")[0].1, K_JSON);
        assert_eq!(kinds(b"[1]")[0], ("".into(), K_TYPE));
        assert_eq!(kinds(b"{\"a\":tru")[0].1, K_JSON);
        let big = vec![b' '; MAX_LINE_BYTES + 1];
        assert_eq!(kinds(&big)[0].1, K_TOO_LARGE);
    }

    #[test]
    fn floats_in_go_layout() {
        for (f, s) in [(0.1, "0.1"), (1e-7, "1e-7"), (1e21, "1e+21"), (3.0, "3"), (123456.5, "123456.5"), (-2.5e-5, "-0.000025")] {
            assert_eq!(go_float(f), s);
        }
    }

    #[test]
    fn numbers_compare_exactly() {
        assert_eq!(cmp_num(&Num::F(9223372036854775807.0), Bound::I(i64::MAX as i128)), Ordering::Greater);
        assert_eq!(cmp_num(&Num::F(-9223372036854775808.0), Bound::I(i64::MIN as i128)), Ordering::Equal);
        assert_eq!(cmp_num(&Num::F(-0.5), Bound::I(0)), Ordering::Less);
        assert_eq!(cmp_num(&Num::Big(Cow::Borrowed(b"18446744073709551616")), Bound::I(0)), Ordering::Greater);
    }
}
