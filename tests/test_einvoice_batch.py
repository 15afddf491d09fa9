"""Invoices with lines and e-invoices in a batch, read back as the customer's software reads them.

The sample (orders.xlsx with Rechnungen and Positionen, qr_invoice.txt, invoice.html,
seller.toml) is planned and sent to a memory transport; every mailed PDF is opened as a
reader would: the embedded factur-x.xml extracted, validated against the XSD and the official
EN 16931 schematron, its totals recomputed; the visible text read with pdftotext; the QR-bill
decoded from the same page.
"""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from einvoice_read import XRECHNUNG_ID, official_failures, pdf_parts, recomputed, xsd_errors
from pdfread import decode_qr, page_count, payload_fields, pdf_text

from docmail_nb import Batch
from docmail_nb._documents.facturx import embedded_files
from docmail_nb._mail.transport import MemoryTransport
from docmail_nb._run.send import SendOptions, send_plan
from docmail_nb._sample import sample_dir
from docmail_nb._store.profiles import Profile
from docmail_nb.cli import main

PROFILE = Profile("memory", host="memory.invalid", from_addr="buchhaltung@bergmann.example")
D = Decimal


def sample_project(tmp_path: Path) -> tuple[Path, Path]:
    source = sample_dir()
    (tmp_path / "templates").mkdir()
    for name in ("qr_invoice.txt", "invoice.html", "seller.toml"):
        shutil.copy(source / "templates" / name, tmp_path / "templates" / name)
    shutil.copy(source / "orders.xlsx", tmp_path / "orders.xlsx")
    return tmp_path / "orders.xlsx", tmp_path / "templates" / "qr_invoice.txt"


def attachments(message: EmailMessage) -> dict[str, bytes]:
    found = {}
    for part in message.iter_attachments():
        name = part.get_filename()
        assert name is not None
        found[name] = part.get_content()
    return found


def test_the_sample_mails_en16931_invoices_and_an_xrechnung(tmp_path: Path) -> None:
    orders, template = sample_project(tmp_path)
    out = tmp_path / "made"
    plan = Batch.from_files(orders, template, sheet="Rechnungen", documents_out=out).plan
    assert plan.ok, [str(p) for p in plan.problems]
    transport = MemoryTransport()
    report = send_plan(plan, PROFILE, ledger=tmp_path / "ledger.sqlite", transport=transport)
    assert report.counts() == {"sent": 10}
    factur_x = 0
    for stored in transport.stored:
        files = attachments(stored.msg)
        subject = str(stored.msg["Subject"])
        number = subject.split()[1]
        pdf = files[f"invoice-{number}.pdf"]
        (out / "check.pdf").write_bytes(pdf)
        text = pdf_text(out / "check.pdf")
        assert "Rechnungsdatum" in text
        assert "MWST-Nr. CHE-123.456.788 MWST" in text
        qr = payload_fields(decode_qr(out / "check.pdf", page_count(out / "check.pdf"), tmp_path))
        if number == "R-2026-1050":  # the German customer: XRechnung beside a plain PDF
            assert sorted(files) == ["invoice-R-2026-1050.pdf", "xrechnung-R-2026-1050.xml"]
            assert embedded_files(pdf) == {}  # the visual PDF beside the XRechnung
            xml = files["xrechnung-R-2026-1050.xml"]
            assert XRECHNUNG_ID.encode() in xml
            assert xsd_errors(xml) == ""
            assert official_failures(xml) == []
            assert b"<ram:BuyerReference>PO-2026-4711</ram:BuyerReference>" in xml
            assert b'schemeID="EM">rechnung@velo-kuehne.example<' in xml
            totals = recomputed(xml)
            assert (qr["currency"], qr["amount"]) == ("EUR", f"{totals['gross']:.2f}")
            continue
        assert list(files) == [f"invoice-{number}.pdf"]
        parts = pdf_parts(pdf)
        assert parts["name"] == "factur-x.xml"
        assert parts["relationships"] == {"factur-x.xml": "/Alternative"}
        assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in parts["xmp"]
        xml = parts["xml"]
        assert xsd_errors(xml) == ""
        assert official_failures(xml) == [], number
        totals = recomputed(xml)
        assert totals["net"] == totals["stated"]["net"]
        assert totals["vat_total"] == totals["stated"]["vat_total"]
        assert totals["gross"] == totals["stated"]["gross"] == totals["stated"]["payable"]
        assert (qr["currency"], qr["amount"]) == ("CHF", f"{totals['gross']:.2f}")
        for (_category, rate), base in totals["bases"].items():
            assert f"MWST {rate.normalize():f} % auf" in text.replace("\xa0", " ")
            assert base > 0
        factur_x += 1
    assert factur_x == 9
    again = send_plan(
        Batch.from_files(orders, template, sheet="Rechnungen", documents_out=out).plan,
        PROFILE,
        ledger=tmp_path / "ledger.sqlite",
        transport=transport,
    )
    assert again.counts() == {"skipped": 10}
    assert any("0 made now, 11 as made before" in note for note in again.notes)


