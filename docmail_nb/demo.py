"""The demo: the sample batch through the whole pipeline, on the embedded capture server.

read → check every row → preview one row → send (recorded in a ledger) → the same batch again,
which sends nothing. No configuration, no mail account, no network; nothing is left running.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from docmail_nb import CaptureServer, Ledger, Profile, Report
from docmail_nb._sample import SAMPLE_BATCHES, sample_dir
from docmail_nb.batch import Batch

if TYPE_CHECKING:
    from docmail_nb import Problem

__all__ = ["run_demo"]

_Echo = Callable[[str], None]


def _batches(profile: Profile, ledger: Ledger, made: Path) -> list[Batch]:
    data = sample_dir()
    return [
        Batch.from_files(
            data / "orders.xlsx",
            data / "templates" / template_file,
            sheet=sheet,
            documents_out=made,
            profile=profile,
            ledger=ledger,
        )
        for template_file, sheet in SAMPLE_BATCHES
    ]


def _table(reports: list[Report]) -> str:
    lines = [f"  {'row':>4}  {'key':<12} {'state':<8} to"]
    for report in reports:
        for result in report.results:
            rows = ",".join(str(r) for r in result.rows)
            lines.append(f"  {rows:>4}  {result.key:<12} {result.state:<8} {', '.join(result.to)}")
    return "\n".join(lines)


def run_demo(folder: str | Path = "docmail-demo", echo: _Echo = print) -> bool:
    """Run the demo in ``folder`` (made afresh); True when every message went out once."""
    folder = Path(folder).resolve()
    outbox, ledger_path, made = _fresh(folder)
    with CaptureServer(outbox) as sink, Ledger(ledger_path) as ledger:
        profile = sink.profile("demo")
        echo(f"Capture server listening on {sink.host}:{sink.port} (messages go to {outbox})")
        echo(f"Sample data: {sample_dir()}\n")

        batches = _batches(profile, ledger, made)
        problems = _check(batches, echo)
        _preview(batches[0], folder / "preview", echo)

        echo(f"\n3. Send through {profile.host}:{profile.port}, recorded in {ledger_path.name}")
        reports = [batch.send() for batch in batches]
        echo(_table(reports))
        for report in reports:
            echo(f"   {report.summary()}")
        captured = len(sink.messages)
        echo(f"\n   {captured} messages captured in {outbox} (a Maildir: new/ holds them)")

        again = _second_pass(_batches(profile, ledger, made), echo)
        captured_after = len(sink.messages)

    sent = sum(r.counts().get("sent", 0) for r in reports)
    sent_again = sum(r.counts().get("sent", 0) for r in again)
    ok = (
        not problems
        and all(r.ok for r in reports + again)
        and sent == captured == captured_after
        and sent_again == 0
    )
    echo("\nDemo finished: " + ("every message sent exactly once." if ok else "see above."))
    return ok


def _fresh(folder: Path) -> tuple[Path, Path, Path]:
    """The demo's outbox, ledger and made documents, emptied: (outbox, ledger, documents)."""
    outbox, ledger_path = folder / "outbox", folder / "ledger.sqlite"
    made = folder / "documents"  # the invoices docmail makes, with their QR-bills
    shutil.rmtree(outbox, ignore_errors=True)
    shutil.rmtree(made, ignore_errors=True)
    for stale in folder.glob("ledger.sqlite*"):
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return outbox, ledger_path, made


def _check(batches: list[Batch], echo: _Echo) -> list[Problem]:
    """Step 1: every row read and checked; the problems found."""
    echo("1. Read and check every row")
    for batch in batches:
        echo(f"   {batch.plan.campaign:<14} {batch.plan.summary()}")
    problems = [problem for batch in batches for problem in batch.plan.problems]
    for problem in problems:
        echo(f"   {problem}")
    return problems


def _preview(batch: Batch, folder: Path, echo: _Echo) -> None:
    """Step 2: the first message exactly as it will be sent."""
    row = batch.plan.drafts[0].rows[0]
    echo(f"\n2. Preview of {batch.plan.campaign} row {row}, exactly as it will be sent\n")
    shown = batch.preview(row, documents_to=folder)
    for line in shown.as_text().splitlines():
        echo(f"   | {line}")


def _second_pass(batches: list[Batch], echo: _Echo) -> list[Report]:
    """Step 4: the same batches again; the ledger lets nothing go out twice."""
    echo("\n4. Second pass: the same batch again")
    again = [batch.send() for batch in batches]
    sent_again = sum(r.counts().get("sent", 0) for r in again)
    skipped = sum(r.counts().get("skipped", 0) for r in again)
    echo(f"   {sent_again} sent, {skipped} already sent (skipped): nothing goes out twice.")
    for note in (note for report in again for note in report.notes):
        echo(f"   {note}")
    return again
