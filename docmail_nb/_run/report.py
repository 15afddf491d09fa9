"""What a run did: one result per message, the report over all of them, files to keep.

``Report.frame`` is a DataFrame (pandas is imported only when a frame is asked for); ``save``
and ``save_failed_rows`` write .xlsx or .csv that open safely in a spreadsheet program: a csv
has a BOM (so Excel reads it as UTF-8) and the separator asked for (``--csv-separator ';'``
for Swiss Excel), else the one the orders csv had (``,`` when the orders were no csv).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docmail_nb._compose.problem_list import join_reasons
from docmail_nb._sheets.exports import save_table
from docmail_nb.errors import Diagnosis

if TYPE_CHECKING:
    import pandas as pd

    from docmail_nb._compose.rows import Problem, Skipped
    from docmail_nb._sheets.orders import Orders

from docmail_nb._compose.rows import NO_REMINDER
from docmail_nb.words import RUN_WORDS, ResultState, plural, setting

__all__ = ["REPORT_COLUMNS", "TROUBLE_STATES", "MessageResult", "Progress", "Report"]

#: states that make a run unsuccessful (exit status 1)
TROUBLE_STATES = frozenset({"problem", "failed", "deferred", "unknown", "changed", "bounced"})
REPORT_COLUMNS = [
    "rows", "key", "to", "cc", "bcc", "state", "message_id", "reply", "error", "hint", "attempts",
]  # fmt: skip


@dataclass(frozen=True)
class MessageResult:
    """What happened to one message in this run."""

    rows: tuple[int, ...]
    key: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    state: ResultState
    message_id: str = ""
    reply: str = ""
    error: str = ""
    hint: str = ""
    attempts: int = 0
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def trouble(self) -> bool:
        """True when this message needs the user's attention."""
        return self.state in TROUBLE_STATES or bool(self.refused)

    @property
    def label(self) -> str:
        """Which message: "Row 4 (R-1002)" ("Rows 4, 5 (K-7)" for a group)."""
        rows = ", ".join(str(row) for row in self.rows)
        return f"{plural(len(self.rows), 'Row')} {rows} ({self.key})"

    @property
    def reason(self) -> str:
        """Why it ended as it did (refused recipients are named in the error)."""
        return self.error or self.state

    def __str__(self) -> str:
        return f"{self.label}: {self.state}: {self.reason}"


Progress = Callable[[int, int, MessageResult], None]


