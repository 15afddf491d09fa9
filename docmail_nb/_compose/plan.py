"""Rows × template → one draft message per row (or per group), every problem found first.

``make_plan`` renders every row, checks everything that can be checked before sending
(addresses, header injection, attachments, keys, sizes) and collects *all* problems; rows
without problems stay sendable. A draft becomes the message sent in ``message``; ``preview``
shows it as a mail program will.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import markdown
from jinja2 import Template, UndefinedError, nodes
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from docmail_nb._compose.attachments import AttachmentFinder, Refusal
from docmail_nb._compose.closest import closest_column
from docmail_nb._compose.fitting import check_file_order, layout_advice
from docmail_nb._compose.headers import header_problem, join_lines, parse_addresses
from docmail_nb._compose.message import Attachment, Draft, size_text
from docmail_nb._compose.problem_list import row_spans
from docmail_nb._compose.recipients import compose_addresses, parts_environment, render_parts
from docmail_nb._compose.templates import (
    ADDRESS_HEADERS,
    MessageTemplate,
    html_to_text,
    load_template,
    make_environment,
    template_variables,
)
from docmail_nb._documents.render import DocumentPlanner, PlannedDocument
from docmail_nb._sheets.orders import CellError, Orders, read_orders
from docmail_nb.errors import ConfigError, DocmailError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Attachment",
    "Draft",
    "Plan",
    "Problem",
    "RowChoice",
    "Skipped",
    "default_documents",
    "describe_recipients",
    "describe_skipped",
    "make_plan",
    "plan_from_files",
    "read_and_plan",
]

MAX_MESSAGE_BYTES = 20 * 1024 * 1024
_ADDRESS_HINT = (
    "Write addresses as name@example.ch or Name <name@example.ch>, separated by commas, "
    "without line breaks; a name cell holds a name only."
)


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


@dataclass(frozen=True)
class Skipped:
    """A row left out on purpose (Send-If false, or not among ``--rows``): not a problem."""

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
            f"Row{'s' * (len(outside) > 1)} {_spans([item.row for item in outside])}: "
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
        text = f"{count} recipient{'s' * (count != 1)}: {len(keys)} message{'s' * (len(keys) != 1)}"
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
                    f"--rows {text!r}: {part!r} is not a row number or a range of rows.",
                    "Give sheet row numbers and ranges, e.g. --rows 2-40,45 (5- for row 5 to "
                    "the end).",
                )
            low = int(match.group(1))
            high = low if not match.group(2) else int(match.group(3) or 10**12)
            if high < low:
                raise ConfigError(
                    f"--rows {text!r}: the range {part} runs backwards.",
                    f"Write it as {high}-{low}.",
                )
            spans.append((low, high))
        return cls(tuple(spans), text.replace(" ", ""))

    def __contains__(self, row: object) -> bool:
        return isinstance(row, int) and any(low <= row <= high for low, high in self.spans)


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
        line = f"{ready} message{'s' * (ready != 1)} ready to send"
        if not self.problems and self.skipped:
            checked = self.total_rows - len(self.skipped)
            return f"{line}; all {checked} rows checked are fine, {len(self.skipped)} left out."
        if not self.problems:
            return f"{line}; all {self.total_rows} rows are fine."
        count = len(self.problems)
        problems = f"{count} problem{'s' * (count != 1)}"
        if self.problem_rows:
            return f"{line}; {problems} in {len(self.problem_rows)} of {self.total_rows} rows."
        return f"{line}; {problems} in the template stop every row."

    def draft_for_row(self, row: int) -> Draft | None:
        """The draft that carries sheet row ``row``, if it is sendable."""
        return next((draft for draft in self.drafts if row in draft.rows), None)


def default_documents(orders_path: str | Path, template_path: str | Path | None = None) -> Path:
    """Where attachments are looked for when no folder is given.

    A ``documents`` folder beside the template's folder, else a ``documents`` folder beside the
    orders file, else the orders file's own folder.
    """
    orders_dir = Path(orders_path).expanduser().resolve().parent
    candidates = [orders_dir / "documents"]
    if template_path is not None:
        candidates.insert(0, Path(template_path).expanduser().resolve().parent.parent / "documents")
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
) -> Plan:
    """Render and check every row; every problem of every row is collected.

    ``max_recipients`` is the provider's limit of recipients per message (the profile's
    ``limits.recipients_per_message``): a message with more is a problem of its rows.

    Documents made from a ``Document:`` template are saved into ``documents_out`` when sent
    (default: ``generated`` in the documents folder). ``rows`` (``"2-40,45"``) chooses rows by
    sheet row number; rows not chosen, and rows for which the template's Send-If is false, are
    listed in ``Plan.skipped``, not checked.
    """
    folder = Path(documents).expanduser() if documents else default_documents(orders.source)
    out = Path(documents_out).expanduser() if documents_out else folder / "generated"
    choice = RowChoice.parse(rows) if isinstance(rows, str) else rows
    planner = _Planner(orders, template, folder, max_message_bytes, locale, out, choice)
    drafts, problems = planner.run()
    if max_recipients is not None:
        drafts = _within_recipient_limit(drafts, problems, max_recipients)
    return Plan(
        campaign=campaign or template.name,
        drafts=drafts,
        problems=problems,
        total_rows=len(orders),
        row_keys=planner.row_keys,
        notices=list(orders.notices) + planner.notices,
        skipped=planner.skipped,
        delimiter=orders.delimiter,
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


@dataclass(frozen=True)
class _Headers:
    """A message's rendered and checked headers."""

    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    sender: str
    reply_to: str
    subject: str
    extra: tuple[tuple[str, str], ...]


