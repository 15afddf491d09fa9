"""Swiss QR-bill: the payment data checked field by field, references, and the payment part.

The rules are those of the Swiss Payment Standards (implementation guidelines for the QR-bill,
version 2.3): an IBAN of Switzerland or Liechtenstein with valid check digits; a QR-IBAN (its
institution identification is 30000–31999) takes exactly a QR reference (27 digits, the last a
modulo-10 recursive check digit) and a plain IBAN takes a creditor reference (ISO 11649,
``RF…``) or none; amounts 0.01–999,999,999.99 in CHF or EUR, or none (the payer fills it in);
structured addresses only (name, street, building number, postcode, town, two-letter country),
since banks refuse combined address lines from November 2025; only the characters the standard
permits (Latin letters with their accents, digits, common punctuation, ``€``).

``check_payment`` finds every problem at once, each naming its field (``creditor.pcode``);
``payment_part_svg`` draws the receipt and payment part with the ``qrbill`` package. The account
and the reference are made and checked in ``payment_references``.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from docmail_nb._compose.values import to_decimal
from docmail_nb._documents.payment_problems import (
    PaymentProblem,
    PaymentProblems,
    cell_text,
    char_label,
    short_repr,
)
from docmail_nb._documents.payment_references import (
    ReferenceType,
    check_account_reference,
    check_iban,
)
from docmail_nb.errors import DocumentError
from docmail_nb.words import join_reasons

__all__ = [
    "ADDRESS_FIELDS",
    "CURRENCIES",
    "LANGUAGES",
    "MAX_ADDITIONAL_INFORMATION",
    "MAX_AMOUNT",
    "MIN_AMOUNT",
    "Address",
    "PaymentData",
    "check_payment",
    "payment_data",
    "payment_part_svg",
]

LANGUAGES = ("de", "fr", "it", "en")
CURRENCIES = ("CHF", "EUR")
ADDRESS_FIELDS = ("name", "street", "house_num", "pcode", "city", "country")
_ADDRESS_LIMITS = {"name": 70, "street": 70, "house_num": 16, "pcode": 16, "city": 35}
_COMBINED_KEYS = ("line1", "line2", "address", "address_line", "address_line1", "address_line2")
MAX_AMOUNT = Decimal("999999999.99")
MIN_AMOUNT = Decimal("0.01")
MAX_ADDITIONAL_INFORMATION = 140
_POSTCODE_AND_TOWN = re.compile(r"(^|[\s,])\d{4,5}\s+\w{2,}")


def _permitted(char: str) -> bool:
    """The character set of the Swiss Payment Standards (v2.3, section 4.1.1)."""
    code = ord(char)
    return (
        0x20 <= code <= 0x7E  # Basic Latin
        or 0xA0 <= code <= 0x17F  # Latin-1 Supplement, Latin Extended-A
        or 0x218 <= code <= 0x21B  # Ș ș Ț ț
        or code == 0x20AC  # €
    )


@dataclass(frozen=True)
class Address:
    """A structured address (type ``S``), the only kind banks accept since November 2025."""

    name: str
    street: str
    house_num: str
    pcode: str
    city: str
    country: str

    def as_mapping(self) -> dict[str, str]:
        """The address in the ``qrbill`` package's terms."""
        return {field: getattr(self, field) for field in ADDRESS_FIELDS}


@dataclass(frozen=True)
class PaymentData:
    """Checked payment data of one QR-bill."""

    account: str  # IBAN without spaces
    creditor: Address
    debtor: Address | None
    amount: Decimal | None  # None: the payer fills it in
    currency: str
    reference_type: ReferenceType
    reference: str  # without spaces; "" for NON
    additional_information: str
    language: str

    @property
    def amount_text(self) -> str:
        """The amount as the QR code carries it (``1234.50``), or empty."""
        return "" if self.amount is None else f"{self.amount:.2f}"


