"""Reading orders from a spreadsheet into rows with safe types.

Every cell becomes one of: ``str`` (text stays text, ``00042`` keeps its zeros), ``int`` (a whole
number), ``Decimal`` (any other number, from the shortest decimal that round-trips the stored
float, so ``1234.5`` never turns into ``1234.5000001``), ``date`` (a date, or a date-time at
midnight), ``datetime``, ``time``, ``bool`` or ``None`` (an empty or blank cell; never ``"nan"``).
Text is trimmed of surrounding white space.

A number that Excel merely *shows* with leading zeros (number format ``00000``) is stored as a
number: it is read as the ``int`` 123, the same with every engine. Store identifiers as text, or
pad them in the template (``{{ "%05d" | format(customer_no) }}``).

Rows are numbered as the user sees them: the header is row 1, the first order row 2 (for csv,
the line number). Fully empty rows are skipped but keep their number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import OrdersError
from .exports import uncsv_cell
from .sheet_limits import MAX_PART_BYTES, check_rows, check_workbook

__all__ = ["ENGINES", "Orders", "read_orders", "sheet_names"]

ENGINES = ("calamine", "openpyxl")
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
CSV_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class Orders:
    """The rows of one sheet; values are str, Decimal, int, date, datetime, time, bool or None."""

    frame: pd.DataFrame
    row_numbers: list[int]
    source: Path
    sheet: str | None

    @property
    def columns(self) -> list[str]:
        """The column names, trimmed, in sheet order."""
        return [str(name) for name in self.frame.columns]

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield (sheet row number, {column: value}) for every order."""
        columns = self.columns
        for number, values in zip(
            self.row_numbers, self.frame.itertuples(index=False, name=None), strict=True
        ):
            yield number, dict(zip(columns, values, strict=True))

    def __len__(self) -> int:
        return len(self.row_numbers)


def sheet_names(path: str | Path) -> list[str]:
    """The sheet names of a workbook (``[]`` for csv)."""
    source = _existing(path)
    if _is_csv(source):
        return []
    from python_calamine import CalamineWorkbook

    try:
        return list(CalamineWorkbook.from_path(str(source)).sheet_names)
    except Exception as exc:
        raise _unreadable(source, exc) from exc


def read_orders(
    path: str | Path, sheet: str | int | None = None, engine: str | None = None
) -> Orders:
    """Read the orders of one sheet (default: the first) of an xlsx/xls/ods or csv file.

    ``engine`` is ``"calamine"`` (default, fast) or ``"openpyxl"`` (xlsx only); csv files are
    read with the delimiter sniffed and UTF-8 with or without BOM.
    """
    source = _existing(path)
    if engine is not None and engine not in ENGINES:
        raise OrdersError(
            f"Unknown spreadsheet engine {engine!r}.", f"Use one of: {', '.join(ENGINES)}."
        )
    if _is_csv(source):
        if sheet not in (None, 0):
            raise OrdersError(
                f"{source.name} is a csv file and has no sheet {sheet!r}.",
                "Leave out the sheet for csv files.",
            )
        grid = _csv_grid(source)
        sheet_name: str | None = None
    elif source.suffix.lower() in EXCEL_SUFFIXES:
        check_workbook(source)
        sheet_name, grid = _excel_grid(source, sheet, engine or "calamine")
    else:
        raise OrdersError(
            f"{source.name} is not a spreadsheet docmail can read.",
            "Save it as .xlsx, .xls, .ods or .csv.",
        )
    check_rows(source, len(grid))
    return _to_orders(grid, source, sheet_name)


def _existing(path: str | Path) -> Path:
    source = Path(path).expanduser()
    if not source.is_file():
        raise OrdersError(
            f"The orders file {source} does not exist or is not a file.",
            "Check the path; it is relative to the current folder.",
        )
    return source


def _is_csv(source: Path) -> bool:
    return source.suffix.lower() in CSV_SUFFIXES


def _unreadable(source: Path, exc: BaseException) -> OrdersError:
    return OrdersError(
        f"Cannot read {source.name}: {exc}",
        "Open it in your spreadsheet program and save it again as .xlsx or .csv.",
    )


