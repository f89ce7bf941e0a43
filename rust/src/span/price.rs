//! The traced call's answer, read natively: `read_usage` is the twin of Python's
//! `usage._from_chat_or_message` (OpenAI Chat Completions and Anthropic Messages, SDK objects or
//! dicts), `price_attrs` the twin of `_costs.price` for spans whose counts are plain ints,
//! `record_usage` both into a span's attrs in one call, and `may_carry_usage` the twin of
//! `instrumentation._may_carry_usage` for stream events.
//!
//! They run right after a network call (or between stream chunks), when little of mist is in the
//! CPU caches: one native call touches far less memory than the Python calls it replaces. Anything
//! unusual (a float count, an enum finish reason, a list subclass, an unknown model) is left to the
//! Python code, which gives the answer for it: these functions decline (None / False, or True for
//! `may_carry_usage`, which only makes the event be read), never give a different answer.
use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::core;
use crate::emit::{cost_of, price_per_million};

/// Every name the reader looks up, on any object (`usage._VIEW_NAMES`; a test checks they match).
pub const VIEW_NAMES: [&str; 26] = [
    "usage_metadata", "usageMetadata", "usage", "model", "object", "type", "choices", "x_groq", "stop_reason",
    "finish_reason", "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details",
    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "prompt_cache_hit_tokens", "prompt_cache_miss_tokens",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
    "index", "delta", "text",
];

/// Not a shape read here: the Python reader decides.
pub(crate) struct Pass;
pub(crate) type R<T> = Result<T, Pass>;

impl From<PyErr> for Pass {
    fn from(_: PyErr) -> Self {
        Pass
    }
}

/// type → whether its instances' fields can be read from `__dict__` (a pydantic model whose class
/// defines none of `VIEW_NAMES` as attributes). A response has a handful of types, so a short list
/// scanned by address beats hashing; each type is held so its address is never reused.
static VIEWABLE: Mutex<Vec<(usize, bool, Py<PyAny>)>> = Mutex::new(Vec::new());

/// The fields of one object: a dict (its own, or a pydantic model's) or nothing (None).
enum View<'py> {
    Empty,
    Dict(Bound<'py, PyDict>),
}

impl<'py> View<'py> {
    /// `view.get(name)`, with a None value read as absent (as Python's `.get` makes no difference).
    fn get(&self, name: &Bound<'py, PyString>) -> R<Option<Bound<'py, PyAny>>> {
        match self {
            View::Empty => Ok(None),
            View::Dict(d) => Ok(d.get_item(name)?.filter(|v| !v.is_none())),
        }
    }
}

fn viewable(obj: &Bound<'_, PyAny>) -> R<bool> {
    let cls = obj.get_type();
    let key = cls.as_ptr() as usize;
    if let Some(&(_, ok, _)) = VIEWABLE.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|e| e.0 == key) {
        return Ok(ok);
    }
    let mut ok = cls.hasattr(intern!(obj.py(), "__pydantic_fields__"))?;
    for n in VIEW_NAMES {
        if !ok {
            break;
        }
        ok = !cls.hasattr(n)?;
    }
    let mut g = VIEWABLE.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() < 64 && !g.iter().any(|e| e.0 == key) {
        g.push((key, ok, cls.into_any().unbind()));
    }
    Ok(ok)
}

/// The instance dict, straight from the object (no attribute lookup through the type, which
/// for a pydantic model goes through its `__getattr__` hook).
fn instance_dict<'py>(obj: &Bound<'py, PyAny>) -> R<Bound<'py, PyAny>> {
    // SAFETY: PyObject_GenericGetDict (stable ABI since 3.10) returns a new reference or NULL with
    // an exception set (an object without an instance dict).
    unsafe {
        let d = pyo3::ffi::PyObject_GenericGetDict(obj.as_ptr(), std::ptr::null_mut());
        Bound::from_owned_ptr_or_err(obj.py(), d).map_err(|_| Pass)
    }
}

