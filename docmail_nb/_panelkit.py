"""What both notebook panels share: status lines, styles, a path field with a file browser,
the files chosen last, and a message shown as a mail program shows it.

Presentation only; the panels (:mod:`widgets`, :mod:`sendpanel`) are built from these.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from docmail_nb import docmail_home
from docmail_nb.batch import OutboxEntry
from docmail_nb.words import STATE_WORDS, size_text

if TYPE_CHECKING:
    from docmail_nb import Preview, Report
    from docmail_nb.errors import DocmailError

__all__ = [
    "BOUNCED_RISK",
    "CHANGED_RISK",
    "CSS",
    "FIELD_LAYOUT",
    "LABEL_STYLE",
    "LINE",
    "UNKNOWN_RISK",
    "PathField",
    "download_link",
    "error_line",
    "guess_columns",
    "is_empty",
    "mail_view",
    "note_line",
    "problem_line",
    "recall",
    "remember",
    "state_line",
    "success_line",
]

LABEL_STYLE = {"description_width": "9em"}
FIELD_LAYOUT = {"width": "100%", "max_width": "40em"}
LINE = "line-height:1.4;margin:2px 0;"
CSS = """<style>
.docmail-send, .docmail-settings {box-sizing:border-box; max-width:100%}
.docmail-mail {border:1px solid #ddd; border-radius:4px; padding:8px 10px; max-width:100%;
  font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif; font-size:14px}
.docmail-mail .docmail-subject {font-size:16px; font-weight:600; margin-bottom:4px}
.docmail-mail table {border-collapse:collapse}
.docmail-mail th {color:#666; font-weight:normal; text-align:right; padding:0 8px 0 0;
  vertical-align:top; white-space:nowrap}
.docmail-mail td {overflow-wrap:anywhere}
.docmail-mail .docmail-body {border-top:1px solid #eee; margin-top:6px; padding-top:6px;
  white-space:pre-wrap; overflow-wrap:anywhere}
.docmail-mail iframe {width:100%; height:22em; border:0; resize:vertical}
.docmail-files a {display:inline-block; border:1px solid #ccc; border-radius:12px;
  padding:1px 10px; margin:4px 6px 0 0; text-decoration:none; color:inherit}
