"""The line items of the orders: ``Lines: <sheet or file> on <column>``.

``Lines: Positionen on invoice_no`` reads the sheet ``Positionen`` of the orders' workbook;
``Lines: positionen.csv on invoice_no`` reads a file beside the orders. Each line's
``invoice_no`` names the order it belongs to (the order's column of the same name); the lines
of an order keep the order of the sheet. A line sheet has the columns ``description``,
``quantity``, ``unit``, ``unit_price`` and ``vat_rate``, and optionally ``discount``,
``vat_category`` and ``vat_exemption``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from docmail_nb.errors import OrdersError, TemplateError

__all__ = [
    "LINE_COLUMNS",
    "OPTIONAL_LINE_COLUMNS",
    "LineSheet",
    "key_text",
    "parse_lines_header",
    "read_line_sheet",
]

LINE_COLUMNS = ("description", "quantity", "unit", "unit_price", "vat_rate")
OPTIONAL_LINE_COLUMNS = ("discount", "vat_category", "vat_exemption")
_HEADER = re.compile(r"^(?P<source>.+?)\s+on\s+(?P<column>[^\s].*?)\s*$", re.IGNORECASE)
_FILE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")


@dataclass(frozen=True)
class LineSheet:
    """The lines of every order, by the order's key value."""

    source: str  # the sheet's name or the file's name, as problems name it
    column: str  # the column that joins lines and orders
    lines: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    def of(self, value: Any) -> list[tuple[int, dict[str, Any]]]:
        """The (sheet row, cells) of the lines of the order whose column holds ``value``."""
        return self.lines.get(key_text(value), [])


def key_text(value: Any) -> str:
    """A join value as text: ``1041``, ``1041.0`` and ``"1041"`` are the same order."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_lines_header(text: str) -> tuple[str, str]:
    """``Positionen on invoice_no`` → ("Positionen", "invoice_no"); TemplateError if not so."""
    match = _HEADER.match(text.strip())
    if match is None:
        raise TemplateError(
            f"Lines: {text.strip()!r} does not say where the lines are and how they join.",
            "Write 'Lines: <sheet> on <column>', e.g. 'Lines: Positionen on invoice_no', or "
            "'Lines: positionen.csv on invoice_no' for a file beside the orders.",
        )
    return match.group("source").strip(), match.group("column").strip()


def read_line_sheet(orders_source: Path, source: str, column: str) -> LineSheet:
    """Read the lines: a sheet of the orders' workbook, or a file beside the orders."""
    from docmail_nb._sheets.orders import read_orders, sheet_names

    if source.lower().endswith(_FILE_SUFFIXES):
        path = (orders_source.parent / source).resolve()
        if not path.is_file():
            raise OrdersError(
                f"The lines file {path} does not exist.",
                "Put it beside the orders, or name a sheet of the orders' workbook.",
            )
        orders = read_orders(path)
    else:
        names = sheet_names(orders_source)
        if source not in names:
            where = (
                f"the workbook's sheets are {', '.join(names)}"
                if names
                else f"{orders_source.name} is a csv file and has no sheets"
            )
            raise OrdersError(
                f"Lines: there is no sheet {source!r}; {where}.",
                "Name the sheet of the lines, or a file beside the orders (positionen.csv).",
            )
        orders = read_orders(orders_source, sheet=source)
    missing = [name for name in (column, *LINE_COLUMNS) if name not in orders.columns]
    if missing:
        raise OrdersError(
            f"The lines in {source} have no column {', '.join(repr(m) for m in missing)}.",
            f"A line sheet has the columns {column}, {', '.join(LINE_COLUMNS)} (and optionally "
            f"{', '.join(OPTIONAL_LINE_COLUMNS)}); its columns are: {', '.join(orders.columns)}.",
        )
    lines: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for number, values in orders.records():
        lines.setdefault(key_text(values.get(column)), []).append((number, values))
    lines.pop("", None)
    return LineSheet(source=source, column=column, lines=lines)
