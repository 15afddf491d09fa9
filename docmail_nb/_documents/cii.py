"""The invoice as UN/CEFACT Cross Industry Invoice (CII D16B) XML, and read back.

``build_cii`` writes the EN 16931 content of an :class:`Invoice`: as Factur-X / ZUGFeRD at
the EN 16931 profile (guideline ``urn:cen.eu:en16931:2017``), or as XRechnung 3.0 in CII
syntax (its guideline, the Peppol billing process, the seller contact and the electronic
addresses). The XML is written with lxml in the order the CII schema prescribes.

``read_cii`` reads any such XML back the way a customer's accounting software does: the
seller, the buyer, the lines, the VAT breakdown and the totals, taken from the XML alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from lxml import etree

from docmail_nb._documents.lines import Line, Totals

__all__ = [
    "FACTURX_GUIDELINE",
    "NS",
    "PEPPOL_PROCESS",
    "XRECHNUNG_GUIDELINE",
    "Invoice",
    "Party",
    "Profile",
    "ReadInvoice",
    "ReadLine",
    "ReadVat",
    "build_cii",
    "read_cii",
]

Profile = Literal["factur-x", "xrechnung"]
FACTURX_GUIDELINE = "urn:cen.eu:en16931:2017"
XRECHNUNG_GUIDELINE = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_RSM = "{" + NS["rsm"] + "}"
_RAM = "{" + NS["ram"] + "}"
_UDT = "{" + NS["udt"] + "}"


@dataclass(frozen=True)
class Party:
    """Seller or buyer as the e-invoice names them."""

    name: str
    street: str = ""
    house_num: str = ""
    pcode: str = ""
    city: str = ""
    country: str = ""
    vat_id: str = ""  # compact: CHE123456788MWST, DE123456789
    legal_id: str = ""  # the Swiss UID as legal registration (ISO 6523 ICD 0183)
    email: str = ""
    contact: str = ""
    phone: str = ""

    @property
    def address_line(self) -> str:
        """Street and building number as one line (BT-35 / BT-50)."""
        return " ".join(part for part in (self.street, self.house_num) if part)


@dataclass(frozen=True)
class Invoice:
    """Everything an EN 16931 invoice says, checked and computed."""

    number: str
    issue_date: dt.date
    currency: str
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    totals: Totals
    due_date: dt.date | None = None
    buyer_reference: str = ""
    account: str = ""  # IBAN (or QR-IBAN) to pay to
    bic: str = ""
    payment_reference: str = ""  # QR reference or creditor reference
    delivery_date: dt.date | None = None
    note: str = ""
    type_code: str = "380"


def build_cii(invoice: Invoice, profile: Profile) -> bytes:
    """The invoice as CII XML (UTF-8, with declaration), for ``profile``."""
    root = etree.Element(_RSM + "CrossIndustryInvoice", nsmap=NS)
    context = _sub(root, _RSM + "ExchangedDocumentContext")
    if profile == "xrechnung":
        _sub(
            _sub(context, "BusinessProcessSpecifiedDocumentContextParameter"), "ID", PEPPOL_PROCESS
        )
    guideline = XRECHNUNG_GUIDELINE if profile == "xrechnung" else FACTURX_GUIDELINE
    _sub(_sub(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", guideline)

    document = _sub(root, _RSM + "ExchangedDocument")
    _sub(document, "ID", invoice.number)
    _sub(document, "TypeCode", invoice.type_code)
    _date(_sub(document, "IssueDateTime"), invoice.issue_date)
    if invoice.note:
        _sub(_sub(document, "IncludedNote"), "Content", invoice.note)

    transaction = _sub(root, _RSM + "SupplyChainTradeTransaction")
    not_subject = any(line.vat_category == "O" for line in invoice.lines)
    for line in invoice.lines:
        _line(transaction, line, invoice.currency)

    agreement = _sub(transaction, "ApplicableHeaderTradeAgreement")
    if invoice.buyer_reference:
        _sub(agreement, "BuyerReference", invoice.buyer_reference)
    _party(agreement, "SellerTradeParty", invoice.seller, seller=True, vat=not not_subject)
    _party(agreement, "BuyerTradeParty", invoice.buyer, seller=False, vat=not not_subject)

    delivery = _sub(transaction, "ApplicableHeaderTradeDelivery")
    if any(line.vat_category == "K" for line in invoice.lines) and invoice.buyer.country:
        ship_to = _sub(delivery, "ShipToTradeParty")
        _sub(_sub(ship_to, "PostalTradeAddress"), "CountryID", invoice.buyer.country)
    if invoice.delivery_date is not None:
        event = _sub(delivery, "ActualDeliverySupplyChainEvent")
        _date(_sub(event, "OccurrenceDateTime"), invoice.delivery_date)

    settlement = _sub(transaction, "ApplicableHeaderTradeSettlement")
    if invoice.payment_reference:
        _sub(settlement, "PaymentReference", invoice.payment_reference)
    _sub(settlement, "InvoiceCurrencyCode", invoice.currency)
    if invoice.account:
        means = _sub(settlement, "SpecifiedTradeSettlementPaymentMeans")
        sepa = invoice.currency == "EUR" and invoice.account[:2] not in ("CH", "LI")
        _sub(means, "TypeCode", "58" if sepa else "30")
        _sub(_sub(means, "PayeePartyCreditorFinancialAccount"), "IBANID", invoice.account)
        if invoice.bic:
            _sub(_sub(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", invoice.bic)
    for entry in invoice.totals.vat:
        tax = _sub(settlement, "ApplicableTradeTax")
        _sub(tax, "CalculatedAmount", _amount(entry.amount))
        _sub(tax, "TypeCode", "VAT")
        if entry.exemption_reason and entry.category not in ("S", "Z"):
            _sub(tax, "ExemptionReason", entry.exemption_reason)
        _sub(tax, "BasisAmount", _amount(entry.base))
        _sub(tax, "CategoryCode", entry.category)
        _sub(tax, "RateApplicablePercent", _number(entry.rate))
    if invoice.due_date is not None:
        terms = _sub(settlement, "SpecifiedTradePaymentTerms")
        _sub(terms, "Description", f"Payable by {invoice.due_date.isoformat()}")
        _date(_sub(terms, "DueDateDateTime"), invoice.due_date)
    totals = invoice.totals
    summation = _sub(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "LineTotalAmount", _amount(totals.net))
    _sub(summation, "TaxBasisTotalAmount", _amount(totals.net))
    _sub(summation, "TaxTotalAmount", _amount(totals.vat_total), currencyID=invoice.currency)
    _sub(summation, "GrandTotalAmount", _amount(totals.gross))
    if totals.prepaid:
        _sub(summation, "TotalPrepaidAmount", _amount(totals.prepaid))
    _sub(summation, "DuePayableAmount", _amount(totals.payable))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _line(transaction: etree._Element, line: Line, currency: str) -> None:
    item = _sub(transaction, "IncludedSupplyChainTradeLineItem")
    _sub(_sub(item, "AssociatedDocumentLineDocument"), "LineID", str(line.number))
    _sub(_sub(item, "SpecifiedTradeProduct"), "Name", line.description)
    agreement = _sub(item, "SpecifiedLineTradeAgreement")
    _sub(_sub(agreement, "NetPriceProductTradePrice"), "ChargeAmount", _number(line.unit_price))
    delivery = _sub(item, "SpecifiedLineTradeDelivery")
    _sub(delivery, "BilledQuantity", _number(line.quantity), unitCode=line.unit)
    settlement = _sub(item, "SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ApplicableTradeTax")
    _sub(tax, "TypeCode", "VAT")
    _sub(tax, "CategoryCode", line.vat_category)
    if line.vat_category != "O":
        _sub(tax, "RateApplicablePercent", _number(line.vat_rate))
    if line.discount_amount:
        allowance = _sub(settlement, "SpecifiedTradeAllowanceCharge")
        _sub(_sub(allowance, "ChargeIndicator"), _UDT + "Indicator", "false")
        _sub(allowance, "CalculationPercent", _number(line.discount))
        _sub(allowance, "BasisAmount", _amount(line.gross))
        _sub(allowance, "ActualAmount", _amount(line.discount_amount))
        _sub(allowance, "ReasonCode", "95")
        _sub(allowance, "Reason", "Discount")
    summation = _sub(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
    _sub(summation, "LineTotalAmount", _amount(line.net))


def _party(parent: etree._Element, tag: str, party: Party, *, seller: bool, vat: bool) -> None:
    element = _sub(parent, tag)
    _sub(element, "Name", party.name)
    if party.legal_id and seller:
        _sub(_sub(element, "SpecifiedLegalOrganization"), "ID", party.legal_id, schemeID="0183")
    if seller and (party.contact or party.phone or party.email):
        contact = _sub(element, "DefinedTradeContact")
        if party.contact:
            _sub(contact, "PersonName", party.contact)
        if party.phone:
            _sub(_sub(contact, "TelephoneUniversalCommunication"), "CompleteNumber", party.phone)
        if party.email:
            _sub(_sub(contact, "EmailURIUniversalCommunication"), "URIID", party.email)
    address = _sub(element, "PostalTradeAddress")
    if party.pcode:
        _sub(address, "PostcodeCode", party.pcode)
    if party.address_line:
        _sub(address, "LineOne", party.address_line)
    if party.city:
        _sub(address, "CityName", party.city)
    _sub(address, "CountryID", party.country)
    if party.email:
        _sub(_sub(element, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if party.vat_id and vat:
        _sub(_sub(element, "SpecifiedTaxRegistration"), "ID", party.vat_id, schemeID="VA")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    qualified = tag if tag.startswith("{") else _RAM + tag
    element = etree.SubElement(parent, qualified, attrs)
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, value: dt.date) -> None:
    _sub(parent, _UDT + "DateTimeString", value.strftime("%Y%m%d"), format="102")


def _amount(value: Decimal) -> str:
    return format(value, "f")


def _number(value: Decimal) -> str:
    """A quantity, price or rate without exponent and without trailing zeros (2.50 → 2.5)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


