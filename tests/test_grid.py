"""The send panel's grid: money as the template writes it, the state as a word, problem rows
with their To and problem, the whole text of a cut cell, sorting and filtering in Python."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docmail_nb import CaptureServer
from docmail_nb._grid import Cell, Column, MessageGrid
from docmail_nb._sample import sample_dir
from docmail_nb.widgets import SendPanel


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[CaptureServer]:
    with CaptureServer(tmp_path / "outbox") as server:
        yield server


def column(panel: SendPanel, label: str) -> int:
    return [c["label"] for c in panel.grid.columns].index(label)


def test_amounts_are_money_in_the_templates_currency_and_sort_as_numbers(
    capture: CaptureServer, tmp_path: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=tmp_path / "ledger.sqlite")
    amount = column(panel, "amount")
    assert panel.grid.columns[amount]["kind"] == "money"  # right-aligned by its kind
    assert panel.grid.rows[0]["cells"][amount] == "CHF 1’234.50"
    panel.grid.sort_by = "col:amount"
    panel.grid.descending = True  # as two clicks on the header do
    assert panel.grid.rows[0]["cells"][amount] == "CHF 15’820.00"
    assert panel.grid.rows[-1]["cells"][amount] == "CHF 72.10"
    assert "R-2026-1041" in panel.preview.value  # sorting keeps the message picked
    panel.grid.selected = panel.grid.rows[0]["id"]  # a click on the first row
    assert "R-2026-1046" in panel.preview.value


def test_a_problem_row_shows_its_address_its_problem_and_a_state_word(
    capture: CaptureServer, tmp_path: Path
) -> None:
    lines = (sample_dir() / "orders.csv").read_text(encoding="utf-8").splitlines()
    fields = lines[2].split(";")
    fields[4] = "not-an-address"
    lines[2] = ";".join(fields)
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    panel = SendPanel(orders, profile=capture.profile(), ledger=tmp_path / "ledger.sqlite")
    (row,) = [row for row in panel.grid.rows if row["state"] == "problem"]
    assert row["titles"][column(panel, "State")] == "with a problem"
    assert row["titles"][column(panel, "To")] == "not-an-address"
    problem = row["titles"][column(panel, "Problem / note")]
    assert "not-an-address" in problem
    assert ".;" not in problem


def test_a_cut_cell_keeps_its_whole_text_for_the_hover() -> None:
    grid = MessageGrid()
    address = "someone.with.a.rather.long.address@a-company-with-a-long-name.example"
    grid.show([Column("to", "To")], [(0, "ready", {"to": Cell(address)})])
    (row,) = grid.rows
    assert row["titles"] == [address]
    assert row["cells"][0].endswith("…")
    assert len(row["cells"][0]) < len(address)


def test_sorting_filtering_and_the_bound_on_rows_drawn() -> None:
    grid = MessageGrid(limit=5)
    records = [
        (n, "ready", {"row": Cell(str(n + 2), n + 2), "key": Cell(f"R-{n % 3}")}) for n in range(12)
    ]
    grid.show([Column("row", "Row", "number"), Column("key", "Key")], records)
    assert len(grid.rows) == 5
    assert grid.note == "Showing the first 5 of 12 messages: filter to narrow them."
    grid.query = "r-1"
    assert grid.order == [1, 4, 7, 10]
    assert grid.note == "4 of 12 messages match."
    grid.descending = True
    assert grid.order == [10, 7, 4, 1]
    grid.selected = 4
    grid.step(1)
    assert grid.selected == 1
    grid.step(1)
    assert grid.selected == 1  # the last stays the last
