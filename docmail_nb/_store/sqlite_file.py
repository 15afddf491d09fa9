"""The ledger's SQLite file: its schema, created privately; a file that is not a ledger refused;
SQLite's errors in plain words; :class:`SqliteStore`, the ledger's default store.

The ledger's SQL is written once, in SQLite's words, for both stores: the PostgreSQL store
(:mod:`docmail_nb._store.postgres`) adapts it as it is sent. Write new statements so that
both understand them: ``?`` or ``:name`` placeholders, ``INSERT … ON CONFLICT (…) DO …`` or
``INSERT OR IGNORE``/``OR REPLACE`` on a primary key, ``COALESCE``, column types ``TEXT``,
``INTEGER``, ``REAL``, ``BLOB``; no ``rowid``, no ``lastrowid``, no SQLite-only functions.

Every write runs in a ``BEGIN IMMEDIATE`` transaction: the file's one write lock serialises
the claims of every process (``serialize`` has nothing to add). A run's life is its process
(see ``Ledger``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from docmail_nb._store.records import (
    Entry,
)
from docmail_nb.errors import LedgerError
from docmail_nb.words import setting

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "SqliteStore",
    "create_ledger_file",
    "entry_from_row",
    "error_hint",
    "plain_error",
    "refuse_foreign",
    "refused_json",
    "schema_version",
]

SCHEMA_VERSION = 3


_SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
    started_at REAL NOT NULL, heartbeat_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    campaign TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    content_hash TEXT NOT NULL, message_id TEXT NOT NULL, rows TEXT NOT NULL,
    account TEXT NOT NULL, recipients TEXT NOT NULL, accepted TEXT NOT NULL,
    refused TEXT NOT NULL, reply TEXT NOT NULL, error TEXT NOT NULL,
    attempts INTEGER NOT NULL, owner_run TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, attempted_at REAL, sent_at REAL,
    copy TEXT NOT NULL DEFAULT '', copy_data BLOB, copy_error TEXT NOT NULL DEFAULT '',
    copied_at REAL, resend_of TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign, key)
);
CREATE INDEX IF NOT EXISTS messages_attempted ON messages (account, attempted_at);
CREATE TABLE IF NOT EXISTS documents (
    campaign TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
    sha256 TEXT NOT NULL, fingerprint TEXT NOT NULL, rendered_at REAL NOT NULL,
    PRIMARY KEY (campaign, key, name)
);
CREATE TABLE IF NOT EXISTS reports (
    account TEXT NOT NULL, report TEXT NOT NULL, outcome TEXT NOT NULL, read_at REAL NOT NULL,
    PRIMARY KEY (account, report)
);
CREATE TABLE IF NOT EXISTS bounces (
    campaign TEXT NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL,
    recipient TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL,
    diagnostic TEXT NOT NULL, reported TEXT NOT NULL, report_id TEXT NOT NULL,
    account TEXT NOT NULL, report TEXT NOT NULL, recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bounces_message ON bounces (campaign, key);
CREATE TABLE IF NOT EXISTS payment_references (
    campaign TEXT NOT NULL, key TEXT NOT NULL, reference TEXT NOT NULL, kind TEXT NOT NULL,
    amount TEXT, currency TEXT NOT NULL,
    PRIMARY KEY (campaign, key)
);
CREATE INDEX IF NOT EXISTS payment_references_reference ON payment_references (reference);
CREATE TABLE IF NOT EXISTS payments (
    identity TEXT PRIMARY KEY, campaign TEXT NOT NULL, key TEXT NOT NULL,
    reference TEXT NOT NULL, amount TEXT NOT NULL, currency TEXT NOT NULL,
    booked TEXT NOT NULL, debtor TEXT NOT NULL, source TEXT NOT NULL, recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_message ON payments (campaign, key);
CREATE TABLE IF NOT EXISTS reminder_campaigns (
    campaign TEXT PRIMARY KEY, reminder_of TEXT NOT NULL, level INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS connections (
    account TEXT NOT NULL, slot INTEGER NOT NULL, run_id TEXT NOT NULL, taken_at REAL NOT NULL,
    PRIMARY KEY (account, slot)
);
"""
# ``connections``: the places of a mailbox's connection cap that runs hold right now (any
# sender of the ledger); a dead run's place is free again. Added without a new version: a
# table made when missing.
# Version 3 added, after "sent": the reports read from the INBOX (``reports``) and what they
# said (``bounces``), the reference each message asked to be paid with
# (``payment_references``), the bank's credits matched to it (``payments``, keyed by the bank's
# identity of the payment, so no file counts twice) and which campaign is which reminder level
# of which other (``reminder_campaigns``); and ``messages.resend_of``.


