"""The ``docmail`` command: a thin face over the core functions.

Exit status: 0 when everything asked for succeeded; 1 when a check failed, a row has a problem
or a message failed; 2 for a usage or configuration error.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .errors import DocmailError

if TYPE_CHECKING:  # the commands import what they use when they run: --help stays quick
    from .batch import Batch
    from .plan import Problem
    from .profiles import Profile
    from .report import MessageResult, Report
    from .send import SendOptions
    from .sink import CapturedMessage

__all__ = [
    "check",
    "demo",
    "friendly_errors",
    "init",
    "login_command",
    "logout_command",
    "main",
    "preview",
    "profile",
    "profile_add",
    "profile_list",
    "profile_remove",
    "profile_show",
    "reconcile",
    "send",
    "sink",
    "test_command",
]

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn a DocmailError into its message and hint on stderr and the right exit status."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DocmailError as exc:
            _print_error(exc.message, exc.hint)
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


def _print_error(message: str, hint: str | None) -> None:
    """``Error: message`` in red and ``Hint: hint`` on stderr."""
    click.secho(f"Error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"Hint: {hint}", err=True)


def _profile_option(help_text: str) -> Callable[[F], F]:
    """--profile NAME (the only saved profile when not given)."""
    return click.option("--profile", "profile_name", default=None, help=help_text)


_ledger_option = click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ledger file. Default: ledger.sqlite in $DOCMAIL_HOME.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="docmail_nb")
def main() -> None:
    """Send documents by e-mail from a spreadsheet, through your own SMTP server, exactly once."""


# --- init -------------------------------------------------------------------------------


@main.command(short_help="Make a working folder: notebooks, templates, samples.")
@click.argument("folder", type=click.Path(path_type=Path))
@friendly_errors
def init(folder: Path) -> None:
    """Make a working folder: notebooks, templates, sample orders and PDFs, a README."""
    from .workfolder import init_folder

    made = init_folder(folder)
    click.echo(f"Made the working folder {made.folder} ({len(made.files)} files):")
    click.echo("  01_smtp_settings.ipynb, 02_send_documents.ipynb, scheduled_send.ipynb,")
    click.echo("  orders.xlsx, orders.csv, templates/, documents/, README.md")
    click.echo(f'Next: jupyter lab {made.folder}   (JupyterLab: pip install "docmail_nb[lab]")')
    click.echo("      then open 02_send_documents.ipynb and run all cells.")


# --- profile, test ----------------------------------------------------------------------
# (section: SMTP profiles and Test connection)


@main.group(short_help="Save, list, show and remove SMTP profiles.")
def profile() -> None:
    """Save, list, show and remove SMTP profiles (the password goes to keyring)."""


def _password_source(item: Profile) -> str:
    """How a profile logs in, in words: 'no login (no password needed)' when it needs none."""
    from .profiles import PASSWORD_ENV, password_status

    if item.auth != "password":
        from .auth import auth_status

        return auth_status(item)
    return {
        "not needed": "no login (no password needed)",
        "environment": f"password from ${PASSWORD_ENV}",
        "stored": "password stored in keyring",
        "missing": "password missing",
    }[password_status(item)]


@profile.command("add", short_help="Save an SMTP profile; the password goes to keyring.")
@click.argument("name")
@click.option(
    "--preset",
    default="generic",
    show_default=True,
    help="generic, gmail, google_workspace, microsoft365, infomaniak, cyon, hostpoint or "
    "swisscom: fills in host, port, security, IMAP host and limits.",
)
@click.option("--host", default=None, help="SMTP server, e.g. smtp.office365.com.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Default: the preset's, else 465 for ssl, 587 for starttls, 25 for none.",
)
@click.option(
    "--security",
    type=click.Choice(["ssl", "starttls", "none"]),
    default=None,
    help="ssl = implicit TLS (465), starttls (587), none (a relay on this machine).",
)
@click.option("--username", default="", help="Login, usually the mailbox address.")
@click.option("--from", "from_addr", default="", help="From address. Default: the username.")
@click.option("--reply-to", default="", help="Reply-To address.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM file of the CA that issued the server's certificate.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the server.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password (oauth2-app: the client secret) from standard input.",
)
@click.option(
    "--auth",
    type=click.Choice(["password", "oauth2", "oauth2-app", "token-command"]),
    default="password",
    show_default=True,
    help="How to log in: a password, a Microsoft/Google sign-in (oauth2), a Microsoft app's "
    "own credentials (oauth2-app) or a command that prints an access token.",
)
@click.option("--tenant", default="", help="Microsoft: your domain or directory (tenant) ID.")
@click.option("--client-id", default="", help="Microsoft: the registered app's client ID.")
@click.option(
    "--authority",
    default="",
    help="Microsoft: sign-in address replacing https://login.microsoftonline.com/TENANT.",
)
@click.option(
    "--client-secrets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Google: the OAuth client file (Desktop app) of your Google Cloud project.",
)
@click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="oauth2-app: PEM file with the app's private key and certificate (instead of a secret).",
)
@click.option("--token-command", default="", help="token-command: prints an access token.")
@click.option(
    "--imap-host",
    default=None,
    help="IMAP server for the Sent folder (same login). Default: the preset's, for hosters.",
)
@click.option(
    "--imap-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Default: 993 for ssl, 143 for starttls.",
)
@click.option(
    "--imap-security",
    type=click.Choice(["ssl", "starttls"]),
    default="ssl",
    show_default=True,
    help="ssl = implicit TLS (993), starttls (143).",
)
@click.option(
    "--sent-folder",
    default="",
    help="Folder for sent mail. Default: the one marked as Sent, else the usual names.",
)
@click.option(
    "--copy-to-sent/--no-copy-to-sent",
    default=None,
    help="Append a copy of each sent message to Sent. Default: off where the provider "
    "files SMTP mail itself (microsoft365, gmail, google_workspace), else on.",
)
@click.option(
    "--insecure-skip-verify",
    is_flag=True,
    help="Do not verify the server's certificate (a self-signed test relay only).",
)
@friendly_errors
def profile_add(
    name: str, password_stdin: bool, insecure_skip_verify: bool, **options: Any
) -> None:
    """Save the SMTP profile NAME; asks for the password (oauth2-app: the client secret)."""
    settings = _profile_from_options(name, insecure_skip_verify, options)
    if settings.auth != "password":
        _save_signin_profile(settings, password_stdin)
        return
    _save_password_profile(settings, password_stdin)
    if insecure_skip_verify:
        click.secho("Warning: certificate verification is OFF for this profile.", fg="yellow")
    click.echo(f"Next: docmail test --profile {name}")


#: ``profile add`` options that name a file: kept in the profile as an absolute path
_FILE_OPTIONS = ("ca_file", "client_secrets", "certificate")
#: ``profile add`` options whose absence (None) leaves the preset's value
_PRESET_OPTIONS = ("imap_host", "imap_port", "copy_to_sent")


def _profile_from_options(
    name: str, insecure_skip_verify: bool, options: dict[str, Any]
) -> Profile:
    """The profile ``profile add`` describes: the preset's server and limits, then the options."""
    from .profiles import profile_from_preset

    settings = {
        key: value
        for key, value in options.items()
        if not (key in _PRESET_OPTIONS and value is None)
    }
    for key in _FILE_OPTIONS:
        settings[key] = str(options[key].resolve()) if options[key] else ""
    return profile_from_preset(name, verify_tls=not insecure_skip_verify, **settings)


