"""Bank files: camt.054 notifications and camt.053 statements read into credits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from docmail_nb._money.camt import parse_camt, read_camt
from docmail_nb.errors import PaymentFileError

CAMT = Path(__file__).parent / "data" / "camt"


def test_a_camt054_gives_every_booked_credit_of_batched_entries() -> None:
    bank = read_camt(CAMT / "camt054_qrr.xml")
    assert (bank.kind, bank.version, bank.message_id) == ("camt.054", "08", "CAMT054-20261203-001")
    seen = [(c.reference, c.kind, c.amount, c.booked) for c in bank.credits]
    assert seen == [
        ("000000004200000000202610411", "QRR", Decimal("1234.50"), date(2026, 12, 2)),
        ("000000023100000000202610448", "QRR", Decimal("72.10"), date(2026, 12, 2)),
        ("000000010700000000202610424", "QRR", Decimal("200.00"), date(2026, 12, 2)),
        ("000000099900000000202699992", "QRR", Decimal("50.00"), date(2026, 12, 2)),
        ("000000001500000000202610433", "QRR", Decimal("3000.75"), date(2026, 12, 2)),
    ]
    # the bank's fee (a plain debit) and the pending credit are no payments
    assert bank.skipped == 2
    assert {c.currency for c in bank.credits} == {"CHF"}
    assert bank.credits[0].debtor == "Bäckerei Müller AG"
    assert len({c.identity for c in bank.credits}) == 5


def test_a_creditor_reference_and_a_returned_payment() -> None:
    bank = read_camt(CAMT / "camt054_scor.xml")
    assert [(c.reference, c.kind, c.amount, c.reversal) for c in bank.credits] == [
        ("RF94R20261045", "SCOR", Decimal("318.40"), False),
        ("000000023100000000202610448", "QRR", Decimal("-72.10"), True),
    ]


def test_a_statement_names_a_payment_as_its_notification_did() -> None:
    notified = read_camt(CAMT / "camt054_qrr.xml").credits
    statement = read_camt(CAMT / "camt053.xml")
    assert statement.kind == "camt.053"
    assert [c.amount for c in statement.credits] == [Decimal("200.00"), Decimal("286.00")]
    assert statement.credits[0].identity == notified[2].identity
    assert statement.credits[1].identity not in {c.identity for c in notified}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("pain001.xml", "not an ISO 20022 camt.054 or camt.053 file"),
        ("camt054_v02.xml", "camt.054.001.02 is a version docmail cannot read"),
        ("camt054_bad_amount.xml", "the amount '1.234,50' is not a number"),
    ],
)
def test_what_is_not_a_readable_camt_file_is_refused_whole(name: str, words: str) -> None:
    with pytest.raises(PaymentFileError) as caught:
        read_camt(CAMT / name)
    assert words in caught.value.message
    assert "nothing was recorded" in caught.value.message
    assert "camt.054" in caught.value.hint


def test_other_files_are_refused_with_their_reason(tmp_path: Path) -> None:
    with pytest.raises(PaymentFileError, match="not well-formed XML"):
        parse_camt(b"invoice_no;amount\nR-1;10\n", "orders.csv")
    with pytest.raises(PaymentFileError, match="cannot be read"):
        read_camt(tmp_path / "missing.xml")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
        )
        + b']><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">&i;</Document>'
    )
    with pytest.raises(PaymentFileError, match="not well-formed XML"):
        parse_camt(bomb)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">&x;</Document>'
    )
    with pytest.raises(PaymentFileError, match="not well-formed XML"):
        parse_camt(external)
