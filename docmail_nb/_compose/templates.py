"""The message template format and the sandboxed Jinja environment it is rendered with.

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

import datetime as dt
import difflib
import functools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from docmail_nb._sheets.orders import CellError
from docmail_nb.errors import TemplateError
from docmail_nb.words import setting

__all__ = [
    "ADDRESS_HEADERS",
    "CONTEXT_NAMES",
    "FORMATS",
    "KNOWN_HEADERS",
    "MAX_AMOUNT_DIGITS",
    "MAX_LIPSUM",
    "MAX_OUTPUT",
    "MAX_REPEAT",
    "REMINDER_NAMES",
    "SHOWN_CELL",
    "SINGLE_HEADERS",
    "BoundedSandbox",
    "Format",
    "MessageTemplate",
    "html_to_text",
    "load_template",
    "make_environment",
    "money_columns",
    "parse_template",
    "round_amount",
    "shown",
    "template_variables",
    "to_date",
    "to_decimal",
]

#: the longest string or list a template may make with ``*`` (and ``lipsum``'s words)
MAX_REPEAT = 100_000
#: the most paragraphs ``lipsum`` makes
MAX_LIPSUM = 100
#: the largest amount (in units) docmail computes with: 10**15, far beyond any invoice
MAX_AMOUNT_DIGITS = 15
#: the most characters one rendering (a header, a body, a document) may make
MAX_OUTPUT = 5_000_000
#: how much of a cell a problem quotes
SHOWN_CELL = 60

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
_SPACES = re.compile(r"[\u00a0\u202f]")
#: the characters Python-Markdown takes as markup and lets be escaped with a backslash
#: (``<``, ``>`` and ``&`` are HTML-escaped instead, which markdown leaves as they are)
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!]")
_CURRENCY = r"(?:[A-Z]{3}|S?Fr\.?|sFr\.?|€|\$|£)"
_AMOUNT = re.compile(
    rf"^(?:{_CURRENCY}\s*)?(?P<sign>[-−–]\s*)?(?:{_CURRENCY}\s*)?"
    r"(?P<number>[0-9][0-9'’\u00a0\u202f ,]*(?:\.(?:[0-9]+|[-–]{1,2}))?|\.[0-9]+)"
    rf"\s*(?:{_CURRENCY})?$",
    re.IGNORECASE,
)
_GROUPING = re.compile(r"['’\u00a0\u202f ]")
_WHOLE_FRANCS = re.compile(r"\.[-–]{1,2}$")


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


def to_decimal(value: Any) -> Decimal:
    """A number cell, or an amount as typed into a text cell, as an exact Decimal.

    Text may carry a currency (``CHF 980.–``, ``1’234.50 CHF``), thousands separators (``'``,
    ``’``, spaces, or ``,`` before a decimal point), the Swiss ``.–`` / ``.-`` for whole francs
    and a leading minus (``-``, ``−``).
    """
    if value is None:
        raise ValueError("an empty cell is not an amount")
    if isinstance(value, CellError):
        raise ValueError(value.describe())
    if isinstance(value, bool):
        raise ValueError(f"{shown(value)} is not an amount")
    if isinstance(value, Decimal | int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return _bounded(number, value)
    text = str(value).strip()
    if len(text) > 4 * MAX_AMOUNT_DIGITS:
        raise ValueError(f"{shown(text)} is too long for a number")
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(f"{shown(value)} is not a number")
    digits = _GROUPING.sub("", match.group("number"))
    if "," in digits:
        if "." not in digits or digits.index(",") > digits.index("."):
            raise ValueError(f"{shown(value)} is not a number (a decimal comma?)")
        digits = digits.replace(",", "")
    digits = _WHOLE_FRANCS.sub("", digits)
    try:
        number = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"{shown(value)} is not a number") from None
    return _bounded(-number if match.group("sign") else number, value)


def _bounded(number: Decimal, value: Any) -> Decimal:
    """``number``, unless it is no finite number or too large to be an amount."""
    if not number.is_finite():
        raise ValueError(f"{shown(value)} is not a number")
    if number and number.adjusted() >= MAX_AMOUNT_DIGITS:
        raise ValueError(
            f"{shown(value)} is too large a number (more than {MAX_AMOUNT_DIGITS} digits "
            "before the decimal point)"
        )
    return number


def shown(value: Any) -> str:
    """``repr(value)``, shortened to about ``SHOWN_CELL`` characters for a message."""
    text = repr(value)
    if len(text) <= SHOWN_CELL:
        return text
    return f"{text[: SHOWN_CELL - 10]}…{text[-5:]} ({len(text):,} characters)"


def round_amount(amount: Decimal, step: Decimal, places: int) -> Decimal:
    """``amount`` rounded half away from zero to a multiple of ``step`` (as Excel's ROUND and
    invoice programs do: 24.525 → 24.53), with ``places`` decimal places."""
    units = (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (units * step).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_date(value: Any) -> dt.date:
    """A date cell, or ISO text such as "2026-12-31" or Swiss "31.12.2026", as a date."""
    if value is None:
        raise ValueError("an empty cell is not a date")
    if isinstance(value, CellError):
        raise ValueError(value.describe())
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == text[7] == "-":
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
    raise ValueError(f"{shown(value)} is not a date")


def make_environment(
    locale: str = "de_CH", *, autoescape: bool = False, markdown: bool = False
) -> SandboxedEnvironment:
    """A sandboxed Jinja environment: undefined names are errors, empty cells render empty.

    ``autoescape``: every value is HTML-escaped (html bodies). ``markdown``: every value is
    also escaped for markdown (``[text](url)``, ``**``, ``#`` stay text), so a cell can never
    add a link or a tag to a markdown body; the template's own markup still works.

    Filters: ``money(value, currency="CHF", round=None)`` → ``CHF 1’234.50`` (rounded half
    away from zero to the currency's cents, or to ``round``: ``round=0.05`` for 5 Rappen;
    negative as ``CHF -250.00``); ``date(value, format="medium")`` → ``31.12.2026`` (Babel
    patterns such as ``"d. MMMM yyyy"`` too); ``number(value, digits=None)`` → ``1’234.5``.
    All follow ``locale``. A cell holding an Excel error is never rendered: it fails, naming it.
    """

    env = BoundedSandbox(
        undefined=StrictUndefined,
        autoescape=autoescape,
        finalize=_finalize_markdown if markdown else _finalize,
        keep_trailing_newline=True,
    )
    env.globals["lipsum"] = _lipsum
    env.filters.update(
        center=_center,
        indent=_indent,
        replace=pass_eval_context(_replace),
        format=_format,
        money=functools.partial(_money, locale=locale),
        date=functools.partial(_date, locale=locale),
        number=functools.partial(_number, locale=locale),
    )
    return env


_WIDE_FORMAT = re.compile(r"%[-+ #0]*(?:\*|[0-9]{6,}|\.(?:\*|[0-9]{6,}))")
_WIDE_FIELD = re.compile(r"\{[^{}]*:[^{}]*[0-9]{6,}")


def _check_string_call(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A string method called by a template: refused when its result could be huge."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(function, "__name__", "")
    values = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and values:
        _check_width(values[0])
    elif name == "expandtabs" and values:
        _check_width(owner.count("\t") * values[0] if isinstance(values[0], int) else 0)
    elif name == "replace" and len(values) >= 2:
        _check_width(_replaced_length(owner, values[0], values[1]))
    elif name == "join" and isinstance(values[0] if values else None, list | tuple):
        _check_width(len(owner) * len(values[0]))


def _refuse_wide_format(*args: Any, **kwargs: Any) -> str:
    raise SecurityError("a format width that large is too much for a template")


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_REPEAT * 10:
        raise SecurityError(f"a text of {width:,} characters is too much for a template")


def _replaced_length(text: str, old: Any, new: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return 0
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * max(0, len(new) - len(old))


def _bounded_concat(parts: Any) -> str:
    """Join what a template renders, stopping once it passes ``MAX_OUTPUT`` characters."""
    kept: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_OUTPUT:
            raise SecurityError(
                f"the template makes more than {MAX_OUTPUT:,} characters, too much for a "
                "message or a document"
            )
        kept.append(part)
    return "".join(kept)


def _indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    """Jinja's ``indent``, bounded like the rest."""
    from jinja2.filters import do_indent

    if isinstance(width, int):
        _check_width(width * (str(value).count("\n") + 1))
    elif isinstance(width, str):
        _check_width(len(width) * (str(value).count("\n") + 1))
    return str(do_indent(value, width, first, blank))


def _replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> Any:
    """Jinja's ``replace``, bounded like the rest."""
    from jinja2.filters import do_replace

    _check_width(_replaced_length(str(value), str(old), str(new)))
    return do_replace(eval_ctx, value, old, new, count)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's ``format``, without widths of a million."""
    from jinja2.filters import do_format

    if _WIDE_FORMAT.search(str(value)):
        raise SecurityError("a format width that large is too much for a template")
    return str(do_format(value, *args, **kwargs))


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with bounds: nothing a template makes with ``*``, ``**`` or ``%``, a
    string method or a filter that pads or replaces grows past ``MAX_REPEAT``; no rendering
    makes more than ``MAX_OUTPUT`` characters; no object given to it (the row) can be
    changed."""

    intercepted_binops = frozenset({"*", "**", "%"})
    concat = staticmethod(_bounded_concat)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_string_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        name = getattr(value, "__name__", "")
        if (
            isinstance(owner, str)
            and name in ("format", "format_map")
            and _WIDE_FIELD.search(owner)
        ):
            return _refuse_wide_format
        return super().wrap_str_format(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise SecurityError("a format width that large is too much for a template")
        return super().call_binop(context, operator, left, right)


def _check_repeat(sequence: Any, times: Any) -> None:
    if (
        isinstance(sequence, str | list | tuple)
        and isinstance(times, int)
        and times > 0
        and len(sequence) * times > MAX_REPEAT
    ):
        raise SecurityError(
            f"repeating {len(sequence):,} items {times:,} times is too much for a "
            f"template (at most {MAX_REPEAT:,})"
        )


def _check_power(base: Any, exponent: Any) -> None:
    numbers = (int, float, Decimal)
    if not (isinstance(base, numbers) and isinstance(exponent, numbers)):
        return
    size: Any = abs(base)
    power: Any = abs(exponent)
    if size > 1 and power > 1000:
        raise SecurityError("a power that large is too much for a template")


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's ``lipsum``, with at most ``MAX_LIPSUM`` paragraphs of at most 100 words."""
    if not (0 <= n <= MAX_LIPSUM and 0 < min <= max <= 100):
        raise SecurityError(
            f"lipsum takes at most {MAX_LIPSUM} paragraphs of at most 100 words; this is too much"
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _center(value: Any, width: int = 80) -> str:
    """Jinja's ``center``, up to ``MAX_REPEAT`` characters wide."""
    if width > MAX_REPEAT:
        raise SecurityError(f"center({width:,}) is too wide for a template")
    return str(value).center(width)


def _money(value: Any, currency: str = "CHF", round: Any = None, *, locale: str) -> str:
    """The ``money`` filter: ``CHF 1’234.50``, rounded half away from zero."""
    amount = to_decimal(value)
    places = get_currency_precision(currency)
    step = Decimal(1).scaleb(-places)
    if round is not None:
        step = to_decimal(round)
        if step <= 0:
            raise ValueError(f"money(round={round!r}): the step must be positive")
        places = max(places, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
    amount = round_amount(amount, step, places)
    text = format_currency(
        amount,
        currency,
        format=_signed_pattern(locale, places),
        locale=_locale(locale),
        currency_digits=False,
    )
    return _swiss_apostrophe(_plain_spaces(text))


def _date(value: Any, format: str = "medium", *, locale: str) -> str:
    """The ``date`` filter: ``31.12.2026``, or a Babel pattern such as ``"d. MMMM yyyy"``."""
    day = to_date(value)
    if isinstance(day, dt.datetime) and format not in ("short", "medium", "long", "full"):
        return _plain_spaces(format_datetime(day, format, locale=_locale(locale)))
    return _plain_spaces(format_date(day, format, locale=_locale(locale)))


def _number(value: Any, digits: int | None = None, *, locale: str) -> str:
    """The ``number`` filter: ``1’234.5``, or with ``digits`` places."""
    amount = to_decimal(value)
    if digits is not None:
        amount = round_amount(amount, Decimal(1).scaleb(-digits), digits)
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        text = format_decimal(amount, pattern, locale=_locale(locale))
        return _swiss_apostrophe(_plain_spaces(text))
    if amount.as_tuple().exponent < -3:  # type: ignore[operator]
        amount = round_amount(amount, Decimal("0.001"), 3).normalize()
    return _swiss_apostrophe(_plain_spaces(format_decimal(amount, locale=_locale(locale))))


@functools.cache
def _signed_pattern(locale: str, places: int) -> str:
    """The locale's currency pattern with the minus next to the number (``CHF -250.00``)."""
    pattern = _locale(locale).currency_formats["standard"].pattern.split(";")[0]
    decimals = "0" * places
    pattern = re.sub(r"0\.0+", f"0.{decimals}" if places else "0", pattern)
    return f"{pattern};{pattern.replace('#', '-#', 1)}"


@functools.cache
def _locale(name: str) -> Locale:
    """The parsed Babel locale (parsing a locale name anew on every call is slow)."""
    return Locale.parse(name)


def _finalize(value: Any) -> Any:
    if isinstance(value, CellError):
        raise ValueError(value.describe())
    return "" if value is None else value


def _finalize_markdown(value: Any) -> Any:
    """A value as markdown text: every character markdown would act on, backslash-escaped."""
    value = _finalize(value)  # an Excel error fails here, as everywhere
    if isinstance(value, Markup):  # the template marked it safe on purpose
        return value
    return _MARKDOWN_SPECIAL.sub(r"\\\g<0>", str(value))


def _plain_spaces(text: str) -> str:
    return _SPACES.sub(" ", text)


def _swiss_apostrophe(text: str) -> str:
    """Digits grouped with the typographic apostrophe (1’234.50), whatever Babel's CLDR says.

    CLDR versions differ between ' and ’ for de_CH; a formatted number has no other quote.
    """
    return text.replace("'", "’")


class _TextExtractor(HTMLParser):
    """Plain text from simple HTML mail: paragraphs, line breaks, links, lists."""

    BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and not href.startswith("#") and href not in self.parts[-1:]:
                self.parts.append(f" ({href.removeprefix('mailto:')})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body (for the text/plain part)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text + "\n"
