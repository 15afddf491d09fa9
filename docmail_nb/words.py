"""The one vocabulary: a message's states, the words for each, and counts with their nouns.

Every layer speaks of a message with the states below; each uses the part that concerns it::

    LedgerState   what the ledger records:    planned, sending, sent, failed, deferred, unknown;
                                              after sent: bounced, delayed (delivery reports)
    Decision      what the send rule decides: claimed, sent, unknown, changed, busy, capped,
                                              bounced
    ResultState   what a run did with it:     sent, dry-run, skipped, failed, deferred, unknown,
                                              changed, busy, planned (left for a later run),
                                              problem, bounced (not resent)
    OutboxState   what a list of messages shows before and after a run: ready, problem, sent,
                                              skipped, failed, unknown, changed, not sent, busy,
                                              dry-run, bounced
    AfterState    what ``docmail status`` shows: a LedgerState, or from recorded payments
                                              paid, partly paid, overpaid
    Outcome       what a failure means:       ok, retry, failed, fatal, unknown

``STATE_WORDS`` words a state in a list of messages, ``RUN_WORDS`` in the summary of a run.

Texts of the core say what to do without naming one face's options: they name a setting with
:func:`setting`, which spells it as the face in use does (``--rows`` on the command line,
``-p rows`` for a papermill run, the field or keyword in a notebook panel). A face says which it
is with :func:`speak_as`; the command line's spelling is the default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

__all__ = [
    "AFTER_WORDS",
    "OUTBOX_ORDER",
    "RUN_WORDS",
    "STATE_WORDS",
    "WENT_OUT",
    "AfterState",
    "Decision",
    "Face",
    "LedgerState",
    "OutboxState",
    "Outcome",
    "PaymentState",
    "ResultState",
    "counted",
    "join_reasons",
    "plural",
    "setting",
    "size_text",
    "speak_as",
]

LedgerState = Literal[
    "planned", "sending", "sent", "failed", "deferred", "unknown", "bounced", "delayed"
]
Decision = Literal["claimed", "sent", "unknown", "changed", "busy", "capped", "bounced"]
ResultState = Literal[
    "sent", "failed", "deferred", "unknown", "skipped", "changed", "busy", "planned", "dry-run",
    "problem", "bounced",
]  # fmt: skip
OutboxState = Literal[
    "ready", "problem", "sent", "skipped", "failed", "unknown", "changed", "not sent", "busy",
    "dry-run", "bounced",
]  # fmt: skip
PaymentState = Literal["paid", "partly paid", "overpaid"]
AfterState = LedgerState | PaymentState
#: the ledger states of a message that went out (a report may say it did not arrive)
WENT_OUT: tuple[LedgerState, ...] = ("sent", "delayed", "bounced")
#: What a failure means for the message and the batch: ok; retry (transient, not delivered);
#: failed (permanent for this message); fatal (stop the batch: login, TLS, configuration);
#: unknown (the connection broke after DATA began).
Outcome = Literal["ok", "retry", "failed", "fatal", "unknown"]

#: every outbox state in the order a list of messages is sorted by state (trouble first)
OUTBOX_ORDER: tuple[OutboxState, ...] = (
    "problem", "unknown", "changed", "bounced", "failed", "not sent", "busy", "ready", "dry-run",
    "skipped", "sent",
)  # fmt: skip

#: a state in a list of messages: "3 unknown (may have arrived)"
STATE_WORDS: dict[OutboxState, str] = {
    "ready": "ready",
    "problem": "with a problem",
    "sent": "sent",
    "skipped": "sent before (skipped)",
    "failed": "failed",
    "unknown": "unknown (may have arrived)",
    "changed": "changed since sent",
    "not sent": "not sent in this run",
    "busy": "being sent by another run",
    "dry-run": "would be sent (dry run)",
    "bounced": "bounced (fix the address)",
}

#: a state in the summary of a run, in the order the summary names them
RUN_WORDS: dict[ResultState, str] = {
    "sent": "sent",
    "dry-run": "would be sent (dry run)",
    "skipped": "skipped (already sent)",
    "failed": "failed",
    "deferred": "deferred (try again later)",
    "unknown": "unknown (the server may have them; not resent)",
    "changed": "changed since sent (not resent)",
    "busy": "being sent by another run",
    "planned": "left for a later run",
    "bounced": "bounced before (not resent until the address is fixed)",
}

#: a state after "sent" in ``docmail status`` and the panels' tables
AFTER_WORDS: dict[str, str] = {
    "sent": "sent",
    "delayed": "delayed (the server still tries)",
    "bounced": "bounced",
    "paid": "paid",
    "partly paid": "partly paid",
    "overpaid": "overpaid",
    "unknown": "unknown (may have arrived)",
    "failed": "failed",
    "deferred": "deferred (try again)",
    "planned": "planned",
    "sending": "being sent",
}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """The noun for ``count`` things: ``noun`` for one, ``many`` (default ``noun + "s"``) else."""
    return noun if count == 1 else (many or f"{noun}s")


def counted(count: int, noun: str, many: str | None = None) -> str:
    """``"1 message"``, ``"3 messages"``, ``"2 addresses"`` (with ``many="addresses"``)."""
    return f"{count} {plural(count, noun, many)}"


def join_reasons(reasons: Iterable[str]) -> str:
    """Several problems as sentences, each ending once with a full stop: never ".;"."""
    sentences = []
    for reason in reasons:
        text = reason.strip().rstrip(".;, ")
        if text:
            sentences.append(text + ".")
    return " ".join(dict.fromkeys(sentences))


def size_text(count: int) -> str:
    """A file size for people: 812 bytes, 48.2 kB, 1.5 MB."""
    if count < 1024:
        return f"{count} bytes"
    size = count / 1024
    for unit in ("kB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


Face = Literal["cli", "papermill", "panel"]
_FACES: tuple[Face, ...] = ("cli", "papermill", "panel")
_face: list[Face] = ["cli"]

#: a setting as each face spells it: (command line, papermill parameter, notebook panel)
_SETTINGS: dict[str, tuple[str, str, str]] = {
    # a run
    "rows": ("--rows", "-r rows", "rows="),
    "limit": ("--limit", "-p limit", "limit="),
    "rate": ("--rate", "-r rate", "rate="),
    "connections": ("--connections", "-p connections", "connections="),
    "jobs": ("--jobs", "-p jobs", "jobs="),
    "sheet": ("--sheet", "-r sheet", "the Sheet field"),
    "header_row": ("--header-row", "-p header_row", "header_row="),
    "campaign": ("--campaign", "-r campaign", "campaign="),
    "ledger": ("--ledger", "-r ledger", "ledger="),
    "profile": ("--profile", "-r profile", "the profile= of the panel"),
    "resend_unknown": (
        "--resend-unknown", "-p resend_unknown True", 'the "Resend unknown" button',
    ),
    "resend_changed": (
        "--resend-changed", "-p resend_changed True", 'the "Resend changed" button',
    ),
    "resend_bounced": ("--resend-bounced", "-p resend_bounced True", "resend_bounced=True"),
    # a profile (saved with docmail profile add or the settings panel)
    "host": ("--host", "--host (docmail profile add)", "the Host field"),
    "port": ("--port", "--port (docmail profile add)", "the Port field"),
    "username": ("--username", "--username (docmail profile add)", "the Username field"),
    "from": ("--from", "--from (docmail profile add)", "the From field"),
    "ca_file": ("--ca-file", "--ca-file (docmail profile add)", "the CA file field"),
    "imap_host": ("--imap-host", "--imap-host (docmail profile add)", "the IMAP host field"),
    "imap_security": (
        "--imap-security", "--imap-security (docmail profile add)", "the IMAP security field",
    ),
    "sent_folder": (
        "--sent-folder", "--sent-folder (docmail profile add)", "the Sent folder field",
    ),
    "tenant": ("--tenant", "--tenant (docmail profile add)", "the Tenant field"),
    "client_id": ("--client-id", "--client-id (docmail profile add)", "the Client ID field"),
    "client_secrets": (
        "--client-secrets", "--client-secrets (docmail profile add)", "the Client file field",
    ),
    "certificate": (
        "--certificate", "--certificate (docmail profile add)", "the Certificate field",
    ),
    "authority": ("--authority", "--authority (docmail profile add)", "the Authority field"),
}  # fmt: skip


def speak_as(face: Face) -> None:
    """From now on, :func:`setting` spells settings as ``face`` does (set once by each face)."""
    if face not in _FACES:
        raise ValueError(f"face must be one of {', '.join(_FACES)}, not {face!r}")
    _face[0] = face


def setting(name: str, value: str = "") -> str:
    """The setting ``name`` as the face in use spells it, followed by ``value`` when given:
    ``--rows 2-40``, ``-r rows 2-40``; an unknown name is spelled as a command-line option."""
    spelled = _SETTINGS.get(name)
    text = spelled[_FACES.index(_face[0])] if spelled else "--" + name.replace("_", "-")
    if not value:
        return text
    return f"{text}{value}" if text.endswith("=") else f"{text} {value}"
