"""Documents rendered to real PDFs and read back: text with poppler, the QR-bill with zxing-cpp."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pdfread import decode_qr, page_count, payload_fields, pdf_text, word_boxes

from docmail_nb._documents.render import (
    DocumentRenderer,
    DocumentTemplate,
    load_document_template,
    pdf_filename,
)
from docmail_nb.errors import DocumentError

A4_HEIGHT_PT = 297 / 25.4 * 72
PAYMENT_PART_TOP_PT = A4_HEIGHT_PT - 105 / 25.4 * 72

INVOICE = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8">
<style>body { font-family: "DejaVu Sans", sans-serif; font-size: 10pt; }</style>
</head><body>
<h1>Rechnung {{ invoice_no }}</h1>
<p>{{ company }}<br>{{ street }} {{ house_num }}<br>{{ pcode }} {{ city }}</p>
{% for line in range(lines) %}<p>Position {{ line + 1 }}: Arbeit in der Werkstatt</p>{% endfor %}
<p id="total">Total {{ amount | money(currency) if amount else "offen" }},
zahlbar bis {{ due | date }}</p>
{{ qrbill(account=account,
          creditor=dict(name="Bergmann Werkstatt GmbH", street="Tössfeldstrasse",
                        house_num="12", pcode="8406", city="Winterthur", country="CH"),
          debtor=dict(name=company, street=street, house_num=house_num, pcode=pcode,
                      city=city, country=country) if company else None,
          amount=amount, currency=currency, reference=reference,
          additional_information="Rechnung " ~ invoice_no, language=language) }}
</body></html>
"""


def make_template(folder: Path, source: str = INVOICE, name: str = "invoice.html") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


def row(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "invoice_no": "R-2026-1041",
        "customer_no": "00042",
        "company": "Bäckerei Müller AG",
        "street": "Marktgasse",
        "house_num": "3a",
        "pcode": 8400,
        "city": "Winterthur",
        "country": "CH",
        "amount": Decimal("1234.50"),
        "currency": "CHF",
        "due": dt.date(2026, 12, 31),
        "account": "CH44 3199 9123 0008 8901 2",
        "reference": "000000004200000000000010413",
        "language": "de",
        "lines": 3,
    }
    values.update(changes)
    return values


def render(tmp_path: Path, values: dict[str, Any], name: str = "out.pdf") -> Path:
    renderer = DocumentRenderer(load_document_template(make_template(tmp_path / "tpl")))
    out = tmp_path / name
    out.write_bytes(renderer.pdf(values).pdf)
    return out


def test_qr_bill_decodes_to_the_rows_payment_data(tmp_path: Path) -> None:
    values = row()
    pdf = render(tmp_path, values)
    assert page_count(pdf) == 1
    fields = payload_fields(decode_qr(pdf, 1, tmp_path))
    assert fields == {
        "qr_type": "SPC",
        "version": "0200",
        "coding": "1",
        "account": "CH4431999123000889012",
        "creditor.type": "S",
        "creditor.name": "Bergmann Werkstatt GmbH",
        "creditor.street": "Tössfeldstrasse",
        "creditor.house_num": "12",
        "creditor.pcode": "8406",
        "creditor.city": "Winterthur",
        "creditor.country": "CH",
        **{f"ultimate_creditor.{name}": "" for name in _ADDRESS_LINES},
        "amount": "1234.50",
        "currency": "CHF",
        "debtor.type": "S",
        "debtor.name": values["company"],
        "debtor.street": values["street"],
        "debtor.house_num": values["house_num"],
        "debtor.pcode": str(values["pcode"]),
        "debtor.city": values["city"],
        "debtor.country": values["country"],
        "reference_type": "QRR",
        "reference": values["reference"],
        "additional_information": "Rechnung R-2026-1041",
        "trailer": "EPD",
    }
    text = pdf_text(pdf)
    assert "Rechnung R-2026-1041" in text
    assert "Bäckerei Müller AG" in text
    assert "Empfangsschein" in text
    assert "Zahlteil" in text
    assert "21 00000 00003 13947 14300 09017" not in text  # the reference shown is the row's
    assert "00 00000 04200 00000 00000 10413" in text


