"""The ``docmail`` command: a thin face over the core functions.

Exit status: 0 when everything asked for succeeded; 1 when a check failed, a row has a problem
or a message failed; 2 for a usage or configuration error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from .errors import DocmailError

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
