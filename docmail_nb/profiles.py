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
import keyring
import keyring.errors
import tomli_w

from .errors import ProfileError, SecretStoreError
from .files import write_private

__all__ = [
    "KEYRING_SERVICE",
    "PASSWORD_ENV",
    "PRESETS",
    "SECURITIES",
    "USUAL_PORT",
    "Limits",
    "Preset",
    "Profile",
    "Security",
    "docmail_home",
    "forget_password",
    "get_password",
    "has_password",
    "is_loopback",
    "list_profiles",
    "load_profile",
    "profile_from_preset",
    "profiles_file",
    "remove_profile",
    "require_password",
    "save_profile",
    "set_password",
]

log = logging.getLogger("docmail_nb.profiles")

Security = Literal["ssl", "starttls", "none"]
SECURITIES: tuple[Security, ...] = get_args(Security)
USUAL_PORT: dict[Security, int] = {"ssl": 465, "starttls": 587, "none": 25}

KEYRING_SERVICE = "docmail_nb"
PASSWORD_ENV = "DOCMAIL_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret
HOME_ENV = "DOCMAIL_HOME"

_NAME_RE = re.compile(r"^\w[\w.@-]{0,63}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Limits:
    """Known sending limits of a provider; ``None`` means unknown or unlimited."""

    messages_per_minute: int | None = None
    max_connections: int | None = None
    messages_per_day: int | None = None
    recipients_per_day: int | None = None
    recipients_per_message: int | None = None


@dataclass(frozen=True)
class Preset:
    """Server settings and limits of a common provider."""

    key: str
    label: str
    host: str
    port: int
    security: Security
    limits: Limits


PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset("generic", "Other SMTP server", "", 587, "starttls", Limits()),
        Preset(
            "gmail",
            "Gmail (personal account)",
            "smtp.gmail.com",
            465,
            "ssl",
            Limits(messages_per_day=500, recipients_per_message=100),
        ),
        Preset(
            "google_workspace",
            "Google Workspace",
            "smtp.gmail.com",
            465,
            "ssl",
            Limits(messages_per_day=2000, recipients_per_day=10000, recipients_per_message=100),
        ),
        Preset(
            "microsoft365",
            "Microsoft 365 / Exchange Online",
            "smtp.office365.com",
            587,
            "starttls",
            Limits(
                messages_per_minute=30,
                max_connections=3,
                recipients_per_day=10000,
                recipients_per_message=500,
            ),
        ),
    )
}


@dataclass(frozen=True)
class Profile:
    """How to reach one SMTP server and as whom. Holds no password."""

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


def is_loopback(host: str) -> bool:
    """True for this machine only: ``localhost``, 127.0.0.0/8 and ::1 (brackets allowed)."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def profile_from_preset(name: str, preset: str = "generic", **settings: Any) -> Profile:
    """A profile with the host, port and security of ``preset``; ``settings`` override them."""
    if preset not in PRESETS:
        raise ProfileError(f"Unknown preset {preset!r}.", f"Known presets: {', '.join(PRESETS)}.")
    chosen = PRESETS[preset]
    values: dict[str, Any] = {
        "host": chosen.host,
        "port": chosen.port,
        "security": chosen.security,
        "preset": preset,
    }
    values.update(settings)
    return Profile(name=name, **values)


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
    tables = {
        name: {key: value for key, value in asdict(profiles[name]).items() if key != "name"}
        for name in sorted(profiles)
    }
    text = header + tomli_w.dumps({"profiles": tables})
    return write_private(path, lambda handle: handle.write(text.encode("utf-8")))


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
            "Name one with --profile NAME.",
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


# -- the password -----------------------------------------------------------------------

_WAYS_OUT = (
    "Install a keyring backend for this system (e.g. the Secret Service on a desktop, or the "
    "keyrings.alt package where a plaintext file is acceptable), or set the password in the "
    f"environment variable {PASSWORD_ENV} for the job that sends."
)


def set_password(name: str, password: str) -> None:
    """Keep the password of profile ``name`` in keyring; never in a file of ours."""
    if not password:
        raise SecretStoreError(
            f"No password was given for profile {name!r}.",
            "Enter the password (or app password) of the mailbox.",
        )
    try:
        keyring.set_password(KEYRING_SERVICE, name, password)
        stored = keyring.get_password(KEYRING_SERVICE, name)
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(
            f"The password for profile {name!r} cannot be saved: no usable keyring backend "
            f"({type(exc).__name__}).",
            _WAYS_OUT,
        ) from None
    if stored != password:
        backend = type(keyring.get_keyring()).__module__
        raise SecretStoreError(
            f"The password for profile {name!r} was not kept by the keyring backend ({backend}).",
            _WAYS_OUT,
        )


def get_password(name: str) -> str | None:
    """``$DOCMAIL_SMTP_PASSWORD`` when set, else the keyring entry of ``name``, else None."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except keyring.errors.KeyringError as exc:
        log.debug("keyring unavailable while reading profile %r: %s", name, type(exc).__name__)
        return None


def has_password(name: str) -> bool:
    """Whether a password for ``name`` can be found (environment or keyring)."""
    return get_password(name) is not None


def forget_password(name: str) -> None:
    """Remove the keyring entry of ``name``; nothing happens when there is none."""
    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        log.debug("keyring unavailable while forgetting %r: %s", name, type(exc).__name__)


def require_password(profile: Profile, password: str | None = None) -> str | None:
    """The password to log in with: ``password`` if given, else the stored one.

    None when the profile logs in without one (no username). The one place that says "no
    password": SecretStoreError naming the profile and both ways to give one.
    """
    if password is not None or not profile.username:
        return password
    found = get_password(profile.name)
    if found is None:
        raise SecretStoreError(
            f"No password is known for profile {profile.name!r} (user {profile.username}).",
            f"Save it with 'docmail profile add {profile.name} ... --password-stdin' (it is kept "
            f"in keyring), or set the environment variable {PASSWORD_ENV} for a job without "
            "keyring.",
        )
    return found
