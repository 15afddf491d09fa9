"""Rows as the plan sees them: chosen (``--rows``), left out on purpose, or with a problem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from docmail_nb._compose.message import Draft
from docmail_nb.errors import ConfigError
from docmail_nb.words import counted, plural, setting

__all__ = [
    "NO_REMINDER",
    "Problem",
    "ReportProblem",
    "RowChoice",
    "Skipped",
    "describe_recipients",
    "describe_skipped",
]

#: how the reason of a row a reminder leaves out begins ("no reminder: paid ...")
NO_REMINDER = "no reminder"


@dataclass(frozen=True)
class Problem:
    """One thing that keeps a row (or, with ``row=None``, every row) from being sent."""

    row: int | None
    key: str | None
    field: str
    message: str
    hint: str

    @property
    def label(self) -> str:
        """Which row: "Row 4 (R-1002)", or "All rows" for a problem of the template or sheet."""
        if self.row is None:
            return "All rows"
        return f"Row {self.row}" + (f" ({self.key})" if self.key else "")

    @property
    def reason(self) -> str:
        """What is wrong: "To: 'max@' is not a valid address"."""
        return f"{self.field}: {self.message}"

    def __str__(self) -> str:
        return f"{self.label}: problem in {self.reason}"


#: how the planner's parts report a problem: (row, key, field, message, hint)
ReportProblem = Callable[[int | None, str | None, str, str, str], None]


@dataclass(frozen=True)
class Skipped:
    """A row left out on purpose (Send-If false, not among ``--rows``, or a reminder not due
    for it): not a problem."""

    row: int
    key: str | None
    reason: str

    def describe(self) -> str:
        """``Row 9 (R-105): Send-If {{ status != "bezahlt" }} is false (status = 'bezahlt')``."""
        return f"Row {self.row}{f' ({self.key})' if self.key else ''}: {self.reason}"


def describe_skipped(skipped: list[Skipped]) -> list[str]:
    """One line per row Send-If left out, one line for all rows not among --rows."""
    lines = [item.describe() for item in skipped if not item.reason.startswith("not among")]
    outside = [item for item in skipped if item.reason.startswith("not among")]
    if outside:
        lines.append(
            f"{plural(len(outside), 'Row')} {_spans([item.row for item in outside])}: "
            f"{outside[0].reason}"
        )
    return lines


def describe_recipients(drafts: list[Draft]) -> str:
    """How many envelope recipients the messages have, e.g. "1 recipient: 17 messages; 3
    recipients: 1 message (R-0005)" (the messages with more than one are named)."""
    by_count: dict[int, list[str]] = {}
    for draft in drafts:
        by_count.setdefault(len(draft.recipients), []).append(draft.key)
    parts = []
    for count in sorted(by_count):
        keys = by_count[count]
        text = f"{counted(count, 'recipient')}: {counted(len(keys), 'message')}"
        if count > 1:
            shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
            text += f" ({shown})"
        parts.append(text)
    return "; ".join(parts)


def _spans(numbers: list[int]) -> str:
    """``[2, 3, 4, 11]`` → ``2-4, 11``."""
    parts: list[str] = []
    for number in sorted(numbers):
        if parts and parts[-1].split("-")[-1] == str(number - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{number}"
        else:
            parts.append(str(number))
    return ", ".join(parts)


@dataclass(frozen=True)
class RowChoice:
    """The rows asked for, as ``--rows 2-40,45`` gives them (sheet row numbers)."""

    spans: tuple[tuple[int, int], ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> RowChoice:
        """``"2-40,45"``, ``"5-"`` (row 5 to the end); ConfigError when it is not that."""
        spans: list[tuple[int, int]] = []
        for part in text.replace(" ", "").split(","):
            match = re.fullmatch(r"(\d+)(?:(-)(\d*))?", part)
            if match is None or int(match.group(1)) < 1:
                raise ConfigError(
                    f"{setting('rows', repr(text))}: {part!r} is not a row number or a "
                    "range of rows.",
                    f"Give sheet row numbers and ranges, e.g. {setting('rows', '2-40,45')} (5- "
                    "for row 5 to "
                    "the end).",
                )
            low = int(match.group(1))
            high = low if not match.group(2) else int(match.group(3) or 10**12)
            if high < low:
                raise ConfigError(
                    f"{setting('rows', repr(text))}: the range {part} runs backwards.",
                    f"Write it as {high}-{low}.",
                )
            spans.append((low, high))
        return cls(tuple(spans), text.replace(" ", ""))

    def __contains__(self, row: object) -> bool:
        return isinstance(row, int) and any(low <= row <= high for low, high in self.spans)
