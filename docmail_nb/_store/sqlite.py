"""The ledger's SQLite store: one file, for senders on one machine (the default).

The ledger's SQL is written once, in SQLite's words, for both stores: PostgreSQL's store
(:mod:`docmail_nb._store.postgres`) adapts it as it is sent. Write new statements so that
both understand them: ``?`` or ``:name`` placeholders, ``INSERT … ON CONFLICT (…) DO …`` or
``INSERT OR IGNORE``/``OR REPLACE`` on a primary key, ``COALESCE``, column types ``TEXT``,
``INTEGER``, ``REAL``, ``BLOB``; no ``rowid``, no ``lastrowid``, no SQLite functions.

Every write runs in a ``BEGIN IMMEDIATE`` transaction: the file's one write lock serialises
claims of every process (``serialize`` has nothing more to do). A run is alive while its
process is (same host) or its heartbeat is recent (a ledger on a shared folder).

Durability: in WAL mode every commit survives a crash of the process; only the "sending" mark
(just before DATA) and the end of a run are also synced to disk (``synchronous=FULL``), and that
sync makes every earlier commit durable too. A power loss can thus only undo records written
after the last "sending" mark, which leaves that message "sending" (then "unknown"), never resent.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from docmail_nb.errors import LedgerError

__all__ = ["SqliteStore"]

_SQLITE_MAGIC = b"SQLite format 3\x00"


class SqliteStore:
    """The ledger file, created (mode 0600, whole or not at all) when it does not exist."""

    dialect = "sqlite"

    def __init__(self, path: Path, schema: str, version: int) -> None:
        self.path = path
        self.where = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _create(path, schema, version)
            _refuse_foreign(path)
            self._db = sqlite3.connect(
                path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # FULL when synced
        except sqlite3.Error as exc:
            raise LedgerError(
                f"The ledger {path} cannot be opened: {_plain(exc)}.",
                "Check that the folder is writable and the file is an SQLite database, "
                "or give another file with --ledger.",
            ) from None
        except OSError as exc:
            raise LedgerError(
                f"The ledger {path} cannot be created: {exc.strerror or exc}.",
                "Check that the folder exists and is writable, or give another file with --ledger.",
            ) from None

    def __repr__(self) -> str:
        return f"SqliteStore({self.where!r})"

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def errors(self, what: str = "cannot be used") -> Iterator[None]:
        """An SQLite error (disk full, read-only, damaged file) as a LedgerError in plain words."""
        try:
            yield
        except sqlite3.Error as exc:
            raise LedgerError(
                f"The ledger {self.path} {what}: {_plain(exc)}.", _hint(exc)
            ) from None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, *, synced: bool = False) -> Iterator[SqliteStore]:
        """BEGIN IMMEDIATE ... COMMIT; ``synced``: on disk (with all before it) when it returns."""
        if synced:
            self._db.execute("PRAGMA synchronous=FULL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        finally:
            if synced:
                self._db.execute("PRAGMA synchronous=NORMAL")

    def serialize(self, *names: str) -> None:
        """Nothing to add: BEGIN IMMEDIATE already holds the file's one write lock."""

    def tables(self) -> set[str]:
        rows = self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {row[0] for row in rows}

    # runs: the ledger records pid, host and heartbeat; this store adds nothing
    def hold_run(self, run_id: str) -> None:
        """A run's life is its process (see ``Ledger``); nothing is held here."""

    def release_run(self, run_id: str) -> None:
        """Nothing was held."""


def _create(path: Path, schema: str, version: int) -> None:
    """A new, empty ledger at ``path``, mode 0600, appearing whole or not at all.

    The database is made under a temporary name and linked into place: a run that dies half
    way leaves no empty file behind, and of two runs creating the same ledger one wins.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(f"BEGIN; {schema}; COMMIT;")
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
        finally:
            db.close()
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_foreign(path: Path) -> None:
    """Refuse an empty file or one that is no SQLite database before SQLite sees it."""
    with path.open("rb") as handle:
        head = handle.read(len(_SQLITE_MAGIC))
    if not head:
        raise LedgerError(
            f"The ledger {path} is an empty file (0 bytes), not a ledger.",
            "A ledger copied without its -wal file, or a file created by hand, loses the "
            "record of what was sent: restore your backup of the ledger (the file together "
            "with its -wal file), or give a new file name with --ledger.",
        )
    if head != _SQLITE_MAGIC:
        raise LedgerError(
            f"{path} is not a docmail ledger (not an SQLite database).",
            "Give the ledger file itself with --ledger, or a new file name to start a new ledger.",
        )


def _plain(exc: sqlite3.Error) -> str:
    """SQLite's message without its jargon."""
    text = str(exc).strip().rstrip(".")
    plain = {
        "database or disk is full": "the disk is full",
        "attempt to write a readonly database": "the file is read-only",
        "database is locked": "another program holds it locked",
        "file is not a database": "the file is not a ledger (or is damaged)",
        "database disk image is malformed": "the file is damaged",
        "disk I/O error": "the disk reported an error",
        "unable to open database file": "the file cannot be opened",
    }
    return plain.get(text, text)


def _hint(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "Free some disk space, then run again: nothing is sent twice."
    if "readonly" in text:
        return "Make the ledger file and its folder writable, then run again."
    if "locked" in text:
        return "Close the program that holds the ledger open, then run again."
    return "Restore the ledger from its backup, or give another file with --ledger."