/// `usage._view`: None → Empty; a dict → itself; a viewable model → its fields (extra fields under
/// the declared ones); anything else → Pass.
fn view<'py>(obj: Option<&Bound<'py, PyAny>>) -> R<View<'py>> {
    let Some(obj) = obj else { return Ok(View::Empty) };
    if let Ok(d) = obj.cast_exact::<PyDict>() {
        return Ok(View::Dict(d.clone()));
    }
    if !viewable(obj)? {
        return Err(Pass);
    }
    let py = obj.py();
    let fields = instance_dict(obj)?;
    let extra = obj.getattr(intern!(py, "__pydantic_extra__"))?;
    let fields = fields.cast_exact::<PyDict>().map_err(|_| Pass)?.clone();
    if !extra.is_none() && extra.is_truthy()? {
        if let Ok(extra) = extra.cast::<PyDict>() {
            let merged = extra.copy()?;
            merged.update(fields.as_mapping())?;
            return Ok(View::Dict(merged));
        }
    }
    Ok(View::Dict(fields))
}

/// A token count: `(value, object)` for a non-negative exact int, None for None or a negative int
/// (what `_int` makes of them); anything else → Pass.
fn count<'py>(v: Option<Bound<'py, PyAny>>) -> R<Option<(i64, Bound<'py, PyAny>)>> {
    let Some(v) = v else { return Ok(None) };
    if !v.is_exact_instance_of::<PyInt>() {
        return Err(Pass);
    }
    let n: i64 = v.extract()?;
    Ok(if n >= 0 { Some((n, v)) } else { None })
}

/// A text value: a non-empty exact str, None for None or ""; anything else → Pass.
fn text<'py>(v: Option<Bound<'py, PyAny>>) -> R<Option<Bound<'py, PyAny>>> {
    let Some(v) = v else { return Ok(None) };
    let s = v.cast_exact::<PyString>().map_err(|_| Pass)?;
    Ok(if s.is_empty()? { None } else { Some(v) })
}

/// `value == literal` for None or an exact str; anything else (which may define `__eq__`) → Pass.
fn equals(v: Option<Bound<'_, PyAny>>, literal: &str) -> R<bool> {
    match v {
        None => Ok(false),
        Some(v) => Ok(v.cast_exact::<PyString>().map_err(|_| Pass)?.to_str()? == literal),
    }
}

