"""Documents in a batch: checked with the rows, made when sent, recorded in the ledger, once."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pdfread import decode_qr, payload_fields, pdf_text

from docmail_nb import Batch
from docmail_nb._compose.preview import preview
from docmail_nb._mail.transport import MemoryTransport
from docmail_nb._run.send import SendOptions, send_plan
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile
from docmail_nb.cli import main

COLUMNS = [
    "invoice_no", "customer_no", "company", "email", "amount", "account", "reference",
    "street", "house_num", "pcode", "city", "country",
]  # fmt: skip
GOOD = {
    "invoice_no": "R-1",
    "customer_no": "00042",
    "company": "Bäckerei Müller AG",
    "email": "mueller@example.ch",
    "amount": "1234.50",
    "account": "CH44 3199 9123 0008 8901 2",
    "reference": "000000004200000000000000011",
    "street": "Marktgasse",
    "house_num": "17",
    "pcode": "8400",
    "city": "Winterthur",
    "country": "CH",
}
MESSAGE = """To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Document: invoice.html
Key: {{ invoice_no }}

Guten Tag, anbei die Rechnung {{ invoice_no }}.
"""
DOCUMENT = """<html><body><h1>Rechnung {{ invoice_no }}</h1><p>{{ company }}</p>
{{ qrbill(account=account,
          creditor=dict(name="Bergmann Werkstatt GmbH", street="Tössfeldstrasse",
                        house_num="12", pcode="8406", city="Winterthur", country="CH"),
          debtor=dict(name=company, street=street, house_num=house_num, pcode=pcode,
                      city=city, country=country),
          amount=amount, currency="CHF", reference=reference,
          additional_information="Rechnung " ~ invoice_no, language="de") }}
