"""What the ledger learns after "sent": delivery reports and their findings, the payment
references messages carried and the payments matched to them, and the reminder campaigns.

After "sent": delivery reports read from the INBOX make a sent message ``bounced`` (a permanent
failure) or ``delayed`` (the server still tries; a later report supersedes it), each report
remembered once; the reference (and amount) a message's QR-bill asked to be paid with is kept,
and each credit of the bank matched to it under the bank's identity, so nothing counts twice;
and which campaign is which reminder level of which other. A bounced key is sent again only when
its recipients changed or the user says so (``resend_of`` keeps the Message-ID that bounced).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from docmail_nb._store.ledger_store import LedgerStore
from docmail_nb._store.records import (
    Bounce,
    Entry,
    Payment,
    PaymentReference,
    ReminderSent,
    after_report,
)
from docmail_nb._store.sqlite_file import entry_from_row

__all__ = ["AfterSentRecords"]


class AfterSentRecords(LedgerStore):
    """Delivery reports, payment references, payments and reminder campaigns in the ledger."""

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