fn read<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> R<Option<Bound<'py, PyDict>>> {
    if obj.is_none() {
        return Err(Pass);
    }
    let o = view(Some(obj))?;
    if o.get(intern!(py, "usage_metadata"))?.is_some() || o.get(intern!(py, "usageMetadata"))?.is_some() {
        return Ok(None); // Gemini
    }
    let Some(usage) = o.get(intern!(py, "usage"))? else { return Ok(None) };
    let u = view(Some(&usage))?;
    let model = text(o.get(intern!(py, "model"))?)?;
    let attrs = PyDict::new(py);
    if let Some(m) = model {
        attrs.set_item(intern!(py, "model"), m)?;
    }
    let prompt = u.get(intern!(py, "prompt_tokens"))?;
    let completion = u.get(intern!(py, "completion_tokens"))?;
    if prompt.is_some() || completion.is_some() {
        // OpenAI Chat Completions
        chat_usage(py, &u, &attrs)?;
        if u.get(intern!(py, "prompt_cache_hit_tokens"))?.is_some() || u.get(intern!(py, "prompt_cache_miss_tokens"))?.is_some() {
            attrs.set_item(intern!(py, "provider"), intern!(py, "deepseek"))?;
        } else if o.get(intern!(py, "x_groq"))?.is_some() {
            attrs.set_item(intern!(py, "provider"), intern!(py, "groq"))?;
        }
        let first = match o.get(intern!(py, "choices"))? {
            None => None,
            Some(c) => {
                if let Ok(l) = c.cast_exact::<PyList>() {
                    if l.is_empty() { None } else { Some(l.get_item(0)?) }
                } else if let Ok(t) = c.cast_exact::<PyTuple>() {
                    if t.is_empty() { None } else { Some(t.get_item(0)?) }
                } else if c.is_instance_of::<PyList>() || c.is_instance_of::<PyTuple>() {
                    return Err(Pass);
                } else {
                    None
                }
            }
        };
        let choice = view(first.filter(|c| !c.is_none()).as_ref())?;
        if let Some(f) = text(choice.get(intern!(py, "finish_reason"))?)? {
            attrs.set_item(intern!(py, "finish_reason"), f)?;
        }
        return Ok(Some(attrs));
    }
    if equals(o.get(intern!(py, "object"))?, "response")? {
        return Ok(None); // Responses API
    }
    if !(equals(o.get(intern!(py, "type"))?, "message")?
        || o.get(intern!(py, "stop_reason"))?.is_some()
        || u.get(intern!(py, "cache_read_input_tokens"))?.is_some()
        || u.get(intern!(py, "cache_creation_input_tokens"))?.is_some())
    {
        return Ok(None);
    }
    // Anthropic Messages: input_tokens excludes cache reads and writes
    let inp = count(u.get(intern!(py, "input_tokens"))?)?;
    let out = count(u.get(intern!(py, "output_tokens"))?)?;
    let read = count(u.get(intern!(py, "cache_read_input_tokens"))?)?.map_or(0, |c| c.0);
    let write = count(u.get(intern!(py, "cache_creation_input_tokens"))?)?.map_or(0, |c| c.0);
    if inp.is_some() || out.is_some() || read != 0 || write != 0 {
        if inp.is_some() || read != 0 || write != 0 {
            let total = inp.as_ref().map_or(0, |c| c.0).checked_add(read).and_then(|t| t.checked_add(write)).ok_or(Pass)?;
            attrs.set_item(intern!(py, "tokens_in"), total)?;
        }
        if let Some((_, o)) = out {
            attrs.set_item(intern!(py, "tokens_out"), o)?;
        }
        if read != 0 {
            attrs.set_item(intern!(py, "tokens_cache_read"), read)?;
        }
        if write != 0 {
            attrs.set_item(intern!(py, "tokens_cache_write"), write)?;
        }
    }
    attrs.set_item(intern!(py, "provider"), intern!(py, "anthropic"))?;
    if let Some(f) = text(o.get(intern!(py, "stop_reason"))?)? {
        attrs.set_item(intern!(py, "finish_reason"), f)?;
    }
    Ok(Some(attrs))
}

/// Model, provider, token counts and finish reason of an OpenAI chat completion or an Anthropic
/// message (object or dict), as `usage._from_chat_or_message` reads them; None for any other
/// shape, or for one this reader leaves to Python.
#[pyfunction]
pub fn read_usage<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    read(py, obj).unwrap_or(None)
}

/// `usage._openai_chat_usage`: a Chat Completions usage block into `found`; false when it has
/// neither count.
fn chat_usage<'py>(py: Python<'py>, u: &View<'py>, found: &Bound<'py, PyDict>) -> R<bool> {
    let prompt = count(u.get(intern!(py, "prompt_tokens"))?)?;
    let completion = count(u.get(intern!(py, "completion_tokens"))?)?;
    if prompt.is_none() && completion.is_none() {
        return Ok(false);
    }
    if let Some((_, p)) = prompt {
        found.set_item(intern!(py, "tokens_in"), p)?;
    }
    if let Some((_, c)) = completion {
        found.set_item(intern!(py, "tokens_out"), c)?;
    }
    let details = view(u.get(intern!(py, "prompt_tokens_details"))?.as_ref())?;
    let mut cached = count(details.get(intern!(py, "cached_tokens"))?)?;
    if cached.is_none() {
        cached = count(u.get(intern!(py, "prompt_cache_hit_tokens"))?)?; // DeepSeek
    }
    let write = count(details.get(intern!(py, "cache_write_tokens"))?)?;
    let reasoning = count(view(u.get(intern!(py, "completion_tokens_details"))?.as_ref())?.get(intern!(py, "reasoning_tokens"))?)?;
    let keys = [intern!(py, "tokens_cache_read"), intern!(py, "tokens_cache_write"), intern!(py, "tokens_reasoning")];
    for (key, v) in keys.into_iter().zip([cached, write, reasoning]) {
        if let Some((n, v)) = v {
            if n != 0 {
                found.set_item(key, v)?;
            }
        }
    }
    Ok(true)
}

