"""Tokens kept between runs, and sign-in trouble in plain words, for every provider."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docmail_nb._auth.problems import sign_in_problem
from docmail_nb._store.profiles import Profile, docmail_home
from docmail_nb._store.secrets import forget_secret, get_secret, set_secret
from docmail_nb.errors import SecretStoreError, SignInProblem

__all__ = [
    "CLIENT_SECRET_ENV",
    "KEYRING_SECRET_LIMIT",
    "LIVE",
    "LIVE_LOCK",
    "REFRESH_MARGIN",
    "AccessToken",
    "LiveSignIn",
    "client_secret",
    "error_detail",
    "forget_tokens",
    "json_of",
    "load_state",
    "oauth_problem",
    "save_state",
    "set_client_secret",
    "shortened",
    "sign_in_trouble",
    "signed_in",
    "transport_problem",
    "xoauth2",
]


_log = logging.getLogger("docmail_nb._auth.signin")

CLIENT_SECRET_ENV = "DOCMAIL_OAUTH_CLIENT_SECRET"  # noqa: S105 - a variable name

#: seconds before its expiry that an access token is replaced
REFRESH_MARGIN = 300.0

#: the largest secret Windows' credential store keeps
KEYRING_SECRET_LIMIT = 2560

_TOKENS_KEY = "tokens"

_CLIENT_SECRET_KEY = "client-secret"  # noqa: S105 - the name of a keyring entry


@dataclass(frozen=True)
class AccessToken:
    """An access token, when it expires (epoch seconds, None = unknown) and whether it was
    obtained just now (a refused fresh token is not worth a refresh)."""

    value: str = field(repr=False)
    expires_at: float | None
    fresh: bool

    def __repr__(self) -> str:
        return f"AccessToken(expires_at={self.expires_at!r}, fresh={self.fresh!r})"


def xoauth2(username: str, token: str) -> str:
    """The XOAUTH2 initial response (before base64): ``user=U^Aauth=Bearer T^A^A``."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


def sign_in_trouble(
    kind: str, profile: Profile, detail: str = "", *, days: int = 0
) -> SignInProblem:
    return SignInProblem(sign_in_problem(kind, profile, detail, days=days))


#: AADSTS error numbers Microsoft answers with, and what they mean
_AADSTS_WORDS = {
    "65001": "admin_consent_required",
    "90002": "unknown_tenant",
    "700016": "unknown_client",
    "7000215": "bad_client_secret",
    "7000222": "bad_client_secret",
    "700027": "bad_client_secret",
    "70000": "signin_expired",
    "70008": "signin_expired",
    "700082": "signin_expired",
    "50173": "signin_expired",
    "700084": "signin_expired",
}


def error_detail(result: dict[str, Any]) -> str:
    """``error: first line of error_description`` of an OAuth error answer (no token in it)."""
    description = str(result.get("error_description") or "").strip().splitlines()
    text = str(result.get("error") or "error")
    return f"{text}: {description[0]}" if description else text


def oauth_problem(profile: Profile, result: dict[str, Any]) -> SignInProblem:
    """The problem an OAuth error answer (msal's result or Google's error JSON) means."""
    detail = error_detail(result)
    codes = [str(code) for code in result.get("error_codes") or []]
    text = f"{result.get('error_description', '')}"
    for number, kind in _AADSTS_WORDS.items():
        if number in codes or f"AADSTS{number}:" in text:
            return sign_in_trouble(kind, profile, detail)
    error = result.get("error")
    if error == "invalid_grant":
        return sign_in_trouble("signin_expired", profile, detail)
    if error == "invalid_client":
        return sign_in_trouble("bad_client_secret", profile, detail)
    if error in ("expired_token", "authorization_declined", "access_denied"):
        return sign_in_trouble("signin_timeout", profile, detail)
    return sign_in_trouble("signin_failed", profile, detail)


