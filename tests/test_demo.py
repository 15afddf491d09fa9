"""`docmail demo`, from any folder and from an installed wheel, leaves a full Maildir."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
import zipfile
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from einvoice_read import XRECHNUNG_ID, official_failures, pdf_parts, recomputed, xsd_errors
from pdfread import decode_qr, payload_fields

from docmail_nb._documents.facturx import embedded_files
from docmail_nb._documents.payment_references import qr_reference
from docmail_nb._sample import SAMPLE_BATCHES, sample_dir
from docmail_nb._sheets.orders import read_orders

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_MESSAGES = 20


def run_demo(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docmail_nb", "demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def captured(folder: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(folder / "docmail-demo" / "outbox", create=False)
    messages = []
    for key in box.iterkeys():
        parsed = message_from_bytes(box.get_bytes(key), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def check_outbox(folder: Path) -> None:
    messages = captured(folder)
    assert len(messages) == SAMPLE_MESSAGES
    documents = sample_dir() / "documents"
    made = folder / "docmail-demo" / "documents"
    invoices = {
        values["invoice_no"]: values
        for _row, values in read_orders(sample_dir() / "orders.xlsx", "Rechnungen").records()
    }
    decoded = einvoices = 0
    for msg in messages:
        attachments = list(msg.iter_attachments())
        name = attachments[0].get_filename()
        assert name is not None
        assert attachments[0].get_content_type() == "application/pdf"
        if name.startswith("invoice-"):  # made by the demo, with lines, VAT and a QR-bill
            assert attachments[0].get_content() == (made / name).read_bytes()
            row = invoices[name.removeprefix("invoice-").removesuffix(".pdf")]
            assert_qr_bill_is_the_rows(made / name, row, folder)
            decoded += 1
            xml = assert_einvoice_is_the_rows(attachments, row)
            assert official_failures(xml) == [], name
            einvoices += 1
        else:
            assert len(attachments) == 1
            assert attachments[0].get_content() == (documents / name).read_bytes()
    assert decoded == len(invoices) == einvoices == 10
    subjects = {str(m["Subject"]) for m in messages}
    assert "Rechnung R-2026-1041 – Bäckerei Müller AG" in subjects
    two_addresses = next(m for m in messages if "R-2026-1043" in str(m["Subject"]))
    assert {a.addr_spec for a in two_addresses["To"].addresses} == {
        "s.jaeggi@bluemli.example",
        "office@bluemli.example",
    }


def assert_einvoice_is_the_rows(attachments: list[Any], row: dict[str, Any]) -> bytes:
    """The e-invoice of the row: Factur-X in the PDF, or XRechnung beside it; its totals are
    the row's amount."""
    pdf = attachments[0].get_content()
    if row["einvoice"] == "xrechnung":
        assert len(attachments) == 2
        assert attachments[1].get_filename() == f"xrechnung-{row['invoice_no']}.xml"
        assert embedded_files(pdf) == {}
        xml: bytes = attachments[1].get_content()
        assert XRECHNUNG_ID.encode() in xml
    else:
        assert len(attachments) == 1
        parts = pdf_parts(pdf)
        assert parts["relationships"] == {"factur-x.xml": "/Alternative"}
        xml = parts["xml"]
    assert xsd_errors(xml) == ""
    totals = recomputed(xml)
    assert totals["gross"] == totals["stated"]["gross"] == row["amount"]
    return xml


def assert_qr_bill_is_the_rows(pdf: Path, row: dict[str, Any], workdir: Path) -> None:
    """The QR code of the invoice, decoded, carries exactly the row's payment data."""
    fields = payload_fields(decode_qr(pdf, 1, workdir))
    number = row["invoice_no"].removeprefix("R-").replace("-", "")
    assert fields == {
        **fields,
        "qr_type": "SPC",
        "version": "0200",
        "coding": "1",
        "account": "CH4431999123000889012",
        "creditor.name": "Bergmann Werkstatt GmbH",
        "amount": f"{row['amount']:.2f}",
        "currency": row["currency"],
        "debtor.type": "S",
        "debtor.name": row["company"],
        "debtor.street": row["street"],
        "debtor.house_num": row["house_num"],
        "debtor.pcode": row["pcode"],
        "debtor.city": row["city"],
        "debtor.country": row["country"],
        "reference_type": "QRR",
        "reference": qr_reference(row["customer_no"], number),
        "additional_information": f"Rechnung {row['invoice_no']}",
        "trailer": "EPD",
    }
    assert fields["reference"][:10] == row["customer_no"].zfill(10)


def test_demo_sends_once_and_the_second_pass_sends_nothing(tmp_path: Path) -> None:
    result = run_demo(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "R-2026-1041" in out  # the table of what was sent
    assert "Second pass" in out
    assert f"0 sent, {SAMPLE_MESSAGES} already sent" in out
    assert "0 made now, 11 as made before" in out  # the second pass makes no document
    check_outbox(tmp_path)
    # a second demo starts afresh: same result, no leftovers from the first
    again = run_demo(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    check_outbox(tmp_path)


@pytest.mark.slow
def test_demo_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("docmail_nb-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template, _sheet in SAMPLE_BATCHES:
        assert f"docmail_nb/sample_data/templates/{template}" in names
    assert "docmail_nb/sample_data/orders.xlsx" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONSAFEPATH": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "import docmail_nb, sys; print(docmail_nb.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.startswith(str(site))
    result = run_demo(work, env)
    assert result.returncode == 0, result.stdout + result.stderr
    check_outbox(work)
