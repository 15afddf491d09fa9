"""How big a spreadsheet may be: checked cheaply, before a reader builds it in memory.

A workbook is a zip of XML parts, and a few kilobytes can describe a sheet of a million rows
and 16,384 columns (one cell far away, or a row "repeated" a million times), or a text of
gigabytes. The readers build the whole rectangle in memory, and running out of memory there
ends the process without an error to catch. So before reading, the parts are streamed once
and measured, and a workbook over these limits is refused with a clear error:

=====================  ==========================================================
``MAX_ROWS``           250,000 rows (the header included)
``MAX_COLUMNS``        2,000 columns
``MAX_CELLS``          10 million cells in the rectangle from A1 to the last cell
``MAX_PART_BYTES``     200 MB for any part of the workbook once unpacked
``MAX_UNPACKED``       500 MB for all parts together
=====================  ==========================================================
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import iterparse

from docmail_nb.errors import OrdersError

__all__ = [
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_PART_BYTES",
    "MAX_ROWS",
    "MAX_UNPACKED",
    "check_rows",
    "check_workbook",
]

MAX_ROWS = 250_000
MAX_COLUMNS = 2_000
MAX_CELLS = 10_000_000
MAX_PART_BYTES = 200 * 1024 * 1024
MAX_UNPACKED = 500 * 1024 * 1024

_CHUNK = 1024 * 1024
_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br=\"([A-Z]{1,4})([0-9]{1,9})\"")
_ROW_REF = re.compile(rb"<(?:\w+:)?row\b[^>]*?\br=\"([0-9]{1,9})\"")
_ROW_START = re.compile(rb"<(?:\w+:)?row\b")
_CELL_NO_REF = re.compile(rb"<(?:\w+:)?c(?:\s(?![^>]*\br=)[^>]*)?/?>")
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


@dataclass
class _Extent:
    rows: int = 0
    columns: int = 0


def check_workbook(source: Path) -> None:
    """Refuse an xlsx/xlsm/ods whose parts or sheets go beyond the limits (module docstring)."""
    suffix = source.suffix.lower()
    if suffix not in {".xlsx", ".xlsm", ".ods"}:
        return
    try:
        book = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the reader says what is wrong with it
    with book:
        unpacked = 0
        for info in book.infolist():
            name = info.filename
            if info.file_size > MAX_PART_BYTES:
                _refuse_size(source, name, info.file_size)
            if suffix == ".ods" and name == "content.xml":
                with book.open(info) as part:
                    counted = _CountingReader(part, source, name)
                    for sheet, extent in _ods_extents(counted):
                        _check_extent(source, sheet, extent)
                    unpacked += counted.total
            elif suffix != ".ods" and name.startswith("xl/worksheets/") and name.endswith(".xml"):
                extent = _Extent()
                unpacked += _scan_xlsx_sheet(book, info, source, extent)
                _check_extent(source, "", extent)
            else:
                unpacked += _drain(book, info, source)
            if unpacked > MAX_UNPACKED:
                raise OrdersError(
                    f"{source.name} unpacks to more than {_mb(MAX_UNPACKED)}, more than an order "
                    "list needs; it is not read.",
                    _RESAVE,
                )


def check_rows(source: Path, rows: int) -> None:
    """Refuse a sheet (any format, csv too) with more rows than ``MAX_ROWS``."""
    if rows > MAX_ROWS:
        raise OrdersError(
            f"{source.name} has {rows:,} rows, more than the {MAX_ROWS:,} docmail reads at once.",
            "Split the orders into several files, or remove the empty or repeated rows.",
        )


_RESAVE = (
    "Open it in your spreadsheet program, delete the rows and columns beyond the orders, "
    "and save it again."
)


def _check_extent(source: Path, sheet: str, extent: _Extent) -> None:
    where = f"The sheet {sheet!r} of {source.name}" if sheet else f"A sheet of {source.name}"
    if extent.rows > MAX_ROWS:
        raise OrdersError(
            f"{where} reaches row {extent.rows:,}, beyond the {MAX_ROWS:,} rows docmail reads.",
            _RESAVE,
        )
    if extent.columns > MAX_COLUMNS:
        raise OrdersError(
            f"{where} reaches column {extent.columns:,}, beyond the {MAX_COLUMNS:,} columns "
            "docmail reads.",
            _RESAVE,
        )
    if extent.rows * extent.columns > MAX_CELLS:
        raise OrdersError(
            f"{where} spans {extent.rows:,} rows × {extent.columns:,} columns, more than the "
            f"{MAX_CELLS:,} cells docmail reads.",
            _RESAVE,
        )


def _refuse_size(source: Path, part: str, size: int) -> None:
    raise OrdersError(
        f"{source.name}: its part {part} unpacks to {_mb(size)} or more, beyond the "
        f"{_mb(MAX_PART_BYTES)} docmail reads (a text or sheet of that size is no order list).",
        _RESAVE,
    )


def _mb(count: int) -> str:
    return f"{count / (1024 * 1024):,.0f} MB"


class _CountingReader:
    """A part read in chunks, refused as soon as it unpacks beyond MAX_PART_BYTES."""

    def __init__(self, part: IO[bytes], source: Path, name: str) -> None:
        self.part = part
        self.source = source
        self.name = name
        self.total = 0

    def read(self, size: int = _CHUNK) -> bytes:
        data = self.part.read(min(size, _CHUNK) if size and size > 0 else _CHUNK)
        self.total += len(data)
        if self.total > MAX_PART_BYTES:
            _refuse_size(self.source, self.name, self.total)
        return data


def _drain(book: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path) -> int:
    with book.open(info) as part:
        reader = _CountingReader(part, source, info.filename)
        while reader.read():
            pass
        return reader.total


def _scan_xlsx_sheet(
    book: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path, extent: _Extent
) -> int:
    """The last row and column a worksheet part reaches (by its cell and row references)."""
    with book.open(info) as part:
        reader = _CountingReader(part, source, info.filename)
        tail = b""
        while True:
            chunk = reader.read()
            if not chunk:
                break
            data = tail + chunk
            for match in _CELL_REF.finditer(data):
                extent.columns = max(extent.columns, _column_number(match.group(1)))
                extent.rows = max(extent.rows, int(match.group(2)))
            for match in _ROW_REF.finditer(data):
                extent.rows = max(extent.rows, int(match.group(1)))
            # cells without a reference follow each other: count them per row, to be safe
            for row in _ROW_START.split(data):
                extent.columns = max(extent.columns, len(_CELL_NO_REF.findall(row)))
            cut = data.rfind(b"<")
            tail = data[cut:] if cut >= 0 and len(data) - cut < 4096 else b""
            if extent.rows > MAX_ROWS or extent.columns > MAX_COLUMNS:
                break  # refused anyway
        return reader.total


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (letter - ord("A") + 1)
    return number


def _ods_extents(part: _CountingReader) -> Iterator[tuple[str, _Extent]]:
    """Per sheet of an ods content.xml: rows and columns up to the last cell with a value.

    Repeated rows and cells (``number-rows-repeated``) count as often as they repeat; the
    empty rows and cells a spreadsheet program writes after the last value do not count.
    """
    sheet = ""
    extent = _Extent()
    empty_rows = 0
    for event, element in iterparse(part, events=("start", "end")):  # noqa: S314 - bounded
        tag = element.tag
        if event == "start":
            if tag == f"{_TABLE}table":
                sheet = element.get(f"{_TABLE}name", "")
                extent, empty_rows = _Extent(), 0
            continue
        if tag == f"{_TABLE}table-row":
            repeat = int(element.get(f"{_TABLE}number-rows-repeated", "1"))
            width = _ods_row_width(element)
            if width:
                extent.rows += empty_rows + repeat
                extent.columns = max(extent.columns, width)
                empty_rows = 0
            else:
                empty_rows += repeat
            element.clear()
            if extent.rows > MAX_ROWS or extent.columns > MAX_COLUMNS:
                yield sheet, extent
                return
        elif tag == f"{_TABLE}table":
            yield sheet, extent
            element.clear()


def _ods_row_width(row: object) -> int:
    """The columns of a row up to its last cell with a value (0 when the row is empty)."""
    width = 0
    last = 0
    for cell in row:  # type: ignore[attr-defined]
        repeat = int(cell.get(f"{_TABLE}number-columns-repeated", "1"))
        width += repeat
        if cell.get(f"{_OFFICE}value-type") is not None or len(cell):
            last = width
    return last
