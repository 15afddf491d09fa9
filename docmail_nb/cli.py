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
    from .profiles import Profile
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
            click.secho(f"Error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
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
    name: str,
    preset: str,
    host: str | None,
    port: int | None,
    security: str | None,
    username: str,
    from_addr: str,
    reply_to: str,
    ca_file: Path | None,
    timeout: float,
    password_stdin: bool,
    imap_host: str | None,
    imap_port: int | None,
    imap_security: str,
    sent_folder: str,
    copy_to_sent: bool | None,
    auth: str,
    tenant: str,
    client_id: str,
    authority: str,
    client_secrets: Path | None,
    certificate: Path | None,
    token_command: str,
    insecure_skip_verify: bool,
) -> None:
    """Save the SMTP profile NAME; asks for the password (oauth2-app: the client secret)."""
    import os

    from .profiles import PASSWORD_ENV, profile_from_preset, save_profile, set_password

    imap: dict[str, Any] = {"imap_security": imap_security, "sent_folder": sent_folder}
    if imap_host is not None:
        imap["imap_host"] = imap_host
    if imap_port is not None:
        imap["imap_port"] = imap_port
    if copy_to_sent is not None:
        imap["copy_to_sent"] = copy_to_sent
    settings = profile_from_preset(
        name,
        preset,
        host=host,
        port=port,
        security=security,  # type: ignore[arg-type]
        username=username,
        from_addr=from_addr,
        reply_to=reply_to,
        ca_file=str(ca_file.resolve()) if ca_file else "",
        timeout=timeout,
        verify_tls=not insecure_skip_verify,
        auth=auth,
        tenant=tenant,
        client_id=client_id,
        authority=authority,
        client_secrets=str(client_secrets.resolve()) if client_secrets else "",
        certificate=str(certificate.resolve()) if certificate else "",
        token_command=token_command,
        **imap,
    )
    if auth != "password":
        _save_signin_profile(settings, password_stdin)
        return
    password = ""
    if username:
        password = _ask_secret(
            f"Password for {username}",
            from_stdin=password_stdin,
            env_var=PASSWORD_ENV,
            no_terminal=(
                f"The password for {username} cannot be asked for: there is no terminal.",
                "Pipe it in with --password-stdin (e.g. printf '%s\\n' \"$PW\" | docmail "
                f"profile add {name} ... --password-stdin), or set ${PASSWORD_ENV} in the "
                "environment of the job that sends and add the profile without a password.",
            ),
        )
    if password:
        _store_secret_first(set_password, name, password)
    path = save_profile(settings)
    click.echo(f"Saved profile {name!r} in {path}.")
    if password:
        click.echo("The password is stored in keyring.")
    elif username and os.environ.get(PASSWORD_ENV):
        click.echo(f"No password stored: ${PASSWORD_ENV} will be used.")
    elif not username:
        click.echo("No login: the server is used without a username and password.")
    if insecure_skip_verify:
        click.secho("Warning: certificate verification is OFF for this profile.", fg="yellow")
    click.echo(f"Next: docmail test --profile {name}")


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


def _store_secret_first(store: Callable[[Any, str], None], owner: Any, secret: str) -> None:
    """Put a secret in the keyring before the profile is written: if it cannot, nothing is."""
    from .errors import SecretStoreError

    try:
        store(owner, secret)
    except SecretStoreError as exc:
        raise SecretStoreError(f"{exc.message} Nothing was saved.", exc.hint) from None


