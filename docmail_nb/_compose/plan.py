"""Rows × template → one draft message per row (or per group), every problem found first.

``make_plan`` renders every row, checks everything that can be checked before sending
(addresses, header injection, attachments, keys, sizes) and collects *all* problems; rows
without problems stay sendable. A draft becomes the message sent in ``message``; ``preview``
shows it as a mail program will.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from docmail_nb._compose.fitting import check_file_order, layout_advice
from docmail_nb._compose.message import Attachment, Draft
from docmail_nb._compose.planner import Planner
from docmail_nb._compose.reminders import reminder_basis
from docmail_nb._compose.rows import (
    Problem,
    RowChoice,
    Skipped,
)
from docmail_nb._compose.templates import MessageTemplate, load_template
from docmail_nb._sheets.orders import Orders, read_orders
from docmail_nb._store.ledger import LedgerLike, existing_ledger
from docmail_nb.errors import ConfigError
from docmail_nb.words import counted

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Attachment",
    "Draft",
    "Plan",
    "default_documents",
    "make_plan",
    "read_and_plan",
]

MAX_MESSAGE_BYTES = 20 * 1024 * 1024


@dataclass
class Plan:
    """Sendable drafts, every problem found, and the rows skipped on purpose, for one campaign."""

    campaign: str
    drafts: list[Draft]
    problems: list[Problem]
    total_rows: int
    row_keys: dict[int, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # worth a look, not a problem
    skipped: list[Skipped] = field(default_factory=list)  # Send-If false, not among --rows
    delimiter: str | None = None  # the separator of the orders csv (exports use it too)
    reminder: tuple[str, int] | None = None  # a reminder: (the campaign reminded of, level)

    @property
    def ok(self) -> bool:
        """True when no row has a problem."""
        return not self.problems

    @property
    def problem_rows(self) -> set[int]:
        """Sheet row numbers that have at least one problem."""
        return {problem.row for problem in self.problems if problem.row is not None}

    def summary(self) -> str:
        """One line: "8 messages ready to send; 3 problems in 2 of 10 rows."."""
        ready = len(self.drafts)
        line = f"{counted(ready, 'message')} ready to send"
        if not self.problems and self.skipped:
            checked = self.total_rows - len(self.skipped)
            return f"{line}; all {checked} rows checked are fine, {len(self.skipped)} left out."
        if not self.problems:
            return f"{line}; all {self.total_rows} rows are fine."
        count = len(self.problems)
        problems = counted(count, "problem")
        if self.problem_rows:
            return f"{line}; {problems} in {len(self.problem_rows)} of {self.total_rows} rows."
        return f"{line}; {problems} in the template stop every row."

    def draft_for_row(self, row: int) -> Draft | None:
        """The draft that carries sheet row ``row``, if it is sendable."""
        return next((draft for draft in self.drafts if row in draft.rows), None)


def default_documents(orders_path: str | Path, template_folder: str | Path | None = None) -> Path:
    """Where attachments are looked for when no folder is given: the one rule for every face.

    A ``documents`` folder beside the template's folder, else a ``documents`` folder beside the
    orders file, else the orders file's own folder.
    """
    orders_dir = Path(orders_path).expanduser().resolve().parent
    candidates = [orders_dir / "documents"]
    if template_folder is not None:
        candidates.insert(0, Path(template_folder).expanduser().resolve().parent / "documents")
    return next((folder for folder in candidates if folder.is_dir()), orders_dir)


def make_plan(
    orders: Orders,
    template: MessageTemplate,
    *,
    documents: str | Path | None = None,
    campaign: str | None = None,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    locale: str = "de_CH",
    documents_out: str | Path | None = None,
    rows: RowChoice | str | None = None,
    max_recipients: int | None = None,
    ledger: LedgerLike = None,
    today: dt.date | None = None,
) -> Plan:
    """Render and check every row; every problem of every row is collected.

    A reminder template (``Reminder-Of``) is planned against ``ledger`` (the default ledger
    when None): only keys delivered and not paid in full, at most once per level, each with
    the documents its campaign sent; ``today`` is the day days_overdue counts to.

    ``max_recipients`` is the provider's limit of recipients per message (the profile's
    ``limits.recipients_per_message``): a message with more is a problem of its rows.

    Documents made from a ``Document:`` template are saved into ``documents_out`` when sent
    (default: ``generated`` in the documents folder). ``rows`` (``"2-40,45"``) chooses rows by
    sheet row number; rows not chosen, and rows for which the template's Send-If is false, are
    listed in ``Plan.skipped``, not checked.
    """
    folder = (
        Path(documents).expanduser()
        if documents
        else default_documents(orders.source, template.folder)
    )
    out = Path(documents_out).expanduser() if documents_out else folder / "generated"
    choice = RowChoice.parse(rows) if isinstance(rows, str) else rows
    name = campaign or template.name
    reminders = None
    if template.reminder_of is not None:
        with existing_ledger(ledger) as existing:
            reminders = reminder_basis(existing, template, name, today)
    planner = Planner(orders, template, folder, max_message_bytes, locale, out, choice, reminders)
    drafts, problems = planner.run()
    if max_recipients is not None:
        drafts = _within_recipient_limit(drafts, problems, max_recipients)
    return Plan(
        campaign=name,
        drafts=drafts,
        problems=problems,
        total_rows=len(orders),
        row_keys=planner.row_keys,
        notices=list(orders.notices) + planner.notices,
        skipped=planner.skipped,
        delimiter=orders.delimiter,
        reminder=None if reminders is None else (reminders.of, reminders.level),
    )


def _within_recipient_limit(
    drafts: list[Draft], problems: list[Problem], limit: int
) -> list[Draft]:
    """The drafts with at most ``limit`` envelope recipients; the others become problems."""
    kept = []
    for draft in drafts:
        count = len(draft.recipients)
        if count <= limit:
            kept.append(draft)
            continue
        problems.extend(
            Problem(
                row=row,
                key=draft.key,
                field="To",
                message=f"The message has {count} recipients (To, Cc and Bcc), more than the "
                f"{limit} per message the profile's provider accepts.",
                hint="Split the addresses over several messages (rows), or send to a "
                "distribution list's address.",
            )
            for row in draft.rows
        )
    problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return kept


def read_and_plan(
    orders_path: str | Path,
    template_path: str | Path | None = None,
    *,
    template: MessageTemplate | None = None,
    documents: str | Path | None = None,
    sheet: str | int | None = None,
    campaign: str | None = None,
    header_row: int | None = None,
    documents_out: str | Path | None = None,
    rows: RowChoice | str | None = None,
    max_recipients: int | None = None,
    ledger: LedgerLike = None,
) -> tuple[Orders, MessageTemplate, Plan]:
    """Read the orders (and the template file, unless ``template`` is given) and plan them.

    What every face does before anything else (``docmail check``, the panels, the scheduled
    notebook, :class:`~docmail_nb.batch.Batch`). Without ``documents``, attachments are looked
    for as ``default_documents`` says; made documents go to ``documents_out`` (default:
    ``generated`` in the documents folder). A template that fits no column of the sheet gets
    advice: the header row or the sheet that fits.
    """
    if template is None:
        if template_path is None:
            raise ConfigError("No template was given.", "Give a template file.")
        check_file_order(orders_path, template_path)
        template = load_template(template_path)
    orders = read_orders(orders_path, sheet=sheet, header_row=header_row)
    plan = make_plan(
        orders,
        template,
        documents=documents,
        campaign=campaign,
        max_recipients=max_recipients,
        documents_out=documents_out,
        rows=rows,
        ledger=ledger,
    )
    if any(problem.row is None for problem in plan.problems):
        advice = layout_advice(orders_path, template, orders, sheet)
        if advice:
            plan.problems = [
                replace(p, hint=p.hint + advice) if p.row is None else p for p in plan.problems
            ]
    return orders, template, plan
