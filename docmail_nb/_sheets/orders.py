"""Reading orders from a spreadsheet (or a DataFrame) into rows with safe types.

Every cell becomes one of: ``str`` (text stays text, ``00042`` keeps its zeros), ``int`` (a whole
number), ``Decimal`` (any other number, from the shortest decimal that round-trips the stored
float, so ``1234.5`` never turns into ``1234.5000001``), ``date`` (a date, or a date-time at
midnight), ``datetime``, ``time``, ``bool``, ``None`` (an empty or blank cell, NaN, NaT; never
``"nan"``) or ``CellError`` (an Excel error such as ``#N/A``, or a formula that was never
computed: named, never read as empty). Text is trimmed of surrounding white space.

A number that Excel merely *shows* with leading zeros (number format ``00000``) is stored as a
number: it is read as the ``int`` 123, the same with every engine. Store identifiers as text, or
pad them in the template (``{{ "%05d" | format(customer_no) }}``); a column of such identifiers
in which some cells became numbers gets a notice.

Rows are numbered as the user sees them: the header is row 1 (or ``header_row``), the first
order the row below it (for csv, the line number). Fully empty rows are skipped but keep their
number. What the reader noticed but did not refuse (a csv read as Windows-1252, a helper column
without a name that was left out) is in ``Orders.notices``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from docmail_nb._sheets.exports import uncsv_cell
from docmail_nb._sheets.limits import MAX_PART_BYTES, check_rows, check_workbook
from docmail_nb._sheets.sheetxml import SheetMarks, column_letter, ods_marks, sheet_marks
from docmail_nb.errors import OrdersError
from docmail_nb.words import setting

__all__ = [
    "CSV_DELIMITERS",
    "CSV_SUFFIXES",
    "ENGINES",
    "ERROR_VALUES",
    "EXCEL_SUFFIXES",
    "CellError",
    "Orders",
    "read_orders",
    "sheet_names",
]

ENGINES = ("calamine", "openpyxl")
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
CSV_DELIMITERS = ",;\t"
# Excel's error values as stored in a file, and as a German, French or Italian Excel writes
# them into a csv export.
ERROR_VALUES = frozenset(
    {
        "#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!",
        "#CALC!", "#GETTING_DATA", "#NV", "#WERT!", "#BEZUG!", "#ZAHL!", "#VALEUR!",
        "#NOM?", "#NOMBRE!", "#NUL!", "#N/D", "#VALORE!", "#RIF!", "#NOME?", "#NULLO!",
    }
)  # fmt: skip
_ID_WITH_ZEROS = re.compile(r"^0\d+$")
_NUMBERED_ID = re.compile(r"^\d+(?:\.0+)?$")


@dataclass(frozen=True)
class CellError:
    """A cell that holds no usable value: an Excel error, or a formula never computed.

    ``cell`` is where it is (``D4``), ``code`` the error (``#N/A``; "" for a formula without a
    computed value), ``formula`` the formula when known. Rendering it, or formatting it as an
    amount or a date, fails with ``describe()``; it is never taken for an empty cell.
    """

    cell: str
    code: str
    formula: str = ""

    def describe(self) -> str:
        """``cell D4 holds the Excel error #N/A`` (or names the uncomputed formula)."""
        where = f"cell {self.cell}" if self.cell else "the cell"
        if self.code:
            return f"{where} holds the Excel error {self.code}"
        formula = f" (={self.formula})" if self.formula else ""
        return (
            f"{where} holds a formula{formula} that has no computed value: the file was "
            "written by a program that does not calculate"
        )

    def hint(self) -> str:
        """What to do about it."""
        if self.code:
            return f"Correct the formula or the value in {self.cell or 'the cell'} of the sheet."
        return (
            "Open the file in your spreadsheet program and save it again, so that every "
            "formula has its value."
        )

    def __str__(self) -> str:
        return self.code or "#FORMULA"


