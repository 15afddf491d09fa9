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
``DocumentRenderer.pdf(row)`` draws the PDF with WeasyPrint.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import functools
import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Template, TemplateSyntaxError, meta
from markupsafe import Markup

from docmail_nb._compose.sandbox import make_environment
from docmail_nb._documents.fetcher import folder_fetcher
from docmail_nb._documents.qrbill import (
    PaymentData,
    PaymentProblem,
    check_payment,
    creditor_reference,
    payment_part_svg,
    qr_reference,
)
from docmail_nb.errors import DocmailError, DocumentError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

    from docmail_nb._documents.einvoice import EInvoice
    from docmail_nb._store.ledger import Ledger

__all__ = [
    "BASE_CSS",
    "DocumentPlanner",
    "DocumentPreview",
    "DocumentRenderer",
    "DocumentTemplate",
    "PlannedDocument",
    "RenderedDocument",
    "documents_changed",
    "first_page_png",
    "load_document_template",
    "needs_drawing",
    "pdf_filename",
    "prepare_documents",
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
                + "; ".join(str(problem) for problem in problems),
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
    font_config, base_css = _drawing_setup(weasyprint)
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


def _drawing_setup(weasyprint: Any) -> tuple[Any, Any]:
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


# --- documents of a batch: planned with the message, made when it is sent ------------------


@dataclass(frozen=True)
class PlannedDocument:
    """A document a message carries: checked when planned, made (or found) when sent.

    A PDF drawn from a template (``renderer``), a Factur-X PDF (with ``einvoice``: its
    fingerprint covers the XML), or an e-invoice's XML alone (``renderer`` None: XRechnung).
    """

    path: Path  # where it is saved: the documents-out folder / pdf_filename(...)
    fingerprint: str
    renderer: DocumentRenderer | None = field(compare=False, repr=False)
    values: Mapping[str, Any] = field(compare=False, repr=False)
    payment: PaymentData | None = field(default=None, compare=False, repr=False)
    einvoice: EInvoice | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The file name, as attached and as recorded in the ledger."""
        return self.path.name

    @property
    def content_type(self) -> str:
        """The MIME type it is attached with."""
        return "application/pdf" if self.renderer is not None else "application/xml"

    def render(self) -> RenderedDocument:
        """Draw the PDF (WeasyPrint), or give the e-invoice's XML."""
        if self.renderer is None:
            assert self.einvoice is not None
            return RenderedDocument(self.name, self.einvoice.xml)
        return self.renderer.pdf(self.values, self.einvoice)

    def with_einvoice(self, einvoice: EInvoice) -> PlannedDocument:
        """This PDF as Factur-X: it carries ``einvoice``, and its fingerprint covers the XML."""
        seed = f"{self.fingerprint}\0{einvoice.kind}\0{einvoice.sha256}"
        fingerprint = hashlib.sha256(seed.encode("utf-8")).hexdigest()
        return dataclasses.replace(self, fingerprint=fingerprint, einvoice=einvoice)

    @classmethod
    def xml(cls, folder: Path, einvoice: EInvoice) -> PlannedDocument:
        """An e-invoice's XML as a document of its own (``xrechnung-<key>.xml``)."""
        return cls(folder / einvoice.filename, einvoice.sha256, None, {}, einvoice=einvoice)


class DocumentPlanner:
    """The documents of a plan: one renderer per template file, problems named once."""

    def __init__(self, folder: Path | None, out: Path, locale: str = "de_CH") -> None:
        self.folder = folder or Path.cwd()
        self.out = out
        self.locale = locale
        self._renderers: dict[Path, DocumentRenderer | DocmailError] = {}

    def renderer(self, name: str) -> DocumentRenderer:
        """The renderer of the template ``name`` (beside the message template); DocumentError."""
        path = self._inside_folder(name.strip())
        found = self._renderers.get(path)
        if found is None:
            try:
                found = DocumentRenderer(load_document_template(path), locale=self.locale)
            except DocmailError as exc:
                found = exc
            self._renderers[path] = found
        if isinstance(found, DocmailError):
            raise found
        return found

    def _inside_folder(self, name: str) -> Path:
        """The template file ``name`` names, refused unless it is inside the template folder
        once every link is followed (as attachments stay in the documents folder)."""
        root = self.folder.resolve()
        path = (root / name).resolve()
        if (
            Path(name).is_absolute()
            or ".." in re.split(r"[/\\]", name)
            or (not path.is_relative_to(root))
        ):
            raise DocumentError(
                f"The document template {name[:200]!r} is outside the template folder {root}.",
                "Name a file in the template folder (a subfolder is fine), without '..', "
                "absolute paths or links leading out.",
            )
        return path

    def plan(
        self, name: str, values: Mapping[str, Any], key: str, suffix: str = ""
    ) -> tuple[PlannedDocument | None, list[PaymentProblem]]:
        """The document ``name`` for one row: planned, or the row's problems with it."""
        try:
            renderer = self.renderer(name)
        except DocmailError as exc:
            return None, [PaymentProblem("Document", exc.message, exc.hint)]
        problems, fingerprint, payment = renderer.check_with_payment(values)
        if problems:
            return None, problems
        filename = pdf_filename(renderer.template, key + suffix)
        return PlannedDocument(self.out / filename, fingerprint, renderer, values, payment), []


def prepare_documents(
    documents: tuple[PlannedDocument, ...],
    campaign: str,
    key: str,
    ledger: Ledger,
    *,
    resend_changed: bool = False,
    draw: Callable[[PlannedDocument], RenderedDocument] | None = None,
) -> tuple[int, str]:
    """Have each document on disk as the ledger records it, making only what is missing.

    A document recorded with the same fingerprint whose file still has the recorded sha256 is
    used as it is (nothing is drawn). A message already sent whose document would now be made
    from other data is left alone: returned is (documents made, why the message must not go).
    ``draw`` makes a document's PDF (default: drawn here; a run passes its drawing pool's).
    """
    made = 0
    for document in documents:
        verdict = _verdict(document, campaign, key, ledger, resend_changed)
        if verdict == "keep":
            continue
        if verdict == "refuse":
            return made, (
                f"The document {document.name} was sent made from other data; it is not made again."
            )
        rendered = draw(document) if draw is not None else document.render()
        _write_atomically(document.path, rendered.pdf)
        ledger.record_document(
            campaign,
            key,
            document.name,
            path=str(document.path),
            sha256=rendered.sha256,
            fingerprint=document.fingerprint,
        )
        made += 1
    return made, ""


def needs_drawing(
    document: PlannedDocument, campaign: str, key: str, ledger: Ledger, resend_changed: bool
) -> bool:
    """Whether ``prepare_documents`` would draw this document now (read only)."""
    return _verdict(document, campaign, key, ledger, resend_changed) == "draw"


def _verdict(
    document: PlannedDocument, campaign: str, key: str, ledger: Ledger, resend_changed: bool
) -> Literal["keep", "draw", "refuse"]:
    """Keep the file as recorded, draw it, or refuse (sent made from other data)."""
    record = ledger.document(campaign, key, document.name)
    if record is None:
        return "draw"
    if record.fingerprint == document.fingerprint:
        return "keep" if _file_sha256(document.path) == record.sha256 else "draw"
    if resend_changed:
        return "draw"
    entry = ledger.get(campaign, key)
    sent = entry.state if entry is not None else ""
    if sent in ("sent", "delayed", "bounced"):
        return "refuse"
    if sent == "unknown":
        return "keep"  # the server may have the old one: keep it as it is
    return "draw"


def documents_changed(
    documents: tuple[PlannedDocument, ...], campaign: str, key: str, ledger: Ledger
) -> bool:
    """Whether any document would now be made from other data than the one recorded."""
    for document in documents:
        record = ledger.document(campaign, key, document.name)
        if record is not None and record.fingerprint != document.fingerprint:
            return True
    return False


@dataclass(frozen=True)
class DocumentPreview:
    """A document drawn for a preview: where it was saved, its first page as a PNG image, and
    the e-invoice it carries (or is) as the customer's software reads it."""

    name: str
    path: Path | None  # the PDF drawn for the preview; None when drawn into a temporary folder
    size: int
    pages: int
    first_page_png: bytes
    einvoice: tuple[str, ...] = ()

    @property
    def image(self) -> Path | None:
        """The first page as a PNG file beside the PDF."""
        return self.path.with_suffix(".png") if self.path is not None else None


def first_page_png(pdf: bytes, dpi: int = 100) -> tuple[bytes, int]:
    """The first page of a PDF as a PNG image (pypdfium2), and the number of pages."""
    import io

    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=dpi / 72).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue(), len(document)
    finally:
        document.close()


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(path)