/// `OpenAIStreamUsage._feed` for one Chat Completions chunk, its text left out: what it says into
/// `staged`, in the order the Python code sets it.
pub(crate) fn chat_chunk<'py>(py: Python<'py>, attrs: &Bound<'py, PyDict>, chunk: &Bound<'py, PyAny>, staged: &Bound<'py, PyDict>) -> R<()> {
    let o = view(Some(chunk))?;
    if o.get(intern!(py, "type"))?.is_some() {
        return Err(Pass); // a typed event (helper, Responses API): Python's
    }
    if let Some(m) = text(o.get(intern!(py, "model"))?)? {
        if !attrs.contains(intern!(py, "model"))? {
            staged.set_item(intern!(py, "model"), m)?;
        }
    }
    if let Some(choices) = o.get(intern!(py, "choices"))? {
        let items: Vec<Bound<'py, PyAny>> = if let Ok(l) = choices.cast_exact::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = choices.cast_exact::<PyTuple>() {
            t.iter().collect()
        } else if choices.is_instance_of::<PyList>() || choices.is_instance_of::<PyTuple>() {
            return Err(Pass);
        } else {
            Vec::new()
        };
        for choice in items {
            let c = view(Some(&choice))?;
            match c.get(intern!(py, "index"))? {
                None => {}
                Some(i) if i.is_exact_instance_of::<PyInt>() => {
                    if i.extract::<i64>().ok() != Some(0) {
                        continue; // text and finish reason of the first choice only
                    }
                }
                Some(_) => return Err(Pass),
            }
            if let Some(f) = text(c.get(intern!(py, "finish_reason"))?)? {
                staged.set_item(intern!(py, "finish_reason"), f)?;
            }
        }
    }
    let mut usage = o.get(intern!(py, "usage"))?;
    if usage.is_none() {
        if let Some(groq) = o.get(intern!(py, "x_groq"))? {
            usage = view(Some(&groq))?.get(intern!(py, "usage"))?;
            if usage.is_some() {
                staged.set_item(intern!(py, "provider"), intern!(py, "groq"))?;
            }
        }
    }
    if let Some(usage) = usage {
        let u = view(Some(&usage))?;
        let found = PyDict::new(py);
        if chat_usage(py, &u, &found)? {
            if u.get(intern!(py, "prompt_cache_hit_tokens"))?.is_some() {
                found.set_item(intern!(py, "provider"), intern!(py, "deepseek"))?;
            }
            for (k, v) in found.iter() {
                staged.set_item(k, v)?;
            }
        }
    }
    Ok(())
}

/// `OpenAIStreamUsage._feed(chunk)` for a Chat Completions chunk (SDK object or dict) when its text
/// is not wanted: model, finish reason, provider and usage into the accumulator `acc`'s attrs.
/// False, `acc` untouched, for any other event or any value this reader leaves to Python.
#[pyfunction]
pub fn feed_chat_chunk<'py>(py: Python<'py>, acc: &Bound<'py, PyAny>, chunk: &Bound<'py, PyAny>) -> bool {
    let Ok(attrs) = acc.getattr(intern!(py, "_attrs")) else { return false };
    let Ok(attrs) = attrs.cast_exact::<PyDict>() else { return false };
    let staged = PyDict::new(py);
    if chat_chunk(py, attrs, chunk, &staged).is_err() {
        return false;
    }
    attrs.update(staged.as_mapping()).is_ok()
}

