"""The analyst's own spreadsheets: a messy accounting export, as a spreadsheet program saves it.

The workbook comes from tests/data/make_messy_orders.py; LibreOffice (headless, its own
profile) opens it, computes the formulas and saves it as xlsx and as Swiss Excel's csv
(semicolons, Windows-1252).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from spreadsheet_program import SpreadsheetProgram

from docmail_nb import Batch
from docmail_nb._compose.headers import join_lines, parse_addresses
from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._sheets.orders import ERROR_VALUES, CellError, read_orders
from docmail_nb.cli import main

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_messy_orders", DATA / "make_messy_orders.py")
assert _spec is not None
assert _spec.loader is not None
messy_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(messy_data)


@dataclass(frozen=True)
class Messy:
    script_xlsx: Path  # as openpyxl wrote it: formulas without values
    xlsx: Path  # saved by the spreadsheet program
    csv: Path  # saved by the spreadsheet program as Swiss Excel does
    ods: Path  # saved by the spreadsheet program as OpenDocument
    documents: Path
    template: Path


@pytest.fixture(scope="session")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Messy:
    folder = tmp_path_factory.mktemp("messy")
    messy_data.main(folder)
    program = SpreadsheetProgram(folder)
    saved = folder / "saved"
    return Messy(
        script_xlsx=folder / "messy.xlsx",
        xlsx=program.convert(folder / "messy.xlsx", saved, "xlsx"),
        csv=program.swiss_csv(folder / "messy.xlsx", saved, sheet=2),
        ods=program.convert(folder / "messy.xlsx", saved, "ods"),
        documents=folder / "documents",
        template=folder / "invoice.txt",
    )


def plan_of(messy: Messy, source: Path) -> Plan:
    sheet = None if source.suffix == ".csv" else "2026"
    return Batch.from_files(
        source, messy.template, documents=messy.documents, sheet=sheet, header_row=4
    ).plan


def problems_by_row(plan: Plan) -> dict[int | None, list[str]]:
    found: dict[int | None, list[str]] = {}
    for problem in plan.problems:
        found.setdefault(problem.row, []).append(f"{problem.field}: {problem.message}")
    return found


def test_spreadsheet_program_file_has_cached_values_and_error_cells(messy: Messy) -> None:
    orders = read_orders(messy.xlsx, sheet="2026", header_row=4)
    records = dict(orders.records())
    assert records[7]["Email"] == CellError("E7", "#N/A")
    assert records[10]["Betrag"] == CellError("H10", "#DIV/0!")
    assert records[12]["Betrag"] == Decimal("260.875")  # the totals row, computed
    assert orders.cell("Email", 7) == "E7"


def test_excel_errors_are_named_never_empty(messy: Messy) -> None:
    problems = problems_by_row(plan_of(messy, messy.xlsx))
    assert any("cell E7 holds the Excel error #N/A" in text for text in problems[7])
    assert not any("empty" in text for text in problems[7])
    assert any("cell H10 holds the Excel error #DIV/0!" in text for text in problems[10])


def test_opendocument_file_names_its_errors_and_hidden_column_too(messy: Messy) -> None:
    orders = read_orders(messy.ods, sheet="2026", header_row=4)
    records = dict(orders.records())
    assert records[7]["Email"] == CellError("E7", "#N/A")
    assert records[10]["Betrag"] == CellError("H10", "#DIV/0!")
    assert any("column F is a hidden column with values but no name" in n for n in orders.notices)
    assert problems_by_row(plan_of(messy, messy.ods)) == problems_by_row(plan_of(messy, messy.xlsx))


def test_formula_never_computed_is_named(messy: Messy) -> None:
    orders = read_orders(messy.script_xlsx, sheet="2026", header_row=4)
    email = dict(orders.records())[7]["Email"]
    assert isinstance(email, CellError)
    assert email.formula == "VLOOKUP(B7,Kunden!A:B,2,FALSE())"
    problems = problems_by_row(plan_of(messy, messy.script_xlsx))
    assert any(
        "cell E7 holds a formula (=VLOOKUP(B7,Kunden!A:B,2,FALSE())) that has no computed value"
        in text
        for text in problems[7]
    )


@pytest.mark.parametrize("code", sorted(ERROR_VALUES & {"#N/A", "#DIV/0!", "#VALUE!", "#REF!",
                                                       "#NAME?", "#NUM!", "#NULL!"}))  # fmt: skip
def test_every_excel_error_value(tmp_path: Path, code: str) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", "amount"])
    sheet.append(["a@x.example", 1])
    sheet["B2"].value = code
    sheet["B2"].data_type = "e"
    book.save(tmp_path / "errors.xlsx")
    for engine in ("calamine", "openpyxl"):
        value = dict(read_orders(tmp_path / "errors.xlsx", engine=engine).records())[2]["amount"]
        assert value == CellError("B2", code), engine
    template = parse_template("To: {{ email }}\nSubject: {{ amount | money }}\nKey: k\n\nx\n")
    plan = make_plan(read_orders(tmp_path / "errors.xlsx"), template, documents=tmp_path)
    assert [p.message for p in plan.problems] == [
        f"Cannot render the Subject: cell B2 holds the Excel error {code}."
    ]


def test_swiss_excel_csv_reads_like_the_xlsx(messy: Messy) -> None:
    raw = messy.csv.read_bytes()
    assert b";" in raw  # as Swiss Excel writes it
    assert "ä".encode("cp1252") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    orders = read_orders(messy.csv, header_row=4)
    assert orders.delimiter == ";"
    assert any("read as Windows-1252" in notice for notice in orders.notices)
    from_xlsx, from_csv = plan_of(messy, messy.xlsx), plan_of(messy, messy.csv)
    assert [d.key for d in from_csv.drafts] == [d.key for d in from_xlsx.drafts]
    for left, right in zip(from_xlsx.drafts, from_csv.drafts, strict=True):
        assert (left.rows, left.to, left.cc, left.bcc, left.subject, left.text) == (
            right.rows, right.to, right.cc, right.bcc, right.subject, right.text
        )  # fmt: skip
        assert [a.filename for a in left.attachments] == [a.filename for a in right.attachments]
    assert problems_by_row(from_csv) == problems_by_row(from_xlsx)


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [("a;b;c\n1;2,5;3\n", ";"), ("a,b,c\n1,2;5,3\n", ","), ("a\tb\tc\n1\t2\t3\n", "\t")],
)
def test_csv_separator_sniffed(tmp_path: Path, text: str, delimiter: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8-sig")
    orders = read_orders(path)
    assert orders.delimiter == delimiter
    assert orders.columns == ["a", "b", "c"]
    assert orders.notices == ()


def test_header_row_below_a_title(messy: Messy) -> None:
    guessed = read_orders(messy.xlsx, sheet="2026")
    assert any("--header-row 4" in notice for notice in guessed.notices)
    orders = read_orders(messy.xlsx, sheet="2026", header_row=4)
    assert orders.columns == [
        "Rechnungsnr", "Kundennr", "Firma", "Kontakt", "Email", "Cc", "Betrag", "Fällig",
        "Status", "Dokument",
    ]  # fmt: skip
    assert orders.row_numbers == [5, 6, 7, 8, 9, 10, 12]
    assert orders.header_row == 4
    assert any("column F is a hidden column with values but no name" in n for n in orders.notices)


def test_sheet_named_with_digits_is_taken_by_name(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Übersicht"
    first.append(["x"])
    book.create_sheet("2").append(["two"])
    book.create_sheet("1").append(["one"])
    book.save(tmp_path / "years.xlsx")
    assert read_orders(tmp_path / "years.xlsx", "1").sheet == "1"
    assert read_orders(tmp_path / "years.xlsx", "2").sheet == "2"
    assert read_orders(tmp_path / "years.xlsx", 1).sheet == "2"  # an int is an index
    assert read_orders(tmp_path / "years.xlsx", "0").sheet == "Übersicht"  # no sheet "0"


def test_check_on_the_accounting_export(messy: Messy) -> None:
    args = ["check", str(messy.xlsx), str(messy.template), "--sheet", "2026", "--header-row", "4"]
    result = CliRunner().invoke(main, [*args, "--documents", str(messy.documents)])
    out = result.stdout
    assert result.exit_code == 1, out
    assert "Notice: sheet '2026' of messy.xlsx: column F is a hidden column" in out
    assert "Notice: Column Kundennr: row 6 holds a number (1042)" in out
    assert "Format the column as Text" in out
    assert "cell E7 holds the Excel error #N/A" in out


def test_decomposed_document_name_in_a_subfolder_is_found(messy: Messy) -> None:
    name = "2026/Jäggi.pdf"
    assert unicodedata.is_normalized("NFC", name)
    assert not (messy.documents / name).exists()  # on disk it is decomposed
    orders = read_orders(
        pd.DataFrame({"email": ["j@bluemli.example"], "doc": [name]}), header_row=1
    )
    template = parse_template("To: {{ email }}\nSubject: x\nAttachment: {{ doc }}\nKey: k\n\nx\n")
    plan = make_plan(orders, template, documents=messy.documents)
    assert plan.problems == []
    (attachment,) = plan.drafts[0].attachments
    assert attachment.filename == "Jäggi.pdf"
    assert attachment.path.name == messy_data.DECOMPOSED


def test_outlook_address_lists_and_lines_of_one_cell(messy: Messy) -> None:
    plan = plan_of(messy, messy.xlsx)
    drafts = {draft.rows[0]: draft for draft in plan.drafts}
    assert drafts[5].to == (
        '"Müller, Hans" <hans@mueller.example>',
        '"Meier, Eva" <eva@mueller.example>',
    )
    assert drafts[6].to == ("zuercher@hoefli.example", "buchhaltung@hoefli.example")
    message = drafts[5].build("c", "rechnung@schreinerei.example")
    assert [a.addr_spec for a in message["To"].addresses] == [
        "hans@mueller.example", "eva@mueller.example"
    ]  # fmt: skip
    assert message["To"].addresses[0].display_name == "Müller, Hans"


def test_amounts_as_invoices_round_them(messy: Messy) -> None:
    plan = plan_of(messy, messy.xlsx)
    texts = {draft.rows[0]: draft.text for draft in plan.drafts}
    assert "über CHF 24.53," in texts[5]  # 24.525: half away from zero, as the PDF says
    assert "über CHF 980.00," in texts[6]  # typed as "CHF 980.–"
    assert "über CHF -250.00," in texts[8]  # a credit note


def test_dataframe_input(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "email": ["a@x.example", "b@x.example", None, "d@x.example"],
            "company": ["Alpha", float("nan"), "Gamma", "Delta"],
            "due": [pd.Timestamp("2026-12-31"), pd.NaT, pd.NaT, pd.Timestamp("2026-01-15")],
            "amount": [1.5, 2.0, float("nan"), 4.25],
        }
    )
    subset = frame.iloc[[0, 1, 3]]  # filtered by the analyst: index 0, 1, 3
    orders = read_orders(subset)
    assert orders.row_numbers == [2, 3, 5]  # as in the sheet pandas read it from
    assert list(orders.frame.index) == [2, 3, 5]
    records = dict(orders.records())
    assert records[3] == {"email": "b@x.example", "company": None, "due": None, "amount": 2}
    assert records[2]["due"] == dt.date(2026, 12, 31)
    assert records[5]["amount"] == Decimal("4.25")
    template = parse_template(
        "To: {{ email }}\nSubject: Rechnung {{ company }}\nKey: {{ email }}\n\nx\n"
    )
    plan = make_plan(orders, template, documents=tmp_path)
    assert [d.subject for d in plan.drafts] == ["Rechnung Alpha", "Rechnung", "Rechnung Delta"]
    assert plan.problems == []


def test_address_cells_as_outlook_and_excel_write_them() -> None:
    found, problems = parse_addresses("Müller, Hans <h@x.example>; Meier, Eva <e@x.example>")
    assert (found, problems) == (['"Müller, Hans" <h@x.example>', '"Meier, Eva" <e@x.example>'], [])
    assert parse_addresses(join_lines("a@x.example\nb@x.example\r\n")) == (
        ["a@x.example", "b@x.example"], []
    )  # fmt: skip
    found, problems = parse_addresses(join_lines("a@x.example\nBcc: evil@x.example"))
    assert problems == ["'Bcc: evil@x.example' is not one e-mail address."]
    found, problems = parse_addresses("Hans Müller, h@x.example")  # a name, then an address
    assert problems == ["'Hans Müller' is not one e-mail address."]
