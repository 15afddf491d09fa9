"""Problems listed in bounds: those many rows share grouped, long lists capped with a count.

``group_problems`` puts the rows that have the same problem (same field, message and hint)
into one :class:`ProblemGroup`, whose label names them as spans ("Rows 2–20,001"); a list of
groups is cut with :func:`capped`, which says how many problems and rows were left out. The
output of a check therefore grows with the number of *different* problems, not with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from docmail_nb.words import join_reasons

__all__ = [
    "LISTED",
    "ProblemGroup",
    "ProblemLike",
    "capped",
    "group_problems",
    "join_reasons",
    "row_spans",
]

#: problem groups a list shows before "and N more"
LISTED = 50
#: row spans a label names before "and N more"
_SPANS = 8


class ProblemLike(Protocol):
    """What a problem has: the row (None: every row), key, field, message and hint."""

    @property
    def row(self) -> int | None: ...
    @property
    def key(self) -> str | None: ...
    @property
    def field(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def hint(self) -> str: ...


def row_spans(rows: Iterable[int], limit: int = _SPANS) -> str:
    """``[2, 3, 4, 11]`` → ``"2–4, 11"``; past ``limit`` spans, ``"and N more rows"``."""
    spans: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if spans and spans[-1][1] == row - 1:
            spans[-1] = (spans[-1][0], row)
        else:
            spans.append((row, row))
    words = [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in spans[:limit]]
    rest = sum(b - a + 1 for a, b in spans[limit:])
    if rest:
        words.append(f"and {rest:,} more row{'s' * (rest != 1)}")
    return ", ".join(words)


@dataclass(frozen=True)
class ProblemGroup:
    """One problem and every row that has it."""

    rows: tuple[int, ...]  # empty: a problem of the template or sheet (every row)
    keys: tuple[str, ...]
    field: str
    message: str
    hint: str

    @property
    def label(self) -> str:
        """ "Row 4 (R-1002)", "Rows 2–20,001 (DUP-1)", "3 rows: 4, 9, 12" or "All rows"."""
        if not self.rows:
            return "All rows"
        keys = f" ({self.keys[0]})" if len(self.keys) == 1 else ""
        if len(self.rows) == 1:
            return f"Row {self.rows[0]:,}{keys}"
        return f"{len(self.rows):,} rows{keys}: {row_spans(self.rows)}"

    @property
    def row_text(self) -> str:
        """The rows alone: "all", "4" or "2–20,001"."""
        return row_spans(self.rows) if self.rows else "all"


def group_problems(problems: Sequence[ProblemLike]) -> list[ProblemGroup]:
    """The problems grouped by (field, message, hint), in the order they first appear."""
    groups: dict[tuple[bool, str, str, str], tuple[list[int], list[str]]] = {}
    for problem in problems:
        whole = problem.row is None
        rows, keys = groups.setdefault(
            (whole, problem.field, problem.message, problem.hint), ([], [])
        )
        if problem.row is not None:
            rows.append(problem.row)
        if problem.key and problem.key not in keys:
            keys.append(problem.key)
    return [
        ProblemGroup(tuple(rows), tuple(keys), field, message, hint)
        for (_, field, message, hint), (rows, keys) in groups.items()
    ]


def capped(groups: Sequence[ProblemGroup], limit: int = LISTED) -> tuple[list[ProblemGroup], str]:
    """The first ``limit`` groups, and a line saying what was left out ("" when nothing)."""
    shown = list(groups[:limit])
    rest = groups[limit:]
    if not rest:
        return shown, ""
    problems = sum(max(1, len(group.rows)) for group in rest)
    rows = len({row for group in rest for row in group.rows})
    in_rows = f" in {rows:,} row{'s' * (rows != 1)}" if rows else ""
    return shown, f"… and {problems:,} more problem{'s' * (problems != 1)}{in_rows}."