def test_plain_iban_euro_no_debtor_no_amount(tmp_path: Path) -> None:
    values = row(
        account="CH93 0076 2011 6238 5295 7",
        reference="RF18 5390 0754 7034",
        currency="EUR",
        company="",
        amount=None,
        language="fr",
    )
    pdf = render(tmp_path, values)
    fields = payload_fields(decode_qr(pdf, 1, tmp_path))
    assert fields["amount"] == ""
    assert fields["currency"] == "EUR"
    assert fields["account"] == "CH9300762011623852957"
    assert (fields["reference_type"], fields["reference"]) == ("SCOR", "RF18539007547034")
    assert all(fields[f"debtor.{name}"] == "" for name in _ADDRESS_LINES)
    assert "Section paiement" in pdf_text(pdf)


@pytest.mark.parametrize(
    ("language", "receipt", "payment"),
    [
        ("de", "Empfangsschein", "Zahlteil"),
        ("fr", "Récépissé", "Section paiement"),
        ("it", "Ricevuta", "Sezione pagamento"),
        ("en", "Receipt", "Payment part"),
    ],
)
def test_receipt_and_payment_part_in_the_language_given(
    tmp_path: Path, language: str, receipt: str, payment: str
) -> None:
    text = pdf_text(render(tmp_path, row(language=language)))
    assert receipt in text
    assert payment in text


def test_payment_part_at_the_bottom_of_the_last_page(tmp_path: Path) -> None:
    short = render(tmp_path, row(lines=2), "short.pdf")
    long = render(tmp_path, row(lines=40), "long.pdf")
    assert page_count(short) == 1
    assert page_count(long) == 2
    for pdf, last in ((short, 1), (long, 2)):
        words = word_boxes(pdf, last)
        receipt = next((x, y) for word, x, y in words if word == "Empfangsschein")
        assert receipt[0] < 10 / 25.4 * 72  # the receipt starts at the paper's left edge
        assert PAYMENT_PART_TOP_PT < receipt[1] < PAYMENT_PART_TOP_PT + 10 / 25.4 * 72
        total = next(y for word, _x, y in words if word == "Total")
        assert total < PAYMENT_PART_TOP_PT  # the content ends above the perforation
    assert "Zahlteil" not in pdf_text(long, page=1)
    assert payload_fields(decode_qr(long, 2, tmp_path))["amount"] == "1234.50"


def test_same_row_same_bytes(tmp_path: Path) -> None:
    renderer = DocumentRenderer(load_document_template(make_template(tmp_path)))
    first, again = renderer.pdf(row()), renderer.pdf(row())
    assert first.pdf == again.pdf
    assert first.sha256 == again.sha256
    assert renderer.pdf(row(amount=Decimal("1234.55"))).sha256 != first.sha256


def test_check_names_the_field_and_renders_nothing(tmp_path: Path) -> None:
    renderer = DocumentRenderer(load_document_template(make_template(tmp_path)))
    assert renderer.check(row()) == []
    problems = renderer.check(row(account="CH44 3199 9123 0008 8901 3", pcode=""))
    assert [problem.field for problem in problems] == ["account", "debtor.pcode"]
    with pytest.raises(DocumentError, match=r"account: .* fails the IBAN checksum"):
        renderer.pdf(row(account="CH44 3199 9123 0008 8901 3"))


def test_rendering_errors_are_problems_of_the_template(tmp_path: Path) -> None:
    renderer = DocumentRenderer(load_document_template(make_template(tmp_path)))
    values = row()
    del values["due"]
    values["dues"] = dt.date(2026, 12, 31)
    (problem,) = renderer.check(values)
    assert problem.field == "invoice.html"
    assert problem.message == "The document invoice.html uses 'due', not a column."
    assert problem.hint.startswith("Did you mean 'dues'?")
    (problem,) = renderer.check(row(amount="zwölf"))
    assert "'zwölf' is not a number" in problem.message


