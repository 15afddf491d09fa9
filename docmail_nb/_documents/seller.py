"""The seller, written once: ``seller.toml`` beside the templates.

::

    name = "Bergmann Werkstatt GmbH"
    street = "Tössfeldstrasse"
    house_num = "12"
    pcode = "8406"
    city = "Winterthur"
    country = "CH"
    vat_id = "CHE-123.456.788 MWST"
    iban = "CH44 3199 9123 0008 8901 2"
    bic = ""                      # optional
    contact = "Anna Bergmann"
    email = "rechnung@bergmann-werkstatt.example"
    phone = "+41 52 555 01 23"

Document templates see it as ``seller`` (``seller.name``, ``seller.vat_id``, and
``seller.address`` for ``qrbill(creditor=seller.address)``); the e-invoice takes its seller
from it. Every value is checked: the VAT number with its check digit (the Swiss UID's modulo
11, the EU numbers' own checks, via python-stdnum), the IBAN, the e-mail address.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docmail_nb._documents.lines import LineProblem

__all__ = ["SELLER_FILE", "SELLER_KEYS", "Seller", "check_vat_id", "load_seller"]

SELLER_FILE = "seller.toml"
SELLER_KEYS = (
    "name",
    "street",
    "house_num",
    "pcode",
    "city",
    "country",
    "vat_id",
    "iban",
    "bic",
    "contact",
    "email",
    "phone",
)
_REQUIRED = ("name", "pcode", "city", "country")
_ADDRESS = ("name", "street", "house_num", "pcode", "city", "country")


@dataclass(frozen=True)
class Seller:
    """The checked contents of seller.toml."""

    path: Path | None
    name: str
    street: str
    house_num: str
    pcode: str
    city: str
    country: str
    vat_id: str  # as written: CHE-123.456.788 MWST
    vat_id_compact: str  # as the e-invoice carries it: CHE123456788MWST
    iban: str  # without spaces
    bic: str
    contact: str
    email: str
    phone: str

    @property
    def address(self) -> dict[str, str]:
        """The structured address, as ``qrbill(creditor=...)`` takes it."""
        return {key: getattr(self, key) for key in _ADDRESS}

    def as_mapping(self) -> dict[str, Any]:
        """What a document template sees as ``seller``."""
        values: dict[str, Any] = {key: getattr(self, key) for key in SELLER_KEYS}
        values["iban"] = _group(self.iban)
        values["address"] = self.address
        return values


def load_seller(path: Path) -> tuple[Seller | None, list[LineProblem]]:
    """Read and check seller.toml: the seller, or every problem (``seller.toml: vat_id``)."""
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return None, [
            LineProblem(
                where,
                f"{path} does not exist; an invoice with lines or an e-invoice needs the seller.",
                f"Copy the sample's {SELLER_FILE} beside the templates and fill it in.",
                "BR-06",
            )
        ]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, [
            LineProblem(where, f"cannot be read: {exc}.", 'Write it as TOML: key = "value".')
        ]
    problems: list[LineProblem] = []

    def add(key: str, message: str, hint: str, rule: str = "") -> None:
        problems.append(LineProblem(f"{where}: {key}", message, hint, rule))

    unknown = sorted(set(data) - set(SELLER_KEYS))
    if unknown:
        add(
            ", ".join(unknown),
            "is not a key of seller.toml.",
            f"The keys are: {', '.join(SELLER_KEYS)}.",
        )
    values = {key: _text(data.get(key)) for key in SELLER_KEYS}
    for key in _REQUIRED:
        if not values[key]:
            add(key, "is empty.", f"Give the seller's {key}.", _RULES[key])
    country = values["country"].upper()
    values["country"] = country
    from docmail_nb._documents.codes import code_list

    if country and country not in code_list("country"):
        add(
            "country",
            f"{country!r} is not an ISO 3166 country code.",
            "Write CH, LI, DE ...",
            "BR-CL-14",
        )
    compact = ""
    if values["vat_id"]:
        compact, message = check_vat_id(values["vat_id"], country)
        if message:
            add(
                "vat_id",
                message,
                "Copy the VAT number from the register (uid.admin.ch, VIES).",
                "BR-CO-09",
            )
    iban = values["iban"].replace(" ", "").upper()
    if iban:
        from stdnum import iban as iban_numbers

        if not iban_numbers.is_valid(iban):
            add(
                "iban",
                f"{values['iban']!r} is not a valid IBAN (its check digits fail).",
                "Copy the IBAN from the bank's documents.",
            )
    if values["email"]:
        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(values["email"], check_deliverability=False)
        except EmailNotValidError as exc:
            add("email", f"{values['email']!r} is not an e-mail address: {exc}", "Correct it.")
    if problems:
        return None, problems
    return (
        Seller(
            path=path,
            name=values["name"],
            street=values["street"],
            house_num=values["house_num"],
            pcode=values["pcode"],
            city=values["city"],
            country=country,
            vat_id=values["vat_id"],
            vat_id_compact=compact,
            iban=iban,
            bic=values["bic"].replace(" ", "").upper(),
            contact=values["contact"],
            email=values["email"],
            phone=values["phone"],
        ),
        [],
    )


_RULES = {"name": "BR-06", "pcode": "BR-DE-4", "city": "BR-DE-3", "country": "BR-09"}


def check_vat_id(value: str, country: str = "") -> tuple[str, str]:
    """The VAT number compacted (``CHE123456788MWST``), and why it is wrong ("" if it is not).

    Swiss and Liechtenstein numbers (``CHE-123.456.788 MWST``) are checked with the UID's
    modulo-11 check digit; numbers of EU states with their own checks; every number must start
    with a country code (EN 16931 BR-CO-09; Greece writes ``EL``).
    """
    from stdnum.ch import uid as swiss_uid
    from stdnum.ch import vat as swiss_vat
    from stdnum.eu import vat as eu_vat

    from docmail_nb._documents.codes import code_list

    text = value.strip()
    upper = text.upper().replace(" ", "").replace("-", "").replace(".", "")
    if upper.startswith("CHE"):
        digits = upper[3:12]
        suffix = upper[12:]
        if len(digits) != 9 or not digits.isdigit():
            return upper, f"{text!r} is not a Swiss UID (CHE and nine digits)."
        if not swiss_uid.is_valid("CHE" + digits):
            return upper, (f"{text!r} fails the check digit of the Swiss UID (modulo 11; a typo?).")
        if suffix and suffix not in ("MWST", "TVA", "IVA", "TPV"):
            return upper, f"{text!r} ends in {suffix!r}, not MWST, TVA or IVA."
        compact = swiss_vat.compact("CHE" + digits + (suffix or "MWST"))
        return compact, ""
    prefix = upper[:2]
    if prefix not in code_list("country") or not prefix.isalpha():
        return upper, (f"{text!r} does not start with a country code (CHE…, DE…, ATU…).")
    if prefix in _EU_PREFIXES:
        if not eu_vat.is_valid(upper):
            return upper, f"{text!r} is not a valid {prefix} VAT number (its check fails)."
        return eu_vat.compact(upper), ""
    if country and prefix != country and not (country == "GR" and prefix == "EL"):
        return upper, ""  # a foreign registration: allowed, not checkable here
    return upper, ""


_EU_PREFIXES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "EL",
        "ES",
        "FI",
        "FR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "XI",
    ]
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _group(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
