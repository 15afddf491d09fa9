"""The ``docmail`` command: a thin face over the core functions.

Exit status: 0 when everything asked for succeeded; 1 when a check failed, a row has a problem
or a message failed; 2 for a usage or configuration error.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import DocmailError

if TYPE_CHECKING:
    from .sink import CapturedMessage

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn a DocmailError into its message and hint on stderr and the right exit status."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DocmailError as exc:
            click.secho(f"Error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docmail_nb")
def main() -> None:
    """Send documents by e-mail from a spreadsheet, through your own SMTP server, exactly once."""


# --- profile, test ----------------------------------------------------------------------
# (section: SMTP profiles and Test connection)

# --- check, preview ---------------------------------------------------------------------
# (section: orders, templates, check and preview)

# --- send -------------------------------------------------------------------------------
# (section: batch sending)

# --- sink, demo -------------------------------------------------------------------------
# (section: capture server and demo)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
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
    from .sink import CaptureServer

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
