"""The demo: the sample batch through the whole pipeline, on the embedded capture server.

read → check every row → preview one row → send (recorded in a ledger) → the same batch again,
which sends nothing. No configuration, no mail account, no network; nothing is left running.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .batch import Batch
from .ledger import Ledger
from .profiles import Profile
from .report import Report
from .sample import SAMPLE_BATCHES, sample_dir
from .sink import CaptureServer

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
    outbox, ledger_path = folder / "outbox", folder / "ledger.sqlite"
    made = folder / "documents"  # the invoices docmail makes, with their QR-bills
    shutil.rmtree(outbox, ignore_errors=True)
    shutil.rmtree(made, ignore_errors=True)
    for stale in folder.glob("ledger.sqlite*"):
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)

    with CaptureServer(outbox) as sink, Ledger(ledger_path) as ledger:
        profile = sink.profile("demo")
        echo(f"Capture server listening on {sink.host}:{sink.port} (messages go to {outbox})")
        echo(f"Sample data: {sample_dir()}\n")

        echo("1. Read and check every row")
        batches = _batches(profile, ledger, made)
        for batch in batches:
            echo(f"   {batch.plan.campaign:<14} {batch.plan.summary()}")
        problems = [problem for batch in batches for problem in batch.plan.problems]
        for problem in problems:
            echo(f"   {problem}")

        first = batches[0]
        row = first.plan.drafts[0].rows[0]
        echo(f"\n2. Preview of {first.plan.campaign} row {row}, exactly as it will be sent\n")
        shown = first.preview(row, documents_to=folder / "preview")
        for line in shown.as_text().splitlines():
            echo(f"   | {line}")

        echo(f"\n3. Send through {profile.host}:{profile.port}, recorded in {ledger_path.name}")
        reports = [batch.send() for batch in batches]
        echo(_table(reports))
        for report in reports:
            echo(f"   {report.summary()}")
        captured = len(sink.messages)
        echo(f"\n   {captured} messages captured in {outbox} (a Maildir: new/ holds them)")

        echo("\n4. Second pass: the same batch again")
        again = [batch.send() for batch in _batches(profile, ledger, made)]
        sent_again = sum(r.counts().get("sent", 0) for r in again)
        skipped = sum(r.counts().get("skipped", 0) for r in again)
        echo(f"   {sent_again} sent, {skipped} already sent (skipped): nothing goes out twice.")
        for note in (note for report in again for note in report.notes):
            echo(f"   {note}")
        captured_after = len(sink.messages)

    sent = sum(r.counts().get("sent", 0) for r in reports)
    ok = (
        not problems
        and all(r.ok for r in reports + again)
        and sent == captured == captured_after
        and sent_again == 0
    )
    echo("\nDemo finished: " + ("every message sent exactly once." if ok else "see above."))
    return ok
