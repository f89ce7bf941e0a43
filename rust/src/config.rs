//! `configure()`: what the span emitter and the buffer obey, read lock-free on the hot path
//! through a generation counter (each thread keeps its own reference to the current one).
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::codec::Enc;

pub(crate) struct Config {
    pub source: Vec<u8>, // already a JSON string literal
    pub batch_bytes: usize,
    pub max_bytes: usize,
    pub sample: u64, // keep a trace when hash(trace_id) <= sample
    pub context: Option<Py<PyAny>>, // the ContextVar holding the current span
    pub on_fork: Option<Py<PyAny>>, // called once in a forked child to start a writer
    pub pricer: Option<Py<PyAny>>,  // model -> (6 prices per million tokens) | None
    pub observe: bool,              // keep an observation of each span for the observers
    /// Prices per million tokens by model name, resolved once through `pricer` (so a new
    /// configuration starts with none). Keyed by the name's UTF-8 bytes (lone surrogates in
    /// surrogatepass form, so every str has a key).
    pub prices: Mutex<HashMap<Vec<u8>, Option<[f64; 6]>>>,
}

static CONFIG: Mutex<Option<Arc<Config>>> = Mutex::new(None);
static CONFIG_GEN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CACHED: RefCell<(u64, Option<Arc<Config>>)> = const { RefCell::new((0, None)) };
}

fn set_config(c: Config) {
    let mut g = CONFIG.lock().unwrap_or_else(|e| e.into_inner());
    *g = Some(Arc::new(c));
    CONFIG_GEN.fetch_add(1, Relaxed);
}

/// The current configuration; None until `configure()` is called.
pub(crate) fn config() -> Option<Arc<Config>> {
    let gen = CONFIG_GEN.load(Relaxed);
    CACHED.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != gen {
            // fails only after a fork that caught the lock held: keep the cached copy
            if let Ok(g) = CONFIG.try_lock() {
                c.1 = g.clone();
                c.0 = gen;
            }
        }
        c.1.clone()
    })
}

/// Configure the buffer. `source` is the emitting service name.
#[pyfunction]
#[pyo3(signature = (source, batch_bytes, max_buffer_bytes, sample=1.0, context=None, on_fork=None, pricer=None, observe=false))]
#[allow(clippy::too_many_arguments)]
fn configure(
    source: &Bound<'_, PyString>,
    batch_bytes: usize,
    max_buffer_bytes: usize,
    sample: f64,
    context: Option<Py<PyAny>>,
    on_fork: Option<Py<PyAny>>,
    pricer: Option<Py<PyAny>>,
    observe: bool,
) -> PyResult<()> {
    let mut src = Vec::new();
    Enc::new(&mut src).pystr(source)?;
    let sample = if sample >= 1.0 { u64::MAX } else if sample <= 0.0 { 0 } else { (sample * u64::MAX as f64) as u64 };
    set_config(Config {
        source: src,
        batch_bytes,
        max_bytes: max_buffer_bytes,
        sample,
        context,
        on_fork,
        pricer,
        observe,
        prices: Mutex::new(HashMap::new()),
    });
    Ok(())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(configure, m)?)
}
