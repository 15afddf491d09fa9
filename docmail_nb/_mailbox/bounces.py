"""Delivery reports: which message did not arrive, for whom, and why.

``read_report(data)`` turns one message of the INBOX into a :class:`Report`, or None when it is
no delivery report. What makes a report is its shape, never a header alone (real bounces carry
``Auto-Submitted: auto-generated`` just as auto-replies carry ``auto-replied``):

- RFC 3464: ``multipart/report; report-type=delivery-status`` with a ``message/delivery-status``
  part (per message ``Original-Envelope-Id``, ``Reporting-MTA``; per recipient
  ``Final-Recipient``, ``Original-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``) and
  the original as ``message/rfc822`` or ``text/rfc822-headers``. Microsoft 365/Exchange,
  Gmail, Postfix and current Exim send this shape with their own human-readable part.
- Older and hosters' plain-text bounces (Exim's "The following address(es) failed", qmail's
  "I wasn't able to deliver your message", Postfix without DSN, Exchange's "Delivery has
  failed"): only from a mailer daemon or postmaster, or with the empty return path of a bounce
  and not marked as an auto-reply (out-of-office replies use the empty return path too). The
  failed addresses come from ``flufl.bounce``'s detectors, the status code and the reason from
  the text around each address, the original Message-ID from the quoted headers.

``read_bounces`` reads the reports of the INBOX not read before (through a ``ReportSource``, the
mailbox, which is left as it was) and records in the ledger what they say about its messages.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from typing import Literal, Protocol

from flufl.bounce import all_failures

from docmail_nb._store.ledger import Ledger
from docmail_nb._store.records import Bounce, Entry

__all__ = [
    "Action",
    "BouncesRead",
    "Recipient",
    "Report",
    "ReportSource",
    "read_bounces",
    "read_report",
]

Action = Literal["failed", "delayed", "delivered"]

_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"\b([245])([0-9])([0-9])\b")
_DAEMONS = ("mailer-daemon", "postmaster", "mail delivery subsystem", "mail delivery system")
_TRANSIENT_WORDS = re.compile(
    r"temporar|delayed|will (?:keep|continue) (?:trying|retrying)|not yet been delivered|"
    r"still trying|retry",
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-response-suppress-reply")


@dataclass(frozen=True)
class Recipient:
    """What a report says about one recipient."""

    address: str  # the final recipient, lower case
    original: str  # the recipient as the sender gave it (ORCPT), "" when not reported
    action: Action
    status: str  # "5.1.1"; "" when the report gives none
    diagnostic: str  # the receiving server's words, one line

    @property
    def permanent(self) -> bool:
        return self.action == "failed"


@dataclass(frozen=True)
class Report:
    """One delivery report: about which message(s), and per recipient what happened."""

    report_id: str  # the report's own Message-ID, else a hash of its bytes
    shape: str  # "RFC 3464" or the name of the plain-text shape
    message_ids: tuple[str, ...]  # the original Message-IDs it names (with angle brackets)
    envelope_id: str  # RFC 3461 ENVID, "" when none
    recipients: tuple[Recipient, ...]
    date: str  # the report's Date header

    @property
    def failed(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.action == "failed")

    @property
    def delayed(self) -> tuple[Recipient, ...]:
        return tuple(r for r in self.recipients if r.action == "delayed")


def read_report(data: bytes) -> Report | None:
    """The delivery report ``data`` is, or None (a reply, an auto-reply, other mail)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    report_id = _one_line(msg.get("Message-ID", "")) or (
        "sha256:" + hashlib.sha256(data).hexdigest()
    )
    date = _one_line(msg.get("Date", ""))
    status_part = _delivery_status_part(msg)
    if status_part is not None:
        envelope_id, recipients = _delivery_status(status_part)
        if recipients:
            return Report(
                report_id,
                "RFC 3464",
                _original_ids(msg),
                envelope_id,
                tuple(recipients),
                date,
            )
    if not (_from_a_daemon(msg) or (_null_sender(msg) and not _auto_reply(msg))):
        return None
    temporary, permanent = all_failures(msg)
    if not temporary and not permanent:
        return None
    text = _text_of(msg)
    found: list[Recipient] = []
    for raw, action in [(a, "failed") for a in sorted(permanent)] + [
        (a, "delayed") for a in sorted(temporary - permanent)
    ]:
        address = raw.decode("ascii", "replace").strip().lower()
        status, diagnostic = _words_near(text, address)
        if action == "failed" and status.startswith("4") and _TRANSIENT_WORDS.search(text):
            action = "delayed"
        if not status:
            status = "5.0.0" if action == "failed" else "4.0.0"
        found.append(Recipient(address, "", action, status, diagnostic))  # type: ignore[arg-type]
    return Report(report_id, _shape(msg, text), _original_ids(msg), "", tuple(found), date)


