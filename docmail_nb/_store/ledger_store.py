"""The ledger's store opened: an SQLite file or a PostgreSQL database behind one class, its
schema checked (and an older one brought up), one transaction at a time, database errors in
plain words, a message's record read and updated, whole tables for ``docmail ledger copy``.

Durability: in WAL mode every commit survives a crash of the process; only the "sending" mark
(just before DATA) and the end of a run are also synced to disk (``synchronous=FULL``), and that
sync makes every earlier commit durable too. A power loss can thus only undo records written
after the last "sending" mark, which leaves that message "sending" (then "unknown"), never resent.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from docmail_nb._store.postgres import PostgresStore, is_url
from docmail_nb._store.records import Entry
from docmail_nb._store.sqlite_file import (
    SCHEMA,
    SCHEMA_VERSION,
    SqliteStore,
    entry_from_row,
    schema_version,
)
from docmail_nb.errors import ConfigError, LedgerError
from docmail_nb.words import setting

__all__ = [
    "LedgerStore",
    "Store",
    "default_ledger_path",
    "default_ledger_target",
    "ledger_target",
]

# what version 1 lacks (a ledger written before copies in Sent)
_MIGRATE_1 = (
    "ALTER TABLE messages ADD COLUMN copy TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN copy_data BLOB",
    "ALTER TABLE messages ADD COLUMN copy_error TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE messages ADD COLUMN copied_at REAL",
)
# what version 2 lacks (a ledger written before bounces, payments and reminders; their tables
# come from the schema's CREATE TABLE IF NOT EXISTS)
_MIGRATE_2 = ("ALTER TABLE messages ADD COLUMN resend_of TEXT NOT NULL DEFAULT ''",)


def default_ledger_path() -> Path:
    """``ledger.sqlite`` in the docmail home folder."""
    from docmail_nb._store.profiles import docmail_home

    return docmail_home() / "ledger.sqlite"


def default_ledger_target() -> str | Path:
    """The ledger when none is given: ``DOCMAIL_LEDGER`` (a file or a PostgreSQL URL), else
    ``ledger.sqlite`` in the docmail home folder."""
    found = os.environ.get("DOCMAIL_LEDGER", "").strip()
    if not found:
        return default_ledger_path()
    return found if is_url(found) else Path(found).expanduser()


def ledger_target(value: str | Path | None) -> str | Path | None:
    """A ledger as a person gives it: a file (a path), a PostgreSQL URL (kept as written), or
    None (empty: the default ledger)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if is_url(value):
        return str(value).strip()
    if not isinstance(value, str | Path):
        raise ConfigError(
            f"The ledger ({setting('ledger')}) {value!r} is neither a file nor a "
            "postgresql:// URL.",
            "Give a file name, or postgresql://user@host:port/database.",
        )
    return Path(value).expanduser()


#: the ledger's store: an SQLite file or a PostgreSQL database (the same methods)
Store = SqliteStore | PostgresStore


