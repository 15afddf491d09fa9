"""The message template format: its headers, parsed and checked, and the names each part uses
(rendered in the sandbox of ``sandbox``).

A template is a block of header lines, a blank line and the body::

    To: {{ email }}
    Subject: Rechnung {{ invoice_no }}
    Attachment: {{ invoice_no }}.pdf
    Key: {{ invoice_no }}
    Format: markdown

    Guten Tag {{ contact }} ...

Known headers: To, Cc, Bcc, From, Reply-To, Subject, Attachment (repeatable), Document
(repeatable: an HTML template made into a PDF per row, see ``documents``), Key, Format,
Group-By, Send-If, Lines (``Lines: Positionen on invoice_no``: the row's line items),
E-Invoice (``factur-x``, ``xrechnung`` or empty), E-Invoice-Columns, Reference and Amount (what
the message asks to be paid, kept in the ledger to match payments; a QR-bill's own reference and
amount otherwise), Reminder-Of and Reminder-Level (see ``reminders``), and any ``X-`` header.
Every header but Format, Group-By, Lines, E-Invoice-Columns and the Reminder ones, and the body,
are Jinja templates over the row's columns; Send-If is one Jinja expression (``{{ status !=
"bezahlt" }}``): a row for which it is false is left out, and listed as left out. A reminder's
rows also know ``days_overdue``, ``open_amount`` and ``paid_amount``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateSyntaxError, meta, nodes

from docmail_nb._compose.sandbox import make_environment
from docmail_nb.errors import TemplateError
from docmail_nb.words import setting

__all__ = [
    "ADDRESS_HEADERS",
    "CONTEXT_NAMES",
    "FORMATS",
    "KNOWN_HEADERS",
    "REMINDER_NAMES",
    "SINGLE_HEADERS",
    "Format",
    "MessageTemplate",
    "load_template",
    "money_columns",
    "parse_template",
    "template_variables",
]

Format = Literal["text", "markdown", "html"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "html")
ADDRESS_HEADERS = ("To", "Cc", "Bcc")
SINGLE_HEADERS = (
    "To", "Cc", "Bcc", "From", "Reply-To", "Subject", "Key", "Format", "Group-By", "Send-If",
    "Reference", "Amount", "Reminder-Of", "Reminder-Level",
    "Lines", "E-Invoice", "E-Invoice-Columns",
)  # fmt: skip
#: the names a reminder's rows have besides the sheet's columns (see ``reminders``)
REMINDER_NAMES = frozenset({"days_overdue", "open_amount", "paid_amount"})
KNOWN_HEADERS = (*SINGLE_HEADERS, "Attachment", "Document")
CONTEXT_NAMES = frozenset({"row", "rows", "group"})
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*:(.*)$")


@dataclass(frozen=True)
class MessageTemplate:
    """A parsed template: header sources in file order, body source, format and grouping."""

    headers: tuple[tuple[str, str], ...]
    body: str
    format: Format = "text"
    group_by: str | None = None
    name: str = "template"
    folder: Path | None = None  # where the file is: Document templates are looked up there
    send_if: str | None = None  # a Jinja expression; rows for which it is false are left out
    reminder_of: str | None = None  # the campaign this template reminds of
    reminder_level: int = 1
    lines: tuple[str, str] | None = None  # Lines: <sheet or file> on <column>
    einvoice_columns: str | None = None  # E-Invoice-Columns: company=Firma, pcode=PLZ

    def header(self, name: str) -> str | None:
        """The source of the first header called ``name`` (case-insensitive), or None."""
        for key, source in self.headers:
            if key.lower() == name.lower():
                return source
        return None

    def header_all(self, name: str) -> list[str]:
        """The sources of every header called ``name`` (Attachment repeats)."""
        return [source for key, source in self.headers if key.lower() == name.lower()]


def load_template(path: str | Path) -> MessageTemplate:
    """Read a template file (UTF-8); its stem becomes the template's name."""
    source = Path(path).expanduser()
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise TemplateError(
            f"The template {source} does not exist.", "Check the path of the template file."
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(
            f"Cannot read the template {source}: {exc}", "Save it as a UTF-8 text file."
        ) from exc
    return parse_template(text, name=source.stem, folder=source.parent)


def parse_template(
    text: str, name: str = "template", folder: str | Path | None = None
) -> MessageTemplate:
    """Parse the header block and body of a template given as a string.

    ``folder`` is where the template's file is (Document templates are looked up there).
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    headers: list[tuple[str, str]] = []
    body_start: int | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            body_start = number
            break
        if line[0] in " \t" and headers:
            key, value = headers[-1]
            headers[-1] = (key, f"{value} {line.strip()}")
            continue
        match = _HEADER_LINE.match(line)
        if not match:
            raise TemplateError(
                f"Template {name!r}, line {number}: {line.strip()[:60]!r} is not a header line.",
                "Start the file with header lines such as 'To: {{ email }}', then a blank line, "
                "then the body.",
            )
        headers.append((_canonical(match.group(1), name, number), match.group(2).strip()))
    if body_start is None:
        raise TemplateError(
            f"Template {name!r} has no blank line between the headers and the body.",
            "Put one empty line after the last header; the body follows it.",
        )
    body = "\n".join(lines[body_start:]).rstrip() + "\n"
    _check_headers(headers, name)
    fmt_name = (_pop(headers, "Format") or "text").lower()
    fmt = next((known for known in FORMATS if known == fmt_name), None)
    if fmt is None:
        raise TemplateError(
            f"Template {name!r}: unknown Format {fmt_name!r}.", "Use text, markdown or html."
        )
    group_by = _pop(headers, "Group-By") or None
    send_if = _pop(headers, "Send-If")
    reminder_of, reminder_level = _reminder(
        _pop(headers, "Reminder-Of"), _pop(headers, "Reminder-Level"), name
    )
    lines_text = _pop(headers, "Lines")
    einvoice_columns = _pop(headers, "E-Invoice-Columns")
    if lines_text is not None:
        from docmail_nb._sheets.lines import parse_lines_header

        try:
            lines_header: tuple[str, str] | None = parse_lines_header(lines_text)
        except TemplateError as exc:
            raise TemplateError(f"Template {name!r}: {exc.message}", exc.hint) from None
    else:
        lines_header = None
    template = MessageTemplate(
        headers=tuple(headers),
        body=body,
        format=fmt,
        group_by=group_by,
        name=name,
        folder=Path(folder).expanduser().resolve() if folder is not None else None,
        send_if=None if send_if is None else _expression(send_if, name),
        reminder_of=reminder_of,
        reminder_level=reminder_level,
        lines=lines_header,
        einvoice_columns=einvoice_columns,
    )
    template_variables(template)  # compiles every part: syntax errors surface here
    return template


def _reminder(of: str | None, level: str | None, name: str) -> tuple[str | None, int]:
    """Reminder-Of (a campaign's name) and Reminder-Level (1, 2, ...), checked."""
    if of is None:
        if level is not None:
            raise TemplateError(
                f"Template {name!r} has Reminder-Level but no Reminder-Of.",
                "Add 'Reminder-Of: invoices' (the campaign whose invoices it reminds of).",
            )
        return None, 1
    if not of or "{" in of:
        raise TemplateError(
            f"Template {name!r}: Reminder-Of must name a campaign, not {of!r}.",
            "Write the campaign's name, e.g. 'Reminder-Of: invoices' (the invoice template's "
            f"name, or the {setting('campaign')} it was sent with).",
        )
    text = (level or "1").strip()
    if not text.isdigit() or int(text) < 1:
        raise TemplateError(
            f"Template {name!r}: Reminder-Level must be 1, 2, 3 ..., not {text!r}.",
            "Write 'Reminder-Level: 1' for the first reminder, 2 for the second.",
        )
    return of, int(text)


def _expression(source: str, name: str) -> str:
    """The expression of ``Send-If: {{ expr }}`` (the braces may be left out)."""
    match = re.fullmatch(r"\s*\{\{(.*)\}\}\s*", source, re.DOTALL)
    expression = (match.group(1) if match else source).strip()
    if not expression or "{{" in expression or "}}" in expression or "{%" in expression:
        raise TemplateError(
            f"Template {name!r}: Send-If must be one expression, not {source!r}.",
            'Write it as Send-If: {{ status != "bezahlt" }} (and, or, not combine conditions).',
        )
    return expression


def _canonical(key: str, name: str, number: int) -> str:
    for known in KNOWN_HEADERS:
        if key.lower() == known.lower():
            return known
    if key.lower().startswith("x-") and len(key) > 2:
        return "X-" + key[2:]
    close = difflib.get_close_matches(key.title(), KNOWN_HEADERS, n=1, cutoff=0.6)
    suggestion = f"Did you mean {close[0]!r}? " if close else ""
    raise TemplateError(
        f"Template {name!r}, line {number}: unknown header {key!r}.",
        f"{suggestion}Known headers: {', '.join(KNOWN_HEADERS)}, or your own X- header.",
    )


def _check_headers(headers: list[tuple[str, str]], name: str) -> None:
    keys = [key for key, _ in headers]
    for single in SINGLE_HEADERS:
        if keys.count(single) > 1:
            raise TemplateError(
                f"Template {name!r} has the header {single} {keys.count(single)} times.",
                "Give it once; To, Cc and Bcc take several addresses separated by commas.",
            )
    if not any(key in ADDRESS_HEADERS for key in keys):
        raise TemplateError(
            f"Template {name!r} has no To, Cc or Bcc header, so no message has a recipient.",
            "Add a header such as 'To: {{ email }}'.",
        )
    if "To" not in keys:
        raise TemplateError(
            f"Template {name!r} has no To header: its messages would go to the copies (Cc, "
            "Bcc) only.",
            "Add a header such as 'To: {{ email }}'; Cc and Bcc are copies.",
        )
    if "Key" not in keys and "Group-By" not in keys:
        raise TemplateError(
            f"Template {name!r} has no Key header.",
            "Add 'Key: {{ invoice_no }}' (the column that names each document); the ledger "
            "records every message under its key so that none is sent twice.",
        )


def _pop(headers: list[tuple[str, str]], key: str) -> str | None:
    for index, (name, value) in enumerate(headers):
        if name == key:
            del headers[index]
            return value.strip()
    return None


def template_variables(template: MessageTemplate) -> dict[str, set[str]]:
    """Compile every part and return, per part ("Subject", "body", ...), the names it uses."""
    env = make_environment()
    found: dict[str, set[str]] = {}
    parts = [(key, source) for key, source in template.headers]
    parts.append(("body", template.body))
    if template.send_if is not None:
        parts.append(("Send-If", f"{{{{ ({template.send_if}) }}}}"))
    for part, source in parts:
        try:
            tree = env.parse(source)
            env.compile(tree)
        except TemplateSyntaxError as exc:
            where = "the body" if part == "body" else f"the {part} header"
            line = f", line {exc.lineno}" if part == "body" else ""
            raise TemplateError(
                f"Template {template.name!r}: Jinja syntax error in {where}{line}: {exc.message}",
                "Placeholders look like {{ column }}; blocks like {% if x %}...{% endif %}.",
            ) from exc
        names = meta.find_undeclared_variables(tree) - set(env.globals) - CONTEXT_NAMES
        if template.reminder_of is not None:
            names -= REMINDER_NAMES
        found.setdefault(part, set()).update(names)
    return found


def money_columns(template: MessageTemplate) -> dict[str, str]:
    """The columns the template writes as money, with their currency:
    ``{{ amount | money("EUR") }}`` → ``{"amount": "EUR"}`` (``money`` alone: CHF)."""
    env = make_environment()
    found: dict[str, str] = {}
    for source in [source for _, source in template.headers] + [template.body]:
        try:
            tree = env.parse(source)
        except TemplateSyntaxError:
            continue  # the check reports it
        for node in tree.find_all(nodes.Filter):
            if node.name != "money" or not isinstance(node.node, nodes.Name):
                continue
            currency: Any = "CHF"
            if node.args and isinstance(node.args[0], nodes.Const):
                currency = node.args[0].value
            for keyword in node.kwargs:
                if keyword.key == "currency" and isinstance(keyword.value, nodes.Const):
                    currency = keyword.value.value
            if isinstance(currency, str):
                found.setdefault(node.node.name, currency.upper())
    return found
