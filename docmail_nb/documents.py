"""Documents: a PDF per row from an HTML/CSS template, with a Swiss QR-bill when asked for.

A document template is an HTML file with Jinja placeholders over the row's columns, rendered
in the same sandbox and with the same filters as the e-mail (``money``, ``date``, ``number``;
values are HTML-escaped). Three more names are at hand::

    {{ qrbill(account=iban, creditor=dict(name=..., street=..., house_num=..., pcode=...,
              city=..., country="CH"), debtor=..., amount=amount, currency="CHF",
              reference=qr_reference(customer_no, invoice_no),
              additional_information="Rechnung " ~ invoice_no, language="de") }}
    {{ qr_reference(customer_no, invoice_no) }}   {{ creditor_reference(invoice_no) }}

``qrbill(...)`` puts the receipt and payment part (105 mm, A4 wide, with its perforation line)
at the bottom of the page it ends up on: called at the end of the template, that is the last
page, and the content moves to a new page when the payment part does not fit below it.

Pages are A4. Set the page margins with the CSS variables ``--page-margin-top``, ``-right``,
``-bottom`` and ``-left`` (on ``:root``), not with an ``@page`` margin of your own: the payment
part is placed from them. Images and stylesheets load from the template's folder (or as
``data:`` URLs) and from nowhere else.

``DocumentRenderer.check(row)`` renders only the HTML and checks the payment data (cheap);
``DocumentRenderer.pdf(row)`` draws the PDF with WeasyPrint.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Template, TemplateSyntaxError, meta
from markupsafe import Markup

from .errors import DocmailError, DocumentError
from .qrbill import (
    PaymentProblem,
    check_payment,
    creditor_reference,
    payment_part_svg,
    qr_reference,
)
from .templates import make_environment

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "BASE_CSS",
    "DocumentRenderer",
    "DocumentTemplate",
    "RenderedDocument",
    "load_document_template",
    "pdf_filename",
]

#: A user-level stylesheet under every document: the template's own CSS overrides any of it.
BASE_CSS = """
html {
  --page-margin-top: 20mm; --page-margin-right: 18mm;
  --page-margin-bottom: 15mm; --page-margin-left: 20mm;
}
@page {
  size: A4;
  margin: var(--page-margin-top) var(--page-margin-right)
          var(--page-margin-bottom) var(--page-margin-left);
}
body { margin: 0; }
.docmail-qrbill {
  break-inside: avoid; margin: 0; padding: 0;
  height: calc(106mm - var(--page-margin-bottom));
}
.docmail-qrbill img {
  position: absolute; width: 210mm; height: 106mm;
  left: calc(-1 * var(--page-margin-left)); bottom: calc(-1 * var(--page-margin-bottom));
}
"""
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


@dataclass(frozen=True)
class DocumentTemplate:
    """A document template: its file and its Jinja source."""

    path: Path
    source: str

    @property
    def name(self) -> str:
        """The file name (``invoice.html``), as problems name it."""
        return self.path.name


@dataclass(frozen=True)
class RenderedDocument:
    """A PDF made for a row, and the sha256 of its bytes."""

    template: str
    pdf: bytes

    @property
    def sha256(self) -> str:
        """The hash recorded in the ledger."""
        return hashlib.sha256(self.pdf).hexdigest()


def load_document_template(path: str | Path) -> DocumentTemplate:
    """Read and compile a document template (UTF-8 HTML with Jinja placeholders)."""
    source_path = Path(path).expanduser().resolve()
    try:
        source = source_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise DocumentError(
            f"The document template {source_path} does not exist.",
            "Check the file name after 'Document:'; it is looked up beside the message template.",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(
            f"Cannot read the document template {source_path}: {exc}",
            "Save it as a UTF-8 HTML file.",
        ) from exc
    template = DocumentTemplate(source_path, source)
    _compile(_environment("de_CH"), template)
    return template


def pdf_filename(template: DocumentTemplate, key: str) -> str:
    """The file a row's document is saved as: ``<template stem>-<key>.pdf``, safe characters."""
    safe_key = _UNSAFE_NAME.sub("_", key).strip("._") or "document"
    return f"{template.path.stem}-{safe_key}.pdf"


