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

Its parts, one class each that ``Ledger`` joins: the store opened, its transactions and
durability (``ledger_store``), runs and their liveness (``ledger_runs``), the mailbox's limits
and usage windows (``ledger_limits``), the copies owed to the Sent folder (``ledger_copies``),
and what is learnt after "sent" (``ledger_after_sent``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from docmail_nb._store.ledger_after_sent import AfterSentRecords
from docmail_nb._store.ledger_copies import SentCopies
from docmail_nb._store.ledger_limits import DAY, LedgerLimits
from docmail_nb._store.ledger_runs import PLACEHOLDER, LedgerRuns
from docmail_nb._store.ledger_store import Store, default_ledger_target
from docmail_nb._store.postgres import is_url, masked_url
from docmail_nb._store.records import Claim, DocumentRecord, Entry, Window, rule
from docmail_nb._store.sqlite_file import entry_from_row, refused_json
from docmail_nb.words import Decision

__all__ = [
    "Ledger",
    "LedgerLike",
    "existing_ledger",
    "ledger_name",
    "opened_ledger",
]


def ledger_name(ledger: Ledger | str | Path | None = None) -> str:
    """How a ledger is shown to people: its file, or its URL with the password as ``***``;
    None names the default ledger."""
    if isinstance(ledger, Ledger):
        return ledger.where
    target = ledger if ledger is not None else default_ledger_target()
    return masked_url(str(target)) if is_url(target) else str(target)


# a claim writes the message as "planned", owned by the claiming run
_CLAIM_NEW = (
    "INSERT INTO messages (campaign, key, state, content_hash, message_id, rows, account, "
    "recipients, accepted, refused, reply, error, attempts, owner_run, created_at, updated_at, "
    "attempted_at, sent_at) VALUES (:campaign, :key, 'planned', :content_hash, :message_id, "
    ":rows, :account, :recipients, '[]', '{}', '', '', 0, :owner_run, :now, :now, NULL, NULL)"
)
_CLAIM_AGAIN = (
    "UPDATE messages SET state = 'planned', content_hash = :content_hash, "
    "resend_of = CASE WHEN state = 'bounced' THEN message_id ELSE resend_of END, "
    "message_id = :message_id, rows = :rows, account = :account, recipients = :recipients, "
    "owner_run = :owner_run, updated_at = :now WHERE campaign = :campaign AND key = :key"
)


def _found_in_sent(entry: Entry | None) -> str:
    """The ledger's words for a message settled from the Sent folder ("" for any other)."""
    return entry.reply if entry is not None and entry.copy == "found" else ""


class Ledger(LedgerRuns, LedgerLimits, SentCopies, AfterSentRecords):
    """The ledger, in an SQLite file or a PostgreSQL database; safe to share between threads
    and processes (and, in PostgreSQL, machines)."""

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
                f"DELETE FROM messages WHERE campaign = ? AND key = ? AND {PLACEHOLDER}",  # noqa: S608
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