def test_qrbill_call_with_unknown_argument_or_twice(tmp_path: Path) -> None:
    source = (
        '{{ qrbill(account="CH93 0076 2011 6238 5295 7", creditor=c, iban="x") }}'
        '{{ qrbill(account="CH93 0076 2011 6238 5295 7", creditor=c) }}'
    )
    renderer = DocumentRenderer(load_document_template(make_template(tmp_path, source)))
    creditor = {"name": "A", "pcode": "8400", "city": "Winterthur", "country": "CH"}
    problems = renderer.check({"c": creditor})
    assert [(p.field, p.message) for p in problems] == [
        ("qrbill", "does not take iban."),
        ("qrbill", "is called more than once; a document carries one payment part."),
    ]


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = make_template(tmp_path, "<p>\n{{ invoice_no }\n</p>")
    with pytest.raises(DocumentError, match=r"invoice.html, line 2: Jinja syntax error"):
        load_document_template(path)
    with pytest.raises(DocumentError, match="does not exist"):
        load_document_template(tmp_path / "missing.html")


def test_values_are_escaped_and_the_sandbox_holds(tmp_path: Path) -> None:
    renderer = DocumentRenderer(load_document_template(make_template(tmp_path, "{{ company }}")))
    assert renderer.check({"company": "<b>A&B</b>"}) == []
    assert renderer.html({"company": "<b>A&B</b>"}) == "&lt;b&gt;A&amp;B&lt;/b&gt;"
    sandboxed = DocumentRenderer(
        load_document_template(
            make_template(tmp_path, "{{ x.__class__.__mro__[1].__subclasses__() }}", "s.html")
        )
    )
    (problem,) = sandboxed.check({"x": 1})
    assert "access to attribute '__class__' of 'int' object is unsafe." in problem.message


def test_resources_only_from_the_templates_folder(tmp_path: Path) -> None:
    (tmp_path / "outside.css").write_text('h1::after { content: "LEAKED" }', encoding="utf-8")
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "style.css").write_text('h1::after { content: " INSIDE" }', encoding="utf-8")
    source = (
        '<html><head><link rel="stylesheet" href="style.css">'
        '<link rel="stylesheet" href="../outside.css"></head><body><h1>Titel</h1></body></html>'
    )
    renderer = DocumentRenderer(load_document_template(make_template(folder, source)))
    pdf = tmp_path / "res.pdf"
    pdf.write_bytes(renderer.pdf({}).pdf)
    text = pdf_text(pdf)
    assert "INSIDE" in text
    assert "LEAKED" not in text


def test_pdf_filename_is_safe() -> None:
    template = DocumentTemplate(Path("/x/invoice.html"), "")
    assert pdf_filename(template, "R-2026-1041") == "invoice-R-2026-1041.pdf"
    assert pdf_filename(template, "../../etc/passwd") == "invoice-etc_passwd.pdf"
    assert pdf_filename(template, "") == "invoice-document.pdf"


_ADDRESS_LINES = ("type", "name", "street", "house_num", "pcode", "city", "country")


MEMORY_PROBE = """
import tempfile
from docmail_nb import Batch
from docmail_nb._sample import sample_dir
plan = Batch.from_files(
    sample_dir() / "orders.xlsx", sample_dir() / "templates" / "qr_invoice.txt",
    sheet="Rechnungen", documents_out=tempfile.mkdtemp(),
).plan
# the sample's invoices: lines, VAT, QR-bill, and a Factur-X PDF/A-3 (all but one)
documents = [d for draft in plan.drafts for d in draft.documents if d.renderer is not None]
assert len(documents) == 10
def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20
for number in range(12):  # warm up: fonts, caches and the allocator settle in the first dozen
    documents[number % len(documents)].render()
before = rss_mb()
for number in range(24):
    documents[number % len(documents)].render()
print(rss_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_a_long_batch_does_not_grow_memory_per_document() -> None:
    import subprocess
    import sys

    grown = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE],
        check=True, capture_output=True, text=True, timeout=240,
    ).stdout  # fmt: skip
    assert float(grown) < 8.0  # a font configuration per invoice: ~1.4 MB each, ~34 MB here
