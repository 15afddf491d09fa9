"""``docmail ledger copy``: one ledger's records into another (an SQLite file into PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import click

from docmail_nb.cli._common import LedgerTarget, friendly_errors

__all__ = ["ledger"]


@click.group(short_help="Work with a ledger as a whole.")
def ledger() -> None:
    """Work with a ledger as a whole (an SQLite file or a PostgreSQL database)."""


@ledger.command("copy", short_help="Copy every record of one ledger into another.")
@click.argument("source", metavar="FROM", type=LedgerTarget())
@click.argument("target", metavar="TO", type=LedgerTarget())
@friendly_errors
def _copy(source: Path | str, target: Path | str) -> None:
    """Copy every record of the ledger FROM into the ledger TO.

    FROM and TO are ledger files or PostgreSQL URLs (postgresql://user@host:port/db, the
    password from PGPASSWORD or ~/.pgpass): e.g. a campaign's SQLite ledger into the
    PostgreSQL ledger that several senders share. TO is created when it does not exist. A
    record TO already has is left as it is, so copying twice copies nothing new. Copy while
    no run is sending.
    """
    from docmail_nb import Ledger, copy_ledger
    from docmail_nb.errors import LedgerError

    if isinstance(source, Path) and not source.exists():
        raise LedgerError(
            f"The ledger {source} does not exist.",
            "Give the ledger file to copy from (see --ledger of the runs that wrote it).",
        )
    with Ledger(source) as given, Ledger(target) as into:
        result = copy_ledger(given, into)
    click.echo(f"Copied {result.source} into {result.target}:")
    for line in result.lines():
        click.echo(f"  {line}")