def check_payment(
    *,
    account: Any,
    creditor: Any,
    debtor: Any = None,
    amount: Any = None,
    currency: Any = "CHF",
    reference: Any = None,
    additional_information: Any = None,
    language: Any = "de",
) -> tuple[PaymentData | None, list[PaymentProblem]]:
    """Check everything; the data (when there is no problem) and every problem found."""
    problems = PaymentProblems()
    iban = check_iban(cell_text(account), problems)
    creditor_address = _check_address("creditor", creditor, problems, required=True)
    debtor_address = _check_address("debtor", debtor, problems, required=False)
    value = _check_amount(amount, problems)
    currency_text = _check_currency(cell_text(currency).upper(), problems)
    ref_type, ref = check_account_reference(cell_text(reference), iban, problems)
    info = _check_information(cell_text(additional_information), problems)
    lang = _check_language(cell_text(language).lower(), problems)
    if problems or iban is None or creditor_address is None:
        return None, list(problems)
    return (
        PaymentData(
            account=iban,
            creditor=creditor_address,
            debtor=debtor_address,
            amount=value,
            currency=currency_text,
            reference_type=ref_type,
            reference=ref,
            additional_information=info,
            language=lang,
        ),
        [],
    )


def _check_currency(currency: str, found: PaymentProblems) -> str:
    if currency not in CURRENCIES:
        found.add(
            "currency",
            f"{currency or 'an empty currency'!r} is not a QR-bill currency (CHF or EUR).",
            "Use CHF or EUR.",
        )
    return currency


def _check_information(info: str, found: PaymentProblems) -> str:
    _check_characters("additional_information", info, found)
    if len(info) > MAX_ADDITIONAL_INFORMATION:
        found.add(
            "additional_information",
            f"has {len(info)} characters, more than the {MAX_ADDITIONAL_INFORMATION} allowed.",
            "Shorten it, e.g. to the invoice number and date.",
        )
    return info


def _check_language(language: str, found: PaymentProblems) -> str:
    if language not in LANGUAGES:
        found.add(
            "language",
            f"{language or 'an empty language'!r} is not a language of the payment part (de, "
            "fr, it or en).",
            "Use de, fr, it or en.",
        )
    return language


def payment_data(**fields: Any) -> PaymentData:
    """``check_payment`` that raises ``DocumentError`` listing every problem."""
    data, problems = check_payment(**fields)
    if data is None:
        raise DocumentError(
            "The payment data has problems: " + join_reasons(str(p) for p in problems),
            "Correct these cells; a QR-bill is only drawn from valid data.",
        )
    return data


def payment_part_svg(data: PaymentData) -> str:
    """The receipt and payment part (A4 wide, 105 mm high, with the perforation) as SVG."""
    from qrbill import QRBill  # imported when drawing: it is not needed for checks

    bill = QRBill(
        account=data.account,
        creditor=data.creditor.as_mapping(),
        debtor=data.debtor.as_mapping() if data.debtor else None,
        amount=data.amount_text or None,
        currency=data.currency,
        reference_number=data.reference or None,
        additional_information=data.additional_information,
        language=data.language,
    )
    out = io.StringIO()
    bill.as_svg(out)
    return _PATH_DATA.sub(lambda m: m[1] + _merged_modules(m[2]) + m[3], out.getvalue())


_PATH_DATA = re.compile(r'(<path\b[^>]*\bd=")([^"]*)(")')
_MODULE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H(\d+)z")


def _merged_modules(data: str) -> str:
    """The QR code's path with each run of dark modules in a row as one rectangle.

    The ``qrbill`` package draws every module as its own square; the same area in a third of
    the path commands draws a third faster. Any other path is returned as it is.
    """
    squares = _MODULE.findall(data)
    if not squares or _MODULE.sub("", data):
        return data
    cells: set[tuple[int, int]] = set()
    for x, y, right, bottom, left in squares:
        if int(right) != int(x) + 1 or int(bottom) != int(y) + 1 or left != x:
            return data
        cells.add((int(y), int(x)))
    runs: list[list[int]] = []
    for y, x in sorted(cells):
        if runs and runs[-1][0] == y and runs[-1][2] == x:
            runs[-1][2] = x + 1
        else:
            runs.append([y, x, x + 1])
    return "".join(f"M{x},{y}H{end}V{y + 1}H{x}z" for y, x, end in runs)


