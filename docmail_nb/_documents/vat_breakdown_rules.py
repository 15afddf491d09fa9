"""The EN 16931 rules on an invoice's totals and VAT breakdown, read off its XML: the sums
(BR-CO-10 … BR-CO-17), the base and VAT per category and rate (BR-S-08 and its siblings,
BR-*-09/10), and what each VAT category needs from the parties (BR-*-02, BR-O-11, BR-IC-11)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from docmail_nb._documents.cii_reading import SETTLEMENT, SUM, CiiReader

__all__ = ["check_categories", "check_totals"]


def check_totals(reader: CiiReader, lines: list[Any]) -> None:
    """BR-CO-10, 13, 14, 15, 16, 17 and BR-S-08 (and the same per other category)."""
    line_nets = [
        reader.amount(
            "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation"
            "/ram:LineTotalAmount",
            item,
        )
        for item in lines
    ]
    line_total = reader.amount(f"{SUM}/ram:LineTotalAmount")
    basis = reader.amount(f"{SUM}/ram:TaxBasisTotalAmount")
    tax_total = reader.amount(f"{SUM}/ram:TaxTotalAmount")
    grand = reader.amount(f"{SUM}/ram:GrandTotalAmount")
    prepaid = reader.amount(f"{SUM}/ram:TotalPrepaidAmount")
    rounding = reader.amount(f"{SUM}/ram:RoundingAmount")
    payable = reader.amount(f"{SUM}/ram:DuePayableAmount")
    allowances = reader.amount(f"{SUM}/ram:AllowanceTotalAmount")
    charges = reader.amount(f"{SUM}/ram:ChargeTotalAmount")
    hint = "The totals are computed from the lines; check the lines' amounts."
    if sum(line_nets, Decimal(0)) != line_total:
        reader.add(
            "totals.net",
            f"{line_total} is not the sum of the line nets {sum(line_nets, Decimal(0))}.",
            hint,
            "BR-CO-10",
        )
    if basis != line_total - allowances + charges:
        reader.add(
            "totals.net",
            f"the tax basis {basis} is not the line total {line_total}.",
            hint,
            "BR-CO-13",
        )
    breakdown = reader.nodes(f"{SETTLEMENT}/ram:ApplicableTradeTax")
    if not breakdown:
        reader.add("totals.vat", "the invoice has no VAT breakdown.", hint, "BR-CO-18")
    vat_sum = sum((reader.amount("ram:CalculatedAmount", tax) for tax in breakdown), Decimal(0))
    if tax_total != vat_sum:
        reader.add(
            "totals.vat_total",
            f"{tax_total} is not the sum of the VAT per rate {vat_sum}.",
            hint,
            "BR-CO-14",
        )
    if grand != basis + tax_total:
        reader.add(
            "totals.gross", f"{grand} is not net {basis} + VAT {tax_total}.", hint, "BR-CO-15"
        )
    if payable != grand - prepaid + rounding:
        reader.add(
            "totals.payable",
            f"{payable} is not {grand} less prepaid {prepaid}.",
            hint,
            "BR-CO-16",
        )
    for tax in breakdown:
        category = reader.text("ram:CategoryCode", tax)
        rate_text = reader.text("ram:RateApplicablePercent", tax)
        rate = Decimal(rate_text) if rate_text else Decimal(0)
        base = reader.amount("ram:BasisAmount", tax)
        amount = reader.amount("ram:CalculatedAmount", tax)
        expected = (base * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if amount != expected:
            reader.add(
                "totals.vat",
                f"the VAT at {rate} % on {base} is {amount}, not {expected}.",
                hint,
                "BR-CO-17",
            )
        of_rate = Decimal(0)
        for item, net in zip(lines, line_nets, strict=True):
            line_category = reader.text(
                "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
            )
            line_rate = reader.text(
                "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
                item,
            )
            if line_category == category and Decimal(line_rate or 0) == rate:
                of_rate += net
        if base != of_rate:
            reader.add(
                "totals.vat",
                f"the VAT base of {category} {rate} % is {base}, not the "
                f"sum of its lines {of_rate}.",
                hint,
                f"BR-{category}-08",
            )
        if category in ("S", "Z") and reader.text("ram:ExemptionReason", tax):
            reader.add(
                "vat_exemption",
                f"a {category} rate carries no exemption reason.",
                "Leave vat_exemption empty for taxed lines.",
                f"BR-{category}-10",
            )
        if category in ("E", "AE", "K", "G", "O") and not (
            reader.text("ram:ExemptionReason", tax) or reader.text("ram:ExemptionReasonCode", tax)
        ):
            reader.add(
                "vat_exemption",
                f"is empty; a {category} line must say why it carries no VAT.",
                "Give vat_exemption in the line.",
                f"BR-{category}-10",
            )
        if category != "S" and category not in ("L", "M") and amount != 0:
            reader.add(
                "totals.vat",
                f"category {category} carries no VAT, but {amount}.",
                hint,
                f"BR-{category}-09",
            )


def check_categories(reader: CiiReader, lines: list[Any], seller: str, buyer: str) -> None:
    """What each VAT category needs from the parties (BR-S-02, BR-AE-02, BR-O-02 ...)."""
    used = {
        reader.text(
            "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", item
        )
        for item in lines
    }
    seller_vat = reader.text(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID")
    buyer_vat = reader.text(f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']")
    for category in sorted(used & {"S", "Z", "E", "AE", "K", "G"}):
        if not seller_vat:
            reader.add(
                "seller.toml: vat_id",
                f"is empty, but a line of VAT category {category} needs the seller's VAT number.",
                "Give vat_id in seller.toml.",
                f"BR-{category}-02",
            )
    for category in sorted(used & {"AE", "K"}):
        if not buyer_vat:
            reader.add(
                reader.column("buyer_vat_id"),
                f"is empty, but a line of VAT category {category} needs the buyer's VAT number.",
                "Give the customer's VAT number.",
                f"BR-{category}-02",
            )
    if "O" in used and len(used) > 1:
        reader.add(
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
    period = f"{SETTLEMENT}/ram:BillingSpecifiedPeriod"
    if "K" in used and not (reader.nodes(delivered) or reader.nodes(period)):
        reader.add(
            reader.column("delivery_date"),
            "is empty; an intra-community supply needs its delivery date.",
            "Give the delivery date.",
            "BR-IC-11",
        )
