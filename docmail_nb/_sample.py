"""The sample data that ships with docmail_nb: orders, templates and PDF documents."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from docmail_nb._mail.sink import SINK_SENDER
from docmail_nb.errors import DocmailError

__all__ = ["SAMPLE_BATCHES", "SINK_SENDER", "sample_dir"]

#: (template file, sheet) for each kind of document in the sample orders.xlsx; the invoices
#: are made by docmail (templates/invoice.html, with a Swiss QR-bill), the others attached
SAMPLE_BATCHES: tuple[tuple[str, str], ...] = (
    ("qr_invoice.txt", "Rechnungen"),
    ("offer.txt", "Offerten"),
    ("delivery_note.txt", "Lieferscheine"),
)


def sample_dir() -> Path:
    """The folder holding ``orders.xlsx``, ``templates/`` and ``documents/``.

    An installed wheel carries it as ``docmail_nb/sample_data``; a source checkout has it
    in the repository's ``data/`` folder.
    """
    packaged = Path(str(resources.files("docmail_nb"))) / "sample_data"
    if (packaged / "orders.xlsx").is_file():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "data"
    if (checkout / "orders.xlsx").is_file():
        return checkout
    raise DocmailError(
        "The sample data of docmail_nb is missing from this installation.",
        "Reinstall the package: pip install --force-reinstall docmail_nb",
    )