@dataclass
class Report:
    """Every message of a run and every problem row: a DataFrame, a summary, files."""

    campaign: str
    results: list[MessageResult]
    problems: list[Problem] = field(default_factory=list)
    fatal: Diagnosis | None = None
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # left out on purpose: not trouble
    delimiter: str = ","  # for csv files: the separator the orders csv had
    #: after the run, how many of the campaign's messages are in each state of docmail status
    after_sent: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no row had a problem and no message failed, was refused or is unknown."""
        return (
            self.fatal is None
            and not self.problems
            and not any(result.trouble for result in self.results)
        )

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.state] = counts.get(result.state, 0) + 1
        return counts

    @property
    def frame(self) -> pd.DataFrame:
        """One row per message, then one per problem (state "problem")."""
        records: list[dict[str, Any]] = [
            {
                "rows": ", ".join(str(r) for r in result.rows),
                "key": result.key,
                "to": ", ".join(result.to),
                "cc": ", ".join(result.cc),
                "bcc": ", ".join(result.bcc),
                "state": result.state,
                "message_id": result.message_id,
                "reply": result.reply,
                "error": result.error,
                "hint": result.hint,
                "attempts": result.attempts,
            }
            for result in self.results
        ]
        records += [
            {
                "rows": "" if problem.row is None else str(problem.row),
                "key": problem.key or "",
                "to": "",
                "cc": "",
                "bcc": "",
                "state": "problem",
                "message_id": "",
                "reply": "",
                "error": problem.reason,
                "hint": problem.hint,
                "attempts": 0,
            }
            for problem in self.problems
        ]
        records += [
            dict.fromkeys(REPORT_COLUMNS, "")
            | {
                "rows": str(item.row),
                "key": item.key or "",
                "state": "left out",
                "error": item.reason,
                "attempts": 0,
            }
            for item in self.skipped
            if item.reason.startswith(("Send-If", NO_REMINDER))
        ]
        import pandas as pd

        return pd.DataFrame.from_records(records, columns=REPORT_COLUMNS)

    def summary(self) -> str:
        """One line: how many messages ended how."""
        counts = self.counts()
        parts = [
            f"{counts[state]} {label}" for state, label in RUN_WORDS.items() if counts.get(state)
        ]
        refused = sum(1 for result in self.results if result.refused)
        if refused:
            parts.append(f"{refused} with refused recipients")
        problem_rows = {p.row for p in self.problems if p.row is not None}
        if self.problems:
            parts.append(f"{len(problem_rows) or len(self.problems)} row(s) with problems")
        by_send_if = sum(1 for item in self.skipped if item.reason.startswith("Send-If"))
        if by_send_if:
            parts.append(f"{by_send_if} row(s) left out by Send-If")
        no_reminder = sum(1 for item in self.skipped if item.reason.startswith(NO_REMINDER))
        if no_reminder:
            parts.append(f"{no_reminder} row(s) not to be reminded")
        if len(self.skipped) > by_send_if + no_reminder:
            parts.append(
                f"{len(self.skipped) - by_send_if - no_reminder} row(s) not among {setting('rows')}"
            )
        line = f"Campaign {self.campaign!r}: " + (", ".join(parts) or "nothing to send") + "."
        if self.fatal is not None:
            line += f" Stopped: {self.fatal.summary}"
        for note in self.notes:
            line += f" {note}"
        return line

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        table = self.frame.to_html(index=False, escape=True)
        return f"<p>{escape(self.summary())}</p>{table}"

    def save(self, path: str | Path, delimiter: str | None = None) -> Path:
        """Write the report as .xlsx or .csv (chosen by the file's suffix); a csv with
        ``delimiter``, else the separator the orders csv had."""
        return save_table(self.frame, path, "report", delimiter or self.delimiter)

    def failed_rows(self, orders: Orders) -> pd.DataFrame:
        """The original columns of every row that needs attention, plus an ``error`` column."""
        errors: dict[int, list[str]] = {}
        for problem in self.problems:
            if problem.row is not None:
                errors.setdefault(problem.row, []).append(problem.reason)
        for result in self.results:
            if result.trouble:
                text = result.reason
                for row in result.rows:
                    errors.setdefault(row, []).append(text)
        positions = [i for i, row in enumerate(orders.row_numbers) if row in errors]
        frame = orders.frame.iloc[positions].map(_as_cell)
        frame["error"] = [join_reasons(errors[orders.row_numbers[i]]) for i in positions]
        frame.insert(0, "row", [orders.row_numbers[i] for i in positions])
        return frame.reset_index(drop=True)

    def save_failed_rows(
        self, orders: Orders, path: str | Path, delimiter: str | None = None
    ) -> Path | None:
        """Write ``failed_rows`` as .xlsx or .csv (with ``delimiter``, else the orders'
        separator), ready to fix and send again.

        Writes nothing and returns None when no row needs attention (an old file of that name
        is left as it is: the caller says that nothing failed).
        """
        frame = self.failed_rows(orders)
        if frame.empty:
            return None
        separator = delimiter or orders.delimiter or self.delimiter
        return save_table(frame, path, "failed rows", separator)


def _as_cell(value: Any) -> Any:
    """A value as a spreadsheet cell: an Excel error as the text the sheet showed."""
    from docmail_nb._sheets.orders import CellError

    return str(value) if isinstance(value, CellError) else value