/// An int attribute of the accumulator (its running cache and input counts).
fn acc_int(acc: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> R<i64> {
    let v = acc.getattr(name)?;
    if !v.is_exact_instance_of::<PyInt>() {
        return Err(Pass);
    }
    Ok(v.extract()?)
}

/// Anthropic's running input counts: the accumulator's `_have_input`, `_input`, `_cache_read` and
/// `_cache_write` (cumulative usage arrives spread over `message_start` and `message_delta`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Counts {
    pub have: bool,
    pub input: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

/// `AnthropicStreamUsage._feed` for one raw Messages stream event, its text left out: the model,
/// the cumulative counts and the stop reason into `attrs`, the running counts `c` updated and
/// returned. Everything is read before anything is written, so a Pass leaves `attrs` untouched.
pub(crate) fn message_event_into<'py>(py: Python<'py>, attrs: &Bound<'py, PyDict>, c: Counts, event: &Bound<'py, PyAny>) -> R<Counts> {
    let o = view(Some(event))?;
    let Some(kind) = o.get(intern!(py, "type"))? else { return Ok(c) };
    let kind = kind.cast_exact::<PyString>().map_err(|_| Pass)?;
    let (usage, model, finish) = match kind.to_str()? {
        "message_start" => {
            let m = view(o.get(intern!(py, "message"))?.as_ref())?;
            (m.get(intern!(py, "usage"))?, text(m.get(intern!(py, "model"))?)?, None)
        }
        "message_delta" => {
            let d = view(o.get(intern!(py, "delta"))?.as_ref())?;
            (o.get(intern!(py, "usage"))?, None, text(d.get(intern!(py, "stop_reason"))?)?)
        }
        // the helper's final snapshot (read by from_response) and a whole message: Python's
        "message_stop" if o.get(intern!(py, "message"))?.is_some() => return Err(Pass),
        "message" => return Err(Pass),
        _ => return Ok(c), // text deltas (not captured here), block starts and stops, pings, helper events
    };
    let u = view(usage.as_ref())?;
    let inp = count(u.get(intern!(py, "input_tokens"))?)?;
    let read = count(u.get(intern!(py, "cache_read_input_tokens"))?)?;
    let write = count(u.get(intern!(py, "cache_creation_input_tokens"))?)?;
    let out = count(u.get(intern!(py, "output_tokens"))?)?;
    let mut n = c;
    if let Some((v, _)) = inp {
        n.input = v;
    }
    if let Some((v, _)) = read {
        n.cache_read = v;
    }
    if let Some((v, _)) = write {
        n.cache_write = v;
    }
    n.have = c.have || inp.is_some() || read.is_some() || write.is_some();
    let total = if n.have { Some(n.input.checked_add(n.cache_read).and_then(|t| t.checked_add(n.cache_write)).ok_or(Pass)?) } else { None };
    // all read: now write, in the order the Python code does
    if let Some(m) = model {
        attrs.set_item(intern!(py, "model"), m)?;
    }
    if let Some(t) = total {
        attrs.set_item(intern!(py, "tokens_in"), t)?;
        if n.cache_read != 0 {
            attrs.set_item(intern!(py, "tokens_cache_read"), n.cache_read)?;
        }
        if n.cache_write != 0 {
            attrs.set_item(intern!(py, "tokens_cache_write"), n.cache_write)?;
        }
    }
    if let Some((_, o)) = out {
        attrs.set_item(intern!(py, "tokens_out"), o)?;
    }
    if let Some(f) = finish {
        attrs.set_item(intern!(py, "finish_reason"), f)?;
    }
    Ok(n)
}