# -- RFC 3464 --------------------------------------------------------------------------------


def _delivery_status_part(msg: Message) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            return part
    return None


def _status_blocks(part: Message) -> list[Message]:
    """The field blocks of a delivery-status part (the email package parses them as headers)."""
    payload = part.get_payload()
    if isinstance(payload, list) and all(isinstance(p, Message) for p in payload):
        return list(payload)
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [email.message_from_string(block, policy=email.policy.compat32) for block in blocks]


def _delivery_status(part: Message) -> tuple[str, list[Recipient]]:
    blocks = _status_blocks(part)
    if not blocks:
        return "", []
    envelope_id = _one_line(blocks[0].get("Original-Envelope-Id", ""))
    recipients: list[Recipient] = []
    for block in blocks:
        final = _address_field(block.get("Final-Recipient", ""))
        if not final:
            continue
        status = _one_line(block.get("Status", ""))
        match = _ENHANCED.search(status)
        status = match.group(0) if match else ""
        action = _one_line(block.get("Action", "")).lower()
        kind: Action
        if action == "failed" or (not action and status.startswith("5")):
            kind = "failed"
        elif action == "delayed" or (not action and status.startswith("4")):
            kind = "delayed"
        elif action in ("delivered", "relayed", "expanded") or status.startswith("2"):
            kind = "delivered"
        else:
            continue
        diagnostic = _one_line(block.get("Diagnostic-Code", ""))
        if ";" in diagnostic:
            diagnostic = diagnostic.split(";", 1)[1].strip()
        recipients.append(
            Recipient(
                final,
                _address_field(block.get("Original-Recipient", "")),
                kind,
                status or {"failed": "5.0.0", "delayed": "4.0.0"}.get(kind, "2.0.0"),
                diagnostic,
            )
        )
    return envelope_id, recipients


def _address_field(value: str) -> str:
    """``rfc822; Someone@Example.org`` → ``someone@example.org``."""
    text = _one_line(value)
    if ";" in text:
        text = text.split(";", 1)[1]
    return parseaddr(text.strip())[1].strip().lower() or text.strip().strip("<>").lower()


# -- what the report is about ------------------------------------------------------------------


def _original_ids(msg: Message) -> tuple[str, ...]:
    """Message-IDs of the original: the returned message or headers, else quoted in the text."""
    found: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            for original in inner if isinstance(inner, list) else []:
                if isinstance(original, Message) and original.get("Message-ID"):
                    found.append(_one_line(original["Message-ID"]))
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            found.extend(_MESSAGE_ID.findall(_decoded(part)))
    if not found:
        found.extend(_MESSAGE_ID.findall(_text_of(msg)))
    for header in ("In-Reply-To", "References"):  # some NDRs thread themselves to the original
        for value in msg.get_all(header, []):
            found.extend(re.findall(r"<[^>\s]+>", str(value)))
    return tuple(dict.fromkeys(i.strip() for i in found if i.strip()))


