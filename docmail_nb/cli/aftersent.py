"""``docmail status`` and ``docmail payments``: each message's state after "sent"."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from docmail_nb.cli._common import friendly_errors, ledger_option

__all__ = ["payments", "status"]


@click.command(short_help="Each message's state: sent, bounced, delayed, paid.")
@ledger_option
@click.option("--campaign", default=None, help="Only this campaign. Default: all of them.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the states to this .xlsx or .csv file (its columns start with key, state).",
)
@friendly_errors
def status(ledger: Path | None, campaign: str | None, report_path: Path | None) -> None:
    """Show the state of every message from the ledger, without sending anything.

    One line per key: sent, unknown, failed, deferred, bounced or delayed (from delivery
    reports read by 'docmail reconcile'), or paid, partly paid, overpaid (from bank files read
    by 'docmail payments'); when, to whom, the report's status code and reason, the amount paid
    and when, the reminder level reached.
    """
    from docmail_nb import Ledger, campaign_status, default_ledger_path, save_status, status_lines

    path = ledger if ledger is not None else default_ledger_path()
    statuses = []
    if path.exists():  # consulted, never created
        with Ledger(path) as opened:
            statuses = campaign_status(opened, campaign)
    if not statuses:
        where = f" of campaign {campaign!r}" if campaign else ""
        click.echo(f"The ledger records no messages{where}.")
    else:
        for line in status_lines(statuses):
            click.echo(line)
    if report_path is not None:
        written = save_status(statuses, report_path)
        click.echo(f"Status written to {written}.")


@click.command(short_help="Record payments from a bank file (camt.054 or camt.053).")
@click.argument("bank_file", type=click.Path(dir_okay=False, path_type=Path))
@ledger_option
@click.option(
    "--campaign", default=None, help="Match only messages of this campaign. Default: any."
)
@friendly_errors
def payments(bank_file: Path, ledger: Path | None, campaign: str | None) -> None:
    """Match the credits of BANK_FILE to sent messages by QR or creditor reference.

    Each match is recorded once with its amount and booking date (a file read twice records
    nothing twice); 'docmail status' then shows paid, partly paid or overpaid. Credits that
    match no message are listed, not guessed. A file that is no camt.054/053 is refused and
    nothing is recorded. Exit 1 when a credit matched nothing.
    """
    from docmail_nb import Ledger, read_payments

    with Ledger(ledger) as opened:
        result = read_payments(opened, bank_file, campaign)
    for line in result.lines():
        click.echo(line)
    if result.unmatched:
        sys.exit(1)
