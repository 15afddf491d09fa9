"""The ledger and the mailbox brought together: copies owed to Sent, unknowns settled.

``sync_mailbox`` is what every send with IMAP settings does first (and ``docmail reconcile``
does alone): log in once, settle each ``unknown`` message of the account by looking for its
Message-ID in Sent, then append every copy still owed.

Found in Sent → sent. Not found → deferred (the next run sends it) only where the provider
files sent mail itself (``Profile.provider_files_sent``: Microsoft 365, Gmail, or copies
off). Where docmail appends the copies, a copy is appended only after a message is recorded
sent, so an unknown message is never in Sent: "not found" proves nothing and the message stays
``unknown`` (reported; ``--resend-unknown`` sends it again).

The mailbox never makes a message go out twice, nor a copy go to Sent twice: a copy that
fails stays owed in the ledger and is tried again by the next run, which first looks for it
by its Message-ID when an APPEND was begun before (its answer may have been lost).

The same visit reads the delivery reports in the INBOX (``bounces.read_bounces``: bounced and
delayed messages), leaving the INBOX exactly as it was.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from docmail_nb._mailbox.bounces import BouncesRead, read_bounces
from docmail_nb._mailbox.imap import Mailbox, open_mailbox
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import MailboxError
from docmail_nb.words import setting

__all__ = [
    "APPEND_BEGUN",
    "MailboxRun",
    "MailboxSync",
    "Settled",
    "append_due",
    "reconcile",
    "sync_mailbox",
]

_log = logging.getLogger("docmail_nb._mailbox.reconcile")

#: the copy error recorded while an APPEND is under way (it stays if the run is killed)
APPEND_BEGUN = "An APPEND to the Sent folder was begun; its answer did not arrive."


@dataclass(frozen=True)
class Settled:
    """An unknown message decided from the mailbox."""

    campaign: str
    key: str
    message_id: str
    found: bool
    kept_unknown: bool = False  # not found, where that proves nothing

    @property
    def text(self) -> str:
        if self.found:
            return f"{self.key}: found in Sent, recorded as sent"
        if self.kept_unknown:
            return f"{self.key}: not in Sent, which proves nothing here; still unknown"
        return f"{self.key}: not in Sent, will be sent by the next run"


@dataclass
class MailboxSync:
    """What one visit to the mailbox did."""

    folder: str = ""
    settled: list[Settled] = field(default_factory=list)
    appended: list[str] = field(default_factory=list)  # keys whose copy went to Sent now
    still_due: int = 0  # copies owed after this visit
    error: MailboxError | None = None  # the mailbox could not be used (nothing was changed)
    bounces: BouncesRead = field(default_factory=BouncesRead)  # what the INBOX's reports said

    @property
    def found(self) -> int:
        return sum(1 for item in self.settled if item.found)

    @property
    def not_found(self) -> int:
        return sum(1 for item in self.settled if not item.found and not item.kept_unknown)

    @property
    def kept_unknown(self) -> int:
        return sum(1 for item in self.settled if item.kept_unknown)

    #: folders the mailbox listed whose names cannot be read (left out)
    skipped: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """Plain sentences for a report's summary; empty when there is nothing to say."""
        notes: list[str] = []
        if self.appended:
            notes.append(
                f"{len(self.appended)} copy(ies) appended to the Sent folder {self.folder!r}."
            )
        if self.found or self.not_found:
            notes.append(
                f"Settled from the Sent folder: {self.found} unknown message(s) found "
                f"(recorded as sent), {self.not_found} not found (sent again by the next run)."
            )
        if self.kept_unknown:
            notes.append(
                f"{self.kept_unknown} unknown message(s) are not in the Sent folder, which "
                "proves nothing where docmail appends the copies: they stay unknown. Check "
                f"with the recipients; send them again with {setting('resend_unknown')} "
                "only if they did "
                "not arrive."
            )
        notes.extend(self.skipped)
        notes.extend(self.bounces.notes())
        if self.error is not None:
            notes.append(f"The mailbox could not be used: {self.error}")
        if self.still_due:
            notes.append(
                f"{self.still_due} copy(ies) for the Sent folder are still owed; "
                "the next run appends them."
            )
        return notes


def reconcile(
    ledger: Ledger, mailbox: Mailbox, account: str, campaign: str | None = None
) -> list[Settled]:
    """Settle every unknown message of ``account`` (and ``campaign``) from the Sent folder."""
    folder = mailbox.sent_folder()
    absence_proves = mailbox.profile.provider_files_sent
    settled: list[Settled] = []
    for entry in ledger.unknowns(account, campaign):
        found = mailbox.contains(entry.message_id, folder)
        if not found and not absence_proves:
            settled.append(Settled(entry.campaign, entry.key, entry.message_id, False, True))
            continue  # docmail's own copy comes only after "sent": its absence says nothing
        note = (
            f"Found in the Sent folder {folder.name!r} by its Message-ID."
            if found
            else f"Not found in the Sent folder {folder.name!r}: the next run sends it again."
        )
        if ledger.settle(entry.campaign, entry.key, found=found, note=note):
            settled.append(Settled(entry.campaign, entry.key, entry.message_id, found))
            _log.info("settled %s/%s from the mailbox: %s", entry.campaign, entry.key, found)
    return settled


