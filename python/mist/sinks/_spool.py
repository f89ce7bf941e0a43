"""A bounded on-disk FIFO of JSONL batches, so an endpoint outage does not lose traces.

Layout (one spool *root* per endpoint)::

    ROOT/
      seg-<start ns>-<pid>-<random>/      one segment per sink instance (process) that spooled
        lock                              flock'ed by the process that owns the segment
        0000000000000001-<lines>.jsonl    one file per spooled batch: the raw JSONL lines, so a
        0000000000000002-<lines>.jsonl    spool file is readable with ``mist read``/``mist tail``
        .0000000000000003.tmp             a write in progress (removed when found by a new owner)

Behaviour, and why:

* **Atomic files.** A batch is written to a ``.tmp`` file, ``fsync``'ed, renamed into place and
  the directory ``fsync``'ed. A crash leaves either the whole batch or nothing.
* **One owner per segment.** Each sink instance writes only its own segment and holds its
  ``lock`` (``fcntl.flock``, released by the kernel when the process dies). Two live processes
  sending to the same endpoint (gunicorn workers, a forked child) therefore never spool into, or
  drain, the same files. When a sink starts (and whenever its endpoint recovers) it *adopts* every
  segment whose lock is free — left by a process that exited or crashed — and delivers it before
  its own batches, oldest segment first.
* **In order.** Within a segment, files are delivered in the order they were written.
* **Bounded.** The bytes pending in the segments a process owns (its own and those it adopted)
  never exceed ``max_bytes``: the oldest batches are evicted (and the caller counts them as
  dropped). The batch being delivered right now is never evicted. The bound is per process: N
  processes spooling for the same endpoint may use up to N × ``max_bytes``.
* **Delivery guarantees.** A file is deleted only after the endpoint acknowledged every line of it,
  so within one process each batch is delivered exactly once. A crash between the acknowledgement
  and the delete means the next owner sends that file again: across a crash, at least once.

Everything here runs on the sink's sender thread (and, at a shutdown that ran out of time, on the
thread calling ``close``); an internal lock makes the two safe together. Nothing here raises into
the caller except ``OSError`` from ``put`` (the disk is full or not writable), which the sink counts.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple

from .. import config

try:  # POSIX
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

try:  # pragma: no cover - Windows only
    import msvcrt as _msvcrt
except ImportError:
    _msvcrt = None  # type: ignore[assignment]

#: Default bound on spooled bytes per process and endpoint.
DEFAULT_SPOOL_BYTES = 256 * 1024 * 1024

_SEGMENT_PREFIX = "seg-"
_SUFFIX = ".jsonl"


def default_spool_root(key: str, environ: Optional[Dict[str, str]] = None) -> str:
    """The per-user spool directory for an endpoint ``key``.

    ``$MIST_SPOOL_DIR/<hash>`` when that variable is set, else
    ``$XDG_STATE_HOME/mist/spool/<hash>`` or ``~/.local/state/mist/spool/<hash>``. The hash covers
    the endpoint (scheme, host, port, path) and its headers, so two configurations that send with
    different credentials never drain each other's spool.
    """
    env = os.environ if environ is None else environ
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    base = config.spool_dir(env)
    if not base:
        state = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
        base = os.path.join(state, "mist", "spool")
    return os.path.join(base, digest)


class SpoolEntry:
    """One spooled batch file."""

    __slots__ = ("path", "size", "lines", "seq", "segment")

    def __init__(self, path: str, size: int, lines: int, seq: int, segment: "_Segment") -> None:
        self.path = path
        self.size = size
        self.lines = lines
        #: highest in-process write sequence number the file covers (0 when adopted from disk)
        self.seq = seq
        self.segment = segment

    def __repr__(self) -> str:
        return f"SpoolEntry({os.path.basename(self.path)!r}, size={self.size}, lines={self.lines})"


class _Segment:
    """A directory of spool files owned (locked) by this process."""

    __slots__ = ("path", "lock_fd", "dir_fd", "own", "next_index", "pending")

    def __init__(self, path: str, lock_fd: int, own: bool) -> None:
        self.path = path
        self.lock_fd = lock_fd
        self.dir_fd = -1
        self.own = own
        self.next_index = 1
        self.pending = 0  # entries of this segment still in the queue


def _try_lock(fd: int) -> bool:
    if _fcntl is not None:
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            return True
        except OSError:
            return False
    if _msvcrt is not None:  # pragma: no cover - Windows
        try:
            _msvcrt.locking(fd, _msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    return True  # pragma: no cover - no locking available: single-process use only


def _parse_lines(name: str) -> int:
    stem = name[: -len(_SUFFIX)]
    _, _, lines = stem.partition("-")
    try:
        return int(lines)
    except ValueError:
        return 0


class Spool:
    """Bounded FIFO of batches on disk for one endpoint; see the module docstring."""

    def __init__(self, root: str, max_bytes: int = DEFAULT_SPOOL_BYTES, *, fsync: bool = True) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._entries: Deque[SpoolEntry] = deque()
        self._pinned: Optional[SpoolEntry] = None
        self._own: Optional[_Segment] = None
        self._adopted: List[_Segment] = []
        self._bytes = 0
        self._opened = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        return self._bytes

    @property
    def pending_files(self) -> int:
        return len(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def has_backlog(self) -> bool:
        """True when files are waiting to be delivered."""
        return bool(self._entries)

    @staticmethod
    def root_has_segments(root: str) -> bool:
        """Cheap check (one ``listdir``) whether a previous process may have left batches."""
        try:
            return any(name.startswith(_SEGMENT_PREFIX) for name in os.listdir(root))
        except OSError:
            return False

    # -- adoption ------------------------------------------------------------------------------
    def adopt(self) -> List[SpoolEntry]:
        """Take over every segment under ``root`` whose owner is gone; queue its files.

        Returns the entries evicted to respect ``max_bytes`` (the caller counts them).
        """
        with self._lock:
            self._opened = True
            try:
                names = sorted(os.listdir(self.root))
            except OSError:
                return []
            owned = {seg.path for seg in self._adopted}
            if self._own is not None:
                owned.add(self._own.path)
            found: List[SpoolEntry] = []
            for name in names:
                path = os.path.join(self.root, name)
                if not name.startswith(_SEGMENT_PREFIX) or path in owned:
                    continue
                seg = self._lock_segment(path)
                if seg is None:
                    continue
                entries = self._scan(seg)
                if not entries:
                    self._remove_segment(seg)
                    continue
                self._adopted.append(seg)
                found.extend(entries)
            if not found:
                return []
            # Adopted batches are older than anything this process spooled: deliver them first,
            # but after the batch being delivered right now (if any), which stays at the head.
            head: List[SpoolEntry] = []
            if self._pinned is not None and self._entries and self._entries[0] is self._pinned:
                head.append(self._entries.popleft())
            rest = list(self._entries)
            self._entries = deque(head + found + rest)
            self._bytes += sum(e.size for e in found)
            return self._evict_locked(0)

    def _lock_segment(self, path: str) -> Optional[_Segment]:
        try:
            fd = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        if not _try_lock(fd):
            os.close(fd)
            return None
        # The previous owner may have removed the directory between our listdir and open.
        if not os.path.isdir(path):  # pragma: no cover - race
            os.close(fd)
            return None
        return _Segment(path, fd, own=False)

    def _scan(self, seg: _Segment) -> List[SpoolEntry]:
        entries: List[Tuple[str, SpoolEntry]] = []
        try:
            names = os.listdir(seg.path)
        except OSError:
            return []
        for name in names:
            full = os.path.join(seg.path, name)
            if name.endswith(".tmp"):
                try:  # a write that never completed: its batch was never acknowledged as spooled
                    os.unlink(full)
                except OSError:
                    pass
                continue
            if not name.endswith(_SUFFIX):
                continue
            try:
                size = os.stat(full).st_size
            except OSError:
                continue
            entries.append((name, SpoolEntry(full, size, _parse_lines(name), 0, seg)))
        entries.sort(key=lambda item: item[0])
        seg.pending = len(entries)
        return [e for _, e in entries]

    # -- writing -------------------------------------------------------------------------------
    def put(self, data: bytes, lines: int, seq: int) -> Tuple[Optional[SpoolEntry], List[SpoolEntry]]:
        """Append one batch durably. Returns ``(entry, evicted)``.

        ``entry`` is None when the batch alone is larger than the whole spool (the caller counts
        it as dropped). ``evicted`` are older entries removed to make room. Raises ``OSError``
        when the disk refuses the write; nothing is queued then.
        """
        size = len(data)
        with self._lock:
            self._opened = True
            if size > self.max_bytes:
                return None, []
            evicted = self._evict_locked(size)
            if self._bytes + size > self.max_bytes:
                return None, evicted  # only the pinned batch is left and there is still no room
            seg = self._own_segment()
            index = seg.next_index
            seg.next_index += 1
            name = f"{index:016d}-{lines}{_SUFFIX}"
            final = os.path.join(seg.path, name)
            tmp = os.path.join(seg.path, f".{index:016d}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self.fsync:
                    os.fsync(fd)
            except BaseException:
                os.close(fd)
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            os.close(fd)
            os.replace(tmp, final)
            self._fsync_dir(seg)
            entry = SpoolEntry(final, size, lines, seq, seg)
            seg.pending += 1
            self._entries.append(entry)
            self._bytes += size
            return entry, evicted

    def replace(self, entry: SpoolEntry, data: bytes, lines: int) -> None:
        """Atomically shrink ``entry`` to ``data`` (its undelivered remainder), keeping its place.

        Used when a process stops in the middle of a file, so the next one does not resend the
        lines that were already acknowledged. Raises ``OSError`` if the disk refuses.
        """
        with self._lock:
            if entry not in self._entries:
                return
            seg = entry.segment
            name = os.path.basename(entry.path)
            index = name.partition("-")[0]
            final = os.path.join(seg.path, f"{index}-{lines}{_SUFFIX}")
            tmp = os.path.join(seg.path, f".{index}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
            if final != entry.path:
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass
            self._fsync_dir(seg)
            self._bytes += len(data) - entry.size
            entry.path, entry.size, entry.lines = final, len(data), lines

    def _fsync_dir(self, seg: _Segment) -> None:
        if not self.fsync:
            return
        fd = seg.dir_fd
        opened = False
        if fd < 0:
            try:
                fd = os.open(seg.path, os.O_RDONLY)
                opened = True
            except OSError:  # pragma: no cover - Windows cannot open directories
                return
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover - some filesystems refuse directory fsync
            pass
        finally:
            if opened:
                os.close(fd)

    def _own_segment(self) -> _Segment:
        if self._own is not None:
            return self._own
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        name = f"{_SEGMENT_PREFIX}{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"
        path = os.path.join(self.root, name)
        os.mkdir(path, 0o700)
        fd = os.open(os.path.join(path, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        _try_lock(fd)  # fresh, uniquely named: nobody else can hold it
        seg = _Segment(path, fd, own=True)
        try:
            seg.dir_fd = os.open(path, os.O_RDONLY)
        except OSError:  # pragma: no cover - Windows cannot open directories
            seg.dir_fd = -1
        self._own = seg
        return seg

    def _evict_locked(self, incoming: int) -> List[SpoolEntry]:
        evicted: List[SpoolEntry] = []
        if self._bytes + incoming <= self.max_bytes:
            return evicted
        kept: Deque[SpoolEntry] = deque()
        while self._entries and self._bytes + incoming > self.max_bytes:
            entry = self._entries.popleft()
            if entry is self._pinned:
                kept.append(entry)
                continue
            self._forget_locked(entry)
            evicted.append(entry)
        kept.extend(self._entries)
        self._entries = kept
        return evicted

    # -- reading -------------------------------------------------------------------------------
    def head(self) -> Optional[SpoolEntry]:
        """The oldest pending entry (not removed)."""
        with self._lock:
            return self._entries[0] if self._entries else None

    def pin(self, entry: Optional[SpoolEntry]) -> None:
        """Mark ``entry`` as being delivered: eviction skips it."""
        with self._lock:
            self._pinned = entry

    @staticmethod
    def read(entry: SpoolEntry) -> bytes:
        """The batch bytes of ``entry``. Raises ``OSError`` if the file vanished or is unreadable."""
        with open(entry.path, "rb") as fh:
            return fh.read()

    def remove(self, entry: SpoolEntry) -> None:
        """Delete a delivered (or undeliverable) entry."""
        with self._lock:
            try:
                self._entries.remove(entry)
            except ValueError:
                return  # already evicted
            if self._pinned is entry:
                self._pinned = None
            self._forget_locked(entry)

    def _forget_locked(self, entry: SpoolEntry) -> None:
        self._bytes -= entry.size
        try:
            os.unlink(entry.path)
        except OSError:
            pass
        seg = entry.segment
        seg.pending -= 1
        if seg.pending <= 0 and not seg.own:
            self._remove_segment(seg)
            try:
                self._adopted.remove(seg)
            except ValueError:
                pass

    @staticmethod
    def _remove_segment(seg: _Segment) -> None:
        # Unlink the lock while still holding it, then the directory, then release: a process that
        # opens the old path afterwards either finds nothing or an empty directory it removes.
        try:
            os.unlink(os.path.join(seg.path, "lock"))
        except OSError:
            pass
        try:
            os.rmdir(seg.path)
        except OSError:
            pass
        for fd in (seg.dir_fd, seg.lock_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        seg.dir_fd = seg.lock_fd = -1

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Release every segment: empty ones are removed, the rest stay for the next process."""
        with self._lock:
            segments = list(self._adopted)
            if self._own is not None:
                segments.append(self._own)
            for seg in segments:
                if seg.pending <= 0:
                    self._remove_segment(seg)
                else:
                    for fd in (seg.dir_fd, seg.lock_fd):
                        if fd >= 0:
                            try:
                                os.close(fd)
                            except OSError:
                                pass
                    seg.dir_fd = seg.lock_fd = -1
            self._adopted = []
            self._own = None
            self._entries.clear()
            self._pinned = None
            self._bytes = 0

    def after_fork_in_child(self) -> None:
        """Forget the parent's segments without unlocking them (the parent still owns them)."""
        self._lock = threading.Lock()
        segments = list(self._adopted)
        if self._own is not None:
            segments.append(self._own)
        for seg in segments:
            for fd in (seg.dir_fd, seg.lock_fd):
                if fd >= 0:
                    try:
                        os.close(fd)  # closing our duplicate never releases the parent's flock
                    except OSError:
                        pass
        self._adopted = []
        self._own = None
        self._entries = deque()
        self._pinned = None
        self._bytes = 0
        self._opened = False