def _save_password_profile(settings: Profile, password_stdin: bool) -> None:
    """``profile add`` for a password login (none without a username)."""
    from .profiles import PASSWORD_ENV, set_password

    name, username = settings.name, settings.username
    password = _Secret(
        "password",
        f"Password for {username}",
        PASSWORD_ENV,
        lambda value: set_password(name, value),
        (
            f"The password for {username} cannot be asked for: there is no terminal.",
            "Pipe it in with --password-stdin (e.g. printf '%s\\n' \"$PW\" | docmail "
            f"profile add {name} ... --password-stdin), or set ${PASSWORD_ENV} in the "
            "environment of the job that sends and add the profile without a password.",
        ),
    )
    _save_with_secret(settings, password if username else None, password_stdin)
    if not username:
        click.echo("No login: the server is used without a username and password.")


@dataclass(frozen=True)
class _Secret:
    """A secret ``profile add`` asks for: what it is, how it is asked and where it is kept."""

    what: str
    prompt: str
    env_var: str  # when set, the secret is read from there when sending; nothing is asked
    store: Callable[[str], None]  # raises SecretStoreError
    no_terminal: tuple[str, str]  # message and hint when it cannot be asked for


def _save_with_secret(settings: Profile, secret: _Secret | None, password_stdin: bool) -> None:
    """Ask for ``secret``, keep it in keyring, then write the profile: if it cannot be kept,
    nothing is saved."""
    import os

    from .errors import SecretStoreError
    from .profiles import save_profile

    value = ""
    if secret is not None:
        value = _ask_secret(
            secret.prompt,
            from_stdin=password_stdin,
            env_var=secret.env_var,
            no_terminal=secret.no_terminal,
        )
    if secret is not None and value:
        try:
            secret.store(value)
        except SecretStoreError as exc:
            raise SecretStoreError(f"{exc.message} Nothing was saved.", exc.hint) from None
    path = save_profile(settings)
    click.echo(f"Saved profile {settings.name!r} in {path}.")
    if secret is not None and value:
        click.echo(f"The {secret.what} is stored in keyring.")
    elif secret is not None and os.environ.get(secret.env_var):
        click.echo(f"No {secret.what} stored: ${secret.env_var} will be used.")


