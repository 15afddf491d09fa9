"""What the ledger records of each message, and the one rule that decides whether it goes now.

The rule is a pure function over a record: every ledger store decides with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from docmail_nb.words import Decision, LedgerState

__all__ = [
    "Claim",
    "CopyState",
    "DocumentRecord",
    "Entry",
    "Window",
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
) -> tuple[Decision, bool]:
    """The one rule for "send this message now or not", and whether its run died mid-send.

    Returns ("claimed", …) when it may be sent, else why not ("sent", "unknown", "changed",
    "busy"). The flag is True when the record says "sending" for a run that is gone: the
    message may have arrived, so it counts as "unknown" (``claim`` records that; ``decide``
    only reports it). ``content_hash`` is called only for a message already sent.
    """
    if current is None:
        return "claimed", False
    owner = current.owner_run
    if current.state in ("planned", "sending") and owner is not None and owner != run_id:
        if owner_alive(owner):
            return "busy", False
        if current.state == "sending":  # its run died between "sending" and the reply
            return ("claimed" if resend_unknown else "unknown"), True
    if current.state == "sent":
        if current.content_hash == content_hash():
            return "sent", False
        return ("claimed" if resend_changed else "changed"), False
    if current.state == "unknown" and not resend_unknown:
        return "unknown", False
    return "claimed", False


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
        f"--campaign {campaigns[0]} to go on with that campaign; a new campaign (a reminder) "
        "sends them again."
    )
