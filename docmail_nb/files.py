"""Files docmail_nb writes: readable by the user only, written whole or not at all.

The ledger, the reports and the profiles hold customers' addresses and the mail sent to them,
so every file docmail_nb creates gets mode 0600 (``rw-------``) whatever the umask says.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["PRIVATE_MODE", "create_private", "write_private"]

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
