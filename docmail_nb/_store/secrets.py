"""Secrets in the system keyring: the SMTP password and sign-in secrets, never in a file of ours.

``DOCMAIL_SMTP_PASSWORD``, when set, stands in for the password (headless jobs)."""

from __future__ import annotations

import logging
import os

from docmail_nb.errors import SecretStoreError

__all__ = [
    "KEYRING_SERVICE",
    "PASSWORD_ENV",
    "SECRET_KEYS",
    "forget_password",
    "forget_secret",
    "get_password",
    "get_secret",
    "has_password",
    "set_password",
    "set_secret",
]

_log = logging.getLogger("docmail_nb._store.secrets")


KEYRING_SERVICE = "docmail_nb"

PASSWORD_ENV = "DOCMAIL_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret

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
    import keyring.errors  # on first use: keyring finds its backend in a tenth of a second

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
    import keyring.errors

    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except keyring.errors.KeyringError as exc:
        _log.debug("keyring unavailable while reading profile %r: %s", name, type(exc).__name__)
        return None


def has_password(name: str) -> bool:
    """Whether a password for ``name`` can be found (environment or keyring)."""
    return get_password(name) is not None


def forget_password(name: str) -> None:
    """Remove the keyring entry of ``name``; nothing happens when there is none."""
    import keyring.errors

    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        _log.debug("keyring unavailable while forgetting %r: %s", name, type(exc).__name__)


#: keyring entries a profile may own besides its password: user = "<profile>/<key>"
SECRET_KEYS = ("tokens", "client-secret")


def _secret_user(name: str, key: str) -> str:
    return f"{name}/{key}"  # "/" cannot occur in a profile name: no clash with a password


def set_secret(name: str, key: str, value: str) -> None:
    """Keep ``value`` in keyring as the ``key`` secret of profile ``name``; SecretStoreError."""
    import keyring.errors

    try:
        keyring.set_password(KEYRING_SERVICE, _secret_user(name, key), value)
        stored = keyring.get_password(KEYRING_SERVICE, _secret_user(name, key))
    except keyring.errors.KeyringError as exc:
        raise SecretStoreError(
            f"The {key} of profile {name!r} cannot be saved in the keyring ({type(exc).__name__}).",
            _WAYS_OUT,
        ) from None
    if stored != value:
        raise SecretStoreError(
            f"The {key} of profile {name!r} was not kept by the keyring backend "
            f"({type(keyring.get_keyring()).__module__}).",
            _WAYS_OUT,
        )


def get_secret(name: str, key: str) -> str | None:
    """The ``key`` secret of profile ``name`` from keyring, or None."""
    import keyring.errors

    try:
        return keyring.get_password(KEYRING_SERVICE, _secret_user(name, key))
    except keyring.errors.KeyringError as exc:
        _log.debug("keyring unavailable while reading %s of %r: %s", key, name, type(exc).__name__)
        return None


def forget_secret(name: str, key: str) -> None:
    """Remove the ``key`` secret of profile ``name``; nothing happens when there is none."""
    import keyring.errors

    try:
        keyring.delete_password(KEYRING_SERVICE, _secret_user(name, key))
    except keyring.errors.PasswordDeleteError:
        pass
    except keyring.errors.KeyringError as exc:
        _log.debug(
            "keyring unavailable while forgetting %s of %r: %s", key, name, type(exc).__name__
        )
