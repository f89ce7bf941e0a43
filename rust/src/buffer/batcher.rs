//! The span buffer: callers encode under their own GIL into a thread-local scratch buffer, then
//! append to one shared batch under a short mutex; full batches queue for the writer thread, which
//! takes them with the GIL released. Memory is bounded: when full, new spans are dropped and counted.
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::{AcqRel, Acquire, Relaxed, Release}};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::Config;

pub struct Shared {
    m: Mutex<Buf>,
    cv: Condvar,
}

#[derive(Default)]
struct Buf {
    /// The writer is in a long wait and must be woken for a new batch (read and written under
    /// the lock, so a seal never misses a sleeping writer). While the writer is busy it polls
    /// instead, so emitters make no wake-up syscall on the hot path.
    writer_idle: bool,
    last_seal: Option<std::time::Instant>,
    cur: Vec<u8>,
    /// Lines in `cur` (counted at push, so writers never scan batches for newlines).
    cur_lines: u64,
    ready: VecDeque<Batch>,
    seq: u64,
    queued: usize,
    spare: Vec<Vec<u8>>,
}

/// A sealed batch: its sequence number, its bytes (whole lines) and how many lines they hold.
pub struct Batch {
    pub seq: u64,
    pub bytes: Vec<u8>,
    pub lines: u64,
}

impl Buf {
    fn seal(&mut self) {
        if self.cur.is_empty() {
            return;
        }
        let next = self.spare.pop().unwrap_or_default();
        let full = std::mem::replace(&mut self.cur, next);
        self.last_seal = Some(std::time::Instant::now());
        self.queued += full.len();
        self.seq += 1;
        let lines = std::mem::take(&mut self.cur_lines);
        self.ready.push_back(Batch { seq: self.seq, bytes: full, lines });
    }
}

static SHARED: AtomicPtr<Shared> = AtomicPtr::new(std::ptr::null_mut());
/// Set in a forked child until Python has started a writer there.
pub static NEED_WRITER: AtomicBool = AtomicBool::new(false);

pub static EMITTED: AtomicU64 = AtomicU64::new(0);
pub static BYTES: AtomicU64 = AtomicU64::new(0);
pub static DROPPED_FULL: AtomicU64 = AtomicU64::new(0);
pub static DROPPED_ERROR: AtomicU64 = AtomicU64::new(0);
pub static SAMPLED_OUT: AtomicU64 = AtomicU64::new(0);

fn new_shared() -> *mut Shared {
    Box::into_raw(Box::new(Shared { m: Mutex::new(Buf::default()), cv: Condvar::new() }))
}

pub fn shared() -> &'static Shared {
    let p = SHARED.load(Acquire);
    if !p.is_null() {
        return unsafe { &*p };
    }
    let fresh = new_shared();
    match SHARED.compare_exchange(std::ptr::null_mut(), fresh, AcqRel, Acquire) {
        Ok(_) => unsafe { &*fresh },
        Err(existing) => {
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*existing }
        }
    }
}

fn lock(s: &Shared) -> MutexGuard<'_, Buf> {
    s.m.lock().unwrap_or_else(|e| e.into_inner())
}

/// In a forked child (`atfork`): the child must not touch the parent's mutex (another thread may
/// have held it at the fork) nor re-send the parent's buffered spans, so it gets a fresh buffer
/// (the old one is leaked on purpose), fresh counters, and must start a writer.
pub(crate) fn after_fork_child() {
    SHARED.store(new_shared(), Release);
    NEED_WRITER.store(true, Release);
    for c in [&EMITTED, &BYTES, &DROPPED_FULL, &DROPPED_ERROR, &SAMPLED_OUT] {
        c.store(0, Relaxed);
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Borrow the calling thread's scratch buffer (re-entrant: a nested call gets a fresh one).
pub fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut v = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    v.clear();
    let r = f(&mut v);
    if v.capacity() <= 1 << 20 {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            if s.capacity() < v.capacity() {
                *s = v;
            }
        });
    }
    r
}

pub enum Push {
    Ok,
    Sealed,
    Full,
}