</body></html>
"""
PROFILE = Profile("memory", host="memory.invalid", from_addr="buchhaltung@bergmann.example")


def reference(customer: str, number: int) -> str:
    from docmail_nb._documents.payment_references import qr_reference

    return qr_reference(customer, number)


def project(tmp_path: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    (tmp_path / "templates").mkdir()
    (tmp_path / "documents").mkdir()
    template = tmp_path / "templates" / "invoice.txt"
    template.write_text(MESSAGE, encoding="utf-8")
    (tmp_path / "templates" / "invoice.html").write_text(DOCUMENT, encoding="utf-8")
    orders = tmp_path / "orders.csv"
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return orders, template


def good_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            **GOOD,
            "invoice_no": f"R-{n}",
            "amount": f"{100 + n}.50",
            "reference": reference("00042", n),
        }
        for n in range(1, count + 1)
    ]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_names_the_row_and_field_of_every_payment_problem(tmp_path: Path) -> None:
    plain = "CH93 0076 2011 6238 5295 7"
    rows = [
        GOOD,
        {**GOOD, "invoice_no": "R-2", "account": "CH44 3199 9123 0008 8901 3"},
        {**GOOD, "invoice_no": "R-3", "reference": GOOD["reference"][:-1] + "4"},
        {**GOOD, "invoice_no": "R-4", "account": plain},
        {**GOOD, "invoice_no": "R-5", "account": plain, "reference": "RF19539007547034"},
        {**GOOD, "invoice_no": "R-6", "amount": "0"},
        {**GOOD, "invoice_no": "R-7", "amount": "1000000000"},
        {**GOOD, "invoice_no": "R-8", "street": "Marktgasse 17, 8400 Winterthur"},
        {**GOOD, "invoice_no": "R-9", "pcode": ""},
        {**GOOD, "invoice_no": "R-10", "company": "Bäckerei ✓"},
        {**GOOD, "invoice_no": "R-11", "country": "Schweiz"},
    ]
    orders, template = project(tmp_path, rows)
    code, out = run_cli("check", str(orders), str(template))
    assert code == 1
    found = [
        [*parts[:2], " ".join(parts[2:4])]
        for parts in (line.split(maxsplit=4) for line in out.splitlines() if " R-" in line[:8])
    ]
    assert found == [
        ["3", "R-2", "invoice.html: account"],
        ["4", "R-3", "invoice.html: reference"],
        ["5", "R-4", "invoice.html: reference"],
        ["6", "R-5", "invoice.html: reference"],
        ["7", "R-6", "invoice.html: amount"],
        ["8", "R-7", "invoice.html: amount"],
        ["9", "R-8", "invoice.html: debtor.street"],
        ["10", "R-9", "invoice.html: debtor.pcode"],
        ["11", "R-10", "invoice.html: debtor.name"],
        ["12", "R-11", "invoice.html: debtor.country"],
    ]
    assert "fails the IBAN checksum" in out
    assert "U+2713 check mark" in out
    assert "1 message ready to send" in out
    assert not (tmp_path / "documents" / "generated").exists()  # nothing drawn by a check


def test_check_names_a_missing_document_template_or_column(tmp_path: Path) -> None:
    orders, template = project(tmp_path, good_rows(2))
    (tmp_path / "templates" / "invoice.html").write_text("{{ compnay }}", encoding="utf-8")
    code, out = run_cli("check", str(orders), str(template))
    assert code == 1
    assert "The document invoice.html uses {{ compnay }}, which names no column" in out
    assert "Did you mean {{ company }}?" in out
    (tmp_path / "templates" / "invoice.html").unlink()
    code, out = run_cli("check", str(orders), str(template))
    assert code == 1
    assert "invoice.html does not exist" in out


def test_send_attaches_made_documents_records_them_and_a_rerun_makes_nothing(
    tmp_path: Path,
) -> None:
    rows = good_rows(3)
    rows[2]["company"] = "Weinhandlung Rüegg & Söhne"
    orders, template = project(tmp_path, rows)
    out = tmp_path / "made"
    ledger_path = tmp_path / "ledger.sqlite"
    transport = MemoryTransport()
    plan = Batch.from_files(orders, template, documents_out=out).plan
    assert plan.ok
    report = send_plan(plan, PROFILE, ledger=ledger_path, transport=transport)
    assert report.counts() == {"sent": 3}
    assert any("3 made now" in note for note in report.notes)

    with Ledger(ledger_path) as ledger:
        records = {record.key: record for record in ledger.documents(plan.campaign)}
    assert sorted(records) == ["R-1", "R-2", "R-3"]
    for stored, row in zip(transport.stored, rows, strict=True):
        (attachment,) = stored.msg.iter_attachments()
        name = f"invoice-{row['invoice_no']}.pdf"
        assert attachment.get_filename() == name
        data = attachment.get_content()
        assert data == (out / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == records[row["invoice_no"]].sha256
    fields = payload_fields(decode_qr(out / "invoice-R-3.pdf", 1, tmp_path))
    assert fields["debtor.name"] == "Weinhandlung Rüegg & Söhne"
    assert (fields["amount"], fields["reference"]) == ("103.50", rows[2]["reference"])
    assert "Weinhandlung Rüegg & Söhne" in pdf_text(out / "invoice-R-3.pdf")

    stamps = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    again = send_plan(
        Batch.from_files(orders, template, documents_out=out).plan,
        PROFILE,
        ledger=ledger_path,
        transport=transport,
    )
    assert again.counts() == {"skipped": 3}
    assert any("0 made now, 3 as made before" in note for note in again.notes)
    assert {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == stamps
    with Ledger(ledger_path) as ledger:
        assert {r.key: r for r in ledger.documents(plan.campaign)} == records
    assert len(transport.stored) == 3


def test_a_lost_document_is_made_again_the_same_and_not_resent(tmp_path: Path) -> None:
    orders, template = project(tmp_path, good_rows(1))
    out, ledger_path = tmp_path / "made", tmp_path / "ledger.sqlite"
    transport = MemoryTransport()
    send_plan(Batch.from_files(orders, template, documents_out=out).plan, PROFILE,
              ledger=ledger_path, transport=transport)  # fmt: skip
    first = (out / "invoice-R-1.pdf").read_bytes()
    (out / "invoice-R-1.pdf").unlink()
    again = send_plan(Batch.from_files(orders, template, documents_out=out).plan, PROFILE,
                      ledger=ledger_path, transport=transport)  # fmt: skip
    assert again.counts() == {"skipped": 1}
    assert (out / "invoice-R-1.pdf").read_bytes() == first


def test_a_sent_document_whose_row_changed_is_reported_not_remade(tmp_path: Path) -> None:
    rows = good_rows(2)
    orders, template = project(tmp_path, rows)
    out, ledger_path = tmp_path / "made", tmp_path / "ledger.sqlite"
    transport = MemoryTransport({"failing@example.ch": (550, "5.1.1 No such user")})
    rows[1]["email"] = "failing@example.ch"
    orders, _ = project_rows(tmp_path, rows)
    first = send_plan(Batch.from_files(orders, template, documents_out=out).plan, PROFILE,
                      ledger=ledger_path, transport=transport)  # fmt: skip
    assert first.counts() == {"sent": 1, "failed": 1}
    sent_pdf = (out / "invoice-R-1.pdf").read_bytes()

    rows[0]["amount"] = "999.95"  # corrected after it was sent
    rows[1]["amount"] = "555.55"  # corrected before it went out
    rows[1]["email"] = "mueller@example.ch"
    orders, _ = project_rows(tmp_path, rows)
    plan = Batch.from_files(orders, template, documents_out=out).plan
    dry = send_plan(plan, PROFILE, ledger=ledger_path, options=SendOptions(dry_run=True))
    assert [r.state for r in dry.results] == ["changed", "dry-run"]
    again = send_plan(plan, PROFILE, ledger=ledger_path, transport=transport)
    assert [r.state for r in again.results] == ["changed", "sent"]
    assert "was sent made from other data" in again.results[0].error
    assert (out / "invoice-R-1.pdf").read_bytes() == sent_pdf  # what was sent stays
    fields = payload_fields(decode_qr(out / "invoice-R-2.pdf", 1, tmp_path))
    assert fields["amount"] == "555.55"


def project_rows(tmp_path: Path, rows: list[dict[str, Any]]) -> tuple[Path, None]:
    orders = tmp_path / "orders.csv"
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return orders, None


def test_dry_run_and_preview_draw_but_record_nothing(tmp_path: Path) -> None:
    orders, template = project(tmp_path, good_rows(2))
    out, ledger_path = tmp_path / "made", tmp_path / "ledger.sqlite"
    plan = Batch.from_files(orders, template, documents_out=out).plan
    dry = send_plan(plan, PROFILE, ledger=ledger_path, options=SendOptions(dry_run=True))
    assert [r.state for r in dry.results] == ["dry-run", "dry-run"]
    assert not out.exists()
    shown = preview(plan, 3)
    (document,) = shown.documents
    assert document.name == "invoice-R-2.pdf"
    assert document.pages == 1
    assert document.first_page_png.startswith(b"\x89PNG")
    assert "data:image/png;base64," in shown._repr_html_()
    assert [a.filename for a in shown.attachments] == ["invoice-R-2.pdf"]
    assert shown.attachments[0].size > 10_000
    assert not out.exists()
    assert not ledger_path.exists() or not Ledger(ledger_path).documents()


def test_cli_preview_writes_the_first_page(tmp_path: Path) -> None:
    orders, template = project(tmp_path, good_rows(1))
    code, out = run_cli("preview", str(orders), str(template), "--row", "2")
    assert code == 0, out
    image = tmp_path / "documents" / "generated" / "preview" / "invoice-R-1.png"
    assert f"its first page:         {image}" in out
    assert image.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "documents" / "generated" / "invoice-R-1.pdf").exists()


@pytest.mark.parametrize("grouped", [False, True])
def test_group_by_makes_one_document_per_row(tmp_path: Path, grouped: bool) -> None:
    rows = good_rows(2)
    orders, template = project(tmp_path, rows)
    if grouped:
        text = MESSAGE.replace("Key: {{ invoice_no }}", "Group-By: customer_no")
        text = text.replace("Rechnung {{ invoice_no }}", "Rechnungen")
        template.write_text(text, encoding="utf-8")
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    names = [[doc.name for doc in draft.documents] for draft in plan.drafts]
    if grouped:
        assert names == [["invoice-00042-2.pdf", "invoice-00042-3.pdf"]]
    else:
        assert names == [["invoice-R-1.pdf"], ["invoice-R-2.pdf"]]


REMINDER = """To: {{ email }}
Subject: LEVEL. Zahlungserinnerung – Rechnung {{ invoice_no }}
Send-If: {{ not paid and overdue_days | int >= DAYS }}
Attachment: generated/invoice-{{ invoice_no }}.pdf
Key: {{ invoice_no }}

