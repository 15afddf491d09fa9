"""Setting up a profile: the one place that tests, saves and describes an SMTP profile.

Every face (``docmail profile``, ``docmail test``, the settings panel, the notebooks) goes
through :class:`ProfileSetup`:

- **test**: SMTP first; then, when the profile names an IMAP host, IMAP with the same login,
  unless the SMTP test found no password to log in with (trying IMAP would only say so again);
- **save**: the secret (password, or an app's client secret) goes to keyring *first*; when
  keyring cannot keep it, nothing is written;
- **the password's state in words**: where the password comes from, said the same way
  everywhere;
- **presets**: the server a preset fills in, and a note about it that agrees with the fields.

A password typed by the user stays in the setup object (never in a file, a repr or a log) so
that a Test connection and the Save after it use the same one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from docmail_nb._auth.signin import auth_status
from docmail_nb._auth.tokens import CLIENT_SECRET_ENV, set_client_secret
from docmail_nb._mail.diagnosis import password_notice
from docmail_nb._mail.smtp import test_connection
from docmail_nb._store.presets import PRESETS, SECURITIES, USUAL_PORT, Security
from docmail_nb._store.profiles import (
    Profile,
    load_profile,
    password_status,
    preset_imap,
    preset_server,
    profile_from_preset,
    profiles_file,
    save_profile,
)
from docmail_nb._store.secrets import PASSWORD_ENV, set_password
from docmail_nb.errors import Diagnosis, SecretStoreError

if TYPE_CHECKING:  # the IMAP module only for a profile with an IMAP host
    from docmail_nb._mailbox.imap import MailboxCheck

__all__ = [
    "CLIENT_SECRET_ENV",
    "PASSWORD_ENV",
    "SECURITIES",
    "PasswordKind",
    "PasswordState",
    "ProfileSetup",
    "SavedProfile",
    "Security",
    "SetupCheck",
    "auth_status",
    "describe_preset",
    "password_source",
    "password_state",
    "preset_imap",
    "preset_server",
    "profiles_file",
]

#: what a password state is called: where the login secret comes from
PasswordKind = Literal["typed", "stored", "environment", "not needed", "missing", "sign-in"]

_SECURITY_WORDS: dict[str, str] = {
    "ssl": "SSL/TLS",
    "starttls": "STARTTLS",
    "none": "no encryption",
}


@dataclass(frozen=True)
class PasswordState:
    """Where a profile's login secret comes from: ``kind``, and the same in ``words``."""

    kind: PasswordKind
    words: str  # short, for a list: "password stored in keyring"
    sentence: str  # a full sentence, for a form or a status line

    def __str__(self) -> str:
        return self.words


def password_state(profile: Profile, *, typed: bool = False) -> PasswordState:
    """The state of ``profile``'s password; ``typed``: the user has just typed one.

    Reads keyring (unless the environment holds the password or none is needed).
    """
    name = profile.name
    if profile.auth != "password":
        status = auth_status(profile)
        return PasswordState("sign-in", status, f"{status[:1].upper()}{status[1:]}.")
    if not profile.username:
        return PasswordState(
            "not needed",
            "no login (no password needed)",
            "No username: this server is used without a login or password.",
        )
    if typed:
        return PasswordState(
            "typed",
            "password typed, not saved yet",
            f"The password you typed is used for '{name}'; Save keeps it in keyring.",
        )
    status = password_status(profile)
    if status == "environment":
        return PasswordState(
            "environment",
            f"password from ${PASSWORD_ENV}",
            f"The password comes from {PASSWORD_ENV} in this environment; nothing is read "
            "from keyring.",
        )
    if status == "stored":
        return PasswordState(
            "stored",
            "password stored in keyring",
            f"A password for '{name}' is stored in keyring.",
        )
    return PasswordState(
        "missing",
        "password missing",
        f"No password is stored for '{name}' yet.",
    )


def password_source(profile: Profile, *, typed: bool = False) -> str:
    """Where the password that was just tried came from, for a failed login's message."""
    if profile.auth != "password" or not profile.username:
        return ""
    if typed:
        return "The password tried is the one typed in the form."
    if os.environ.get(PASSWORD_ENV):
        return (
            f"The password tried came from the environment variable {PASSWORD_ENV}, not from "
            "keyring: correct or unset it."
        )
    return f"The password tried came from keyring (the one saved for profile '{profile.name}')."


def describe_preset(preset: str, *, port: int | None = None, security: str | None = None) -> str:
    """The preset in one note that agrees with the port and security the form shows.

    The port named is the preset's for its own security, else the usual one of the shown
    security; a port that differs from it is named as the user's choice.
    """
    chosen = PRESETS[preset]
    shown_security: Security = security if security in USUAL_PORT else chosen.security
    usual_port = preset_server(preset, security=shown_security)[1]
    server = chosen.host or "your server"
    text = f"{chosen.label}: {server}, port {usual_port} with {_SECURITY_WORDS[shown_security]}"
    if port is not None and port != usual_port:
        text += f" (the form has port {port}, as you set it)"
    limits = ", ".join(chosen.limits.lines())
    return (
        text
        + ". "
        + (f"Known limits, applied when sending: {limits}." if limits else "No known limits.")
    )


