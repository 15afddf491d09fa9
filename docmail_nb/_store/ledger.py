"""The ledger: a record of every message, so that each one goes out exactly once.

Two stores keep it, behind this one class and its one send rule (``records.rule``): an
SQLite file (the default: ``ledger.sqlite``, or ``--ledger FILE``), right for every run on one
machine; and a PostgreSQL database (``--ledger postgresql://…``, ``DOCMAIL_LEDGER``), shared by
senders on several machines (``postgres``).

One record per (campaign, key). States::

    planned ──► sending ──► sent
       ▲           ├──────► failed     (the server refused it for good; tried again on a rerun)
       │           ├──────► deferred   (temporary trouble or not attempted; tried again)
       │           └──────► unknown    (lost after DATA began: the server may have it)
       └── released (not attempted in this run)

Beside its state, a sent message may owe a copy in the mailbox's Sent folder (``copy``):
"due" (the bytes wait in the ledger until an IMAP APPEND succeeds, tried again by every run),
"appended", or "found" (the mailbox already had it). Sending and copying are separate: a copy
that fails never makes a message go out again.

A run claims a message in a transaction before sending it, recording its owner (run id, pid,
host); in SQLite the file's write lock, in PostgreSQL a lock on the message and one on the
mailbox's limits, make two runs unable to both win a claim. Another run skips a message
claimed by a live run; a message left "sending" by a run that died becomes "unknown" and is
never resent unless asked. A run is alive while its process is (SQLite: same host; another
host's run while its heartbeat is recent) or while its database session is (PostgreSQL: gone
the moment its connection ends).

Documents made for a message (a PDF per row, see ``documents``) are recorded beside it, one
record per (campaign, key, file name): the sha256 of the PDF and a fingerprint of what it was
made from. A rerun finds the file as recorded and makes nothing new.

After "sent": delivery reports read from the INBOX make a sent message ``bounced`` (a permanent
failure) or ``delayed`` (the server still tries; a later report supersedes it), each report
remembered once; the reference (and amount) a message's QR-bill asked to be paid with is kept,
and each credit of the bank matched to it under the bank's identity, so nothing counts twice;
and which campaign is which reminder level of which other. A bounced key is sent again only when
its recipients changed or the user says so (``resend_of`` keeps the Message-ID that bounced).

Durability: in WAL mode every commit survives a crash of the process; only the "sending" mark
(just before DATA) and the end of a run are also synced to disk (``synchronous=FULL``), and that
sync makes every earlier commit durable too. A power loss can thus only undo records written
after the last "sending" mark, which leaves that message "sending" (then "unknown"), never resent.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from docmail_nb._store.postgres import PostgresStore, is_url, masked_url
from docmail_nb._store.records import (
    Bounce,
    Claim,
    DocumentRecord,
    Entry,
    Payment,
    PaymentReference,
    ReminderSent,
    Window,
    after_report,
    rule,
)
from docmail_nb._store.sqlite_file import (
    SCHEMA,
    SCHEMA_VERSION,
    SqliteStore,
    entry_from_row,
    refused_json,
    schema_version,
)
from docmail_nb.errors import ConfigError, LedgerError
from docmail_nb.words import Decision, setting

__all__ = [
    "DAY",
    "STALE_AFTER",
    "Ledger",
    "LedgerLike",
    "Store",
    "default_ledger_path",
    "default_ledger_target",
    "existing_ledger",
    "ledger_name",
    "ledger_target",
    "opened_ledger",
]


#: a run on another host whose heartbeat is older than this is taken for dead
STALE_AFTER = 15 * 60.0
DAY = 24 * 3600.0

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

# runs of this process that are still going; a claim by any other run of this pid is stale
_ACTIVE_RUNS: set[str] = set()


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


def ledger_name(ledger: Ledger | str | Path | None = None) -> str:
    """How a ledger is shown to people: its file, or its URL with the password as ``***``;
    None names the default ledger."""
    if isinstance(ledger, Ledger):
        return ledger.where
    target = ledger if ledger is not None else default_ledger_target()
    return masked_url(str(target)) if is_url(target) else str(target)


#: the ledger's store: an SQLite file or a PostgreSQL database (the same methods)
Store = SqliteStore | PostgresStore


# a claim writes the message as "planned", owned by the claiming run
_CLAIM_NEW = (
    "INSERT INTO messages (campaign, key, state, content_hash, message_id, rows, account, "
    "recipients, accepted, refused, reply, error, attempts, owner_run, created_at, updated_at, "
    "attempted_at, sent_at) VALUES (:campaign, :key, 'planned', :content_hash, :message_id, "
    ":rows, :account, :recipients, '[]', '{}', '', '', 0, :owner_run, :now, :now, NULL, NULL)"
)
#: a message a run reserved (``Ledger.reserve``) and never claimed: nothing but its owner
_PLACEHOLDER = "owner_run = ? AND state = 'planned' AND message_id = '' AND attempts = 0"
_CLAIM_AGAIN = (
    "UPDATE messages SET state = 'planned', content_hash = :content_hash, "
    "resend_of = CASE WHEN state = 'bounced' THEN message_id ELSE resend_of END, "
    "message_id = :message_id, rows = :rows, account = :account, recipients = :recipients, "
    "owner_run = :owner_run, updated_at = :now WHERE campaign = :campaign AND key = :key"
)


def _found_in_sent(entry: Entry | None) -> str:
    """The ledger's words for a message settled from the Sent folder ("" for any other)."""
    return entry.reply if entry is not None and entry.copy == "found" else ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ledger:
    """The ledger, in an SQLite file or a PostgreSQL database; safe to share between threads
    and processes (and, in PostgreSQL, machines)."""

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

    def __enter__(self) -> Ledger:
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

    # -- runs ---------------------------------------------------------------------------
    def begin_run(self) -> str:
        """Register a new run of this process and return its id."""
        run_id = uuid.uuid4().hex
        now = self._clock()
        with self._lock, self._plain_errors():
            self._db.hold_run(run_id)  # PostgreSQL: the run lives as long as this session
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                (run_id, os.getpid(), self._host, now, now),
            )
        _ACTIVE_RUNS.add(run_id)
        return run_id

    def end_run(self, run_id: str) -> None:
        """Release what the run claimed but did not attempt; it is no longer live."""
        _ACTIVE_RUNS.discard(run_id)
        with self._transaction(synced=True) as db:
            db.execute(f"DELETE FROM messages WHERE {_PLACEHOLDER}", (run_id,))  # noqa: S608
            db.execute(
                "UPDATE messages SET owner_run = NULL WHERE owner_run = ? "
                "AND state IN ('planned', 'failed', 'deferred')",
                (run_id,),
            )
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM connections WHERE run_id = ?", (run_id,))
        with self._lock, self._plain_errors():
            self._db.release_run(run_id)

    # -- a mailbox's connections, over every sender ------------------------------------------
    def take_connection(self, run_id: str, account: str, cap: int) -> bool:
        """Take one of the ``cap`` connection places of ``account`` for this run; False when
        live runs (of any sender sharing the ledger) hold them all."""
        now = self._clock()
        with self._transaction() as db:
            db.serialize("connections", account)
            held = {
                int(row["slot"]): row["run_id"]
                for row in db.execute(
                    "SELECT slot, run_id FROM connections WHERE account = ?", (account,)
                ).fetchall()
            }
            for slot in range(cap):
                owner = held.get(slot)
                if owner is None or (owner != run_id and not self._run_alive(db, owner)):
                    db.execute(
                        "INSERT OR REPLACE INTO connections VALUES (?, ?, ?, ?)",
                        (account, slot, run_id, now),
                    )
                    return True
        return False

    def release_connection(self, run_id: str, account: str) -> None:
        """Give back one connection place this run holds for ``account``."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT slot FROM connections WHERE account = ? AND run_id = ? ORDER BY slot",
                (account, run_id),
            ).fetchone()
            if row is not None:
                db.execute(
                    "DELETE FROM connections WHERE account = ? AND slot = ?",
                    (account, row["slot"]),
                )

    def _run_alive_now(self, run_id: str | None) -> bool:
        """Whether the run ``run_id`` is still going (asked outside a transaction)."""
        with self._lock, self._plain_errors():
            return self._run_alive(self._db, run_id)

    def _run_alive(self, db: Store, run_id: str | None) -> bool:
        if run_id is None:
            return False
        if run_id in _ACTIVE_RUNS:
            return True
        session = db.run_alive(run_id)
        if session is not None:  # PostgreSQL: its session holds the run's lock, or is gone
            return session
        run = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if run is None:
            return False
        if run["host"] != self._host:
            return bool(self._clock() - run["heartbeat_at"] < STALE_AFTER)
        if run["pid"] == os.getpid():
            return False  # a run of this very process that is no longer active
        return _pid_alive(int(run["pid"]))

    # -- reading --------------------------------------------------------------------------
    def get(self, campaign: str, key: str) -> Entry | None:
        with self._lock, self._plain_errors():
            return self._read(self._db, campaign, key)

    def entries(self, campaign: str | None = None) -> list[Entry]:
        with self._lock, self._plain_errors():
            if campaign is None:
                rows = self._db.execute("SELECT * FROM messages ORDER BY campaign, created_at")
            else:
                rows = self._db.execute(
                    "SELECT * FROM messages WHERE campaign = ? ORDER BY created_at", (campaign,)
                )
            return [entry_from_row(row) for row in rows.fetchall()]

    def document(self, campaign: str, key: str, name: str) -> DocumentRecord | None:
        """The record of the document ``name`` made for (campaign, key), if there is one."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM documents WHERE campaign = ? AND key = ? AND name = ?",
                (campaign, key, name),
            ).fetchone()
        return DocumentRecord(**dict(row)) if row is not None else None

    def documents(self, campaign: str | None = None) -> list[DocumentRecord]:
        """Every document record (of one campaign), in the order they were made."""
        query = "SELECT * FROM documents"
        args: tuple[str, ...] = ()
        if campaign is not None:
            query, args = query + " WHERE campaign = ?", (campaign,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rendered_at, key, name", args).fetchall()
        return [DocumentRecord(**dict(row)) for row in rows]

    def record_document(
        self, campaign: str, key: str, name: str, *, path: str, sha256: str, fingerprint: str
    ) -> None:
        """Record (or replace the record of) a document made for (campaign, key)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                (campaign, key, name, path, sha256, fingerprint, self._clock()),
            )

    def usage_last_day(self, account: str) -> tuple[int, int]:
        """Messages and recipients sent (or possibly sent) by ``account`` in the last 24 hours."""
        return self.usage(account, DAY)

    def sent_elsewhere(self, campaign: str, keys: Sequence[str]) -> dict[str, str]:
        """Which of ``keys`` another campaign has sent (or may have): key → that campaign.

        A renamed template starts a new campaign (its name is the default), and its keys
        would all look new: this is how a run notices and says so before sending.
        """
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(keys))
        with self._lock, self._plain_errors():
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, campaign FROM messages WHERE campaign != ? AND key IN ({marks}) "  # noqa: S608 - placeholders only
                    "AND state IN ('sent', 'sending', 'unknown', 'delayed', 'bounced') "
                    "ORDER BY updated_at",
                    (campaign, *chunk),
                ).fetchall()
                found.update((row["key"], row["campaign"]) for row in rows)
        return found

    def usage(self, account: str, seconds: float) -> tuple[int, int]:
        """Messages and recipients sent (or possibly sent) by ``account``, all runs, in the
        last ``seconds``."""
        with self._lock, self._plain_errors():
            attempts = self._attempts(self._db, account, seconds)
        return len(attempts), sum(count for _, count in attempts)

    def attempt_ages(self, account: str, seconds: float) -> list[float]:
        """How many seconds ago each message of ``account`` went out, within ``seconds``."""
        with self._lock:
            now = self._clock()
            return [now - at for at, _ in self._attempts(self._db, account, seconds)]

    def _attempts(self, db: Store, account: str, seconds: float) -> list[tuple[float, int]]:
        rows = db.execute(
            "SELECT attempted_at, recipients FROM messages WHERE account = ? "
            "AND attempted_at >= ? "
            "AND state IN ('sending', 'sent', 'unknown', 'delayed', 'bounced') "
            "ORDER BY attempted_at",
            (account, self._clock() - seconds),
        ).fetchall()
        return [(row["attempted_at"], len(json.loads(row["recipients"]))) for row in rows]

    def pace(
        self, run_id: str, campaign: str, key: str, account: str, capacity: int, window: float
    ) -> float:
        """Take a place for this claimed message in the mailbox's rolling ``window``, which
        holds at most ``capacity`` messages of every run and every sender of the ledger.

        Returns 0.0 when the place is taken (the message counts from now on), else how many
        seconds to wait before asking again. One sender asks at a time per mailbox.
        """
        now = self._clock()
        with self._transaction() as db:
            db.serialize("mailbox", account)
            rows = db.execute(
                "SELECT attempted_at FROM messages WHERE account = ? AND attempted_at > ? "
                "AND NOT (campaign = ? AND key = ?) ORDER BY attempted_at",
                (account, now - window, campaign, key),
            ).fetchall()
            if len(rows) < capacity:
                db.execute(
                    "UPDATE messages SET attempted_at = ? WHERE campaign = ? AND key = ? "
                    "AND owner_run = ?",
                    (now, campaign, key, run_id),
                )
                return 0.0
            return max(float(rows[len(rows) - capacity]["attempted_at"]) + window - now, 0.001)

    def room(self, account: str, windows: Sequence[Window], recipients: Sequence[int]) -> int:
        """How many of these messages (their recipient counts, in order) fit the windows now."""
        with self._lock:
            used = [
                (len(attempts), sum(count for _, count in attempts), messages, people)
                for seconds, messages, people in windows
                for attempts in [self._attempts(self._db, account, seconds)]
            ]
        for fitted, count in enumerate(recipients):
            for index, (sent, reached, messages, people) in enumerate(used):
                if (messages is not None and sent + 1 > messages) or (
                    people is not None and reached + count > people
                ):
                    return fitted
                used[index] = (sent + 1, reached + count, messages, people)
        return len(recipients)

    def _window_exceeded(
        self, db: Store, account: str, recipients: int, windows: Sequence[Window]
    ) -> tuple[float, float] | None:
        """The first window one more message would exceed, and when it fits again."""
        now = self._clock()
        for seconds, max_messages, max_recipients in windows:
            attempts = self._attempts(db, account, seconds)
            sent = len(attempts)
            reached = sum(count for _, count in attempts)
            too_many = max_messages is not None and sent + 1 > max_messages
            too_wide = max_recipients is not None and reached + recipients > max_recipients
            if not (too_many or too_wide):
                continue
            free_at = now
            left_messages, left_recipients = sent, reached
            for at, count in attempts:  # oldest first: when enough of them left the window
                fits_messages = max_messages is None or left_messages + 1 <= max_messages
                fits_recipients = (
                    max_recipients is None or left_recipients + recipients <= max_recipients
                )
                if fits_messages and fits_recipients:
                    break
                left_messages -= 1
                left_recipients -= count
                free_at = at + seconds
            return seconds, free_at
        return None

    # -- claiming and recording ------------------------------------------------------------
    def claim(
        self,
        run_id: str,
        campaign: str,
        key: str,
        *,
        content_hash: str,
        message_id: str,
        rows: Sequence[int],
        recipients: Sequence[str],
        account: str = "",
        resend_unknown: bool = False,
        resend_changed: bool = False,
        resend_bounced: bool = False,
        messages_per_day: int | None = None,
        recipients_per_day: int | None = None,
        windows: Sequence[Window] = (),
    ) -> Claim:
        """Decide, atomically, whether this run may send the message now (see :func:`rule`).

        ``windows`` are rolling limits counted over every run of ``account`` in this ledger;
        ``messages_per_day``/``recipients_per_day`` add a 24-hour one.
        """
        now = self._clock()
        with self._transaction() as db:
            db.serialize("message", campaign, key)  # two senders never both win a claim
            if windows or messages_per_day is not None or recipients_per_day is not None:
                db.serialize("mailbox", account)  # its limits are counted one claim at a time
            db.execute("UPDATE runs SET heartbeat_at = ? WHERE run_id = ?", (now, run_id))
            current = self._read(db, campaign, key)
            decision, crashed = rule(
                current,
                lambda: content_hash,
                run_id=run_id,
                owner_alive=lambda owner: self._run_alive(db, owner),
                resend_unknown=resend_unknown,
                resend_changed=resend_changed,
                recipients=recipients,
                resend_bounced=resend_bounced,
            )
            if crashed:
                self._mark_crashed(db, campaign, key)
            if decision != "claimed":
                return Claim(
                    decision,
                    found_in_sent=_found_in_sent(current),
                    bounce=current.error if current is not None and decision == "bounced" else "",
                )
            limits = list(windows)
            if messages_per_day is not None or recipients_per_day is not None:
                limits.append((DAY, messages_per_day, recipients_per_day))
            over = self._window_exceeded(db, account, len(recipients), limits) if limits else None
            if over is not None:
                return Claim("capped", window=over[0], free_at=over[1])
            values = {
                "campaign": campaign,
                "key": key,
                "content_hash": content_hash,
                "message_id": message_id,
                "rows": ",".join(str(r) for r in rows),
                "account": account,
                "recipients": json.dumps(list(recipients)),
                "owner_run": run_id,
                "now": now,
            }
            db.execute(_CLAIM_NEW if current is None else _CLAIM_AGAIN, values)
            return Claim("claimed")

    def reserve(self, run_id: str, campaign: str, key: str) -> bool:
        """Hold a message for this run before its documents are drawn and it is built; False
        when another live run holds it (it is that run's to send).

        A new message is recorded "planned" with nothing but its owner (a placeholder that
        ``claim`` fills, and that goes again when the run does not send it); a planned, failed
        or deferred one gets this run as its owner. Anything else is left for ``claim`` to
        judge. Several senders on one campaign thus share the drawing too: each draws only
        the documents of the messages it holds. What a run holds and does not send is
        released with the run (or when the run dies).
        """
        now = self._clock()
        with self._transaction() as db:
            db.serialize("message", campaign, key)
            current = self._read(db, campaign, key)
            if current is None:
                db.execute(
                    _CLAIM_NEW,
                    {
                        "campaign": campaign, "key": key, "content_hash": "", "message_id": "",
                        "rows": "", "account": "", "recipients": "[]", "owner_run": run_id,
                        "now": now,
                    },
                )  # fmt: skip
                return True
            owner = current.owner_run
            if owner is not None and owner != run_id and self._run_alive(db, owner):
                return False  # another sender's
            if current.state in ("planned", "failed", "deferred") and owner != run_id:
                db.execute(
                    "UPDATE messages SET owner_run = ? WHERE campaign = ? AND key = ?",
                    (run_id, campaign, key),
                )
            return True

    def unreserve(self, run_id: str, campaign: str, key: str) -> None:
        """Let go of a message this run held but will not send (it could not be built)."""
        with self._transaction() as db:
            db.execute(
                f"DELETE FROM messages WHERE campaign = ? AND key = ? AND {_PLACEHOLDER}",  # noqa: S608
                (campaign, key, run_id),
            )
            db.execute(
                "UPDATE messages SET owner_run = NULL WHERE campaign = ? AND key = ? "
                "AND owner_run = ? AND state IN ('planned', 'failed', 'deferred')",
                (campaign, key, run_id),
            )

    def decide(
        self,
        campaign: str,
        key: str,
        content_hash: Callable[[], str],
        *,
        resend_unknown: bool = False,
        resend_changed: bool = False,
        recipients: Sequence[str] | None = None,
        resend_bounced: bool = False,
    ) -> Decision:
        """What ``claim`` would decide for a new run now; reads only, changes nothing.

        "claimed" means a run would send it. Dry runs, the confirmation question and the
        pending count ask this, so they count exactly what a real run sends.
        """
        with self._lock:
            current = self._read(self._db, campaign, key)
            decision, _crashed = rule(
                current,
                content_hash,
                run_id=None,
                owner_alive=lambda owner: self._run_alive(self._db, owner),
                resend_unknown=resend_unknown,
                resend_changed=resend_changed,
                recipients=recipients,
                resend_bounced=resend_bounced,
            )
        return decision

    def _mark_crashed(self, db: Store, campaign: str, key: str) -> None:
        db.execute(
            "UPDATE messages SET state = 'unknown', owner_run = NULL, updated_at = ?, "
            "error = ? WHERE campaign = ? AND key = ?",
            (
                self._clock(),
                "The run sending this message stopped before the server answered.",
                campaign,
                key,
            ),
        )

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

    def mark_sending(self, run_id: str, campaign: str, key: str) -> None:
        """Synced to disk just before DATA: from now on a crash leaves the message "unknown"."""
        now = self._clock()
        self._update(campaign, key, run_id, synced=True, state="sending", attempted_at=now)

    def mark_sent(
        self,
        run_id: str,
        campaign: str,
        key: str,
        *,
        accepted: Sequence[str],
        refused: dict[str, tuple[int, str]] | None = None,
        reply: str = "",
        attempts: int = 1,
        copy: bytes | None = None,
    ) -> None:
        """Committed right after the server's 250 to DATA.

        ``copy``: the bytes to append to the Sent folder; kept until ``mark_copied``.
        """
        self._update(
            campaign,
            key,
            run_id,
            more_attempts=attempts,
            state="sent",
            accepted=json.dumps(list(accepted)),
            refused=refused_json(refused),
            reply=reply,
            error="",
            sent_at=self._clock(),
            owner_run=None,
            copy="due" if copy is not None else "",
            copy_data=copy,
            copy_error="",
        )

    def mark_outcome(
        self,
        run_id: str,
        campaign: str,
        key: str,
        state: Literal["failed", "deferred", "unknown"],
        *,
        error: str,
        reply: str = "",
        refused: dict[str, tuple[int, str]] | None = None,
        attempts: int = 0,
    ) -> None:
        """Record that the message was not (or may not have been) delivered."""
        self._update(
            campaign,
            key,
            run_id,
            more_attempts=attempts,
            state=state,
            error=error,
            reply=reply,
            refused=refused_json(refused),
            owner_run=None,
        )

    def release(self, run_id: str, campaign: str, key: str) -> None:
        """Give back a claimed message that this run did not attempt."""
        self._update(campaign, key, run_id, owner_run=None)

    # -- the mailbox's record --------------------------------------------------------------
    def copies_due(self, account: str) -> list[tuple[Entry, bytes]]:
        """Sent messages of ``account`` whose copy in Sent is still owed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM messages WHERE account = ? "
                "AND state IN ('sent', 'delayed', 'bounced') AND copy = 'due' "
                "AND copy_data IS NOT NULL ORDER BY sent_at",
                (account,),
            ).fetchall()
        return [(entry_from_row(row), bytes(row["copy_data"])) for row in rows]

    def mark_copied(
        self, campaign: str, key: str, how: Literal["appended", "found"] = "appended"
    ) -> None:
        """The copy is in Sent: forget its bytes."""
        self._update(
            campaign, key, None, copy=how, copy_data=None, copy_error="", copied_at=self._clock()
        )

    def mark_copy_failed(self, campaign: str, key: str, error: str) -> None:
        """The copy could not be appended; it stays due for the next run."""
        self._update(campaign, key, None, copy_error=error)

    def unknowns(self, account: str | None = None, campaign: str | None = None) -> list[Entry]:
        """Messages whose fate is unknown, optionally of one account and campaign."""
        query = "SELECT * FROM messages WHERE state = 'unknown'"
        args: list[str] = []
        if account is not None:
            query += " AND account = ?"
            args.append(account)
        if campaign is not None:
            query += " AND campaign = ?"
            args.append(campaign)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at", args).fetchall()
        return [entry_from_row(row) for row in rows]

    def settle(self, campaign: str, key: str, *, found: bool, note: str) -> bool:
        """Settle an unknown message from the mailbox: found → sent; not found → deferred,
        so the next run sends it. False when it was no longer unknown."""
        now = self._clock()
        with self._transaction(synced=True) as db:
            if found:
                changed = db.execute(
                    "UPDATE messages SET state = 'sent', sent_at = COALESCE(attempted_at, ?), "
                    "error = '', reply = ?, copy = 'found', copied_at = ?, updated_at = ? "
                    "WHERE campaign = ? AND key = ? AND state = 'unknown'",
                    (now, note, now, now, campaign, key),
                ).rowcount
            else:
                changed = db.execute(
                    "UPDATE messages SET state = 'deferred', error = ?, owner_run = NULL, "
                    "updated_at = ? WHERE campaign = ? AND key = ? AND state = 'unknown'",
                    (note, now, campaign, key),
                ).rowcount
        return bool(changed)

    # -- after "sent": delivery reports ----------------------------------------------------
    def first_sent_at(self, account: str) -> float | None:
        """When the oldest message of ``account`` that went out was sent (reports come later)."""
        with self._lock, self._plain_errors():
            row = self._db.execute(
                "SELECT MIN(COALESCE(sent_at, attempted_at)) FROM messages WHERE account = ? "
                "AND state IN ('sent', 'delayed', 'bounced', 'unknown')",
                (account,),
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def find_message(self, account: str, message_id: str) -> Entry | None:
        """The message of ``account`` with this Message-ID (as sent, with angle brackets)."""
        with self._lock, self._plain_errors():
            row = self._db.execute(
                "SELECT * FROM messages WHERE account = ? AND message_id = ?",
                (account, message_id),
            ).fetchone()
        return entry_from_row(row) if row is not None else None

    def report_read(self, account: str, report: str) -> bool:
        """Whether the INBOX message ``report`` was read before (as a report or not)."""
        with self._lock, self._plain_errors():
            row = self._db.execute(
                "SELECT 1 FROM reports WHERE account = ? AND report = ?", (account, report)
            ).fetchone()
        return row is not None

    def remember_report(self, account: str, report: str, outcome: str) -> None:
        """Remember an INBOX message looked at, so it is not looked at again."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?)",
                (account, report, outcome, self._clock()),
            )

    def record_report(self, account: str, report: str, findings: Sequence[Bounce]) -> list[Bounce]:
        """Record what one report says, once; returns the findings that changed a message.

        A permanent failure makes a sent (or delayed) message ``bounced``; a delay makes a
        sent one ``delayed``; a later delivery makes a delayed one ``sent`` again. A finding
        about a Message-ID the key no longer has (it was sent again since) changes nothing.
        """
        applied: list[Bounce] = []
        now = self._clock()
        with self._transaction(synced=True) as db:
            if db.execute(
                "SELECT 1 FROM reports WHERE account = ? AND report = ?", (account, report)
            ).fetchone():
                return []
            outcome = "matched" if findings else "names no message of this ledger"
            db.execute("INSERT INTO reports VALUES (?, ?, ?, ?)", (account, report, outcome, now))
            for bounce in findings:
                current = self._read(db, bounce.campaign, bounce.key)
                if current is None or current.message_id != bounce.message_id:
                    continue
                state = after_report(current.state, bounce.action)
                if state is None:
                    continue
                db.execute(
                    "INSERT INTO bounces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        bounce.campaign, bounce.key, bounce.message_id, bounce.recipient,
                        bounce.action, bounce.status, bounce.diagnostic, bounce.reported,
                        bounce.report_id, account, report, now,
                    ),
                )  # fmt: skip
                error = (
                    f"{bounce.status} {bounce.recipient}: {bounce.diagnostic}".strip()
                    if state != "sent"
                    else ""
                )
                db.execute(
                    "UPDATE messages SET state = ?, error = ?, updated_at = ?, "
                    "sent_at = COALESCE(sent_at, attempted_at, ?) WHERE campaign = ? AND key = ?",
                    (state, error, now, now, bounce.campaign, bounce.key),
                )
                applied.append(bounce)
        return applied

    def bounces(self, campaign: str | None = None) -> list[Bounce]:
        """Every finding of delivery reports recorded (of one campaign), oldest first."""
        query = "SELECT * FROM bounces"
        args: tuple[str, ...] = ()
        if campaign is not None:
            query, args = query + " WHERE campaign = ?", (campaign,)
        with self._lock, self._plain_errors():
            order = " ORDER BY recorded_at, report, recipient, action"  # one SQL for both stores
            rows = self._db.execute(query + order, args).fetchall()
        return [
            Bounce(
                **{name: row[name] for name in Bounce.__dataclass_fields__}  # same names
            )
            for row in rows
        ]

    # -- after "sent": payments --------------------------------------------------------------
    def record_reference(
        self,
        campaign: str,
        key: str,
        *,
        reference: str,
        kind: str,
        amount: Decimal | None,
        currency: str,
    ) -> None:
        """Keep the reference (and amount) a message asks to be paid with."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO payment_references VALUES (?, ?, ?, ?, ?, ?)",
                (
                    campaign, key, reference, kind,
                    None if amount is None else str(amount), currency,
                ),
            )  # fmt: skip

    def references(self, campaign: str | None = None) -> list[PaymentReference]:
        """The references kept (of one campaign)."""
        query = "SELECT * FROM payment_references"
        args: tuple[str, ...] = ()
        if campaign is not None:
            query, args = query + " WHERE campaign = ?", (campaign,)
        with self._lock, self._plain_errors():
            rows = self._db.execute(query + " ORDER BY campaign, key", args).fetchall()
        return [_reference(row) for row in rows]

    def payment_references(
        self, references: Iterable[str], campaign: str | None = None
    ) -> dict[str, list[PaymentReference]]:
        """For each of ``references``, the messages that went out carrying it."""
        found: dict[str, list[PaymentReference]] = {}
        wanted = sorted(set(references))
        with self._lock, self._plain_errors():
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                query = (
                    "SELECT r.* FROM payment_references r JOIN messages m "  # noqa: S608 - placeholders only
                    "ON m.campaign = r.campaign AND m.key = r.key "
                    "WHERE m.state IN ('sent', 'delayed', 'bounced', 'unknown') "
                    f"AND r.reference IN ({marks})"
                )
                args: list[str] = list(chunk)
                if campaign is not None:
                    query += " AND r.campaign = ?"
                    args.append(campaign)
                for row in self._db.execute(query, args).fetchall():
                    found.setdefault(row["reference"], []).append(_reference(row))
        return found

    def record_payments(self, payments: Sequence[Payment]) -> set[str]:
        """Record the payments in one transaction; the identities not recorded before."""
        new: set[str] = set()
        now = self._clock()
        with self._transaction(synced=True) as db:
            for payment in payments:
                changed = db.execute(
                    "INSERT OR IGNORE INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        payment.identity, payment.campaign, payment.key, payment.reference,
                        str(payment.amount), payment.currency, payment.booked.isoformat(),
                        payment.debtor, payment.source, now,
                    ),
                ).rowcount  # fmt: skip
                if changed:
                    new.add(payment.identity)
        return new

    def payments(self, campaign: str | None = None) -> list[Payment]:
        """Every payment recorded (against messages of one campaign), in booking order."""
        query = "SELECT * FROM payments"
        args: tuple[str, ...] = ()
        if campaign is not None:
            query, args = query + " WHERE campaign = ?", (campaign,)
        with self._lock, self._plain_errors():
            rows = self._db.execute(query + " ORDER BY booked, recorded_at", args).fetchall()
        return [
            Payment(
                identity=row["identity"],
                campaign=row["campaign"],
                key=row["key"],
                reference=row["reference"],
                amount=Decimal(row["amount"]),
                currency=row["currency"],
                booked=date.fromisoformat(row["booked"]),
                debtor=row["debtor"],
                source=row["source"],
            )
            for row in rows
        ]

    # -- after "sent": reminders -------------------------------------------------------------
    def record_reminder_campaign(self, campaign: str, reminder_of: str, level: int) -> None:
        """Note that ``campaign`` is the reminder of level ``level`` of ``reminder_of``."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO reminder_campaigns VALUES (?, ?, ?)",
                (campaign, reminder_of, level),
            )

    def reminders(self, reminder_of: str | None = None) -> list[ReminderSent]:
        """The reminders that went out (or may have), of one campaign's keys or of all."""
        query = (
            "SELECT r.reminder_of, m.key, r.level, r.campaign FROM reminder_campaigns r "
            "JOIN messages m ON m.campaign = r.campaign "
            "WHERE m.state IN ('sending', 'sent', 'delayed', 'bounced', 'unknown')"
        )
        args: tuple[str, ...] = ()
        if reminder_of is not None:
            query, args = query + " AND r.reminder_of = ?", (reminder_of,)
        with self._lock, self._plain_errors():
            rows = self._db.execute(query + " ORDER BY r.level, m.key", args).fetchall()
        return [ReminderSent(row[0], row[1], int(row[2]), row[3]) for row in rows]


