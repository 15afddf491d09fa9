"""Whether the files given fit together, and advice when they do not.

Before planning: were the orders and the template given the other way round? After a
template problem that stops every row: is there a header row further down, or another sheet,
that has every column the template uses?
"""

from __future__ import annotations

import re
from pathlib import Path

from docmail_nb._compose.templates import MessageTemplate, template_variables
from docmail_nb._sheets.orders import Orders, read_orders, sheet_names
from docmail_nb.errors import ConfigError
from docmail_nb.words import setting

__all__ = ["check_file_order", "layout_advice"]

_SPREADSHEETS = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".csv", ".tsv"})
_HEADER_START = re.compile(r"^\ufeff?(to|cc|bcc|from|subject|key|attachment)\s*:", re.IGNORECASE)


def check_file_order(orders_path: str | Path, template_path: str | Path) -> None:
    """ConfigError when the orders and the template were given the other way round."""
    orders, template = Path(orders_path), Path(template_path)
    spreadsheet_second = template.suffix.lower() in _SPREADSHEETS
    template_first = orders.suffix.lower() not in _SPREADSHEETS and (
        orders.suffix.lower() != ".txt" or _looks_like_template(orders)
    )
    if not (spreadsheet_second and template_first) and not (
        orders.suffix.lower() == ".txt" and _looks_like_template(orders)
    ):
        return
    raise ConfigError(
        f"The orders and the template seem swapped: {orders.name} looks like a template"
        + (f" and {template.name} like a spreadsheet." if spreadsheet_second else "."),
        f"Give the orders first, then the template: {template.name} {orders.name}.",
    )


def layout_advice(
    orders_path: str | Path, template: MessageTemplate, orders: Orders, sheet: str | int | None
) -> str:
    """Where the template's columns are, when not in the rows read: the header row further
    down (``--header-row``) or, when no sheet was asked for, another sheet ("" for none)."""
    advice = ""
    needed = _needed(template)
    likely = orders.likely_header_row
    if likely is not None and needed <= set(
        read_orders(orders_path, sheet=sheet, header_row=likely).columns
    ):
        advice = f" The column names are in row {likely}: {setting('header_row', str(likely))}."
    better = _fitting_sheet(orders_path, needed, orders.sheet) if sheet is None else ""
    if better:
        advice += (
            f" The sheet {better!r} has every column the template uses: {setting('sheet', better)}."
        )
    return advice


def _looks_like_template(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return bool(_HEADER_START.match(handle.readline()))
    except OSError:
        return False


def _needed(template: MessageTemplate) -> set[str]:
    needed: set[str] = set().union(*template_variables(template).values())
    if template.group_by:
        needed.add(template.group_by)
    return needed


def _fitting_sheet(path: str | Path, needed: set[str], current: str | None) -> str:
    for name in sheet_names(path):
        if name != current and needed <= set(read_orders(path, name).columns):
            return name
    return ""
