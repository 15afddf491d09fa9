"""What goes wrong with the mailbox, in words: each kind of trouble (``Kind``), the IMAP
server named, and an exception of the connection turned into a ``MailboxError`` that says what
to do."""

from __future__ import annotations

import imaplib
import socket
import ssl
from typing import Literal

from docmail_nb._store.profiles import Profile
from docmail_nb.errors import MailboxError
from docmail_nb.words import setting

__all__ = ["Kind", "diagnose_imap", "error_words", "imap_server", "mailbox_problem"]

Kind = Literal[
    "no_imap",
    "no_login",
    "no_password",
    "bad_ca_file",
    "untrusted_certificate",
    "hostname_mismatch",
    "connection_refused",
    "unknown_host",
    "timeout",
    "tls_failed",
    "starttls_unavailable",
    "login_failed",
    "disconnected",
    "folder_missing",
    "no_sent_folder",
    "refused",
]

_CONFIG_KINDS = frozenset(
    {"no_imap", "no_login", "no_password", "bad_ca_file", "folder_missing", "no_sent_folder"}
)


def mailbox_problem(kind: Kind, message: str, hint: str) -> MailboxError:
    """The error of ``kind``; a problem of the settings exits with status 2."""
    error = MailboxError(message, hint, kind=kind)
    if kind in _CONFIG_KINDS:
        error.exit_code = 2
    return error


def imap_server(profile: Profile) -> str:
    """The profile's IMAP server as messages name it."""
    return f"IMAP server {profile.imap_host}:{profile.imap_port_or_default}"


# table: exception type → (kind, what happened, what to do); the first match wins
_NETWORK: tuple[tuple[type[BaseException], Kind, str, str], ...] = (
    (
        ConnectionRefusedError,
        "connection_refused",
        "refused the connection",
        "Check the IMAP host and port (993 for ssl, 143 for starttls).",
    ),
    (
        socket.gaierror,
        "unknown_host",
        "cannot be found (unknown host name)",
        "Check the spelling of the IMAP host and that this computer is online.",
    ),
    (
        TimeoutError,
        "timeout",
        "did not answer in time",
        "Check host and port and whether a firewall blocks them; ssl on a starttls port "
        "(or the other way round) also looks like this.",
    ),
    (
        ssl.SSLError,
        "tls_failed",
        "could not agree on TLS",
        "Check {imap_security}: 'ssl' for port 993, 'starttls' for port 143.",
    ),
    (
        imaplib.IMAP4.abort,
        "disconnected",
        "closed the connection",
        "Try again later; if it persists, check the IMAP settings with 'docmail test'.",
    ),
    (
        OSError,
        "disconnected",
        "could not be reached",
        "Check the IMAP host and port and the network.",
    ),
)


def diagnose_imap(exc: BaseException, profile: Profile) -> MailboxError:
    """What an exception of the connection means, and what to do about it."""
    where = imap_server(profile)
    if isinstance(exc, MailboxError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "hostname" in str(exc.verify_message).lower() or "IP address" in str(exc):
            return mailbox_problem(
                "hostname_mismatch",
                f"The certificate of the {where} is not issued for that name "
                f"({exc.verify_message}).",
                "Use the IMAP host name your provider documents, not an alias or IP address.",
            )
        ca = f" (the profile trusts only {profile.ca_file})" if profile.ca_file else ""
        return mailbox_problem(
            "untrusted_certificate",
            f"The certificate of the {where} is not trusted{ca}: {exc.verify_message}.",
            "For a server with its own certificate authority give its PEM file as the "
            f"profile's CA file ({setting('ca_file')}).",
        )
    for kind_type, kind, what, hint in _NETWORK:
        if isinstance(exc, kind_type):
            return mailbox_problem(
                kind, f"The {where} {what}.", hint.format(imap_security=setting("imap_security"))
            )
    return mailbox_problem("refused", f"The {where} answered: {error_words(exc)}", "")


def error_words(exc: BaseException) -> str:
    """What the server (or the exception) said, as text."""
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip()
