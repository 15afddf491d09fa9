"""Tables written for a spreadsheet program: safe to open, read back unchanged.

A cell value from the orders (or a server's reply) may start like a formula (``=HYPERLINK(…)``,
``+41 44 …``, ``@SUM(…)``). Written naively, the spreadsheet program would run it when the
report is opened. So every text cell is written as text:

- xlsx: the cell's type is *string*, whatever its first character;
- csv: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a
  leading apostrophe (the OWASP rule), which ``read_orders`` removes again when it reads a csv;
  and every field holding any separator a spreadsheet program may split on (``,`` ``;`` tab),
  a quote, a line break, or starting like a formula is quoted, whatever the file's own
  separator: a ``,`` report opened by Swiss Excel (which splits on ``;``) keeps
  ``Muster AG;=1+41;`` in one cell, as text.

A csv is written with a BOM and the separator asked for (``;`` for Swiss Excel and
LibreOffice, ``,``, or tab).

Files are written readable by the user only (see ``files``).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from docmail_nb._store.files import write_private
from docmail_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CSV_SEPARATORS", "FORMULA_START", "csv_cell", "csv_field", "save_table", "uncsv_cell"]

#: first characters that make a spreadsheet program read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: the separators a csv may be written with (``--csv-separator``)
CSV_SEPARATORS = (",", ";", "\t")
#: characters that make a csv field quoted, whatever the file's separator
_NEEDS_QUOTES = re.compile(r'[,;\t"\r\n]')
#: characters an xlsx file cannot hold (XML 1.0 forbids them)
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def csv_cell(value: str) -> str:
    """A text value as written to csv: an apostrophe before anything read as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_field(value: Any) -> str:
    """One csv field: text made safe (``csv_cell``) and quoted when it holds a separator of
    any kind, a quote or a line break or starts like a formula; numbers and dates as text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    text = csv_cell(value)
    if _NEEDS_QUOTES.search(text) or value.startswith(FORMULA_START):
        return '"' + text.replace('"', '""') + '"'
    return text


def uncsv_cell(value: str) -> str:
    """Undo ``csv_cell``: the apostrophe in front of a formula-like value goes again."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def save_table(frame: pd.DataFrame, path: str | Path, what: str, delimiter: str = ",") -> Path:
    """Write ``frame`` as .xlsx or .csv (by the suffix), text cells as text, mode 0600.

    A csv gets a BOM and ``delimiter`` (``,``, ``;`` or tab), as Excel reads it.
    """
    if delimiter not in CSV_SEPARATORS:
        raise ConfigError(
            f"{delimiter!r} cannot separate the fields of a csv file.",
            "Use ';' (Swiss Excel, LibreOffice), ',' or a tab.",
        )
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ConfigError(
            f"The {what} file {target} has an unknown type {suffix or '(none)'!r}.",
            "Give a file name ending in .xlsx or .csv.",
        )
    header = [str(name) for name in frame.columns]
    rows = [[_plain(value) for value in row] for row in frame.itertuples(index=False, name=None)]

    def write(handle: IO[bytes]) -> None:
        if suffix == ".xlsx":
            _write_xlsx(handle, header, rows)
        else:
            _write_csv(handle, header, rows, delimiter)

    try:
        return write_private(target, write)
    except OSError as exc:
        raise ConfigError(
            f"The {what} cannot be written to {target}: {exc.strerror or exc}.",
            "Close the file if it is open in a spreadsheet program, free some disk space, "
            "or choose another path.",
        ) from None


def _plain(value: Any) -> Any:
    """numpy and pandas scalars as plain Python values; NaN and NaT as empty."""
    if value is None or isinstance(value, str | bool | int | Decimal | dt.date | dt.time):
        return value
    item = getattr(value, "item", None)
    if callable(item):  # numpy scalar
        value = item()
    if isinstance(value, float) and value != value:
        return None
    if type(value).__name__ == "NaTType":
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def _write_xlsx(handle: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet()

    def cells(values: Sequence[Any]) -> list[Any]:
        out = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=_ILLEGAL_XML.sub("\ufffd", value))
                cell.data_type = "s"  # never a formula, whatever the first character
                out.append(cell)
            elif isinstance(value, dt.time | dt.date | int | float | Decimal | bool) or (
                value is None
            ):
                out.append(value)
            else:
                out.append(str(value))
        return out

    sheet.append(cells(header))
    for values in rows:
        sheet.append(cells(values))
    book.save(handle)


def _write_csv(
    handle: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]], delimiter: str
) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    for values in (header, *rows):
        text.write(delimiter.join(csv_field(value) for value in values) + "\r\n")
    text.flush()
    text.detach()
