"""What every command shares: errors in plain words, the --profile and --ledger options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from docmail_nb.errors import DocmailError

if TYPE_CHECKING:  # the commands import what they use when they run: --help stays quick
    pass


__all__ = [
    "F",
    "LedgerTarget",
    "friendly_errors",
    "ledger_option",
    "print_error",
    "profile_option",
]


F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn a DocmailError into its message and hint on stderr and the right exit status."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DocmailError as exc:
            print_error(exc.message, exc.hint)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.secho("\nInterrupted.", fg="red", err=True)
            click.echo(
                "Hint: whatever was sent is recorded in the ledger; run the same command again "
                "to go on (nothing is sent twice).",
                err=True,
            )
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def print_error(message: str, hint: str | None) -> None:
    """``Error: message`` in red and ``Hint: hint`` on stderr."""
    click.secho(f"Error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"Hint: {hint}", err=True)


def profile_option(help_text: str) -> Callable[[F], F]:
    """--profile NAME (the only saved profile when not given)."""
    return click.option("--profile", "profile_name", default=None, help=help_text)


class LedgerTarget(click.ParamType[Any]):
    """A ledger file (a path) or a PostgreSQL database (a ``postgresql://`` URL, kept as is)."""

    name = "FILE|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from docmail_nb import ledger_target

        target = ledger_target(value) if isinstance(value, str) else value
        if target is None:
            self.fail("Give a ledger file or a postgresql:// URL.", param, ctx)
        return target


ledger_option = click.option(
    "--ledger",
    type=LedgerTarget(),
    default=None,
    help="Ledger file, or a shared PostgreSQL ledger (postgresql://user@host:port/db; the "
    "password from PGPASSWORD or ~/.pgpass). Default: $DOCMAIL_LEDGER, else ledger.sqlite in "
    "$DOCMAIL_HOME.",
)
