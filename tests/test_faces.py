"""One batch, four faces: the CLI, the scheduled notebook, the send panel and the Python API.

The same inputs go through each face: orders in ``exports/``, the template in ``templates/``,
the PDFs in ``documents/`` (found without being named), one row with a problem, one message
sent by an earlier run and one left "sending" by a run that died. Every face must find the
same problems, the same number of pending messages and end with the same results.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import crash_while_sending

from docmail_nb import Batch, MemoryTransport
from docmail_nb._mail.sink import CaptureServer
from docmail_nb._sample import sample_dir
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile, save_profile
from docmail_nb.cli import main
from docmail_nb.widgets import SendPanel

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "scheduled_send.ipynb"
PAPERMILL = Path(sys.executable).parent / "papermill"

ORDERS = """invoice_no,company,email,amount
R-1,Bäckerei Müller AG,r.mueller@baeckerei.example,1234.50
R-2,Café Höfli,buchhaltung@hoefli.example,486.00
R-3,Gärtnerei Blümli,s.jaeggi@bluemli.example,2980.75
R-4,Kita Sonnenschein,kein-mail,50.00
R-5,Velo Huber,info@velohuber.example,120.00
"""

TEMPLATE = """To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Attachment: {{ invoice_no }}.pdf
Key: {{ invoice_no }}

