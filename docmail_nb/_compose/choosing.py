"""Which rows a plan takes: those ``--rows`` chose, those a reminder may go to now, those for
which Send-If holds; the others are listed as left out. And how Group-By groups the rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from docmail_nb._compose.cells import TemplateCells
from docmail_nb._compose.reminders import Reminders
from docmail_nb._compose.rows import NO_REMINDER, ReportProblem, RowChoice, Skipped
from docmail_nb._compose.templates import MessageTemplate
from docmail_nb._sheets.orders import CellError
from docmail_nb.words import setting

__all__ = ["RowChooser"]


class RowChooser:
    """Chooses and groups one plan's rows: a row left out goes to ``skipped`` (a note to
    ``notices``), a row whose Send-If cannot be decided is reported to ``problem``."""

    def __init__(
        self,
        template: MessageTemplate,
        env: SandboxedEnvironment,
        cells: TemplateCells,
        choice: RowChoice | None,
        reminders: Reminders | None,
        problem: ReportProblem,
        skipped: list[Skipped],
        notices: list[str],
    ) -> None:
        self.template = template
        self.env = env
        self.cells = cells
        self.choice = choice
        self.reminders = reminders
        self._problem = problem
        self.skipped = skipped
        self.notices = notices

    def chosen(self, records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
        """The records asked for (--rows) for which Send-If holds; the others are skipped."""
        if self.choice is not None:
            records = self._among_rows_asked(records, self.choice)
        if self.reminders is not None:
            records = self._to_be_reminded(records, self.reminders)
        if self.template.send_if is None:
            return records
        return self._where_send_if_holds(records, self.template.send_if)

    def _to_be_reminded(
        self, records: list[tuple[int, dict[str, Any]]], reminders: Reminders
    ) -> list[tuple[int, dict[str, Any]]]:
        """The records whose key may get this reminder now, with the names a reminder adds
        (days_overdue, open_amount, paid_amount); the others are skipped with the reason."""
        kept: list[tuple[int, dict[str, Any]]] = []
        for number, values in records:
            key = self._quiet_key(values)
            refusal = reminders.refusal(key) if key else None
            if key and refusal is None:
                kept.append((number, {**values, **reminders.values(key, values)}))
            else:
                reason = refusal.reason if refusal else "the Key is empty"
                self.skipped.append(Skipped(number, key, f"{NO_REMINDER}: {reason}"))
        return kept

    def _among_rows_asked(
        self, records: list[tuple[int, dict[str, Any]]], choice: RowChoice
    ) -> list[tuple[int, dict[str, Any]]]:
        """The records --rows chose; the others are skipped, rows asked for but absent noted."""
        reason = f"not among the rows chosen ({setting('rows', choice.text)})"
        for number, values in records:
            if number not in choice:
                self.skipped.append(Skipped(number, self._quiet_key(values), reason))
        present = {number for number, _ in records}
        missing = [
            f"{low}" if low == high else f"{low}-{high}"
            for low, high in choice.spans
            if high < 10**12 and not any(low <= n <= high for n in present)
        ]
        if missing:
            self.notices.append(
                f"{setting('rows', choice.text)}: the sheet has no order in row(s) "
                f"{', '.join(missing)}."
            )
        return [(n, v) for n, v in records if n in choice]

    def _where_send_if_holds(
        self, records: list[tuple[int, dict[str, Any]]], expression: str
    ) -> list[tuple[int, dict[str, Any]]]:
        """The records for which Send-If is true; false ones are skipped, errors are problems."""
        test = self.env.compile_expression(expression, undefined_to_none=False)
        names = self.cells.names_in(f"{{{{ ({expression}) }}}}")[0]
        kept: list[tuple[int, dict[str, Any]]] = []
        for number, values in records:
            wanted = self._send_if(expression, test, names, number, values)
            if wanted:
                kept.append((number, values))
            elif wanted is not None:
                shown = ", ".join(
                    f"{n} empty" if values.get(n) is None else f"{n} = {values[n]!r}" for n in names
                )
                reason = f"Send-If {{{{ {expression} }}}} is false" + (
                    f" ({shown})" if shown else ""
                )
                self.skipped.append(Skipped(number, self._quiet_key(values), reason))
        return kept

    def _send_if(
        self,
        expression: str,
        test: Callable[..., Any],
        names: list[str],
        number: int,
        values: dict[str, Any],
    ) -> bool | None:
        """Send-If for one row; None (and a problem) when it cannot be decided."""
        errors = [values[n] for n in names if isinstance(values.get(n), CellError)]
        if errors:
            self._problem(
                number,
                None,
                "Send-If",
                f"Cannot decide Send-If: {errors[0].describe()}.",
                errors[0].hint(),
            )
            return None
        try:
            return bool(test(dict(values, row=values, rows=[values])))
        except (ValueError, TypeError, ArithmeticError, JinjaError) as exc:
            self._problem(
                number,
                None,
                "Send-If",
                f"Cannot decide Send-If {{{{ {expression} }}}}: {exc}.",
                self.cells.hint(f"{{{{ {expression} }}}}", number, values),
            )
            return None

    def _quiet_key(self, values: dict[str, Any]) -> str | None:
        """The row's Key for listing a skipped row, or None (a skipped row has no problems)."""
        source = self.template.header("Key")
        if source is None:
            group = values.get(self.template.group_by or "")
            return None if group is None else str(group)
        try:
            key = self.cells.compile(self.env, source).render(
                dict(values, row=values, rows=[values])
            )
        except Exception:
            return None
        return " ".join(key.split()) or None

    def groups(
        self, records: list[tuple[int, dict[str, Any]]]
    ) -> list[list[tuple[int, dict[str, Any]]]]:
        group_by = self.template.group_by
        if not group_by:
            return [[record] for record in records]
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for number, values in records:
            value = values.get(group_by)
            if value is None:
                self._problem(
                    number,
                    None,
                    "Group-By",
                    f"The {group_by} cell is empty, so the row belongs to no group.",
                    f"Fill in {group_by}.",
                )
                continue
            groups.setdefault(str(value), []).append((number, values))
        return list(groups.values())
