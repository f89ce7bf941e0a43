//! Fuzz the native strict decoder and the generated validator on arbitrary lines.
//!
//! Compiles `rust/src/validate/decode.rs` and `rust/src/validate/generated.rs` on their own (no Python), and
//! checks, besides "never panics, never hangs":
//! - every error is well formed (kind label, pointer starting with `/` or empty, capped list);
//! - decoding for validation (deep containers not kept) accepts exactly what full decoding does,
//!   with the same error;
//! - a decoded value written back as JSON decodes to the same value (round trip);
//! - serde_json, as an independent RFC 8259 parser, agrees on what is JSON (outside the cases
//!   where the two differ on purpose: duplicate keys, lone surrogate escapes, nesting limits).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../rust/src/validate/decode.rs"]
#[allow(dead_code)]
mod decode;
#[path = "../../rust/src/validate/generated.rs"]
mod generated;

use decode::{Num, Val};

fn write(out: &mut Vec<u8>, v: &Val) {
    match v {
        Val::Null => out.extend_from_slice(b"null"),
        Val::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Val::Num(Num::I(i)) => out.extend_from_slice(i.to_string().as_bytes()),
        Val::Num(Num::U(u)) => out.extend_from_slice(u.to_string().as_bytes()),
        Val::Num(Num::Big(t)) => out.extend_from_slice(t),
        Val::Num(Num::F(f)) => out.extend_from_slice(format!("{:e}", f).as_bytes()),
        Val::Str(s) => write_str(out, s),
        Val::Arr(items) => {
            out.push(b'[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, x);
            }
            out.push(b']');
        }
        Val::Obj(members) => {
            out.push(b'{');
            for (i, (k, x)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write(out, x);
            }
            out.push(b'}');
        }
        Val::Opaque(_) => panic!("opaque value from a full decode"),
    }
}

/// WTF-8 text as a JSON string: lone surrogates as \u escapes, control characters escaped.
fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == 0xED && i + 2 < s.len() && s[i + 1] >= 0xA0 {
            let cp = ((b as u32 & 0x0F) << 12) | ((s[i + 1] as u32 & 0x3F) << 6) | (s[i + 2] as u32 & 0x3F);
            out.extend_from_slice(format!("\\u{:04x}", cp).as_bytes());
            i += 3;
            continue;
        }
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            _ => out.push(b),
        }
        i += 1;
    }
    out.push(b'"');
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let errs = decode::check_line(data);
    assert!(errs.len() <= decode::MAX_ERRORS);
    for e in &errs {
        assert!(!e.kind.is_empty() && !e.msg.is_empty());
        assert!(e.ptr.is_empty() || e.ptr.starts_with('/'), "{:?}", e);
    }

    let full = decode::decode(data, usize::MAX);
    let cut = decode::decode(data, generated::INSPECT_DEPTH);
    match (&full, &cut) {
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Ok(_), Ok(_)) => {}
        _ => panic!("full and validating decodes disagree: {:?} / {:?}", full.is_ok(), cut.is_ok()),
    }

    if let Ok(v) = &full {
        let mut text = Vec::new();
        write(&mut text, v);
        if text.len() <= decode::MAX_LINE_BYTES {
            let again = decode::decode(&text, usize::MAX).unwrap_or_else(|e| panic!("round trip failed: {:?}", e));
            assert_eq!(&again, v, "round trip changed the value");
        }
    }

    // an independent parser agrees on what JSON is
    let ours_ok = full.is_ok();
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    let surrogate_escape = data.windows(3).any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'));
    let dup = matches!(&full, Err(e) if e.kind == decode::K_DUPLICATE);
    let size = data.len() > decode::MAX_LINE_BYTES;
    let blank_or_bom = matches!(&full, Err(e) if e.kind == decode::K_BLANK || (e.kind == decode::K_ENCODING && data.starts_with(b"\xEF\xBB\xBF")));
    match (&theirs, ours_ok) {
        (Ok(t), false) => assert!(dup || size || depth(t) > decode::MAX_DEPTH || surrogate_escape || blank_or_bom,
                                  "serde_json accepts what we reject: {:?}", full.as_ref().err()),
        (Err(e), true) => assert!(surrogate_escape || e.to_string().contains("recursion limit"),
                                  "we accept what serde_json rejects: {}", e),
        _ => {}
    }
});
