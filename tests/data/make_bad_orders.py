"""Write tests/data/bad_orders.xlsx and its documents: a sheet with one good row and bad ones.

Run from the repository root: ``python tests/data/make_bad_orders.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent
PDF = b"%PDF-1.4\n% test document\n%%EOF\n"
COLUMNS = ["invoice_no", "customer_no", "company", "contact", "email", "cc", "amount", "due"]
ROWS = [
    ["R-1", "00042", "Bäckerei Müller AG", "Frau Müller", "m@mueller.example", None, 1234.5],
    ["R-2", "00107", "Café Höfli", "Herr Zürcher", "kein-at-zeichen", None, 486],
    ["R-3", "00015", "Blümli GmbH", "Frau Jäggi", None, None, 2980.75],
    ["R-4", "00231", "=?utf-8?q?Fr=C3=B6hlich=0ABcc:_x@evil.example?=", "Herr F.", "f@x.example"],
    ["R-5", "00009", "Metzgerei Brändli", "Herr B.", "b@x.example", "treuhand@", 72.1],
    ["R-2", "00107", "Café Höfli", "Herr Zürcher", "z@hoefli.example", None, 99],
    ["R-7", "00512", "Praxis Kälin", "Frau Dr. Kälin", "p@x.example", None, None],
    ["R-8", "00600", "Kita Sonnenschein", "Frau Lüthi", "l@kita.example", "t@kita.example", 50],
]


def main() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Rechnungen"
    sheet.append(COLUMNS)
    for row in ROWS:
        values = [*[*row, *[None] * len(COLUMNS)][: len(COLUMNS) - 1], dt.date(2026, 12, 31)]
        sheet.append(values)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    book.save(HERE / "bad_orders.xlsx")
    documents = HERE / "documents"
    documents.mkdir(exist_ok=True)
    for name in ("R-1", "R-2", "R-4", "R-5", "R-8"):
        (documents / f"{name}.pdf").write_bytes(PDF)
    (documents / "R-7.pdf").write_bytes(b"")


if __name__ == "__main__":
    main()
