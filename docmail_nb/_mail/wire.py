"""A message as this server may take it, from what the server offers in its EHLO reply.

- **8-bit text** (umlauts in a body part sent as ``8bit``) only when the server offers
  8BITMIME, and then announced with ``MAIL FROM:<...> BODY=8BITMIME`` (RFC 6152); otherwise
  such parts are re-encoded quoted-printable.
- **International domains** (``info@bücher.example``) stay readable, in UTF-8, when the server
  offers SMTPUTF8 (RFC 6531, announced with ``SMTPUTF8``); otherwise they are written in IDNA
  (``info@xn--bcher-kva.example``), in the headers and in the envelope alike.

Drafts keep addresses as the user wrote them; only the copy that goes to the server is fitted,
and :func:`wire_bytes` turns it into the bytes sent (and kept in Sent).
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8

import idna

__all__ = ["ADDRESS_FIELDS", "Fitted", "fit", "idna_address", "readable_bytes", "wire_bytes"]

ADDRESS_FIELDS = ("From", "Sender", "Reply-To", "To", "Cc")


@dataclass(frozen=True)
class Fitted:
    """What goes to the server: the bytes' message, the envelope and the MAIL FROM options."""

    msg: EmailMessage
    envelope_from: str
    recipients: tuple[str, ...]
    mail_options: tuple[str, ...]
    smtputf8: bool


def idna_address(address: str) -> str:
    """``info@bücher.example`` → ``info@xn--bcher-kva.example`` (ASCII addresses unchanged)."""
    local, at, domain = address.rpartition("@")
    if address.isascii() or not at:
        return address
    return f"{local}@{_idna(domain)}"


def _idna(domain: str) -> str:
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return domain  # the server will refuse it; the check let no such domain through


def fit(
    msg: EmailMessage,
    envelope_from: str,
    recipients: Sequence[str],
    *,
    eight_bit: bool,
    smtputf8: bool,
) -> Fitted:
    """A copy of ``msg`` and its envelope fitted to a server offering ``eight_bit``
    (8BITMIME) and ``smtputf8`` (SMTPUTF8)."""
    international = not envelope_from.isascii() or not all(r.isascii() for r in recipients)
    international = international or any(
        not address.addr_spec.isascii()
        for name in ADDRESS_FIELDS
        if name in msg
        for address in getattr(msg[name], "addresses", ())
    )
    has_8bit = _has_8bit_parts(msg)
    if not international:
        options = ("BODY=8BITMIME",) if has_8bit and eight_bit else ()
        if not has_8bit or eight_bit:  # nothing to change: the very message is sent
            return Fitted(msg, envelope_from, tuple(recipients), options, False)
    msg.as_bytes()  # fixes the multipart boundaries, so that copies share them
    fitted = copy.deepcopy(msg)
    options_: list[str] = []
    use_utf8 = international and smtputf8
    if use_utf8:
        options_.append("SMTPUTF8")
        fitted.policy = SMTPUTF8
    elif international:
        _ascii_addresses(fitted)
        envelope_from = idna_address(envelope_from)
        recipients = [idna_address(r) for r in recipients]
    if has_8bit:
        if eight_bit:
            options_.append("BODY=8BITMIME")
        else:
            _quoted_printable(fitted)
    if use_utf8 and eight_bit and "BODY=8BITMIME" not in options_:
        options_.append("BODY=8BITMIME")  # UTF-8 header bytes are 8-bit data too
    return Fitted(fitted, envelope_from, tuple(recipients), tuple(options_), use_utf8)


def _ascii_addresses(msg: EmailMessage) -> None:
    for name in ADDRESS_FIELDS:
        if name not in msg:
            continue
        addresses = [
            Address(a.display_name, a.username, _idna(a.domain)) if a.domain else a
            for a in msg[name].addresses
        ]
        msg.replace_header(name, ", ".join(str(a) for a in addresses))


def _has_8bit_parts(msg: EmailMessage) -> bool:
    return any(
        str(part.get("Content-Transfer-Encoding", "")).lower() == "8bit" for part in msg.walk()
    )


def _quoted_printable(msg: EmailMessage) -> None:
    for part in msg.walk():
        if str(part.get("Content-Transfer-Encoding", "")).lower() != "8bit":
            continue
        if part.get_content_maintype() != "text":
            continue
        text = part.get_content()
        inner = part is not msg and "MIME-Version" not in part
        part.set_content(text, subtype=part.get_content_subtype(), cte="quoted-printable")
        if inner:
            del part["MIME-Version"]


def readable_bytes(msg: EmailMessage) -> bytes:
    """The message as a mail program shows it: international addresses in UTF-8."""
    fitted = fit(msg, "", [], eight_bit=True, smtputf8=True)
    return fitted.msg.as_bytes(policy=SMTPUTF8 if fitted.smtputf8 else SMTP)


def wire_bytes(msg: EmailMessage) -> bytes:
    """``msg`` as bytes with CRLF line ends: exactly ``msg.as_bytes`` with ``linesep="\\r\\n"``."""
    out = io.BytesIO()
    crlf = msg.policy.clone(linesep="\r\n")
    _CRLFGenerator(out, mangle_from_=False, policy=crlf).flatten(msg)
    return out.getvalue()


_LINE_END = re.compile(r"\r\n|\r|\n")  # what the email package takes for a line end


class _CRLFGenerator(BytesGenerator):
    """A BytesGenerator that writes a body in one piece, not line by line: the same bytes, but
    one write where a 50 kB attachment (some 900 base64 lines) took two per line."""

    def _write_lines(self, lines: str) -> None:
        # the base class writes each line and CRLF, the last line without
        if "\r" not in lines:  # base64 and most text: only LF, the quick road
            self.write(lines.replace("\n", "\r\n"))
        elif lines:
            self.write("\r\n".join(_LINE_END.split(lines)))
