"""The send panel's table of messages and its preview: the batch's messages in a grid to
search, filter, sort and walk through, and the picked one as a mail program shows it."""

from __future__ import annotations

import html
from typing import Any

from docmail_nb import Orders, Plan
from docmail_nb._grid import Cell, Column, ColumnKind, number_value
from docmail_nb._panelkit import (
    guess_columns,
    is_empty,
    mail_view,
    note_line,
    problem_line,
    state_line,
)
from docmail_nb.batch import Batch, OutboxEntry, count_states, money_text
from docmail_nb.errors import DocmailError
from docmail_nb.sendpanel.controls import PanelControls
from docmail_nb.words import OUTBOX_ORDER, STATE_WORDS

__all__ = ["MessageTable"]


class MessageTable(PanelControls):
    """The checked batch's messages in the grid, and the picked message's preview."""

    batch: Batch | None  # the checked batch the panel shows and sends
    entries: list[OutboxEntry]
    _loading: bool  # while the panel fills its own fields, their changes are not reactions
    _positions: dict[int, int] | None  # sheet row → position in the frame

    @property
    def plan(self) -> Plan | None:
        """The checked plan (None when the files cannot be read)."""
        return self.batch.plan if self.batch is not None else None

    @property
    def orders(self) -> Orders | None:
        """The orders as read (None when they cannot be read)."""
        return self.batch.orders if self.batch is not None else None

    # -- the table ------------------------------------------------------------------------

    def _set_columns(self) -> None:
        if self.orders is None:
            return
        names = [str(c) for c in self.orders.frame.columns]
        chosen = [c for c in self.columns.value if c in names] or guess_columns(names)
        self._loading = True
        try:
            self.columns.options = names
            self.columns.value = tuple(chosen)
        finally:
            self._loading = False

    def _grid_columns(self) -> list[Column]:
        """Row, state, key, To, the chosen sheet columns, and Problem when a row has one."""
        money = self.batch.money_columns() if self.batch is not None else {}
        numeric = self._numeric_columns()
        columns = [
            Column("row", "Row", "number"),
            Column("state", "State", "state"),
            Column("key", "Key"),
            Column("to", "To"),
        ]
        for name in self.columns.value:
            kind: ColumnKind = "money" if name in money else "number" if name in numeric else "text"
            columns.append(Column(f"col:{name}", name, kind))
        if any(entry.status for entry in self.entries):  # bounced, delayed, paid: docmail status
            columns.append(Column("status", "Status"))
        if any(entry.note for entry in self.entries):
            columns.append(Column("note", "Problem / note"))
        return columns

    def _numeric_columns(self) -> set[str]:
        """The chosen columns whose filled cells are all numbers (shown right-aligned)."""
        if self.orders is None:
            return set()
        found = set()
        frame = self.orders.frame
        for name in self.columns.value:
            if name in frame.columns:
                values = [v for v in frame[name].tolist() if not is_empty(v) and v != ""]
                if values and all(number_value(v) is not None for v in values):
                    found.add(name)
        return found

    def _cells(
        self, entry: OutboxEntry, columns: list[Column], money: dict[str, str], to: list[str]
    ) -> dict[str, Cell]:
        """The grid's cells of one message: money in the sheet's currency, the whole text."""
        values = self._row_values(entry.row) if entry.row else {}
        address = entry.to or ", ".join(  # a row with a problem: the address cells it has
            str(values[name]) for name in to if not is_empty(values.get(name))
        )
        cells = {
            "row": Cell(f"{entry.row}" if entry.row else "-", float(entry.row or 0)),
            "state": Cell(STATE_WORDS[entry.state], float(OUTBOX_ORDER.index(entry.state))),
            "key": Cell(entry.key),
            "to": Cell(address),
            "note": Cell(entry.note),
            "status": Cell(entry.status),
        }
        for column in columns:
            if not column.key.startswith("col:"):
                continue
            value = values.get(column.label)
            number = number_value(value)
            if is_empty(value):
                cells[column.key] = Cell("")
            elif column.kind == "money" and number is not None:
                text = money_text(number, money[column.label])  # as the template writes it
                cells[column.key] = Cell(text, float(number))
            elif column.kind == "number" and number is not None:
                cells[column.key] = Cell(str(value), float(number))
            else:
                cells[column.key] = Cell(str(value))
        return cells

    def _row_values(self, row: int) -> dict[str, Any]:
        """The sheet's cells of ``row``, as read."""
        if self.orders is None:
            return {}
        if self._positions is None:
            self._positions = {number: i for i, number in enumerate(self.orders.row_numbers)}
        position = self._positions.get(row)
        if position is None:
            return {}
        return {str(k): v for k, v in self.orders.frame.iloc[position].items()}

    def _fill_table(self) -> None:
        """The grid as the state filter and the columns say; keeps the picked message."""
        counts = count_states(self.entries)
        self._loading = True
        try:
            shown = self.show.value
            self.show.options = [(f"all ({len(self.entries):,})", "")] + [
                (f"{STATE_WORDS[state]} ({n:,})", state) for state, n in counts.items()
            ]
            self.show.value = shown if shown in counts else ""
            columns = self._grid_columns()
            money = self.batch.money_columns() if self.batch is not None else {}
            to = self.batch.address_columns("To") if self.batch is not None else []
            records = [
                (index, entry.state, self._cells(entry, columns, money, to))
                for index, entry in enumerate(self.entries)
                if not self.show.value or entry.state == self.show.value
            ]
            self.grid.show(columns, records)
        finally:
            self._loading = False
        if not self._shown:
            self.preview.value = self.raw.value = ""
            self.position.value = note_line("No message to show.")
        else:
            self._show_preview()

    @property
    def _shown(self) -> list[int]:
        """The messages (indexes into ``entries``) the grid lists, in its order."""
        return self.grid.order

    @property
    def picked(self) -> int | None:
        """The message picked in the grid (an index into ``entries``), if any."""
        index = self.grid.selected
        return index if 0 <= index < len(self.entries) else None

    def pick(self, row: int) -> None:
        """Show sheet row ``row``'s message (as a click in the grid does)."""
        for index, entry in enumerate(self.entries):
            if row in entry.rows:
                if index not in self._shown:
                    self.grid.query = ""
                    self.show.value = ""
                self.grid.selected = index
                return
        raise ValueError(f"Row {row} is not in the table.")

    def _step(self, by: int) -> None:
        self.grid.step(by)

    # -- preview --------------------------------------------------------------------------

    def _show_preview(self) -> None:
        index = self.picked
        if self.batch is None or index is None:
            self.preview.value = self.raw.value = ""
            return
        entry = self.entries[index]
        at = self._shown.index(index) + 1 if index in self._shown else 0
        self.position.value = note_line(f"{at:,} of {len(self._shown):,}")
        self.previous_button.disabled = at <= 1
        self.next_button.disabled = at >= len(self._shown)
        state = state_line(entry)
        if entry.state == "problem":
            self.preview.value = state
            self.raw.value = ""
            return
        try:
            shown = self.batch.preview(entry.row)
        except DocmailError as exc:
            self.preview.value = state + problem_line(exc)
            self.raw.value = ""
            return
        self.preview.value = state + mail_view(shown)
        self.raw.value = f"<pre class='docmail-raw'>{html.escape(shown.as_text())}</pre>"

    def _on_raw(self, change: dict[str, Any]) -> None:
        self.raw.layout.display = "block" if change["new"] else "none"