/// Append one encoded line. Never blocks on I/O: the lock is only ever held for memcpy-sized work.
pub fn push(line: &[u8], cfg: &Config) -> Push {
    push_lines(line, 1, cfg)
}

/// Append `lines` whole encoded lines.
pub fn push_lines(line: &[u8], lines: u64, cfg: &Config) -> Push {
    let sh = shared();
    let mut g = lock(sh);
    if g.queued + g.cur.len() + line.len() > cfg.max_bytes {
        drop(g);
        DROPPED_FULL.fetch_add(1, Relaxed);
        return Push::Full;
    }
    if g.cur.capacity() == 0 {
        g.cur.reserve(cfg.batch_bytes + 4096);
    }
    g.cur.extend_from_slice(line);
    g.cur_lines += lines;
    EMITTED.fetch_add(1, Relaxed);
    BYTES.fetch_add(line.len() as u64, Relaxed);
    if g.cur.len() >= cfg.batch_bytes {
        g.seal();
        let wake = g.writer_idle;
        drop(g);
        if wake {
            sh.cv.notify_one();
        }
        return Push::Sealed;
    }
    Push::Ok
}

/// Seal the open batch; returns the sequence number of the last batch queued.
pub fn seal() -> u64 {
    let sh = shared();
    let mut g = lock(sh);
    g.seal();
    let s = g.seq;
    drop(g);
    sh.cv.notify_one();
    s
}

/// Wait for a batch; takes every queued batch up to `max_bytes` at once, so one wake-up moves a
/// backlog. A `busy` writer (its last call found work) polls every millisecond without asking to
/// be woken; an idle one sleeps up to `timeout` and is woken by the next seal. What is open is
/// sealed once it is `timeout` old (age-based flush).
pub fn take(timeout: Duration, max_bytes: usize, busy: bool) -> Option<Batch> {
    let sh = shared();
    let mut g = lock(sh);
    if g.ready.is_empty() {
        let wait = if busy { timeout.min(Duration::from_millis(1)) } else { timeout };
        g.writer_idle = !busy;
        let (g2, _) = sh.cv.wait_timeout(g, wait).unwrap_or_else(|e| e.into_inner());
        g = g2;
        g.writer_idle = false;
        if g.ready.is_empty() && g.last_seal.map_or(true, |t| t.elapsed() >= timeout) {
            g.seal();
        }
    }
    // Pop under the lock, copy outside it: emitters never wait behind a memcpy.
    let first = g.ready.pop_front()?;
    let mut size = first.bytes.len();
    let mut rest: Vec<Batch> = Vec::new();
    while let Some(next) = g.ready.front() {
        if size + next.bytes.len() > max_bytes {
            break;
        }
        size += next.bytes.len();
        rest.push(g.ready.pop_front().unwrap());
    }
    g.queued -= size;
    drop(g);
    let mut out = first;
    if rest.is_empty() {
        return Some(out);
    }
    out.bytes.reserve(size - out.bytes.len());
    for part in rest {
        out.bytes.extend_from_slice(&part.bytes);
        out.lines += part.lines;
        out.seq = part.seq;
        recycle(part.bytes);
    }
    Some(out)
}

/// Give back a batch a stale writer took after it was told to stop: it goes first in line again.
pub fn untake(b: Batch) {
    let sh = shared();
    let mut g = lock(sh);
    g.queued += b.bytes.len();
    g.ready.push_front(b);
    drop(g);
    sh.cv.notify_all();
}

pub fn recycle(mut v: Vec<u8>) {
    if v.capacity() > 8 << 20 {
        return;
    }
    v.clear();
    let sh = shared();
    let mut g = lock(sh);
    if g.spare.len() < 4 {
        g.spare.push(v);
    }
}

/// Wake a writer blocked in `take` (shutdown).
pub fn wake() {
    shared().cv.notify_all();
}

/// Sequence number of the last batch a writer has taken (every earlier one is gone from the queue).
pub fn consumed_seq() -> u64 {
    let g = lock(shared());
    g.seq - g.ready.len() as u64
}

pub fn pending() -> (usize, usize, u64) {
    let g = lock(shared());
    (g.queued + g.cur.len(), g.ready.len(), g.seq)
}
