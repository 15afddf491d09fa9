"""Benchmark data: N invoices as csv and xlsx, one ~50 kB PDF per invoice, and the templates.

Every invoice gets its own PDF (a text line and a noise image, so the bytes do not compress),
written by hand as a valid PDF 1.4 file. Files already present are reused, so a second run
of the benchmark does not pay for generation again.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

PDF_BYTES = 50_000
COLUMNS = ["invoice_no", "customer_no", "company", "contact", "email", "cc", "amount", "due"]
FROM_ADDR = "buchhaltung@bergmann-werkstatt.example"

DOCMAIL_TEMPLATE = """\
To: {{ email }}
Cc: {{ cc }}
Subject: Rechnung {{ invoice_no }} – {{ company }}
Attachment: {{ invoice_no }}.pdf
Key: {{ invoice_no }}
Format: text

Guten Tag {{ contact }}

Anbei erhalten Sie die Rechnung {{ invoice_no }} über {{ amount | money("CHF") }},
zahlbar bis {{ due | date }}.

Freundliche Grüsse
Bergmann Werkstatt AG
"""

MAILMERGE_TEMPLATE = """\
TO: {{ email }}
CC: {{ cc }}
FROM: Bergmann Werkstatt AG <buchhaltung@bergmann-werkstatt.example>
SUBJECT: Rechnung {{ invoice_no }} – {{ company }}
ATTACHMENT: {documents}/{{ invoice_no }}.pdf

Guten Tag {{ contact }}

Anbei erhalten Sie die Rechnung {{ invoice_no }} über CHF {{ amount }},
zahlbar bis {{ due }}.

Freundliche Grüsse
Bergmann Werkstatt AG
"""


def invoice_no(index: int) -> str:
    return f"R-2026-{index + 1:06d}"


def rows(count: int) -> Iterator[dict[str, str]]:
    """The invoice rows, as text, the same for csv and xlsx."""
    start = dt.date(2026, 3, 1)
    for i in range(count):
        customer = i % 4999 + 1
        yield {
            "invoice_no": invoice_no(i),
            "customer_no": f"{customer:05d}",
            "company": f"Kunde {customer} GmbH",
            "contact": f"Frau Muster {customer}",
            "email": f"kontakt{customer}@kunde{customer}.example",
            "cc": f"buchhaltung@kunde{customer}.example",
            "amount": f"{(i * 7919) % 100_000 / 100 + 100:.2f}",
            "due": (start + dt.timedelta(days=i % 60)).isoformat(),
        }


def pdf_bytes(title: str, size: int = PDF_BYTES) -> bytes:
    """A valid one-page PDF of about ``size`` bytes: a text line and a grey noise image."""
    width = 200
    height = max(1, (size - 1200) // width)
    image = os.urandom(width * height)
    text = f"BT /F1 18 Tf 72 760 Td ({title}) Tj ET q 100 0 0 120 72 600 cm /Im1 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 /Length %d >>\nstream\n"
        % (width, height, len(image))
        + image
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def write_documents(folder: Path, count: int) -> Path:
    """One PDF per invoice, named after the invoice number (reused when present)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = folder / f"{invoice_no(i)}.pdf"
        if not path.exists():
            path.write_bytes(pdf_bytes(f"Rechnung {invoice_no(i)}"))
    return folder


def link_documents(folder: Path, count: int, links_per_file: int = 50_000) -> Path:
    """One PDF per invoice as hard links to a few real ones: what a check looks at, without
    5 GB of data (a file system allows only so many links to one file)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder
    for i in range(count):
        path = folder / f"{invoice_no(i)}.pdf"
        if i % links_per_file == 0:
            source = path
            if not path.exists():
                path.write_bytes(pdf_bytes(f"Rechnung {invoice_no(i)}"))
        elif not path.exists():
            os.link(source, path)
    return folder


def write_csv(path: Path, count: int) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows(count))
        tmp.replace(path)
    return path


def write_xlsx(path: Path, count: int, sheet: str = "Rechnungen") -> Path:
    """The same rows as an xlsx sheet: customer_no as text, amount a number, due a date."""
    if path.exists():
        return path
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    ws.append(COLUMNS)
    for row in rows(count):
        ws.append(
            [
                row["invoice_no"],
                row["customer_no"],
                row["company"],
                row["contact"],
                row["email"],
                row["cc"],
                float(row["amount"]),
                dt.date.fromisoformat(row["due"]),
            ]
        )
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)
    return path


def write_templates(folder: Path, documents: Path) -> tuple[Path, Path]:
    """The docmail template and the equivalent mailmerge template."""
    folder.mkdir(parents=True, exist_ok=True)
    docmail = folder / "invoice.txt"
    docmail.write_text(DOCMAIL_TEMPLATE, encoding="utf-8")
    mailmerge = folder / "mailmerge_template.txt"
    mailmerge.write_text(
        MAILMERGE_TEMPLATE.replace("{documents}", str(documents.resolve())), encoding="utf-8"
    )
    return docmail, mailmerge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    documents = write_documents(args.folder / "documents", args.count)
    write_csv(args.folder / f"orders-{args.count}.csv", args.count)
    write_xlsx(args.folder / f"orders-{args.count}.xlsx", args.count)
    write_templates(args.folder / "templates", documents)


if __name__ == "__main__":
    main()
