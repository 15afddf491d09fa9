"""The bytes sent: the same as the email package writes them, in a few writes, not thousands."""

from __future__ import annotations

import os
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8

import pytest

from docmail_nb._mail.wire import wire_bytes


def text_only() -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Anna <anna@example.ch>"
    msg["To"] = "kunde@example.com"
    msg["Subject"] = "Rechnung 2026-001 – Müller & Söhne"
    msg.set_content("Guten Tag\n\nAnbei die Rechnung über CHF 1'250.00.\n.\n..x\nGrüsse\n")
    return msg


def full() -> EmailMessage:
    msg = text_only()
    msg.add_alternative("<p>Guten Tag</p>\r\n<p>über</p>", subtype="html")
    msg.add_attachment(os.urandom(50_000), maintype="application", subtype="pdf", filename="a.pdf")
    msg.add_attachment(b"x;y\r\n1;2\r\n", maintype="text", subtype="csv", filename="b.csv")
    return msg


def odd_line_ends() -> EmailMessage:
    msg = EmailMessage(policy=SMTPUTF8)
    msg["From"] = "info@bücher.example"
    msg["To"] = "kunde@example.com"
    msg["Subject"] = "Zeilen"
    msg.set_content("a\rb\r\nc\n\nd", cte="8bit")
    return msg


def empty_body() -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "leer"
    msg.set_content("")
    return msg


@pytest.mark.parametrize("make", [text_only, full, odd_line_ends, empty_body])
def test_the_same_bytes_as_the_email_package(make: object) -> None:
    assert callable(make)
    msg = make()
    assert wire_bytes(msg) == msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_a_large_attachment_is_written_in_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    plain_write = BytesGenerator.write

    def counted(self: BytesGenerator, s: str) -> None:
        writes.append(len(s))
        plain_write(self, s)

    monkeypatch.setattr(BytesGenerator, "write", counted)
    msg = full()  # a 50 kB PDF: some 900 lines of base64
    assert b"\r\n" in wire_bytes(msg)
    assert len(writes) < 100, len(writes)
