"""SMTP profiles: the settings, where they are stored, and the password in keyring.

Profiles live in ``profiles.toml`` under :func:`docmail_home`. The password is never written
there: it is kept in keyring (service ``docmail_nb``, user = profile name), or read from the
``DOCMAIL_SMTP_PASSWORD`` environment variable when that is set (headless jobs).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

import click
import tomli_w

from docmail_nb._store.files import write_private
from docmail_nb._store.presets import (
    GOOGLE_PRESETS,
    IMAP_PORT,
    IMAP_SECURITIES,
    PRESETS,
    SECURITIES,
    USUAL_PORT,
    ImapSecurity,
    Limits,
    Security,
)
from docmail_nb._store.secrets import (
    KEYRING_SERVICE,
    PASSWORD_ENV,
    SECRET_KEYS,
    forget_password,
    forget_secret,
    get_password,
    has_password,
)
from docmail_nb.errors import ProfileError, SecretStoreError
from docmail_nb.words import setting

__all__ = [
    "AUTH_METHODS",
    "HOME_ENV",
    "AuthMethod",
    "Profile",
    "docmail_home",
    "is_loopback",
    "list_profiles",
    "load_profile",
    "password_status",
    "preset_imap",
    "preset_server",
    "profile_from_preset",
    "profiles_file",
    "remove_profile",
    "require_password",
    "save_profile",
]

_log = logging.getLogger("docmail_nb._store.profiles")

AuthMethod = Literal["password", "oauth2", "oauth2-app", "token-command"]
AUTH_METHODS: tuple[AuthMethod, ...] = get_args(AuthMethod)

HOME_ENV = "DOCMAIL_HOME"

_NAME_RE = re.compile(r"^\w[\w.@-]{0,63}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Profile:
    """How to reach one SMTP server, as whom and how to sign in. Holds no secret.

    ``auth`` is how the login is made: ``password`` (kept in keyring), ``oauth2`` (a user's
    sign-in with Microsoft or Google, refresh token in keyring), ``oauth2-app`` (a Microsoft
    app's own credentials: ``tenant``, ``client_id`` and a client secret in keyring or the
    environment, or a ``certificate`` file) or ``token-command`` (a command that prints an
    access token). ``authority`` replaces Microsoft's sign-in address (sovereign clouds);
    ``client_secrets`` is the Google OAuth client file.
    """

    name: str
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str = ""
    from_addr: str = ""
    reply_to: str = ""
    ca_file: str = ""
    timeout: float = 30.0
    verify_tls: bool = True
    preset: str = "generic"
    imap_host: str = ""
    imap_port: int = 0  # 0: the usual port of imap_security (993 or 143)
    imap_security: ImapSecurity = "ssl"
    sent_folder: str = ""  # empty: found by SPECIAL-USE \\Sent, else by the usual names
    copy_to_sent: bool = True  # append a copy of each sent message (when imap_host is set)
    auth: AuthMethod = "password"
    tenant: str = ""
    client_id: str = ""
    authority: str = ""
    client_secrets: str = ""
    certificate: str = ""
    token_command: str = ""

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ProfileError(
                f"The profile name {self.name!r} cannot be used.",
                "Use up to 64 letters, digits, '.', '_', '-' or '@', starting with a letter "
                "or digit, e.g. 'office'.",
            )
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, str) and _CONTROL_RE.search(value):
                raise ProfileError(
                    f"Profile {self.name!r}: the setting {field.name} contains a line break "
                    "or another control character.",
                    "Enter it on one line without tabs or line breaks.",
                )
        self._check_smtp()
        self._check_imap()
        self._check_auth()

    def _check_smtp(self) -> None:
        """Host, security, port, timeout and preset of the SMTP server."""
        if not self.host or any(ch.isspace() for ch in self.host):
            raise ProfileError(
                f"Profile {self.name!r}: the host {self.host!r} is not a server name.",
                "Give the SMTP server's name, e.g. smtp.office365.com, or its IP address.",
            )
        if self.security not in SECURITIES:
            raise ProfileError(
                f"Profile {self.name!r}: unknown security {self.security!r}.",
                "Use 'ssl' (implicit TLS, usually port 465), 'starttls' (usually 587) or "
                "'none' (only for a relay on this machine).",
            )
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ProfileError(f"Profile {self.name!r}: the port must be a whole number.")
        if not 0 < self.port < 65536:
            raise ProfileError(
                f"Profile {self.name!r}: the port {self.port} is out of range.",
                "Usual ports: 465 for ssl, 587 for starttls, 25 for a local relay.",
            )
        if not isinstance(self.timeout, int | float) or not self.timeout > 0:
            raise ProfileError(
                f"Profile {self.name!r}: the timeout must be a positive number of seconds.",
                "30 seconds suits most servers.",
            )
        if self.preset not in PRESETS:
            raise ProfileError(
                f"Profile {self.name!r}: unknown preset {self.preset!r}.",
                f"Known presets: {', '.join(PRESETS)}.",
            )

    def _check_imap(self) -> None:
        """The IMAP server's host, security and port (the mailbox's Sent folder)."""
        if self.imap_host and any(ch.isspace() for ch in self.imap_host):
            raise ProfileError(
                f"Profile {self.name!r}: the IMAP host {self.imap_host!r} is not a server name.",
                "Give the IMAP server's name, e.g. imap.example.ch, or leave it empty.",
            )
        if self.imap_security not in IMAP_SECURITIES:
            raise ProfileError(
                f"Profile {self.name!r}: unknown IMAP security {self.imap_security!r}.",
                "Use 'ssl' (implicit TLS, usually port 993) or 'starttls' (usually 143).",
            )
        if (
            isinstance(self.imap_port, bool)
            or not isinstance(self.imap_port, int)
            or not 0 <= self.imap_port < 65536
        ):
            raise ProfileError(
                f"Profile {self.name!r}: the IMAP port {self.imap_port!r} is not a port.",
                "Usual IMAP ports: 993 for ssl, 143 for starttls.",
            )

    def _check_auth(self) -> None:
        where = f"Profile {self.name!r}"
        if self.auth not in AUTH_METHODS:
            raise ProfileError(
                f"{where}: unknown authentication {self.auth!r}.",
                f"Use one of: {', '.join(AUTH_METHODS)}.",
            )
        if self.auth != "password" and not self.username:
            raise ProfileError(
                f"{where}: sign-in with {self.auth} needs the mailbox address as "
                f"{setting('username')}.",
                f"Give the address of the mailbox that sends, e.g. {setting('username')} "
                "anna@example.ch.",
            )
        if self.authority and not self.authority.lower().startswith("https://"):
            raise ProfileError(
                f"{where}: the authority {self.authority!r} is not an https:// address.",
                "Give the sign-in address of your cloud, e.g. "
                "https://login.microsoftonline.us/TENANT, or leave it out.",
            )
        if self.auth == "oauth2" and self.provider == "microsoft" and not self.client_id:
            raise ProfileError(
                f"{where}: Microsoft 365 sign-in needs the application (client) ID of the app "
                "registered in your organisation's Microsoft Entra.",
                f"Give it with {setting('client_id')} (docs/connect.md shows how an administrator "
                "registers the app).",
            )
        if self.auth == "oauth2" and self.provider == "google" and not self.client_secrets:
            raise ProfileError(
                f"{where}: Google sign-in needs the OAuth client file of your Google Cloud "
                "project.",
                "Download it (APIs & Services > Credentials > OAuth client ID, type Desktop "
                f"app) and give it with {setting('client_secrets', 'FILE')}.",
            )
        if self.auth == "oauth2-app" and not (self.tenant and self.client_id):
            raise ProfileError(
                f"{where}: app-only sign-in needs the tenant and the application (client) ID.",
                f"Give them with {setting('tenant')} and {setting('client_id')} (see "
                "docs/connect.md).",
            )
        if self.auth == "token-command" and not self.token_command.strip():
            raise ProfileError(
                f"{where}: authentication token-command needs the command that prints an "
                "access token.",
                'Give it with --token-command "CMD".',
            )

    @property
    def provider(self) -> Literal["microsoft", "google", ""]:
        """Who signs the user in: Microsoft, Google, or nobody (password, token command)."""
        if self.auth not in ("oauth2", "oauth2-app"):
            return ""
        if self.auth == "oauth2" and (self.client_secrets or self.preset in GOOGLE_PRESETS):
            return "google"
        return "microsoft"

    @property
    def sender(self) -> str:
        """The From address: ``from_addr``, else the username when it is an address."""
        if self.from_addr:
            return self.from_addr
        return self.username if "@" in self.username else ""

    @property
    def limits(self) -> Limits:
        """The sending limits known for this profile's provider."""
        return PRESETS[self.preset].limits

    @property
    def account(self) -> str:
        """Who sends, as the ledger counts it: ``user@host`` of the SMTP login."""
        return f"{self.username or self.sender}@{self.host}"

    @property
    def imap_port_or_default(self) -> int:
        return self.imap_port or IMAP_PORT[self.imap_security]

    @property
    def appends_to_sent(self) -> bool:
        """Whether each sent message gets a copy in the Sent folder over IMAP."""
        return bool(self.imap_host) and self.copy_to_sent

    @property
    def provider_files_sent(self) -> bool:
        """Whether the provider files mail sent over SMTP in Sent itself: its preset says so
        (Microsoft 365, Gmail), or the profile appends no copies (``copy_to_sent`` off, as for
        a server that files them). Only then does a message missing from Sent prove that it
        was not sent; where docmail appends the copies, it proves nothing."""
        return PRESETS[self.preset].files_sent or not self.copy_to_sent