def _ask_secret(
    prompt: str, *, from_stdin: bool, env_var: str, no_terminal: tuple[str, str]
) -> str:
    """A secret from standard input or the terminal; empty when ``env_var`` will supply it.

    ``no_terminal`` is the message and hint of the error raised when it cannot be asked for.
    """
    import os

    from .errors import ConfigError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(env_var):
        return ""
    if not sys.stdin.isatty():
        raise ConfigError(*no_terminal)
    return str(click.prompt(prompt, hide_input=True))


def _save_signin_profile(settings: Profile, password_stdin: bool) -> None:
    """``profile add`` for the methods without a password: only oauth2-app keeps a secret."""
    from .auth import CLIENT_SECRET_ENV, set_client_secret

    secret = _Secret(
        "client secret",
        f"Client secret of app {settings.client_id}",
        CLIENT_SECRET_ENV,
        lambda value: set_client_secret(settings, value),
        (
            f"The client secret of app {settings.client_id} cannot be asked for: there is "
            "no terminal.",
            f"Pipe it in with --password-stdin, or set ${CLIENT_SECRET_ENV} in the "
            "environment of the job that sends.",
        ),
    )
    needs_secret = settings.auth == "oauth2-app" and not settings.certificate
    _save_with_secret(settings, secret if needs_secret else None, password_stdin)
    if settings.auth == "oauth2":
        click.echo(f"Next: docmail login {settings.name}")
    else:
        click.echo(f"Next: docmail test --profile {settings.name}")


@main.command("login", short_help="Sign a profile in (Microsoft, Google) and keep it.")
@click.argument("name")
@friendly_errors
def login_command(name: str) -> None:
    """Sign profile NAME in (Microsoft: a device code; Google: a browser) and keep the sign-in."""
    from .auth import sign_in
    from .profiles import load_profile

    settings = load_profile(name)
    click.echo(sign_in(settings, show=lambda text: click.echo(text)))
    click.echo(f"Next: docmail test --profile {name}")