# --- reading back --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadLine:
    """A line as the XML says it."""

    line_id: str
    name: str
    quantity: Decimal
    unit: str
    net_price: Decimal
    category: str
    rate: Decimal | None
    allowance: Decimal
    net: Decimal


@dataclass(frozen=True)
class ReadVat:
    """A VAT breakdown entry as the XML says it."""

    category: str
    rate: Decimal | None
    base: Decimal
    amount: Decimal
    exemption_reason: str


@dataclass
class ReadInvoice:
    """An invoice read from CII XML alone."""

    guideline: str
    number: str
    issue_date: str
    currency: str
    seller: dict[str, str]
    buyer: dict[str, str]
    buyer_reference: str
    lines: list[ReadLine]
    vat: list[ReadVat]
    totals: dict[str, Decimal | None]
    due_date: str
    account: str
    payment_reference: str
    business_process: str = ""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """The invoice in plain lines, as the customer's software would show it."""
        out = [
            f"e-invoice {self.number} of {self.issue_date}, {self.currency} "
            f"({_profile_name(self.guideline)})",
            "seller: " + _party_text(self.seller),
            "buyer:  " + _party_text(self.buyer),
        ]
        if self.buyer_reference:
            out.append(f"buyer reference: {self.buyer_reference}")
        for line in self.lines:
            rate = (
                f"{line.category} {_number(line.rate)} %"
                if line.rate is not None
                else line.category
            )
            less = f" less {line.allowance}" if line.allowance else ""
            out.append(
                f"  {line.line_id}. {line.name}: {_number(line.quantity)} {line.unit} × "
                f"{_number(line.net_price)}{less} = {line.net}  [{rate}]"
            )
        for entry in self.vat:
            rate = f"{_number(entry.rate)} %" if entry.rate is not None else ""
            reason = f" ({entry.exemption_reason})" if entry.exemption_reason else ""
            out.append(f"VAT {entry.category} {rate} on {entry.base}: {entry.amount}{reason}")
        totals = self.totals
        out.append(
            f"net {totals['line_total']}, VAT {totals['tax_total']}, "
            f"total {totals['grand_total']}, payable {totals['due_payable']} {self.currency}"
        )
        payment = [f"to {self.account}"] if self.account else []
        if self.payment_reference:
            payment.append(f"reference {self.payment_reference}")
        if self.due_date:
            payment.append(f"due {self.due_date}")
        if payment:
            out.append("payment: " + ", ".join(payment))
        return out