@dataclass(frozen=True)
class Orders:
    """The rows of one sheet; values are str, Decimal, int, date, datetime, time, bool, None
    or ``CellError``. ``frame`` is indexed by the sheet's row numbers."""

    frame: pd.DataFrame
    row_numbers: list[int]
    source: Path
    sheet: str | None
    letters: dict[str, str] = field(default_factory=dict)  # column → "D"
    notices: tuple[str, ...] = ()
    delimiter: str | None = None  # the csv separator that was read
    header_row: int = 1
    likely_header_row: int | None = None  # when the header row taken looks like a title

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

    def cell(self, column: str, row: int) -> str:
        """The cell as a spreadsheet program names it (``D4``), or ``column, row 4``."""
        letter = self.letters.get(column)
        return f"{letter}{row}" if letter else f"{column}, row {row}"

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
    path: str | Path | pd.DataFrame,
    sheet: str | int | None = None,
    engine: str | None = None,
    *,
    header_row: int | None = None,
) -> Orders:
    """Read the orders of one sheet (default: the first) of an xlsx/xls/ods or csv file.

    ``sheet`` is a sheet's name (``"2026"`` is the sheet named 2026) or, where no sheet is
    named so, its 0-based index. ``header_row`` is the sheet row holding the column names
    (default: the first row that is not empty); rows above it (a title, a date) are ignored.
    ``engine`` is ``"calamine"`` (default, fast) or ``"openpyxl"`` (xlsx only). A csv file is
    read as UTF-8 (with or without BOM), else as Windows-1252 with a notice; its separator
    (``,`` ``;`` or tab) is sniffed.

    ``path`` may also be a DataFrame the analyst already has: NaN, NaT and None are empty
    cells, and its index is taken as the position below the header row (``pd.read_excel``'s
    index 0 is sheet row 2), so problems name the rows as the sheet does.
    """
    if isinstance(path, pd.DataFrame):
        return _frame_orders(path, header_row or 1)
    source = _existing(path)
    if engine is not None and engine not in ENGINES:
        raise OrdersError(
            f"Unknown spreadsheet engine {engine!r}.", f"Use one of: {', '.join(ENGINES)}."
        )
    if header_row is not None and header_row < 1:
        raise OrdersError(
            f"The header row {header_row} is not a row of the sheet.",
            "Rows are numbered from 1, as in the spreadsheet program.",
        )
    if _is_csv(source):
        if sheet not in (None, 0, "0"):
            raise OrdersError(
                f"{source.name} is a csv file and has no sheet {sheet!r}.",
                "Leave out the sheet for csv files.",
            )
        notices: list[str] = []
        grid, delimiter = _csv_grid(source, notices)
        check_rows(source, len(grid))
        return _to_orders(grid, source, None, header_row, SheetMarks(), notices, delimiter)
    if source.suffix.lower() not in EXCEL_SUFFIXES:
        raise OrdersError(
            f"{source.name} is not a spreadsheet docmail can read.",
            "Save it as .xlsx, .xls, .ods or .csv.",
        )
    sheet_name, grid, marks = _workbook_grid(source, sheet, engine or "calamine")
    check_rows(source, len(grid))
    return _to_orders(grid, source, sheet_name, header_row, marks, [], None)


def _workbook_grid(
    source: Path, sheet: str | int | None, engine: str
) -> tuple[str, list[tuple[int, list[Any]]], SheetMarks]:
    """The sheet's name, its cells, and the marks the sheet's file keeps beside the values."""
    check_workbook(source)
    sheet_name, grid = _excel_grid(source, sheet, engine)
    marks = SheetMarks()
    if source.suffix.lower() in {".xlsx", ".xlsm"}:
        marks = sheet_marks(source, sheet_name)
    elif source.suffix.lower() == ".ods":
        marks = ods_marks(source, sheet_name)
    return sheet_name, grid, marks


def _frame_orders(frame: pd.DataFrame, header_row: int) -> Orders:
    """Orders from a DataFrame: columns as they are, rows numbered from its index."""
    index = list(frame.index)
    if pd.api.types.is_integer_dtype(frame.index) and frame.index.is_unique:
        numbers = [int(i) + header_row + 1 for i in index]
    else:  # labels that are no positions: numbered in order below the header
        numbers = list(range(header_row + 1, header_row + 1 + len(index)))
    header = [str(name) for name in frame.columns]
    grid: list[tuple[int, list[Any]]] = [(header_row, list(header))]
    grid += [
        (number, list(values))
        for number, values in zip(numbers, frame.itertuples(index=False, name=None), strict=True)
    ]
    orders = _to_orders(grid, Path("(DataFrame)"), None, header_row, SheetMarks(), [], None)
    return replace(orders, letters={})  # where its columns sit in a sheet is not known


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


