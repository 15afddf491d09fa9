"""Invoices of a plan: each row's lines, totals and seller, and its e-invoice.

A message template with ``Lines: Positionen on invoice_no`` gives every row, besides its
columns, ``lines`` (each with its ``net``), ``totals`` (``net``, ``vat`` per rate,
``vat_total``, ``gross``, ``payable``) and ``seller`` (seller.toml beside the template). With
``E-Invoice: factur-x`` (or ``xrechnung``, or a placeholder choosing per row) the row's
invoice is also made as EN 16931 XML and checked; ``E-Invoice-Columns: company=Firma`` reads
the buyer from columns named otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docmail_nb._documents.einvoice import (
    BUYER_COLUMNS,
    EInvoice,
    Kind,
    amount_problem,
    make_einvoice,
    parse_columns,
    row_totals,
)
from docmail_nb._documents.lines import Line, LineProblem, Totals, parse_line
from docmail_nb._documents.seller import SELLER_FILE, Seller, load_seller
from docmail_nb._sheets.lines import LineSheet, key_text, read_line_sheet
from docmail_nb.errors import DocmailError

__all__ = ["INVOICE_NAMES", "Invoicing", "RowInvoice"]

#: The names a template with ``Lines:`` may use besides the sheet's columns.
INVOICE_NAMES = frozenset({"lines", "totals", "seller"})


@dataclass
class RowInvoice:
    """What one row's invoice is made of."""

    lines: list[Line] = field(default_factory=list)
    totals: Totals | None = None
    problems: list[LineProblem] = field(default_factory=list)


class Invoicing:
    """Reads the line sheet and seller.toml once; gives each row its lines and e-invoice."""

    def __init__(
        self,
        folder: Path,
        orders_source: Path,
        lines: tuple[str, str] | None,
        columns: str | None = None,
    ) -> None:
        self.folder = folder
        self.lines_header = lines
        self.columns, column_problems = parse_columns(columns or "")
        #: problems that stop every row: (field, message, hint)
        self.problems: list[tuple[str, str, str]] = [
            ("E-Invoice-Columns", problem, "Write field=column pairs separated by commas.")
            for problem in column_problems
        ]
        self.notices: list[str] = []
        self.sheet: LineSheet | None = None
        if lines is not None:
            try:
                self.sheet = read_line_sheet(orders_source, *lines)
            except DocmailError as exc:
                self.problems.append(("Lines", exc.message, exc.hint))
        self.seller: Seller | None = None
        self.seller_problems: list[LineProblem] = []
        seller_path = folder / SELLER_FILE
        if seller_path.exists() or lines is not None:
            self.seller, self.seller_problems = load_seller(seller_path)
        self.rows: dict[int, RowInvoice] = {}

    @property
    def names(self) -> frozenset[str]:
        """The names this plan adds to every row."""
        names = set()
        if self.lines_header is not None:
            names |= {"lines", "totals"}
        if self.seller is not None or self.lines_header is not None:
            names.add("seller")
        return frozenset(names)

    def check_orders(self, columns: list[str], keys: list[Any]) -> None:
        """The join column must be a column of the orders; lines of no order are noticed; the
        columns E-Invoice-Columns names must exist."""
        for field_name, column in self.columns.items():
            if column != BUYER_COLUMNS[field_name] and column not in columns:
                self.problems.append(
                    (
                        "E-Invoice-Columns",
                        f"{field_name}={column}: the orders have no column {column!r}.",
                        f"The orders' columns are: {', '.join(columns)}.",
                    )
                )
        if self.sheet is None:
            return
        if self.sheet.column not in columns:
            self.problems.append(
                (
                    "Lines",
                    f"Lines join on {self.sheet.column!r}, which the orders do not have.",
                    f"Name a column of both sheets; the orders' columns are: {', '.join(columns)}.",
                )
            )
            return
        known = {key_text(key) for key in keys}
        orphans = sorted(set(self.sheet.lines) - known)
        if orphans:
            rows = [str(n) for key in orphans for n, _ in self.sheet.lines[key]]
            self.notices.append(
                f"Lines in {self.sheet.source} (rows {', '.join(rows[:8])}"
                f"{' …' if len(rows) > 8 else ''}) name {self.sheet.column} "
                f"{', '.join(orphans[:5])}, which no order has."
            )

    def extend(self, number: int, values: dict[str, Any]) -> None:
        """Add ``lines``, ``totals`` and ``seller`` to a row's values (problems kept by row)."""
        if self.seller is not None:
            values.setdefault("seller", self.seller.as_mapping())
        if self.lines_header is None:
            return
        invoice = RowInvoice()
        self.rows[number] = invoice
        if self.sheet is not None:
            self._lines(values, invoice)
        totals, _currency, found = row_totals(invoice.lines, values, self.columns)
        if not invoice.problems:
            invoice.problems.extend(found)
            problem = amount_problem(totals, values, self.columns)
            if problem is not None:
                invoice.problems.append(problem)
        invoice.totals = totals
        values.setdefault("seller", {})
        values["lines"] = [line.as_mapping() for line in invoice.lines]
        values["totals"] = totals.as_mapping()

    def row_problems(self, number: int) -> list[LineProblem]:
        """The problems of a row's lines and seller (empty without ``Lines:``)."""
        invoice = self.rows.get(number)
        if invoice is None:
            return []
        return [*self.seller_problems, *invoice.problems]

    def einvoice(
        self,
        kind: Kind,
        number: int,
        key: str,
        values: Mapping[str, Any],
        *,
        account: str = "",
        reference: str = "",
    ) -> tuple[EInvoice | None, list[LineProblem]]:
        """The row's e-invoice, or its problems."""
        invoice = self.rows.get(number)
        if invoice is None:
            return None, [
                LineProblem(
                    "E-Invoice",
                    "needs the invoice's lines, but the template has no Lines header.",
                    "Add 'Lines: <sheet> on <column>' to the template.",
                    "BR-16",
                )
            ]
        if self.seller is None or invoice.problems:
            return None, []  # already named as the row's problems
        return make_einvoice(
            kind,
            number=key,
            values=values,
            lines=invoice.lines,
            seller=self.seller,
            columns=self.columns,
            account=account,
            reference=reference,
        )

    def _lines(self, values: dict[str, Any], invoice: RowInvoice) -> None:
        assert self.sheet is not None
        found = self.sheet.of(values.get(self.sheet.column))
        if not found:
            invoice.problems.append(
                LineProblem(
                    "Lines",
                    f"{self.sheet.source} has no line with {self.sheet.column} "
                    f"{key_text(values.get(self.sheet.column))!r}.",
                    f"Add the invoice's lines to {self.sheet.source}.",
                    "BR-16",
                )
            )
            return
        currency = str(values.get(self.columns["currency"]) or "CHF").strip().upper()
        country = self.seller.country if self.seller is not None else ""
        for position, (row, cells) in enumerate(found, 1):
            line, problems = parse_line(
                position,
                row,
                cells,
                currency=currency,
                seller_country=country,
                where=self.sheet.source,
            )
            invoice.problems.extend(problems)
            if line is not None:
                invoice.lines.append(line)
