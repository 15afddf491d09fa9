"""Each message's state after "sent": from the ledger, the mailbox's reports and the bank.

One line per (campaign, key): the ledger's state (``sent``, ``unknown``, ``failed``,
``deferred``; ``bounced`` and ``delayed`` from delivery reports), replaced by ``paid``,
``partly paid`` or ``overpaid`` once payments are recorded against the amount its QR-bill (or
``Amount:`` header) asked for; beside it when, to whom, the last report's status code and reason,
the amount paid and when, and the reminder level reached. ``docmail status``, the send panel's
table and the scheduled notebook's summary all read it from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docmail_nb._store.ledger import Ledger
from docmail_nb._store.records import Bounce, Payment, PaymentReference

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "STATUS_COLUMNS",
    "KeyStatus",
    "campaign_status",
    "payment_state",
    "save_status",
    "state_counts",
    "status_frame",
    "status_lines",
    "status_records",
]

#: the columns of ``docmail status --report`` (a report's columns start with key and state)
STATUS_COLUMNS = (
    "key",
    "state",
    "campaign",
    "when",
    "recipients",
    "status_code",
    "reason",
    "amount",
    "paid",
    "paid_on",
    "open_amount",
    "reminder_level",
    "rows",
    "message_id",
)


@dataclass(frozen=True)
class KeyStatus:
    """One message's state after "sent", and what it rests on."""

    campaign: str
    key: str
    state: str
    sent_state: str  # the ledger's own state (sent, delayed, bounced, ...)
    when: float | None  # when it was sent (else last changed)
    recipients: tuple[str, ...]
    rows: tuple[int, ...]
    message_id: str
    status_code: str = ""  # of the last delivery report (5.1.1), or the server's refusal
    reason: str = ""
    bounced_to: str = ""
    amount: Decimal | None = None  # what the message asked for
    currency: str = ""
    paid: Decimal = Decimal(0)
    paid_on: dt.date | None = None  # booking date of the last payment
    reminder_level: int = 0
    resend_of: str = ""

    @property
    def open_amount(self) -> Decimal | None:
        """What is still to be paid (never below zero), or None when no amount is known."""
        if self.amount is None:
            return None
        return max(self.amount - self.paid, Decimal(0))

    @property
    def delivered(self) -> bool:
        """Sent and not bounced (a delayed message counts as sent)."""
        return self.sent_state in ("sent", "delayed")

    @property
    def paid_in_full(self) -> bool:
        return self.state in ("paid", "overpaid")

    @property
    def short(self) -> str:
        """The state with what matters most: "bounced 5.1.1", "partly paid 200.00 of 486.00"."""
        if self.paid and self.state in ("paid", "partly paid", "overpaid"):
            of = f" of {self.amount:.2f}" if self.amount is not None else ""
            words = f"{self.state} {self.paid:.2f}{of}"
            return words + (" (bounced)" if self.sent_state == "bounced" else "")
        if self.status_code:
            return f"{self.state} {self.status_code}"
        return self.state


def payment_state(amount: Decimal | None, paid: Decimal) -> str:
    """``paid``, ``partly paid``, ``overpaid``, or "" when nothing (net) was paid."""
    if paid <= 0:
        return ""
    if amount is None or paid == amount:
        return "paid"
    return "partly paid" if paid < amount else "overpaid"


def campaign_status(ledger: Ledger, campaign: str | None = None) -> list[KeyStatus]:
    """Every message of ``campaign`` (None: of every campaign), in the ledger's order."""
    entries = ledger.entries(campaign)
    last_bounce: dict[tuple[str, str], Bounce] = {}
    for finding in ledger.bounces(campaign):
        last_bounce[(finding.campaign, finding.key)] = finding
    references = {(r.campaign, r.key): r for r in ledger.references(campaign)}
    paid: dict[tuple[str, str], list[Payment]] = {}
    for payment in ledger.payments(campaign):
        paid.setdefault((payment.campaign, payment.key), []).append(payment)
    levels: dict[tuple[str, str], int] = {}
    for sent in ledger.reminders(campaign):
        where = (sent.reminder_of, sent.key)
        levels[where] = max(levels.get(where, 0), sent.level)
    found: list[KeyStatus] = []
    for entry in entries:
        where = (entry.campaign, entry.key)
        bounce: Bounce | None = last_bounce.get(where)
        if bounce is not None and bounce.message_id != entry.message_id:
            bounce = None  # about the message before a resend
        found.append(
            _status(
                entry.campaign,
                entry.key,
                entry.state,
                entry.sent_at or entry.updated_at,
                entry.recipients,
                entry.rows,
                entry.message_id,
                entry.error,
                entry.refused,
                bounce,
                references.get(where),
                paid.get(where, []),
                levels.get(where, 0),
                entry.resend_of,
            )
        )
    return found


