//! MTTP JSONL → OTLP/HTTP `ExportTraceServiceRequest` protobuf: the native twin of
//! `python/mist/otlp_encode.py` (`convert()` then `encode_protobuf()`), same bytes, same counts.
//! The mapping rules are documented there; comments here name the Python function each part
//! follows.
//!
//! Lines are read by the strict decoder (`validate/decode.rs`), Python reads them with `json`, which is
//! laxer. When the two could read a batch differently (NaN/Infinity, duplicate keys, numbers past
//! a 64-bit float, nesting past 512 levels, lines over 10 MiB), or an attribute nests deeper than
//! the Python encoder safely recurses, `encode` returns None and the caller runs the Python
//! encoder: the outcome is then the same by construction.
//!
//! One writer: fields go straight into one Vec; a nested message reserves one length byte and is
//! patched when it closes (moved right when its length needs a longer varint).
use std::borrow::Cow;
use std::collections::HashMap;

use crate::validate::decode::{self, Num, Val, K_DUPLICATE, K_JSON, K_RANGE, K_TOO_DEEP, K_TOO_LARGE};

type Members<'a> = [(Cow<'a, [u8]>, Val<'a>)];

/// Attribute value nesting written here; deeper values go to the Python encoder.
const MAX_NEST: usize = 100;

/// What a conversion kept and skipped (`otlp_encode.ConvertCounts`).
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    pub spans: u64,
    /// per envelope type, in first-seen order (WTF-8 names)
    pub skipped: Vec<(Vec<u8>, u64)>,
    pub invalid: u64,
    pub bad_lines: u64,
}

/// The batch must be encoded by the Python encoder.
struct Defer;

const KIND_INTERNAL: u8 = 1;
const KIND_CLIENT: u8 = 3;
const STATUS_OK: u8 = 1;
const STATUS_ERROR: u8 = 2;

/// `_INT_ATTRS`: the token counts, then the integer request parameters
const TOKENS: [(&[u8], &[u8]); 8] = [
    (b"tokens_in", b"gen_ai.usage.input_tokens"),
    (b"tokens_out", b"gen_ai.usage.output_tokens"),
    (b"tokens_cache_read", b"gen_ai.usage.cache_read.input_tokens"),
    (b"tokens_cache_write", b"gen_ai.usage.cache_creation.input_tokens"),
    (b"tokens_reasoning", b"gen_ai.usage.reasoning.output_tokens"),
    (b"max_tokens", b"gen_ai.request.max_tokens"),
    (b"seed", b"gen_ai.request.seed"),
    (b"choice_count", b"gen_ai.request.choice.count"),
];
/// `_REQUEST_DOUBLE_ATTRS`
const REQUEST_DOUBLES: [(&[u8], &[u8]); 5] = [
    (b"temperature", b"gen_ai.request.temperature"),
    (b"top_p", b"gen_ai.request.top_p"),
    (b"top_k", b"gen_ai.request.top_k"),
    (b"frequency_penalty", b"gen_ai.request.frequency_penalty"),
    (b"presence_penalty", b"gen_ai.request.presence_penalty"),
];
const DOUBLES: [&[u8]; 2] = [b"cost_usd", b"latency_ms"];
/// `_RENAMED`
const RENAMED: [(&[u8], &[u8]); 2] = [(b"user_id", b"user.id"), (b"session_id", b"session.id")];
/// OpenInference token counts from the cache and reasoning counts (`TOKENS[2..5]`)
const OI_TOKEN_DETAILS: [&[u8]; 3] = [
    b"llm.token_count.prompt_details.cache_read",
    b"llm.token_count.prompt_details.cache_write",
    b"llm.token_count.completion_details.reasoning",
];
/// `gen_ai.*` keys the mapping may write, in `seen` bit order (a passed-through attr never repeats one):
/// provider, request and response model (bits 0-2), `TOKENS` (3-10), `REQUEST_DOUBLES` (11-15),
/// finish reasons (16), stop sequences (17)
const GENAI_KEYS: [&[u8]; 18] = [
    b"gen_ai.provider.name",
    b"gen_ai.request.model",
    b"gen_ai.response.model",
    TOKENS[0].1,
    TOKENS[1].1,
    TOKENS[2].1,
    TOKENS[3].1,
    TOKENS[4].1,
    TOKENS[5].1,
    TOKENS[6].1,
    TOKENS[7].1,
    REQUEST_DOUBLES[0].1,
    REQUEST_DOUBLES[1].1,
    REQUEST_DOUBLES[2].1,
    REQUEST_DOUBLES[3].1,
    REQUEST_DOUBLES[4].1,
    b"gen_ai.response.finish_reasons",
    b"gen_ai.request.stop_sequences",
];
const GENAI_OPERATIONS: [&[u8]; 7] =
    [b"chat", b"text_completion", b"embeddings", b"generate_content", b"execute_tool", b"invoke_agent", b"create_agent"];