Guten Tag, unsere Rechnung {{ invoice_no }} über {{ amount | money }} ist fällig.
"""


def test_reminders_as_campaigns_each_level_once_with_the_original_invoice(tmp_path: Path) -> None:
    rows = [{**row, "paid": "", "overdue_days": "0"} for row in good_rows(3)]
    orders, _template = project(tmp_path, [])
    write_rows(orders, rows)
    for level, days in ((1, 10), (2, 30)):
        (tmp_path / "templates" / f"reminder_{level}.txt").write_text(
            REMINDER.replace("LEVEL", str(level)).replace("DAYS", str(days)), encoding="utf-8"
        )
    ledger_path, transport = tmp_path / "ledger.sqlite", MemoryTransport()

    def run(name: str) -> dict[str, list[str]]:
        plan = Batch.from_files(orders, tmp_path / "templates" / name).plan
        assert plan.ok, plan.problems
        report = send_plan(plan, PROFILE, ledger=ledger_path, transport=transport)
        states: dict[str, list[str]] = {}
        for result in report.results:
            states.setdefault(result.state, []).append(result.key)
        return states

    assert run("invoice.txt") == {"sent": ["R-1", "R-2", "R-3"]}
    invoices = {s.msg["Subject"]: s for s in transport.stored}
    assert run("reminder_1.txt") == {}  # nothing is due yet

    rows[0]["overdue_days"], rows[1]["overdue_days"] = "12", "12"
    rows[1]["paid"] = "ja"
    write_rows(orders, rows)
    assert run("reminder_1.txt") == {"sent": ["R-1"]}
    assert run("reminder_1.txt") == {"skipped": ["R-1"]}  # never twice at the same level
    assert run("reminder_2.txt") == {}

    rows[0]["overdue_days"], rows[2]["overdue_days"] = "31", "31"
    write_rows(orders, rows)
    assert run("reminder_1.txt") == {"skipped": ["R-1"], "sent": ["R-3"]}
    assert run("reminder_2.txt") == {"sent": ["R-1", "R-3"]}
    assert run("reminder_2.txt") == {"skipped": ["R-1", "R-3"]}

    reminders = [s for s in transport.stored if "Zahlungserinnerung" in s.msg["Subject"]]
    assert [s.msg["Subject"] for s in reminders] == [
        "1. Zahlungserinnerung – Rechnung R-1",
        "1. Zahlungserinnerung – Rechnung R-3",
        "2. Zahlungserinnerung – Rechnung R-1",
        "2. Zahlungserinnerung – Rechnung R-3",
    ]
    for stored in reminders:  # the very invoice that was sent, attached again
        (attached,) = stored.msg.iter_attachments()
        number = attached.get_filename().removeprefix("invoice-").removesuffix(".pdf")
        (original,) = invoices[f"Rechnung {number}"].msg.iter_attachments()
        assert attached.get_content() == original.get_content()


def write_rows(orders: Path, rows: list[dict[str, Any]]) -> None:
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [*COLUMNS, "paid", "overdue_days"], delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def test_init_ships_the_invoice_template_with_its_qr_bill(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    code, out = run_cli("init", str(folder))
    assert code == 0, out
    assert (folder / "templates" / "invoice.html").is_file()
    orders, template = folder / "orders.xlsx", folder / "templates" / "qr_invoice.txt"
    code, out = run_cli("check", str(orders), str(template), "--sheet", "Rechnungen")
    assert code == 0, out
    assert "10 messages ready to send; all 10 rows are fine." in out
    code, out = run_cli(
        "preview", str(orders), str(template), "--sheet", "Rechnungen", "--row", "2"
    )
    assert code == 0, out
    pdf = folder / "documents" / "generated" / "preview" / "invoice-R-2026-1041.pdf"
    assert payload_fields(decode_qr(pdf, 1, tmp_path))["debtor.name"] == "Bäckerei Müller AG"