@dataclass(frozen=True)
class SetupCheck:
    """What a Test connection found: SMTP, then IMAP (None when it was not tried)."""

    smtp: Diagnosis
    imap: MailboxCheck | None = None
    source: str = ""  # where the password came from, said when the login failed

    @property
    def ok(self) -> bool:
        """Whether every step tried worked."""
        return self.smtp.ok and (self.imap is None or self.imap.ok)

    def lines(self) -> list[tuple[bool, str, str]]:
        """(worked, what happened, what to do) per step, in order."""
        smtp = self.smtp
        said = " ".join(str(part) for part in (smtp.code, smtp.reply) if part)
        summary = smtp.summary
        if not smtp.ok and said and said not in summary:
            summary += f" (server said: {said})"
        hint = " ".join(part for part in (smtp.hint, self.source) if part)
        found = [(smtp.ok, summary, hint)]
        if self.imap is not None:
            summary = self.imap.summary if self.imap.ok else f"IMAP: {self.imap.summary}"
            found.append((self.imap.ok, summary, self.imap.hint))
        return found


@dataclass(frozen=True)
class SavedProfile:
    """What Save did: where the profile went and whether a secret was stored."""

    profile: Profile
    path: Path
    secret: str = "password"  # noqa: S105 - what the secret is called
    stored: bool = False  # whether it went to keyring
    from_environment: str = ""  # the variable that supplies it, when none was stored

    def lines(self) -> list[str]:
        """Where the profile was saved, then what became of the secret, if anything."""
        found = [f"Saved profile '{self.profile.name}' in {self.path}."]
        if self.stored:
            found.append(f"The {self.secret} is stored in keyring.")
        elif self.from_environment:
            found.append(f"No {self.secret} stored: ${self.from_environment} will be used.")
        return found

    def words(self) -> str:
        """The lines as one text."""
        return " ".join(self.lines())


@dataclass
class ProfileSetup:
    """One profile being set up, with the password the user typed (if any).

    ``password`` is the secret of the profile's login method: the password, or an
    ``oauth2-app`` profile's client secret. It is never shown (not in the repr) and is kept
    until :meth:`save` has stored it.
    """

    profile: Profile
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_preset(
        cls,
        name: str,
        preset: str = "generic",
        *,
        password: str | None = None,
        host: str | None = None,
        port: int | None = None,
        security: Security | None = None,
        **settings: Any,
    ) -> ProfileSetup:
        """A new profile with the server of ``preset``, each setting given overriding it."""
        profile = profile_from_preset(
            name, preset, host=host, port=port, security=security, **settings
        )
        return cls(profile, password or None)

    @classmethod
    def load(cls, name: str | None = None) -> ProfileSetup:
        """A saved profile (``None``: the only one there is), with no password typed."""
        return cls(load_profile(name))

    @property
    def secret_name(self) -> str:
        """What the secret is called: "password", or "client secret" for an app's login."""
        return "client secret" if self.profile.auth == "oauth2-app" else "password"

    @property
    def needs_secret(self) -> bool:
        """Whether the login method keeps a secret in keyring at all."""
        profile = self.profile
        if profile.auth == "oauth2-app":
            return not profile.certificate
        return profile.auth == "password" and bool(profile.username)

    @property
    def secret_env(self) -> str:
        """The environment variable that supplies the secret instead of keyring."""
        return CLIENT_SECRET_ENV if self.profile.auth == "oauth2-app" else PASSWORD_ENV

    def password_state(self) -> PasswordState:
        """Where the password comes from, the typed one first."""
        return password_state(self.profile, typed=bool(self.password) and self.needs_secret)

    def notice(self) -> str:
        """What the user should know about the login method (e.g. that it ends soon)."""
        return password_notice(self.profile)

    def test(self) -> SetupCheck:
        """Test connection: SMTP, then IMAP unless no password was found; never raises."""
        profile = self.profile
        typed = self.password if profile.auth == "password" else None
        smtp = test_connection(profile, typed)
        source = ""
        if smtp.kind in ("auth_failed", "app_password_required"):
            source = password_source(profile, typed=typed is not None)
        imap = None
        if profile.imap_host and smtp.kind != "no_password":
            from docmail_nb._mailbox.imap import check_mailbox

            imap = check_mailbox(profile, typed)
        return SetupCheck(smtp, imap, source)

    def save(self) -> SavedProfile:
        """Store the secret in keyring, then write the profile; nothing is written when
        keyring cannot keep the secret (SecretStoreError says so)."""
        profile = self.profile
        secret = self.password if self.needs_secret else None
        if secret:
            try:
                if profile.auth == "oauth2-app":
                    set_client_secret(profile, secret)
                else:
                    set_password(profile.name, secret)
            except SecretStoreError as exc:
                raise SecretStoreError(f"{exc.message} Nothing was saved.", exc.hint) from None
        path = save_profile(profile)
        self.password = None  # stored: the setup keeps no copy
        env = self.secret_env if self.needs_secret and os.environ.get(self.secret_env) else ""
        return SavedProfile(profile, path, self.secret_name, bool(secret), env)