const OPERATION_ALIASES: [(&[u8], &[u8]); 11] = [
    (b"completion", b"text_completion"),
    (b"completions", b"text_completion"),
    (b"embed", b"embeddings"),
    (b"embedding", b"embeddings"),
    (b"tool", b"execute_tool"),
    (b"tool_call", b"execute_tool"),
    (b"agent", b"invoke_agent"),
    (b"generate", b"generate_content"),
    (b"chat_completion", b"chat"),
    (b"chat_completions", b"chat"),
    (b"messages", b"chat"),
];

/// The request body and the counts, or None when the Python encoder must do this batch.
#[cfg(test)]
pub fn encode(data: &[u8], scope_version: &[u8]) -> Option<(Vec<u8>, Counts)> {
    encode_with(data, scope_version, &Resource::default())
}

/// What every `Resource` carries beyond its source (`otlp_encode.Resource`): the `service.name`
/// (None: the envelopes' `source`) and extra string attributes, in order.
#[derive(Default)]
pub struct Resource {
    pub service_name: Option<Vec<u8>>,
    pub attrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `encode` with the resource's service name and attributes.
pub fn encode_with(data: &[u8], scope_version: &[u8], resource: &Resource) -> Option<(Vec<u8>, Counts)> {
    // `_decode_lines`: the batch as text (invalid UTF-8 → U+FFFD), lines blank to `str.strip` dropped
    let text: Cow<[u8]> = match std::str::from_utf8(data) {
        Ok(_) => Cow::Borrowed(data),
        Err(_) => Cow::Owned(String::from_utf8_lossy(data).into_owned().into_bytes()),
    };
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    while start <= text.len() {
        let end = decode::find_byte(&text, start, b'\n').unwrap_or(text.len());
        if !py_blank(&text[start..end]) {
            lines.push(&text[start..end]);
        }
        start = end + 1;
    }
    let mut batch = Converter::default();
    let mut bad = 0;
    for line in &lines {
        match decode::decode(line, usize::MAX) {
            Ok(v) => batch.envelope(&v).ok()?,
            Err(e) if lax_json_may_differ(&e, line) => return None,
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        // Python first parses the lines joined into one array, and keeps that if it has one value
        // per line (lines that fail alone can make a valid array together)
        let mut joined = Vec::with_capacity(text.len() + 2);
        joined.push(b'[');
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                joined.push(b',');
            }
            joined.extend_from_slice(line);
        }
        joined.push(b']');
        match decode::decode(&joined, usize::MAX) {
            Ok(Val::Arr(items)) if items.len() == lines.len() => {
                batch = Converter::default();
                bad = 0;
                for v in &items {
                    batch.envelope(v).ok()?;
                }
            }
            Err(e) if lax_json_may_differ(&e, &joined) => return None,
            _ => {}
        }
    }
    batch.counts.bad_lines += bad;
    Some(batch.finish(scope_version, resource))
}

/// True when Python's `json` might accept what the strict decoder refused.
fn lax_json_may_differ(e: &decode::DErr, text: &[u8]) -> bool {
    match e.kind {
        K_DUPLICATE | K_RANGE | K_TOO_DEEP | K_TOO_LARGE => true,
        K_JSON => contains(text, b"NaN") || contains(text, b"Infinity"),
        _ => false,
    }
}

fn contains(s: &[u8], needle: &[u8]) -> bool {
    s.windows(needle.len()).any(|w| w == needle)
}

/// Python's `str.isspace` (Unicode White_Space plus U+001C..U+001F).
fn py_space(c: u32) -> bool {
    (0x1c..=0x1f).contains(&c) || char::from_u32(c).is_some_and(char::is_whitespace)
}

/// `not line.strip()` for a line of valid UTF-8.
fn py_blank(line: &[u8]) -> bool {
    match line.first() {
        None => true,
        Some(&b) if b < 0x80 && !py_space(b as u32) => false,
        _ => std::str::from_utf8(line).is_ok_and(|s| s.chars().all(|c| py_space(c as u32))),
    }
}

