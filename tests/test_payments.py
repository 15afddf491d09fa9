"""Payments from camt files matched by reference to sent messages, recorded once each."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from docmail_nb._money.payments import read_payments
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.status import campaign_status, status_frame
from docmail_nb.errors import PaymentFileError

CAMT = Path(__file__).parent / "data" / "camt"
#: the sample's invoices: key → (QR or creditor reference, amount)
INVOICES = {
    "R-2026-1041": ("000000004200000000202610411", "1234.50"),
    "R-2026-1042": ("000000010700000000202610424", "486.00"),
    "R-2026-1043": ("000000001500000000202610433", "2980.75"),
    "R-2026-1044": ("000000023100000000202610448", "72.10"),
    "R-2026-1045": ("RF94R20261045", "318.40"),
    "R-2026-1046": ("RF67R20261046", "15820.00"),
}


def invoices_sent(ledger: Ledger, campaign: str = "qr_invoice") -> None:
    run = ledger.begin_run()
    for key, (reference, amount) in INVOICES.items():
        to = f"{key.lower()}@kunde.example"
        ledger.claim(
            run,
            campaign,
            key,
            content_hash="h",
            message_id=f"<{key}@example.ch>",
            rows=(2,),
            recipients=(to,),
            account="anna@example.ch@127.0.0.1",
        )
        ledger.record_reference(
            campaign,
            key,
            reference=reference,
            kind="SCOR" if reference.startswith("RF") else "QRR",
            amount=Decimal(amount),
            currency="CHF",
        )
        ledger.mark_sending(run, campaign, key)
        ledger.mark_sent(run, campaign, key, accepted=(to,))
    ledger.end_run(run)


def states(ledger: Ledger) -> dict[str, str]:
    return {s.key: s.state for s in campaign_status(ledger, "qr_invoice")}


def test_payments_mark_paid_partly_paid_and_overpaid_and_list_the_unknown(
    ledger_store: str | Path,
) -> None:
    with Ledger(ledger_store) as ledger:
        invoices_sent(ledger)
        read = read_payments(ledger, CAMT / "camt054_qrr.xml")
        assert [(m.key, m.credit.amount, m.new) for m in read.matched] == [
            ("R-2026-1041", Decimal("1234.50"), True),
            ("R-2026-1044", Decimal("72.10"), True),
            ("R-2026-1042", Decimal("200.00"), True),
            ("R-2026-1043", Decimal("3000.75"), True),
        ]
        assert [u.credit.reference for u in read.unmatched] == ["000000099900000000202699992"]
        assert "no message carried the reference" in read.unmatched[0].reason
        assert states(ledger) == {
            "R-2026-1041": "paid",
            "R-2026-1042": "partly paid",
            "R-2026-1043": "overpaid",
            "R-2026-1044": "paid",
            "R-2026-1045": "sent",
            "R-2026-1046": "sent",
        }
        partly = {s.key: s for s in campaign_status(ledger)}["R-2026-1042"]
        assert (partly.paid, partly.open_amount, str(partly.paid_on)) == (
            Decimal("200.00"),
            Decimal("286.00"),
            "2026-12-02",
        )

        # the same file again records nothing
        again = read_payments(ledger, CAMT / "camt054_qrr.xml")
        assert again.recorded == []
        assert len(ledger.payments()) == 4
        assert "Recorded 0 payment(s); 4 were recorded before" in again.lines()[-1]

        # the statement holds the 200.00 again (recorded once) and the rest of R-2026-1042
        statement = read_payments(ledger, CAMT / "camt053.xml")
        assert [(m.key, m.new) for m in statement.matched] == [
            ("R-2026-1042", False),
            ("R-2026-1042", True),
        ]
        # a creditor reference pays R-2026-1045; R-2026-1044's payment comes back
        read_payments(ledger, CAMT / "camt054_scor.xml")
        assert states(ledger) == {
            "R-2026-1041": "paid",
            "R-2026-1042": "paid",
            "R-2026-1043": "overpaid",
            "R-2026-1044": "sent",
            "R-2026-1045": "paid",
            "R-2026-1046": "sent",
        }
        frame = status_frame(campaign_status(ledger, "qr_invoice"))
        assert list(frame.columns[:2]) == ["key", "state"]
        row = frame[frame.key == "R-2026-1043"].iloc[0]
        assert (row["amount"], row["paid"], row["paid_on"]) == ("2980.75", "3000.75", "2026-12-02")


@pytest.mark.parametrize("name", ["pain001.xml", "camt054_v02.xml", "camt054_bad_amount.xml"])
def test_a_bad_file_records_nothing(ledger_store: str | Path, name: str) -> None:
    with Ledger(ledger_store) as ledger:
        invoices_sent(ledger)
        with pytest.raises(PaymentFileError):
            read_payments(ledger, CAMT / name)
        assert ledger.payments() == []
        assert set(states(ledger).values()) == {"sent"}


def test_payments_for_another_campaign_are_not_matched(ledger_store: str | Path) -> None:
    with Ledger(ledger_store) as ledger:
        invoices_sent(ledger)
        read = read_payments(ledger, CAMT / "camt054_scor.xml", campaign="offers")
        assert read.matched == []
        assert "in campaign 'offers'" in read.unmatched[0].reason
        assert ledger.payments() == []


def test_a_version_2_ledger_opens_and_gains_the_after_sent_tables(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        invoices_sent(ledger)
    db = sqlite3.connect(path)  # as the previous version wrote it
    db.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    for table in ("reports", "bounces", "payment_references", "payments", "reminder_campaigns"):
        db.execute(f"DROP TABLE {table}")
    db.execute("ALTER TABLE messages DROP COLUMN resend_of")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        assert set(states(ledger).values()) == {"sent"}
        assert ledger.references() == []
        invoices_sent(ledger, "again")
        assert len(read_payments(ledger, CAMT / "camt054_scor.xml").recorded) == 2
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("3",)
    db.close()


def test_the_commands_record_payments_and_show_the_states(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from docmail_nb.cli import main

    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        invoices_sent(ledger)
    runner = CliRunner()
    read = runner.invoke(main, ["payments", str(CAMT / "camt054_qrr.xml"), "--ledger", str(path)])
    assert read.exit_code == 1  # one credit matched nothing: listed, for a look by hand
    assert "qr_invoice/R-2026-1042: CHF 200.00 paid, booked 2026-12-02" in read.output
    assert "not matched: CHF 50.00 booked 2026-12-02 from Unbekannt GmbH" in read.output
    bad = runner.invoke(main, ["payments", str(CAMT / "pain001.xml"), "--ledger", str(path)])
    assert bad.exit_code == 2
    assert "nothing was recorded" in bad.output

    report = tmp_path / "status.csv"
    shown = runner.invoke(
        main, ["status", "--ledger", str(path), "--campaign", "qr_invoice", "--report", str(report)]
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert any(
        line.startswith("qr_invoice/R-2026-1042  partly paid")
        and "paid CHF 200.00 on 2026-12-02 of 486.00" in line
        for line in lines
    ), shown.output
    assert "2 paid, 1 partly paid, 1 overpaid, 2 sent" in shown.output
    text = report.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("key,state,campaign,when,recipients,status_code")
    assert "R-2026-1043,overpaid," in text


def test_a_reference_header_is_kept_when_sent_and_matched_by_the_bank(tmp_path: Path) -> None:
    import csv

    from docmail_nb import Batch, MemoryTransport, Profile

    orders = tmp_path / "orders.csv"
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["invoice_no", "email", "ref", "amount"])
        writer.writerow(["R-2026-1045", "a@kunde.example", "RF94 R202 6104 5", "318.40"])
        writer.writerow(["R-2026-1046", "b@kunde.example", "RF99R20261046", "15820.00"])
    template = tmp_path / "bill.txt"
    template.write_text(
        "To: {{ email }}\nSubject: Rechnung {{ invoice_no }}\nReference: {{ ref }}\n"
        "Amount: {{ amount }}\nKey: {{ invoice_no }}\n\nBitte zahlen Sie {{ amount }}.\n",
        encoding="utf-8",
    )
    ledger = tmp_path / "l.sqlite"
    batch = Batch.from_files(
        orders, template, documents=tmp_path, ledger=ledger, transport=MemoryTransport(),
        profile=Profile("memory", host="memory.invalid", from_addr="b@bergmann.example"),
    )  # fmt: skip
    (problem,) = batch.plan.problems  # a creditor reference with a wrong check
    assert (problem.row, problem.field) == (3, "Reference")
    assert "not a valid creditor reference" in problem.message
    assert batch.send().counts() == {"sent": 1}
    with Ledger(ledger) as opened:
        (kept,) = opened.references("bill")
        assert (kept.key, kept.reference, kept.kind, kept.amount) == (
            "R-2026-1045", "RF94R20261045", "SCOR", Decimal("318.40"),
        )  # fmt: skip
        read = read_payments(opened, CAMT / "camt054_scor.xml")
        assert [(m.key, m.credit.amount) for m in read.matched] == [
            ("R-2026-1045", Decimal("318.40"))
        ]
        assert states_of(opened, "bill") == {"R-2026-1045": "paid"}
    # the message itself carries no Reference or Amount header
    assert "Reference" not in batch.transport.stored[0].msg  # type: ignore[union-attr]


def states_of(ledger: Ledger, campaign: str) -> dict[str, str]:
    return {s.key: s.state for s in campaign_status(ledger, campaign)}