/// `message_event_into` on a Python accumulator `acc`: its attrs and running counts.
fn message_event<'py>(py: Python<'py>, acc: &Bound<'py, PyAny>, event: &Bound<'py, PyAny>) -> R<()> {
    let have = acc.getattr(intern!(py, "_have_input"))?;
    let have = if have.is_exact_instance_of::<pyo3::types::PyBool>() { have.is_truthy()? } else { return Err(Pass) };
    let c = Counts {
        have,
        input: acc_int(acc, intern!(py, "_input"))?,
        cache_read: acc_int(acc, intern!(py, "_cache_read"))?,
        cache_write: acc_int(acc, intern!(py, "_cache_write"))?,
    };
    let attrs = acc.getattr(intern!(py, "_attrs"))?;
    let attrs = attrs.cast_exact::<PyDict>().map_err(|_| Pass)?;
    let n = message_event_into(py, attrs, c, event)?;
    acc.setattr(intern!(py, "_input"), n.input)?;
    acc.setattr(intern!(py, "_cache_read"), n.cache_read)?;
    acc.setattr(intern!(py, "_cache_write"), n.cache_write)?;
    acc.setattr(intern!(py, "_have_input"), n.have)?;
    Ok(())
}

/// `AnthropicStreamUsage._feed(event)` for a raw Messages stream event (SDK object or dict) when its
/// text is not wanted. False, the accumulator untouched, for any event or value this reader leaves
/// to Python.
#[pyfunction]
pub fn feed_message_event<'py>(py: Python<'py>, acc: &Bound<'py, PyAny>, event: &Bound<'py, PyAny>) -> bool {
    message_event(py, acc, event).is_ok()
}

/// A plain count for pricing: absent/None → 0 (Some(None)), an exact int in i64 → it, else Pass.
fn price_count(attrs: &Bound<'_, PyDict>, key: &Bound<'_, PyString>) -> R<Option<i64>> {
    match attrs.get_item(key)?.filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(v) if v.is_exact_instance_of::<PyInt>() => Ok(Some(v.extract()?)),
        Some(_) => Err(Pass),
    }
}

/// `_costs.price` for span attrs with a str model and exact-int counts: sets `cost_usd` and returns
/// it. None (attrs untouched) when there is no price table, no counts, an unknown model or any
/// other value: the Python pricer then decides (and flags an unknown model).
#[pyfunction]
pub fn price_attrs<'py>(py: Python<'py>, attrs: &Bound<'py, PyDict>) -> Option<Bound<'py, PyFloat>> {
    let run = || -> R<Option<Bound<'py, PyFloat>>> {
        let Some(cfg) = core::config() else { return Ok(None) };
            let Some(model) = attrs.get_item(intern!(py, "model"))? else { return Ok(None) };
        let model = model.cast_exact::<PyString>().map_err(|_| Pass)?;
        let tin = price_count(attrs, intern!(py, "tokens_in"))?;
        let tout = price_count(attrs, intern!(py, "tokens_out"))?;
        if tin.is_none() && tout.is_none() {
            return Ok(None);
        }
        let cr = price_count(attrs, intern!(py, "tokens_cache_read"))?.unwrap_or(0);
        let cw = price_count(attrs, intern!(py, "tokens_cache_write"))?.unwrap_or(0);
        let rs = price_count(attrs, intern!(py, "tokens_reasoning"))?.unwrap_or(0);
        let Some(p) = price_per_million(py, &cfg, model, false)? else { return Ok(None) };
        let c = PyFloat::new(py, cost_of(&p, tin.unwrap_or(0), tout.unwrap_or(0), cr, cw, rs));
        attrs.set_item(intern!(py, "cost_usd"), &c)?;
        Ok(Some(c))
    };
    run().unwrap_or(None)
}

