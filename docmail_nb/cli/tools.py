"""``docmail init``, ``sink`` and ``demo``: a working folder, the capture server, the demo."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # the commands import what they use when they run: --help stays quick
    from docmail_nb import CapturedMessage


from docmail_nb.cli._common import friendly_errors

__all__ = ["demo", "init", "sink"]


@click.command(short_help="Make a working folder: notebooks, templates, samples.")
@click.argument("folder", type=click.Path(path_type=Path))
@friendly_errors
def init(folder: Path) -> None:
    """Make a working folder: notebooks, templates, sample orders and PDFs, a README."""
    from docmail_nb.workfolder import init_folder

    made = init_folder(folder)
    click.echo(f"Made the working folder {made.folder} ({len(made.files)} files):")
    click.echo("  01_smtp_settings.ipynb, 02_send_documents.ipynb, scheduled_send.ipynb,")
    click.echo("  orders.xlsx, orders.csv, templates/, documents/, README.md")
    click.echo(
        f"Next: jupyter lab {made.folder}   (JupyterLab and Notebook 7 come with the [lab] extra)"
    )
    click.echo("      then open 02_send_documents.ipynb and run all cells.")


@click.command(short_help="Run the local capture server (messages to a Maildir).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=2525,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on; send through it with a profile of security none.",
)
@click.option(
    "--maildir",
    default="outbox",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Maildir the messages are stored in.",
)
@friendly_errors
def sink(host: str, port: int, maildir: Path) -> None:
    """Run the local capture server: accept every message and keep it in a Maildir."""
    from docmail_nb import CaptureServer

    def show(message: CapturedMessage) -> None:
        click.echo(message.summary())

    server = CaptureServer(maildir, host=host, port=port, on_message=show)
    with server:
        click.echo(
            f"Capturing mail on {server.host}:{server.port} into {server.maildir} "
            "(security none, no login). Press Ctrl-C to stop."
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    click.echo(f"Capture server stopped; {len(server.messages)} message(s) received.")


@click.command(short_help="Send the sample batch to a capture server, twice.")
@click.option(
    "--folder",
    default="docmail-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its Maildir (outbox/) and ledger; made afresh.",
)
@friendly_errors
def demo(folder: Path) -> None:
    """Send the sample batch to the embedded capture server, then show a rerun sends nothing."""
    from docmail_nb.demo import run_demo

    if not run_demo(folder, echo=click.echo):
        sys.exit(1)
