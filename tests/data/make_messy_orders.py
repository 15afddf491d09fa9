"""A realistic messy workbook, as a Swiss company's accounting export looks, and its documents.

The sheet ``2026`` has a title and a date above the header (row 4), a hidden helper column
without a name, an e-mail looked up with VLOOKUP that fails (``#N/A``), a division by zero,
Outlook-style address lists and addresses on separate lines of one cell, a customer number that
Excel turned into a number, half-cent and negative amounts, amounts typed as text, paid
invoices, a totals row, and a document whose name is decomposed Unicode in a subfolder.

openpyxl writes the formulas without values (as any script does); a spreadsheet program computes
them when it saves the file (tests/spreadsheet_program.py does that with LibreOffice).

Run from the repository root: ``python tests/data/make_messy_orders.py OUTDIR``.
"""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata
from pathlib import Path

import openpyxl

PDF = b"%PDF-1.4\n% test document\n%%EOF\n"
SHEET = "2026"
HEADER_ROW = 4
COLUMNS = [
    "Rechnungsnr",  # A
    "Kundennr",  # B
    "Firma",  # C
    "Kontakt",  # D
    "Email",  # E
    None,  # F: hidden helper column without a name
    "Cc",  # G
    "Betrag",  # H
    "Fällig",  # I
    "Status",  # J
    "Dokument",  # K
]
DUE = dt.date(2026, 12, 31)
# (invoice, customer, company, contact, email, cc, amount, status, document)
ROWS: list[tuple[object, ...]] = [
    (
        "R-2026-101", "001041", "Bäckerei Müller AG", "Herr Müller",
        "Müller, Hans <hans@mueller.example>; Meier, Eva <eva@mueller.example>",
        None, 24.525, "offen", "R-2026-101.pdf",
    ),
    (
        "R-2026-102", 1042, "Café Höfli", "Frau Zürcher",
        "zuercher@hoefli.example\nbuchhaltung@hoefli.example",
        None, "CHF 980.–", "offen", "R-2026-102.pdf",
    ),
    (
        "R-2026-103", "001043", "Blümli GmbH", "Frau Jäggi",
        "=VLOOKUP(B7,Kunden!A:B,2,FALSE())",
        None, "1'234.50", "offen", "2026/Jäggi.pdf",
    ),
    (
        "R-2026-104", "001044", "Metzgerei Brändli", "Herr Brändli", "b@braendli.example",
        "treuhand@braendli.example", -250, "offen", "R-2026-104.pdf",
    ),
    (
        "R-2026-105", "001045", "Praxis Kälin", "Frau Dr. Kälin", "p@kaelin.example",
        None, 486.35, "bezahlt", "R-2026-105.pdf",
    ),
    (
        "R-2026-106", "001046", "Kita Sonnenschein", "Frau Lüthi", "l@kita.example",
        None, "=H9/0", "offen", "R-2026-106.pdf",
    ),
]  # fmt: skip
TOTALS_ROW = HEADER_ROW + len(ROWS) + 2  # one empty row, then the totals
DOCUMENTS = ["R-2026-101.pdf", "R-2026-102.pdf", "R-2026-104.pdf", "R-2026-105.pdf"]
DECOMPOSED = unicodedata.normalize("NFD", "Jäggi.pdf")

TEMPLATE = """\
To: {{ Email }}
Cc: {{ Cc }}
Bcc: archiv@schreinerei.example
Subject: Rechnung {{ Rechnungsnr }} – {{ Firma }}
Attachment: {{ Dokument }}
Key: {{ Rechnungsnr }}

Guten Tag {{ Kontakt }}

Anbei unsere Rechnung {{ Rechnungsnr }} über {{ Betrag | money("CHF") }},
zahlbar bis {{ Fällig | date }}.
"""


def write_workbook(path: Path) -> Path:
    """The workbook as a script writes it: formulas without computed values."""
    book = openpyxl.Workbook()
    overview = book.active
    assert overview is not None
    overview.title = "Übersicht"
    overview.append(["Schreinerei Muster AG", "Debitoren"])
    sheet = book.create_sheet(SHEET)
    sheet["A1"] = "Rechnungen 2026 – Schreinerei Muster AG"
    sheet["A2"] = "Stand"
    sheet["B2"] = dt.date(2026, 11, 28)
    for column, name in enumerate(COLUMNS, start=1):
        if name is not None:
            sheet.cell(row=HEADER_ROW, column=column, value=name)
    for offset, (invoice, customer, company, contact, email, cc, amount, status, doc) in enumerate(
        ROWS
    ):
        row = HEADER_ROW + 1 + offset
        values = [invoice, customer, company, contact, email, f'=A{row}&"|"&B{row}', cc]
        values += [amount, DUE, status, doc]
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            if isinstance(value, str) and not value.startswith("="):
                cell.data_type = "s"
        sheet.cell(row=row, column=8).number_format = "#,##0.00"
        sheet.cell(row=row, column=9).number_format = "DD.MM.YYYY"
    sheet.cell(row=TOTALS_ROW, column=3, value="Total")
    sheet.cell(row=TOTALS_ROW, column=8, value=f"=SUM(H{HEADER_ROW + 1}:H{TOTALS_ROW - 3})")
    sheet.cell(row=TOTALS_ROW, column=8).number_format = "#,##0.00"
    sheet.column_dimensions["F"].hidden = True
    customers = book.create_sheet("Kunden")
    customers.append(["Kundennr", "Email"])
    for number, email in (("001041", "hans@mueller.example"), ("001044", "b@braendli.example")):
        customers.append([number, email])
    book.save(path)
    return path


def write_documents(folder: Path) -> Path:
    """The PDFs; Jäggi's is in a subfolder and named in decomposed Unicode (as a Mac does)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in DOCUMENTS:
        (folder / name).write_bytes(PDF)
    (folder / "2026").mkdir(exist_ok=True)
    (folder / "2026" / DECOMPOSED).write_bytes(PDF)
    return folder


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    write_workbook(outdir / "messy.xlsx")
    write_documents(outdir / "documents")
    (outdir / "invoice.txt").write_text(TEMPLATE, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("messy"))
