"""The planner: renders and checks every row of the orders against the template (the rows it
takes from ``choosing``, each message's files from ``draft_files``, one key per message from
``unique_keys``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import markdown
from jinja2 import TemplateError as JinjaError
from jinja2 import UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from docmail_nb._compose.cells import TemplateCells
from docmail_nb._compose.choosing import RowChooser
from docmail_nb._compose.closest import closest_column
from docmail_nb._compose.draft_files import DraftFiles, report_line_problem
from docmail_nb._compose.headers import header_problem, join_lines, parse_addresses
from docmail_nb._compose.message import Attachment, Draft, PaymentAsked
from docmail_nb._compose.plaintext import html_to_text
from docmail_nb._compose.recipients import compose_addresses, parts_environment, render_parts
from docmail_nb._compose.reminders import Reminders
from docmail_nb._compose.rows import Problem, RowChoice, Skipped
from docmail_nb._compose.sandbox import make_environment
from docmail_nb._compose.templates import ADDRESS_HEADERS, MessageTemplate, template_variables
from docmail_nb._compose.unique_keys import drop_duplicate_keys, drop_shared_documents
from docmail_nb._compose.values import to_decimal
from docmail_nb._documents.invoicing import Invoicing
from docmail_nb._documents.payment_references import check_reference
from docmail_nb._documents.planned import DocumentPlanner, PlannedDocument
from docmail_nb._sheets.orders import Orders
from docmail_nb.errors import DocmailError

__all__ = ["Planner"]

#: the longest problem text; a longer one (a huge cell quoted) loses its middle
_LONGEST_MESSAGE = 1000


_ADDRESS_HINT = (
    "Write addresses as name@example.ch or Name <name@example.ch>, separated by commas, "
    "without line breaks; a name cell holds a name only."
)


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


class Planner:
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
        reminders: Reminders | None = None,
    ) -> None:
        self.orders = orders
        self.reminders = reminders
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
        self.checked_addresses: dict[str, tuple[list[str], list[str]]] = {}
        self.problems: list[Problem] = []
        self.row_keys: dict[int, str] = {}
        self.key_groups: dict[str, list[tuple[int, ...]]] = {}
        self.skipped: list[Skipped] = []
        self.notices: list[str] = []
        self.cells = TemplateCells(orders, self.env)
        self.document_planner = DocumentPlanner(template.folder, documents_out.resolve(), locale)
        self.invoicing = Invoicing(
            template.folder or Path.cwd(),
            orders.source,
            template.lines,
            template.einvoice_columns,
        )
        self.chooser = RowChooser(
            template,
            self.env,
            self.cells,
            choice,
            reminders,
            self._problem,
            self.skipped,
            self.notices,
        )
        self.files = DraftFiles(
            template,
            self.env,
            documents,
            max_bytes,
            self.document_planner,
            self.invoicing,
            self._render,
            self.problems,
            self._problem,
        )

    def run(self) -> tuple[list[Draft], list[Problem]]:
        if not self._template_fits_columns():
            return [], self.problems
        records = list(self.orders.records())
        if not self._invoices_fit(records):
            return [], self.problems
        groups = self.chooser.groups(self.chooser.chosen(records))
        drafts: list[Draft] = []
        for rows in groups:
            draft = self._draft(rows)
            if draft is not None:
                drafts.append(draft)
        drafts = drop_duplicate_keys(drafts, self.key_groups, self._problem)
        drafts = drop_shared_documents(drafts, self._problem)
        self.files.suggest_missing(self.row_keys)
        self.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
        return drafts, self.problems

    # --- template against the columns ----------------------------------------------------

    def _invoices_fit(self, records: list[tuple[int, dict[str, Any]]]) -> bool:
        """The line sheet and seller.toml can be read; every row gets its lines and totals."""
        invoicing = self.invoicing
        einvoice = self.template.header("E-Invoice")
        if self.template.lines is None and einvoice is None:
            for number, values in records:
                invoicing.extend(number, values)  # seller.toml, when there is one
            return True
        if einvoice is not None and self.template.lines is None:
            self._problem(
                None,
                None,
                "E-Invoice",
                "An e-invoice is made from the invoice's lines, but the template has no "
                "Lines header.",
                "Add 'Lines: <sheet> on <column>' to the template.",
            )
            return False
        if einvoice is not None and self.template.group_by:
            self._problem(
                None,
                None,
                "E-Invoice",
                "An e-invoice is one invoice per message; Group-By puts several rows in one.",
                "Leave out Group-By, or the E-Invoice header.",
            )
            return False
        invoicing.check_orders(
            self.orders.columns,
            [v.get(self.template.lines[1]) for _, v in records] if self.template.lines else [],
        )
        self.notices += invoicing.notices
        for field, message, hint in invoicing.problems:
            self._problem(None, None, field, message, hint)
        for problem in invoicing.seller_problems:
            report_line_problem(self._problem, None, None, "", problem)
        if invoicing.problems or invoicing.seller_problems:
            return False
        for number, values in records:
            invoicing.extend(number, values)
        return True

    def _template_fits_columns(self) -> bool:
        columns = self.orders.columns + sorted(self.invoicing.names)
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
            columns = self.orders.columns + sorted(self.invoicing.names)
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

    # --- one message ---------------------------------------------------------------------

    def _draft(self, rows: list[tuple[int, dict[str, Any]]]) -> Draft | None:
        """The message for ``rows`` (one row, or a Group-By group), or None: it has problems."""
        numbers = [number for number, _ in rows]
        first, values = rows[0]
        context = dict(values, row=values, rows=[v for _, v in rows])
        if self.template.group_by:
            context["group"] = values[self.template.group_by]
        before = len(self.problems)
        self.cells.scope = rows

        key = self._key(first, context)
        self.row_keys.update(dict.fromkeys(numbers, key or ""))
        if key:
            self.key_groups.setdefault(key, []).append(tuple(numbers))
        report_key = key or None

        lines_wrong = False
        for number in numbers:
            for problem in self.invoicing.row_problems(number):
                prefix = "Lines: " if problem.field.startswith(self.files.lines_source()) else ""
                report_line_problem(self._problem, number, report_key, prefix, problem)
                lines_wrong = True
        headers = self._headers(first, report_key, context, before)
        attachments = self.files.attachments(rows, report_key)
        # a row whose lines are wrong has no totals to draw or to make an e-invoice of
        documents = () if lines_wrong else self.files.documents(rows, report_key)
        if not lines_wrong:
            documents = self.files.einvoices(rows, report_key, documents)
        if self.reminders is not None and key:
            attachments += self.files.sent_documents(first, key, self.reminders)
        attachments += tuple(
            Attachment(path=doc.path, filename=doc.name, size=0, content_type=doc.content_type)
            for doc in documents
        )
        payment = self._payment(first, report_key, context, documents)
        body = self._render(self.body_env, self.template.body, first, report_key, "body", context)
        text, html = ("", None) if body is None else self._bodies(body)
        if not headers.to and not self._has_problem(before, "To"):
            self._no_recipient(headers, first, report_key, values)
        if len(rows) > 1:
            for name, message, hint in self.cells.disagreements(self.template, rows, context):
                self._problem(rows[0][0], report_key, name, message, hint)
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
            payment=payment,
        )

    def _payment(
        self,
        row: int,
        key: str | None,
        context: dict[str, Any],
        documents: tuple[PlannedDocument, ...],
    ) -> PaymentAsked | None:
        """The reference (and amount) the message asks to be paid with: its Reference and
        Amount headers, else its first document's QR-bill; None when it asks for none."""
        source = self.template.header("Reference")
        if source is None:
            for document in documents:
                data = document.payment
                if data is not None and data.reference_type in ("QRR", "SCOR"):
                    return PaymentAsked(
                        data.reference, data.reference_type, data.amount, data.currency
                    )
            return None
        rendered = self._render(self.env, source, row, key, "Reference", context) or ""
        kind, reference, problem = check_reference(rendered)
        if problem:
            hint = "Make it with qr_reference(...) or creditor_reference(...), or leave it out."
            self._problem(row, key, "Reference", problem, hint)
            return None
        if kind == "NON":
            return None
        amount: Decimal | None = None
        amount_source = self.template.header("Amount")
        if amount_source is not None:
            text = self._render(self.env, amount_source, row, key, "Amount", context) or ""
            try:
                amount = to_decimal(text) if text.strip() else None
            except (ValueError, ArithmeticError):
                hint = "Give the amount asked for, e.g. {{ amount }}."
                self._problem(row, key, "Amount", f"{text!r} is not an amount.", hint)
                return None
        return PaymentAsked(reference, kind, amount, "")

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
            self.cells.empty_hint(self.template.header("To") or "", row, values),
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
            return self.cells.compile(env, source).render(context)
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
                self.cells.hint(source, row, context, str(exc)),
            )
        else:
            raise exc

    # --- where to look -------------------------------------------------------------------

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
            skeleton, values = render_parts(self.cells.compile(self.parts_env, source), context)
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

    def _bodies(self, body: str) -> tuple[str, str | None]:
        """The plain text and (for markdown and html) the html part of a rendered body."""
        body = body.rstrip() + "\n"
        if self.template.format == "markdown":
            html = markdown.markdown(body, extensions=["nl2br"], output_format="html")
            return html_to_text(html), html  # real plain text: no ** and links as "text (url)"
        if self.template.format == "html":
            return html_to_text(body), body
        return body, None

    def _has_problem(self, since: int, *fields: str) -> bool:
        return any(problem.field in fields for problem in self.problems[since:])

    def _problem(
        self, row: int | None, key: str | None, part: str, message: str, hint: str
    ) -> None:
        if len(message) > _LONGEST_MESSAGE:  # a huge cell quoted whole: its middle goes
            left_out = len(message) - _LONGEST_MESSAGE
            message = (
                f"{message[: _LONGEST_MESSAGE - 200]} … ({left_out:,} characters left out) … "
                f"{message[-200:]}"
            )
        self.problems.append(Problem(row=row, key=key, field=part, message=message, hint=hint))