@main.command("logout", short_help="Forget a profile's sign-in on this computer.")
@click.argument("name")
@friendly_errors
def logout_command(name: str) -> None:
    """Forget the sign-in (tokens) of profile NAME on this computer."""
    from .auth import sign_out
    from .profiles import load_profile

    if sign_out(load_profile(name)):
        click.echo(f"Signed out: the tokens of profile {name!r} are forgotten.")
    else:
        click.echo(f"Profile {name!r} was not signed in on this computer.")


@profile.command("list")
@friendly_errors
def profile_list() -> None:
    """List the saved profiles."""
    from .profiles import list_profiles, profiles_file

    found = list_profiles()
    if not found:
        click.echo(f"No profiles yet ({profiles_file()}). Add one with 'docmail profile add'.")
        return
    for item in found:
        login = f"{item.username}\t" if item.username else ""
        click.echo(
            f"{item.name}\t{item.host}:{item.port}\t{item.security}\t{login}"
            f"{_password_source(item)}"
        )


@profile.command("show")
@click.argument("name")
@friendly_errors
def profile_show(name: str) -> None:
    """Show the settings of profile NAME (never the password)."""
    from dataclasses import asdict

    from .profiles import load_profile

    item = load_profile(name)
    for key, value in asdict(item).items():
        click.echo(f"{key}: {value}")
    click.echo(f"sender: {item.sender or '(none)'}")
    click.echo(f"{'login' if item.auth == 'password' else 'sign-in'}: {_password_source(item)}")
    if item.imap_host:
        copies = "appended by docmail" if item.copy_to_sent else "filed by the provider"
        click.echo(
            f"imap: {item.imap_host}:{item.imap_port_or_default} ({item.imap_security}), "
            f"Sent folder {item.sent_folder or '(found automatically)'}, copies {copies}"
        )
    lines = item.limits.lines()
    if lines:
        click.echo(f"limits of the {item.preset} preset (counted across runs from the ledger):")
        for line in lines:
            click.echo(f"  {line}")
    else:
        click.echo("limits: none known")


@profile.command("remove")
@click.argument("name")
@friendly_errors
def profile_remove(name: str) -> None:
    """Remove profile NAME and forget its password and tokens."""
    from .profiles import remove_profile

    remove_profile(name)
    click.echo(f"Removed profile {name!r} and its password.")


@main.command("test", short_help="Test connection: TLS, login; exit 1 when it fails.")
@_profile_option("Profile to test. Default: the only profile there is.")
@friendly_errors
def test_command(profile_name: str | None) -> None:
    """Test connection: connect, TLS, EHLO, login, QUIT; exit 1 when it fails."""
    from .profiles import load_profile
    from .smtp import test_connection

    settings = load_profile(profile_name)
    result = test_connection(settings)
    if result.ok:
        click.secho(f"OK: {result.summary}", fg="green")
    else:
        click.secho(f"Failed: {result.summary}", fg="red", err=True)
        if result.code is not None:
            click.echo(f"Server reply: {result.code} {result.reply}", err=True)
    if result.hint:
        click.echo(f"Hint: {result.hint}", err=not result.ok)
    imap_ok = True
    if settings.imap_host and result.kind != "no_password":
        from .mailbox import check_mailbox

        imap = check_mailbox(settings)
        imap_ok = imap.ok
        if imap.ok:
            click.secho(f"OK: {imap.summary}", fg="green")
        else:
            click.secho(f"Failed: IMAP: {imap.summary}", fg="red", err=True)
            if imap.hint:
                click.echo(f"Hint: {imap.hint}", err=True)
    if not (result.ok and imap_ok):
        sys.exit(1)