/// The traced call's answer into its span's attrs, in one call: `read_usage(result)` (a provider
/// the response names is dropped when the client's is fixed or it only repeats the client's
/// `family`), then `price_attrs(attrs)`. False, attrs untouched, when the response is not read
/// here: the caller then reads it in Python.
#[pyfunction]
pub fn record_usage<'py>(py: Python<'py>, result: &Bound<'py, PyAny>, attrs: &Bound<'py, PyDict>, family: &Bound<'py, PyString>,
                         provider_fixed: bool) -> bool {
    let Ok(Some(found)) = read(py, result) else { return false };
    let run = || -> PyResult<()> {
        if let Some(p) = found.get_item(intern!(py, "provider"))? {
            if provider_fixed || p.eq(family)? {
                found.del_item(intern!(py, "provider"))?;
            }
        }
        attrs.update(found.as_mapping())?;
        if attrs.get_item(intern!(py, "cost_usd"))?.is_none() {
            price_attrs(py, attrs);
        }
        Ok(())
    };
    run().is_ok()
}

/// The chunk `stream_options={"include_usage": True}` adds to a Chat Completions stream: a usage
/// block and empty choices (read as `getattr`, as `_StreamTrace.feed` does). False when unsure.
pub(crate) fn is_usage_only_chunk(py: Python<'_>, item: &Bound<'_, PyAny>) -> bool {
    let check = || -> PyResult<bool> {
        let usage = item.getattr_opt(intern!(py, "usage"))?;
        if usage.is_none_or(|u| u.is_none()) {
            return Ok(false);
        }
        Ok(match item.getattr_opt(intern!(py, "choices"))? {
            None => true,
            Some(c) => !c.is_truthy()?,
        })
    };
    check().unwrap_or(false)
}

/// The fields of a stream event: itself when a dict, else its instance dict; None when it has
/// neither (the caller then answers conservatively).
fn event_fields<'py>(item: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    if let Ok(d) = item.cast_exact::<PyDict>() {
        return Some(d.clone());
    }
    instance_dict(item).ok().and_then(|d| d.cast_exact::<PyDict>().ok().cloned())
}

/// `instrumentation._may_carry_usage`: False only for a stream event known to carry nothing but
/// text (a Chat Completions delta without finish reason or usage, an Anthropic or Responses text
/// delta). True, always safe (the event is then read in full), for anything else or unsure.
#[pyfunction]
pub fn may_carry_usage(py: Python<'_>, item: &Bound<'_, PyAny>, anthropic: bool) -> bool {
    let check = || -> PyResult<bool> {
        let Some(f) = event_fields(item) else { return Ok(true) };
        let kind = f.get_item(intern!(py, "type"))?;
        let kind = kind.as_ref().and_then(|k| k.cast_exact::<PyString>().ok());
        if anthropic {
            return Ok(match kind {
                None => true, // not a str (or absent): unsure
                Some(k) => matches!(k.to_str()?, "message_start" | "message_delta" | "message_stop" | "message"),
            });
        }
        if let Some(k) = kind {
            return Ok(!k.to_str()?.ends_with(".delta")); // Responses API events
        }
        if f.get_item(intern!(py, "type"))?.is_some_and(|k| k.is_instance_of::<PyString>()) {
            return Ok(true); // a str subclass: leave it to Python
        }
        match f.get_item(intern!(py, "usage"))? {
            Some(u) if u.is_none() => {}
            _ => return Ok(true), // a usage block, or no usage field at all (unknown shape)
        }
        let Some(choices) = f.get_item(intern!(py, "choices"))? else { return Ok(true) };
        let Ok(choices) = choices.cast::<PyList>() else { return Ok(true) };
        if choices.is_empty() {
            return Ok(true);
        }
        for choice in choices.iter() {
            let Some(cf) = event_fields(&choice) else { return Ok(true) };
            match cf.get_item(intern!(py, "finish_reason"))? {
                Some(r) if r.is_none() => {}
                _ => return Ok(true),
            }
        }
        Ok(false)
    };
    check().unwrap_or(true)
}