# --- a project of csv files: orders, positionen.csv -----------------------------------------

ORDER_COLUMNS = [
    "invoice_no", "customer_no", "company", "email", "street", "house_num", "pcode", "city",
    "country", "currency", "invoice_date", "due", "einvoice", "buyer_reference", "amount",
]  # fmt: skip
LINE_COLUMNS = ["invoice_no", "description", "quantity", "unit", "unit_price", "vat_rate",
                "vat_category", "vat_exemption", "discount"]  # fmt: skip
MESSAGE = """To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Document: invoice.html
Lines: positionen.csv on invoice_no
E-Invoice: {{ einvoice }}
Key: {{ invoice_no }}

Guten Tag, anbei die Rechnung {{ invoice_no }} über {{ totals.gross | money(currency) }}.
"""
DOCUMENT = """<html><body><h1>Rechnung {{ invoice_no }}</h1><p>{{ company }}</p>
<p>{{ seller.name }}, MWST {{ seller.vat_id }}</p>
{% for line in lines %}<p>{{ line.description }}: {{ line.quantity | number }} {{ line.unit }}
 à {{ line.unit_price | number(2) }} = {{ line.net | number(2) }}</p>{% endfor %}
{% for vat in totals.vat %}<p>MWST {{ vat.rate | number }} %: {{ vat.amount | number(2) }}</p>
{% endfor %}<p>Total {{ totals.gross | money(currency) }}</p>
{{ qrbill(account=seller.iban, creditor=seller.address,
          debtor=dict(name=company, street=street, house_num=house_num, pcode=pcode,
                      city=city, country=country),
          amount=totals.payable, currency=currency,
          reference=qr_reference(customer_no, invoice_no[2:]), language="de") }}
</body></html>
"""
ORDER = {
    "invoice_no": "R-1",
    "customer_no": "00042",
    "company": "Bäckerei Müller AG",
    "email": "mueller@example.ch",
    "street": "Marktgasse",
    "house_num": "17",
    "pcode": "8400",
    "city": "Winterthur",
    "country": "CH",
    "currency": "CHF",
    "invoice_date": "2026-12-01",
    "due": "2026-12-31",
    "einvoice": "factur-x",
    "buyer_reference": "",
    "amount": "",
}
LINE = {
    "invoice_no": "R-1",
    "description": "Schreinerarbeit",
    "quantity": "2.5",
    "unit": "h",
    "unit_price": "96.50",
    "vat_rate": "8.1",
    "vat_category": "",
    "vat_exemption": "",
    "discount": "",
}


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def csv_project(
    tmp_path: Path, orders: list[dict[str, Any]], lines: list[dict[str, Any]]
) -> tuple[Path, Path]:
    templates = tmp_path / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "invoice.txt").write_text(MESSAGE, encoding="utf-8")
    (templates / "invoice.html").write_text(DOCUMENT, encoding="utf-8")
    shutil.copy(sample_dir() / "templates" / "seller.toml", templates / "seller.toml")
    write_csv(tmp_path / "orders.csv", ORDER_COLUMNS, orders)
    write_csv(tmp_path / "positionen.csv", LINE_COLUMNS, lines)
    return tmp_path / "orders.csv", templates / "invoice.txt"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def order(number: int, **changes: Any) -> dict[str, Any]:
    return {**ORDER, "invoice_no": f"R-{number}", **changes}


def line(number: int, **changes: Any) -> dict[str, Any]:
    return {**LINE, "invoice_no": f"R-{number}", **changes}


