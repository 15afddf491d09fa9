"""XRechnung 3.0's rules, read off an invoice's XML: the German CIUS of the KoSIT (BR-DE-*)
and the Peppol rules it adopts (business process, electronic addresses)."""

from __future__ import annotations

import re

from docmail_nb._documents.cii import PEPPOL_PROCESS, XRECHNUNG_GUIDELINE
from docmail_nb._documents.cii_reading import AGREEMENT, LINES, SETTLEMENT, CiiReader

__all__ = ["check_xrechnung"]

_EMAIL = re.compile(r"^[^@\s]+@([^@.\s]+\.)+[^@.\s]+$")  # XRechnung's BR-DE-28 pattern


def check_xrechnung(reader: CiiReader) -> None:
    """XRechnung 3.0: the German CIUS (BR-DE-*) and the Peppol rules it adopts."""
    seller = f"{AGREEMENT}/ram:SellerTradeParty"
    buyer = f"{AGREEMENT}/ram:BuyerTradeParty"
    context = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext"
    if (
        reader.text(f"{context}/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
        != XRECHNUNG_GUIDELINE
    ):
        reader.add(
            "E-Invoice", "the specification identifier is not XRechnung 3.0.", "", "BR-DE-21"
        )
    if (
        reader.text(f"{context}/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID")
        != PEPPOL_PROCESS
    ):
        reader.add("E-Invoice", "the business process is missing.", "", "PEPPOL-EN16931-R001")
    reference = reader.text(f"{AGREEMENT}/ram:BuyerReference")
    if not reference:
        reader.add(
            reader.column("buyer_reference"),
            "is empty; XRechnung needs the buyer reference (the Leitweg-ID of a public "
            "buyer, or the customer's order or cost-centre reference).",
            "Ask the customer for their buyer reference (Leitweg-ID).",
            "BR-DE-15",
        )
    contact = f"{seller}/ram:DefinedTradeContact"
    reader.need(
        f"{contact}/ram:PersonName",
        "seller.toml: contact",
        "XRechnung needs the seller's contact person",
        "Give contact in seller.toml.",
        "BR-DE-5",
    )
    phone = reader.text(f"{contact}/ram:TelephoneUniversalCommunication/ram:CompleteNumber")
    if not phone:
        reader.add(
            "seller.toml: phone",
            "is empty; XRechnung needs the seller's phone number.",
            "Give phone in seller.toml.",
            "BR-DE-6",
        )
    elif len(re.findall(r"\d", phone)) < 3:
        reader.add(
            "seller.toml: phone",
            f"{phone!r} has fewer than three digits.",
            "Give the full phone number.",
            "BR-DE-27",
        )
    email = reader.text(f"{contact}/ram:EmailURIUniversalCommunication/ram:URIID")
    if not email:
        reader.add(
            "seller.toml: email",
            "is empty; XRechnung needs the seller's e-mail.",
            "Give email in seller.toml.",
            "BR-DE-7",
        )
    elif not _EMAIL.match(email):
        reader.add(
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
        reader.need(
            f"{address}/ram:CityName",
            prefix + ("city" if prefix else reader.column("city")),
            "XRechnung needs the town",
            "Give the town.",
            rules[0],
        )
        reader.need(
            f"{address}/ram:PostcodeCode",
            prefix + ("pcode" if prefix else reader.column("pcode")),
            "XRechnung needs the postcode",
            "Give the postcode.",
            rules[1],
        )
    if not reader.text(f"{seller}/ram:URIUniversalCommunication/ram:URIID"):
        reader.add(
            "seller.toml: email",
            "is empty; XRechnung needs the seller's electronic address.",
            "Give email in seller.toml.",
            "PEPPOL-EN16931-R020",
        )
    buyer_address = reader.text(f"{buyer}/ram:URIUniversalCommunication/ram:URIID")
    if not buyer_address:
        reader.add(
            reader.column("email"),
            "is empty; XRechnung needs the buyer's electronic address.",
            "Give the customer's invoice e-mail address.",
            "PEPPOL-EN16931-R010",
        )
    elif not _EMAIL.match(buyer_address):
        reader.add(
            reader.column("email"),
            f"{buyer_address!r} is not an e-mail address.",
            "Correct it.",
            "PEPPOL-EN16931-R010",
        )
    if not reader.nodes(f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"):
        reader.add(
            "seller.toml: iban",
            "is empty; XRechnung needs payment instructions.",
            "Give iban in seller.toml.",
            "BR-DE-1",
        )
    for tax in reader.nodes(f"{SETTLEMENT}/ram:ApplicableTradeTax"):
        if not reader.text("ram:RateApplicablePercent", tax):
            reader.add("vat_rate", "the VAT breakdown has no rate.", "", "BR-DE-14")
    uses_vat = {"S", "Z", "E", "AE", "K", "G", "L", "M"} & {
        reader.text(
            "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
        )
        for item in reader.nodes(LINES)
    }
    if uses_vat and not reader.text(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID"):
        reader.add(
            "seller.toml: vat_id",
            "is empty; XRechnung needs the seller's VAT number.",
            "Give vat_id in seller.toml.",
            "BR-DE-16",
        )
