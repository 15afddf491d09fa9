"""``docmail reconcile``: the ledger brought together with the mailbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the commands import what they use when they run: --help stays quick
    pass


from docmail_nb.cli._common import friendly_errors, ledger_option, print_error, profile_option

__all__ = ["reconcile"]


@click.command(short_help="Settle unknowns from Sent; read bounces from the INBOX.")
@profile_option("Default: the only profile.")
@ledger_option
@click.option("--campaign", default=None, help="Only this campaign. Default: all of them.")
@click.option(
    "--move-reports", "move_to", default="", metavar="FOLDER",
    help="Move the delivery reports recorded out of the INBOX into FOLDER (made if missing). "
    "Default: the INBOX is left exactly as it was.",
)  # fmt: skip
@friendly_errors
def reconcile(
    profile_name: str | None, ledger: Path | None, campaign: str | None, move_to: str
) -> None:
    """Settle unknown messages from the Sent folder, append the copies still owed, and read
    the delivery reports in the INBOX.

    An unknown message found in Sent is recorded as sent; one not found is sent again by the
    next run where the provider files Sent itself, and stays unknown where docmail appends the
    copies (--resend-unknown decides). A report of a permanent failure marks its message
    bounced (with the status code and reason), one of a delay delayed; only reports naming a
    message of this ledger and profile count, each once. The INBOX is left exactly as it was
    (nothing is marked read). Exit 1 when the mailbox could not be used.
    """
    from docmail_nb import Ledger, load_profile, sync_mailbox

    settings = load_profile(profile_name)
    with Ledger(ledger) as opened:
        result = sync_mailbox(settings, opened, campaign=campaign, move_reports=move_to)
    if result.error is not None:
        print_error(result.error.message, result.error.hint)
        sys.exit(result.error.exit_code)
    click.echo(f"Sent folder: {result.folder}")
    for item in result.settled:
        click.echo(f"  {item.campaign}/{item.text}")
    if not result.settled:
        click.echo("No unknown messages to settle.")
    if result.appended:
        click.echo(f"Copies appended to Sent: {len(result.appended)}.")
    read = result.bounces
    click.echo(
        f"INBOX: {read.reports} new delivery report(s): {len(read.bounced)} bounced, "
        f"{len(read.delayed)} delayed."
    )
    for note in result.notes():
        click.echo(note)
