//! The native writer: for sinks that are plain file descriptors (files, null), a Rust thread takes
//! batches and writes them with no GIL at all, so busy application threads never starve it.
//! It never touches Python (safe during interpreter shutdown); after a fork the child starts anew.
use std::collections::HashMap;
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
/// is written), with O_APPEND (whole-batch writes from several processes never interleave), 0600.
struct Target {
    path: Option<std::ffi::CString>, // None: discard
    fd: i32,
}

/// Whether the file at `path` (open as `fd`) ends inside a line: a process killed while its
/// writer was in `write()` can leave a torn last line (the kernel stops copying at a page boundary
/// on a fatal signal). Regular files only, read through a second, read-only descriptor; false
/// whenever that is not possible.
fn ends_torn(path: &std::ffi::CStr, fd: i32) -> bool {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 || (st.st_mode & libc::S_IFMT) != libc::S_IFREG || st.st_size <= 0 {
        return false;
    }
    let rd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if rd < 0 {
        return false;
    }
    let mut c = 0u8;
    let end = unsafe { libc::lseek(rd, 0, libc::SEEK_END) };
    let n = if end > 0 { unsafe { libc::pread(rd, &mut c as *mut u8 as *mut libc::c_void, 1, end - 1) } } else { 0 };
    unsafe { libc::close(rd) };
    n == 1 && c != b'\n'
}

impl Target {
    fn write(&mut self, b: &[u8]) -> Result<(), i32> {
        let Some(path) = &self.path else { return Ok(()) };
        if self.fd < 0 {
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC, 0o600 as libc::c_uint) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
            }
            self.fd = fd;
            if ends_torn(path, fd) {
                let mut first = Vec::with_capacity(b.len() + 1); // one write: still whole lines
                first.push(b'\n');
                first.extend_from_slice(b);
                return write_all(self.fd, &first);
            }
        }
        write_all(self.fd, b)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.fd >= 0 {
            unsafe { libc::close(self.fd) };
        }
    }
}

fn write_all(fd: i32, mut b: &[u8]) -> Result<(), i32> {
    while !b.is_empty() {
        let n = unsafe { libc::write(fd, b.as_ptr() as *const libc::c_void, b.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        b = &b[n as usize..];
    }
    Ok(())
}

/// Start a writer for `paths` (None = discard); stops any previous one.
pub fn start(paths: Vec<Option<String>>, interval: Duration) {
    let mut targets: Vec<Target> = paths
        .into_iter()
        .map(|p| Target { path: p.and_then(|p| std::ffi::CString::new(p).ok()), fd: -1 })
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
