"""ISO 20022 bank-to-customer files: camt.054 notifications and camt.053 statements.

Only what matching a payment to an invoice needs is read: per booked entry (``Ntry``) and each
of its transactions (``NtryDtls/TxDtls``, several when the bank batches them), the amount and
currency, credit or debit, the reversal mark, the booking date, the bank's reference and the
structured creditor reference (``RmtInf/Strd/CdtrRefInf``: ``Prtry`` ``QRR`` with the 27-digit
QR reference, or ``Cd`` ``SCOR`` with an ISO 11649 creditor reference).

A credit counts as a payment (a positive amount); a debit marked as a reversal (``RvslInd``
true: a payment sent back) counts against it (a negative amount); every other entry (plain
debits, entries not yet booked) is kept out. A file that is no camt.054/053, or of a version
not known here, is refused as a whole: nothing of it is read.

The parser is the standard library's (expat): it expands no external entities and refuses
entity explosions.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from docmail_nb.errors import PaymentFileError

__all__ = [
    "VERSIONS",
    "BankFile",
    "Credit",
    "ReferenceKind",
    "compact_reference",
    "parse_camt",
    "read_camt",
]

ReferenceKind = Literal["QRR", "SCOR", ""]

#: the message versions read here (their entry shape is the one described above)
VERSIONS: dict[str, tuple[str, ...]] = {
    "camt.054": ("04", "05", "06", "07", "08"),
    "camt.053": ("04", "05", "06", "07", "08"),
}
_ROOTS = {"camt.054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn"), "camt.053": ("BkToCstmrStmt", "Stmt")}
_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.(\d{2})$")
_MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Credit:
    """One transaction of a booked entry: a payment (amount > 0) or a returned one (< 0)."""

    identity: str  # stable across files: the same payment in a camt.054 and a camt.053 matches
    reference: str  # without spaces, upper case; "" when the payment carried none
    kind: ReferenceKind
    amount: Decimal
    currency: str
    booked: date
    debtor: str = ""
    account: str = ""  # the IBAN credited
    bank_reference: str = ""

    @property
    def reversal(self) -> bool:
        return self.amount < 0


@dataclass(frozen=True)
class BankFile:
    """What a camt file holds: its kind and version, its id and the credits in it."""

    kind: Literal["camt.054", "camt.053"]
    version: str
    message_id: str
    credits: tuple[Credit, ...]
    skipped: int  # entries that are neither a credit nor a returned credit, or not booked


def compact_reference(text: str) -> str:
    """A reference as compared: without spaces, upper case."""
    return re.sub(r"\s+", "", text).upper()


def read_camt(path: str | Path) -> BankFile:
    """Read and parse the camt file at ``path`` (see :func:`parse_camt`)."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > _MAX_BYTES:
            raise PaymentFileError(
                f"{file} is {size:,} bytes, more than a bank file of payments holds.",
                "Give the camt.054 or camt.053 file your bank delivered.",
            )
        data = file.read_bytes()
    except OSError as exc:
        raise PaymentFileError(
            f"The payments file {file} cannot be read: {exc.strerror or exc}.",
            "Check the path and that the file is readable.",
        ) from None
    return parse_camt(data, str(file))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Reader:
    """Element look-ups in the file's one namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def path(self, names: str) -> str:
        return "/".join(f"{{{self.ns}}}{name}" for name in names.split("/"))

    def find(self, element: ET.Element, names: str) -> ET.Element | None:
        return element.find(self.path(names))

    def findall(self, element: ET.Element, names: str) -> list[ET.Element]:
        return element.findall(self.path(names))

    def text(self, element: ET.Element | None, names: str) -> str:
        if element is None:
            return ""
        found = self.find(element, names)
        return (found.text or "").strip() if found is not None else ""


def _refuse(where: str, what: str) -> PaymentFileError:
    versions = f"001.{VERSIONS['camt.054'][0]} to 001.{VERSIONS['camt.054'][-1]}"
    return PaymentFileError(
        f"{where}: {what}; nothing was recorded.",
        "Give the camt.054 notification or camt.053 statement your bank delivered "
        f"(ISO 20022 XML, versions {versions}).",
    )


def parse_camt(data: bytes, where: str = "the payments file") -> BankFile:
    """The credits of a camt.054 or camt.053 file; raises PaymentFileError for anything else."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat: no external entities, no explosions
    except ET.ParseError as exc:
        raise _refuse(where, f"not well-formed XML ({exc})") from None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    match = _NAMESPACE.match(namespace)
    if _local(root.tag) != "Document" or match is None:
        shown = namespace or "no namespace"
        raise _refuse(where, f"not an ISO 20022 camt.054 or camt.053 file ({shown})")
    kind, version = match.group(1), match.group(2)
    if version not in VERSIONS[kind]:
        raise _refuse(where, f"{kind}.001.{version} is a version docmail cannot read")
    reader = _Reader(namespace)
    top, part = _ROOTS[kind]
    body = reader.find(root, top)
    if body is None:
        raise _refuse(where, f"the {kind} document has no {top} element")
    message_id = reader.text(body, "GrpHdr/MsgId")
    credits: list[Credit] = []
    skipped = 0
    seen: dict[str, int] = {}
    for block in reader.findall(body, part):
        account = reader.text(block, "Acct/Id/IBAN") or reader.text(block, "Acct/Id/Othr/Id")
        for number, entry in enumerate(reader.findall(block, "Ntry"), start=1):
            found, more_skipped = _entry_credits(reader, entry, account, where, number, seen)
            credits.extend(found)
            skipped += more_skipped
    return BankFile(kind, version, message_id, tuple(credits), skipped)  # type: ignore[arg-type]


