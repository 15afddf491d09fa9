"""What a sheet's values alone do not tell: error cells, uncomputed formulas, hidden columns.

The fast reader (calamine) gives an Excel error (``#N/A`` from a failed VLOOKUP) and a formula
that was never computed (a file written by a script and never opened in a spreadsheet program)
as an empty cell. Both must be named, never read as empty, so this module looks at the sheet's
XML for them: an error cell is ``<c t="e"><v>#N/A</v></c>``, an uncomputed formula is a
``<f>`` without a value. It also reads which columns are hidden (``<col hidden="1">``). An
OpenDocument sheet (.ods) marks an error cell ``calcext:value-type="error"`` and a hidden column
``table:visibility="collapse"``, with repeated rows and cells counted out.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SheetMarks", "column_index", "column_letter", "ods_marks", "sheet_marks"]

_SHEET = re.compile(rb"<(?:\w+:)?sheet\s([^>]*?)/?>")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\s([^>]*?)/?>")
_CELL = re.compile(rb"<(?:\w+:)?c\s([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*"([^"]*)"')
_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.DOTALL)
_VALUE = re.compile(rb"<(?:\w+:)?v\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?v>)", re.DOTALL)
_COLS = re.compile(rb"<(?:\w+:)?cols\b.*?</(?:\w+:)?cols>", re.DOTALL)
_COL = re.compile(rb"<(?:\w+:)?col\s([^>]*?)/?>")
_REF = re.compile(r"^([A-Z]+)([0-9]+)$")


@dataclass(frozen=True)
class SheetMarks:
    """Error cells and uncomputed formulas by (sheet row, 0-based column), and hidden columns."""

    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # → "#N/A"
    uncomputed: dict[tuple[int, int], str] = field(default_factory=dict)  # → formula text
    hidden_columns: frozenset[int] = frozenset()


def column_letter(index: int) -> str:
    """``0`` → ``A``, ``27`` → ``AB``: the column as a spreadsheet program names it."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """``A`` → ``0``, ``AB`` → ``27``."""
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - ord("A") + 1
    return index - 1


def sheet_marks(path: Path, sheet: str) -> SheetMarks:
    """The marks of the sheet called ``sheet`` of the xlsx/xlsm file ``path`` (empty if unknown)."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return SheetMarks()
            data = archive.read(part)
    except (OSError, KeyError, zipfile.BadZipFile):
        return SheetMarks()
    return _marks(data)


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    rel_id = None
    for match in _SHEET.finditer(archive.read("xl/workbook.xml")):
        attrs = {key.rpartition(b":")[2]: value for key, value in _ATTR.findall(match.group(1))}
        if _text(attrs.get(b"name")) == sheet:
            rel_id = attrs.get(b"id")
            break
    if rel_id is None:
        return None
    for match in _RELATIONSHIP.finditer(archive.read("xl/_rels/workbook.xml.rels")):
        attrs = dict(_ATTR.findall(match.group(1)))
        if attrs.get(b"Id") == rel_id:
            target = _text(attrs.get(b"Target"))
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join("xl", target))
    return None


def _marks(data: bytes) -> SheetMarks:
    hidden: set[int] = set()
    cols = _COLS.search(data)
    if cols:
        for match in _COL.finditer(cols.group(0)):
            attrs = dict(_ATTR.findall(match.group(1)))
            if attrs.get(b"hidden") in (b"1", b"true"):
                low, high = int(attrs.get(b"min", b"0")), int(attrs.get(b"max", b"0"))
                hidden.update(range(low - 1, high))
    errors: dict[tuple[int, int], str] = {}
    uncomputed: dict[tuple[int, int], str] = {}
    if b't="e"' in data or b"<f" in data or b":f" in data:
        for match in _CELL.finditer(data):
            attrs = dict(_ATTR.findall(match.group(1)))
            ref = _REF.match(attrs.get(b"r", b"").decode("ascii", "replace"))
            if ref is None:
                continue
            where = (int(ref.group(2)), column_index(ref.group(1)))
            inner = match.group(2) or b""
            value = _VALUE.search(inner)
            text = _text(value.group(1) if value else None)
            if attrs.get(b"t") == b"e":
                errors[where] = text or "#N/A"
                continue
            formula = _FORMULA.search(inner)
            if formula and not text and attrs.get(b"t") not in (b"str", b"s", b"inlineStr"):
                uncomputed[where] = _text(formula.group(1))
    return SheetMarks(errors=errors, uncomputed=uncomputed, hidden_columns=frozenset(hidden))


def _text(raw: bytes | None) -> str:
    if not raw:
        return ""
    text = raw.decode("utf-8", "replace")
    for entity, ch in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'")):
        text = text.replace(entity, ch)
    return text.replace("&amp;", "&").strip()


_ODS_TABLE = re.compile(rb"<table:table\s([^>]*)>(.*?)</table:table>", re.DOTALL)
_ODS_COLUMN = re.compile(rb"<table:table-column\s([^>]*?)/?>")
_ODS_ROW = re.compile(rb"<table:table-row\b([^>]*?)(?:/>|>(.*?)</table:table-row>)", re.DOTALL)
_ODS_CELL = re.compile(
    rb"<table:(covered-table-cell|table-cell)\b([^>]*?)(?:/>|>(.*?)</table:\1>)", re.DOTALL
)
_TAGS = re.compile(rb"<[^>]+>")
_MAX_HIDDEN = 16384


def ods_marks(path: Path, sheet: str) -> SheetMarks:
    """The error cells and hidden columns of the sheet ``sheet`` of the .ods file ``path``."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("content.xml")
    except (OSError, KeyError, zipfile.BadZipFile):
        return SheetMarks()
    for table in _ODS_TABLE.finditer(data):
        attrs = dict(_ATTR.findall(table.group(1)))
        if _text(attrs.get(b"table:name")) == sheet:
            return _ods_table(table.group(2))
    return SheetMarks()


def _ods_table(data: bytes) -> SheetMarks:
    hidden: set[int] = set()
    column = 0
    for match in _ODS_COLUMN.finditer(data):
        attrs = dict(_ATTR.findall(match.group(1)))
        repeat = int(attrs.get(b"table:number-columns-repeated", b"1"))
        if attrs.get(b"table:visibility") == b"collapse":
            hidden.update(range(column, min(column + repeat, _MAX_HIDDEN)))
        column += repeat
    errors: dict[tuple[int, int], str] = {}
    if b'value-type="error"' in data:
        row = 1
        for match in _ODS_ROW.finditer(data):
            attrs = dict(_ATTR.findall(match.group(1)))
            repeat = int(attrs.get(b"table:number-rows-repeated", b"1"))
            inner = match.group(2) or b""
            if b'value-type="error"' in inner:
                column = 0
                for cell in _ODS_CELL.finditer(inner):
                    cell_attrs = dict(_ATTR.findall(cell.group(2)))
                    span = int(cell_attrs.get(b"table:number-columns-repeated", b"1"))
                    if cell_attrs.get(b"calcext:value-type") == b"error":
                        code = _text(_TAGS.sub(b"", cell.group(3) or b"")) or "#N/A"
                        for offset in range(min(span, _MAX_HIDDEN)):
                            errors[(row, column + offset)] = code
                    column += span
            row += repeat
    return SheetMarks(errors=errors, hidden_columns=frozenset(hidden))