def entry_from_row(row: sqlite3.Row) -> Entry:
    refused = {
        addr: (int(code), str(text)) for addr, (code, text) in json.loads(row["refused"]).items()
    }
    return Entry(
        campaign=row["campaign"],
        key=row["key"],
        state=row["state"],
        content_hash=row["content_hash"],
        message_id=row["message_id"],
        rows=tuple(int(r) for r in row["rows"].split(",") if r),
        account=row["account"],
        recipients=tuple(json.loads(row["recipients"])),
        accepted=tuple(json.loads(row["accepted"])),
        refused=refused,
        reply=row["reply"],
        error=row["error"],
        attempts=row["attempts"],
        owner_run=row["owner_run"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attempted_at=row["attempted_at"],
        sent_at=row["sent_at"],
        copy=row["copy"],
        copy_error=row["copy_error"],
        copied_at=row["copied_at"],
        resend_of=row["resend_of"],
    )


def refused_json(refused: dict[str, tuple[int, str]] | None) -> str:
    return json.dumps({address: list(reply) for address, reply in (refused or {}).items()})


def create_ledger_file(path: Path) -> None:
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
            db.executescript(f"BEGIN; {SCHEMA}; COMMIT;")
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        finally:
            db.close()
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def refuse_foreign(path: Path) -> None:
    """Refuse an empty file or one that is no SQLite database before SQLite sees it."""
    with path.open("rb") as handle:
        head = handle.read(len(_SQLITE_MAGIC))
    if not head:
        raise LedgerError(
            f"The ledger {path} is an empty file (0 bytes), not a ledger.",
            "A ledger copied without its -wal file, or a file created by hand, loses the "
            "record of what was sent: restore your backup of the ledger (the file together "
            f"with its -wal file), or give a new file name with {setting('ledger')}.",
        )
    if head != _SQLITE_MAGIC:
        raise LedgerError(
            f"{path} is not a docmail ledger (not an SQLite database).",
            f"Give the ledger file itself with {setting('ledger')}, or a new file name to "
            "start a new ledger.",
        )


def schema_version(db: Any) -> str | None:
    """The ledger's schema version, or None when the database is no docmail ledger."""
    if not {"meta", "runs", "messages"} <= db.tables():
        return None
    found = db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    return None if found is None else str(found[0])


def plain_error(exc: sqlite3.Error) -> str:
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


def error_hint(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "Free some disk space, then run again: nothing is sent twice."
    if "readonly" in text:
        return "Make the ledger file and its folder writable, then run again."
    if "locked" in text:
        return "Close the program that holds the ledger open, then run again."
    return f"Restore the ledger from its backup, or give another file with {setting('ledger')}."


class SqliteStore:
    """The ledger file (WAL mode), created (mode 0600, whole or not at all) when missing."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                create_ledger_file(path)
            refuse_foreign(path)
            self.connection = sqlite3.connect(
                path, timeout=60.0, isolation_level=None, check_same_thread=False
            )
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")  # FULL when synced
        except sqlite3.Error as exc:
            raise LedgerError(
                f"The ledger {path} cannot be opened: {plain_error(exc)}.",
                "Check that the folder is writable and the file is an SQLite database, "
                f"or give another file with {setting('ledger')}.",
            ) from None
        except OSError as exc:
            raise LedgerError(
                f"The ledger {path} cannot be created: {exc.strerror or exc}.",
                "Check that the folder exists and is writable, or give another file with "
                f"{setting('ledger')}.",
            ) from None

    def __repr__(self) -> str:
        return f"SqliteStore({self.where!r})"

    def close(self) -> None:
        self.connection.close()

    @contextlib.contextmanager
    def errors(self, what: str = "cannot be used") -> Iterator[None]:
        """An SQLite error (disk full, read-only, damaged file) as a LedgerError in plain words."""
        try:
            yield
        except sqlite3.Error as exc:
            raise LedgerError(
                f"The ledger {self.path} {what}: {plain_error(exc)}.", error_hint(exc)
            ) from None

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, *, synced: bool = False) -> Iterator[SqliteStore]:
        """BEGIN IMMEDIATE ... COMMIT; ``synced``: on disk (with all before it) when it returns.

        In WAL mode every commit survives a crash of the process; only the "sending" mark and
        the end of a run are also synced, and that sync makes every earlier commit durable.
        """
        db = self.connection
        if synced:
            db.execute("PRAGMA synchronous=FULL")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if synced:
                db.execute("PRAGMA synchronous=NORMAL")

    def serialize(self, *names: str) -> None:
        """Nothing to add: BEGIN IMMEDIATE already holds the file's one write lock."""

    def tables(self) -> set[str]:
        rows = self.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {row[0] for row in rows}

    def primary_key(self, table: str) -> list[str]:
        """The columns of ``table``'s primary key (none: [])."""
        rows = self.connection.execute("SELECT name, pk FROM pragma_table_info(?)", (table,))
        return [row[0] for row in sorted(rows, key=lambda row: row[1]) if row[1]]

    def hold_run(self, run_id: str) -> None:
        """A run's life is its process here: nothing to hold."""

    def release_run(self, run_id: str) -> None:
        """Nothing was held."""

    def run_alive(self, run_id: str) -> bool | None:
        """None: the ledger judges by the run's process, host and heartbeat."""
        return None
