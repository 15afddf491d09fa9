"""``docmail profile …``, ``login``, ``logout`` and ``test``: saving and trying SMTP profiles."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the commands import what they use when they run: --help stays quick
    from docmail_nb import Profile


from docmail_nb.cli._common import friendly_errors, profile_option

__all__ = [
    "login_command",
    "logout_command",
    "profile",
    "profile_add",
    "profile_list",
    "profile_remove",
    "profile_show",
    "test_command",
]


@click.group(short_help="Save, list, show and remove SMTP profiles.")
def profile() -> None:
    """Save, list, show and remove SMTP profiles (the password goes to keyring)."""


def _password_source(item: Profile) -> str:
    """How a profile logs in, in words: 'no login (no password needed)' when it needs none."""
    from docmail_nb.setup import password_state

    return password_state(item).words


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


_FILE_OPTIONS = ("ca_file", "client_secrets", "certificate")


_PRESET_OPTIONS = ("imap_host", "imap_port", "copy_to_sent")


def _profile_from_options(
    name: str, insecure_skip_verify: bool, options: dict[str, Any]
) -> Profile:
    """The profile ``profile add`` describes: the preset's server and limits, then the options."""
    from docmail_nb import profile_from_preset

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
    from docmail_nb.setup import PASSWORD_ENV

    name, username = settings.name, settings.username
    password = _Secret(
        f"Password for {username}",
        PASSWORD_ENV,
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

    prompt: str
    env_var: str  # when set, the secret is read from there when sending; nothing is asked
    no_terminal: tuple[str, str]  # message and hint when it cannot be asked for


def _save_with_secret(settings: Profile, secret: _Secret | None, password_stdin: bool) -> None:
    """Ask for ``secret``, then save: keyring first, and nothing written when it cannot keep
    the secret (:meth:`ProfileSetup.save`)."""
    from docmail_nb.setup import ProfileSetup

    value = ""
    if secret is not None:
        value = _ask_secret(
            secret.prompt,
            from_stdin=password_stdin,
            env_var=secret.env_var,
            no_terminal=secret.no_terminal,
        )
    for line in ProfileSetup(settings, value or None).save().lines():
        click.echo(line)


def _ask_secret(
    prompt: str, *, from_stdin: bool, env_var: str, no_terminal: tuple[str, str]
) -> str:
    """A secret from standard input or the terminal; empty when ``env_var`` will supply it.

    ``no_terminal`` is the message and hint of the error raised when it cannot be asked for.
    """
    import os

    from docmail_nb.errors import ConfigError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(env_var):
        return ""
    if not sys.stdin.isatty():
        raise ConfigError(*no_terminal)
    return str(click.prompt(prompt, hide_input=True))


def _save_signin_profile(settings: Profile, password_stdin: bool) -> None:
    """``profile add`` for the methods without a password: only oauth2-app keeps a secret."""
    from docmail_nb.setup import CLIENT_SECRET_ENV

    secret = _Secret(
        f"Client secret of app {settings.client_id}",
        CLIENT_SECRET_ENV,
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


@click.command("login", short_help="Sign a profile in (Microsoft, Google) and keep it.")
@click.argument("name")
@friendly_errors
def login_command(name: str) -> None:
    """Sign profile NAME in (Microsoft: a device code; Google: a browser) and keep the sign-in."""
    from docmail_nb import load_profile, sign_in

    settings = load_profile(name)
    click.echo(sign_in(settings, show=lambda text: click.echo(text)))
    click.echo(f"Next: docmail test --profile {name}")


@click.command("logout", short_help="Forget a profile's sign-in on this computer.")
@click.argument("name")
@friendly_errors
def logout_command(name: str) -> None:
    """Forget the sign-in (tokens) of profile NAME on this computer."""
    from docmail_nb import load_profile, sign_out

    if sign_out(load_profile(name)):
        click.echo(f"Signed out: the tokens of profile {name!r} are forgotten.")
    else:
        click.echo(f"Profile {name!r} was not signed in on this computer.")


@profile.command("list")
@friendly_errors
def profile_list() -> None:
    """List the saved profiles."""
    from docmail_nb import list_profiles
    from docmail_nb.setup import profiles_file

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

    from docmail_nb import load_profile

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
    from docmail_nb import remove_profile

    remove_profile(name)
    click.echo(f"Removed profile {name!r} and its password.")


@click.command("test", short_help="Test connection: TLS, login; exit 1 when it fails.")
@profile_option("Profile to test. Default: the only profile there is.")
@friendly_errors
def test_command(profile_name: str | None) -> None:
    """Test connection: connect, TLS, EHLO, login, QUIT; exit 1 when it fails."""
    from docmail_nb.setup import ProfileSetup

    checked = ProfileSetup.load(profile_name).test()  # SMTP, then IMAP
    result = checked.smtp
    if result.ok:
        click.secho(f"OK: {result.summary}", fg="green")
    else:
        click.secho(f"Failed: {result.summary}", fg="red", err=True)
        if result.code is not None:
            click.echo(f"Server reply: {result.code} {result.reply}", err=True)
    if result.hint:
        click.echo(f"Hint: {result.hint}", err=not result.ok)
    if checked.source:  # a refused login: where the password tried came from
        click.echo(checked.source, err=True)
    imap = checked.imap
    if imap is not None:
        if imap.ok:
            click.secho(f"OK: {imap.summary}", fg="green")
        else:
            click.secho(f"Failed: IMAP: {imap.summary}", fg="red", err=True)
            if imap.hint:
                click.echo(f"Hint: {imap.hint}", err=True)
    if not checked.ok:
        sys.exit(1)