def transport_problem(profile: Profile, exc: BaseException) -> SignInProblem:
    """A problem reaching the identity provider (requests' exceptions, msal's ValueError)."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return sign_in_trouble("identity_untrusted", profile, shortened(exc))
    if isinstance(exc, requests.exceptions.RequestException):
        return sign_in_trouble("identity_unreachable", profile, shortened(exc))
    context = f"{exc} {exc.__context__ or ''}"
    if "AADSTS90002" in context or "Unable to get authority configuration" in context:
        return sign_in_trouble("unknown_tenant", profile, "AADSTS90002: tenant not found")
    return sign_in_trouble("signin_failed", profile, shortened(exc))


def shortened(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:300]


def _persisted_path(profile: Profile) -> Path:
    return docmail_home() / "tokens" / f"{profile.name}.bin"


def _keyring_limited() -> bool:
    import keyring

    return "Windows" in type(keyring.get_keyring()).__module__


def save_state(profile: Profile, state: dict[str, Any]) -> None:
    """Keep the sign-in state in keyring, or encrypted by msal-extensions when too large."""
    text = json.dumps(state, separators=(",", ":"))
    if len(text) <= KEYRING_SECRET_LIMIT or not _keyring_limited():
        try:
            set_secret(profile.name, _TOKENS_KEY, text)
        except SecretStoreError as exc:
            if len(text) <= KEYRING_SECRET_LIMIT:
                raise sign_in_trouble("token_store_failed", profile, exc.message) from None
        else:
            _persisted_path(profile).unlink(missing_ok=True)
            return
    path = _persisted_path(profile)
    try:
        from msal_extensions import build_encrypted_persistence

        path.parent.mkdir(parents=True, exist_ok=True)
        build_encrypted_persistence(str(path)).save(text)
    except Exception as exc:
        raise sign_in_trouble(
            "token_store_failed",
            profile,
            f"too large for the keyring ({len(text)} bytes) and no encrypted store "
            f"available: {type(exc).__name__}",
        ) from None
    try:
        set_secret(profile.name, _TOKENS_KEY, json.dumps({"persisted": str(path)}))
    except SecretStoreError as exc:
        raise sign_in_trouble("token_store_failed", profile, exc.message) from None


def load_state(profile: Profile) -> dict[str, Any] | None:
    text = get_secret(profile.name, _TOKENS_KEY)
    if not text:
        return None
    try:
        state: dict[str, Any] = json.loads(text)
        if "persisted" in state:
            from msal_extensions import build_encrypted_persistence

            state = json.loads(build_encrypted_persistence(state["persisted"]).load())
    except Exception as exc:
        _log.debug("stored sign-in of %r unreadable: %s", profile.name, type(exc).__name__)
        return None
    return state


def forget_tokens(profile: Profile) -> bool:
    """Forget the stored sign-in (refresh token, msal cache) of ``profile``; whether any was."""
    had = get_secret(profile.name, _TOKENS_KEY) is not None
    forget_secret(profile.name, _TOKENS_KEY)
    path = _persisted_path(profile)
    if path.exists():
        path.unlink()
        had = True
    with LIVE_LOCK:
        for key in [key for key in LIVE if key[0] == profile.name]:
            del LIVE[key]
    return had


def signed_in(profile: Profile) -> bool:
    """Whether a sign-in of ``profile`` is stored on this computer (``oauth2`` only)."""
    state = load_state(profile)
    return state is not None and state.get("provider") == profile.provider


def set_client_secret(profile: Profile, secret: str) -> None:
    """Keep the client secret of an ``oauth2-app`` profile in keyring."""
    set_secret(profile.name, _CLIENT_SECRET_KEY, secret)


def client_secret(profile: Profile) -> str | None:
    return os.environ.get(CLIENT_SECRET_ENV) or get_secret(profile.name, _CLIENT_SECRET_KEY)


def json_of(response: Any) -> dict[str, Any]:
    try:
        data = response.json() if response is not None else {}
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class LiveSignIn:
    client: Any = None  # msal application or google Credentials
    cache: Any = None  # msal SerializableTokenCache
    token: AccessToken | None = None


LIVE: dict[tuple[str, ...], LiveSignIn] = {}
LIVE_LOCK = threading.RLock()
