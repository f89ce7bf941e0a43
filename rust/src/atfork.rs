//! Fork safety: a `pthread_atfork` child handler, so even forks that bypass Python's hooks (uWSGI,
//! `os.fork` from C) leave the child a usable buffer and ids of its own.
//!
//! The child must not touch the parent's locks (another thread may have held one at the fork) nor
//! re-send the parent's buffered spans: it gets a fresh buffer and counters (the old ones leaked on
//! purpose), no native writer until Python starts one, fresh ids, and none of the parent's
//! pending observations. The handler runs no Python. Unix only: elsewhere there is no fork.

#[cfg(unix)]
extern "C" fn child() {
    crate::buffer::after_fork_child();
    crate::span::after_fork_child();
}

/// Register the handler (once, at module init).
#[cfg(unix)]
pub(crate) fn install() {
    unsafe {
        libc::pthread_atfork(None, None, Some(child));
    }
}

#[cfg(not(unix))]
pub(crate) fn install() {}
