"""The ``docmail`` command: a thin face over the core.

Exit status: 0 when everything asked for succeeded; 1 when a check failed, a row has a problem
or a message failed; 2 for a usage or configuration error. Each command group lives in a module
of its own; the commands import what they use when they run, so ``--help`` stays quick.
"""

from __future__ import annotations

import click

from docmail_nb.cli import aftersent, batch, ledger, mailbox, profiles, tools
from docmail_nb.words import speak_as

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docmail_nb")
def main() -> None:
    """Send documents by e-mail from a spreadsheet, through your own SMTP server, exactly once."""
    speak_as("cli")


for _command in (
    tools.init,
    profiles.profile,
    profiles.login_command,
    profiles.logout_command,
    profiles.test_command,
    mailbox.reconcile,
    aftersent.status,
    aftersent.payments,
    ledger.ledger,
    batch.check,
    batch.preview,
    batch.send,
    tools.sink,
    tools.demo,
):
    main.add_command(_command)
