"""Reading orders: both xlsx engines, csv, types, row numbers and bad column names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from docmail_nb._sheets.orders import read_orders, sheet_names
from docmail_nb.errors import OrdersError


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Rechnungen"
    sheet.append([" invoice_no ", "customer_no", "amount", "due", "note", "padded", "paid"])
    sheet.append(["R-1", "00042", 1234.5, dt.date(2026, 12, 31), None, 123, True])
    sheet.append([None] * 7)
    sheet.append(["R-2", "  00107 ", 0.1 + 0.2, dt.datetime(2026, 1, 2, 10, 30), "  ", 7, False])
    sheet.append(["R-3", 42, 100, "2026-01-01", "Danke", None, None])
    for row in (2, 4):
        sheet.cell(row=row, column=6).number_format = "00000"
    book.create_sheet("Offerten").append(["offer_no"])
    book.save(tmp_path / "orders.xlsx")
    return tmp_path / "orders.xlsx"


EXPECTED = [
    (
        2,
        {
            "invoice_no": "R-1",
            "customer_no": "00042",
            "amount": Decimal("1234.5"),
            "due": dt.date(2026, 12, 31),
            "note": None,
            "padded": 123,
            "paid": True,
        },
    ),
    (
        4,
        {
            "invoice_no": "R-2",
            "customer_no": "00107",
            "amount": Decimal("0.3"),
            "due": dt.datetime(2026, 1, 2, 10, 30),
            "note": None,
            "padded": 7,
            "paid": False,
        },
    ),
    (
        5,
        {
            "invoice_no": "R-3",
            "customer_no": 42,
            "amount": 100,
            "due": "2026-01-01",
            "note": "Danke",
            "padded": None,
            "paid": None,
        },
    ),
]


@pytest.mark.parametrize("engine", [None, "calamine", "openpyxl"])
def test_both_engines_read_the_same_safe_values(workbook: Path, engine: str | None) -> None:
    orders = read_orders(workbook, engine=engine)
    assert orders.sheet == "Rechnungen"
    assert orders.columns == list(EXPECTED[0][1])
    records = list(orders.records())
    assert records == EXPECTED
    assert [type(v) for _, r in records for v in r.values()] == [
        type(v) for _, r in EXPECTED for v in r.values()
    ]
    assert "nan" not in repr(orders.frame.to_dict())


def test_sheet_by_name_index_and_unknown(workbook: Path) -> None:
    assert sheet_names(workbook) == ["Rechnungen", "Offerten"]
    assert read_orders(workbook, "offerten").sheet == "Offerten"
    assert read_orders(workbook, 1).sheet == "Offerten"
    with pytest.raises(OrdersError, match="no sheet 'Lieferscheine'") as info:
        read_orders(workbook, "Lieferscheine")
    assert "Rechnungen, Offerten" in info.value.hint


def test_duplicate_column_names_are_named(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", "amount", " email "])
    sheet.append(["a@x.example", "1", "2"])
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(OrdersError, match="duplicate column name 'email'"):
        read_orders(tmp_path / "bad.xlsx")


def test_unnamed_column_with_values_is_left_out_with_a_notice(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", None, "amount"])
    sheet.append(["a@x.example", "helper", "2"])
    sheet.column_dimensions["B"].hidden = True
    book.save(tmp_path / "helper.xlsx")
    orders = read_orders(tmp_path / "helper.xlsx")
    assert orders.columns == ["email", "amount"]
    assert list(orders.records()) == [(2, {"email": "a@x.example", "amount": "2"})]
    assert len(orders.notices) == 1
    assert "column B is a hidden column with values but no name" in orders.notices[0]
    assert "left out" in orders.notices[0]


def test_empty_unnamed_column_is_ignored(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", None, "amount"])
    sheet.append(["a@x.example", None, 5])
    book.save(tmp_path / "ok.xlsx")
    assert read_orders(tmp_path / "ok.xlsx").columns == ["email", "amount"]


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("invoice_no;customer_no;amount\nR-1;00042;1234.50\n\nR-2;;7\n", "utf-8"),
        ("invoice_no,customer_no,amount\nR-1,00042,1234.50\n\nR-2,,7\n", "utf-8-sig"),
        ("invoice_no\tcustomer_no\tamount\nR-1\t00042\t1234.50\n\nR-2\t\t7\n", "utf-8"),
    ],
)
def test_csv_sniffed_text_kept_line_numbers(tmp_path: Path, content: str, encoding: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(content, encoding=encoding)
    orders = read_orders(path)
    assert orders.columns == ["invoice_no", "customer_no", "amount"]
    assert list(orders.records()) == [
        (2, {"invoice_no": "R-1", "customer_no": "00042", "amount": "1234.50"}),
        (4, {"invoice_no": "R-2", "customer_no": None, "amount": "7"}),
    ]


def test_csv_in_windows_1252_is_read_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes("firma;betrag\nMüller;1’234.50\n".encode("cp1252"))
    orders = read_orders(path)
    assert list(orders.records()) == [(2, {"firma": "Müller", "betrag": "1’234.50"})]
    assert orders.delimiter == ";"
    assert any("read as Windows-1252" in notice for notice in orders.notices)


@pytest.mark.parametrize("name", ["missing.xlsx", "orders.docx"])
def test_unusable_files(tmp_path: Path, name: str) -> None:
    (tmp_path / "orders.docx").write_text("x")
    with pytest.raises(OrdersError) as info:
        read_orders(tmp_path / name)
    assert info.value.hint


def test_sample_data_keeps_leading_zeros() -> None:
    from docmail_nb._sample import sample_dir

    orders = read_orders(sample_dir() / "orders.xlsx", "Rechnungen")
    first = next(orders.records())[1]
    assert first["customer_no"] == "00042"
    assert isinstance(first["amount"], Decimal)


def test_ods_reads_like_xlsx(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "invoice_no": ["R-1", "R-2"],
            "customer_no": ["00042", "00107"],
            "amount": [1234.5, 72.1],
            "due": [dt.date(2026, 12, 31), dt.date(2027, 1, 15)],
            "note": [None, "Danke"],
        },
        dtype=object,
    )
    path = tmp_path / "orders.ods"
    frame.to_excel(path, sheet_name="Rechnungen", index=False, engine="odf")
    orders = read_orders(path)
    assert orders.sheet == "Rechnungen"
    assert list(orders.records()) == [
        (2, {"invoice_no": "R-1", "customer_no": "00042", "amount": Decimal("1234.5"),
             "due": dt.date(2026, 12, 31), "note": None}),
        (3, {"invoice_no": "R-2", "customer_no": "00107", "amount": Decimal("72.1"),
             "due": dt.date(2027, 1, 15), "note": "Danke"}),
    ]  # fmt: skip
    with pytest.raises(OrdersError, match=r"openpyxl engine cannot read orders\.ods"):
        read_orders(path, engine="openpyxl")