/// One code point of WTF-8 text at `i`: (code point, byte length). Lone surrogates decode as such.
fn wtf8_char(s: &[u8], i: usize) -> (u32, usize) {
    let b = s[i] as u32;
    let n = match b {
        0..=0x7f => return (b, 1),
        0x80..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    let n = n.min(s.len() - i);
    let lead = b & (0x7f >> n);
    (s[i + 1..i + n].iter().fold(lead, |c, &x| (c << 6) | (x as u32 & 0x3f)), n)
}

/// A lone surrogate (three bytes ED A0..BF xx) starts at `i`.
#[inline]
fn surrogate_at(s: &[u8], i: usize) -> bool {
    s[i] == 0xED && s.get(i + 1).is_some_and(|&c| c >= 0xA0)
}

// ---------------------------------------------------------------------------------------------
// `convert`: which lines become spans, grouped by source; `encode_protobuf`: the request

struct Ids {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
}

/// Spans are written as their lines are decoded, each into the `Span` fields of its source's group.
#[derive(Default)]
struct Converter {
    counts: Counts,
    /// (source, its spans as ScopeSpans field 2s), first-seen order
    groups: Vec<(Vec<u8>, Vec<u8>)>,
    by_source: HashMap<Vec<u8>, usize>,
    w: Writer,
}

impl Converter {
    fn envelope(&mut self, v: &Val) -> Result<(), Defer> {
        let counts = &mut self.counts;
        let Val::Obj(env) = v else {
            counts.bad_lines += 1;
            return Ok(());
        };
        match decode::get(env, b"type") {
            Some(Val::Str(t)) if &t[..] == b"trace.span" => {}
            other => {
                let kind: &[u8] = match other {
                    Some(Val::Str(t)) => t,
                    _ => b"unknown",
                };
                match counts.skipped.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, n)) => *n += 1,
                    None => counts.skipped.push((kind.to_vec(), 1)),
                }
                return Ok(());
            }
        }
        let mapped = match decode::get(env, b"payload") {
            Some(Val::Obj(p)) => span_ids(p).map(|ids| (p, ids)),
            _ => None,
        };
        let Some((payload, ids)) = mapped else {
            counts.invalid += 1;
            return Ok(());
        };
        let source: &[u8] = match decode::get(env, b"source") {
            Some(Val::Str(s)) if !s.is_empty() => s,
            _ => b"unknown_service",
        };
        let g = match self.groups.last() {
            Some((last, _)) if last.as_slice() == source => self.groups.len() - 1,
            _ => *self.by_source.entry(source.to_vec()).or_insert_with(|| {
                self.groups.push((source.to_vec(), Vec::new()));
                self.groups.len() - 1
            }),
        };
        std::mem::swap(&mut self.w.b, &mut self.groups[g].1);
        let written = self.w.span(payload, &ids);
        std::mem::swap(&mut self.w.b, &mut self.groups[g].1);
        written?;
        self.counts.spans += 1;
        Ok(())
    }

    /// The `ExportTraceServiceRequest`: per group a ResourceSpans with its Resource and one
    /// ScopeSpans (lengths known, so the spans are copied once).
    fn finish(self, scope_version: &[u8], res: &Resource) -> (Vec<u8>, Counts) {
        let mut scope = Writer::default();
        let at = scope.open(0x0a);
        scope.text(0x0a, &[b"mist"]);
        if !scope_version.is_empty() {
            scope.text(0x12, &[scope_version]);
        }
        scope.close(at);
        let mut out = Vec::with_capacity(self.groups.iter().map(|(_, spans)| spans.len() + 128).sum());
        for (source, spans) in &self.groups {
            let mut resource = Writer::default();
            let at = resource.open(0x0a);
            let service: &[u8] = match &res.service_name {
                Some(name) if !name.is_empty() => name,
                _ => source,
            };
            let fixed = [(&b"service.name"[..], service), (b"telemetry.sdk.name", b"mist"), (b"telemetry.sdk.language", b"python")];
            let extra = res.attrs.iter().filter(|(k, _)| !fixed.iter().any(|(f, _)| *f == &k[..]));
            for (k, v) in fixed.into_iter().chain(extra.map(|(k, v)| (&k[..], &v[..]))) {
                let kv = resource.kv(0x0a, b"", k);
                resource.text(0x0a, &[v]);
                resource.close_kv(kv);
            }
            resource.close(at);
            let scope_spans = (scope.b.len() + spans.len()) as u64;
            out.push(0x0a);
            put_varint(&mut out, (resource.b.len() + 1 + varint(scope_spans).1) as u64 + scope_spans);
            out.extend_from_slice(&resource.b);
            out.push(0x12);
            put_varint(&mut out, scope_spans);
            out.extend_from_slice(&scope.b);
            out.extend_from_slice(spans);
        }
        (out, self.counts)
    }
}

/// `map_span`'s id checks: None when the span is skipped as invalid.
fn span_ids(p: &Members) -> Option<Ids> {
    let trace_id = match decode::get(p, b"trace_id") {
        Some(Val::Str(s)) if s.len() == 32 => hex_id::<16>(s)?,
        _ => return None,
    };
    Some(Ids { trace_id, span_id: span_id(decode::get(p, b"span_id"))?, parent: span_id(decode::get(p, b"parent_id")) })
}

/// `_span_id`: 16 hex characters, or 32 of which the last 16 count; not all zeros.
fn span_id(v: Option<&Val>) -> Option<[u8; 8]> {
    let Some(Val::Str(s)) = v else { return None };
    match decode::char_len(s) {
        16 if s.len() == 16 => hex_id(s),
        32 if s.len() >= 16 => hex_id(&s[s.len() - 16..]),
        _ => None,
    }
}

/// Exactly `2N` hex digits (either case), not all zeros.
fn hex_id<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    (out != [0u8; N]).then_some(out)
}

// ---------------------------------------------------------------------------------------------
// the writer

#[derive(Default)]
struct Writer {
    b: Vec<u8>,
    /// the attrs that are not mapped (indices, reused per span)
    rest: Vec<usize>,
    /// scratch text: the lowered operation, JSON of a non-string value
    scratch: Vec<u8>,
}

#[inline]
fn put_varint(b: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        b.push(n as u8);
    } else {
        let (bytes, len) = varint(n);
        b.extend_from_slice(&bytes[..len]);
    }
}