@main.command(short_help="Settle unknown messages from the Sent folder.")
@_profile_option("Default: the only profile.")
@_ledger_option
@click.option("--campaign", default=None, help="Only this campaign. Default: all of them.")
@friendly_errors
def reconcile(profile_name: str | None, ledger: Path | None, campaign: str | None) -> None:
    """Settle unknown messages from the Sent folder and append the copies still owed.

    An unknown message found in Sent is recorded as sent; one not found is sent again by the
    next run. Exit 1 when the mailbox could not be used.
    """
    from .ledger import Ledger
    from .profiles import load_profile
    from .reconcile import sync_mailbox

    settings = load_profile(profile_name)
    with Ledger(ledger) as opened:
        result = sync_mailbox(settings, opened, campaign=campaign)
    if result.error is not None:
        _print_error(result.error.message, result.error.hint)
        sys.exit(result.error.exit_code)
    click.echo(f"Sent folder: {result.folder}")
    for item in result.settled:
        click.echo(f"  {item.campaign}/{item.text}")
    if not result.settled:
        click.echo("No unknown messages to settle.")
    if result.appended:
        click.echo(f"Copies appended to Sent: {len(result.appended)}.")
    for note in result.notes():
        click.echo(note)


# --- check, preview ---------------------------------------------------------------------
# (section: orders, templates, check and preview)

_DOCUMENTS_HELP = (
    "Folder the Attachment paths are relative to. Default: a 'documents' folder beside the "
    "template's folder, else beside the orders file, else the orders file's folder."
)
_SHEET_HELP = (
    "Sheet to read: its name as on the tab (2026 is the sheet named 2026), else its position "
    "counted from 0 (0 = the first sheet). Default: the first sheet."
)
_HEADER_ROW_HELP = (
    "Row that holds the column names (rows above it, a title or a date, are ignored). "
    "Default: the first row that is not empty."
)
_DOCUMENTS_OUT_HELP = (
    "Folder the PDFs made from Document: templates are saved into when sent. Default: "
    "'generated' in the documents folder."
)
_ROWS_HELP = (
    "Only these sheet rows, e.g. 2-40,45 (5- for row 5 to the end); the others are left out "
    "and listed, not counted as problems."
)


@dataclass(frozen=True)
class _Source:
    """ORDERS TEMPLATE and the options that say how to read them (check, preview, send)."""

    orders: Path
    template: Path
    documents: Path | None
    documents_out: Path | None
    sheet: str | None  # read_orders takes a name first, a position only where no name fits
    header_row: int | None
    rows: str | None

    def batch(self, **settings: Any) -> Batch:
        """The Batch of these orders and this template; ``settings`` as for Batch.from_files."""
        from .batch import Batch

        return Batch.from_files(
            self.orders,
            self.template,
            documents=self.documents,
            documents_out=self.documents_out,
            sheet=self.sheet,
            header_row=self.header_row,
            rows=self.rows,
            **settings,
        )


def _orders_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """ORDERS TEMPLATE [--documents DIR] [--documents-out DIR] [--sheet SHEET] [--header-row N]
    [--rows SPEC], handed to the command as one ``source`` (a _Source)."""

    @wraps(func)
    def with_source(**kwargs: Any) -> Any:
        source = _Source(**{name: kwargs.pop(name) for name in _Source.__dataclass_fields__})
        return func(source, **kwargs)

    decorators = [
        click.argument("orders", type=click.Path(dir_okay=False, path_type=Path)),
        click.argument("template", type=click.Path(dir_okay=False, path_type=Path)),
        click.option(
            "--documents",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=None,
            help=_DOCUMENTS_HELP,
        ),
        click.option(
            "--documents-out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help=_DOCUMENTS_OUT_HELP,
        ),
        click.option("--sheet", default=None, help=_SHEET_HELP),
        click.option(
            "--header-row",
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help=_HEADER_ROW_HELP,
        ),
        click.option("--rows", "rows", default=None, metavar="SPEC", help=_ROWS_HELP),
    ]
    command: Callable[..., Any] = with_source
    for decorator in reversed(decorators):  # click lists them in the order written above
        command = decorator(command)
    return command