.docmail-page {max-width:100%; border:1px solid #ccc}
.docmail-raw {max-height:24em; overflow:auto; white-space:pre-wrap; overflow-wrap:anywhere;
  font-size:12px; border:1px solid #eee; padding:6px}
</style>"""
UNKNOWN_RISK = (
    "the connection broke after the message was handed to the server, so it may well have "
    "arrived. Sending it again may deliver it twice: look in your Sent folder or ask the "
    "recipient first, and resend only what did not arrive."
)
BOUNCED_RISK = (
    "a delivery report said these did not arrive (the reason is in the table). Correct the "
    "address in the sheet and send: they go again by themselves. Send again to the same "
    "address only when the reason was passing (a full mailbox)."
)
CHANGED_RISK = (
    "these keys were sent before with other content (the template, a cell or a document "
    "changed). Sending again delivers the new version as a second message; the recipient then "
    "has both."
)


def success_line(text: str) -> str:
    """A green line for the status area."""
    return f"<div class='docmail-ok' style='{LINE}color:#1b7f3b'>✔ {html.escape(text)}</div>"


def error_line(message: str, hint: str = "") -> str:
    """A red line with the hint below it, for the status area."""
    hint_html = f"<div class='docmail-hint'>{html.escape(hint)}</div>" if hint else ""
    return (
        f"<div class='docmail-error' style='{LINE}'>"
        f"<div style='color:#b00020'>✘ {html.escape(message)}</div>"
        f"{hint_html}</div>"
    )


def problem_line(exc: DocmailError) -> str:
    """A docmail error as a red line: what happened, and what to do below it."""
    return error_line(exc.message, exc.hint)


def note_line(text: str) -> str:
    """A grey explanatory line."""
    return f"<div class='docmail-note' style='{LINE}color:#555'>{html.escape(text)}</div>"


# -- remembered choices --------------------------------------------------------------------


def _choices_file() -> Path:
    return docmail_home() / "panels.json"


def recall(panel: str) -> dict[str, str]:
    """The choices ``panel`` remembered for this user (paths that no longer exist dropped)."""
    try:
        stored = json.loads(_choices_file().read_text(encoding="utf-8")).get(panel, {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {
        str(k): str(v)
        for k, v in stored.items()
        if isinstance(v, str) and (k in ("sheet", "profile") or Path(v).expanduser().exists())
    }


def remember(panel: str, **choices: str) -> None:
    """Keep ``panel``'s choices for the next time (never a secret: paths and names only)."""
    path = _choices_file()
    try:
        everything = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(everything, dict):
            everything = {}
    except (OSError, ValueError):
        everything = {}
    everything[panel] = {k: str(Path(v).expanduser().resolve()) if k not in (
        "sheet", "profile") and v else v for k, v in choices.items()}  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(everything, indent=1), encoding="utf-8")
    except OSError:
        pass  # remembering is a convenience; the panel works without it


# -- a path typed or chosen ------------------------------------------------------------------


class PathField:
    """A path field with a **Browse…** button that opens a file browser (ipyfilechooser)."""

    def __init__(
        self,
        description: str,
        value: str | Path,
        *,
        folder: bool = False,
        pattern: list[str] | None = None,
    ) -> None:
        self.folder = folder
        self.pattern = pattern
        self.text = w.Text(
            description=description,
            value=str(value),
            continuous_update=False,
            style=LABEL_STYLE,
            layout={"flex": "1 1 24em", "width": "auto"},
        )
        self.browse = w.ToggleButton(
            description="Browse…", tooltip=f"Choose the {description.lower()}",
            layout={"width": "auto"},
        )  # fmt: skip
        self.chooser_box = w.Box(layout={"display": "none", "width": "100%"})
        self.widget = w.VBox(
            [
                w.HBox([self.text, self.browse], layout={"width": "100%", "flex_flow": "row wrap"}),
                self.chooser_box,
            ],
            layout={"width": "100%"},
        )
        self.browse.observe(self._on_browse, names="value")
        self._callbacks: list[Callable[[], None]] = []
        self.text.observe(lambda _c: [callback() for callback in self._callbacks], names="value")

    @property
    def value(self) -> str:
        return str(self.text.value)

    @value.setter
    def value(self, new: str) -> None:
        self.text.value = new

    def observe(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def _on_browse(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self.chooser_box.layout.display = "none"
            return
        from ipyfilechooser import FileChooser

        current = Path(self.value).expanduser()
        start = current if self.folder and current.is_dir() else current.parent
        if not start.is_dir():
            start = Path.cwd()
        chooser = FileChooser(
            str(start),
            filename="" if self.folder or not current.is_file() else current.name,
            select_default=not self.folder and current.is_file(),
            show_only_dirs=self.folder,
            filter_pattern=self.pattern,
            layout=w.Layout(width="100%"),
        )
        chooser.register_callback(self._chosen)
        show = getattr(chooser, "_show_dialog", None)  # open at once: one click less
        if show is not None:
            show()
        self.chooser_box.children = (chooser,)
        self.chooser_box.layout.display = "flex"

    def _chosen(self, chooser: Any) -> None:
        picked = chooser.selected_path if self.folder else chooser.selected
        if picked:
            self.value = str(picked)
        self.browse.value = False


# -- how a message looks ----------------------------------------------------------------------


def mail_view(shown: Preview) -> str:
    """The message as a mail program shows it: sender, recipients, subject, body, files."""
    esc = html.escape
    headers = dict(shown.headers)
    rows = "".join(
        f"<tr><th>{name}</th><td>{esc(headers[name])}</td></tr>"
        for name in ("From", "To", "Cc", "Reply-To", "Date")
        if headers.get(name)
    )
    if shown.html is not None:
        page = _MAIL_DEFAULTS + shown.html  # a mail program's defaults; the mail's CSS wins
        body = f"<iframe sandbox srcdoc='{esc(page, quote=True)}' title='Message'></iframe>"
    else:
        body = f"<div class='docmail-body'>{esc(shown.text)}</div>"
    files = "".join(_file_link(item) for item in shown.attachments)
    files += "".join(
        f"<figure><img alt='{esc(d.name)}, page 1' class='docmail-page' "
        f"src='data:image/png;base64,{base64.b64encode(d.first_page_png).decode('ascii')}'>"
        f"<figcaption>{esc(d.name)}, page 1 of {d.pages}</figcaption></figure>"
        for d in shown.documents
        if d.pages
    )
    files += "".join(
        f"<figure class='docmail-einvoice'><figcaption>{esc(d.name)}: the e-invoice as the "
        f"customer's software reads it</figcaption><pre>{esc(chr(10).join(d.einvoice))}</pre>"
        "</figure>"
        for d in shown.documents
        if d.einvoice
    )
    return (
        "<div class='docmail-preview docmail-mail'>"
        f"<div class='docmail-subject'>{esc(headers.get('Subject', '(no subject)'))}</div>"
        f"<table>{rows}</table>{body}"
        f"<div class='docmail-files'>{files or note_line('No attachments.')}</div></div>"
    )


_MAIL_DEFAULTS = (
    "<style>body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "font-size:14px;margin:4px}</style>"
)
_LINKED_BYTES = 8_000_000  # larger files are listed, not embedded in the page


def _file_link(item: Any) -> str:
    label = f"{html.escape(item.filename)} ({html.escape(size_text(item.size))})"
    if item.size > _LINKED_BYTES:
        return f"<a>{label}</a>"
    try:
        data = base64.b64encode(Path(item.path).read_bytes()).decode("ascii")
    except OSError:
        return f"<a>{label}</a>"
    return (
        f"<a href='data:{html.escape(item.content_type)};base64,{data}' "
        f"download='{html.escape(item.filename, quote=True)}' target='_blank' "
        f"title='Open {html.escape(item.filename, quote=True)}'>{label}</a>"
    )


def download_link(report: Report) -> str:
    """The report as an .xlsx file to download from the page."""
    with tempfile.TemporaryDirectory(prefix="docmail-report-") as folder:
        path = report.save(Path(folder) / "report.xlsx")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(f"report-{report.campaign}.xlsx", quote=True)
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return (
        f"<a class='docmail-download' href='data:{kind};base64,{data}' download='{name}'>"
        "⬇ Download the report (.xlsx)</a>"
    )


def state_line(entry: OutboxEntry) -> str:
    words = f"Row {', '.join(map(str, entry.rows))}" + (f" ({entry.key})" if entry.key else "")
    words += f": {STATE_WORDS[entry.state]}"
    if entry.state in ("problem", "failed", "unknown", "changed", "busy"):
        return error_line(words + (f". {entry.note}" if entry.note else "."), entry.hint)
    if entry.state in ("sent", "skipped"):
        return success_line(words + (f". {entry.note}" if entry.note else "."))
    return note_line(words + (f". {entry.note}" if entry.note else "."))


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def guess_columns(names: list[str]) -> list[str]:
    """A name-like and an amount-like column, to show beside key and address."""
    wanted = (("company", "firma", "name", "customer", "kunde"), ("amount", "betrag", "total"))
    chosen = []
    for words in wanted:
        found = next((n for word in words for n in names if word in n.lower()), None)
        if found and found not in chosen:
            chosen.append(found)
    return chosen
