"""A draft → the MIME message exactly as it is sent, its content hash and its Message-ID.

The hash covers everything that is sent except Date and Message-ID, so the ledger can tell a
message sent before from one whose content changed; the Message-ID is derived from (campaign,
key, content) and so is the same on every run that sends the same content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, localtime
from pathlib import Path
from typing import TYPE_CHECKING

from docmail_nb._compose.headers import addr_spec, header_problem
from docmail_nb._mail.wire import idna_address
from docmail_nb._store.files import FileIdentity, read_checked
from docmail_nb.errors import ConfigError, FileChanged, InputError

if TYPE_CHECKING:
    from docmail_nb._documents.planned import PlannedDocument

from docmail_nb.words import setting

__all__ = ["Attachment", "Draft", "PaymentAsked"]


@dataclass(frozen=True)
class Attachment:
    """A file to attach, already checked to exist inside the documents folder."""

    path: Path
    filename: str
    size: int
    content_type: str = "application/pdf"
    identity: FileIdentity | None = None  # the file as the check saw it (None: made later)


@dataclass(frozen=True)
class PaymentAsked:
    """What a message asks to be paid with: its QR or creditor reference, and the amount."""

    reference: str  # without spaces
    kind: str  # QRR or SCOR
    amount: Decimal | None  # None: the payer fills it in
    currency: str  # "" when not known


@dataclass(frozen=True)
class Draft:
    """One message as planned: everything that will be sent except Date and Message-ID."""

    rows: tuple[int, ...]
    key: str
    sender: str
    reply_to: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    extra_headers: tuple[tuple[str, str], ...] = ()
    #: documents made from a template for this message; each is also in ``attachments``
    documents: tuple[PlannedDocument, ...] = ()
    #: the reference (and amount) its QR-bill or Reference header asks to be paid with
    payment: PaymentAsked | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        """The envelope recipients: To, Cc and Bcc addresses, each once, in that order."""
        seen: dict[str, None] = {}
        for entry in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(addr_spec(entry), None)
        return tuple(seen)

    def content_hash(self) -> str:
        """SHA-256 over everything that is sent (not Date, not Message-ID)."""
        return self._content_hash([_sha256(self._read(item)) for item in self.attachments])

    def _content_hash(self, file_hashes: list[str]) -> str:
        files = [
            [item.filename, item.content_type, file_hash]
            for item, file_hash in zip(self.attachments, file_hashes, strict=True)
        ]
        content = {
            "sender": self.sender,
            "reply_to": self.reply_to,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "extra_headers": self.extra_headers,
            "attachments": files,
        }
        blob = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def message_id(self, campaign: str, default_sender: str = "") -> str:
        """``<hash@domain of the sender>``, stable for (campaign, key, content).

        Pass the same ``default_sender`` as to ``build`` when the draft has no sender of its
        own (the domain comes from the sender actually used).
        """
        return self._message_id(campaign, default_sender, self.content_hash())

    def _message_id(
        self, campaign: str, default_sender: str, content_hash: str, resend_of: str = ""
    ) -> str:
        parts = [campaign, self.key, content_hash] + ([resend_of] if resend_of else [])
        seed = json.dumps(parts, ensure_ascii=False)
        digest = hashlib.sha256(seed.encode()).hexdigest()[:32]
        sender = self.sender or default_sender
        domain = idna_address(addr_spec(sender)).rpartition("@")[2] if sender else ""
        return f"<{digest}@{domain or 'docmail.invalid'}>"

    def resend_id(self, campaign: str, default_sender: str, content_hash: str, bounced: str) -> str:
        """A new Message-ID for sending this message again after ``bounced`` bounced."""
        return self._message_id(campaign, default_sender, content_hash, bounced)

    def build(self, campaign: str, default_sender: str = "") -> EmailMessage:
        """The message exactly as it is sent (SMTP policy; Bcc only in the envelope)."""
        return self.build_with_hash(campaign, default_sender)[0]

    def build_with_hash(self, campaign: str, default_sender: str = "") -> tuple[EmailMessage, str]:
        """The message and its content hash, both from one read of each attachment."""
        sender = self.sender or default_sender
        if not sender:
            raise ConfigError(
                f"Message {self.key!r} has no From address.",
                f"Set a From address in the profile ({setting('from')}) or a From header in "
                "the template.",
            )
        for name, value in self._header_values(sender):
            problem = header_problem(value)
            if problem:
                raise InputError(f"Message {self.key!r}: the {name} value {problem}.")
        msg = EmailMessage(policy=SMTP)
        msg["From"] = sender
        if self.reply_to:
            msg["Reply-To"] = self.reply_to
        if self.to:
            msg["To"] = ", ".join(self.to)
        if self.cc:
            msg["Cc"] = ", ".join(self.cc)
        msg["Subject"] = self.subject
        msg["Date"] = format_datetime(localtime())
        files = [self._read(item) for item in self.attachments]  # each file read once
        content_hash = self._content_hash([_sha256(data) for data in files])
        msg["Message-ID"] = self._message_id(campaign, default_sender, content_hash)
        for name, value in self.extra_headers:
            msg[name] = value
        msg.set_content(self.text)
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html")
        for item, data in zip(self.attachments, files, strict=True):
            maintype, _, subtype = item.content_type.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=item.filename)
        for part in msg.walk():
            if part is not msg:
                del part["MIME-Version"]  # the message has it once, at the top (RFC 2045)
        return msg, content_hash

    def _read(self, item: Attachment) -> bytes:
        try:
            return read_checked(item.path, item.identity)
        except FileChanged as exc:
            raise InputError(
                f"Message {self.key!r}: the attachment {item.filename} is not the file that "
                f"was checked: {exc}. The message was not sent.",
                "Put the document back as it was, or run the check again and look at the "
                "preview before sending.",
            ) from None
        except OSError as exc:
            raise InputError(
                f"Message {self.key!r}: cannot read the attachment {item.path}: {exc}",
                "Run the check again; the documents folder changed after planning.",
            ) from exc

    def _header_values(self, sender: str) -> list[tuple[str, str]]:
        values = [("From", sender), ("Reply-To", self.reply_to), ("Subject", self.subject)]
        values += [("To", v) for v in self.to] + [("Cc", v) for v in self.cc]
        values += [("Bcc", v) for v in self.bcc] + list(self.extra_headers)
        values += [("Attachment", item.filename) for item in self.attachments]
        return values


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