fn varint(mut n: u64) -> ([u8; 10], usize) {
    let mut out = [0u8; 10];
    let mut i = 0;
    while n >= 0x80 {
        out[i] = n as u8 | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    (out, i + 1)
}

impl Writer {
    /// Start a length-delimited field; returns where its body starts.
    #[inline]
    fn open(&mut self, tag: u8) -> usize {
        self.b.extend_from_slice(&[tag, 0]);
        self.b.len()
    }

    /// End the field opened at `at`: write its length (a varint, minimal as protobuf writes it).
    #[inline]
    fn close(&mut self, at: usize) {
        let n = self.b.len() - at;
        if n < 0x80 {
            self.b[at - 1] = n as u8;
            return;
        }
        let (len, k) = varint(n as u64);
        let end = self.b.len();
        self.b.resize(end + k - 1, 0);
        self.b.copy_within(at..end, at + k - 1);
        self.b[at - 1..at - 1 + k].copy_from_slice(&len[..k]);
    }

    /// A string field: the concatenated parts, lone surrogates as `?`.
    fn text(&mut self, tag: u8, parts: &[&[u8]]) {
        let at = self.open(tag);
        for s in parts {
            let (mut from, mut at) = (0, 0);
            while let Some(i) = decode::find_byte(s, at, 0xED) {
                if surrogate_at(s, i) {
                    self.b.extend_from_slice(&s[from..i]);
                    self.b.push(b'?');
                    from = i + 3;
                    at = from;
                } else {
                    at = i + 1;
                }
            }
            self.b.extend_from_slice(&s[from..]);
        }
        self.close(at);
    }

    /// Open a `KeyValue` (as field `tag`) with key `prefix + key`, and its `AnyValue`.
    fn kv(&mut self, tag: u8, prefix: &[u8], key: &[u8]) -> (usize, usize) {
        let kv = self.open(tag);
        self.text(0x0a, &[prefix, key]);
        (kv, self.open(0x12))
    }

    fn close_kv(&mut self, (kv, value): (usize, usize)) {
        self.close(value);
        self.close(kv);
    }

    // `AnyValue` bodies (`_pb_any`)
    fn int(&mut self, n: i64) {
        self.b.push(0x18);
        put_varint(&mut self.b, n as u64);
    }

    fn double(&mut self, f: f64) {
        self.b.push(0x21);
        self.b.extend_from_slice(&f.to_le_bytes());
    }

    fn any(&mut self, v: &Val, depth: usize) -> Result<(), Defer> {
        match v {
            Val::Str(s) => self.text(0x0a, &[s]),
            Val::Bool(b) => self.b.extend_from_slice(&[0x10, *b as u8]),
            Val::Num(Num::I(i)) => self.int(*i),
            Val::Num(n) => self.double(as_double(n)),
            Val::Null => {}
            Val::Arr(items) => {
                if depth >= MAX_NEST {
                    return Err(Defer);
                }
                let arr = self.open(0x2a);
                for item in items {
                    let value = self.open(0x0a);
                    self.any(item, depth + 1)?;
                    self.close(value);
                }
                self.close(arr);
            }
            Val::Obj(members) => {
                if depth >= MAX_NEST {
                    return Err(Defer);
                }
                let list = self.open(0x32);
                for (k, item) in members {
                    let kv = self.kv(0x0a, b"", k);
                    self.any(item, depth + 1)?;
                    self.close_kv(kv);
                }
                self.close(list);
            }
            Val::Opaque(_) => return Err(Defer),
        }
        Ok(())
    }

    /// One attribute (span field 9) with any JSON value.
    fn attr(&mut self, prefix: &[u8], key: &[u8], v: &Val) -> Result<(), Defer> {
        let kv = self.kv(0x4a, prefix, key);
        self.any(v, 0)?;
        self.close_kv(kv);
        Ok(())
    }

    fn attr_text(&mut self, key: &[u8], s: &[u8]) {
        let kv = self.kv(0x4a, b"", key);
        self.text(0x0a, &[s]);
        self.close_kv(kv);
    }

    fn attr_int(&mut self, key: &[u8], n: i64) {
        let kv = self.kv(0x4a, b"", key);
        self.int(n);
        self.close_kv(kv);
    }

    fn attr_double(&mut self, prefix: &[u8], key: &[u8], f: f64) {
        let kv = self.kv(0x4a, prefix, key);
        self.double(f);
        self.close_kv(kv);
    }

    /// A string field holding `py_json` of a value.
    fn json_text(&mut self, tag: u8, v: &Val, ascii: bool) -> Result<(), Defer> {
        let mut json = std::mem::take(&mut self.scratch);
        json.clear();
        py_json(&mut json, v, ascii, 0)?;
        self.text(tag, &[&json]);
        self.scratch = json;
        Ok(())
    }

    /// `map_span` + `_pb_span`: one `Span` (ScopeSpans field 2).
    fn span(&mut self, p: &Members, s: &Ids) -> Result<(), Defer> {
        let attrs: &Members = match decode::get(p, b"attrs") {
            Some(Val::Obj(a)) => a,
            _ => &[],
        };
        let operation: &[u8] = match decode::get(p, b"operation") {
            Some(Val::Str(o)) => o,
            _ => b"",
        };
        // one pass over attrs: the mapped keys, and the indices of the rest
        let mut rest = std::mem::take(&mut self.rest);
        rest.clear();
        let (mut model, mut provider, mut request_model, mut response_model) = (None, None, None, None);
        let (mut finish, mut error_type, mut error, mut op_name) = (None, None, None, None);
        let (mut stop, mut input, mut output) = (None, None, None);
        let mut tokens = [None; 8];
        let mut req_doubles = [None; 5];
        let mut doubles = [None; 2];
        let mut renamed = [None; 2];
        for (i, (k, v)) in attrs.iter().enumerate() {
            let slot = match &k[..] {
                b"model" => &mut model,
                b"provider" => &mut provider,
                b"request_model" => &mut request_model,
                b"response_model" => &mut response_model,
                b"finish_reason" => &mut finish,
                b"error_type" => &mut error_type,
                b"gen_ai.operation.name" => &mut op_name,
                b"stop_sequences" => &mut stop,
                b"input" => &mut input,
                b"output" => &mut output,
                b"error" => {
                    rest.push(i);
                    &mut error
                }
                k => {
                    if let Some(t) = TOKENS.iter().position(|t| t.0 == k) {
                        &mut tokens[t]
                    } else if let Some(d) = REQUEST_DOUBLES.iter().position(|d| d.0 == k) {
                        &mut req_doubles[d]
                    } else if let Some(d) = DOUBLES.iter().position(|d| *d == k) {
                        &mut doubles[d]
                    } else if let Some(r) = RENAMED.iter().position(|r| r.0 == k) {
                        &mut renamed[r]
                    } else {
                        rest.push(i);
                        continue;
                    }
                }
            };
            *slot = Some(v);
        }
        rest.sort_unstable_by(|&a, &b| attrs[a].0.cmp(&attrs[b].0));
        let model = nonempty(model);
        let inference = model.is_some();
        // `genai_operation`
        let op_name: Option<&[u8]> = match nonempty(op_name) {
            Some(explicit) => Some(explicit),
            None => derive_operation(operation, inference, &mut self.scratch),
        };
        let is_error = matches!(decode::get(p, b"status"), Some(Val::Str(st)) if &st[..] == b"error");

        let span = self.open(0x12);
        self.b.extend_from_slice(&[0x0a, 0x10]);
        self.b.extend_from_slice(&s.trace_id);
        self.b.extend_from_slice(&[0x12, 0x08]);
        self.b.extend_from_slice(&s.span_id);
        if let Some(parent) = s.parent {
            self.b.extend_from_slice(&[0x22, 0x08]);
            self.b.extend_from_slice(&parent);
        }
        match (model, op_name) {
            (Some(m), Some(op)) => self.text(0x2a, &[op, b" ", m]),
            _ => self.text(0x2a, &[operation]),
        }
        self.b.extend_from_slice(&[0x30, if inference { KIND_CLIENT } else { KIND_INTERNAL }]);
        self.b.push(0x39);
        self.b.extend_from_slice(&time(decode::get(p, b"start_ns")).to_le_bytes());
        self.b.push(0x41);
        self.b.extend_from_slice(&time(decode::get(p, b"end_ns")).to_le_bytes());

        let mut seen = 0u32; // GENAI_KEYS written
        if let Some(op) = op_name {
            self.attr_text(b"gen_ai.operation.name", op);
        }
        if let Some(v) = nonempty(provider) {
            self.attr_text(GENAI_KEYS[0], v);
            seen |= 1;
        }
        for (bit, explicit) in [(1, request_model), (2, response_model)] {
            if let Some(v) = nonempty(explicit).or(model) {
                self.attr_text(GENAI_KEYS[bit], v);
                seen |= 1 << bit;
            }
        }
        let mut leftovers: Vec<(&[u8], &Val)> = Vec::new();
        let mut ints = [None; 8];
        for (t, v) in tokens.iter().enumerate() {
            match v.map(|v| (v, as_int(v))) {
                Some((_, Some(n))) => {
                    self.attr_int(TOKENS[t].1, n);
                    ints[t] = Some(n);
                    seen |= 1 << (3 + t);
                }
                Some((v, None)) if !matches!(v, Val::Null) => leftovers.push((TOKENS[t].0, v)),
                _ => {}
            }
        }
        for (d, v) in req_doubles.iter().enumerate() {
            match v.map(|v| (v, double_of(v))) {
                Some((_, Some(f))) => {
                    self.attr_double(b"", REQUEST_DOUBLES[d].1, f);
                    seen |= 1 << (11 + d);
                }
                Some((v, None)) if !matches!(v, Val::Null) => leftovers.push((REQUEST_DOUBLES[d].0, v)),
                _ => {}
            }
        }
        for (bit, list) in [(16, finish), (17, stop)] {
            // a string is a list of one
            let items: &[Val] = match list {
                Some(v @ Val::Str(_)) => std::slice::from_ref(v),
                Some(Val::Arr(items)) => items,
                _ => continue,
            };
            let kv = self.kv(0x4a, b"", GENAI_KEYS[bit]);
            let arr = self.open(0x2a);
            for item in items {
                let value = self.open(0x0a);
                match item {
                    Val::Str(f) => self.text(0x0a, &[f]),
                    other => self.json_text(0x0a, other, true)?, // `json.dumps(f)`
                }
                self.close(value);
            }
            self.close(arr);
            self.close_kv(kv);
            seen |= 1 << bit;
        }
        match nonempty(error_type) {
            Some(t) => self.attr_text(b"error.type", t),
            None if is_error => self.attr_text(b"error.type", b"_OTHER"),
            None => {}
        }
        for (r, v) in renamed.iter().enumerate() {
            match v {
                Some(Val::Null) | None => {}
                Some(v) => self.attr(b"", RENAMED[r].1, v)?,
            }
        }
        self.attr_text(b"mist.operation", operation);
        let mut cost = None;
        for (d, v) in doubles.iter().enumerate() {
            match v.map(|v| (v, double_of(v))) {
                Some((_, Some(f))) => {
                    self.attr_double(b"mist.", DOUBLES[d], f);
                    if d == 0 {
                        cost = Some(f);
                    }
                }
                Some((v, None)) if !matches!(v, Val::Null) => leftovers.push((DOUBLES[d], v)),
                _ => {}
            }
        }
        // OpenInference, for backends that read it (Arize Phoenix)
        let oi_kind: &[u8] = match op_name {
            Some(b"embeddings") => b"EMBEDDING",
            Some(b"execute_tool") => b"TOOL",
            Some(b"invoke_agent" | b"create_agent") => b"AGENT",
            _ if inference => b"LLM",
            _ => b"CHAIN",
        };
        self.attr_text(b"openinference.span.kind", oi_kind);
        if let Some(m) = model {
            self.attr_text(b"llm.model_name", m);
        }
        if let Some(v) = nonempty(provider) {
            self.attr_text(b"llm.provider", v);
        }
        if let Some(n) = ints[0] {
            self.attr_int(b"llm.token_count.prompt", n);
        }
        if let Some(n) = ints[1] {
            self.attr_int(b"llm.token_count.completion", n);
        }
        if let (Some(a), Some(b)) = (ints[0], ints[1]) {
            if let Some(total) = a.checked_add(b) {
                self.attr_int(b"llm.token_count.total", total);
            }
        }
        for (i, key) in OI_TOKEN_DETAILS.iter().enumerate() {
            if let Some(n) = ints[2 + i] {
                self.attr_int(key, n);
            }
        }
        if let Some(f) = cost {
            self.attr_double(b"", b"llm.cost.total", f);
        }
        for (key, v) in [(&b"input"[..], input), (b"output", output)] {
            match v {
                None | Some(Val::Null) => {}
                Some(Val::Str(t)) => {
                    let kv = self.kv(0x4a, key, b".value");
                    self.text(0x0a, &[t]);
                    self.close_kv(kv);
                }
                Some(v) => {
                    // `json.dumps(v, ensure_ascii=False, separators=(",", ":"))`
                    let kv = self.kv(0x4a, key, b".value");
                    self.json_text(0x0a, v, false)?;
                    self.close_kv(kv);
                    let kv = self.kv(0x4a, key, b".mime_type");
                    self.text(0x0a, &[b"application/json"]);
                    self.close_kv(kv);
                }
            }
        }
        for (k, v) in leftovers {
            self.attr(b"mist.", k, v)?;
        }
        for &i in &rest {
            let (k, v) = &attrs[i];
            if matches!(v, Val::Null) {
                continue;
            }
            if k.starts_with(b"gen_ai.") {
                let written = GENAI_KEYS.iter().position(|g| *g == &k[..]).is_some_and(|bit| seen >> bit & 1 == 1);
                if !written {
                    self.attr(b"", k, v)?;
                }
            } else if let (true, Some(f)) = (k.starts_with(b"score."), double_of(v)) {
                self.attr_double(b"mist.", k, f);
            } else {
                self.attr(b"mist.", k, v)?;
            }
        }
        self.rest = rest;

        let status = self.open(0x7a);
        match error {
            Some(Val::Str(m)) if is_error && !m.is_empty() => self.text(0x12, &[m]),
            // `json.dumps(err, ensure_ascii=False, separators=(",", ":"))`
            Some(v) if is_error && !matches!(v, Val::Str(_) | Val::Null) => self.json_text(0x12, v, false)?,
            _ => {}
        }
        self.b.extend_from_slice(&[0x18, if is_error { STATUS_ERROR } else { STATUS_OK }]);
        self.close(status);
        self.close(span);
        Ok(())
    }
}

/// A non-empty string value.
fn nonempty<'v>(v: Option<&'v Val>) -> Option<&'v [u8]> {
    match v {
        Some(Val::Str(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// `_as_int`: an integer in int64, or an integral float below 2**63 in magnitude.
fn as_int(v: &Val) -> Option<i64> {
    match v {
        Val::Num(Num::I(i)) => Some(*i),
        Val::Num(Num::F(f)) if f.fract() == 0.0 && f.abs() < 9_223_372_036_854_775_808.0 => Some(*f as i64),
        _ => None,
    }
}

/// A number as Python's `float()` gives it (correctly rounded).
fn as_double(n: &Num) -> f64 {
    match n {
        Num::I(i) => *i as f64,
        Num::U(u) => *u as f64,
        Num::Big(t) => std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN),
        Num::F(f) => *f,
    }
}

/// `_as_double`: any number (not a bool).
fn double_of(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(as_double(n)),
        _ => None,
    }
}

/// `_time`: an integer (floats truncated) clamped to 0..=2**64-1; anything else 0.
fn time(v: Option<&Val>) -> u64 {
    match v {
        Some(Val::Num(Num::I(i))) => (*i).max(0) as u64,
        Some(Val::Num(Num::U(u))) => *u,
        Some(Val::Num(Num::Big(t))) => {
            if t.first() == Some(&b'-') {
                0
            } else {
                u64::MAX
            }
        }
        Some(Val::Num(Num::F(f))) => *f as u64, // saturating, truncated toward zero
        _ => 0,
    }
}

/// `_derive_operation`: the GenAI operation name an operation maps to, if any.
fn derive_operation(operation: &[u8], inference: bool, lowered: &mut Vec<u8>) -> Option<&'static [u8]> {
    // `operation.strip().lower()`, as far as comparing with ASCII names goes: ASCII lowered,
    // KELVIN SIGN (the one non-ASCII character whose lowercase is ASCII) → `k`, every other
    // non-ASCII character → 0xFF, which matches no name
    lowered.clear();
    let (mut i, mut keep) = (0, 0);
    while i < operation.len() {
        let (c, n) = wtf8_char(operation, i);
        i += n;
        let space = py_space(c);
        if space && lowered.is_empty() {
            continue;
        }
        lowered.push(match c {
            0..=0x7f => (c as u8).to_ascii_lowercase(),
            0x212a => b'k',
            _ => 0xff,
        });
        if !space {
            keep = lowered.len();
        }
    }
    lowered.truncate(keep);
    let op = &lowered[..];
    let name = |cand: &[u8]| -> Option<&'static [u8]> {
        GENAI_OPERATIONS.iter().find(|g| **g == cand).copied()
            .or_else(|| OPERATION_ALIASES.iter().find(|(a, _)| *a == cand).map(|(_, g)| *g))
    };
    if let Some(g) = name(op) {
        return Some(g);
    }
    for sep in [b'.', b'/', b':'] {
        if op.contains(&sep) {
            let last = op.rsplit(|&c| c == sep).next().unwrap_or_default();
            let first = op.split(|&c| c == sep).next().unwrap_or_default();
            if let Some(g) = name(last).or_else(|| name(first)) {
                return Some(g);
            }
        }
    }
    inference.then_some(b"chat")
}

