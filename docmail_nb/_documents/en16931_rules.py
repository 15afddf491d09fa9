"""The EN 16931 rules an invoice made from spreadsheet data can break, read off its XML:
mandatory fields (BR-01 … BR-26), code lists (BR-CL-*), VAT identifiers (BR-CO-09), the lines,
payment terms (BR-CO-25) and the IBAN; the totals and VAT breakdown are checked in
``vat_breakdown_rules``."""

from __future__ import annotations

from lxml import etree

from docmail_nb._documents.cii_reading import AGREEMENT, LINES, SETTLEMENT, SUM, CiiReader
from docmail_nb._documents.codes import code_list
from docmail_nb._documents.vat_breakdown_rules import check_categories, check_totals

__all__ = ["check_en16931"]


def check_en16931(reader: CiiReader) -> None:
    """The EN 16931 rules on mandatory fields, code lists, VAT identifiers, lines and terms."""
    seller = f"{AGREEMENT}/ram:SellerTradeParty"
    buyer = f"{AGREEMENT}/ram:BuyerTradeParty"
    reader.need(
        "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
        "Key",
        "the invoice number (BT-1) is required",
        "Give every row its invoice number.",
        "BR-02",
    )
    reader.need(
        f"{seller}/ram:Name",
        "seller.toml: name",
        "the seller's name is required",
        "Fill in seller.toml.",
        "BR-06",
    )
    reader.need(
        f"{buyer}/ram:Name",
        reader.column("company"),
        "the buyer's name (BT-44) is required",
        "Give the customer's company name.",
        "BR-07",
    )
    for party, field_prefix, rule in ((seller, "seller.toml: ", "BR-09"), (buyer, "", "BR-11")):
        country = reader.text(f"{party}/ram:PostalTradeAddress/ram:CountryID")
        field = field_prefix + ("country" if field_prefix else reader.column("country"))
        if not country:
            reader.add(
                field,
                "is empty; the country code is required.",
                "Write the two-letter ISO code: CH, DE, AT ...",
                rule,
            )
        elif country not in code_list("country"):
            reader.add(
                field,
                f"{country!r} is not an ISO 3166 country code.",
                "Write the two-letter ISO code: CH, DE, AT ...",
                "BR-CL-14",
            )
    currency = reader.text(f"{SETTLEMENT}/ram:InvoiceCurrencyCode")
    if currency and currency not in code_list("currency"):
        reader.add(
            reader.column("currency"),
            f"{currency!r} is not an ISO 4217 currency code.",
            "Write CHF, EUR, USD ...",
            "BR-CL-04",
        )
    _vat_ids(reader, seller, buyer)
    if not (
        reader.text(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID")
        or reader.text(f"{seller}/ram:SpecifiedLegalOrganization/ram:ID")
        or reader.text(f"{seller}/ram:ID")
        or reader.text(f"{seller}/ram:GlobalID")
    ):
        reader.add(
            "seller.toml: vat_id",
            "is empty; an e-invoice names the seller by its VAT number or registration.",
            "Give vat_id in seller.toml (a Swiss UID, CHE-…, is enough).",
            "BR-CO-26",
        )
    lines = reader.nodes(LINES)
    if not lines:
        reader.add(
            "Lines",
            "the invoice has no lines.",
            "Give the row at least one line in the lines sheet (same key).",
            "BR-16",
        )
    for item in lines:
        _line(reader, item)
    check_totals(reader, lines)
    check_categories(reader, lines, seller, buyer)
    payable = reader.amount(f"{SUM}/ram:DuePayableAmount")
    if payable > 0 and not (
        reader.text(
            f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
        )
        or reader.text(f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:Description")
    ):
        reader.add(
            reader.column("due"),
            "is empty; an amount due needs a due date or terms.",
            "Give the due date.",
            "BR-CO-25",
        )
    account = reader.text(
        f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
        "/ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
    )
    if account and not _iban_ok(account):
        reader.add(
            "seller.toml: iban",
            f"{account!r} is not a valid IBAN.",
            "Correct the IBAN.",
            "BR-DE-19",
        )


def _vat_ids(reader: CiiReader, seller: str, buyer: str) -> None:
    for party, field in ((seller, "seller.toml: vat_id"), (buyer, reader.column("buyer_vat_id"))):
        vat_id = reader.text(f"{party}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
        if vat_id and (vat_id[:2] not in code_list("country") or not vat_id[:2].isalpha()):
            reader.add(
                field,
                f"{vat_id!r} does not start with a country code.",
                "A VAT identifier starts with its ISO 3166 country code (CHE…, DE…).",
                "BR-CO-09",
            )


def _line(reader: CiiReader, item: etree._Element) -> None:
    line_id = reader.text("ram:AssociatedDocumentLineDocument/ram:LineID", item)
    where = f"line {line_id}"
    if not reader.text("ram:SpecifiedTradeProduct/ram:Name", item):
        reader.add(f"{where}: description", "is empty.", "Say what was supplied.", "BR-25")
    unit = reader.text("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode", item)
    if unit not in code_list("unit"):
        reader.add(
            f"{where}: unit",
            f"{unit!r} is not a UN/ECE rec. 20 unit code.",
            "Use H87, HUR, DAY, MTK, KGM, LS ...",
            "BR-CL-23",
        )
    price = reader.amount(
        "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount", item
    )
    if price < 0:
        reader.add(
            f"{where}: unit_price",
            f"{price} is negative.",
            "Give a credit as a negative quantity.",
            "BR-27",
        )
    net = reader.text(
        "ram:SpecifiedLineTradeSettlement"
        "/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        item,
    )
    if _decimals(net) > 2:
        reader.add(f"{where}: net", f"{net} has more than two decimals.", "", "BR-DEC-23")
    category = reader.text(
        "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
    )
    if category not in code_list("vat_category"):
        reader.add(
            f"{where}: vat_category",
            f"{category!r} is not a VAT category (UNCL 5305).",
            "Use S, Z, E, AE, K, G or O.",
            "BR-CL-18",
        )


def _decimals(text: str) -> int:
    return len(text.partition(".")[2]) if "." in text else 0


def _iban_ok(iban: str) -> bool:
    from stdnum import iban as iban_numbers

    return bool(iban_numbers.is_valid(iban))