class DocumentRenderer:
    """Renders one document template for rows: ``check`` (HTML only) and ``pdf``."""

    def __init__(self, template: DocumentTemplate, *, locale: str = "de_CH") -> None:
        self.template = template
        env = _environment(locale)
        self._compiled = _compile(env, template)
        names = meta.find_undeclared_variables(env.parse(template.source))
        #: the columns the template uses
        self.columns = frozenset(names - set(env.globals) - {"row", "qrbill"})

    def check(self, row: Mapping[str, Any]) -> list[PaymentProblem]:
        """Every problem of this row's document: rendering errors and payment data."""
        problems: list[PaymentProblem] = []
        try:
            self._html(row, problems, draw=False)
        except DocmailError as exc:
            problems.append(PaymentProblem(self.template.name, exc.message, exc.hint))
        return problems

    def html(self, row: Mapping[str, Any]) -> str:
        """The HTML of this row's document, the payment part drawn in; DocumentError if not."""
        problems: list[PaymentProblem] = []
        html = self._html(row, problems, draw=True)
        if problems:
            raise DocumentError(
                f"The document {self.template.name} cannot be made: "
                + "; ".join(str(problem) for problem in problems),
                "Correct the row (docmail check lists every problem).",
            )
        return html

    def pdf(self, row: Mapping[str, Any]) -> RenderedDocument:
        """This row's document as a PDF."""
        return RenderedDocument(self.template.name, html_to_pdf(self.html(row), self.template))

    def _html(self, row: Mapping[str, Any], problems: list[PaymentProblem], *, draw: bool) -> str:
        missing = sorted(self.columns - set(row))
        if missing:
            close = difflib.get_close_matches(missing[0], [str(name) for name in row], n=1)
            raise DocumentError(
                f"The document {self.template.name} uses "
                + ", ".join(repr(name) for name in missing)
                + (", which the sheet does not have." if len(missing) > 1 else ", not a column."),
                (f"Did you mean {close[0]!r}? " if close else "")
                + "Use the column names of the sheet's first row.",
            )
        calls = 0

        def qrbill(**fields: Any) -> Markup:
            nonlocal calls
            calls += 1
            if calls > 1:
                problems.append(
                    PaymentProblem(
                        "qrbill",
                        "is called more than once; a document carries one payment part.",
                        "Call qrbill(...) once, at the end of the template.",
                    )
                )
                return Markup("")
            data, found = _check_call(fields)
            problems.extend(found)
            if data is None or not draw:
                return Markup("")
            svg = base64.b64encode(payment_part_svg(data).encode("utf-8")).decode("ascii")
            return Markup(
                '<div class="docmail-qrbill"><img alt="QR-bill payment part" '
                'src="data:image/svg+xml;base64,{}"></div>'
            ).format(svg)

        context = dict(row)
        context.update(row=row, qrbill=qrbill)
        try:
            return self._compiled.render(context)
        except DocmailError:
            raise
        except Exception as exc:
            raise DocumentError(
                f"Cannot render the document {self.template.name}: {str(exc).rstrip('.')}.",
                "Check the column names in the template and that the row's cells are filled.",
            ) from exc


_CALL_FIELDS = (
    "account",
    "creditor",
    "debtor",
    "amount",
    "currency",
    "reference",
    "additional_information",
    "language",
)


def _check_call(fields: dict[str, Any]) -> tuple[Any, list[PaymentProblem]]:
    unknown = sorted(set(fields) - set(_CALL_FIELDS))
    if unknown:
        return None, [
            PaymentProblem(
                "qrbill",
                f"does not take {', '.join(unknown)}.",
                f"qrbill(...) takes {', '.join(_CALL_FIELDS)}.",
            )
        ]
    missing = [name for name in ("account", "creditor") if name not in fields]
    if missing:
        return None, [
            PaymentProblem(
                "qrbill",
                f"is called without {' and '.join(missing)}.",
                "Give at least account=... and creditor=dict(name=..., pcode=..., city=..., "
                "country=...).",
            )
        ]
    return check_payment(**fields)


def html_to_pdf(html: str, template: DocumentTemplate) -> bytes:
    """Draw HTML as a PDF with WeasyPrint; resources only from the template's folder."""
    import weasyprint  # imported when drawing: loading it (and Pango) takes a moment

    folder = template.path.parent
    fetcher = _folder_fetcher(weasyprint, folder)
    document = weasyprint.HTML(string=html, base_url=str(folder), url_fetcher=fetcher)
    pdf = document.write_pdf(stylesheets=[_base_css(weasyprint)])
    assert isinstance(pdf, bytes)
    return pdf


def _folder_fetcher(weasyprint: Any, folder: Path) -> Any:
    """A URL fetcher for data: URLs and files inside ``folder``, and nothing else."""
    base = weasyprint.urls.URLFetcher

    class FolderFetcher(base):  # type: ignore[misc, valid-type]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                from urllib.parse import unquote, urlparse

                path = Path(unquote(urlparse(url).path)).resolve()
                if not path.is_relative_to(folder):
                    raise ValueError(f"{path} is outside the template's folder {folder}")
            return super().fetch(url, headers)

    return FolderFetcher(allowed_protocols={"file", "data"})


@functools.cache
def _base_css(weasyprint: Any) -> Any:
    return weasyprint.CSS(string=BASE_CSS)


@functools.cache
def _environment(locale: str) -> SandboxedEnvironment:
    env = make_environment(locale, autoescape=True)
    env.globals.update(qr_reference=qr_reference, creditor_reference=creditor_reference)
    return env


def _compile(env: SandboxedEnvironment, template: DocumentTemplate) -> Template:
    try:
        return env.from_string(template.source)
    except TemplateSyntaxError as exc:
        raise DocumentError(
            f"Document template {template.name}, line {exc.lineno}: Jinja syntax error: "
            f"{exc.message}",
            "Placeholders look like {{ column }}; blocks like {% if x %}...{% endif %}.",
        ) from exc