class _Planner:
    """Does the work of make_plan; one instance per call."""

    def __init__(
        self,
        orders: Orders,
        template: MessageTemplate,
        documents: Path,
        max_bytes: int,
        locale: str,
        documents_out: Path,
        choice: RowChoice | None = None,
    ) -> None:
        self.orders = orders
        self.choice = choice
        self.template = template
        self.max_bytes = max_bytes
        self.env = make_environment(locale)
        # html bodies escape every value; markdown bodies escape values for markdown and html
        # (the plain-text part of a markdown body is rendered with self.env, values as they are)
        self.body_env: SandboxedEnvironment = make_environment(
            locale, autoescape=template.format != "text", markdown=template.format == "markdown"
        )
        self.parts_env = parts_environment(self.env)
        self.compiled: dict[tuple[SandboxedEnvironment, str], Template] = {}
        self.checked_addresses: dict[str, tuple[list[str], list[str]]] = {}
        self.attachments = AttachmentFinder(documents)
        self.attachment_names: dict[int, list[str]] = {}  # row → the names it attaches
        self.missing: list[tuple[int, int, str]] = []  # (problem index, row, name looked for)
        self.problems: list[Problem] = []
        self.row_keys: dict[int, str] = {}
        self.key_groups: dict[str, list[tuple[int, ...]]] = {}
        self.skipped: list[Skipped] = []
        self.notices: list[str] = []
        self.names: dict[str, tuple[list[str], list[str]]] = {}
        self.scope: list[tuple[int, dict[str, Any]]] = []  # the rows being rendered
        self.document_planner = DocumentPlanner(template.folder, documents_out.resolve(), locale)

    def run(self) -> tuple[list[Draft], list[Problem]]:
        if not self._template_fits_columns():
            return [], self.problems
        groups = self._groups(self._chosen(list(self.orders.records())))
        drafts: list[Draft] = []
        for rows in groups:
            draft = self._draft(rows)
            if draft is not None:
                drafts.append(draft)
        drafts = self._drop_duplicate_keys(drafts)
        self._suggest_missing_attachments()
        self.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
        return drafts, self.problems

    # --- template against the columns ----------------------------------------------------

    def _template_fits_columns(self) -> bool:
        columns = self.orders.columns
        missing: dict[str, list[str]] = {}
        for part, names in template_variables(self.template).items():
            for name in sorted(names - set(columns)):
                missing.setdefault(name, []).append(part)
        for name, parts in missing.items():
            close = closest_column(name, columns)
            hint = f"Did you mean {{{{ {close} }}}}? " if close else ""
            self._problem(
                None,
                None,
                parts[0],
                f"The placeholder {{{{ {name} }}}} (in {', '.join(parts)}) names no column "
                f"of the sheet{f' {self.orders.sheet!r}' if self.orders.sheet else ''}.",
                f"{hint}The columns are: {', '.join(columns)}.",
            )
        fits = not missing and self._documents_fit_columns()
        group_by = self.template.group_by
        if group_by and group_by not in columns:
            close = closest_column(group_by, columns)
            self._problem(
                None,
                None,
                "Group-By",
                f"Group-By names the column {group_by!r}, which the sheet does not have.",
                f"Did you mean {close!r}?" if close else f"The columns are: {', '.join(columns)}.",
            )
            fits = False
        return fits

    def _documents_fit_columns(self) -> bool:
        """Each Document template (a fixed file name) loads and uses only the sheet's columns."""
        fits = True
        for source in self.template.header_all("Document"):
            if "{" in source:
                continue  # a name made from the row: checked row by row
            try:
                renderer = self.document_planner.renderer(source)
            except DocmailError as exc:
                self._problem(None, None, "Document", exc.message, exc.hint)
                fits = False
                continue
            columns = self.orders.columns
            for name in sorted(renderer.columns - set(columns)):
                close = closest_column(name, columns)
                self._problem(
                    None,
                    None,
                    "Document",
                    f"The document {renderer.template.name} uses {{{{ {name} }}}}, which names "
                    "no column of the sheet.",
                    (f"Did you mean {{{{ {close} }}}}? " if close else "")
                    + f"The columns are: {', '.join(columns)}.",
                )
                fits = False
        return fits

    # --- which rows ----------------------------------------------------------------------

    def _chosen(
        self, records: list[tuple[int, dict[str, Any]]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """The records asked for (--rows) for which Send-If holds; the others are skipped."""
        if self.choice is not None:
            records = self._among_rows_asked(records, self.choice)
        if self.template.send_if is None:
            return records
        return self._where_send_if_holds(records, self.template.send_if)

    def _among_rows_asked(
        self, records: list[tuple[int, dict[str, Any]]], choice: RowChoice
    ) -> list[tuple[int, dict[str, Any]]]:
        """The records --rows chose; the others are skipped, rows asked for but absent noted."""
        reason = f"not among the rows chosen (--rows {choice.text})"
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
                f"--rows {choice.text}: the sheet has no order in row(s) {', '.join(missing)}."
            )
        return [(n, v) for n, v in records if n in choice]

    def _where_send_if_holds(
        self, records: list[tuple[int, dict[str, Any]]], expression: str
    ) -> list[tuple[int, dict[str, Any]]]:
        """The records for which Send-If is true; false ones are skipped, errors are problems."""
        test = self.env.compile_expression(expression, undefined_to_none=False)
        names = self._names(f"{{{{ ({expression}) }}}}")[0]
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
                self._cell_hint(f"{{{{ {expression} }}}}", number, values),
            )
            return None

    def _quiet_key(self, values: dict[str, Any]) -> str | None:
        """The row's Key for listing a skipped row, or None (a skipped row has no problems)."""
        source = self.template.header("Key")
        if source is None:
            group = values.get(self.template.group_by or "")
            return None if group is None else str(group)
        try:
            key = self._compile(self.env, source).render(dict(values, row=values, rows=[values]))
        except Exception:
            return None
        return " ".join(key.split()) or None

    def _groups(
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

    # --- one message ---------------------------------------------------------------------

    def _draft(self, rows: list[tuple[int, dict[str, Any]]]) -> Draft | None:
        """The message for ``rows`` (one row, or a Group-By group), or None: it has problems."""
        numbers = [number for number, _ in rows]
        first, values = rows[0]
        context = dict(values, row=values, rows=[v for _, v in rows])
        if self.template.group_by:
            context["group"] = values[self.template.group_by]
        before = len(self.problems)
        self.scope = rows

        key = self._key(first, context)
        self.row_keys.update(dict.fromkeys(numbers, key or ""))
        if key:
            self.key_groups.setdefault(key, []).append(tuple(numbers))
        report_key = key or None

        headers = self._headers(first, report_key, context, before)
        attachments = self._attachments(rows, report_key)
        documents = self._documents(rows, report_key)
        attachments += tuple(
            Attachment(path=doc.path, filename=doc.name, size=0) for doc in documents
        )
        body = self._render(self.body_env, self.template.body, first, report_key, "body", context)
        text, html = ("", None) if body is None else self._bodies(body)
        if not headers.to and not self._has_problem(before, "To"):
            self._no_recipient(headers, first, report_key, values)
        if len(rows) > 1:
            self._disagreements(rows, report_key, context)
        if len(self.problems) > before or not key:
            return None
        return Draft(
            rows=tuple(numbers),
            key=key,
            sender=headers.sender,
            reply_to=headers.reply_to,
            to=headers.to,
            cc=headers.cc,
            bcc=headers.bcc,
            subject=headers.subject,
            text=text,
            html=html,
            attachments=attachments,
            extra_headers=headers.extra,
            documents=documents,
        )

    def _headers(self, row: int, key: str | None, context: dict[str, Any], before: int) -> _Headers:
        """The message's headers for the row; problems since ``before`` count as this row's."""
        to, cc, bcc = (self._address_header(row, key, name, context) for name in ADDRESS_HEADERS)
        sender = self._single_address(row, key, "From", context)
        reply_to = ", ".join(self._address_header(row, key, "Reply-To", context))
        subject = self._header_text(
            row, key, "Subject", self._optional(row, key, "Subject", context)
        )
        if not subject and not self._has_problem(before, "Subject"):
            self._problem(row, key, "Subject", "The subject is empty.", "Fill in the Subject.")
        extra = []
        for name, source in self.template.headers:
            if name.startswith("X-"):
                rendered = self._render(self.env, source, row, key, name, context)
                value = self._header_text(row, key, name, rendered or "")
                if value:
                    extra.append((name, value))
        return _Headers(to, cc, bcc, sender, reply_to, subject, tuple(extra))

    def _no_recipient(
        self, headers: _Headers, row: int, key: str | None, values: dict[str, Any]
    ) -> None:
        copies = [*headers.cc, *headers.bcc]
        self._problem(
            row,
            key,
            "To",
            "The message has no recipient: To is empty"
            + (f", so it would go only to the copies ({', '.join(copies)})." if copies else "."),
            self._empty_hint(self.template.header("To") or "", row, values),
        )

    def _disagreements(
        self, rows: list[tuple[int, dict[str, Any]]], key: str | None, context: dict[str, Any]
    ) -> None:
        """A problem for every header the rows of one group render differently."""
        for name in ("To", "Cc", "Bcc", "From", "Reply-To", "Subject"):
            source = self.template.header(name)
            if source is None:
                continue
            seen: dict[str, list[int]] = {}
            for number, values in rows:
                try:
                    rendered = self._compile(self.env, source).render(
                        dict(context, **values, row=values)
                    )
                except Exception:  # noqa: S112 - the first row's own problem is reported
                    continue
                seen.setdefault(" ".join(join_lines(rendered).split()), []).append(number)
            if len(seen) > 1:
                listed = "; ".join(
                    f"row{'s' * (len(numbers) > 1)} {', '.join(map(str, numbers))}: "
                    f"{value or '(empty)'!r}"
                    for value, numbers in seen.items()
                )
                self._problem(
                    rows[0][0],
                    key,
                    name,
                    f"The rows of group {context.get('group')!r} disagree on {name}: {listed}.",
                    "One message goes to each group: make these rows agree (the same "
                    f"{name} in every row of the group), or send them without Group-By.",
                )

    def _key(self, row: int, context: dict[str, Any]) -> str:
        source = self.template.header("Key")
        if source is None:
            return str(context.get("group") or "")
        rendered = self._render(self.env, source, row, None, "Key", context)
        if rendered is None:
            return ""
        key = self._header_text(row, None, "Key", rendered)
        if not key:
            self._problem(
                row,
                None,
                "Key",
                "The Key is empty, so the message cannot be recorded in the ledger.",
                "Fill in the column the Key header names (the document number).",
            )
        return key

    def _optional(self, row: int, key: str | None, name: str, context: dict[str, Any]) -> str:
        """Header ``name`` rendered for the row; "" when the template has none (or it failed)."""
        source = self.template.header(name)
        if source is None:
            return ""
        return self._render(self.env, source, row, key, name, context) or ""

    def _render(
        self,
        env: SandboxedEnvironment,
        source: str,
        row: int,
        key: str | None,
        part: str,
        context: Mapping[str, Any],
    ) -> str | None:
        try:
            return self._compile(env, source).render(context)
        except (ValueError, TypeError, ArithmeticError, JinjaError) as exc:
            self._render_failed(exc, source, row, key, part, context)
        return None

    def _render_failed(
        self,
        exc: Exception,
        source: str,
        row: int,
        key: str | None,
        part: str,
        context: Mapping[str, Any],
    ) -> None:
        if isinstance(exc, UndefinedError):
            self._problem(row, key, part, f"{exc.message}.", "Check the placeholder names.")
        elif isinstance(exc, ValueError | TypeError | ArithmeticError | JinjaError):
            self._problem(
                row,
                key,
                part,
                f"Cannot render the {part}: {exc}.",
                self._cell_hint(source, row, context, str(exc)),
            )
        else:
            raise exc

    # --- where to look -------------------------------------------------------------------

    def _names(self, source: str) -> tuple[list[str], list[str]]:
        """The columns ``source`` uses: by name, and as attributes of a loop row (``r.x``)."""
        found = self.names.get(source)
        if found is None:
            columns = set(self.orders.columns)
            try:
                tree = self.env.parse(source)
            except JinjaError:
                return [], []
            direct = [n.name for n in tree.find_all(nodes.Name) if n.name in columns]
            looped = [n.attr for n in tree.find_all(nodes.Getattr) if n.attr in columns]
            looped += [
                n.arg.value
                for n in tree.find_all(nodes.Getitem)
                if isinstance(n.arg, nodes.Const) and n.arg.value in columns
            ]
            found = self.names[source] = (list(dict.fromkeys(direct)), list(dict.fromkeys(looped)))
        return found

    def _cells(self, source: str, row: int, context: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(``"I7 (Fällig)"``, value) of every cell ``source`` reads: its row's and, for a
        loop over the group's rows, those of every row of the group."""
        direct, looped = self._names(source)
        cells = [(f"{self.orders.cell(n, row)} ({n})", context.get(n)) for n in direct]
        scope = self.scope if any(number == row for number, _ in self.scope) else []
        for number, values in scope or [(row, dict(context))]:
            cells += [
                (f"{self.orders.cell(n, number)} ({n})", values.get(n))
                for n in looped
                if n not in direct or number != row
            ]
        return list(dict(cells).items())

    def _cell_hint(self, source: str, row: int, context: Mapping[str, Any], error: str = "") -> str:
        """Which cell to look at when ``source`` failed to render (``error`` says why)."""
        cells = self._cells(source, row, context)
        named = [
            (label, value)
            for label, value in cells
            if value is not None and repr(str(value)) in error
        ]
        cells = named or cells
        errors = [value for _, value in cells if isinstance(value, CellError)]
        if errors:
            return errors[0].hint()
        empty = [label for label, value in cells if value is None]
        if empty:
            return f"Fill in the empty cell{'s' * (len(empty) > 1)} {', '.join(empty)}."
        if len(cells) == 1:
            label, value = cells[0]
            return f"Check cell {label}: it holds {str(value)!r}."
        if cells:
            return f"Check the cells {', '.join(label for label, _ in cells)}."
        return "Check this row's cells."

    def _empty_hint(self, source: str, row: int, context: Mapping[str, Any]) -> str:
        empty = [label for label, value in self._cells(source, row, context) if value is None]
        if empty:
            return f"Fill in the empty cell{'s' * (len(empty) > 1)} {', '.join(empty)}."
        return "Fill in the address column of this row."

    def _compile(self, env: SandboxedEnvironment, source: str) -> Template:
        """``source`` compiled in ``env``, once per plan (rows share the template's parts)."""
        compiled = self.compiled.get((env, source))
        if compiled is None:
            compiled = self.compiled[env, source] = env.from_string(source)
        return compiled

    def _header_text(self, row: int, key: str | None, name: str, value: str) -> str:
        problem = header_problem(value)
        if problem:
            self._problem(
                row,
                key,
                name,
                f"The {name} value {problem}.",
                "Remove line breaks and encoded words (=?...?=) from the cell; "
                "a header must stay one line.",
            )
            return ""
        return " ".join(value.split())

    def _address_header(
        self, row: int, key: str | None, name: str, context: Mapping[str, Any]
    ) -> tuple[str, ...]:
        """An address header composed from the template's text and the values (recipients)."""
        source = self.template.header(name)
        if source is None:
            return ()
        try:
            skeleton, values = render_parts(self._compile(self.parts_env, source), context)
        except Exception as exc:  # the same failures as any rendering, reported the same way
            self._render_failed(exc, source, row, key, name, context)
            return ()
        before = len(self.problems)
        found, errors = compose_addresses(
            skeleton, values, lambda value: self._checked_addresses(row, key, name, value)
        )
        for message in errors:
            self._problem(row, key, name, message, _ADDRESS_HINT)
        return () if len(self.problems) > before else tuple(found)

    def _checked_addresses(
        self, row: int, key: str | None, name: str, value: str
    ) -> tuple[list[str], list[str]]:
        """A cell meant to hold addresses (one or several), checked once per distinct value."""
        value = join_lines(value)  # addresses on separate lines of one cell (Alt+Enter)
        problem = header_problem(value)
        if problem:
            return [], [f"The {name} value {problem}."]
        checked = self.checked_addresses.get(value)
        if checked is None:
            checked = self.checked_addresses[value] = parse_addresses(value)
        return checked

    def _single_address(
        self, row: int, key: str | None, name: str, context: Mapping[str, Any]
    ) -> str:
        found = self._address_header(row, key, name, context)
        if len(found) > 1:
            self._problem(
                row,
                key,
                name,
                f"{name} holds {len(found)} addresses; a message has one sender.",
                f"Put a single address in {name}.",
            )
            return ""
        return found[0] if found else ""

    def _each_rendered(
        self, rows: list[tuple[int, dict[str, Any]]], key: str | None, part: str
    ) -> Iterator[tuple[int, dict[str, Any], str]]:
        """(row, values, text) for every ``part`` header (Attachment, Document) of every row."""
        sources = self.template.header_all(part)
        for number, values in rows:
            context = dict(values, row=values, rows=[v for _, v in rows])
            for source in sources:
                rendered = self._render(self.env, source, number, key, part, context)
                if rendered is not None:
                    yield number, values, rendered

    def _attachments(
        self, rows: list[tuple[int, dict[str, Any]]], key: str | None
    ) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        for number, _, rendered in self._each_rendered(rows, key, "Attachment"):
            self.attachment_names.setdefault(number, []).append(rendered)
            item = self.attachments.find(rendered)
            if isinstance(item, Refusal):
                if item.missing:  # its hint waits for every row's names (a suggestion)
                    self.missing.append((len(self.problems), number, item.missing))
                self._problem(number, key, "Attachment", item.message, item.hint)
            else:
                found.append(item)
        total = sum(item.size for item in found)
        if total > self.max_bytes:
            self._problem(
                rows[0][0],
                key,
                "Attachment",
                f"The attachments add up to {size_text(total)}, over the limit of "
                f"{size_text(self.max_bytes)} a message.",
                "Compress the documents or raise the limit (max_message_bytes) if your server "
                "accepts larger messages.",
            )
        return tuple(found)

    def _documents(
        self, rows: list[tuple[int, dict[str, Any]]], key: str | None
    ) -> tuple[PlannedDocument, ...]:
        """Each Document header for each row: checked (payment data too), planned, not drawn."""
        planned: list[PlannedDocument] = []
        for number, values, name in self._each_rendered(rows, key, "Document"):
            if not name or not key:
                continue
            suffix = f"-{number}" if self.template.group_by else ""
            document, problems = self.document_planner.plan(name, values, key, suffix)
            for problem in problems:
                where = "Document" if problem.field == "Document" else f"{name}: {problem.field}"
                self._problem(number, key, where, problem.message, problem.hint)
            if document is not None:
                planned.append(document)
        return tuple(planned)

    def _bodies(self, body: str) -> tuple[str, str | None]:
        """The plain text and (for markdown and html) the html part of a rendered body."""
        body = body.rstrip() + "\n"
        if self.template.format == "markdown":
            html = markdown.markdown(body, extensions=["nl2br"], output_format="html")
            return html_to_text(html), html  # real plain text: no ** and links as "text (url)"
        if self.template.format == "html":
            return html_to_text(body), body
        return body, None

    def _drop_duplicate_keys(self, drafts: list[Draft]) -> list[Draft]:
        duplicates = {key for key, groups in self.key_groups.items() if len(groups) > 1}
        for key in duplicates:
            rows = sorted(row for group in self.key_groups[key] for row in group)
            # one text for every row: a list of problems groups them into one line
            message = f"The key {key!r} is used by {len(rows):,} rows: {row_spans(rows)}."
            for row in rows:
                self._problem(
                    row,
                    key,
                    "Key",
                    message,
                    "Every message needs its own key (document number); remove the duplicate "
                    "row or correct its number.",
                )
        return [draft for draft in drafts if draft.key not in duplicates]

    def _suggest_missing_attachments(self) -> None:
        """The hint of each missing attachment: a file that may be it, written differently,
        never another row's document (its name, number or key)."""
        keys = [key for key in self.row_keys.values() if key]
        for index, row, name in self.missing:
            claimed = [
                other
                for number, names in self.attachment_names.items()
                if number != row
                for other in names
            ]
            own = self.row_keys.get(row) or None
            found = self.attachments.suggestion(name, claimed=claimed, keys=keys, own_key=own)
            if found is not None:
                problem = self.problems[index]
                self.problems[index] = replace(
                    problem,
                    hint=f"A file named {found} is there: if it is this document, rename it to "
                    f"{name.strip()} (or correct the name in the sheet).",
                )

    def _has_problem(self, since: int, *fields: str) -> bool:
        return any(problem.field in fields for problem in self.problems[since:])

    def _problem(
        self, row: int | None, key: str | None, part: str, message: str, hint: str
    ) -> None:
        self.problems.append(Problem(row=row, key=key, field=part, message=message, hint=hint))


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
    folder = documents if documents else default_documents(orders_path, template_path)
    plan = make_plan(
        orders,
        template,
        documents=folder,
        campaign=campaign,
        max_recipients=max_recipients,
        documents_out=documents_out,
        rows=rows,
    )
    if any(problem.row is None for problem in plan.problems):
        advice = layout_advice(orders_path, template, orders, sheet)
        if advice:
            plan.problems = [
                replace(p, hint=p.hint + advice) if p.row is None else p for p in plan.problems
            ]
    return orders, template, plan


def plan_from_files(
    orders_path: str | Path,
    template_path: str | Path,
    *,
    documents: str | Path | None = None,
    sheet: str | int | None = None,
    campaign: str | None = None,
    header_row: int | None = None,
    documents_out: str | Path | None = None,
    rows: RowChoice | str | None = None,
) -> Plan:
    """The plan of :func:`read_and_plan` (what ``docmail check`` shows)."""
    return read_and_plan(
        orders_path,
        template_path,
        documents=documents,
        sheet=sheet,
        campaign=campaign,
        header_row=header_row,
        documents_out=documents_out,
        rows=rows,
    )[2]
