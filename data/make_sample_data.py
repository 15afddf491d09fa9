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
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

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
        "Velo Kühne GmbH",
        "Herr Kühne",
        "rechnung@velo-kuehne.example",
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
    "00160": ("Hussenstrasse", "7", "78462", "Konstanz", "DE"),
}
ADDRESS_COLUMNS = ["street", "house_num", "pcode", "city", "country"]

# what an invoice needs beyond the QR-bill: its date, currency, e-invoice and the buyer's
# tax data: invoice_no: (invoice_date, currency, einvoice, buyer_vat_id, buyer_reference)
INVOICE_COLUMNS = ["invoice_date", "currency", "einvoice", "buyer_vat_id", "buyer_reference"]
INVOICE_DETAILS = {
    "R-2026-1041": (date(2026, 12, 1), "CHF", "factur-x", "", ""),
    "R-2026-1042": (date(2026, 12, 1), "CHF", "factur-x", "", ""),
    "R-2026-1043": (date(2026, 12, 2), "CHF", "factur-x", "CHE-109.322.551 MWST", ""),
    "R-2026-1044": (date(2026, 12, 2), "CHF", "factur-x", "", ""),
    "R-2026-1045": (date(2026, 12, 3), "CHF", "factur-x", "", ""),
    "R-2026-1046": (date(2026, 12, 3), "CHF", "factur-x", "CHE-116.281.710 MWST", "Bau 2026/14"),
    "R-2026-1047": (date(2026, 12, 4), "CHF", "factur-x", "", ""),
    "R-2026-1048": (date(2026, 12, 4), "CHF", "factur-x", "", ""),
    "R-2026-1049": (date(2026, 12, 4), "CHF", "factur-x", "", ""),
    "R-2026-1050": (date(2026, 12, 4), "EUR", "xrechnung", "DE811907980", "PO-2026-4711"),
}

# the lines of each invoice: (description, quantity, unit, unit_price, vat_rate, vat_category,
# vat_exemption, discount); the last line's price (None) is found so that the lines add up to
# the invoice's amount, as the accounting program computed it
LINES = {
    "R-2026-1041": [
        ("Reparatur Ladentheke", 6.5, "h", 96.50, 8.1, "", "", None),
        ("Eichenleiste geölt", 4.2, "m", 18.40, 8.1, "", "", None),
        ("Fachbuch «Holz pflegen»", 1, "Stk", 29.00, 2.6, "", "", None),
        ("Material und Beschläge", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1042": [
        ("Stuhlbeine leimen", 3, "h", 96.50, 8.1, "", "", None),
        ("Kleinmaterial", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1043": [
        ("Hochbeet Lärche 200 × 80 cm", 4, "Stk", 520.00, 8.1, "", "", None),
        ("Montage", 5.5, "h", 96.50, 8.1, "", "", None),
        ("Buch «Holz im Garten»", 1, "Stk", 39.00, 2.6, "", "", None),
        ("Transport", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1044": [
        ("Zuschnitt Multiplex", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1045": [
        ("Regal anpassen", 2.25, "h", 96.50, 8.1, "", "", None),
        ("Kleinmaterial", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1046": [
        ("Zimmertür Eiche, furniert", 12, "Stk", 980.00, 8.1, "", "", 5),
        ("Montage", 18.5, "h", 96.50, 8.1, "", "", None),
        ("Beschläge und Dichtungen", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1047": [
        ("Schneidebrett Ahorn", 8, "Stk", 45.50, 8.1, "", "", None),
        ("Arbeit Werkstatt", 4.25, "h", 96.50, 8.1, "", "", None),
        ("Kleinmaterial", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1048": [
        ("Empfangstheke ändern", 5, "h", 96.50, 8.1, "", "", None),
        ("Material", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1049": [
        ("Weinregal Eiche", 12.5, "lfm", 265.00, 8.1, "", "", None),
        ("Montage", 4, "h", 96.50, 8.1, "", "", None),
        ("Buch «Der Weinkeller»", 2, "Stk", 34.90, 2.6, "", "", None),
        ("Transport", 1, "pauschal", None, 8.1, "", "", None),
    ],
    "R-2026-1050": [
        ("Wandhalter Velo, Eiche", 3, "Stk", 39.90, 0, "G", "Ausfuhr (Art. 23 MWSTG)", None),
        ("Verpackung", 1, "pauschal", None, 0, "G", "Ausfuhr (Art. 23 MWSTG)", None),
    ],
}
LINE_COLUMNS = [
    "invoice_no",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "vat_rate",
    "vat_category",
    "vat_exemption",
    "discount",
]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _gross(lines: list[tuple[Any, ...]]) -> Decimal:
    """Net per line rounded half up, VAT once per rate on the rate's sum, rounded half up."""
    bases: dict[Decimal, Decimal] = {}
    for _d, quantity, _u, price, rate, _c, _e, discount in lines:
        gross = _cents(Decimal(str(quantity)) * Decimal(str(price)))
        net = gross - _cents(gross * Decimal(str(discount or 0)) / 100)
        bases[Decimal(str(rate))] = bases.get(Decimal(str(rate)), Decimal(0)) + net
    return sum(base + _cents(base * rate / 100) for rate, base in bases.items())


def priced_lines(number: str, amount: float) -> list[tuple[Any, ...]]:
    """The invoice's lines, the last one priced so that they add up to ``amount``."""
    lines = LINES[number]
    *fixed, last = lines
    target = Decimal(str(amount))
    rest = target - (_gross(fixed) if fixed else Decimal(0))
    guess = _cents(rest / (1 + Decimal(str(last[4])) / 100))
    for step in range(400):
        for price in (guess + Decimal(step) / 100, guess - Decimal(step) / 100):
            candidate = [*fixed, (*last[:3], float(price), *last[4:])]
            if price > 0 and _gross(candidate) == target:
                return candidate
    raise ValueError(f"no price makes the lines of {number} add up to {amount}")


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
            *INVOICE_COLUMNS,
        ],
        [(*invoice, *ADDRESSES[invoice[1]], *INVOICE_DETAILS[invoice[0]]) for invoice in INVOICES],
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
    "Positionen": (
        LINE_COLUMNS,
        [
            (invoice[0], *line)
            for invoice in INVOICES
            for line in priced_lines(invoice[0], invoice[6])
        ],
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
        "IBAN CH93 0076 2011 6238 5295 7 · MWST CHE-123.456.788",
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
                elif header in ("amount", "unit_price"):
                    cell.number_format = "#,##0.00"
                elif isinstance(cell.value, date):
                    cell.number_format = "DD.MM.YYYY"
        widths = {
            "Positionen": (14, 30, 10, 10, 12, 10, 12, 24, 10),
        }.get(sheet_name, (14, 12, 28, 18, 44, 34, 12, 12, 22, 10, 8, 14, 8, 14, 10, 12, 24, 16))
        for column, width in zip("ABCDEFGHIJKLMNOPQR", widths[: len(columns)], strict=False):
            sheet.column_dimensions[column].width = width
    workbook.save(HERE / "orders.xlsx")

    with (HERE / "orders.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(SHEETS["Rechnungen"][0][: 8 + len(ADDRESS_COLUMNS)])
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