def _save_signin_profile(settings: Any, password_stdin: bool) -> None:
    """``profile add`` for the methods without a password: only oauth2-app keeps a secret."""
    from .auth import CLIENT_SECRET_ENV, set_client_secret
    from .profiles import save_profile

    secret = ""
    if settings.auth == "oauth2-app" and not settings.certificate:
        secret = _ask_secret(
            f"Client secret of app {settings.client_id}",
            from_stdin=password_stdin,
            env_var=CLIENT_SECRET_ENV,
            no_terminal=(
                f"The client secret of app {settings.client_id} cannot be asked for: there is "
                "no terminal.",
                f"Pipe it in with --password-stdin, or set ${CLIENT_SECRET_ENV} in the "
                "environment of the job that sends.",
            ),
        )
    if secret:
        _store_secret_first(set_client_secret, settings, secret)
    path = save_profile(settings)
    click.echo(f"Saved profile {settings.name!r} in {path}.")
    if secret:
        click.echo("The client secret is stored in keyring.")
    elif settings.auth == "oauth2-app" and not settings.certificate:
        click.echo(f"No client secret stored: ${CLIENT_SECRET_ENV} will be used.")
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
@click.option(
    "--profile",
    "profile_name",
    default=None,
    help="Profile to test. Default: the only profile there is.",
)
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
@click.option("--profile", "profile_name", default=None, help="Default: the only profile.")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ledger file. Default: ledger.sqlite in $DOCMAIL_HOME.",
)
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
    with Ledger(ledger) as book:
        result = sync_mailbox(settings, book, campaign=campaign)
    if result.error is not None:
        click.secho(f"Error: {result.error.message}", fg="red", err=True)
        if result.error.hint:
            click.echo(f"Hint: {result.error.hint}", err=True)
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


def _orders_options(func: F) -> F:
    """ORDERS TEMPLATE [--documents DIR] [--documents-out DIR] [--sheet SHEET] [--header-row N]
    [--rows SPEC], shared by commands."""
    func = click.option("--rows", "rows", default=None, metavar="SPEC", help=_ROWS_HELP)(func)
    func = click.option(
        "--header-row", type=click.IntRange(min=1), default=None, metavar="N", help=_HEADER_ROW_HELP
    )(func)
    func = click.option("--sheet", default=None, help=_SHEET_HELP)(func)
    func = click.option(
        "--documents-out",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=_DOCUMENTS_OUT_HELP,
    )(func)
    func = click.option(
        "--documents",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None,
        help=_DOCUMENTS_HELP,
    )(func)
    func = click.argument("template", type=click.Path(dir_okay=False, path_type=Path))(func)
    return click.argument("orders", type=click.Path(dir_okay=False, path_type=Path))(func)


def _sheet_arg(sheet: str | None) -> str | None:
    """The sheet as given: read_orders takes a name first, an index only where none fits."""
    return sheet