def test_check_refuses_each_kind_of_bad_line_and_e_invoice_data(tmp_path: Path) -> None:
    bad_lines = {
        2: {"unit": "Kiste"},
        3: {"vat_rate": "7.7"},
        4: {"quantity": "zwei"},
        5: {"unit_price": "-10"},
        6: {"description": ""},
        7: {"vat_rate": "0"},
        8: {"vat_rate": "0", "vat_category": "E"},
    }
    bad_orders = {
        9: {"invoice_date": ""},
        10: {"currency": "CHX"},
        11: {"einvoice": "xrechnung"},  # no buyer reference
        12: {"country": "Schweiz"},
        13: {"amount": "250.00"},  # the lines make 260.79
        14: {"einvoice": "pdf"},
    }
    orders = [order(n, **bad_orders.get(n, {})) for n in range(1, 15)]
    lines = [line(n, **bad_lines.get(n, {})) for n in range(1, 15)]
    lines.append(line(99))  # lines of no order: a notice
    orders_path, template = csv_project(tmp_path, orders, lines)
    code, out = run_cli("check", str(orders_path), str(template))
    assert code == 1
    flat = " ".join(out.split())
    expected = [
        ("R-2", "positionen.csv row 3: unit", "BR-CL-23"),
        ("R-3", "positionen.csv row 4: vat_rate", "VAT-CH"),
        ("R-4", "positionen.csv row 5: quantity", "BR-22"),
        ("R-5", "positionen.csv row 6: unit_price", "BR-27"),
        ("R-6", "positionen.csv row 7: description", "BR-25"),
        ("R-7", "positionen.csv row 8: vat_category", "BR-CO-04"),
        ("R-8", "positionen.csv row 9: vat_exemption", "BR-E-10"),
        ("R-9", "invoice_date", "BR-03"),
        ("R-10", "currency", "BR-CL-04"),
        ("R-11", "buyer_reference", "BR-DE-15"),
        ("R-12", "E-Invoice: country", "BR-CL-14"),
        ("R-13", "amount", "BR-CO-15"),
    ]
    for key, field, rule in expected:
        assert key in flat
        assert field in flat, field
        assert rule in flat, rule
    assert "not an e-invoice kind" in flat
    assert "the lines make 10.79 more" in flat  # the amount's difference is named
    assert "1 message ready" in flat  # R-1 alone is fine
    assert "name invoice_no R-99, which no order has" in flat


def test_a_changed_line_after_sending_is_changed_and_a_rerun_makes_nothing(
    tmp_path: Path,
) -> None:
    orders = [order(1), order(2, einvoice="")]
    lines = [line(1), line(1, description="Eichenbrett", quantity="1.5", unit="m2",
                               unit_price="41.15", discount="10"), line(2)]  # fmt: skip
    orders_path, template = csv_project(tmp_path, orders, lines)
    out, ledger = tmp_path / "made", tmp_path / "ledger.sqlite"
    transport = MemoryTransport()
    first = send_plan(Batch.from_files(orders_path, template, documents_out=out).plan, PROFILE,
                      ledger=ledger, transport=transport)  # fmt: skip
    assert first.counts() == {"sent": 2}
    plain = attachments(transport.stored[1].msg)["invoice-R-2.pdf"]
    assert embedded_files(plain) == {}  # no e-invoice asked for: a plain PDF
    xml = pdf_parts(attachments(transport.stored[0].msg)["invoice-R-1.pdf"])["xml"]
    assert official_failures(xml) == []
    # 241.25 + (61.73 − 6.17) = 296.81 net, VAT 8.1 % 24.04 (24.0416)
    assert recomputed(xml)["stated"]["gross"] == D("320.85")

    again = send_plan(Batch.from_files(orders_path, template, documents_out=out).plan, PROFILE,
                      ledger=ledger, transport=transport)  # fmt: skip
    assert again.counts() == {"skipped": 2}
    lines[1]["quantity"] = "1.75"  # corrected after it was sent
    csv_project(tmp_path, orders, lines)
    plan = Batch.from_files(orders_path, template, documents_out=out).plan
    dry = send_plan(plan, PROFILE, ledger=ledger, options=SendOptions(dry_run=True))
    assert [r.state for r in dry.results] == ["changed", "skipped"]