@main.command(short_help="Check every row; list every problem.")
@_orders_options
@friendly_errors
def check(source: _Source) -> None:
    """Check every row and list every problem (payment data too); exit 1 when any has one."""
    from .plan import describe_recipients, describe_skipped

    plan = source.batch().plan
    for notice in plan.notices:
        click.secho(f"Notice: {notice}", fg="yellow")
    if plan.notices:
        click.echo("")
    if plan.problems:
        _print_problems(plan.problems)
    skipped = describe_skipped(plan.skipped)
    if skipped:
        click.echo("Left out (not problems):")
        for line in skipped:
            click.echo(f"  {line}")
        click.echo("")
    if plan.drafts:
        click.echo(f"Recipients per message (To, Cc, Bcc): {describe_recipients(plan.drafts)}")
    click.secho(plan.summary(), fg="red" if plan.problems else "green")
    if plan.problems:
        sys.exit(1)


def _print_problems(problems: Sequence[Problem]) -> None:
    """The problems as a table: Row, Key, Field, Problem, and each hint below its line."""
    lines = [
        ("all" if p.row is None else str(p.row), p.key or "", p.field, p.message, p.hint)
        for p in problems
    ]
    table = [("Row", "Key", "Field", "", ""), *lines]
    widths = [max(len(r[i]) for r in table) for i in (0, 1, 2)]
    indent = sum(widths) + 6
    click.echo(f"{'Row':<{widths[0]}}  {'Key':<{widths[1]}}  {'Field':<{widths[2]}}  Problem")
    for row, key, field, message, hint in lines:
        click.echo(f"{row:<{widths[0]}}  {key:<{widths[1]}}  {field:<{widths[2]}}  {message}")
        if hint:
            click.echo(f"{'':<{indent}}→ {hint}")
    click.echo("")


@main.command()
@_orders_options
@click.option("--row", "row", required=True, type=int, help="Sheet row number (2 = first order).")
@_profile_option("Show the From address and Message-ID this profile sends with.")
@click.option("--campaign", default=None, help="As for send. Default: the template's name.")
@friendly_errors
def preview(source: _Source, row: int, profile_name: str | None, campaign: str | None) -> None:
    """Show the message of one row exactly as it will be sent.

    A document made from a template is drawn into the 'preview' folder of the documents-out
    folder (not recorded, not sent), with its first page as a PNG image beside it.
    """
    # the From shown is the profile's when one is named
    batch = source.batch(campaign=campaign, profile=profile_name)
    draft = batch.plan.draft_for_row(row)
    folder = draft.documents[0].path.parent / "preview" if draft and draft.documents else None
    click.echo(batch.preview(row, documents_to=folder).as_text(), nl=False)


# --- send -------------------------------------------------------------------------------
# (section: batch sending)