def append_due(
    ledger: Ledger, mailbox: Mailbox, account: str, done: list[str] | None = None
) -> list[str]:
    """Append every copy ``account`` still owes to Sent, oldest first; return their keys
    (also added to ``done`` as they go).

    The first failure is recorded on its message (``copy_error``) and raised; that copy and
    the ones after it stay owed. An APPEND is marked as begun first: a copy whose earlier
    APPEND was begun (and maybe stored, its answer lost) is looked for by its Message-ID
    before it is appended again, so it is in Sent at most once.
    """
    done = [] if done is None else done
    for entry, data in ledger.copies_due(account):
        try:
            if entry.copy_error and mailbox.contains(entry.message_id):
                ledger.mark_copied(entry.campaign, entry.key, "found")
                continue
            ledger.mark_copy_failed(entry.campaign, entry.key, APPEND_BEGUN)
            mailbox.append(data, when=entry.sent_at)
        except MailboxError as exc:
            ledger.mark_copy_failed(entry.campaign, entry.key, str(exc))
            raise
        ledger.mark_copied(entry.campaign, entry.key)
        done.append(entry.key)
    return done


def sync_mailbox(
    profile: Profile,
    ledger: Ledger,
    *,
    password: str | None = None,
    campaign: str | None = None,
    copies: bool = True,
    opener: Callable[[Profile, str | None], Mailbox] = open_mailbox,
    move_reports: str = "",
) -> MailboxSync:
    """Reconcile unknowns and append owed copies in one IMAP session; never raises for the
    mailbox (its trouble is ``MailboxSync.error``)."""
    result = MailboxSync()
    account = profile.account
    try:
        with opener(profile, password) as mailbox:
            result.folder = mailbox.sent_folder().name
            result.skipped = list(mailbox.skipped)
            result.settled = reconcile(ledger, mailbox, account, campaign)
            result.bounces = read_bounces(ledger, mailbox, account, campaign)
            if move_reports:  # asked for: the reports recorded leave the INBOX
                result.bounces.moved_to = move_reports
                result.bounces.moved = mailbox.move_reports(result.bounces.matched, move_reports)
            if copies:
                append_due(ledger, mailbox, account, result.appended)
    except MailboxError as exc:
        result.error = exc
        result.still_due = len(ledger.copies_due(account)) if copies else 0
        _log.warning("mailbox of profile %r: %s", profile.name, exc)
    return result


class MailboxRun:
    """The mailbox side of one send: settle unknowns first, then a copy after each delivery.

    One IMAP session for the whole run, opened at the start, shared by the sending threads
    (one at a time). The first trouble ends the mailbox's part of the run, never the sending:
    what is owed stays in the ledger for the next run.
    """

    def __init__(
        self,
        profile: Profile,
        ledger: Ledger,
        password: str | None = None,
        *,
        opener: Callable[[Profile, str | None], Mailbox] = open_mailbox,
    ) -> None:
        self.profile = profile
        self.ledger = ledger
        self.result = MailboxSync()
        self._password = password
        self._opener = opener
        self._mailbox: Mailbox | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MailboxRun({self.profile.name!r})"

    def start(self, campaign: str) -> MailboxSync:
        """Settle the campaign's unknown messages and append the copies owed from before."""
        with self._lock:
            try:
                self._mailbox = self._opener(self.profile, self._password)
                self.result.folder = self._mailbox.sent_folder().name
                self.result.skipped = list(self._mailbox.skipped)
                self.result.settled = reconcile(
                    self.ledger, self._mailbox, self.profile.account, campaign
                )
                self.result.bounces = read_bounces(self.ledger, self._mailbox, self.profile.account)
                if self.profile.appends_to_sent:
                    append_due(
                        self.ledger, self._mailbox, self.profile.account, self.result.appended
                    )
            except MailboxError as exc:
                self._give_up(exc)
        return self.result

    def copy(self) -> None:
        """Append what is owed now (the message just recorded as sent, and any before it)."""
        if not self.profile.appends_to_sent:
            return
        with self._lock:
            if self._mailbox is None:
                return
            try:
                append_due(self.ledger, self._mailbox, self.profile.account, self.result.appended)
            except MailboxError as exc:
                self._give_up(exc)

    def finish(self) -> MailboxSync:
        """Close the session; count what is still owed."""
        with self._lock:
            if self._mailbox is not None:
                self._mailbox.close()
                self._mailbox = None
            if self.profile.appends_to_sent:
                self.result.still_due = len(self.ledger.copies_due(self.profile.account))
        return self.result

    def _give_up(self, exc: MailboxError) -> None:
        _log.warning("mailbox of profile %r: %s", self.profile.name, exc)
        if self.result.error is None:
            self.result.error = exc
        if self._mailbox is not None:
            self._mailbox.close()
            self._mailbox = None
