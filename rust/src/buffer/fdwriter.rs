//! The native writer: for sinks that are plain file descriptors (files, null), a Rust thread takes
//! batches and writes them with no GIL at all, so busy application threads never starve it.
//! It never touches Python (safe during interpreter shutdown); after a fork the child starts anew.
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::{AcqRel, Acquire, Relaxed, Release}};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::batcher;

static GEN: AtomicU64 = AtomicU64::new(0);
pub static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Locks the writer thread takes without the GIL. A fork can catch them held, so they live behind
/// a pointer that the child replaces (the parent's copy is leaked on purpose).
struct State {
    done: Mutex<u64>,
    cv: Condvar,
    /// target index → (lines written, lines dropped, last errno)
    per_target: Mutex<HashMap<i32, (u64, u64, i32)>>,
}

static STATE: AtomicPtr<State> = AtomicPtr::new(std::ptr::null_mut());

fn fresh() -> *mut State {
    Box::into_raw(Box::new(State { done: Mutex::new(0), cv: Condvar::new(), per_target: Mutex::new(HashMap::new()) }))
}

fn state() -> &'static State {
    let p = STATE.load(Acquire);
    if !p.is_null() {
        return unsafe { &*p };
    }
    let f = fresh();
    match STATE.compare_exchange(std::ptr::null_mut(), f, AcqRel, Acquire) {
        Ok(_) => unsafe { &*f },
        Err(e) => {
            drop(unsafe { Box::from_raw(f) });
            unsafe { &*e }
        }
    }
}

/// A file the writer thread opens itself, on its first batch (so nothing is created before a span
/// is written), for appending (whole-batch writes from several processes never interleave), 0600.
struct Target {
    path: Option<std::path::PathBuf>, // None: discard
    file: Option<File>,
}

/// `open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)` on unix (std adds O_CLOEXEC);
/// FILE_APPEND_DATA on Windows.
fn open_append(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Whether the file at `path` (open as `file`) ends inside a line: a process killed while its
/// writer was in `write()` can leave a torn last line (the kernel stops copying at a page boundary
/// on a fatal signal). Regular files only, read through a second, read-only descriptor; false
/// whenever that is not possible.
fn ends_torn(path: &Path, file: &File) -> bool {
    match file.metadata() {
        Ok(m) if m.is_file() && m.len() > 0 => {}
        _ => return false,
    }
    let Ok(mut rd) = File::open(path) else { return false };
    let mut c = [0u8; 1];
    rd.seek(SeekFrom::End(-1)).is_ok() && matches!(rd.read(&mut c), Ok(1)) && c[0] != b'\n'
}

fn errno(e: std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

impl Target {
    fn write(&mut self, b: &[u8]) -> Result<(), i32> {
        let Some(path) = &self.path else { return Ok(()) };
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let f = self.file.insert(open_append(path).map_err(errno)?);
                if ends_torn(path, f) {
                    let mut first = Vec::with_capacity(b.len() + 1); // one write: still whole lines
                    first.push(b'\n');
                    first.extend_from_slice(b);
                    return f.write_all(&first).map_err(errno);
                }
                f
            }
        };
        file.write_all(b).map_err(errno) // retries on EINTR
    }
}

/// Start a writer for `paths` (None = discard); stops any previous one.
pub fn start(paths: Vec<Option<String>>, interval: Duration) {
    let mut targets: Vec<Target> = paths
        .into_iter()
        .map(|p| Target { path: p.filter(|p| !p.contains('\0')).map(Into::into), file: None }) // NUL: discard, as before
        .collect();
    let gen = GEN.fetch_add(1, AcqRel) + 1;
    let st = state();
    *st.done.lock().unwrap_or_else(|e| e.into_inner()) = batcher::consumed_seq();
    st.per_target.lock().unwrap_or_else(|e| e.into_inner()).clear();
    WRITTEN.store(0, Relaxed);
    batcher::wake();
    std::thread::Builder::new()
        .name("mist-native-writer".into())
        .spawn(move || {
            let mut busy = false;
            while GEN.load(Acquire) == gen {
                let got = batcher::take(interval, 4 << 20, busy);
                busy = got.is_some();
                let Some(batch) = got else { continue };
                if GEN.load(Acquire) != gen {
                    batcher::untake(batch); // replaced while waiting: the new writer writes it
                    break;
                }
                let batcher::Batch { seq, bytes: batch, lines } = batch;
                let mut ok = true;
                for (i, t) in targets.iter_mut().enumerate() {
                    let r = t.write(&batch);
                    let mut g = st.per_target.lock().unwrap_or_else(|e| e.into_inner());
                    let e = g.entry(i as i32).or_insert((0, 0, 0));
                    match r {
                        Ok(()) => e.0 += lines,
                        Err(errno) => {
                            ok = false;
                            e.1 += lines;
                            e.2 = errno;
                        }
                    }
                }
                if ok {
                    WRITTEN.fetch_add(lines, Relaxed);
                }
                batcher::recycle(batch);
                let mut d = st.done.lock().unwrap_or_else(|e| e.into_inner());
                if GEN.load(Acquire) == gen {
                    *d = seq;
                }
                st.cv.notify_all();
            }
        })
        .ok();
}

/// Stop the native writer (it exits after its current batch).
pub fn stop() {
    GEN.fetch_add(1, AcqRel);
    batcher::wake();
}

/// Wait (caller detaches the GIL) until batch `target` is written; false on timeout.
pub fn wait_done(target: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let st = state();
    let mut d = st.done.lock().unwrap_or_else(|e| e.into_inner());
    while *d < target {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        d = st.cv.wait_timeout(d, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
    }
    true
}

pub fn per_fd() -> Vec<(i32, u64, u64, i32)> {
    let g = state().per_target.lock().unwrap_or_else(|e| e.into_inner());
    g.iter().map(|(k, v)| (*k, v.0, v.1, v.2)).collect()
}

/// In a forked child: no writer thread survived; forget the parent's progress.
pub fn after_fork_child() {
    GEN.fetch_add(1, Relaxed);
    STATE.store(fresh(), Release);
    WRITTEN.store(0, Relaxed);
}