def test_preview_shows_the_e_invoice_as_the_customer_reads_it(tmp_path: Path) -> None:
    orders_path, template = csv_project(tmp_path, [order(1)], [line(1), line(1, vat_rate="2.6")])
    code, out = run_cli("preview", str(orders_path), str(template), "--row", "2")
    assert code == 0, out
    assert "e-invoice R-1 of 2026-12-01, CHF (EN 16931, Factur-X/ZUGFeRD)" in out
    assert "seller: Bergmann Werkstatt GmbH" in out
    assert "buyer:  Bäckerei Müller AG" in out
    assert "1. Schreinerarbeit: 2.5 HUR × 96.5 = 241.25  [S 8.1 %]" in out
    assert "VAT S 8.1 % on 241.25: 19.54" in out
    assert "VAT S 2.6 % on 241.25: 6.27" in out


def test_init_ships_a_seller_toml_with_a_valid_vat_number(tmp_path: Path) -> None:
    from docmail_nb._documents.seller import load_seller

    folder = tmp_path / "work"
    code, out = run_cli("init", str(folder))
    assert code == 0, out
    seller, problems = load_seller(folder / "templates" / "seller.toml")
    assert problems == []
    assert seller is not None
    assert seller.vat_id_compact == "CHE123456788MWST"
    wrong = (folder / "templates" / "seller.toml").read_text(encoding="utf-8")
    (folder / "templates" / "seller.toml").write_text(
        wrong.replace("CHE-123.456.788", "CHE-123.456.789"), encoding="utf-8"
    )
    code, out = run_cli(
        "check", str(folder / "orders.xlsx"), str(folder / "templates" / "qr_invoice.txt"),
        "--sheet", "Rechnungen",
    )  # fmt: skip
    assert code == 1
    flat = " ".join(out.split())
    assert "seller.toml: vat_id" in flat
    assert "fails the check digit of the Swiss UID (modulo 11; a typo?). (BR-CO-09)" in flat


def test_the_panel_shows_the_e_invoice_beside_the_page(tmp_path: Path) -> None:
    from docmail_nb._compose.preview import preview
    from docmail_nb._panelkit import mail_view

    orders_path, template = csv_project(tmp_path, [order(1)], [line(1)])
    shown = preview(Batch.from_files(orders_path, template).plan, 2)
    view = mail_view(shown)
    assert "data:image/png;base64," in view  # the first page
    assert "the e-invoice as the customer's software reads it" in view
    assert "VAT S 8.1 % on 241.25: 19.54" in view
    assert "buyer:  Bäckerei Müller AG" in view


def test_columns_named_otherwise_are_mapped_in_the_template(tmp_path: Path) -> None:
    german = {"company": "Firma", "pcode": "PLZ", "city": "Ort", "invoice_date": "Datum"}
    orders = [{german.get(k, k): v for k, v in order(1).items()}]
    orders_path, template = csv_project(tmp_path, [], [line(1)])
    write_csv(orders_path, [german.get(c, c) for c in ORDER_COLUMNS], orders)
    text = template.read_text(encoding="utf-8")
    document = tmp_path / "templates" / "invoice.html"
    document.write_text(
        document.read_text(encoding="utf-8")
        .replace("{{ company }}", "{{ Firma }}")
        .replace("name=company", "name=Firma")
        .replace("pcode=pcode", "pcode=PLZ")
        .replace("city=city", "city=Ort"),
        encoding="utf-8",
    )
    mapped = "E-Invoice-Columns: company=Firma, pcode=PLZ, city=Ort, invoice_date=Datum\n"
    template.write_text(text.replace("Key:", mapped + "Key:"), encoding="utf-8")
    plan = Batch.from_files(orders_path, template).plan
    assert plan.ok, [str(p) for p in plan.problems]
    (draft,) = plan.drafts
    (document_planned,) = draft.documents
    assert document_planned.einvoice is not None
    assert document_planned.einvoice.invoice.buyer.city == "Winterthur"

    template.write_text(text.replace("Key:", "E-Invoice-Columns: city=Stadt\nKey:"), "utf-8")
    code, out = run_cli("check", str(orders_path), str(template))
    assert code == 1
    assert "city=Stadt: the orders have no column 'Stadt'" in " ".join(out.split())