// ---------------------------------------------------------------------------------------------
// Python's `json.dumps`: `ascii` = the defaults (ensure_ascii, ", " and ": "), else
// ensure_ascii=False with separators (",", ":")

fn py_json(out: &mut Vec<u8>, v: &Val, ascii: bool, depth: usize) -> Result<(), Defer> {
    let (item_sep, key_sep): (&[u8], &[u8]) = if ascii { (b", ", b": ") } else { (b",", b":") };
    match v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Val::Num(Num::I(i)) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Val::Num(Num::U(u)) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Val::Num(Num::Big(t)) => out.extend_from_slice(t),
        Val::Num(Num::F(f)) => py_float(out, *f),
        Val::Str(s) => py_json_str(out, s, ascii),
        Val::Arr(_) | Val::Obj(_) if depth >= MAX_NEST => return Err(Defer),
        Val::Arr(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(item_sep);
                }
                py_json(out, item, ascii, depth + 1)?;
            }
            out.push(b']');
        }
        Val::Obj(members) => {
            out.push(b'{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(item_sep);
                }
                py_json_str(out, k, ascii);
                out.extend_from_slice(key_sep);
                py_json(out, item, ascii, depth + 1)?;
            }
            out.push(b'}');
        }
        Val::Opaque(_) => return Err(Defer),
    }
    Ok(())
}

