"""The one exception hierarchy of docmail_nb.

Every error a user can see says what happened, to which row or setting, and what to do
(``hint``). None of them ever carries a password.

::

    DocmailError                  base; ``str(e)`` is the message, ``e.hint`` what to do
    ├── ConfigError               a setting or a usage problem (the CLI exits 2)
    │   ├── ProfileError          unknown, ambiguous or invalid SMTP profile
    │   └── SecretStoreError      no usable keyring backend, or no password anywhere
    ├── InputError                a file the user gave cannot be used (the CLI exits 2)
    │   ├── OrdersError           unreadable spreadsheet, bad or duplicate column names
    │   ├── TemplateError         unreadable template, bad header block, Jinja syntax
    │   ├── DocumentError         a document template or a row's payment data cannot be used
    │   └── PaymentFileError      a bank file (camt.054/053) that is not one or cannot be read
    ├── SMTPProblem               the server said no or could not be reached; ``.diagnosis``
    │                             (a :class:`Diagnosis`: what happened, what to do, the outcome)
    │   └── SignInProblem         no access token: sign-in expired, consent missing, token command
    ├── MailboxError              the IMAP server could not be used; ``.kind`` says why
    ├── BatchFailed               the check found problem rows or messages failed (exit 1)
    └── LedgerError               the ledger file cannot be opened or is from another version

Internal signals, never shown to a user as they are (each is worded by ``diagnosis`` or caught
where it is raised); they subclass what the standard library raises in their place, so code that
catches ``smtplib.SMTPException`` or ``OSError`` sees them as such::

    DisconnectedAfterData         smtplib.SMTPServerDisconnected after DATA began: may have arrived
    UnclearAfterData              smtplib.SMTPException: no well-formed reply after the content
    ReplyTooLong                  smtplib.SMTPException: a reply beyond our limits
    TokenRefused                  smtplib.SMTPAuthenticationError for XOAUTH2, with its details
    PlainOnTLSPort                OSError: a TLS answer where a plain greeting was expected
    RefusedByCheck                our own check refused (before or instead of the server)
    FileChanged                   the file to send is not the file that was checked
    ResourceRefused               ValueError: a resource a document may not load (left out)
    WorkerGone                    a drawing process ended before it answered
    CallerFailure                 an error of the caller's callback, passed through unchanged
    InsecureTLSWarning            (a warning) a profile turned certificate verification off
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from docmail_nb.words import Outcome

__all__ = [
    "BatchFailed",
    "CallerFailure",
    "ConfigError",
    "Diagnosis",
    "DisconnectedAfterData",
    "DocmailError",
    "DocumentError",
    "FileChanged",
    "InputError",
    "InsecureTLSWarning",
    "LedgerError",
    "MailboxError",
    "OrdersError",
    "PaymentFileError",
    "PlainOnTLSPort",
    "ProfileError",
    "RefusedByCheck",
    "ReplyTooLong",
    "ResourceRefused",
    "SMTPProblem",
    "SecretStoreError",
    "SignInProblem",
    "TemplateError",
    "TokenRefused",
    "UnclearAfterData",
    "WorkerGone",
]


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong (or right), in one plain line, and what to do about it."""

    kind: str
    summary: str
    hint: str
    code: int | None = None
    reply: str = ""
    outcome: Outcome = "failed"

    @property
    def ok(self) -> bool:
        """True when nothing went wrong (what Test connection answers on success)."""
        return self.outcome == "ok"


class DocmailError(Exception):
    """Base of every error docmail_nb raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class ConfigError(DocmailError):
    """A setting or the way a command was called is wrong."""

    exit_code = 2


class ProfileError(ConfigError):
    """An SMTP profile is unknown, ambiguous or invalid."""


class SecretStoreError(ConfigError):
    """The password cannot be stored or found."""


class InputError(DocmailError):
    """A file the user named cannot be used as it is."""

    exit_code = 2


class OrdersError(InputError):
    """The orders spreadsheet cannot be read."""


class TemplateError(InputError):
    """The message template cannot be parsed or compiled."""


class DocumentError(InputError):
    """A document (PDF) cannot be made: its template, or a row's payment data for a QR-bill."""


class PaymentFileError(InputError):
    """A bank file of payments (camt.054/053) cannot be read; nothing of it was recorded."""


class SMTPProblem(DocmailError):
    """The SMTP server refused or could not be reached; ``diagnosis`` says why."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.summary, diagnosis.hint)
        self.diagnosis = diagnosis


class SignInProblem(SMTPProblem):
    """No access token could be had (OAuth 2.0 or token command); ``diagnosis`` says why."""


class MailboxError(DocmailError):
    """The IMAP server (the Sent folder) could not be reached or used; ``kind`` says why."""

    def __init__(self, message: str, hint: str = "", *, kind: str = "refused") -> None:
        super().__init__(message, hint)
        self.kind = kind


class BatchFailed(DocmailError):
    """A batch did not go through: rows with problems or messages that failed, each named."""


class LedgerError(DocmailError):
    """The ledger cannot be used."""

    exit_code = 2


# -- internal signals ---------------------------------------------------------------------


class DisconnectedAfterData(smtplib.SMTPServerDisconnected):
    """The connection broke after the message content began: the server may have it."""


class UnclearAfterData(smtplib.SMTPException):
    """After the message content, the server answered no well-formed reply: it may have it."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.smtp_code = code
        self.text = text


class PlainOnTLSPort(OSError):
    """The server answered a TLS handshake where a plain greeting was expected."""


class TokenRefused(smtplib.SMTPAuthenticationError):
    """XOAUTH2 refused; ``details`` is the server's decoded JSON error (may be empty)."""

    def __init__(self, code: int, reply: bytes, details: dict[str, object]) -> None:
        super().__init__(code, reply)
        self.details = details


class RefusedByCheck(Exception):
    """A refusal found by our own checks (before or instead of the server), with its diagnosis."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.summary)
        self.diagnosis = diagnosis


class ReplyTooLong(smtplib.SMTPException):
    """A reply with a line or a number of lines beyond the limits (see the module docstring)."""


class FileChanged(Exception):
    """The file to send is not the file that was checked; ``str()`` says how."""


class InsecureTLSWarning(UserWarning):
    """A profile turned certificate verification off."""


class CallerFailure(Exception):
    """``before_data`` raised: its exception goes back to the caller unchanged."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class WorkerGone(Exception):
    """A drawing process ended before it answered (killed, out of memory)."""


class ResourceRefused(ValueError):
    """A resource a document may not load (WeasyPrint leaves it out)."""