def _amount(reader: _Reader, element: ET.Element, names: str, where: str) -> tuple[Decimal, str]:
    found = reader.find(element, names)
    if found is None:
        return Decimal(0), ""
    try:
        value = Decimal((found.text or "").strip())
    except InvalidOperation:
        raise _refuse(where, f"the amount {found.text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise _refuse(where, f"the amount {found.text!r} is not an amount")
    return value, found.get("Ccy", "")


def _booked(reader: _Reader, entry: ET.Element, where: str) -> date:
    text = reader.text(entry, "BookgDt/Dt") or reader.text(entry, "BookgDt/DtTm")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _refuse(where, f"an entry has no booking date ({text!r})") from None


def _status(reader: _Reader, entry: ET.Element) -> str:
    return (
        reader.text(entry, "Sts/Cd") or reader.text(entry, "Sts/Prtry") or reader.text(entry, "Sts")
    )


def _reference(reader: _Reader, tx: ET.Element) -> tuple[str, ReferenceKind]:
    for info in reader.findall(tx, "RmtInf/Strd/CdtrRefInf"):
        ref = compact_reference(reader.text(info, "Ref"))
        code = reader.text(info, "Tp/CdOrPrtry/Cd") or reader.text(info, "Tp/CdOrPrtry/Prtry")
        if not ref:
            continue
        if code.upper() == "QRR" or (not code and ref.isdigit() and len(ref) == 27):
            return ref, "QRR"
        if code.upper() == "SCOR" or ref.startswith("RF"):
            return ref, "SCOR"
    return "", ""


def _entry_credits(
    reader: _Reader,
    entry: ET.Element,
    account: str,
    where: str,
    number: int,
    seen: dict[str, int],
) -> tuple[list[Credit], int]:
    """The credits of one entry, and 1 when the entry is none (0 otherwise)."""
    status = _status(reader, entry)
    if status and status.upper() != "BOOK":
        return [], 1
    sign = reader.text(entry, "CdtDbtInd").upper()
    reversal = reader.text(entry, "RvslInd").lower() in ("true", "1")
    if sign == "CRDT" and not reversal:
        factor = Decimal(1)
    elif sign == "DBIT" and reversal:
        factor = Decimal(-1)
    else:
        return [], 1
    booked = _booked(reader, entry, where)
    entry_amount, entry_currency = _amount(reader, entry, "Amt", where)
    entry_ref = reader.text(entry, "AcctSvcrRef") or reader.text(entry, "NtryRef")
    transactions = reader.findall(entry, "NtryDtls/TxDtls")
    credits: list[Credit] = []
    for tx in transactions or [entry]:
        amount, currency = _amount(reader, tx, "Amt", where)
        if not currency:
            amount, currency = _amount(reader, tx, "AmtDtls/TxAmt/Amt", where)
        if not currency:
            if len(transactions) > 1:
                raise _refuse(where, f"entry {number} batches transactions without their amounts")
            amount, currency = entry_amount, entry_currency
        if not currency:
            raise _refuse(where, f"entry {number} has no amount")
        reference, kind = _reference(reader, tx) if tx is not entry else ("", "")
        debtor = reader.text(tx, "RltdPties/Dbtr/Pty/Nm") or reader.text(tx, "RltdPties/Dbtr/Nm")
        bank_ref = reader.text(tx, "Refs/AcctSvcrRef") if tx is not entry else ""
        value = factor * amount
        basis = (
            f"tx|{account}|{bank_ref}|{sign}|{reversal}"
            if bank_ref
            else f"e|{account}|{entry_ref}|{booked}|{reference}|{value}|{currency}"
        )
        seen[basis] = seen.get(basis, 0) + 1
        identity = hashlib.sha256(f"{basis}|{seen[basis]}".encode()).hexdigest()[:32]
        credits.append(
            Credit(
                identity=identity,
                reference=reference,
                kind=kind,
                amount=value,
                currency=currency,
                booked=booked,
                debtor=debtor,
                account=account,
                bank_reference=bank_ref or entry_ref,
            )
        )
    return credits, 0