def is_loopback(host: str) -> bool:
    """True for this machine only: ``localhost``, 127.0.0.0/8 and ::1 (brackets allowed)."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def preset_imap(preset: str) -> dict[str, Any]:
    """The IMAP settings a preset starts a profile with.

    Hosters: their IMAP server, copies in Sent on. Where the provider files SMTP mail in Sent
    itself (``files_sent``): no IMAP server (opt-in, for settling unknowns only), copies off.
    """
    chosen = PRESETS[preset]
    return {
        "imap_host": "" if chosen.files_sent else chosen.imap_host,
        "copy_to_sent": not chosen.files_sent,
    }


def preset_server(
    preset: str,
    *,
    host: str | None = None,
    port: int | None = None,
    security: Security | None = None,
) -> tuple[str, int, Security]:
    """Host, port and security for ``preset``, each overridden when given.

    A security other than the preset's brings its usual port (465 ssl, 587 starttls, 25 none).
    """
    if preset not in PRESETS:
        raise ProfileError(f"Unknown preset {preset!r}.", f"Known presets: {', '.join(PRESETS)}.")
    chosen = PRESETS[preset]
    security = security or chosen.security
    if port is None:
        port = chosen.port if security == chosen.security else USUAL_PORT.get(security, 587)
    return host or chosen.host, port, security


def profile_from_preset(
    name: str,
    preset: str = "generic",
    *,
    host: str | None = None,
    port: int | None = None,
    security: Security | None = None,
    **settings: Any,
) -> Profile:
    """A profile with the server of ``preset`` (see :func:`preset_server`) and ``settings``."""
    host, port, security = preset_server(preset, host=host, port=port, security=security)
    if not host:
        raise ProfileError(
            "No SMTP host was given.",
            f"Give the server's host, e.g. {setting('host', 'smtp.example.ch')}.",
        )
    values: dict[str, Any] = {**preset_imap(preset), **settings}
    return Profile(name=name, host=host, port=port, security=security, preset=preset, **values)


# -- storage ----------------------------------------------------------------------------


def docmail_home() -> Path:
    """``$DOCMAIL_HOME``, else the user's config folder (``~/.config/docmail_nb`` on Linux)."""
    configured = os.environ.get(HOME_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(click.get_app_dir("docmail_nb"))


def profiles_file() -> Path:
    """The TOML file that holds every profile."""
    return docmail_home() / "profiles.toml"


def _read_all() -> dict[str, Profile]:
    path = profiles_file()
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(
            f"The profiles file {path} cannot be read: {exc}",
            "Fix or delete the file and add the profiles again with 'docmail profile add'.",
        ) from exc
    known = {field.name for field in fields(Profile)} - {"name"}
    profiles: dict[str, Profile] = {}
    for name, settings in data.get("profiles", {}).items():
        if not isinstance(settings, dict):
            raise ProfileError(f"The profile {name!r} in {path} is not a table of settings.")
        unknown = set(settings) - known
        if unknown:
            raise ProfileError(
                f"The profile {name!r} in {path} has unknown settings: "
                f"{', '.join(sorted(unknown))}.",
                f"Known settings: {', '.join(sorted(known))}.",
            )
        try:
            profiles[name] = Profile(name=name, **settings)
        except TypeError as exc:
            raise ProfileError(f"The profile {name!r} in {path} is incomplete: {exc}") from exc
    return profiles


def _write_all(profiles: dict[str, Profile]) -> Path:
    path = profiles_file()
    header = (
        "# docmail_nb SMTP profiles. Passwords are never stored here:\n"
        f"# they live in keyring (service {KEYRING_SERVICE!r}) or in ${PASSWORD_ENV}.\n\n"
    )
    tables = {name: _settings(profiles[name]) for name in sorted(profiles)}
    text = header + tomli_w.dumps({"profiles": tables})
    return write_private(path, lambda handle: handle.write(text.encode("utf-8")))


_OPTIONAL = frozenset(
    {"auth", "tenant", "client_id", "authority", "client_secrets", "certificate", "token_command"}
)


def _settings(profile: Profile) -> dict[str, Any]:
    """The settings written for ``profile``; sign-in settings only when they are used."""
    defaults = {field.name: field.default for field in fields(Profile)}
    return {
        key: value
        for key, value in asdict(profile).items()
        if key != "name" and not (key in _OPTIONAL and value == defaults[key])
    }


def list_profiles() -> list[Profile]:
    """Every saved profile, sorted by name."""
    profiles = _read_all()
    return [profiles[name] for name in sorted(profiles)]


def load_profile(name: str | None = None) -> Profile:
    """The profile called ``name``; with no name, the only profile there is."""
    profiles = _read_all()
    if name is None:
        if len(profiles) == 1:
            return next(iter(profiles.values()))
        if not profiles:
            raise ProfileError(
                "No SMTP profile has been saved yet.",
                "Add one with 'docmail profile add NAME --host ... --username ...'.",
            )
        raise ProfileError(
            f"There are {len(profiles)} profiles ({', '.join(sorted(profiles))}); "
            "which one should be used?",
            f"Name one with {setting('profile', 'NAME')}.",
        )
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none yet"
        raise ProfileError(
            f"There is no SMTP profile called {name!r} (saved profiles: {known}).",
            "Check the name with 'docmail profile list' or add it with 'docmail profile add'.",
        )
    return profiles[name]


def save_profile(profile: Profile) -> Path:
    """Add or replace ``profile`` in the profiles file and return the file's path."""
    profiles = _read_all()
    profiles[profile.name] = profile
    return _write_all(profiles)


def remove_profile(name: str) -> None:
    """Delete the profile ``name`` and forget its password."""
    profiles = _read_all()
    if name not in profiles:
        raise ProfileError(
            f"There is no SMTP profile called {name!r}.",
            "See the saved profiles with 'docmail profile list'.",
        )
    del profiles[name]
    _write_all(profiles)
    forget_password(name)
    for key in SECRET_KEYS:
        forget_secret(name, key)
    (docmail_home() / "tokens" / f"{name}.bin").unlink(missing_ok=True)  # an encrypted sign-in


# -- the password -----------------------------------------------------------------------


def password_status(profile: Profile) -> Literal["not needed", "environment", "stored", "missing"]:
    """Where the login password of ``profile`` comes from; "not needed" without a username.

    Reads keyring (only when the environment holds no password).
    """
    if not profile.username:
        return "not needed"
    if os.environ.get(PASSWORD_ENV):
        return "environment"
    return "stored" if has_password(profile.name) else "missing"


def require_password(profile: Profile, password: str | None = None) -> str | None:
    """The password to log in with: ``password`` if given, else the stored one.

    None when the profile logs in without one (no username, or a sign-in method other than
    ``password``). The one place that says "no
    password": SecretStoreError naming the profile and both ways to give one.
    """
    if password is not None or not profile.username or profile.auth != "password":
        return password  # the sign-in methods get an access token when connecting
    found = get_password(profile.name)
    if found is None:
        raise SecretStoreError(
            f"No password is known for profile {profile.name!r} (user {profile.username}).",
            f"Save it with 'docmail profile add {profile.name} ... --password-stdin' (it is kept "
            f"in keyring), or set the environment variable {PASSWORD_ENV} for a job without "
            "keyring.",
        )
    return found


# -- other secrets of a profile (sign-in tokens, an app's client secret) -------------------