def _from_a_daemon(msg: Message) -> bool:
    """Sent by a mailer daemon or postmaster (whatever its Auto-Submitted header says)."""
    name, address = parseaddr(_one_line(msg.get("From", "")))
    local = address.split("@", 1)[0].lower()
    return local in ("mailer-daemon", "postmaster") or name.strip().lower() in _DAEMONS


def _null_sender(msg: Message) -> bool:
    """The empty return path of a bounce (which RFC 3834 auto-replies use too)."""
    return msg.get("Return-Path") is not None and _one_line(msg["Return-Path"]) in ("<>", "")


def _auto_reply(msg: Message) -> bool:
    """An RFC 3834 auto-reply (out of office, vacation) or one of the vendors' equivalents."""
    auto = _one_line(msg.get("Auto-Submitted", "")).lower()
    if auto.startswith("auto-replied"):
        return True
    if any(msg.get(header) is not None for header in _AUTO_REPLY_HEADERS):
        return True
    return _one_line(msg.get("Precedence", "")).lower() == "auto_reply"


def _shape(msg: Message, text: str) -> str:
    if msg.get("X-Failed-Recipients") is not None:
        return "Exim"
    if "qmail-send" in text or "I'm afraid I wasn't able to deliver" in text:
        return "qmail"
    if "Postfix" in text:
        return "Postfix"
    if "Delivery has failed" in text or "Microsoft" in text:
        return "Exchange"
    return "plain text"