def _reference(row: Any) -> PaymentReference:
    return PaymentReference(
        campaign=row["campaign"],
        key=row["key"],
        reference=row["reference"],
        kind=row["kind"],
        amount=None if row["amount"] is None else Decimal(row["amount"]),
        currency=row["currency"],
    )


#: where a run records: a Ledger, a ledger file or PostgreSQL URL, or None for the default
LedgerLike = Ledger | str | Path | None


@contextmanager
def existing_ledger(ledger: LedgerLike) -> Iterator[Ledger | None]:
    """The ledger to consult without creating one: None when its file does not exist yet
    (a PostgreSQL ledger is opened, its tables made if the database has none)."""
    if isinstance(ledger, Ledger):
        yield ledger
        return
    target = ledger if ledger is not None else default_ledger_target()
    if not is_url(target) and not Path(target).exists():
        yield None
        return
    with Ledger(target) as opened:
        yield opened


@contextmanager
def opened_ledger(ledger: LedgerLike, clock: Callable[[], float] = time.time) -> Iterator[Ledger]:
    """The ledger a run records in: the one given, else opened (and created) from its path,
    keeping time by ``clock``."""
    if isinstance(ledger, Ledger):
        yield ledger
        return
    with Ledger(ledger, clock=clock) as opened:
        yield opened