@main.command(short_help="Send every valid message once, then report.")
@_orders_options
@_profile_option("Default: the only profile.")
@_ledger_option
@click.option(
    "--campaign", default=None, help="Campaign name in the ledger. Default: template name."
)
@click.option("--dry-run", is_flag=True, help="Build every message; send and record nothing.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Send at most N messages.")
@click.option("--rate", default=None, metavar="N/min", help="At most N messages per minute.")
@click.option(
    "--connections", type=click.IntRange(min=1), default=1, show_default=True,
    help="Parallel connections (capped by the profile's provider).",
)  # fmt: skip
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the report to this .xlsx or .csv file.",
)  # fmt: skip
@click.option(
    "--failed-rows", "failed_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the rows that need attention, with an error column, to this .xlsx or .csv.",
)  # fmt: skip
@click.option("--resend-unknown", is_flag=True, help="Send again messages whose fate is unknown.")
@click.option("--resend-changed", is_flag=True, help="Send again keys sent with other content.")
@click.option("--all-or-nothing", is_flag=True, help="Send nothing when any row has a problem.")
@click.option(
    "--test-to-me", "test_row", type=int, default=None, metavar="ROW",
    help="Send only ROW's message to the profile's own address, marked [TEST]; not recorded.",
)  # fmt: skip
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def send(
    source: _Source,
    profile_name: str | None,
    ledger: Path | None,
    campaign: str | None,
    report_path: Path | None,
    failed_path: Path | None,
    test_row: int | None,
    yes: bool,
    **options: Any,
) -> None:
    """Send every valid message once; report rows with problems (exit 1 when there are any)."""
    from .profiles import load_profile

    settings = load_profile(profile_name)
    batch = source.batch(
        profile=settings, ledger=ledger, campaign=campaign, options=_send_options(**options)
    )
    if test_row is not None:
        result = batch.send_test(test_row)
        click.secho(f"Test message of row {test_row} sent to {result.to[0]}.", fg="green")
        return
    if not yes:
        _confirm(batch)
    stopped: list[str] = []
    report = batch.send(progress="bar" if sys.stderr.isatty() else _progress_lines(stopped))
    _print_trouble(report)
    click.echo(report.summary())
    _save_reports(batch, report, report_path, failed_path)
    if report.fatal is not None and not stopped:
        _print_error(report.fatal.summary, report.fatal.hint)
    if not report.ok:
        sys.exit(1)


def _send_options(rate: str | None, **flags: Any) -> SendOptions:
    """SendOptions from send's --dry-run, --limit, --rate, --connections and --resend-... flags."""
    from .pacing import messages_per_minute
    from .send import SendOptions

    return SendOptions(rate_per_minute=messages_per_minute(rate, "--rate"), **flags)


def _confirm(batch: Batch) -> None:
    """Ask before sending when the batch says to; exit 1 when the answer is no."""
    from .errors import ConfigError

    waiting = batch.pending()
    if not waiting.ask:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            "docmail send needs a confirmation, but there is no terminal to ask on.",
            "Add --yes to send without asking (e.g. in a scheduled job), or try --dry-run first.",
        )
    if not click.confirm(waiting.question, default=False):
        click.echo("Nothing sent.")
        sys.exit(1)


def _progress_lines(stopped: list[str]) -> Callable[[int, int, MessageResult], None]:
    """A line per message; a batch that stopped is said once, first (its error in ``stopped``)."""

    def log_line(done: int, total: int, result: MessageResult) -> None:
        if result.state == "planned":  # not attempted: the batch stopped
            if not stopped:
                stopped.append(result.error)
                _print_error(result.error, result.hint)
            return
        rows = ", ".join(str(r) for r in result.rows)
        click.echo(f"[{done}/{total}] row {rows} {result.key}: {result.state}")

    return log_line


def _print_trouble(report: Report) -> None:
    """The messages that need attention, then the rows with problems, each with its hint."""
    trouble: list[MessageResult | Problem] = [r for r in report.results if r.trouble]
    for item in [*trouble, *report.problems]:
        click.secho(str(item), fg="red")
        if item.hint:
            click.echo(f"  → {item.hint}")


def _save_reports(
    batch: Batch, report: Report, report_path: Path | None, failed_path: Path | None
) -> None:
    """--report and --failed-rows: write the files asked for and say where they went."""
    if report_path is not None:
        click.echo(f"Report written to {report.save(report_path)}")
    if failed_path is not None:
        written = batch.save_failed_rows(report, failed_path)
        click.echo(
            f"Rows to fix written to {written}"
            if written is not None
            else f"No row needs fixing: {failed_path} was not written."
        )


# --- sink, demo -------------------------------------------------------------------------
# (section: capture server and demo)


@main.command(short_help="Run the local capture server (messages to a Maildir).")
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


@main.command(short_help="Send the sample batch to a capture server, twice.")
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
    from .demo import run_demo

    if not run_demo(folder, echo=click.echo):
        sys.exit(1)