@main.command(short_help="Check every row; list every problem.")
@_orders_options
@friendly_errors
def check(
    orders: Path,
    template: Path,
    documents: Path | None,
    documents_out: Path | None,
    sheet: str | None,
    header_row: int | None,
    rows: str | None,
) -> None:
    """Check every row and list every problem (payment data too); exit 1 when any has one."""
    from .batch import Batch
    from .plan import describe_recipients, describe_skipped

    plan = Batch.from_files(
        orders,
        template,
        documents=documents,
        sheet=_sheet_arg(sheet),
        header_row=header_row,
        rows=rows,
        documents_out=documents_out,
    ).plan
    for notice in plan.notices:
        click.secho(f"Notice: {notice}", fg="yellow")
    if plan.notices:
        click.echo("")
    if plan.problems:
        lines = [
            ("all" if p.row is None else str(p.row), p.key or "", p.field, p.message, p.hint)
            for p in plan.problems
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


@main.command()
@_orders_options
@click.option("--row", "row", required=True, type=int, help="Sheet row number (2 = first order).")
@click.option(
    "--profile", "profile_name", default=None,
    help="Show the From address and Message-ID this profile sends with.",
)  # fmt: skip
@click.option("--campaign", default=None, help="As for send. Default: the template's name.")
@friendly_errors
def preview(
    orders: Path,
    template: Path,
    documents: Path | None,
    documents_out: Path | None,
    sheet: str | None,
    header_row: int | None,
    rows: str | None,
    row: int,
    profile_name: str | None,
    campaign: str | None,
) -> None:
    """Show the message of one row exactly as it will be sent.

    A document made from a template is drawn into the 'preview' folder of the documents-out
    folder (not recorded, not sent), with its first page as a PNG image beside it.
    """
    from .batch import Batch

    batch = Batch.from_files(
        orders,
        template,
        documents=documents,
        sheet=_sheet_arg(sheet),
        header_row=header_row,
        rows=rows,
        campaign=campaign,
        documents_out=documents_out,
        profile=profile_name,  # the From shown is the profile's when one is named
    )
    draft = batch.plan.draft_for_row(row)
    folder = draft.documents[0].path.parent / "preview" if draft and draft.documents else None
    click.echo(batch.preview(row, documents_to=folder).as_text(), nl=False)


# --- send -------------------------------------------------------------------------------
# (section: batch sending)


def _rate_arg(rate: str | None) -> float | None:
    """'30/min', '30' or '0.5/min' → messages per minute."""
    from .pacing import messages_per_minute

    return messages_per_minute(rate, "--rate")


def _print_trouble(report: Any) -> None:
    trouble = [result for result in report.results if result.trouble]
    for item in [*trouble, *report.problems]:
        click.secho(str(item), fg="red")
        if item.hint:
            click.echo(f"  → {item.hint}")


@main.command(short_help="Send every valid message once, then report.")
@_orders_options
@click.option("--profile", "profile_name", default=None, help="Default: the only profile.")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Ledger file. Default: ledger.sqlite in $DOCMAIL_HOME.",
)
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
    orders: Path,
    template: Path,
    documents: Path | None,
    documents_out: Path | None,
    sheet: str | None,
    header_row: int | None,
    rows: str | None,
    profile_name: str | None,
    ledger: Path | None,
    campaign: str | None,
    dry_run: bool,
    limit: int | None,
    rate: str | None,
    connections: int,
    report_path: Path | None,
    failed_path: Path | None,
    resend_unknown: bool,
    resend_changed: bool,
    all_or_nothing: bool,
    test_row: int | None,
    yes: bool,
) -> None:
    """Send every valid message once; report rows with problems (exit 1 when there are any)."""
    from .batch import Batch
    from .errors import ConfigError
    from .profiles import load_profile
    from .send import SendOptions

    settings = load_profile(profile_name)
    options = SendOptions(
        dry_run=dry_run,
        limit=limit,
        rate_per_minute=_rate_arg(rate),
        connections=connections,
        resend_unknown=resend_unknown,
        resend_changed=resend_changed,
        all_or_nothing=all_or_nothing,
    )
    batch = Batch.from_files(
        orders,
        template,
        documents=documents,
        sheet=_sheet_arg(sheet),
        header_row=header_row,
        rows=rows,
        profile=settings,
        ledger=ledger,
        campaign=campaign,
        options=options,
        documents_out=documents_out,
    )
    if test_row is not None:
        result = batch.send_test(test_row)
        click.secho(f"Test message of row {test_row} sent to {result.to[0]}.", fg="green")
        return
    if not yes:
        waiting = batch.pending()
        if waiting.ask:
            if not sys.stdin.isatty():
                raise ConfigError(
                    "docmail send needs a confirmation, but there is no terminal to ask on.",
                    "Add --yes to send without asking (e.g. in a scheduled job), or try "
                    "--dry-run first.",
                )
            if not click.confirm(waiting.question, default=False):
                click.echo("Nothing sent.")
                sys.exit(1)

    stopped: list[str] = []

    def log_line(done: int, total: int, result: Any) -> None:
        if result.state == "planned":  # not attempted: the batch stopped; say why once, first
            if not stopped:
                stopped.append(result.error)
                click.secho(f"Error: {result.error}", fg="red", err=True)
                if result.hint:
                    click.echo(f"Hint: {result.hint}", err=True)
            return
        rows = ", ".join(str(r) for r in result.rows)
        click.echo(f"[{done}/{total}] row {rows} {result.key}: {result.state}")

    report = batch.send(progress="bar" if sys.stderr.isatty() else log_line)
    _print_trouble(report)
    click.echo(report.summary())
    if report_path is not None:
        click.echo(f"Report written to {report.save(report_path)}")
    if failed_path is not None:
        written = batch.save_failed_rows(report, failed_path)
        click.echo(
            f"Rows to fix written to {written}"
            if written is not None
            else f"No row needs fixing: {failed_path} was not written."
        )
    if report.fatal is not None and not stopped:
        click.secho(f"Error: {report.fatal.summary}", fg="red", err=True)
        if report.fatal.hint:
            click.echo(f"Hint: {report.fatal.hint}", err=True)
    if not report.ok:
        sys.exit(1)


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
