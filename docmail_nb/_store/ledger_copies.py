"""The ledger's record of the mailbox: the copies owed to the Sent folder, and unknown messages
settled from what the mailbox holds.

Beside its state, a sent message may owe a copy in the mailbox's Sent folder (``copy``):
"due" (the bytes wait in the ledger until an IMAP APPEND succeeds, tried again by every run),
"appended", or "found" (the mailbox already had it). Sending and copying are separate: a copy
that fails never makes a message go out again.
"""

from __future__ import annotations

from typing import Literal

from docmail_nb._store.ledger_store import LedgerStore
from docmail_nb._store.records import Entry
from docmail_nb._store.sqlite_file import entry_from_row

__all__ = ["SentCopies"]


class SentCopies(LedgerStore):
    """Copies due in Sent (appended, found, or failed and due again); unknowns settled."""

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
