"""Reminders: a template with ``Reminder-Of: <campaign>`` and ``Reminder-Level: N``.

A reminder goes only to a key of that campaign that was delivered (sent, or delayed: the
server still tries) and did not bounce, is not paid in full, and has not had level N yet (by
any reminder campaign); level N > 1 only after level N−1. It attaches the files the campaign's
message carried, exactly as they were sent: the documents made from a template (from the
documents-out folder) and the files of its Attachment lines, each checked against the sha256
the ledger recorded when it was sent. Its rows see three more names: ``days_overdue`` (today −
the row's ``due``, never below 0), ``open_amount`` (what is still to be paid) and
``paid_amount``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from docmail_nb._compose.templates import REMINDER_NAMES, MessageTemplate
from docmail_nb._compose.values import to_date
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.records import DocumentRecord, ReminderSent
from docmail_nb._store.status import KeyStatus, campaign_status
from docmail_nb.errors import TemplateError
from docmail_nb.words import setting

__all__ = ["REMINDER_NAMES", "Refused", "Reminders", "reminder_basis", "reminder_spec"]


def reminder_spec(template: MessageTemplate) -> tuple[str, int] | None:
    """(the campaign reminded of, the level), or None for a template that is no reminder."""
    if template.reminder_of is None:
        return None
    return template.reminder_of, template.reminder_level


@dataclass(frozen=True)
class Refused:
    """Why a key gets no reminder now: ``problem`` True when the row must be fixed."""

    reason: str
    problem: bool = False
    hint: str = ""


@dataclass
class Reminders:
    """What the ledger says about the campaign reminded of, for one reminder run."""

    of: str
    level: int
    campaign: str  # the reminder's own campaign
    today: dt.date
    statuses: dict[str, KeyStatus] = field(default_factory=dict)
    documents: dict[str, list[DocumentRecord]] = field(default_factory=dict)
    sent: dict[str, dict[int, str]] = field(default_factory=dict)  # key → level → campaign

    def refusal(self, key: str) -> Refused | None:
        """Why ``key`` gets no reminder at this level now; None when it does."""
        status = self.statuses.get(key)
        if status is None:
            return Refused(f"not sent in campaign {self.of!r}")
        if status.sent_state == "bounced":
            return Refused(
                f"bounced ({status.status_code} {status.bounced_to}); fix the address and "
                f"send campaign {self.of!r} again"
            )
        if not status.delivered:
            return Refused(f"not delivered in campaign {self.of!r} ({status.sent_state})")
        if status.paid_in_full:
            return Refused(
                f"paid ({status.currency} {status.paid:.2f} booked {status.paid_on})".replace(
                    "  ", " "
                )
            )
        levels = self.sent.get(key, {})
        other = levels.get(self.level)
        if other is not None:
            where = "" if other == self.campaign else f" (campaign {other!r})"
            return Refused(f"reminder level {self.level} already sent{where}")
        if self.level > 1 and (self.level - 1) not in levels:
            return Refused(f"reminder level {self.level - 1} not sent yet")
        return None

    def values(self, key: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row's extra names: days_overdue, open_amount, paid_amount."""
        status = self.statuses.get(key)
        due = row.get("due")
        overdue: int | None = None
        if due is not None:
            try:
                overdue = max((self.today - to_date(due)).days, 0)
            except (ValueError, TypeError):
                overdue = None
        paid = status.paid if status is not None else Decimal(0)
        open_amount = status.open_amount if status is not None else None
        return {"days_overdue": overdue, "open_amount": open_amount, "paid_amount": paid}

    def attachments(self, key: str) -> tuple[list[tuple[Path, str]], Refused | None]:
        """(path, file name) of each document sent with ``key``, each as the ledger hashed it."""
        records = self.documents.get(key, [])
        if not records:
            return [], Refused(
                f"campaign {self.of!r} recorded no file sent with {key!r} to attach",
                problem=True,
                hint="Messages sent before docmail kept what it attached have no record: add "
                "Attachment: lines to the reminder for them.",
            )
        found: list[tuple[Path, str]] = []
        for record in records:
            path = Path(record.path)
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                return [], Refused(
                    f"the document {record.name} sent in campaign {self.of!r} cannot be read "
                    f"({exc.strerror or exc})",
                    problem=True,
                    hint=f"Put {path} back as it was sent (from a backup).",
                )
            if digest != record.sha256:
                return [], Refused(
                    f"the document {record.name} is no longer the one sent in campaign "
                    f"{self.of!r} (its sha256 differs from the ledger's)",
                    problem=True,
                    hint=f"Restore {path} as it was sent; a reminder carries the very PDF sent.",
                )
            found.append((path, record.name))
        return found, None


def reminder_basis(
    ledger: Ledger | None,
    template: MessageTemplate,
    campaign: str,
    today: dt.date | None = None,
) -> Reminders | None:
    """The ledger's view for a reminder template (None for any other template)."""
    spec = reminder_spec(template)
    if spec is None:
        return None
    of, level = spec
    if of == campaign:
        raise TemplateError(
            f"Template {template.name!r}: Reminder-Of names its own campaign {of!r}.",
            "Name the campaign of the invoices (the invoice template's name, or its "
            f"{setting('campaign')}), and give the reminder its own name.",
        )
    basis = Reminders(of, level, campaign, today or dt.date.today())
    if ledger is None:
        return basis
    basis.statuses = {s.key: s for s in campaign_status(ledger, of)}
    for record in ledger.documents(of):
        basis.documents.setdefault(record.key, []).append(record)
    sent: list[ReminderSent] = ledger.reminders(of)
    for item in sent:
        basis.sent.setdefault(item.key, {})[item.level] = item.campaign
    return basis
