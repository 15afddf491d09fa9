"""The files a message carries: the files its Attachment headers name (found, their sizes
added up, a missing one's hint once every row's names are known), its Documents planned, its
e-invoices made and joined to them, and, for a reminder, the documents the reminded message
carried."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from docmail_nb._compose.attachments import AttachmentFinder, Refusal
from docmail_nb._compose.message import Attachment
from docmail_nb._compose.reminders import Reminders
from docmail_nb._compose.rows import Problem, ReportProblem
from docmail_nb._compose.templates import MessageTemplate
from docmail_nb._documents.einvoice import parse_kind
from docmail_nb._documents.invoicing import Invoicing
from docmail_nb._documents.lines import LineProblem
from docmail_nb._documents.planned import DocumentPlanner, PlannedDocument
from docmail_nb.words import size_text

__all__ = ["DraftFiles", "Render", "report_line_problem"]

#: how a part is rendered for a row: (environment, source, row, key, part, context) → the text,
#: or None when it failed (and was reported)
Render = Callable[[SandboxedEnvironment, str, int, str | None, str, Mapping[str, Any]], str | None]


def report_line_problem(
    report: ReportProblem, row: int | None, key: str | None, prefix: str, problem: LineProblem
) -> None:
    """Report a problem of an invoice's lines (or its seller, its e-invoice), with its rule."""
    rule = f" ({problem.rule})" if problem.rule else ""
    message = problem.message.rstrip(".") + "." + rule if rule else problem.message
    field = f"{prefix}{problem.field}"
    report(row, key, field, message, problem.hint)


class DraftFiles:
    """The files of one plan's messages; problems go to ``problem`` (and are read back from
    ``problems``, whose missing attachments get their hint in ``suggest_missing``)."""

    def __init__(
        self,
        template: MessageTemplate,
        env: SandboxedEnvironment,
        documents: Path,
        max_bytes: int,
        document_planner: DocumentPlanner,
        invoicing: Invoicing,
        render: Render,
        problems: list[Problem],
        problem: ReportProblem,
    ) -> None:
        self.template = template
        self.env = env
        self.max_bytes = max_bytes
        self.finder = AttachmentFinder(documents)
        self.attachment_names: dict[int, list[str]] = {}  # row → the names it attaches
        self.missing: list[tuple[int, int, str]] = []  # (problem index, row, name looked for)
        self.document_planner = document_planner
        self.documents_out = document_planner.out
        self.invoicing = invoicing
        self._render = render
        self.problems = problems
        self._problem = problem

    def _line_problem(
        self, row: int | None, key: str | None, prefix: str, problem: LineProblem
    ) -> None:
        report_line_problem(self._problem, row, key, prefix, problem)

    def sent_documents(self, row: int, key: str, reminders: Reminders) -> tuple[Attachment, ...]:
        """The documents the reminded message carried, as sent (their sha256 checked)."""
        found, refused = reminders.attachments(key)
        if refused is not None:
            self._problem(row, key, "Reminder-Of", refused.reason[:1].upper() + refused.reason[1:]
                          + ".", refused.hint)  # fmt: skip
            return ()
        return tuple(
            Attachment(path=path, filename=name, size=path.stat().st_size) for path, name in found
        )

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

    def attachments(
        self, rows: list[tuple[int, dict[str, Any]]], key: str | None
    ) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        for number, _, rendered in self._each_rendered(rows, key, "Attachment"):
            self.attachment_names.setdefault(number, []).append(rendered)
            item = self.finder.find(rendered)
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

    def documents(
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

    def lines_source(self) -> str:
        return self.template.lines[0] if self.template.lines else "\0"

    def einvoices(
        self,
        rows: list[tuple[int, dict[str, Any]]],
        key: str | None,
        documents: tuple[PlannedDocument, ...],
    ) -> tuple[PlannedDocument, ...]:
        """Each row's e-invoice (E-Invoice header): made, checked, joined to its document."""
        if self.template.header("E-Invoice") is None or not key:
            return documents
        planned = list(documents)
        for number, values, text in self._each_rendered(rows, key, "E-Invoice"):
            kind, unknown = parse_kind(text)
            if unknown:
                self._problem(
                    number,
                    key,
                    "E-Invoice",
                    unknown,
                    "Fill the column with factur-x, xrechnung or nothing.",
                )
                continue
            if kind is None:
                continue
            index = next((i for i, d in enumerate(planned) if d.renderer is not None), None)
            if kind == "factur-x" and not self.template.header_all("Document"):
                self._problem(
                    number,
                    key,
                    "E-Invoice",
                    "factur-x is embedded into the invoice's PDF, but the message has no Document.",
                    "Add 'Document: invoice.html' to the template.",
                )
                continue
            payment = planned[index].payment if index is not None else None
            made, problems = self.invoicing.einvoice(
                kind,
                number,
                key,
                values,
                account=payment.account if payment is not None else "",
                reference=payment.reference if payment is not None else "",
            )
            for problem in problems:
                prefix = "" if problem.field.startswith("seller.toml") else "E-Invoice: "
                self._line_problem(number, key, prefix, problem)
            if made is None:
                continue
            if kind == "factur-x":
                if index is not None:  # else the document has problems of its own
                    planned[index] = planned[index].with_einvoice(made)
            else:
                planned.append(PlannedDocument.xml(self.documents_out, made))
        return tuple(planned)

    def suggest_missing(self, row_keys: dict[int, str]) -> None:
        """The hint of each missing attachment: a file that may be it, written differently,
        never another row's document (its name, number or key)."""
        keys = [key for key in row_keys.values() if key]
        for index, row, name in self.missing:
            claimed = [
                other
                for number, names in self.attachment_names.items()
                if number != row
                for other in names
            ]
            own = row_keys.get(row) or None
            found = self.finder.suggestion(name, claimed=claimed, keys=keys, own_key=own)
            if found is not None:
                self.problems[index] = replace(
                    self.problems[index],
                    hint=f"A file named {found} is there: if it is this document, rename it to "
                    f"{name.strip()} (or correct the name in the sheet).",
                )
