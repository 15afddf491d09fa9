"""Payment data of a QR-bill: every kind of invalid data is refused and named by its field."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
from qrbill import QRBill
from stdnum import iso11649
from stdnum.ch import esr

from docmail_nb._documents.payment_references import (
    creditor_reference,
    is_qr_iban,
    qr_reference,
    qr_reference_check_digit,
)
from docmail_nb._documents.qrbill import _MODULE, check_payment, payment_data, payment_part_svg
from docmail_nb.errors import DocumentError

QR_IBAN = "CH44 3199 9123 0008 8901 2"
IBAN = "CH93 0076 2011 6238 5295 7"
CREDITOR = {
    "name": "Bergmann Werkstatt GmbH",
    "street": "Tössfeldstrasse",
    "house_num": "12",
    "pcode": "8406",
    "city": "Winterthur",
    "country": "CH",
}
DEBTOR = {
    "name": "Bäckerei Müller AG",
    "street": "Marktgasse",
    "house_num": "3a",
    "pcode": 8400,
    "city": "Winterthur",
    "country": "CH",
}
QRR = "210000000003139471430009017"  # the example of the implementation guidelines


def valid(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "account": QR_IBAN,
        "creditor": CREDITOR,
        "debtor": DEBTOR,
        "amount": Decimal("1234.50"),
        "currency": "CHF",
        "reference": QRR,
        "additional_information": "Rechnung R-2026-1041",
        "language": "de",
    }
    fields.update(changes)
    return fields


def fields_of(**changes: Any) -> list[str]:
    data, problems = check_payment(**valid(**changes))
    assert data is None
    return [problem.field for problem in problems]


def test_valid_data_is_normalised() -> None:
    data = payment_data(**valid(amount=1234.5, reference="21 00000 00003 13947 14300 09017"))
    assert data.account == "CH4431999123000889012"
    assert data.amount == Decimal("1234.50")
    assert data.amount_text == "1234.50"
    assert (data.reference_type, data.reference) == ("QRR", QRR)
    assert data.debtor is not None
    assert data.debtor.pcode == "8400"
    assert data.creditor.street == "Tössfeldstrasse"


def test_plain_iban_takes_a_creditor_reference_or_none() -> None:
    scor = payment_data(**valid(account=IBAN, reference="RF18 5390 0754 7034"))
    assert (scor.reference_type, scor.reference) == ("SCOR", "RF18539007547034")
    none = payment_data(**valid(account=IBAN, reference="", amount=None, debtor=None))
    assert (none.reference_type, none.amount, none.debtor) == ("NON", None, None)
    euro = payment_data(**valid(account=IBAN, reference=None, currency="eur"))
    assert euro.currency == "EUR"


def test_qr_iban_is_recognised_by_its_institution_id() -> None:
    assert is_qr_iban(QR_IBAN)
    assert not is_qr_iban(IBAN)


def test_qr_reference_from_customer_and_invoice_number() -> None:
    assert qr_reference_check_digit(QRR[:26]) == QRR[26]
    reference = qr_reference("00042", 1041)
    assert reference == "00000000420000000000001041" + reference[-1]
    assert esr.is_valid(reference)  # an independent implementation of the check digit
    assert qr_reference(42, "1041") == reference
    assert qr_reference("1", "23") != qr_reference("12", "3")
    for number in range(1, 200):
        assert esr.is_valid(qr_reference(7, number)), number
    with pytest.raises(DocumentError, match="digits only"):
        qr_reference("00042", "R-2026-1041")
    with pytest.raises(DocumentError, match="more than 10 digits"):
        qr_reference("12345678901", 1)


def test_creditor_reference_iso_11649() -> None:
    assert creditor_reference("539007547034") == "RF18539007547034"  # the standard's example
    reference = creditor_reference("R-2026-1041")
    assert reference.endswith("R20261041")
    assert iso11649.is_valid(reference)
    with pytest.raises(DocumentError, match="1 to 21 letters"):
        creditor_reference("Rechnung #1041")
    with pytest.raises(DocumentError, match="1 to 21 letters"):
        creditor_reference("1" * 22)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"account": "CH44 3199 9123 0008 8901 3"}, "account", "checksum"),
        ({"account": "DE89 3704 0044 0532 0130 00"}, "account", "Swiss or Liechtenstein"),
        ({"account": "CH44 3199 9123 0008 8901"}, "account", "21 characters"),
        ({"account": ""}, "account", "empty"),
        ({"reference": ""}, "reference", "QR-IBAN needs a QR reference"),
        ({"reference": "RF18539007547034"}, "reference", "account is a QR-IBAN"),
        ({"account": IBAN}, "reference", "account is a plain IBAN"),
        ({"reference": QRR[:26] + "8"}, "reference", "wrong check digit"),
        ({"reference": QRR[:20]}, "reference", "neither a QR reference"),
        ({"account": IBAN, "reference": "RF19539007547034"}, "reference", "ISO 11649"),
        ({"amount": 0}, "amount", "outside 0.01 to 999,999,999.99"),
        ({"amount": Decimal("-5.00")}, "amount", "outside"),
        ({"amount": Decimal("1000000000.00")}, "amount", "outside"),
        ({"amount": "12.345"}, "amount", "more than two decimals"),
        ({"amount": "zwölf"}, "amount", "not a number"),
        ({"currency": "USD"}, "currency", "CHF or EUR"),
        ({"language": "rm"}, "language", "de, fr, it or en"),
        ({"additional_information": "x" * 141}, "additional_information", "140"),
        (
            {"debtor": {"name": "Bäckerei Müller AG", "line1": "Marktgasse 3", "line2": "8400 W"}},
            "debtor",
            "combined address lines",
        ),
        (
            {"creditor": {**CREDITOR, "street": "Tössfeldstrasse 12, 8406 Winterthur"}},
            "creditor.street",
            "combined address line",
        ),
        ({"creditor": {**CREDITOR, "pcode": ""}}, "creditor.pcode", "empty"),
        ({"debtor": {**DEBTOR, "city": None}}, "debtor.city", "empty"),
        ({"creditor": {**CREDITOR, "country": "Schweiz"}}, "creditor.country", "two-letter"),
        ({"creditor": {**CREDITOR, "name": "x" * 71}}, "creditor.name", "70"),
        ({"debtor": {**DEBTOR, "street": ""}}, "debtor.street", "house number is given"),
        ({"creditor": {**CREDITOR, "zip": "8406"}}, "creditor", "unknown fields: zip"),
        ({"creditor": None}, "creditor", "missing"),
        ({"creditor": "Bergmann, 8406 Winterthur"}, "creditor", "not a structured address"),
    ],
)
def test_each_kind_of_invalid_data_is_named(
    changes: dict[str, Any], field: str, words: str
) -> None:
    data, problems = check_payment(**valid(**changes))
    assert data is None
    assert [problem.field for problem in problems] == [field], problems
    assert words in problems[0].message
    assert problems[0].hint


def test_characters_outside_the_permitted_set_are_named() -> None:
    data, problems = check_payment(
        **valid(
            debtor={**DEBTOR, "name": "Пекарня ✓"},
            additional_information="Rechnung\nR-2026-1041",
        )
    )
    assert data is None
    by_field = {problem.field: problem.message for problem in problems}
    assert set(by_field) == {"debtor.name", "additional_information"}
    assert "U+041F" in by_field["debtor.name"]
    assert "U+2713 check mark" in by_field["debtor.name"]
    assert "U+000A" in by_field["additional_information"]


def test_latin_letters_with_accents_and_the_euro_sign_are_permitted() -> None:
    name = "Ștefan Țepeș Œuvre Ñandú Łódź Ærø ß"
    data = payment_data(**valid(debtor={**DEBTOR, "name": name}, additional_information="5 €"))
    assert data.debtor is not None
    assert data.debtor.name == name


def test_every_problem_is_found_at_once() -> None:
    fields = fields_of(
        account="CH44 3199 9123 0008 8901 3",
        amount=0,
        currency="GBP",
        creditor={**CREDITOR, "city": ""},
    )
    assert fields == ["account", "creditor.city", "amount", "currency"]


def test_payment_data_raises_with_every_problem() -> None:
    with pytest.raises(DocumentError) as caught:
        payment_data(**valid(amount=0, currency="GBP"))
    assert "amount:" in str(caught.value)
    assert "currency:" in str(caught.value)


def test_payment_part_draws_the_same_qr_modules_in_fewer_commands() -> None:
    data = payment_data(**valid())
    bill = QRBill(
        account=data.account,
        creditor=data.creditor.as_mapping(),
        debtor=data.debtor.as_mapping() if data.debtor else None,
        amount=data.amount_text,
        reference_number=data.reference,
        additional_information=data.additional_information,
        language="de",
    )

    def modules(svg: str) -> set[tuple[int, int]]:
        (path,) = [d for d in re.findall(r'<path\b[^>]*\bd="([^"]*)"', svg) if "V" in d[:12]]
        cells = set()
        for x, y, right, _bottom, _left in _MODULE.findall(path):
            cells.update((int(y), column) for column in range(int(x), int(right)))
        return cells

    out = io.StringIO()
    bill.as_svg(out)
    original, merged = out.getvalue(), payment_part_svg(data)
    assert modules(merged) == modules(original)
    assert len(merged) < 0.8 * len(original)