Guten Tag {{ company }}, anbei die Rechnung {{ invoice_no }} über {{ amount | money }}.
"""

EXPECTED_PROBLEMS = [(5, "To")]
EXPECTED_PENDING = 2
EXPECTED_RESULTS = {"R-1": "skipped", "R-2": "unknown", "R-3": "sent", "R-5": "sent"}


@dataclass
class Setup:
    orders: Path
    template: Path
    ledger: Path
    sink: CaptureServer


@dataclass
class Seen:
    problems: list[tuple[int | None, str]]
    pending: int
    results: dict[str, str]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    for folder in ("exports", "templates", "documents"):
        (tmp_path / folder).mkdir()
    orders = tmp_path / "exports" / "orders.csv"
    orders.write_text(ORDERS, encoding="utf-8")
    template = tmp_path / "templates" / "invoice.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    for n in range(1, 6):
        (tmp_path / "documents" / f"R-{n}.pdf").write_bytes(b"%PDF-1.4\n% R-" + bytes([48 + n]))
    ledger = tmp_path / "ledger.sqlite"
    with CaptureServer(tmp_path / "outbox") as sink:
        profile = sink.profile("capture")
        save_profile(profile)
        earlier = Batch.from_files(orders, template, profile=profile, ledger=ledger)
        earlier.options.limit = 1  # an earlier run sent R-1
        assert earlier.send().results[0].state == "sent"
        crash_while_sending(ledger, "invoice", "R-2")
        with Ledger(ledger) as book:
            assert book.get("invoice", "R-2").state == "sending"  # type: ignore[union-attr]
        yield Setup(orders, template, ledger, sink)


def from_report(path: Path) -> tuple[list[tuple[int | None, str]], dict[str, str]]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    problems = [
        (int(row["rows"]) if row["rows"] else None, row["error"].split(":")[0])
        for _, row in frame.iterrows()
        if row["state"] == "problem"
    ]
    results = {row["key"]: row["state"] for _, row in frame.iterrows() if row["state"] != "problem"}
    return problems, results


def through_api(setup: Setup, tmp_path: Path) -> Seen:
    batch = Batch.from_files(setup.orders, setup.template, profile="capture", ledger=setup.ledger)
    pending = len(batch.pending().drafts)
    report = batch.send()
    return Seen(
        [(p.row, p.field) for p in batch.plan.problems],
        pending,
        {r.key: r.state for r in report.results},
    )


def through_cli(setup: Setup, tmp_path: Path) -> Seen:
    runner = CliRunner()
    files = [str(setup.orders), str(setup.template), "--ledger", str(setup.ledger)]
    dry = runner.invoke(
        main, ["send", *files, "--dry-run", "--yes", "--report", str(tmp_path / "dry.csv")]
    )
    assert dry.exit_code == 1, dry.output  # the problem row
    _, planned = from_report(tmp_path / "dry.csv")
    real = runner.invoke(main, ["send", *files, "--yes", "--report", str(tmp_path / "run.csv")])
    assert real.exit_code == 1, real.output
    problems, results = from_report(tmp_path / "run.csv")
    return Seen(problems, list(planned.values()).count("dry-run"), results)


def through_notebook(setup: Setup, tmp_path: Path) -> Seen:
    def run(dry_run: bool, report: Path) -> None:
        subprocess.run(
            [
                str(PAPERMILL), str(NOTEBOOK), str(tmp_path / f"{report.stem}.ipynb"),
                "--no-progress-bar", "--cwd", str(tmp_path),
                "-r", "orders", str(setup.orders), "-r", "template", str(setup.template),
                "-r", "profile", "capture", "-r", "ledger", str(setup.ledger),
                "-r", "report", str(report), "-p", "dry_run", str(dry_run),
                "-p", "fail_on_problems", "False", "-p", "fail_on_errors", "False",
            ],
            check=True, capture_output=True, timeout=240,
        )  # fmt: skip

    run(True, tmp_path / "dry.csv")
    _, planned = from_report(tmp_path / "dry.csv")
    run(False, tmp_path / "run.csv")
    problems, results = from_report(tmp_path / "run.csv")
    return Seen(problems, list(planned.values()).count("dry-run"), results)


def through_panel(setup: Setup, tmp_path: Path) -> Seen:
    panel = SendPanel(setup.orders, setup.template, profile="capture", ledger=setup.ledger)
    assert panel.plan is not None
    problems = [(p.row, p.field) for p in panel.plan.problems]
    panel.send_button.click()
    question = panel.confirm_text.value
    assert question.startswith("<b>Send "), question
    pending = int(question.removeprefix("<b>Send ").split()[0])
    panel.yes_button.click()
    panel.wait(60)
    assert panel.report is not None
    return Seen(problems, pending, {r.key: r.state for r in panel.report.results})


FACES: dict[str, Callable[[Setup, Path], Seen]] = {
    "python": through_api,
    "cli": through_cli,
    "scheduled": through_notebook,
    "panel": through_panel,
}


@pytest.mark.parametrize("face", list(FACES))
def test_every_face_sees_and_does_the_same(setup: Setup, tmp_path: Path, face: str) -> None:
    seen = FACES[face](setup, tmp_path)
    assert seen.problems == EXPECTED_PROBLEMS
    assert seen.pending == EXPECTED_PENDING
    assert seen.results == EXPECTED_RESULTS
    subjects = sorted(str(m.subject) for m in setup.sink.messages)
    assert subjects == ["Rechnung R-1", "Rechnung R-3", "Rechnung R-5"]


def sample_as_csv(sheet: str, path: Path, count: int) -> list[str]:
    """The first ``count`` rows of a sheet of the sample workbook as a csv file; their keys."""
    import csv

    from docmail_nb._sheets.orders import read_orders

    read = read_orders(sample_dir() / "orders.xlsx", sheet=sheet)
    records = [values for _, values in read.records()][:count]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(read.columns)
        for values in records:
            writer.writerow(_csv_cell(value) for value in values.values())
    return [str(values[read.columns[0]]) for values in records]


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def test_the_send_panels_table_judges_drawn_documents_as_the_run_does(tmp_path: Path) -> None:
    """With invoices drawn only when sent, the outbox agrees with ``pending()`` and a dry run.

    Two messages were sent and the row of one changed since, one was left "sending" by a run
    that died, one is new and its document does not exist yet.
    """
    sample = sample_dir()
    shutil.copytree(sample / "templates", tmp_path / "templates")
    template = tmp_path / "templates" / "qr_invoice.txt"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace("Lines: Positionen", "Lines: positionen.csv"), "utf-8")
    orders = tmp_path / "orders.csv"
    keys = sample_as_csv("Rechnungen", orders, 4)
    sample_as_csv("Positionen", tmp_path / "positionen.csv", 100)
    ledger = tmp_path / "ledger.sqlite"
    profile = Profile("office", host="smtp.example.ch", username="anna@example.ch")

    def batch() -> Batch:
        return Batch.from_files(
            orders, template, profile=profile, ledger=ledger, transport=MemoryTransport()
        )

    first = batch()
    first.options.limit = 2
    assert [r.state for r in first.send().results][:2] == ["sent", "sent"]
    crash_while_sending(ledger, first.plan.campaign, keys[2])
    changed = orders.read_text(encoding="utf-8").replace(";2026-12-31;", ";2027-01-31;", 1)
    orders.write_text(changed, encoding="utf-8")  # the first invoice's due date

    again = batch()
    table = {entry.key: entry.state for entry in again.outbox()}
    assert table == {keys[0]: "changed", keys[1]: "sent", keys[2]: "unknown", keys[3]: "ready"}
    assert [draft.key for draft in again.pending().drafts] == [keys[3]]
    again.options.dry_run = True
    dry = {r.key: r.state for r in again.send().results}
    assert dry == {keys[0]: "changed", keys[1]: "skipped", keys[2]: "unknown", keys[3]: "dry-run"}