class LedgerStore:
    """The ledger's store and the few things every part of the ledger does with it."""

    def __init__(
        self, path: str | Path | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        target = path if path is not None else default_ledger_target()
        self._clock = clock
        self._lock = threading.RLock()
        self._host = socket.gethostname()
        self._db: Store
        #: the ledger file (None for a PostgreSQL ledger)
        self.path: Path | None = None
        if is_url(target):
            self._db = PostgresStore(str(target))
        else:
            self.path = Path(target)
            self._db = SqliteStore(self.path)
        #: how the ledger is named in messages: its file, or its URL without the password
        self.where = self._db.where
        try:
            with self._lock, self._db.errors("cannot be opened"), self._db.transaction():
                self._check_schema()
        except BaseException:
            self._db.close()
            raise

    @property
    def shared(self) -> bool:
        """Whether the ledger is a database that senders on other machines may share."""
        return self._db.dialect == "postgresql"

    def _check_schema(self) -> None:
        """Refuse a database that is no ledger or of another version; make or bring it up."""
        self._db.serialize("schema")  # of several senders starting at once, one makes it
        if self.shared and not self._db.tables():
            self._create_schema()
        found = schema_version(self._db)
        if found is None:
            raise LedgerError(
                f"{self.where} is "
                + ("a database" if self.shared else "an SQLite database")
                + " but not a docmail ledger.",
                f"Give the ledger itself with {setting('ledger')}, or a new file name (an empty "
                "database) "
                "to start a new ledger.",
            )
        if found in ("1", "2"):
            for statement in (*(_MIGRATE_1 if found == "1" else ()), *_MIGRATE_2):
                self._db.execute(statement)
            self._db.execute(
                "UPDATE meta SET value = ? WHERE name = 'schema_version'",
                (str(SCHEMA_VERSION),),
            )
        elif found != str(SCHEMA_VERSION):
            raise LedgerError(
                f"The ledger {self.where} is from another version of docmail_nb "
                f"(schema {found}, expected {SCHEMA_VERSION}).",
                "Use the docmail_nb version that wrote it, or give another ledger with "
                f"{setting('ledger')}.",
            )
        for statement in SCHEMA.split(";"):  # tables added since (IF NOT EXISTS)
            if statement.strip():
                self._db.execute(statement)

    def _create_schema(self) -> None:
        """The tables of a new ledger in an empty database (the file store makes its own)."""
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)
        self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def __repr__(self) -> str:
        return f"Ledger({self.where!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self, *, synced: bool = False) -> Iterator[Store]:
        """One transaction; ``synced``: on disk (with all before it) when it returns."""
        with self._lock, self._plain_errors(), self._db.transaction(synced=synced) as db:
            yield db

    @contextmanager
    def _plain_errors(self) -> Iterator[None]:
        """A database error (disk full, read-only, damaged file, connection lost) as a
        LedgerError in plain words."""
        with self._db.errors():
            yield

    # -- whole tables (``docmail ledger copy``) --------------------------------------------
    def store_tables(self) -> set[str]:
        """The ledger's tables."""
        with self._lock, self._plain_errors():
            return self._db.tables()

    def store_rows(self, table: str) -> list[dict[str, Any]]:
        """Every record of ``table`` (one of ``store_tables``), as column → value."""
        if table not in self.store_tables():
            raise LedgerError(f"The ledger {self.where} has no table {table!r}.")
        with self._lock, self._plain_errors():
            rows = self._db.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - a table of ours
        return [dict(row) for row in rows]

    def store_insert(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Add the records this ledger does not have yet (by primary key, or, in a table
        without one, the same values); how many were added."""
        added = 0
        with self._transaction() as db:
            keyed = bool(db.primary_key(table))
            for row in rows:
                names = list(row)
                if not keyed and self._has_row(db, table, row):
                    continue
                added += db.execute(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(names)}) "  # noqa: S608 - ours
                    f"VALUES ({', '.join('?' * len(names))})",
                    [row[name] for name in names],
                ).rowcount
        return added

    @staticmethod
    def _has_row(db: Store, table: str, row: dict[str, Any]) -> bool:
        same = " AND ".join(
            f"{name} IS NULL" if row[name] is None else f"{name} = ?" for name in row
        )
        values = [value for value in row.values() if value is not None]
        found = db.execute(f"SELECT 1 FROM {table} WHERE {same}", values).fetchone()  # noqa: S608
        return found is not None

    @staticmethod
    def _read(db: Store, campaign: str, key: str) -> Entry | None:
        row = db.execute(
            "SELECT * FROM messages WHERE campaign = ? AND key = ?", (campaign, key)
        ).fetchone()
        return entry_from_row(row) if row is not None else None

    def _update(
        self,
        campaign: str,
        key: str,
        run_id: str | None,
        *,
        synced: bool = False,
        more_attempts: int = 0,
        **fields: Any,
    ) -> None:
        fields["updated_at"] = self._clock()
        assignments = ", ".join(f"{name} = :{name}" for name in fields)
        if more_attempts:
            assignments += ", attempts = attempts + :more_attempts"
        condition = "campaign = :campaign AND key = :key"
        if run_id is not None:
            condition += " AND owner_run = :run_id"
        values = {**fields, "campaign": campaign, "key": key, "run_id": run_id}
        with self._transaction(synced=synced) as db:
            changed = db.execute(
                f"UPDATE messages SET {assignments} WHERE {condition}",  # noqa: S608 - names are ours
                {**values, "more_attempts": more_attempts},
            ).rowcount
            if changed != 1:
                raise LedgerError(
                    f"The ledger record of {key!r} in campaign {campaign!r} is no longer held "
                    "by this run.",
                    "Another run took it over; look at the ledger before sending again.",
                )
