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
part is placed from them. Stylesheets, images, fonts and attachments load from the template's
folder (or as ``data:`` URLs) and from nowhere else, each up to 20 MB (see ``fetcher``).

``DocumentRenderer.check(row)`` renders only the HTML and checks the payment data (cheap);
``DocumentRenderer.pdf(row)`` draws the PDF with WeasyPrint. A batch's documents are planned
and made once in ``planned``; drawn for a preview in ``drawing``.
"""

from __future__ import annotations

import base64
import difflib
import functools
import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Template, TemplateSyntaxError, meta
from markupsafe import Markup

from docmail_nb._compose.sandbox import make_environment
from docmail_nb._documents.fetcher import folder_fetcher
from docmail_nb._documents.payment_problems import PaymentProblem
from docmail_nb._documents.payment_references import creditor_reference, qr_reference
from docmail_nb._documents.qrbill import PaymentData, check_payment, payment_part_svg
from docmail_nb.errors import DocmailError, DocumentError
from docmail_nb.words import join_reasons

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from docmail_nb._documents.einvoice import EInvoice

__all__ = [
    "BASE_CSS",
    "DocumentRenderer",
    "DocumentTemplate",
    "RenderedDocument",
    "drawing_setup",
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
        self.locale = locale
        env = _environment(locale)
        self._compiled = _compile(env, template)
        names = meta.find_undeclared_variables(env.parse(template.source))
        #: the columns the template uses
        self.columns = frozenset(names - set(env.globals) - {"row", "qrbill"})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its template and locale (a drawing process compiles it once)."""
        return (_renderer_for, (self.template, self.locale))

    def check(self, row: Mapping[str, Any]) -> list[PaymentProblem]:
        """Every problem of this row's document: rendering errors and payment data."""
        return self.check_and_fingerprint(row)[0]

    def check_and_fingerprint(self, row: Mapping[str, Any]) -> tuple[list[PaymentProblem], str]:
        """The problems of this row's document, and a fingerprint of what it is made from.

        Two rows with the same fingerprint give the same PDF (same template, same values,
        same payment data); nothing is drawn to find out.
        """
        problems, fingerprint, _payment = self.check_with_payment(row)
        return problems, fingerprint

    def check_with_payment(
        self, row: Mapping[str, Any]
    ) -> tuple[list[PaymentProblem], str, PaymentData | None]:
        """``check_and_fingerprint``, and the checked payment data of its QR-bill (if any)."""
        problems: list[PaymentProblem] = []
        payments: list[PaymentData] = []
        try:
            html = self._html(row, problems, draw=False, payments=payments)
        except DocmailError as exc:
            problems.append(PaymentProblem(self.template.name, exc.message, exc.hint))
            return problems, "", None
        seed = "\0".join((self.template.name, self.template.source, BASE_CSS, html))
        fingerprint = hashlib.sha256(seed.encode("utf-8")).hexdigest()
        return problems, fingerprint, payments[0] if payments else None

    def html(self, row: Mapping[str, Any]) -> str:
        """The HTML of this row's document, the payment part drawn in; DocumentError if not."""
        problems: list[PaymentProblem] = []
        html = self._html(row, problems, draw=True)
        if problems:
            raise DocumentError(
                f"The document {self.template.name} cannot be made: "
                + join_reasons(str(problem) for problem in problems),
                "Correct the row (docmail check lists every problem).",
            )
        return html

    def pdf(self, row: Mapping[str, Any], einvoice: EInvoice | None = None) -> RenderedDocument:
        """This row's document as a PDF; with ``einvoice``, a PDF/A-3 carrying its XML."""
        pdf = _html_to_pdf(self.html(row), self.template, einvoice)
        return RenderedDocument(self.template.name, pdf)

    def _html(
        self,
        row: Mapping[str, Any],
        problems: list[PaymentProblem],
        *,
        draw: bool,
        payments: list[PaymentData] | None = None,
    ) -> str:
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
            if data is None:
                return Markup("")
            if payments is not None:
                payments.append(data)
            if not draw:  # what the payment part is drawn from, for the fingerprint
                return Markup("<!-- qrbill {} -->").format(repr(data))
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


def _html_to_pdf(html: str, template: DocumentTemplate, einvoice: EInvoice | None = None) -> bytes:
    """Draw HTML as a PDF with WeasyPrint; resources only from the template's folder."""
    import weasyprint  # imported when drawing: loading it (and Pango) takes a moment

    folder = template.path.parent
    fetcher = folder_fetcher(weasyprint, folder)
    document = weasyprint.HTML(string=html, base_url=str(folder), url_fetcher=fetcher)
    font_config, base_css = drawing_setup(weasyprint)
    if einvoice is not None:
        from docmail_nb._documents.facturx import write_facturx_pdf

        return write_facturx_pdf(
            weasyprint,
            document,
            einvoice.xml,
            einvoice.invoice.issue_date,
            fetcher,
            stylesheets=[base_css],
            font_config=font_config,
        )
    pdf = document.write_pdf(stylesheets=[base_css], font_config=font_config)
    assert isinstance(pdf, bytes)
    return pdf


_DRAWING = threading.local()


def drawing_setup(weasyprint: Any) -> tuple[Any, Any]:
    """This thread's font configuration and base stylesheet, made once and reused.

    A new font configuration per document leaks native memory in Pango/fontconfig (about
    1.4 MB a document); one per thread keeps a long batch flat and draws the same bytes.
    """
    setup: tuple[Any, Any] | None = getattr(_DRAWING, "setup", None)
    if setup is None:
        from weasyprint.text.fonts import FontConfiguration

        font_config = FontConfiguration()
        setup = _DRAWING.setup = (
            font_config,
            weasyprint.CSS(string=BASE_CSS, font_config=font_config),
        )
    return setup


@functools.lru_cache(maxsize=32)
def _renderer_for(template: DocumentTemplate, locale: str) -> DocumentRenderer:
    return DocumentRenderer(template, locale=locale)


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
