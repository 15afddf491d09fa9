"""The delivery reports, replies and auto-replies of tests/data/reports, filled in, and
how they get into a Dovecot INBOX."""

from __future__ import annotations

import hashlib
import imaplib
import ssl
import time
from pathlib import Path

import trustme
from imap_server import PASSWORD, USER, DovecotServer

REPORTS = Path(__file__).parent.parent / "data" / "reports"

#: every sample: (file, what docmail must make of it)
BOUNCES = ("postfix_dsn", "exchange_ndr", "gmail", "exim_text", "qmail_text")
NOT_BOUNCES = ("out_of_office", "reply", "newsletter")


def report(name: str, message_id: str, recipient: str, envid: str = "") -> bytes:
    """The sample ``name`` about ``message_id`` sent to ``recipient``, with CRLF line ends."""
    text = (REPORTS / f"{name}.eml").read_text(encoding="utf-8")
    text = text.replace("$MESSAGE_ID", message_id).replace("$RECIPIENT", recipient)
    text = text.replace("$ENVID", envid or message_id.strip("<>"))
    serial = hashlib.sha256(f"{name}|{message_id}|{recipient}".encode()).hexdigest()[:12]
    text = text.replace("$SERIAL", serial)  # each report its own Message-ID
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def deliver_to_inbox(server: DovecotServer, ca: trustme.CA, *messages: bytes) -> None:
    """Put ``messages`` into the INBOX as the mail server would (unread, no flags)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    conn = imaplib.IMAP4_SSL(server.host, server.ssl_port, ssl_context=context)
    try:
        conn.login(USER, PASSWORD)
        for data in messages:
            typ, _ = conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), data)
            assert typ == "OK"
    finally:
        conn.logout()