fn py_json_str(out: &mut Vec<u8>, s: &[u8], ascii: bool) {
    fn u_escape(out: &mut Vec<u8>, c: u32) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(b"\\u");
        out.extend((0..4).rev().map(|k| HEX[(c >> (4 * k) & 15) as usize]));
    }
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        let (c, n) = wtf8_char(s, i);
        match c {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5c => out.extend_from_slice(b"\\\\"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => u_escape(out, c),
            0x20..=0x7e => out.push(c as u8),
            _ if !ascii => out.extend_from_slice(&s[i..i + n]),
            0x10000.. => {
                u_escape(out, 0xd800 + ((c - 0x10000) >> 10));
                u_escape(out, 0xdc00 + ((c - 0x10000) & 0x3ff));
            }
            _ => u_escape(out, c),
        }
        i += n;
    }
    out.push(b'"');
}

/// Python's `repr(float)` of a finite float: shortest round-trip digits, exponent form below
/// 1e-4 and from 1e16 (`1e-05`, `1e+16`), else positional with at least one decimal (`3.0`).
fn py_float(out: &mut Vec<u8>, f: f64) {
    if f.is_sign_negative() {
        out.push(b'-');
    }
    if f == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    let sci = format!("{:e}", f.abs()); // d.ddde±x, shortest round-trip digits
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(|&c| c != b'.').collect();
    if !(-4..16).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.extend_from_slice(format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()).as_bytes());
    } else if exp < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat(b'0').take((-exp - 1) as usize));
        out.extend_from_slice(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(&digits);
            out.extend(std::iter::repeat(b'0').take(int_len - digits.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_minimal_little_endian_groups_of_seven() {
        for (n, want) in [
            (0u64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, n);
            assert_eq!(b, want, "{n}");
        }
        let mut b = Vec::new();
        put_varint(&mut b, -1i64 as u64); // a negative int64 takes ten bytes, as in protobuf
        assert_eq!(b.len(), 10);
    }

    #[test]
    fn nested_lengths_are_patched_and_grow_when_needed() {
        for body in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let mut w = Writer::default();
            w.b.push(0xAA);
            let outer = w.open(0x0a);
            let inner = w.open(0x12);
            w.b.extend(std::iter::repeat(b'x').take(body));
            w.close(inner);
            w.close(outer);
            w.b.push(0xBB);
            // expected: tag, varint(len(inner field)), tag, varint(body), body
            let mut inner_field = vec![0x12];
            put_varint(&mut inner_field, body as u64);
            inner_field.extend(std::iter::repeat(b'x').take(body));
            let mut want = vec![0xAA, 0x0a];
            put_varint(&mut want, inner_field.len() as u64);
            want.extend_from_slice(&inner_field);
            want.push(0xBB);
            assert_eq!(w.b, want, "body of {body} bytes");
        }
    }

    #[test]
    fn text_replaces_lone_surrogates_like_python_replace() {
        let mut w = Writer::default();
        // "a", a lone U+D800 (WTF-8), "é" (C3 A9), U+D55C (ED 95 9C: valid, not a surrogate)
        w.text(0x0a, &[b"a\xED\xA0\x80", "é\u{D55C}".as_bytes()]);
        assert_eq!(w.b, [&[0x0a, 7, b'a', b'?'][..], "é\u{D55C}".as_bytes()].concat());
    }

    #[test]
    fn ids_and_operations_follow_the_python_rules() {
        assert_eq!(hex_id::<2>(b"0aFf"), Some([0x0a, 0xff]));
        assert_eq!(hex_id::<2>(b"0000"), None);
        assert_eq!(hex_id::<2>(b"0a f"), None);
        let s = |t: &'static str| Val::Str(Cow::Borrowed(t.as_bytes()));
        assert_eq!(span_id(Some(&s("00000000000000010123456789abcdef"))), Some(0x0123456789abcdef_u64.to_be_bytes()));
        assert_eq!(span_id(Some(&s("ééééééééééééééé00123456789abcdef"))), Some(0x0123456789abcdef_u64.to_be_bytes()));
        assert_eq!(span_id(Some(&s("0123456789abcdeé"))), None);
        let mut scratch = Vec::new();
        let mut op = |o: &str, inference| derive_operation(o.as_bytes(), inference, &mut scratch);
        assert_eq!(op(" Tool.Search ", false), Some(&b"execute_tool"[..]));
        assert_eq!(op("agent/plan", false), Some(&b"invoke_agent"[..]));
        assert_eq!(op("invo\u{212A}e_agent", false), Some(&b"invoke_agent"[..]));
        assert_eq!(op("\u{3000}embed\u{1c}", false), Some(&b"embeddings"[..]));
        assert_eq!(op("llm.call", true), Some(&b"chat"[..]));
        assert_eq!(op("llm.call", false), None);
    }

    #[test]
    fn floats_as_python_repr() {
        for (f, want) in [
            (1.0, "1.0"), (-0.0, "-0.0"), (0.1, "0.1"), (1e16, "1e+16"), (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"), (0.0001, "0.0001"), (1.5e-7, "1.5e-07"), (1e300, "1e+300"), (5e-324, "5e-324"),
            (123456789012345678.0, "1.2345678901234568e+17"), (-2.5, "-2.5"),
        ] {
            let mut out = Vec::new();
            py_float(&mut out, f);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn undecodable_lines_are_counted_and_lax_json_defers() {
        let span = br#"{"type":"trace.span","source":"s","payload":{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","operation":"x","start_ns":1,"end_ns":2,"status":"ok"}}"#;
        let batch = [&span[..], b"\n{not json\n\x0c\xe3\x80\x80\n[1]\n{\"type\":\"trace.alert\"}\n"].concat();
        let (body, counts) = encode(&batch, b"").expect("no deferral");
        assert!(!body.is_empty());
        assert_eq!(counts, Counts { spans: 1, skipped: vec![(b"trace.alert".to_vec(), 1)], invalid: 0, bad_lines: 2 });
        for lax in [&b"{\"a\":NaN}"[..], b"{\"a\":1,\"a\":2}", b"{\"a\":1e400}"] {
            assert!(encode(&[&span[..], b"\n", lax].concat(), b"").is_none());
        }
    }
}
