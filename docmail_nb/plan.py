"""Rows × template → one draft message per row (or per group), every problem found first.

``make_plan`` renders every row, checks everything that can be checked before sending
(addresses, header injection, attachments, keys, sizes) and collects *all* problems; rows
without problems stay sendable. A draft becomes the message sent in ``message``; ``preview``
shows it as a mail program will.
"""

from __future__ import annotations

import difflib
import errno
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import markdown
from jinja2 import Template, UndefinedError
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from .docfolder import locate, normalized
from .documents import DocumentPlanner, PlannedDocument
from .errors import DocmailError
from .headers import header_problem, join_lines, parse_addresses
from .message import Attachment, Draft, size_text
from .orders import Orders, read_orders, sheet_names
from .recipients import compose_addresses, parts_environment, render_parts
from .templates import (
    ADDRESS_HEADERS,
    MessageTemplate,
    html_to_text,
    load_template,
    make_environment,
    template_variables,
)

__all__ = [
    "Attachment",
    "Draft",
    "Plan",
    "Problem",
    "default_documents",
    "make_plan",
    "plan_from_files",
]

MAX_MESSAGE_BYTES = 20 * 1024 * 1024
_ADDRESS_HINT = (
    "Write addresses as name@example.ch or Name <name@example.ch>, separated by commas, "
    "without line breaks; a name cell holds a name only."
)
#: how many other rows a duplicate-key problem names before "and N more"
_LISTED_ROWS = 5


@dataclass(frozen=True)
class Problem:
    """One thing that keeps a row (or, with ``row=None``, every row) from being sent."""

    row: int | None
    key: str | None
    field: str
    message: str
    hint: str


@dataclass
class Plan:
    """Sendable drafts and every problem found, for one campaign."""

    campaign: str
    drafts: list[Draft]
    problems: list[Problem]
    total_rows: int
    row_keys: dict[int, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # worth a look, not a problem

    @property
    def ok(self) -> bool:
        """True when no row has a problem."""
        return not self.problems

    @property
    def problem_rows(self) -> set[int]:
        """Sheet row numbers that have at least one problem."""
        return {problem.row for problem in self.problems if problem.row is not None}

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
    sender: str = "",
    campaign: str | None = None,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    locale: str = "de_CH",
    documents_out: str | Path | None = None,
) -> Plan:
    """Render and check every row; ``sender`` is the profile's address ("" when unknown).

    Documents made from a ``Document:`` template are saved into ``documents_out`` when sent
    (default: ``generated`` in the documents folder).
    """
    folder = Path(documents).expanduser() if documents else default_documents(orders.source)
    out = Path(documents_out).expanduser() if documents_out else folder / "generated"
    planner = _Planner(orders, template, folder, sender, max_message_bytes, locale, out)
    drafts, problems = planner.run()
    return Plan(
        campaign=campaign or template.name,
        drafts=drafts,
        problems=problems,
        total_rows=len(orders),
        row_keys=planner.row_keys,
        notices=list(orders.notices),
    )