def _words_near(text: str, address: str) -> tuple[str, str]:
    """The status code and the server's words following ``address`` in a plain-text bounce."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if address not in line.lower():
            continue
        window = [line.strip(), *(item.strip() for item in lines[index + 1 : index + 8])]
        words: list[str] = []
        for item in window[1:]:
            if not item or item.startswith("---"):
                if words:
                    break
                continue
            if "@" in item and item.rstrip(":").strip("<>").count("@") == 1 and " " not in item:
                break  # the next address
            words.append(item)
        joined = " ".join(words) or window[0]
        enhanced = _ENHANCED.search(joined)
        if enhanced:
            return enhanced.group(0), joined[:500]
        basic = _BASIC.search(joined)
        if basic:
            return f"{basic.group(1)}.0.0", joined[:500]
        if words:
            return "", joined[:500]
    return "", ""


# -- text --------------------------------------------------------------------------------------


def _decoded(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if isinstance(raw, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return raw.decode(charset, "replace")
        except LookupError:
            return raw.decode("utf-8", "replace")
    payload = part.get_payload()
    return payload if isinstance(payload, str) else ""


def _text_of(msg: Message) -> str:
    """Every text part, decoded, one after the other."""
    parts = [
        _decoded(part)
        for part in msg.walk()
        if part.get_content_maintype() == "text" and not part.is_multipart()
    ]
    return "\n".join(parts)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


# -- reports matched to the ledger -------------------------------------------------------------


class ReportSource(Protocol):
    """Where reports come from: the INBOX, read without changing it (see ``Mailbox``)."""

    def report_candidates(self, since: float | None) -> list[tuple[str, bytes]]:
        """(the message's identity, its header block) of each message that may be a report."""
        ...

    def message_bytes(self, identity: str) -> bytes:
        """The whole message, its flags left as they were."""
        ...


@dataclass
class BouncesRead:
    """What reading the INBOX's reports did."""

    bounced: list[Bounce] = field(default_factory=list)
    delayed: list[Bounce] = field(default_factory=list)
    delivered: list[Bounce] = field(default_factory=list)
    reports: int = 0  # reports read now
    unmatched: int = 0  # reports that name no message of this ledger and account
    not_reports: int = 0  # other mail looked at (replies, auto-replies) and left alone
    matched: list[str] = field(default_factory=list)  # the INBOX identities of reports recorded
    moved: int = 0  # reports moved out of the INBOX (docmail reconcile --move-reports)
    moved_to: str = ""

    def notes(self) -> list[str]:
        """Plain sentences for a report's summary; empty when there is nothing to say."""
        notes = [
            f"Bounced: {b.campaign}/{b.key} to {b.recipient} ({b.status} {b.diagnostic})".rstrip()
            for b in self.bounced
        ]
        notes += [
            f"Delayed: {b.campaign}/{b.key} to {b.recipient} ({b.status}); the server still tries."
            for b in self.delayed
        ]
        notes += [f"Delivered after a delay: {b.campaign}/{b.key}." for b in self.delivered]
        if self.moved:
            notes.append(f"{self.moved} delivery report(s) moved to the folder {self.moved_to!r}.")
        if self.unmatched:
            notes.append(
                f"{self.unmatched} delivery report(s) in the INBOX name no message of this "
                "ledger and profile; left alone."
            )
        return notes


def read_bounces(
    ledger: Ledger, source: ReportSource, account: str, campaign: str | None = None
) -> BouncesRead:
    """Read the delivery reports not read before and record what they say about sent messages.

    Only a report naming a message of ``account`` in this ledger (by Message-ID, or the
    envelope id docmail sent) counts, and only for that message's own recipients. Each report
    is remembered (even one that matched nothing), so it is never counted twice.
    """
    result = BouncesRead()
    for identity, head in source.report_candidates(ledger.first_sent_at(account)):
        if ledger.report_read(account, identity):
            continue
        if not _may_be_report(head):
            ledger.remember_report(account, identity, "not a report")
            result.not_reports += 1
            continue
        report = read_report(source.message_bytes(identity))
        if report is None:
            ledger.remember_report(account, identity, "not a report")
            result.not_reports += 1
            continue
        result.reports += 1
        findings = _findings(ledger, report, account, campaign)
        if (
            campaign is not None
            and not findings
            and _names_other_campaign(ledger, report, account, campaign)
        ):
            continue  # another campaign's report: left for a reconcile of that campaign
        applied = ledger.record_report(account, identity, findings)
        if not findings:
            result.unmatched += 1
        else:
            result.matched.append(identity)
        for bounce in applied:
            {"failed": result.bounced, "delayed": result.delayed}.get(
                bounce.action, result.delivered
            ).append(bounce)
    return result


def _may_be_report(head: bytes) -> bool:
    msg = email.message_from_bytes(head, policy=email.policy.compat32)
    if msg.get_content_type() == "multipart/report":
        return True
    return _from_a_daemon(msg) or (_null_sender(msg) and not _auto_reply(msg))


def _entries(ledger: Ledger, report: Report, account: str) -> list[Entry]:
    ids = list(report.message_ids)
    if report.envelope_id:  # the Message-ID docmail sent as ENVID (RFC 3461 xtext)
        envid = re.sub(
            r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), report.envelope_id
        )
        ids.append(f"<{envid.strip('<>')}>")
    found: dict[tuple[str, str], Entry] = {}
    for message_id in dict.fromkeys(ids):
        entry = ledger.find_message(account, message_id)
        if entry is not None and entry.state in ("sent", "delayed", "bounced", "unknown"):
            found[(entry.campaign, entry.key)] = entry
    return list(found.values())


def _findings(ledger: Ledger, report: Report, account: str, campaign: str | None) -> list[Bounce]:
    findings: list[Bounce] = []
    for entry in _entries(ledger, report, account):
        if campaign is not None and entry.campaign != campaign:
            continue
        ours = {address.lower() for address in entry.recipients}
        for recipient in report.recipients:
            if recipient.address not in ours and recipient.original not in ours:
                continue  # not one of this message's recipients: a forged or confused report
            findings.append(
                Bounce(
                    campaign=entry.campaign,
                    key=entry.key,
                    message_id=entry.message_id,
                    recipient=recipient.original or recipient.address,
                    action=recipient.action,
                    status=recipient.status,
                    diagnostic=recipient.diagnostic[:500],
                    reported=report.date,
                    report_id=report.report_id,
                )
            )
    return findings


def _names_other_campaign(ledger: Ledger, report: Report, account: str, campaign: str) -> bool:
    return any(entry.campaign != campaign for entry in _entries(ledger, report, account))
