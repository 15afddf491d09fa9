"""Files docmail_nb writes, and the attachments it reads.

The ledger, the reports and the profiles hold customers' addresses and the mail sent to them,
so every file docmail_nb creates gets mode 0600 (``rw-------``) whatever the umask says, and
is written whole or not at all.

An attachment is sent only as the check saw it: ``FileIdentity`` records which file it was
(device, inode) and its state (size, times); ``read_checked`` reads it through one descriptor
opened without following links and without waiting on a FIFO, and refuses anything else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from docmail_nb.errors import FileChanged

__all__ = ["PRIVATE_MODE", "FileIdentity", "create_private", "read_checked", "write_private"]

PRIVATE_MODE = 0o600


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True when it was created.

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so creating
    the ledger this way keeps all three private.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file through ``write(handle)``, mode 0600, replacing ``path`` only when done.

    The content goes to a temporary file beside ``path`` first, so a failure (disk full, a bad
    value) never leaves half a file under the real name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with _closing_fd(fd) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(PRIVATE_MODE)  # mkstemp makes it 0600 already; stay explicit
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


@contextlib.contextmanager
def _closing_fd(fd: int) -> Iterator[IO[bytes]]:
    with os.fdopen(fd, "wb") as handle:
        yield handle


@dataclass(frozen=True)
class FileIdentity:
    """A file as the check saw it: which file it is, and its state then."""

    real_path: Path  # the file itself: every link below the documents folder resolved
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # changes with every write, and cannot be set back
    links: int  # names the file has (hard links)

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        """The identity of the file ``path`` leads to (links followed)."""
        real = path.resolve(strict=True)
        st = real.stat()
        return cls(
            real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_nlink
        )

    def matches(self, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) == (
            self.device,
            self.inode,
            self.size,
            self.mtime_ns,
            self.ctime_ns,
        )


def read_checked(path: Path, identity: FileIdentity | None) -> bytes:
    """The bytes of the file the check saw, read through one descriptor, or FileChanged.

    The file (``identity.real_path`` when known) is opened without following a link (a link
    put in its place fails) and without waiting (a FIFO put in its place does not block); the
    open descriptor must then be a regular file with the device, inode, size and times the
    check saw.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(identity.real_path if identity else path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileChanged("it was replaced by a link after the check") from None
        if exc.errno == errno.ENOENT:
            raise FileChanged("it was removed or renamed after the check") from None
        raise FileChanged(exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileChanged("it is no longer a regular file (a FIFO, a device or a folder)")
        if identity is not None and not identity.matches(st):
            raise FileChanged("it was replaced or changed after the check")
        chunks = []
        left = st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) != st.st_size or os.read(fd, 1):
            raise FileChanged("it changed while it was read")
        return data
    finally:
        os.close(fd)
