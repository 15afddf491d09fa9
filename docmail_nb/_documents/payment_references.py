"""The account and the reference a payment goes with: IBANs and QR-IBANs, QR references
(27 digits, modulo-10 recursive check digit) and creditor references (ISO 11649, ``RF…``),
made and checked as the Swiss Payment Standards ask."""

from __future__ import annotations

import re
from typing import Any, Literal

from docmail_nb._documents.payment_problems import (
    PaymentProblems,
    cell_text,
    char_label,
    compact,
    short_repr,
)
from docmail_nb.errors import DocumentError

__all__ = [
    "ReferenceType",
    "check_account_reference",
    "check_iban",
    "check_reference",
    "creditor_reference",
    "is_qr_iban",
    "qr_reference",
    "qr_reference_check_digit",
]

ReferenceType = Literal["QRR", "SCOR", "NON"]
_QR_IID = range(30000, 32000)
_MOD10_TABLE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)


def is_qr_iban(iban: str) -> bool:
    """True for a QR-IBAN: its institution identification (digits 5–9) is 30000–31999."""
    digits = compact(iban)[4:9]
    return digits.isdigit() and int(digits) in _QR_IID


def qr_reference_check_digit(digits: str) -> str:
    """The modulo-10 recursive check digit of a string of digits."""
    carry = 0
    for char in digits:
        carry = _MOD10_TABLE[(carry + int(char)) % 10]
    return str((10 - carry) % 10)


def qr_reference(customer_no: Any, invoice_no: Any) -> str:
    """A QR reference (27 digits) from a customer number (≤ 10 digits) and an invoice number.

    The customer number fills digits 1–10 and the invoice number digits 11–26, each padded
    with zeros on the left, so no two (customer, invoice) pairs share a reference; digit 27 is
    the check digit. Non-digit characters are refused, not dropped.
    """
    customer, invoice = cell_text(customer_no), cell_text(invoice_no)
    for label, value, width in (("customer number", customer, 10), ("invoice number", invoice, 16)):
        if not value.isdigit() or not value.isascii():
            raise DocumentError(
                f"A QR reference needs a {label} of digits only, not {value!r}.",
                "Use creditor_reference(...) for numbers with letters (it takes A-Z and 0-9).",
            )
        if len(value) > width:
            raise DocumentError(
                f"The {label} {value!r} has more than {width} digits for a QR reference.",
                "Use a shorter number.",
            )
    body = customer.zfill(10) + invoice.zfill(16)
    return body + qr_reference_check_digit(body)


def creditor_reference(reference: Any) -> str:
    """An ISO 11649 creditor reference (``RF`` + 2 check digits + up to 21 letters or digits).

    Spaces, hyphens, dots and slashes in ``reference`` are left out (``R-2026-1041`` becomes
    ``RF..R20261041``); any other character is refused.
    """
    text = re.sub(r"[\s\-./]", "", cell_text(reference)).upper()
    if not text or not re.fullmatch(r"[A-Z0-9]{1,21}", text):
        raise DocumentError(
            f"A creditor reference takes 1 to 21 letters A-Z and digits, not {reference!r}.",
            "Use the invoice number without other characters.",
        )
    check = 98 - _mod97(text + "RF00")
    return f"RF{check:02d}{text}"


def check_iban(value: str, found: PaymentProblems) -> str | None:
    """The IBAN without spaces, or None (and its problem in ``found``)."""
    add = found.add
    iban = compact(value)
    if not iban:
        add("account", "is empty.", "Give the IBAN or QR-IBAN the payment goes to.")
        return None
    if iban[:2] not in ("CH", "LI"):
        add(
            "account",
            f"{short_repr(value)} is not a Swiss or Liechtenstein IBAN.",
            "A QR-bill needs an account starting with CH or LI.",
        )
        return None
    strange = sorted({char for char in iban if not ("A" <= char <= "Z" or "0" <= char <= "9")})
    if strange:
        add(
            "account",
            f"{short_repr(value)} contains "
            f"{', '.join(char_label(char) for char in strange[:3])}; an "
            "IBAN has only the letters A-Z and the digits 0-9.",
            "Type the IBAN again with plain letters and digits (as the bank prints it).",
        )
        return None
    if len(iban) != 21 or not iban[2:4].isdigit():
        add(
            "account",
            f"{short_repr(value)} is not 21 characters long.",
            "Copy the IBAN again from the bank.",
        )
        return None
    if _mod97(iban[4:] + iban[:4]) != 1:
        add(
            "account",
            f"{short_repr(value)} fails the IBAN checksum (a typo?).",
            "Copy the IBAN again from the bank's documents.",
        )
        return None
    return iban