def _status(
    campaign: str,
    key: str,
    state: str,
    when: float | None,
    recipients: tuple[str, ...],
    rows: tuple[int, ...],
    message_id: str,
    error: str,
    refused: dict[str, tuple[int, str]],
    bounce: Bounce | None,
    reference: PaymentReference | None,
    payments: Sequence[Payment],
    level: int,
    resend_of: str,
) -> KeyStatus:
    code = reason = bounced_to = ""
    if bounce is not None and state in ("bounced", "delayed"):
        code, reason, bounced_to = bounce.status, bounce.diagnostic, bounce.recipient
    elif state in ("failed", "deferred", "unknown") or refused:
        reason = error or "; ".join(f"{a}: {c} {t}" for a, (c, t) in refused.items())
    amount = reference.amount if reference is not None else None
    total = sum((p.amount for p in payments), Decimal(0))
    shown = payment_state(amount, total) if state in ("sent", "delayed", "bounced") else ""
    return KeyStatus(
        campaign=campaign,
        key=key,
        state=shown or state,
        sent_state=state,
        when=when,
        recipients=recipients,
        rows=rows,
        message_id=message_id,
        status_code=code,
        reason=reason,
        bounced_to=bounced_to,
        amount=amount,
        currency=reference.currency if reference is not None else "",
        paid=total,
        paid_on=max((p.booked for p in payments), default=None),
        reminder_level=level,
        resend_of=resend_of,
    )


def _when(moment: float | None) -> str:
    if moment is None:
        return ""
    return dt.datetime.fromtimestamp(moment).astimezone().strftime("%Y-%m-%d %H:%M")


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def status_records(statuses: Sequence[KeyStatus]) -> list[dict[str, Any]]:
    """The statuses as rows of ``STATUS_COLUMNS`` (text and numbers a spreadsheet shows)."""
    return [
        {
            "key": s.key,
            "state": s.state,
            "campaign": s.campaign,
            "when": _when(s.when),
            "recipients": ", ".join(s.recipients),
            "status_code": s.status_code,
            "reason": (f"{s.bounced_to}: " if s.bounced_to else "") + s.reason,
            "amount": _money(s.amount),
            "paid": _money(s.paid) if s.paid else "",
            "paid_on": s.paid_on.isoformat() if s.paid_on else "",
            "open_amount": _money(s.open_amount) if s.paid else "",
            "reminder_level": s.reminder_level or "",
            "rows": ",".join(str(r) for r in s.rows),
            "message_id": s.message_id,
        }
        for s in statuses
    ]


def status_frame(statuses: Sequence[KeyStatus]) -> pd.DataFrame:
    """The statuses as a table whose columns start with ``key`` and ``state``."""
    import pandas as pd

    return pd.DataFrame.from_records(status_records(statuses), columns=list(STATUS_COLUMNS))


def state_counts(statuses: Sequence[KeyStatus]) -> dict[str, int]:
    """How many messages are in each state, in the order first met."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status.state] = counts.get(status.state, 0) + 1
    return counts


def status_lines(statuses: Sequence[KeyStatus]) -> list[str]:
    """One plain line per message, then the count per state."""
    lines = []
    for s in statuses:
        parts = [f"{s.campaign}/{s.key}", s.state, _when(s.when), ", ".join(s.recipients)]
        if s.status_code or s.reason:
            parts.append(
                " ".join(x for x in (s.status_code, s.bounced_to and f"{s.bounced_to}:") if x)
                + (f" {s.reason}" if s.reason else "")
            )
        if s.paid:
            parts.append(
                f"paid {s.currency} {s.paid:.2f} on {s.paid_on}"
                + (f" of {s.amount:.2f}" if s.amount is not None else "")
            )
        if s.reminder_level:
            parts.append(f"reminder level {s.reminder_level}")
        lines.append("  ".join(part.strip() for part in parts if part and part.strip()))
    counts = state_counts(statuses)
    lines.append(", ".join(f"{count} {state}" for state, count in counts.items()) or "No messages.")
    return lines


def save_status(statuses: Sequence[KeyStatus], path: str | Path, delimiter: str = ",") -> Path:
    """Write the statuses as .xlsx or .csv (by the file's suffix), safe to open."""
    from docmail_nb._sheets.exports import save_table

    return save_table(status_frame(statuses), path, "status report", delimiter)