def _csv_grid(source: Path) -> list[tuple[int, list[Any]]]:
    size = source.stat().st_size
    if size > MAX_PART_BYTES:
        raise OrdersError(
            f"{source.name} is {size / 1024**2:,.0f} MB, more than an order list needs "
            f"(docmail reads csv files up to {MAX_PART_BYTES // 1024**2} MB).",
            "Split the orders into several files.",
        )
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OrdersError(
            f"{source.name} is not UTF-8 text (byte {exc.start}).",
            "Export the csv again with the encoding UTF-8.",
        ) from exc
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:65536], delimiters=CSV_DELIMITERS
        )
    except csv.Error:
        dialect = csv.excel
    # records end only at CR, LF or CRLF; str.splitlines would also split at U+2028, NEL, VT
    # and FF inside a cell and shift every column after it
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    grid: list[tuple[int, list[Any]]] = []
    try:
        line = 1
        for record in reader:
            grid.append((line, [uncsv_cell(value) for value in record]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _unreadable(source, exc) from exc
    return grid


def _excel_grid(
    source: Path, sheet: str | int | None, engine: str
) -> tuple[str, list[tuple[int, list[Any]]]]:
    try:
        if engine == "openpyxl":
            name, rows = _openpyxl_rows(source, sheet)
        else:
            name, rows = _calamine_rows(source, sheet)
    except OrdersError:
        raise
    except Exception as exc:
        raise _unreadable(source, exc) from exc
    return name, [(number, list(values)) for number, values in enumerate(rows, start=1)]


def _pick_sheet(source: Path, names: Sequence[str], sheet: str | int | None) -> str:
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return names[sheet]
    else:
        wanted = sheet.strip()
        for name in names:
            if name == wanted or name.casefold() == wanted.casefold():
                return name
    raise OrdersError(
        f"{source.name} has no sheet {sheet!r}.",
        f"Its sheets are: {', '.join(names) or '(none)'}.",
    )


def _calamine_rows(source: Path, sheet: str | int | None) -> tuple[str, list[list[Any]]]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(source))
    name = _pick_sheet(source, book.sheet_names, sheet)
    rows: list[list[Any]] = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return name, rows


def _openpyxl_rows(source: Path, sheet: str | int | None) -> tuple[str, list[list[Any]]]:
    if source.suffix.lower() not in {".xlsx", ".xlsm"}:
        raise OrdersError(
            f"The openpyxl engine cannot read {source.name}.",
            "Use the default engine (calamine) for .xls, .xlsb and .ods files.",
        )
    import openpyxl

    book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    try:
        name = _pick_sheet(source, book.sheetnames, sheet)
        rows = [list(values) for values in book[name].iter_rows(values_only=True)]
    finally:
        book.close()
    return name, rows


def _to_orders(grid: list[tuple[int, list[Any]]], source: Path, sheet: str | None) -> Orders:
    header_at = next((i for i, (_, row) in enumerate(grid) if any(map(_filled, row))), None)
    if header_at is None:
        where = f"sheet {sheet!r} of {source.name}" if sheet else source.name
        raise OrdersError(f"{where} is empty.", "Put the column names in the first row.")
    _, header = grid[header_at]
    body = grid[header_at + 1 :]
    width = max([len(header), *(len(row) for _, row in body)])
    names = [_column_name(header[i]) if i < len(header) else "" for i in range(width)]
    keep = _columns_to_keep(names, body, source)

    columns = [names[i] for i in keep]
    numbers: list[int] = []
    records: list[list[Any]] = []
    for number, row in body:
        values = [clean_value(row[i]) if i < len(row) else None for i in keep]
        if all(value is None for value in values):
            continue
        numbers.append(number)
        records.append(values)
    frame = pd.DataFrame(records, columns=columns, dtype=object)
    return Orders(frame=frame, row_numbers=numbers, source=source, sheet=sheet)


def _column_name(value: Any) -> str:
    cleaned = clean_value(value)
    if cleaned is None:
        return ""
    if isinstance(cleaned, dt.date):
        return cleaned.isoformat()
    return " ".join(str(cleaned).split())


def _columns_to_keep(
    names: list[str], body: Iterable[tuple[int, list[Any]]], source: Path
) -> list[int]:
    rows = list(body)
    keep: list[int] = []
    unnamed: list[str] = []
    for i, name in enumerate(names):
        if name:
            keep.append(i)
        elif any(i < len(row) and _filled(row[i]) for _, row in rows):
            unnamed.append(_column_letter(i))
    if unnamed:
        raise OrdersError(
            f"{source.name}: column {', '.join(unnamed)} has values but no name in the header row.",
            "Give every column with values a name in the first row.",
        )
    seen: dict[str, int] = {}
    for i in keep:
        seen[names[i]] = seen.get(names[i], 0) + 1
    duplicates = sorted(name for name, count in seen.items() if count > 1)
    if duplicates:
        raise OrdersError(
            f"{source.name}: duplicate column name {', '.join(map(repr, duplicates))}.",
            "Rename the columns so that every name appears once.",
        )
    return keep


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _filled(value: Any) -> bool:
    return clean_value(value) is not None


def clean_value(value: Any) -> Any:
    """One cell as a safe Python value (see the module docstring)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date()
        return value
    return value
