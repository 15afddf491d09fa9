"""Documents of a batch: planned with the message (checked, fingerprinted, named), made when
it is sent, each made once as the ledger records it."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from docmail_nb._documents.payment_problems import PaymentProblem
from docmail_nb._documents.qrbill import PaymentData
from docmail_nb._documents.render import (
    DocumentRenderer,
    RenderedDocument,
    load_document_template,
    pdf_filename,
)
from docmail_nb.errors import DocmailError, DocumentError

if TYPE_CHECKING:
    from docmail_nb._documents.einvoice import EInvoice
    from docmail_nb._store.ledger import Ledger

__all__ = [
    "DocumentPlanner",
    "PlannedDocument",
    "documents_changed",
    "needs_drawing",
    "prepare_documents",
]


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