def check_reference(value: Any) -> tuple[ReferenceType, str, str]:
    """A payment reference alone: (QRR or SCOR, without spaces, "") or ("NON", "", the problem).

    QRR: 27 digits with the right check digit; SCOR: ISO 11649 (RF, check digits, 1-21 letters
    or digits). An empty value is ("NON", "", "").
    """
    found = PaymentProblems()
    kind, reference = check_account_reference(cell_text(value), None, found)
    if found:
        return "NON", "", found[0].message
    return kind, reference, ""


def check_account_reference(
    value: str, iban: str | None, found: PaymentProblems
) -> tuple[ReferenceType, str]:
    """The reference's type and text, checked against the account (``iban``, None when the
    account is wrong or unknown); its problems go to ``found``."""
    add = found.add
    reference = compact(value)
    qr_account = iban is not None and is_qr_iban(iban)
    if not reference:
        if qr_account:
            add(
                "reference",
                "is empty, but a QR-IBAN needs a QR reference.",
                "Give a QR reference (27 digits), e.g. qr_reference(customer_no, invoice_no).",
            )
        return "NON", ""
    if reference.startswith("RF"):
        _check_creditor_reference(value, reference, qr_account, found)
        return "SCOR", reference
    _check_qr_reference(value, reference, iban, qr_account, found)
    return "QRR", reference


def _check_creditor_reference(
    value: str, reference: str, qr_account: bool, found: PaymentProblems
) -> None:
    """An ISO 11649 reference (RF…): well formed, its check digits right, a plain IBAN."""
    if (
        not re.fullmatch(r"RF[0-9]{2}[A-Z0-9]{1,21}", reference)
        or _mod97(reference[4:] + reference[:4]) != 1
    ):
        found.add(
            "reference",
            f"{value!r} is not a valid creditor reference (ISO 11649: RF, two check digits, "
            "1 to 21 letters or digits).",
            "Make it with creditor_reference(invoice_no).",
        )
    elif qr_account:
        found.add(
            "reference",
            f"{value!r} is a creditor reference, but the account is a QR-IBAN.",
            "A QR-IBAN takes a QR reference (27 digits); a creditor reference goes with a "
            "plain IBAN.",
        )


def _check_qr_reference(
    value: str, reference: str, iban: str | None, qr_account: bool, found: PaymentProblems
) -> None:
    """A QR reference: 27 digits, its check digit right, a QR-IBAN."""
    if not re.fullmatch(r"[0-9]{27}", reference):
        found.add(
            "reference",
            f"{value!r} is neither a QR reference (27 digits) nor a creditor reference (RF…).",
            "Make one with qr_reference(customer_no, invoice_no) or "
            "creditor_reference(invoice_no).",
        )
    elif qr_reference_check_digit(reference[:26]) != reference[26]:
        found.add(
            "reference",
            f"{value!r} has a wrong check digit (modulo 10 recursive; a typo?).",
            "Make it with qr_reference(customer_no, invoice_no).",
        )
    elif iban is not None and not qr_account:
        found.add(
            "reference",
            f"{value!r} is a QR reference, but the account is a plain IBAN.",
            "A QR reference needs a QR-IBAN; with a plain IBAN use a creditor reference "
            "(creditor_reference(invoice_no)) or none.",
        )


def _mod97(text: str) -> int:
    digits = "".join(str(int(char, 36)) for char in text)
    return int(digits) % 97
