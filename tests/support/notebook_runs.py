"""Running the scheduled notebook as a cron job would (papermill in its own process), and the
batch it sends: shared by the tests of the notebook, its sign-in and hostile input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "scheduled_send.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"

ORDERS = """invoice_no;customer_no;company;email;amount
R-2026-0001;00042;Bäckerei Müller AG;r.mueller@baeckerei.example;1234.50
R-2026-0002;00107;Café Höfli;buchhaltung@hoefli.example;486.00
R-2026-0003;00015;Gärtnerei Blümli;s.jaeggi@bluemli.example;2980.75
"""

TEMPLATE = """To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Attachment: {{ invoice_no }}.pdf
Key: {{ invoice_no }}

Guten Tag {{ company }}

Anbei die Rechnung {{ invoice_no }} über {{ amount }} (Kundennummer {{ customer_no }}).
"""


@pytest.fixture
def batch(tmp_path: Path) -> dict[str, str]:
    """Three invoices as csv, a template and their PDFs."""
    documents = tmp_path / "documents"
    documents.mkdir()
    for number in ("R-2026-0001", "R-2026-0002", "R-2026-0003"):
        (documents / f"{number}.pdf").write_bytes(b"%PDF-1.4\n% " + number.encode() + b"\n%%EOF\n")
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS, encoding="utf-8")
    template = tmp_path / "invoice.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    return {"orders": str(orders), "template": str(template), "documents": str(documents)}


def bad_address_in_row_3(batch: dict[str, str]) -> None:
    """Row 3 (R-2026-0002) of the batch's orders gets an address that is none."""
    Path(batch["orders"]).write_text(
        ORDERS.replace("buchhaltung@hoefli.example", "buchhaltung at hoefli"), encoding="utf-8"
    )


def run_cli(
    tmp_path: Path, output: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], nbformat.NotebookNode, str]:
    """Run the notebook as a cron job would; return the process, output notebook and its text."""
    out = tmp_path / output
    proc = subprocess.run(
        [
            str(PAPERMILL),
            str(NOTEBOOK),
            str(out),
            "--no-progress-bar",
            "--cwd",
            str(tmp_path),
            *list(args),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    text = out.read_text(encoding="utf-8")
    return proc, nbformat.reads(text, as_version=4), text


def params(batch: dict[str, str], **more: Any) -> list[str]:
    """papermill arguments: paths raw (-r), the rest converted (-p)."""
    args: list[str] = []
    for name, value in batch.items():
        args += ["-r", name, value]
    for name, value in more.items():
        args += ["-p", name, str(value)]
    return args


def outputs_text(nb: nbformat.NotebookNode) -> str:
    """Everything the cells printed, displayed or raised, as one string."""
    parts: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("evalue", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def error_output(nb: nbformat.NotebookNode) -> dict[str, Any]:
    errors = [
        output
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert len(errors) == 1, errors
    return dict(errors[0])
