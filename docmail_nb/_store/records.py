"""What the ledger records of each message, and the one rule that decides whether it goes now.

The rule is a pure function over a record: every ledger store decides with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from docmail_nb.words import Decision, LedgerState, setting

__all__ = [
    "Bounce",
    "Claim",
    "CopyState",
    "DocumentRecord",
    "Entry",
    "Payment",
    "PaymentReference",
    "ReminderSent",
    "Window",
    "after_report",
    "elsewhere_note",
    "rule",
]


CopyState = Literal["", "due", "appended", "found"]

#: a rolling window with its limits: (seconds, messages or None, recipients or None)
Window = tuple[float, int | None, int | None]


@dataclass(frozen=True)
class Entry:
    """One message as the ledger knows it."""

    campaign: str
    key: str
    state: LedgerState
    content_hash: str
    message_id: str
    rows: tuple[int, ...]
    account: str
    recipients: tuple[str, ...]
    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]]
    reply: str
    error: str
    attempts: int
    owner_run: str | None
    created_at: float
    updated_at: float
    attempted_at: float | None
    sent_at: float | None
    copy: CopyState = ""
    copy_error: str = ""
    copied_at: float | None = None
    resend_of: str = ""  # the Message-ID that bounced, when this is its resend


@dataclass(frozen=True)
class Bounce:
    """What a delivery report said about one recipient of a sent message."""

    campaign: str
    key: str
    message_id: str
    recipient: str
    action: str  # failed (bounced), delayed, delivered
    status: str  # 5.1.1
    diagnostic: str
    reported: str = ""  # the report's Date
    report_id: str = ""  # the report's Message-ID


@dataclass(frozen=True)
class PaymentReference:
    """The reference a message asked to be paid with, and the amount (None: the payer's)."""

    campaign: str
    key: str
    reference: str
    kind: str  # QRR or SCOR
    amount: Decimal | None
    currency: str


@dataclass(frozen=True)
class Payment:
    """A credit of the bank recorded against a message (negative: a payment returned)."""

    identity: str
    campaign: str
    key: str
    reference: str
    amount: Decimal
    currency: str
    booked: date
    debtor: str = ""
    source: str = ""  # the bank file's name


@dataclass(frozen=True)
class ReminderSent:
    """A reminder of level ``level`` for ``key`` of ``reminder_of``, sent in ``campaign``."""

    reminder_of: str
    key: str
    level: int
    campaign: str


@dataclass(frozen=True)
class DocumentRecord:
    """A document made for a message: where it was saved, its sha256, what it was made from."""

    campaign: str
    key: str
    name: str
    path: str
    sha256: str
    fingerprint: str
    rendered_at: float


@dataclass(frozen=True)
class Claim:
    """What ``Ledger.claim`` decided: ``claimed`` means this run may send the message now.

    When ``capped``, ``window`` is the rolling window (in seconds) whose limit is reached and
    ``free_at`` the ledger-clock time when this message would fit again.
    """

    decision: Decision
    window: float | None = None
    free_at: float | None = None
    found_in_sent: str = ""  # "sent": the words of an unknown settled from the Sent folder
    bounce: str = ""  # "bounced": the status code, address and reason the report gave

    @property
    def ok(self) -> bool:
        return self.decision == "claimed"


def rule(
    current: Entry | None,
    content_hash: Callable[[], str],
    *,
    run_id: str | None,
    owner_alive: Callable[[str], bool],
    resend_unknown: bool = False,
    resend_changed: bool = False,
    recipients: Sequence[str] | None = None,
    resend_bounced: bool = False,
) -> tuple[Decision, bool]:
    """The one rule for "send this message now or not", and whether its run died mid-send.

    Returns ("claimed", …) when it may be sent, else why not ("sent", "unknown", "changed",
    "busy", "bounced"). The flag is True when the record says "sending" for a run that is gone:
    the message may have arrived, so it counts as "unknown" (``claim`` records that; ``decide``
    only reports it). ``content_hash`` is called only for a message already sent. A delayed
    message counts as sent; a bounced one is sent again when its ``recipients`` changed (the
    address was corrected) or ``resend_bounced`` says so.
    """
    if current is None:
        return "claimed", False
    owner = current.owner_run
    if current.state in ("planned", "sending") and owner is not None and owner != run_id:
        if owner_alive(owner):
            return "busy", False
        if current.state == "sending":  # its run died between "sending" and the reply
            return ("claimed" if resend_unknown else "unknown"), True
    if current.state == "bounced":
        changed = recipients is not None and _addresses(recipients) != _addresses(
            current.recipients
        )
        return ("claimed" if changed or resend_bounced else "bounced"), False
    if current.state in ("sent", "delayed"):
        if current.content_hash == content_hash():
            return "sent", False
        return ("claimed" if resend_changed else "changed"), False
    if current.state == "unknown" and not resend_unknown:
        return "unknown", False
    return "claimed", False


def _addresses(recipients: Sequence[str]) -> set[str]:
    return {address.strip().lower() for address in recipients}


def after_report(state: str, action: str) -> LedgerState | None:
    """A message's state after a delivery report's finding (None: it changes nothing).

    A permanent failure makes a sent (or delayed) message bounced; a delay makes a sent one
    delayed; a later delivery makes a delayed one sent again. A report about an ``unknown``
    message proves the server took it: it becomes bounced, delayed or sent.
    """
    if action == "failed" and state in ("sent", "delayed", "bounced", "unknown"):
        return "bounced"
    if action == "delayed" and state in ("sent", "delayed", "unknown"):
        return "delayed"
    if action == "delivered" and state in ("delayed", "unknown"):
        return "sent"
    return None


def elsewhere_note(campaign: str, elsewhere: dict[str, str]) -> str:
    """The notice for keys that other campaigns sent ("" when there are none)."""
    if not elsewhere:
        return ""
    campaigns = sorted(set(elsewhere.values()))
    keys = list(elsewhere)
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return (
        f"{len(keys)} key(s) of campaign {campaign!r} were already sent in campaign "
        f"{', '.join(map(repr, campaigns))} ({shown}). If the template was renamed, pass "
        f"{setting('campaign')} {campaigns[0]} to go on with that campaign; a new campaign "
        "(a reminder) "
        "sends them again."
    )
