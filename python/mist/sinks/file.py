"""``file://PATH``: append JSONL to PATH (created with mode 0600)."""
from __future__ import annotations

import os
import stat
from typing import Optional

from .base import Sink

_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation (0 elsewhere)


def _ends_torn(path: str, fd: int) -> bool:
    """Whether the file ends inside a line: a process killed while its writer was in ``write()``
    can leave a torn last line (the kernel stops copying at a page boundary on a fatal signal).
    Regular files only, read through a second, read-only descriptor; False whenever that fails."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size <= 0:
            return False
        rd = os.open(path, os.O_RDONLY | _BINARY)
        try:  # a descriptor of our own: seek + read (os.pread does not exist on Windows)
            os.lseek(rd, -1, os.SEEK_END)
            return os.read(rd, 1) != b"\n"
        finally:
            os.close(rd)
    except (OSError, ValueError):
        return False


class FileSink(Sink):
    def __init__(self, path: str) -> None:
        self.path = path
        self.url = "file://" + path
        self._fd: Optional[int] = None
        self._pid = os.getpid()
        self._torn = False

    def _open(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _BINARY, 0o600)
            self._pid = os.getpid()
            self._torn = _ends_torn(self.path, self._fd)
        return self._fd

    def native_target(self) -> str:
        """The path the native writer appends to (it opens the file on its first batch)."""
        return self.path

    def write(self, batch: bytes) -> None:
        # One write() per batch with O_APPEND: processes sharing the file never interleave lines.
        fd = self._open()
        if self._torn:
            self._torn = False
            batch = b"\n" + batch
        view = memoryview(batch)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def close(self, timeout: float) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            try:
                os.close(fd)
            except OSError:
                pass

    def after_fork_in_child(self) -> None:
        self._fd = None  # the parent's descriptor stays the parent's; the child reopens
