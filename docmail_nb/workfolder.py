"""``docmail init FOLDER``: a working folder to start from.

The folder gets the three notebooks (settings, send, scheduled send), the sample orders, the
message templates, the PDF documents and a short README. The notebooks' parameters point at
the folder's own files, so the folder works wherever it is and whatever is installed: a wheel
carries the notebooks as ``docmail_nb/notebooks``, a source checkout has them in
``notebooks/``. Nothing is overwritten: when any file to be written exists already, nothing is
written at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from docmail_nb._sample import sample_dir
from docmail_nb.errors import ConfigError, DocmailError

__all__ = [
    "NOTEBOOKS",
    "WorkFolder",
    "init_folder",
    "localize_notebook",
    "notebooks_dir",
]

#: the notebooks a working folder gets, in the order a user opens them
NOTEBOOKS: tuple[str, ...] = (
    "01_smtp_settings.ipynb",
    "02_send_documents.ipynb",
    "scheduled_send.ipynb",
)

#: parameter values of each notebook in a working folder (names as in its parameters cell)
_LOCAL_PARAMETERS: dict[str, dict[str, str]] = {
    "02_send_documents.ipynb": {
        "orders": "orders.xlsx",
        "sheet": "Rechnungen",
        "template": "templates/invoice.txt",
        "documents": "documents",
    },
    "scheduled_send.ipynb": {
        "orders": "orders.xlsx",
        "sheet": "Rechnungen",
        "template": "templates/invoice.txt",
        "documents": "documents",
    },
}

_README = """\
# {name}: mailing documents with docmail_nb

This folder holds everything for a first run, on sample data, with nothing reaching anyone:

- `01_smtp_settings.ipynb`: your SMTP server (preset, Test connection, Save; the password
  goes to your keyring)
- `02_send_documents.ipynb`: the send panel (check every row, preview, send); as it comes it
  sends to a capture server on this computer: what it captures lands in `outbox/`, and
  `capture-ledger.sqlite` records what went, so running it again sends nothing twice