def _csv_grid(source: Path, notices: list[str]) -> tuple[list[tuple[int, list[Any]]], str]:
    size = source.stat().st_size
    if size > MAX_PART_BYTES:
        raise OrdersError(
            f"{source.name} is {size / 1024**2:,.0f} MB, more than an order list needs "
            f"(docmail reads csv files up to {MAX_PART_BYTES // 1024**2} MB).",
            "Split the orders into several files.",
        )
    data = source.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        notices.append(
            f"{source.name} is not UTF-8; it was read as Windows-1252, the encoding Excel uses "
            "for csv in Switzerland. Check that umlauts look right in the preview, or save "
            "the file as 'CSV UTF-8'."
        )
    delimiter = _sniff_delimiter(text)
    # records end only at CR, LF or CRLF; str.splitlines would also split at U+2028, NEL, VT
    # and FF inside a cell and shift every column after it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    try:  # numbered as a spreadsheet program shows them: a cell's line breaks add no row
        grid: list[tuple[int, list[Any]]] = [
            (number, [uncsv_cell(value) for value in record])
            for number, record in enumerate(reader, start=1)
        ]
    except csv.Error as exc:
        raise _unreadable(source, exc) from exc
    return grid, delimiter


def _sniff_delimiter(text: str) -> str:
    """The separator among ``,`` ``;`` and tab (csv's sniffer, else the one splitting most)."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        pass
    best, best_count = ",", 0
    for candidate in CSV_DELIMITERS:
        rows = list(csv.reader(sample.splitlines(), delimiter=candidate))
        count = max((len(row) for row in rows), default=0)
        if count > best_count:
            best, best_count = candidate, count
    return best


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
    """A sheet by name first (``"2026"`` is the sheet named 2026), else by 0-based index."""
    if sheet is None:
        sheet = 0
    if isinstance(sheet, str):
        wanted = sheet.strip()
        for name in names:
            if name == wanted:
                return name
        for name in names:
            if name.strip().casefold() == wanted.casefold():
                return name
        if wanted.isdigit():
            sheet = int(wanted)
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
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


def _to_orders(
    grid: list[tuple[int, list[Any]]],
    source: Path,
    sheet: str | None,
    header_row: int | None,
    marks: SheetMarks,
    notices: list[str],
    delimiter: str | None,
) -> Orders:
    where = f"sheet {sheet!r} of {source.name}" if sheet else source.name
    if header_row is None:
        header_at = next((i for i, (_, row) in enumerate(grid) if any(map(_filled, row))), None)
        if header_at is None:
            raise OrdersError(f"{where} is empty.", "Put the column names in the first row.")
    else:
        header_at = next((i for i, (n, _) in enumerate(grid) if n == header_row), None)
        if header_at is None or not any(map(_filled, grid[header_at][1])):
            raise OrdersError(
                f"Row {header_row} of {where} is empty, so it holds no column names.",
                f"Give the row that holds the column names: {setting('header_row')} N "
                "(header_row=N).",
            )
    header_number, header = grid[header_at]
    body = grid[header_at + 1 :]
    width = max([len(header), *(len(row) for _, row in body)])
    names = [_column_name(header[i]) if i < len(header) else "" for i in range(width)]
    likely = _suggest_header_row(grid, header_at, where, notices) if header_row is None else None
    keep = _columns_to_keep(names, body, where, marks, [] if likely else notices)

    columns = [names[i] for i in keep]
    letters = {names[i]: column_letter(i) for i in keep}
    numbers: list[int] = []
    records: list[list[Any]] = []
    for number, row in body:
        values = [_cell(row[i] if i < len(row) else None, number, i, marks) for i in keep]
        if all(value is None for value in values):
            continue
        numbers.append(number)
        records.append(values)
    frame = pd.DataFrame(records, columns=columns, dtype=object, index=numbers)
    notices.extend(_numbered_identifiers(frame, numbers))
    return Orders(
        frame=frame,
        row_numbers=numbers,
        source=source,
        sheet=sheet,
        letters=letters,
        notices=tuple(notices),
        delimiter=delimiter,
        header_row=header_number,
        likely_header_row=likely,
    )


def _cell(value: Any, row: int, column: int, marks: SheetMarks) -> Any:
    """One cell's value; an error or an uncomputed formula becomes a ``CellError``."""
    where = (row, column)
    if where in marks.errors:
        return CellError(f"{column_letter(column)}{row}", marks.errors[where])
    if where in marks.uncomputed:
        return CellError(f"{column_letter(column)}{row}", "", marks.uncomputed[where])
    cleaned = _clean_value(value)
    if isinstance(cleaned, str) and cleaned in ERROR_VALUES:
        return CellError(f"{column_letter(column)}{row}", cleaned)
    return cleaned


