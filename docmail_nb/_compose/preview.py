"""A draft shown as a mail program shows it: the headers parsed back from the bytes sent.

``preview(plan, row)`` answers for a sheet row (row 2 is the first order) and explains why a
row has no message; ``Preview.as_text`` is what ``docmail preview`` prints, ``_repr_html_``
what a notebook shows.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import html as html_lib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docmail_nb._compose.headers import addr_spec
from docmail_nb._compose.message import Attachment, Draft
from docmail_nb._compose.problem_list import join_reasons
from docmail_nb._mail.wire import readable_bytes
from docmail_nb.errors import ConfigError, DocmailError
from docmail_nb.words import setting, size_text

if TYPE_CHECKING:
    from docmail_nb._compose.plan import Plan
    from docmail_nb._documents.drawing import DocumentPreview

from docmail_nb.words import counted

__all__ = ["Preview", "preview"]


@dataclass(frozen=True)
class Preview:
    """A message exactly as it will be sent: its headers (decoded), envelope, bodies, files."""

    headers: tuple[tuple[str, str], ...]
    envelope_from: str
    envelope_to: tuple[str, ...]
    text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    rows: tuple[int, ...] = ()
    key: str = ""
    documents: tuple[DocumentPreview, ...] = ()  # made from Document templates, drawn now

    def as_text(self) -> str:
        """The preview as plain text (what ``docmail preview`` prints)."""
        lines = [f"{name}: {value}" for name, value in self.headers]
        lines += [
            "",
            f"Envelope from: {self.envelope_from}",
            f"Envelope to:   {', '.join(self.envelope_to)}",
            "",
            "--- text/plain " + "-" * 40,
            self.text.rstrip("\n"),
        ]
        if self.html is not None:
            lines += ["--- text/html " + "-" * 41, self.html.rstrip("\n")]
        lines.append("--- attachments " + "-" * 39)
        lines += [
            f"{item.filename}  ({item.content_type}, {size_text(item.size)})"
            for item in self.attachments
        ] or ["(none)"]
        for document in self.documents:
            if document.pages:
                pages = counted(document.pages, "page")
                lines.append(f"--- document {document.name} ({pages}) " + "-" * 20)
                if document.path is not None:
                    lines.append(f"drawn for this preview: {document.path}")
                    lines.append(f"its first page:         {document.image}")
            else:
                lines.append(f"--- document {document.name} " + "-" * 20)
                if document.path is not None:
                    lines.append(f"made for this preview:  {document.path}")
            if document.einvoice:
                lines.append(
                    f"--- {document.name}: the e-invoice as the customer's software reads it"
                )
                lines += list(document.einvoice)
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        esc = html_lib.escape
        head = "".join(
            f"<tr><th style='text-align:left'>{esc(n)}</th><td>{esc(v)}</td></tr>"
            for n, v in self.headers
        )
        envelope = esc(", ".join(self.envelope_to))
        head += f"<tr><th style='text-align:left'>Envelope to</th><td>{envelope}</td></tr>"
        files = "".join(
            f"<li>{esc(a.filename)} ({esc(a.content_type)}, {esc(size_text(a.size))})</li>"
            for a in self.attachments
        )
        body = (
            f"<iframe sandbox srcdoc='{esc(self.html, quote=True)}' "
            "style='width:100%;height:20em;border:1px solid #ccc'></iframe>"
            if self.html is not None
            else f"<pre style='white-space:pre-wrap'>{esc(self.text)}</pre>"
        )
        pages = "".join(
            f"<figure><img alt='{esc(d.name)}, page 1' style='max-width:100%;"
            "border:1px solid #ccc' src='data:image/png;base64,"
            f"{base64.b64encode(d.first_page_png).decode('ascii')}'>"
            f"<figcaption>{esc(d.name)}, page 1 of {d.pages}</figcaption></figure>"
            for d in self.documents
            if d.pages
        )
        pages += "".join(
            f"<figure><pre class='docmail-einvoice' style='white-space:pre-wrap'>"
            f"{esc(chr(10).join(d.einvoice))}</pre><figcaption>{esc(d.name)}: the e-invoice "
            "as the customer's software reads it</figcaption></figure>"
            for d in self.documents
            if d.einvoice
        )
        return (
            f"<div class='docmail-preview'><table>{head}</table>{body}"
            f"<ul>{files or '<li>(no attachments)</li>'}</ul>{pages}</div>"
        )


def preview(
    plan: Plan, row: int, default_sender: str = "", *, documents_to: str | Path | None = None
) -> Preview:
    """The message that sheet row ``row`` will be sent as (row 2 is the first order).

    Documents made from a template are drawn for the preview into ``documents_to`` (default:
    a temporary folder, removed again), never into the documents-out folder or the ledger.
    """
    draft = plan.draft_for_row(row)
    if draft is None:
        _explain_unsendable(plan, row)
    assert draft is not None
    if draft.documents:
        from docmail_nb._documents.drawing import preview_documents

        if documents_to is not None:
            drawn, shown = preview_documents(draft, Path(documents_to))
            return _preview(plan, drawn, default_sender, shown)
        with tempfile.TemporaryDirectory(prefix="docmail-preview-") as folder:
            drawn, shown = preview_documents(draft, Path(folder))
            shown = tuple(dataclasses.replace(item, path=None) for item in shown)
            return _preview(plan, drawn, default_sender, shown)
    return _preview(plan, draft, default_sender, ())


def _preview(
    plan: Plan, draft: Draft, default_sender: str, documents: tuple[DocumentPreview, ...]
) -> Preview:
    sender = draft.sender or default_sender
    msg = draft.build(plan.campaign, sender or "profile@docmail.invalid")
    headers = _headers_as_received(readable_bytes(msg))
    if not sender:
        headers = tuple(
            (name, "(the profile's address)" if name == "From" else value)
            for name, value in headers
        )
    return Preview(
        headers=headers,
        envelope_from=addr_spec(sender) if sender else "(the profile's address)",
        envelope_to=draft.recipients,
        text=draft.text,
        html=draft.html,
        attachments=draft.attachments,
        rows=draft.rows,
        key=draft.key,
        documents=documents,
    )


def _explain_unsendable(plan: Plan, row: int) -> None:
    left_out = next((item for item in plan.skipped if item.row == row), None)
    if left_out is not None:
        raise DocmailError(
            f"{left_out.describe()}: it is left out, so no message is sent for it.",
            f"Preview another row, or change the template's Send-If or {setting('rows')}.",
        )
    problems = [p for p in plan.problems if p.row == row or p.row is None]
    if problems:
        listed = join_reasons(p.reason for p in problems)
        key = plan.row_keys.get(row)
        label = f"Row {row}" + (f" ({key})" if key else "")
        if all(p.row is None for p in problems):  # the template's mistake, not the row's
            hints = " ".join(dict.fromkeys(p.hint for p in problems if p.hint))
            raise DocmailError(
                f"{label} will not be sent: the template has a problem. {listed}",
                f"{hints} Fix the template, then run the check again.".strip(),
            )
        raise DocmailError(
            f"{label} will not be sent: {listed}", "Fix the row, then run the check again."
        )
    known = sorted(plan.row_keys)
    span = f"rows {known[0]} to {known[-1]}" if known else "no rows"
    raise ConfigError(
        f"There is no order in row {row}.",
        f"Rows are numbered as in the sheet (the header is row 1); this sheet has {span}.",
    )


def _headers_as_received(raw: bytes) -> tuple[tuple[str, str], ...]:
    """The headers as a mail program shows them: parsed back from the very bytes sent."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return tuple((name, str(value)) for name, value in parsed.items())