- `scheduled_send.ipynb`: the same batch unattended, run by papermill from cron or Airflow
- `orders.xlsx`, `orders.csv`: sample orders (sheets Rechnungen, Offerten, Lieferscheine,
  and Positionen: the invoices' lines)
- `templates/`: one message template per kind of document; `qr_invoice.txt` with
  `invoice.html` makes each invoice as a PDF with its lines (sheet Positionen), VAT and a
  Swiss QR-bill, as a Factur-X e-invoice, instead of attaching one; `seller.toml` is your
  company as the invoices name it (edit it once)
- `templates/reminder_1.txt`, `reminder_2.txt`: the first and second reminder of the QR
  invoices, only for those delivered and not paid (`docmail reconcile` reads bounces,
  `docmail payments camt054.xml` the bank's payments, `docmail status` shows each invoice)
- `documents/`: the PDFs the templates attach (`documents/generated/`: the invoices made)
- `runs/`: where the scheduled runs' output notebooks go

## Next

1. Open the folder in JupyterLab or Notebook 7 (the `[lab]` extra of docmail_nb brings both):

       jupyter lab {folder}        # or: jupyter notebook {folder}

2. Open `02_send_documents.ipynb` and run all cells (Run → Run All Cells). Pick a row to
   preview its message, press Send: the messages land in a capture server, not in anyone's
   mailbox. The panels live in the running kernel: after reopening a saved notebook, run its
   cells again.
3. To send for real: put your own orders, templates and PDFs here, save your SMTP server in
   `01_smtp_settings.ipynb` (or `docmail profile add office --preset microsoft365 --username
   you@example.ch`), then set `profile_name = "office"` in `02_send_documents.ipynb`.
4. Every morning, unattended. As it comes, the notebook makes a dry run (no profile needed):

       papermill scheduled_send.ipynb runs/dry-run.ipynb

   then sends for real through your profile:

       papermill scheduled_send.ipynb runs/invoices.ipynb -p profile office -p dry_run False

The same from a terminal: `docmail check orders.xlsx templates/invoice.txt --sheet Rechnungen`,
`docmail preview ... --row 2`, `docmail send ... --profile office`. `docmail --help` lists all.
"""


@dataclass(frozen=True)
class WorkFolder:
    """What ``init_folder`` wrote."""

    folder: Path
    files: tuple[Path, ...]


def notebooks_dir() -> Path:
    """The folder holding the shipped notebooks (in the wheel, else in the checkout)."""
    packaged = Path(str(resources.files("docmail_nb"))) / "notebooks"
    if all((packaged / name).is_file() for name in NOTEBOOKS):
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "notebooks"
    if all((checkout / name).is_file() for name in NOTEBOOKS):
        return checkout
    raise DocmailError(
        "The notebooks of docmail_nb are missing from this installation.",
        "Reinstall the package: pip install --force-reinstall docmail_nb",
    )


def _planned_files(folder: Path) -> dict[Path, Path | str]:
    """Target path → source file to copy, or text to write."""
    sample = sample_dir()
    notebooks = notebooks_dir()
    planned: dict[Path, Path | str] = {}
    for name in NOTEBOOKS:
        planned[folder / name] = localize_notebook(
            (notebooks / name).read_text(encoding="utf-8"), _LOCAL_PARAMETERS.get(name, {})
        )
    for name in ("orders.xlsx", "orders.csv"):
        planned[folder / name] = sample / name
    for sub in ("templates", "documents"):
        for source in sorted((sample / sub).iterdir()):
            if source.is_file():
                planned[folder / sub / source.name] = source
    planned[folder / "README.md"] = _README.format(name=folder.name, folder=folder)
    return planned


def init_folder(folder: str | Path) -> WorkFolder:
    """Make a working folder; raise ConfigError (writing nothing) when a file would be replaced."""
    target = Path(folder).expanduser()
    if target.exists() and not target.is_dir():
        raise ConfigError(
            f"{target} exists and is not a folder.",
            "Give the name of a new folder, e.g. docmail init invoices.",
        )
    planned = _planned_files(target)
    _refuse_links(target, planned)
    existing = [path for path in planned if path.exists() or path.is_symlink()]
    if existing:
        shown = ", ".join(str(path.relative_to(target)) for path in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise ConfigError(
            f"{target} already holds {shown}{more}; nothing was written.",
            "Choose a new folder, or move those files away first (docmail init never "
            "overwrites a file).",
        )
    (target / "runs").mkdir(parents=True, exist_ok=True)  # papermill writes no new folder
    for path, source in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        _refuse_links(target, {path: source})  # a link made meanwhile
        data = source.read_bytes() if isinstance(source, Path) else source.encode("utf-8")
        with path.open("xb") as handle:  # O_EXCL: never through a link, never over a file
            handle.write(data)
    return WorkFolder(target, tuple(planned))


def _refuse_links(target: Path, planned: dict[Path, Path | str]) -> None:
    """ConfigError when the folder, or a folder or file ``init`` would write to, is a link:
    init writes only into the folder it was given, never through a link to elsewhere."""
    inside = {target, target / "runs"}
    for path in planned:
        inside.add(path)
        inside.update(parent for parent in path.parents if parent.is_relative_to(target))
    links = sorted(path for path in inside if path.is_symlink())
    if links:
        shown = ", ".join(str(path) for path in links[:3])
        raise ConfigError(
            f"{shown} {'is a link' if len(links) == 1 else 'are links'} (symlink); docmail "
            "init writes nothing through a link.",
            "Give a new folder, or replace the link by a real folder.",
        )


def localize_notebook(text: str, values: dict[str, str]) -> str:
    """The notebook with these parameters set (as text) in its ``parameters`` cell."""
    if not values:
        return text
    notebook: dict[str, Any] = json.loads(text)
    cells = [
        cell
        for cell in notebook["cells"]
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if len(cells) != 1:
        raise DocmailError("A shipped notebook has no single parameters cell.")
    source = "".join(cells[0]["source"])
    for name, value in values.items():
        pattern = re.compile(rf"^{re.escape(name)} = [^#\n]*?(?=\s*(#|$))", re.MULTILINE)
        line = f"{name} = {json.dumps(value, ensure_ascii=False)}"
        source, found = pattern.subn(line.replace("\\", "\\\\"), source, count=1)
        if not found:
            raise DocmailError(f"A shipped notebook has no parameter {name!r}.")
    cells[0]["source"] = source.splitlines(keepends=True)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
