"""Helpers for the tests of the Sent folder: a profile with Dovecot as its IMAP server, the
messages a folder holds, and an invoice message to append."""

from __future__ import annotations

import email.policy
import imaplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import trustme
from imap_server import PASSWORD, USER, DovecotServer

from docmail_nb._mailbox.folders import encode_folder_name
from docmail_nb._store.profiles import Profile


def imap_profile(
    server: DovecotServer, ca_file: Path | None, *, starttls: bool = False, **settings: object
) -> Profile:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 2525,
        "security": "starttls",
        "username": USER,
        "ca_file": str(ca_file) if ca_file else "",
        "imap_host": server.host,
        "imap_port": server.starttls_port if starttls else server.ssl_port,
        "imap_security": "starttls" if starttls else "ssl",
    }
    values.update(settings)
    return Profile("box", **values)  # type: ignore[arg-type]


def fetch_all(server: DovecotServer, ca: trustme.CA, folder: str) -> list[tuple[bytes, bytes]]:
    """(flags, exact bytes) of every message in ``folder``, as IMAP hands them out."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    conn = imaplib.IMAP4_SSL(server.host, server.ssl_port, ssl_context=context)
    try:
        conn.login(USER, PASSWORD)
        conn.select(f'"{encode_folder_name(folder)}"', readonly=True)
        _, data = conn.fetch("1:*", "(FLAGS BODY.PEEK[])")
        return [(item[0], item[1]) for item in data if isinstance(item, tuple)]
    finally:
        conn.logout()


def invoice(bcc: bool = True) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Anna Muster <anna@example.ch>"
    msg["To"] = "kunde@example.org"
    msg["Cc"] = "buchhaltung@example.org"
    msg["Subject"] = "Rechnung 2024-017 – Schreinerei Müller"
    msg["Date"] = "Fri, 29 Nov 2024 09:00:00 +0100"
    msg["Message-ID"] = "<0123abcd@example.ch>"
    msg.set_content("Guten Tag\n\nAnbei die Rechnung über CHF 1'250.00.\n.\nGruss\n")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="R.pdf")
    return msg