class _Planner:
    """Does the work of make_plan; one instance per call."""

    def __init__(
        self,
        orders: Orders,
        template: MessageTemplate,
        documents: Path,
        sender: str,
        max_bytes: int,
        locale: str,
        documents_out: Path,
    ) -> None:
        self.orders = orders
        self.template = template
        self.documents = documents
        self.sender = sender
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
        self.root = documents.resolve()
        self.problems: list[Problem] = []
        self.row_keys: dict[int, str] = {}
        self.key_groups: dict[str, list[tuple[int, ...]]] = {}
        self.document_planner = DocumentPlanner(template.folder, documents_out.resolve(), locale)

    def run(self) -> tuple[list[Draft], list[Problem]]:
        if not self._template_fits_columns():
            return [], self.problems
        groups = self._groups()
        drafts: list[Draft] = []
        for rows in groups:
            draft = self._draft(rows)
            if draft is not None:
                drafts.append(draft)
        drafts = self._drop_duplicate_keys(drafts)
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
            close = difflib.get_close_matches(name, columns, n=1, cutoff=0.75)
            hint = f"Did you mean {{{{ {close[0]} }}}}? " if close else ""
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
            close = difflib.get_close_matches(group_by, columns, n=1, cutoff=0.5)
            self._problem(
                None,
                None,
                "Group-By",
                f"Group-By names the column {group_by!r}, which the sheet does not have.",
                f"Did you mean {close[0]!r}?"
                if close
                else f"The columns are: {', '.join(columns)}.",
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
                close = difflib.get_close_matches(name, columns, n=1, cutoff=0.75)
                self._problem(
                    None,
                    None,
                    "Document",
                    f"The document {renderer.template.name} uses {{{{ {name} }}}}, which names "
                    "no column of the sheet.",
                    (f"Did you mean {{{{ {close[0]} }}}}? " if close else "")
                    + f"The columns are: {', '.join(columns)}.",
                )
                fits = False
        return fits

    def _groups(self) -> list[list[tuple[int, dict[str, Any]]]]:
        records = list(self.orders.records())
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
        numbers = [number for number, _ in rows]
        first, values = rows[0]
        context = dict(values, row=values, rows=[v for _, v in rows])
        if self.template.group_by:
            context["group"] = values[self.template.group_by]
        before = len(self.problems)

        key = self._key(first, context)
        self.row_keys.update(dict.fromkeys(numbers, key or ""))
        if key:
            self.key_groups.setdefault(key, []).append(tuple(numbers))
        report_key = key or None

        def render(part: str, source: str) -> str | None:
            return self._render(self.env, source, first, report_key, part, context)

        addresses = {
            name: self._address_header(first, report_key, name, context) for name in ADDRESS_HEADERS
        }
        sender = self._single_address(first, report_key, "From", context)
        reply_to = ", ".join(self._address_header(first, report_key, "Reply-To", context))
        subject = self._header_text(first, report_key, "Subject", self._optional("Subject", render))
        if not subject and not self._has_problem(before, "Subject"):
            self._problem(
                first, report_key, "Subject", "The subject is empty.", "Fill in the Subject."
            )
        extra = []
        for name, source in self.template.headers:
            if name.startswith("X-"):
                value = self._header_text(first, report_key, name, render(name, source) or "")
                if value:
                    extra.append((name, value))
        attachments = self._attachments(rows, report_key)
        documents = self._documents(rows, report_key)
        attachments += tuple(
            Attachment(path=doc.path, filename=doc.name, size=0) for doc in documents
        )
        body = self._render(self.body_env, self.template.body, first, report_key, "body", context)
        text, html = ("", None) if body is None else self._bodies(body, first, report_key, context)

        if not any(addresses.values()) and not self._has_problem(before, *ADDRESS_HEADERS):
            self._problem(
                first,
                report_key,
                "To",
                "The message has no recipient: To, Cc and Bcc are all empty.",
                "Fill in the address column of this row.",
            )
        if len(self.problems) > before or not key:
            return None
        return Draft(
            rows=tuple(numbers),
            key=key,
            sender=sender,
            reply_to=reply_to,
            to=addresses["To"],
            cc=addresses["Cc"],
            bcc=addresses["Bcc"],
            subject=subject,
            text=text,
            html=html,
            attachments=attachments,
            extra_headers=tuple(extra),
            documents=documents,
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

    def _optional(self, name: str, render: Any) -> str:
        source = self.template.header(name)
        if source is None:
            return ""
        rendered = render(name, source)
        return rendered if isinstance(rendered, str) else ""

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
                row, key, part, f"Cannot render the {part}: {exc}.", _cell_hint(source, context)
            )
        else:
            raise exc

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

    def _attachments(
        self, rows: list[tuple[int, dict[str, Any]]], key: str | None
    ) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        sources = self.template.header_all("Attachment")
        for number, values in rows:
            context = dict(values, row=values, rows=[v for _, v in rows])
            for source in sources:
                rendered = self._render(self.env, source, number, key, "Attachment", context)
                if rendered is None:
                    continue
                try:
                    item = self._attachment(number, key, rendered)
                except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
                    self._problem(
                        number,
                        key,
                        "Attachment",
                        f"The attachment {rendered.strip()[:200]!r} cannot be read: "
                        f"{_file_trouble(exc)}.",
                        "Fix the file in the documents folder (or the name in the sheet), "
                        "then run the check again.",
                    )
                    continue
                if item is not None:
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
        sources = self.template.header_all("Document")
        for number, values in rows:
            context = dict(values, row=values, rows=[v for _, v in rows])
            for source in sources:
                name = self._render(self.env, source, number, key, "Document", context)
                if not name or not key:
                    continue
                suffix = f"-{number}" if self.template.group_by else ""
                document, problems = self.document_planner.plan(name, values, key, suffix)
                for problem in problems:
                    where = (
                        "Document" if problem.field == "Document" else f"{name}: {problem.field}"
                    )
                    self._problem(number, key, where, problem.message, problem.hint)
                if document is not None:
                    planned.append(document)
        return tuple(planned)

    def _attachment(self, row: int, key: str | None, value: str) -> Attachment | None:
        problem = header_problem(value)
        if problem:
            self._problem(
                row,
                key,
                "Attachment",
                f"The attachment name {problem}.",
                "Remove line breaks and encoded words from the file name.",
            )
            return None
        name = value.strip()
        if not name:
            self._problem(
                row,
                key,
                "Attachment",
                "The attachment name is empty.",
                "Fill in the column that names the document.",
            )
            return None

        def refuse(message: str, hint: str) -> None:
            self._problem(row, key, "Attachment", message, hint)

        relative = Path(name)
        inside = "Attachments are relative to the documents folder and must stay inside it."
        if relative.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            refuse(f"The attachment {name!r} is an absolute path.", inside)
            return None
        if ".." in re.split(r"[/\\]", name):
            refuse(f"The attachment {name!r} leaves the documents folder.", inside)
            return None
        path = locate(self.documents, relative)  # names matched Unicode-normalized
        if not path.exists() and not path.is_symlink():
            close = self._close_files(relative.name)
            refuse(
                f"The attachment {name} is not in the documents folder {self.documents}.",
                f"Did you mean {close}?" if close else "Check the file name and --documents.",
            )
            return None
        if not self._inside_documents(path.relative_to(self.documents)):
            refuse(
                f"The attachment {name!r} is a link to a file outside the documents folder.",
                "Copy the file into the documents folder instead of linking to it.",
            )
            return None
        if not path.is_file():
            refuse(
                f"The attachment {name} is not a file (it is a folder or a device).",
                "Name the document file itself.",
            )
            return None
        size = path.stat().st_size
        if size == 0:
            refuse(f"The attachment {name} is empty (0 bytes).", "Export the document again.")
            return None
        content_type = mimetypes.guess_type(relative.name)[0] or "application/octet-stream"
        if content_type == "application/pdf":
            with path.open("rb") as handle:
                if not handle.read(1024).lstrip().startswith(b"%PDF-"):
                    refuse(
                        f"The attachment {name} is not a PDF file.",
                        "Export the document again as PDF.",
                    )
                    return None
        return Attachment(path=path, filename=relative.name, size=size, content_type=content_type)

    def _inside_documents(self, relative: Path) -> bool:
        """Whether the file stays in the documents folder when every link is followed."""
        path = self.root
        for part in relative.parts:
            path = path / part
            if path.is_symlink():
                return (self.root / relative).resolve().is_relative_to(self.root)
        return True  # no links below the (resolved) folder: the path is its own real path

    def _close_files(self, name: str) -> str:
        try:
            names = [normalized(p.name) for p in self.documents.iterdir() if p.is_file()]
        except OSError:
            return ""
        close = difflib.get_close_matches(normalized(name), names, n=1, cutoff=0.7)
        return close[0] if close else ""

    def _bodies(
        self, body: str, row: int, key: str | None, context: Mapping[str, Any]
    ) -> tuple[str, str | None]:
        body = body.rstrip() + "\n"
        if self.template.format == "markdown":
            html = markdown.markdown(body, extensions=["nl2br"], output_format="html")
            # the same body once more, values as they are, for the plain-text part
            plain = self._render(self.env, self.template.body, row, key, "body", context)
            return (plain or "").rstrip() + "\n", html
        if self.template.format == "html":
            return html_to_text(body), body
        return body, None

    def _drop_duplicate_keys(self, drafts: list[Draft]) -> list[Draft]:
        duplicates = {key for key, groups in self.key_groups.items() if len(groups) > 1}
        for key in duplicates:
            rows = sorted(row for group in self.key_groups[key] for row in group)
            # each problem names at most a few other rows: the report stays linear in the rows
            listed = rows[: _LISTED_ROWS + 1]
            for row in rows:
                shown = [str(r) for r in listed if r != row][:_LISTED_ROWS]
                more = len(rows) - 1 - len(shown)
                others = ", ".join(shown) + (f" and {more} more" if more else "")
                self._problem(
                    row,
                    key,
                    "Key",
                    f"The key {key!r} is also used by row{'s' * (len(rows) > 2)} {others}.",
                    "Every message needs its own key (document number); remove the duplicate "
                    "row or correct its number.",
                )
        return [draft for draft in drafts if draft.key not in duplicates]

    def _has_problem(self, since: int, *fields: str) -> bool:
        return any(problem.field in fields for problem in self.problems[since:])

    def _problem(
        self, row: int | None, key: str | None, part: str, message: str, hint: str
    ) -> None:
        self.problems.append(Problem(row=row, key=key, field=part, message=message, hint=hint))


def _file_trouble(exc: BaseException) -> str:
    """Why a file cannot be used, in plain words."""
    reasons = {
        errno.ELOOP: "it is a link that leads back to itself",
        errno.ENAMETOOLONG: "the name is too long for the file system",
        errno.EACCES: "docmail is not allowed to read it",
        errno.EPERM: "docmail is not allowed to read it",
        errno.EIO: "the disk reported an error",
    }
    if isinstance(exc, OSError):
        return reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return reasons[errno.ELOOP]  # pathlib reports a symlink loop as RuntimeError


def _cell_hint(source: str, context: Mapping[str, Any]) -> str:
    """Which cell of the row to look at when ``source`` failed to render."""
    names = list(dict.fromkeys(re.findall(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)", source)))
    empty = [name for name in names if context.get(name) is None]
    if empty:
        listed = ", ".join(empty)
        return f"Fill in the empty cell{'s' * (len(empty) > 1)} {listed} of this row."
    if len(names) == 1:
        return f"Check the {names[0]} cell of this row."
    return "Check this row's cells."


def plan_from_files(
    orders_path: str | Path,
    template_path: str | Path,
    *,
    documents: str | Path | None = None,
    sheet: str | int | None = None,
    sender: str = "",
    campaign: str | None = None,
    header_row: int | None = None,
    documents_out: str | Path | None = None,
) -> Plan:
    """Read the orders and the template and plan them (what ``docmail check`` does).

    Without ``documents``, attachments are looked for as ``default_documents`` says; made
    documents go to ``documents_out`` (default: ``generated`` in the documents folder).
    """
    template = load_template(template_path)
    orders = read_orders(orders_path, sheet=sheet, header_row=header_row)
    folder = documents if documents else default_documents(orders_path, template_path)
    plan = make_plan(
        orders,
        template,
        documents=folder,
        sender=sender,
        campaign=campaign,
        documents_out=documents_out,
    )
    if sheet is None and any(problem.row is None for problem in plan.problems):
        better = _fitting_sheet(orders_path, template, orders.sheet)
        if better:
            advice = f" The sheet {better!r} has every column the template uses: --sheet {better}."
            plan.problems = [
                replace(p, hint=p.hint + advice) if p.row is None else p for p in plan.problems
            ]
    return plan


def _fitting_sheet(path: str | Path, template: MessageTemplate, current: str | None) -> str:
    needed = set().union(*template_variables(template).values())
    if template.group_by:
        needed.add(template.group_by)
    for name in sheet_names(path):
        if name != current and needed <= set(read_orders(path, name).columns):
            return name
    return ""
