"""A draft with its documents drawn outside the documents-out folder, recorded nowhere.

A dry run, a test message and a preview must show the documents exactly as a send will make
them, without touching the documents-out folder or the ledger; a preview shows each with its
first page as an image.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docmail_nb._compose.message import Draft
from docmail_nb._documents.render import RenderedDocument

__all__ = [
    "DocumentPreview",
    "draw_into",
    "drawn_temporarily",
    "einvoice_as_read",
    "first_page_png",
    "preview_documents",
]


def draw_into(draft: Draft, folder: Path) -> tuple[Draft, tuple[RenderedDocument, ...]]:
    """The draft with its documents drawn into ``folder`` (recorded nowhere): for a dry run,
    a test message or a preview, which must not touch the documents-out folder or the ledger."""
    if not draft.documents:
        return draft, ()
    folder.mkdir(parents=True, exist_ok=True)
    drawn: dict[Path, tuple[Path, int]] = {}
    rendered = []
    for document in draft.documents:
        made = document.render()
        target = folder / document.name
        target.write_bytes(made.pdf)
        drawn[document.path] = (target, len(made.pdf))
        rendered.append(made)
    attachments = tuple(
        dataclasses.replace(item, path=drawn[item.path][0], size=drawn[item.path][1])
        if item.path in drawn
        else item
        for item in draft.attachments
    )
    return dataclasses.replace(draft, attachments=attachments), tuple(rendered)


def preview_documents(draft: Draft, folder: Path) -> tuple[Draft, tuple[DocumentPreview, ...]]:
    """``draw_into`` plus the first page of each document as a PNG image (saved beside)."""
    drawn, rendered = draw_into(draft, folder)
    shown = []
    for made, document in zip(rendered, draft.documents, strict=True):
        path = folder / document.name
        einvoice = einvoice_as_read(made.pdf) if document.einvoice is not None else ()
        if document.renderer is None:  # an e-invoice's XML: no page to show
            shown.append(DocumentPreview(document.name, path, len(made.pdf), 0, b"", einvoice))
            continue
        png, pages = first_page_png(made.pdf)
        path.with_suffix(".png").write_bytes(png)
        shown.append(DocumentPreview(document.name, path, len(made.pdf), pages, png, einvoice))
    return drawn, tuple(shown)


def einvoice_as_read(data: bytes) -> tuple[str, ...]:
    """The e-invoice in a drawn document as the customer's software reads it: from the XML
    embedded in a Factur-X PDF, or from the XML itself."""
    from docmail_nb._documents.cii import read_cii
    from docmail_nb._documents.facturx import FACTURX_FILENAME, embedded_files

    xml = embedded_files(data).get(FACTURX_FILENAME) if data.startswith(b"%PDF") else data
    if not xml:
        return ("(no e-invoice found in the document)",)
    return tuple(read_cii(xml).summary())


@contextlib.contextmanager
def drawn_temporarily(draft: Draft) -> Iterator[Draft]:
    """The draft with its documents drawn into a temporary folder, removed afterwards."""
    if not draft.documents:
        yield draft
        return
    with tempfile.TemporaryDirectory(prefix="docmail-documents-") as folder:
        yield draw_into(draft, Path(folder))[0]


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