def _check_amount(value: Any, found: PaymentProblems) -> Decimal | None:
    add = found.add
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and any(char.isdigit() and not char.isascii() for char in value):
        add(
            "amount",
            f"{short_repr(value)} has digits other than 0-9.",
            "Write the amount with the digits 0-9, e.g. 1234.50.",
        )
        return None
    try:
        amount = to_decimal(value)
    except ValueError as exc:
        add("amount", f"{exc}.", "Write the amount as a number, e.g. 1234.50.")
        return None
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:  # before any rounding: no Decimal overflow
        add(
            "amount",
            f"{short_repr(str(amount))} is outside 0.01 to 999,999,999.99.",
            "A QR-bill carries a positive amount; leave the cell empty for an open amount.",
        )
        return None
    if amount != amount.quantize(Decimal("0.01")):
        add(
            "amount",
            f"{short_repr(str(value))} has more than two decimals.",
            "Round the amount to 0.01 (or 0.05) in the sheet.",
        )
        return None
    return amount.quantize(Decimal("0.01"))


def _check_address(
    part: str, value: Any, found: PaymentProblems, *, required: bool
) -> Address | None:
    add = found.add
    if value is None or (
        isinstance(value, Mapping) and not any(cell_text(v) for v in value.values())
    ):
        if required:
            add(
                part,
                "is missing.",
                f"Give the {part} as name, street, house_num, pcode, city, country.",
            )
        return None
    if not isinstance(value, Mapping):
        add(
            part,
            f"is {type(value).__name__} {cell_text(value)[:40]!r}, not a structured address.",
            f"Give {part}=dict(name=..., street=..., house_num=..., pcode=..., city=..., "
            "country=...).",
        )
        return None
    combined = [key for key in value if str(key) in _COMBINED_KEYS]
    if combined:
        add(
            part,
            f"has combined address lines ({', '.join(map(str, combined))}), which banks refuse "
            "since November 2025.",
            "Give street, house_num, pcode and city as separate fields.",
        )
        return None
    unknown = [str(key) for key in value if key not in ADDRESS_FIELDS]
    if unknown:
        add(
            part,
            f"has unknown fields: {', '.join(unknown)}.",
            f"An address has {', '.join(ADDRESS_FIELDS)}.",
        )
    fields = {name: cell_text(value.get(name)) for name in ADDRESS_FIELDS}
    count = len(found)
    _check_fields(part, fields, found)
    country = fields["country"].upper()
    if len(found) != count or unknown:
        return None
    return Address(**{**fields, "country": country})


def _check_fields(part: str, fields: dict[str, str], found: PaymentProblems) -> None:
    """Each field of a structured address: present, short enough, allowed characters, and
    street, house number and country as a bank reads them."""
    add = found.add
    for name in ("name", "pcode", "city", "country"):
        if not fields[name]:
            add(f"{part}.{name}", "is empty.", _ADDRESS_HINTS[name])
    for name, limit in _ADDRESS_LIMITS.items():
        if len(fields[name]) > limit:
            add(
                f"{part}.{name}",
                f"has {len(fields[name])} characters, more than the {limit} allowed.",
                "Shorten it.",
            )
    for name in ADDRESS_FIELDS:
        _check_characters(f"{part}.{name}", fields[name], found)
    street = fields["street"]
    if _POSTCODE_AND_TOWN.search(street):
        add(
            f"{part}.street",
            f"{street!r} looks like a combined address line.",
            "Put only the street in street; postcode and town go into pcode and city.",
        )
    if fields["house_num"] and not street:
        add(
            f"{part}.street",
            "is empty, but a house number is given.",
            "Give the street the building number belongs to.",
        )
    country = fields["country"].upper()
    if country and not _is_country(country):
        add(
            f"{part}.country",
            f"{fields['country']!r} is not a two-letter ISO country code.",
            "Write CH for Switzerland, LI for Liechtenstein, DE, AT, FR, IT, ...",
        )


_ADDRESS_HINTS = {
    "name": "Give the name of the person or company.",
    "pcode": "Give the postcode (e.g. 8400); a structured address needs it.",
    "city": "Give the town; a structured address needs it.",
    "country": "Give the two-letter country code, e.g. CH.",
}


def _check_characters(field: str, value: str, found: PaymentProblems) -> None:
    add = found.add
    bad = sorted({char for char in value if not _permitted(char)})
    if bad:
        named = ", ".join(f"{char_label(char)} (U+{ord(char):04X} {_name(char)})" for char in bad)
        add(
            field,
            f"contains characters the Swiss Payment Standards do not permit: {named}.",
            "Replace them with plain Latin letters, digits or punctuation.",
        )


def _name(char: str) -> str:
    return unicodedata.name(char, "unnamed").lower()


def _is_country(code: str) -> bool:
    from iso3166 import countries_by_alpha2

    return len(code) == 2 and code in countries_by_alpha2
