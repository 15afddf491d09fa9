"""A draft's result in a run, and the plain words for each reason a message is not sent now.

The dry run, the confirmation count, the outbox and the real run all describe a message the
ledger holds back (sent, unknown, changed, busy, capped) with these same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from docmail_nb._run.report import MessageResult
from docmail_nb.errors import DocmailError
from docmail_nb.words import ResultState, setting

if TYPE_CHECKING:
    from docmail_nb._compose.message import Draft
    from docmail_nb.words import Decision

__all__ = [
    "bounced_hint",
    "changed_hint",
    "draft_result",
    "held_back_result",
    "unbuildable_result",
]

_UNKNOWN_TEXT = "An earlier run lost the connection after handing this message over; not resent."


def _unknown_hint() -> str:
    return (
        "Check the Sent folder or ask the recipient; send it again with "
        f"{setting('resend_unknown')} only if it did not arrive."
    )


_CHANGED_TEXT = "This key was already sent with other content; not resent."


def changed_hint() -> str:
    """What to do about a key sent before with other content."""
    return f"If the new version must go out too, send again with {setting('resend_changed')}."


def bounced_hint() -> str:
    """What to do about a message that bounced."""
    return (
        "Correct the address in the sheet: the next send sends this message again (or send it "
        f"again to the same address with {setting('resend_bounced')})."
    )


def draft_result(draft: Draft, state: ResultState, **values: Any) -> MessageResult:
    """The result of ``draft`` in ``state`` (``values``: message_id, reply, error, ...)."""
    return MessageResult(draft.rows, draft.key, draft.to, draft.cc, draft.bcc, state, **values)


def unbuildable_result(draft: Draft, exc: Exception) -> MessageResult:
    """A message that cannot be built now (e.g. an attachment removed since the check)."""
    if isinstance(exc, DocmailError):
        return draft_result(draft, "failed", error=exc.message, hint=exc.hint)
    name = getattr(exc, "filename", None) or "a file"
    return draft_result(
        draft,
        "failed",
        error=f"Message {draft.key!r}: cannot read {name}: {getattr(exc, 'strerror', exc)}.",
        hint="Put the file back (or run the check again), then send again.",
    )


def held_back_result(
    draft: Draft, decision: Decision, message_id: str, found_in_sent: str = "", bounce: str = ""
) -> MessageResult:
    """The result of a message the ledger keeps from being sent now.

    ``found_in_sent``: the ledger's words when an earlier unknown was settled from the Sent
    folder (the report says so); ``bounce``: the status code, address and reason of a bounce.
    """
    if decision == "bounced":
        return draft_result(
            draft,
            "bounced",
            message_id=message_id,
            error="Bounced: " + (bounce or "a delivery report said it did not arrive") + ".",
            hint=bounced_hint(),
        )
    if decision == "sent":
        return draft_result(draft, "skipped", message_id=message_id, reply=found_in_sent)
    if decision == "unknown":
        return draft_result(
            draft, "unknown", message_id=message_id, error=_UNKNOWN_TEXT, hint=_unknown_hint()
        )
    if decision == "changed":
        return draft_result(
            draft, "changed", message_id=message_id, error=_CHANGED_TEXT, hint=changed_hint()
        )
    if decision == "busy":
        return draft_result(
            draft, "busy", message_id=message_id, error="Another run is sending it right now."
        )
    return draft_result(draft, "planned", error="Not sent: a sending limit is reached.")
