"""The send panel's message grid: an HTML table (not a canvas) that sorts, filters and selects.

Python decides what is shown: :meth:`MessageGrid.show` takes the columns and the records,
and the grid sorts them by the column whose header was clicked, keeps those matching the
filter, and draws at most ``limit`` of them (saying how many there are). The browser side
(``_grid.js``, an anywidget module) draws a ``<table>``: header buttons that sort, a filter
field, each cell's full text on hover, the state as a coloured word, and the row clicked or
reached with the up and down keys as :attr:`MessageGrid.selected`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import anywidget
import traitlets as t

__all__ = ["Cell", "Column", "ColumnKind", "MessageGrid", "number_value"]

ColumnKind = Literal["text", "number", "money", "state"]

#: characters a cell shows before it is cut with "…" (the whole text is in its title)
_CUT = 40
#: rows drawn at most; the filter narrows the rest
_LIMIT = 500

_CSS = """
.docmail-grid {font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;
  font-size:13px; width:100%}
.docmail-grid-tools {display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:2px 0 4px}
.docmail-grid-filter {flex:1 1 16em; max-width:30em; padding:2px 6px; font:inherit}
.docmail-grid-note {color:#555}
.docmail-grid-scroll {max-height:22em; overflow:auto; border:1px solid #ddd; border-radius:3px}
.docmail-grid-scroll:focus {outline:2px solid #1a73e8; outline-offset:-2px}
.docmail-grid-table {border-collapse:collapse; width:100%}
.docmail-grid-table th {position:sticky; top:0; background:#f5f5f5; text-align:left;
  border-bottom:1px solid #ccc; padding:0; white-space:nowrap}
.docmail-grid-sort {all:unset; cursor:pointer; display:block; padding:3px 8px; font-weight:600}
.docmail-grid-sort:focus-visible {outline:2px solid #1a73e8}
.docmail-grid-table td {padding:2px 8px; border-bottom:1px solid #eee; white-space:nowrap;
  overflow:hidden; text-overflow:ellipsis; max-width:22em; cursor:default}
.docmail-grid-table th.docmail-grid-money, .docmail-grid-table th.docmail-grid-number
  {text-align:right}
.docmail-grid-table td.docmail-grid-money, .docmail-grid-table td.docmail-grid-number
  {text-align:right; font-variant-numeric:tabular-nums}
.docmail-grid-row[aria-selected=true] td {background:#e3eefc}
.docmail-grid-row:hover td {background:#f3f7fd}
.docmail-state {font-weight:600}
.docmail-state-ready, .docmail-state-dry-run {color:#1a5fb4}
.docmail-state-sent, .docmail-state-skipped {color:#1b7f3b}
.docmail-state-problem, .docmail-state-failed {color:#b00020}
.docmail-state-unknown, .docmail-state-changed, .docmail-state-busy {color:#9a6700}
.docmail-state-not-sent {color:#555}
"""


@dataclass(frozen=True)
class Column:
    """A column of the grid: its key in each record, its header and how its values look."""

    key: str
    label: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Cell:
    """One value: the text shown and how it sorts (numbers before text, then by text)."""

    text: str
    number: float | None = None

    @property
    def sort_key(self) -> tuple[int, float, str]:
        if self.number is not None:
            return (0, self.number, "")
        return (1 if self.text else 2, 0.0, self.text.casefold())


def number_value(value: Any) -> Decimal | None:
    """A cell as a number (int, float or a numeric text such as ``1'234.50``), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    else:
        text = str(value).strip().replace("’", "").replace("'", "").replace("\u00a0", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    return number if number.is_finite() else None


class MessageGrid(anywidget.AnyWidget):
    """A table of messages: click a header to sort, type to filter, click a row to pick it."""

    _esm = Path(__file__).with_name("_grid.js")
    _css = _CSS

    columns = t.List(t.Dict()).tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    note = t.Unicode("").tag(sync=True)
    query = t.Unicode("").tag(sync=True)
    sort_by = t.Unicode("row").tag(sync=True)
    descending = t.Bool(False).tag(sync=True)
    selected = t.Int(-1).tag(sync=True)

    def __init__(self, *, limit: int = _LIMIT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit
        self._columns: list[Column] = []
        self._records: list[tuple[int, str, dict[str, Cell]]] = []
        self.order: list[int] = []  # the ids matching the filter, in the order shown
        self.observe(self._redraw, names=["query", "sort_by", "descending"])

    def show(
        self, columns: list[Column], records: Sequence[tuple[int, str, dict[str, Cell]]]
    ) -> None:
        """Show ``records`` (id, state, cells by column key); the selection stays if it can."""
        self._columns = columns
        self._records = list(records)
        keys = [column.key for column in columns]
        if self.sort_by not in keys:
            self.sort_by = keys[0] if keys else ""
        self.columns = [
            {"key": column.key, "label": column.label, "kind": column.kind} for column in columns
        ]
        self._redraw()

    def _redraw(self, _change: Any = None) -> None:
        needle = self.query.strip().casefold()
        chosen = [
            record
            for record in self._records
            if not needle or any(needle in cell.text.casefold() for cell in record[2].values())
        ]
        if any(column.key == self.sort_by for column in self._columns):
            empty = Cell("")
            chosen.sort(
                key=lambda record: record[2].get(self.sort_by, empty).sort_key,
                reverse=self.descending,
            )
        self.order = [record[0] for record in chosen]
        shown = chosen[: self.limit]
        self.rows = [self._row(record) for record in shown]
        total = len(self._records)
        if len(chosen) > len(shown):
            self.note = (
                f"Showing the first {len(shown):,} of {len(chosen):,} messages: filter to "
                "narrow them."
            )
        elif needle:
            self.note = f"{len(chosen):,} of {total:,} messages match."
        else:
            self.note = f"{total:,} message{'s' * (total != 1)}."
        if self.order and self.selected not in self.order:
            self.selected = self.order[0]
        elif not self.order:
            self.selected = -1

    def _row(self, record: tuple[int, str, dict[str, Cell]]) -> dict[str, Any]:
        index, state, cells = record
        texts = [cells.get(column.key, Cell("")).text for column in self._columns]
        return {
            "id": index,
            "state": state,
            "cells": [text if len(text) <= _CUT else text[: _CUT - 1] + "…" for text in texts],
            "titles": texts,
        }

    def step(self, by: int) -> None:
        """Select the message ``by`` places further in the shown order."""
        if not self.order:
            return
        at = self.order.index(self.selected) if self.selected in self.order else 0
        self.selected = self.order[max(0, min(len(self.order) - 1, at + by))]
