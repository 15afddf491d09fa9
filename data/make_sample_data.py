"""Write the sample data of docmail_nb: orders.xlsx, orders.csv and one PDF per document.

A second sample, ``accounting/``, is the open-items list as an accounting program exports it for
Swiss Excel: semicolons, Windows-1252, a title above the header row, amounts typed as
``1'234.50`` and ``2'980.-``, an Outlook address list, two addresses on lines of one cell, an
international domain, a paid invoice and a totals row.

The business is Bergmann Werkstatt GmbH, a small joinery in Winterthur. Run from the repository:
``python data/make_sample_data.py`` (needs fpdf2 and openpyxl). The output is committed, so the
demo never needs this script or the network.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

from fpdf import FPDF
from openpyxl import Workbook

HERE = Path(__file__).parent
SENDER = "Bergmann Werkstatt GmbH · Tössfeldstrasse 12 · 8406 Winterthur"

INVOICES = [
    # invoice_no, customer_no, company, contact, email, cc, amount, due
    (
        "R-2026-1041",
        "00042",
        "Bäckerei Müller AG",
        "Frau Müller",
        "r.mueller@baeckerei-mueller.example",
        "",
        1234.50,
        date(2026, 12, 31),
    ),
    (
        "R-2026-1042",
        "00107",
        "Café Zürcher Höfli",
        "Herr Zürcher",
        "buchhaltung@hoefli.example",
        "treuhand@zahlen-partner.example",
        486.00,
        date(2026, 12, 31),
    ),
    (
        "R-2026-1043",
        "00015",
        "Gärtnerei Blümli GmbH",
        "Frau Jäggi",
        "s.jaeggi@bluemli.example, office@bluemli.example",
        "",
        2980.75,
        date(2027, 1, 15),
    ),
    (
        "R-2026-1044",
        "00231",
        "Schreinerei Fröhlich",
        "Herr Fröhlich",
        "info@froehlich-holz.example",
        "",
        72.10,
        date(2026, 12, 20),
    ),
    (
        "R-2026-1045",
        "00042",
        "Bäckerei Müller AG",
        "Frau Müller",
        "r.mueller@baeckerei-mueller.example",
        "",
        318.40,
        date(2027, 1, 10),
    ),
    (
        "R-2026-1046",
        "00388",
        "Hotel Säntisblick",
        "Frau Oberholzer",
        "rechnungen@saentisblick.example",
        "direktion@saentisblick.example",
        15820.00,
        date(2027, 1, 31),
    ),
    (
        "R-2026-1047",
        "00009",
        "Metzgerei Brändli",
        "Herr Brändli",
        "h.braendli@metzgerei-braendli.example",
        "",
        960.95,
        date(2026, 12, 28),
    ),
    (
        "R-2026-1048",
        "00512",
        "Praxis Dr. Kälin",
        "Frau Dr. Kälin",
        "praxis@dr-kaelin.example",
        "",
        645.00,
        date(2027, 1, 5),
    ),
    (
        "R-2026-1049",
        "00074",
        "Weinhandlung Rüegg & Söhne",
        "Herr Rüegg",
        "bestellungen@rueegg-wein.example",
        "buchhaltung@rueegg-wein.example",
        4310.20,
        date(2027, 1, 20),
    ),
    (
        "R-2026-1050",
        "00160",
        "Velo Kühne",
        "Herr Kühne",
        "mail@velo-kuehne.example",
        "",
        129.90,
        date(2026, 12, 24),
    ),
]

# the customers' addresses, structured as a Swiss QR-bill needs them:
# customer_no: (street, house_num, pcode, city, country)
ADDRESSES = {
    "00042": ("Marktgasse", "17", "8400", "Winterthur", "CH"),
    "00107": ("Stadthausstrasse", "8", "8400", "Winterthur", "CH"),
    "00015": ("Seenerstrasse", "145", "8405", "Winterthur", "CH"),
    "00231": ("Zürcherstrasse", "62a", "8406", "Winterthur", "CH"),
    "00388": ("Schwägalpstrasse", "3", "9107", "Urnäsch", "CH"),
    "00009": ("Obergasse", "21", "8400", "Winterthur", "CH"),
    "00512": ("Rychenbergstrasse", "40", "8400", "Winterthur", "CH"),
    "00074": ("Städtle", "28", "9490", "Vaduz", "LI"),
    "00160": ("Frauenfelderstrasse", "9", "8404", "Winterthur", "CH"),
}
ADDRESS_COLUMNS = ["street", "house_num", "pcode", "city", "country"]

OFFERS = [
    # offer_no, customer_no, company, contact, email, cc, amount, valid_until
    (
        "O-2026-0318",
        "00231",
        "Schreinerei Fröhlich",
        "Herr Fröhlich",
        "info@froehlich-holz.example",
        "",
        8450.00,
        date(2027, 1, 31),
    ),
    (
        "O-2026-0319",
        "00603",
        "Kita Sonnenschein",
        "Frau Lüthi",
        "leitung@kita-sonnenschein.example",
        "",
        3275.60,
        date(2027, 2, 15),
    ),
    (
        "O-2026-0320",
        "00388",
        "Hotel Säntisblick",
        "Frau Oberholzer",
        "einkauf@saentisblick.example",
        "direktion@saentisblick.example",
        22900.00,
        date(2027, 2, 28),
    ),
    (
        "O-2026-0321",
        "00015",
        "Gärtnerei Blümli GmbH",
        "Frau Jäggi",
        "s.jaeggi@bluemli.example",
        "",
        1190.35,
        date(2027, 1, 15),
    ),
    (
        "O-2026-0322",
        "00719",
        "Genossenschaft Wohnen Töss",
        "Herr Schäfer",
        "verwaltung@wohnen-toess.example",
        "bau@wohnen-toess.example",
        56780.40,
        date(2027, 3, 31),
    ),
]

DELIVERY_NOTES = [
    # delivery_no, order_no, customer_no, company, contact, email, cc, delivery_date
    (
        "L-2026-0877",
        "B-5521",
        "00107",
        "Café Zürcher Höfli",
        "Herr Zürcher",
        "buchhaltung@hoefli.example",
        "",
        date(2026, 11, 26),
    ),
    (
        "L-2026-0878",
        "B-5523",
        "00009",
        "Metzgerei Brändli",
        "Herr Brändli",
        "h.braendli@metzgerei-braendli.example",
        "",
        date(2026, 11, 27),
    ),
    (
        "L-2026-0879",
        "B-5530",
        "00512",
        "Praxis Dr. Kälin",
        "Frau Dr. Kälin",
        "praxis@dr-kaelin.example",
        "empfang@dr-kaelin.example",
        date(2026, 11, 27),
    ),
    (
        "L-2026-0880",
        "B-5534",
        "00160",
        "Velo Kühne",
        "Herr Kühne",
        "mail@velo-kuehne.example",
        "",
        date(2026, 11, 30),
    ),
    (
        "L-2026-0881",
        "B-5540",
        "00603",
        "Kita Sonnenschein",
        "Frau Lüthi",
        "leitung@kita-sonnenschein.example",
        "",
        date(2026, 12, 1),
    ),
]

SHEETS = {
    "Rechnungen": (
        [
            "invoice_no",
            "customer_no",
            "company",
            "contact",
            "email",
            "cc",
            "amount",
            "due",
            *ADDRESS_COLUMNS,
        ],
        [(*invoice, *ADDRESSES[invoice[1]]) for invoice in INVOICES],
    ),
    "Offerten": (
        ["offer_no", "customer_no", "company", "contact", "email", "cc", "amount", "valid_until"],
        OFFERS,
    ),
    "Lieferscheine": (
        [
            "delivery_no",
            "order_no",
            "customer_no",
            "company",
            "contact",
            "email",
            "cc",
            "delivery_date",
        ],
        DELIVERY_NOTES,
    ),
}


def chf(amount: float) -> str:
    whole, cents = f"{amount:,.2f}".split(".")
    return f"CHF {whole.replace(',', chr(39))}.{cents}"


def write_pdf(
    path: Path, title: str, number: str, company: str, contact: str, lines: list[str]
) -> None:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime(2026, 11, 24, tzinfo=UTC))  # reproducible bytes
    pdf.set_title(f"{title} {number}")
    pdf.set_author("Bergmann Werkstatt GmbH")
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 6, SENDER, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, f"{company}\n{contact}")
    pdf.ln(14)
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, f"{title} {number}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(20)
    pdf.set_font("Helvetica", size=9)
    pdf.cell(
        0,
        6,
        "IBAN CH93 0076 2011 6238 5295 7 · MWST CHE-123.456.789",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.output(str(path))


def main() -> None:
    documents = HERE / "documents"
    documents.mkdir(exist_ok=True)
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for sheet_name, (columns, rows) in SHEETS.items():
        sheet = workbook.create_sheet(sheet_name)
        sheet.append(columns)
        for row in rows:
            sheet.append(list(row))
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                header = columns[cell.column - 1]
                if header in ("customer_no", "pcode", "house_num"):
                    cell.number_format = "@"  # text: the leading zeros are part of the number
                elif header == "amount":
                    cell.number_format = "#,##0.00"
                elif isinstance(cell.value, date):
                    cell.number_format = "DD.MM.YYYY"
        widths = (14, 12, 28, 18, 44, 34, 12, 12, 22, 10, 8, 14, 8)
        for column, width in zip("ABCDEFGHIJKLM", widths[: len(columns)], strict=False):
            sheet.column_dimensions[column].width = width
    workbook.save(HERE / "orders.xlsx")

    with (HERE / "orders.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(SHEETS["Rechnungen"][0])
        for invoice in INVOICES:
            *head, amount, due = invoice
            writer.writerow([*head, f"{amount:.2f}", due.isoformat(), *ADDRESSES[invoice[1]]])

    for number, customer, company, contact, _e, _c, amount, due in INVOICES:
        write_pdf(
            documents / f"{number}.pdf",
            "Rechnung",
            number,
            company,
            contact,
            [
                f"Kundennummer: {customer}",
                f"Betrag: {chf(amount)}",
                f"Zahlbar bis: {due:%d.%m.%Y}",
            ],
        )
    for number, customer, company, contact, _e, _c, amount, valid in OFFERS:
        write_pdf(
            documents / f"{number}.pdf",
            "Offerte",
            number,
            company,
            contact,
            [
                f"Kundennummer: {customer}",
                f"Total: {chf(amount)}",
                f"Gültig bis: {valid:%d.%m.%Y}",
            ],
        )
    for number, order, customer, company, contact, _e, _c, day in DELIVERY_NOTES:
        write_pdf(
            documents / f"{number}.pdf",
            "Lieferschein",
            number,
            company,
            contact,
            [
                f"Bestellung: {order}",
                f"Kundennummer: {customer}",
                f"Lieferdatum: {day:%d.%m.%Y}",
            ],
        )
    write_accounting_export()


# Beleg, Kundennr, Kunde, Kontakt, E-Mail, Betrag (as the program writes it), Fällig, Status
ACCOUNTING = [
    ("R-2026-2101", "001041", "Bäckerei Müller AG", "Frau Müller",
     "Müller, Hans <h.mueller@baeckerei-mueller.example>; Müller, Eva <e.mueller@baeckerei-mueller.example>",
     "1'234.50", "31.12.2026", "offen"),
    ("R-2026-2102", "1042", "Café Zürcher Höfli", "Herr Zürcher",
     "buchhaltung@hoefli.example\ntreuhand@zahlen-partner.example",
     "486.33", "31.12.2026", "offen"),
    ("R-2026-2103", "001043", "Gärtnerei Blümli GmbH", "Frau Jäggi", "s.jaeggi@bluemli.example",
     "2'980.-", "15.01.2027", "bezahlt"),
    ("R-2026-2104", "001044", "Schreinerei Fröhlich", "Herr Fröhlich",
     "info@fröhlich-holz.example", "72.125", "20.12.2026", "offen"),
]  # fmt: skip


def write_accounting_export() -> None:
    """accounting/debitoren.csv as the program exports it, its template and its PDFs."""
    folder = HERE / "accounting"
    (folder / "documents").mkdir(parents=True, exist_ok=True)
    with (folder / "debitoren.csv").open("w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Offene Posten per 28.11.2026"])
        writer.writerow(["Mandant: Bergmann Werkstatt GmbH"])
        writer.writerow([])
        writer.writerow(
            ["Beleg", "Kundennr", "Kunde", "Kontakt", "E-Mail", "Betrag", "Fällig", "Status"]
        )
        for row in ACCOUNTING:
            writer.writerow(row)
        writer.writerow([])
        writer.writerow(["", "", "Total", "", "", "4'773.00", "", ""])
    for number, customer, company, contact, _e, amount, due, _s in ACCOUNTING:
        write_pdf(
            folder / "documents" / f"{number}.pdf",
            "Rechnung",
            number,
            company,
            contact,
            [f"Kundennummer: {customer}", f"Betrag: CHF {amount}", f"Zahlbar bis: {due}"],
        )


if __name__ == "__main__":
    main()
