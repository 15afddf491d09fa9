"""The demo: the sample batch through the whole pipeline, on the embedded capture server.

read → check every row → preview one row → send (recorded in a ledger) → the same batch again,
which sends nothing. No configuration, no mail account, no network; nothing is left running.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .ledger import Ledger
from .orders import read_orders
from .plan import Plan, make_plan
from .preview import preview
from .profiles import Profile
from .sample import SAMPLE_BATCHES, sample_dir
from .send import Report, SendOptions, send_plan
from .sink import CaptureServer
from .templates import load_template

__all__ = ["run_demo"]

Echo = Callable[[str], None]


def _plans(sender: str, made: Path) -> list[Plan]:
    data = sample_dir()
    plans = []
    for template_file, sheet in SAMPLE_BATCHES:
        orders = read_orders(data / "orders.xlsx", sheet=sheet)
        template = load_template(data / "templates" / template_file)
        plan = make_plan(
            orders, template, documents=data / "documents", sender=sender, documents_out=made
        )
        plans.append(plan)
    return plans


def _table(reports: list[Report]) -> str:
    lines = [f"  {'row':>4}  {'key':<12} {'state':<8} to"]
    for report in reports:
        for result in report.results:
            rows = ",".join(str(r) for r in result.rows)
            lines.append(f"  {rows:>4}  {result.key:<12} {result.state:<8} {', '.join(result.to)}")
    return "\n".join(lines)


def _send_all(plans: list[Plan], profile: Profile, ledger: Ledger) -> list[Report]:
    return [send_plan(plan, profile, ledger=ledger, options=SendOptions()) for plan in plans]


def run_demo(folder: str | Path = "docmail-demo", echo: Echo = print) -> bool:
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
        plans = _plans(profile.sender, made)
        for plan in plans:
            echo(
                f"   {plan.campaign:<14} {plan.total_rows:>2} rows, "
                f"{len(plan.drafts):>2} messages ready, {len(plan.problems)} problems"
            )
        problems = [problem for plan in plans for problem in plan.problems]
        for problem in problems:
            echo(f"   row {problem.row}: {problem.field}: {problem.message}")

        first = plans[0]
        row = first.drafts[0].rows[0]
        echo(f"\n2. Preview of {first.campaign} row {row}, exactly as it will be sent\n")
        shown = preview(first, row, profile.sender, documents_to=folder / "preview")
        for line in shown.as_text().splitlines():
            echo(f"   | {line}")

        echo(f"\n3. Send through {profile.host}:{profile.port}, recorded in {ledger_path.name}")
        reports = _send_all(plans, profile, ledger)
        echo(_table(reports))
        for report in reports:
            echo(f"   {report.summary()}")
        captured = len(sink.messages)
        echo(f"\n   {captured} messages captured in {outbox} (a Maildir: new/ holds them)")

        echo("\n4. Second pass: the same batch again")
        again = _send_all(_plans(profile.sender, made), profile, ledger)
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