def read_cii(xml: bytes) -> ReadInvoice:
    """Read a CII invoice's content back from its XML (ValueError when it is not CII)."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag != _RSM + "CrossIndustryInvoice":
        raise ValueError(f"not a Cross Industry Invoice: {root.tag!s}")

    def text(node: etree._Element, path: str) -> str:
        found = node.xpath(path, namespaces=NS)
        if isinstance(found, list) and found:
            first = found[0]
            value = first.text if isinstance(first, etree._Element) else first
            return str(value or "").strip()
        return ""

    def amount(node: etree._Element, path: str) -> Decimal | None:
        value = text(node, path)
        return Decimal(value) if value else None

    transaction = "rsm:SupplyChainTradeTransaction"
    agreement = f"{transaction}/ram:ApplicableHeaderTradeAgreement"
    settlement = f"{transaction}/ram:ApplicableHeaderTradeSettlement"
    lines = []
    for item in _nodes(root, f"{transaction}/ram:IncludedSupplyChainTradeLineItem"):
        rate = text(
            item,
            "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
        )
        allowances = _nodes(
            item,
            "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge"
            "[ram:ChargeIndicator/udt:Indicator='false']/ram:ActualAmount",
        )
        lines.append(
            ReadLine(
                line_id=text(item, "ram:AssociatedDocumentLineDocument/ram:LineID"),
                name=text(item, "ram:SpecifiedTradeProduct/ram:Name"),
                quantity=Decimal(
                    text(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity") or 0
                ),
                unit=text(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode"),
                net_price=Decimal(
                    text(
                        item,
                        "ram:SpecifiedLineTradeAgreement"
                        "/ram:NetPriceProductTradePrice/ram:ChargeAmount",
                    )
                    or 0
                ),
                category=text(
                    item, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode"
                ),
                rate=Decimal(rate) if rate else None,
                allowance=sum((Decimal(str(node.text)) for node in allowances), Decimal(0)),
                net=Decimal(
                    text(
                        item,
                        "ram:SpecifiedLineTradeSettlement"
                        "/ram:SpecifiedTradeSettlementLineMonetarySummation"
                        "/ram:LineTotalAmount",
                    )
                    or 0
                ),
            )
        )
    vat = []
    for tax in _nodes(root, f"{settlement}/ram:ApplicableTradeTax"):
        rate = text(tax, "ram:RateApplicablePercent")
        vat.append(
            ReadVat(
                category=text(tax, "ram:CategoryCode"),
                rate=Decimal(rate) if rate else None,
                base=Decimal(text(tax, "ram:BasisAmount") or 0),
                amount=Decimal(text(tax, "ram:CalculatedAmount") or 0),
                exemption_reason=text(tax, "ram:ExemptionReason"),
            )
        )
    summation = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    totals = {
        name: amount(root, f"{summation}/ram:{tag}")
        for name, tag in (
            ("line_total", "LineTotalAmount"),
            ("tax_basis", "TaxBasisTotalAmount"),
            ("tax_total", "TaxTotalAmount"),
            ("grand_total", "GrandTotalAmount"),
            ("prepaid", "TotalPrepaidAmount"),
            ("due_payable", "DuePayableAmount"),
        )
    }
    return ReadInvoice(
        guideline=text(
            root,
            "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        ),
        business_process=text(
            root,
            "rsm:ExchangedDocumentContext"
            "/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
        ),
        number=text(root, "rsm:ExchangedDocument/ram:ID"),
        issue_date=_read_date(
            text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
        ),
        currency=text(root, f"{settlement}/ram:InvoiceCurrencyCode"),
        seller=_read_party(root, f"{agreement}/ram:SellerTradeParty", text),
        buyer=_read_party(root, f"{agreement}/ram:BuyerTradeParty", text),
        buyer_reference=text(root, f"{agreement}/ram:BuyerReference"),
        lines=lines,
        vat=vat,
        totals=totals,
        due_date=_read_date(
            text(
                root,
                f"{settlement}/ram:SpecifiedTradePaymentTerms"
                "/ram:DueDateDateTime/udt:DateTimeString",
            )
        ),
        account=text(
            root,
            f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans"
            "/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
        ),
        payment_reference=text(root, f"{settlement}/ram:PaymentReference"),
        notes=[
            str(n.text) for n in _nodes(root, "rsm:ExchangedDocument/ram:IncludedNote/ram:Content")
        ],
    )


def _nodes(node: etree._Element, path: str) -> Sequence[Any]:
    found = node.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return found


def _read_party(root: etree._Element, path: str, text: Any) -> dict[str, str]:
    address = f"{path}/ram:PostalTradeAddress"
    return {
        "name": text(root, f"{path}/ram:Name"),
        "address": text(root, f"{address}/ram:LineOne"),
        "pcode": text(root, f"{address}/ram:PostcodeCode"),
        "city": text(root, f"{address}/ram:CityName"),
        "country": text(root, f"{address}/ram:CountryID"),
        "vat_id": text(root, f"{path}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
        "email": text(root, f"{path}/ram:URIUniversalCommunication/ram:URIID"),
        "contact": text(root, f"{path}/ram:DefinedTradeContact/ram:PersonName"),
    }


def _party_text(party: dict[str, str]) -> str:
    place = " ".join(part for part in (party["pcode"], party["city"]) if part)
    parts = [party["name"], party["address"], place, party["country"]]
    text = ", ".join(part for part in parts if part)
    if party["vat_id"]:
        text += f"; VAT {party['vat_id']}"
    if party["email"]:
        text += f"; {party['email']}"
    return text


def _read_date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _profile_name(guideline: str) -> str:
    if guideline == XRECHNUNG_GUIDELINE:
        return "XRechnung 3.0"
    if guideline == FACTURX_GUIDELINE:
        return "EN 16931, Factur-X/ZUGFeRD"
    return guideline