def _column_name(value: Any) -> str:
    cleaned = _clean_value(value)
    if cleaned is None:
        return ""
    if isinstance(cleaned, dt.date):
        return cleaned.isoformat()
    return " ".join(str(cleaned).split())


def _columns_to_keep(
    names: list[str],
    body: list[tuple[int, list[Any]]],
    where: str,
    marks: SheetMarks,
    notices: list[str],
) -> list[int]:
    keep: list[int] = []
    marked = {column for _, column in (*marks.errors, *marks.uncomputed)}
    for i, name in enumerate(names):
        if name:
            keep.append(i)
        elif i in marked or any(i < len(row) and _filled(row[i]) for _, row in body):
            kind = "a hidden column" if i in marks.hidden_columns else "a column"
            notices.append(
                f"{where}: column {column_letter(i)} is {kind} with values but no name in the "
                "header row (a helper column?); it is left out. Give it a name in the header "
                "row to use it in the template."
            )
    seen: dict[str, int] = {}
    for i in keep:
        seen[names[i]] = seen.get(names[i], 0) + 1
    duplicates = sorted(name for name, count in seen.items() if count > 1)
    if duplicates:
        raise OrdersError(
            f"{where}: duplicate column name {', '.join(map(repr, duplicates))}.",
            "Rename the columns so that every name appears once.",
        )
    return keep


def _suggest_header_row(
    grid: list[tuple[int, list[Any]]], header_at: int, where: str, notices: list[str]
) -> int | None:
    """A notice when the first filled row looks like a title and a later one like the header."""
    counts = [(n, sum(map(_filled, row))) for n, row in grid[header_at : header_at + 30]]
    first_number, first_count = counts[0]
    wider = max(3, 2 * first_count)
    number = next((n for n, count in counts if count >= wider), None)
    if number is None:
        return None
    notices.append(
        f"{where}: row {first_number} was taken as the header row, but it has only "
        f"{first_count} filled cell(s) and row {number} has more. If the column names are in "
        f"row {number} (a title above them), give {setting('header_row')} {number} "
        f"(header_row={number})."
    )
    return number


def _numbered_identifiers(frame: pd.DataFrame, numbers: list[int]) -> list[str]:
    """Notices for columns of identifiers with leading zeros in which some became numbers."""
    found: list[str] = []
    for column in frame.columns:
        padded: list[str] = []
        numeric: list[tuple[int, Any]] = []
        for number, value in zip(numbers, frame[column], strict=True):
            if isinstance(value, str) and _ID_WITH_ZEROS.match(value):
                padded.append(value)
            elif _looks_numbered(value):
                numeric.append((number, value))
        if not padded:
            continue
        width = max(len(value) for value in padded)
        numeric = [
            (number, value)
            for number, value in numeric
            if not isinstance(value, str) or "." in value or len(value) < width
        ]
        if numeric:
            rows = ", ".join(str(n) for n, _ in numeric[:5]) + (", …" if len(numeric) > 5 else "")
            several = len(numeric) > 1
            found.append(
                f"Column {column}: row{'s' * several} {rows} hold{'' if several else 's'} a "
                f"number ({numeric[0][1]}) where the other rows hold identifiers with leading "
                f"zeros such as {padded[0]}: the spreadsheet program turned them into numbers "
                "and dropped the zeros. Format the column as Text (Format Cells → Text), type "
                f"those identifiers again (or start them with an apostrophe: '{padded[0]}) and "
                "save."
            )
    return found


def _looks_numbered(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, Decimal):
        return value == value.to_integral_value()
    return isinstance(value, str) and bool(_NUMBERED_ID.match(value))


def _filled(value: Any) -> bool:
    return _clean_value(value) is not None


def _clean_value(value: Any) -> Any:
    """One cell as a safe Python value (see the module docstring)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):  # a DataFrame's numpy scalars
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else value.item()
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
