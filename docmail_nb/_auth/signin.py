"""Signing in to the SMTP server: OAuth 2.0 with Microsoft or Google, app-only, token command.

A profile's ``auth`` says how it logs in (see :class:`~docmail_nb._store.profiles.Profile`).
For every method but ``password`` this module finds an access token, which the SMTP login sends with
XOAUTH2 (:func:`xoauth2`):

- ``oauth2`` with Microsoft: msal's device-code sign-in (:func:`sign_in`), then silent refresh
  from msal's token cache; with Google: google-auth-oauthlib's installed-app flow (a browser
  and a loopback redirect), then google-auth's refresh.
- ``oauth2-app``: msal's client credentials, with a client secret (keyring or
  ``$DOCMAIL_OAUTH_CLIENT_SECRET``) or a certificate file.
- ``token-command``: a command that prints an access token (or JSON with ``accessToken``).

Refresh tokens and msal's cache live in keyring (entry ``<profile>/tokens``), never in a file
of ours; where the keyring cannot hold them (Windows' credential store takes at most 2,560
bytes a secret) in msal-extensions' encrypted persistence. An access token is kept in memory
only, and refreshed :data:`REFRESH_MARGIN` seconds before it expires. Every failure raises
:class:`~docmail_nb.errors.SignInProblem` with a diagnosis that says what to do; no token or
secret is ever part of a message, a log line or a repr.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docmail_nb._mail.diagnosis import provider_label, sign_in_problem
from docmail_nb._store.profiles import (
    Profile,
    docmail_home,
    forget_secret,
    get_secret,
    set_secret,
)
from docmail_nb.errors import SecretStoreError, SignInProblem

__all__ = [
    "CLIENT_SECRET_ENV",
    "GOOGLE_SCOPES",
    "GOOGLE_TESTING_DAYS",
    "KEYRING_SECRET_LIMIT",
    "MS_APP_SCOPES",
    "MS_DELEGATED_SCOPES",
    "MS_LOGIN",
    "REFRESH_MARGIN",
    "TOKEN_COMMAND_TIMEOUT",
    "AccessToken",
    "access_token",
    "auth_status",
    "forget_tokens",
    "set_client_secret",
    "sign_in",
    "sign_out",
    "signed_in",
    "xoauth2",
]

_log = logging.getLogger("docmail_nb._auth.signin")

#: Microsoft delegated scope; msal adds ``offline_access`` (and ``openid profile``) itself
MS_DELEGATED_SCOPES = ("https://outlook.office.com/SMTP.Send",)
MS_APP_SCOPES = ("https://outlook.office365.com/.default",)
GOOGLE_SCOPES = ("https://mail.google.com/",)
MS_LOGIN = "https://login.microsoftonline.com"
CLIENT_SECRET_ENV = "DOCMAIL_OAUTH_CLIENT_SECRET"  # noqa: S105 - a variable name
#: seconds before its expiry that an access token is replaced
REFRESH_MARGIN = 300.0
#: the largest secret Windows' credential store keeps
KEYRING_SECRET_LIMIT = 2560
#: Google deletes the refresh tokens of an app in "Testing" after this many days
GOOGLE_TESTING_DAYS = 7
TOKEN_COMMAND_TIMEOUT = 60.0

_TOKENS = "tokens"
_CLIENT_SECRET = "client-secret"  # noqa: S105 - the name of a keyring entry


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


# -- diagnoses (worded in diagnosis.SIGN_IN_PROBLEMS) ----------------------------------------


def _problem(kind: str, profile: Profile, detail: str = "", *, days: int = 0) -> SignInProblem:
    return SignInProblem(sign_in_problem(kind, profile, detail, days=days))


#: AADSTS error numbers Microsoft answers with, and what they mean
_AADSTS = {
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


def _detail(result: dict[str, Any]) -> str:
    """``error: first line of error_description`` of an OAuth error answer (no token in it)."""
    description = str(result.get("error_description") or "").strip().splitlines()
    text = str(result.get("error") or "error")
    return f"{text}: {description[0]}" if description else text


def _oauth_problem(profile: Profile, result: dict[str, Any]) -> SignInProblem:
    """The problem an OAuth error answer (msal's result or Google's error JSON) means."""
    detail = _detail(result)
    codes = [str(code) for code in result.get("error_codes") or []]
    text = f"{result.get('error_description', '')}"
    for number, kind in _AADSTS.items():
        if number in codes or f"AADSTS{number}:" in text:
            return _problem(kind, profile, detail)
    error = result.get("error")
    if error == "invalid_grant":
        return _problem("signin_expired", profile, detail)
    if error == "invalid_client":
        return _problem("bad_client_secret", profile, detail)
    if error in ("expired_token", "authorization_declined", "access_denied"):
        return _problem("signin_timeout", profile, detail)
    return _problem("signin_failed", profile, detail)


def _transport_problem(profile: Profile, exc: BaseException) -> SignInProblem:
    """A problem reaching the identity provider (requests' exceptions, msal's ValueError)."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return _problem("identity_untrusted", profile, _short(exc))
    if isinstance(exc, requests.exceptions.RequestException):
        return _problem("identity_unreachable", profile, _short(exc))
    context = f"{exc} {exc.__context__ or ''}"
    if "AADSTS90002" in context or "Unable to get authority configuration" in context:
        return _problem("unknown_tenant", profile, "AADSTS90002: tenant not found")
    return _problem("signin_failed", profile, _short(exc))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first[:300]


# -- where tokens are kept ---------------------------------------------------------------


def _persisted_path(profile: Profile) -> Path:
    return docmail_home() / "tokens" / f"{profile.name}.bin"


def _keyring_limited() -> bool:
    import keyring

    return "Windows" in type(keyring.get_keyring()).__module__


def _save_state(profile: Profile, state: dict[str, Any]) -> None:
    """Keep the sign-in state in keyring, or encrypted by msal-extensions when too large."""
    text = json.dumps(state, separators=(",", ":"))
    if len(text) <= KEYRING_SECRET_LIMIT or not _keyring_limited():
        try:
            set_secret(profile.name, _TOKENS, text)
        except SecretStoreError as exc:
            if len(text) <= KEYRING_SECRET_LIMIT:
                raise _problem("token_store_failed", profile, exc.message) from None
        else:
            _persisted_path(profile).unlink(missing_ok=True)
            return
    path = _persisted_path(profile)
    try:
        from msal_extensions import build_encrypted_persistence

        path.parent.mkdir(parents=True, exist_ok=True)
        build_encrypted_persistence(str(path)).save(text)
    except Exception as exc:
        raise _problem(
            "token_store_failed",
            profile,
            f"too large for the keyring ({len(text)} bytes) and no encrypted store "
            f"available: {type(exc).__name__}",
        ) from None
    try:
        set_secret(profile.name, _TOKENS, json.dumps({"persisted": str(path)}))
    except SecretStoreError as exc:
        raise _problem("token_store_failed", profile, exc.message) from None


def _load_state(profile: Profile) -> dict[str, Any] | None:
    text = get_secret(profile.name, _TOKENS)
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
    had = get_secret(profile.name, _TOKENS) is not None
    forget_secret(profile.name, _TOKENS)
    path = _persisted_path(profile)
    if path.exists():
        path.unlink()
        had = True
    with _LOCK:
        for key in [key for key in _LIVE if key[0] == profile.name]:
            del _LIVE[key]
    return had


def signed_in(profile: Profile) -> bool:
    """Whether a sign-in of ``profile`` is stored on this computer (``oauth2`` only)."""
    state = _load_state(profile)
    return state is not None and state.get("provider") == profile.provider


def set_client_secret(profile: Profile, secret: str) -> None:
    """Keep the client secret of an ``oauth2-app`` profile in keyring."""
    set_secret(profile.name, _CLIENT_SECRET, secret)


def _client_secret(profile: Profile) -> str | None:
    return os.environ.get(CLIENT_SECRET_ENV) or get_secret(profile.name, _CLIENT_SECRET)


def auth_status(profile: Profile) -> str:
    """One line for ``profile show``: how the profile signs in and whether it can."""
    if profile.auth == "oauth2":
        state = (
            "signed in" if signed_in(profile) else f"not signed in (docmail login {profile.name})"
        )
        return f"{provider_label(profile)} sign-in, {state}"
    if profile.auth == "oauth2-app":
        if profile.certificate:
            return f"Microsoft app-only, certificate {profile.certificate}"
        if os.environ.get(CLIENT_SECRET_ENV):
            return f"Microsoft app-only, client secret from ${CLIENT_SECRET_ENV}"
        found = "in keyring" if _client_secret(profile) else "missing"
        return f"Microsoft app-only, client secret {found}"
    if profile.auth == "token-command":
        return f"token command: {profile.token_command}"
    return "password"


# -- live tokens (in memory, per process) ----------------------------------------------------


@dataclass
class _Live:
    client: Any = None  # msal application or google Credentials
    cache: Any = None  # msal SerializableTokenCache
    token: AccessToken | None = None


_LIVE: dict[tuple[str, ...], _Live] = {}
_LOCK = threading.RLock()


def _key(profile: Profile) -> tuple[str, ...]:
    return (
        profile.name,
        profile.auth,
        profile.provider,
        profile.username,
        profile.tenant,
        profile.client_id,
        profile.authority,
        profile.client_secrets,
        profile.certificate,
    )


def access_token(
    profile: Profile, *, refresh: bool = False, clock: Callable[[], float] = time.time
) -> AccessToken:
    """A current access token for ``profile``: from memory while it has more than
    :data:`REFRESH_MARGIN` seconds left, else a new one; ``refresh`` forces a new one."""
    if profile.auth == "token-command":
        return _run_token_command(profile, clock)
    if profile.auth not in ("oauth2", "oauth2-app"):
        raise ValueError(f"profile {profile.name!r} signs in with a password")
    with _LOCK:
        live = _LIVE.setdefault(_key(profile), _Live())
        token = live.token
        if (
            not refresh
            and token is not None
            and (token.expires_at is None or token.expires_at - clock() > REFRESH_MARGIN)
        ):
            return AccessToken(token.value, token.expires_at, fresh=False)
        refresh = refresh or token is not None  # the one in memory is about to expire
        if profile.auth == "oauth2-app":
            token = _ms_app_token(profile, live, refresh, clock)
        elif profile.provider == "google":
            token = _google_token(profile, live, clock)
        else:
            token = _ms_user_token(profile, live, refresh, clock)
        live.token = token
        return token


# -- Microsoft (msal) -------------------------------------------------------------------------


def _ms_authority(profile: Profile) -> str:
    if profile.authority:
        return profile.authority.rstrip("/")
    return f"{MS_LOGIN}/{profile.tenant or 'organizations'}"


def _ms_app_kwargs(profile: Profile) -> dict[str, Any]:
    # a user-supplied authority is not asked about at Microsoft's instance discovery
    return {
        "authority": _ms_authority(profile),
        "instance_discovery": False if profile.authority else None,
    }


def _ms_public(profile: Profile, live: _Live) -> Any:
    import msal

    if live.client is None:
        cache = msal.SerializableTokenCache()
        state = _load_state(profile)
        if state and state.get("provider") == "microsoft":
            cache.deserialize(state["msal_cache"])
        try:
            live.client = msal.PublicClientApplication(
                profile.client_id, token_cache=cache, **_ms_app_kwargs(profile)
            )
        except Exception as exc:
            raise _transport_problem(profile, exc) from None
        live.cache = cache
    return live.client


def _ms_save(profile: Profile, live: _Live, obtained_at: float | None = None) -> None:
    """Store msal's cache without its access and ID tokens (small; a token lives in memory)."""
    if not live.cache.has_state_changed and obtained_at is None:
        return
    data = json.loads(live.cache.serialize())
    data.pop("AccessToken", None)
    data.pop("IdToken", None)
    previous = _load_state(profile) or {}
    _save_state(
        profile,
        {
            "provider": "microsoft",
            "msal_cache": json.dumps(data, separators=(",", ":")),
            "obtained_at": obtained_at or previous.get("obtained_at", time.time()),
        },
    )
    live.cache.has_state_changed = False


def _ms_result(
    profile: Profile, result: dict[str, Any] | None, clock: Callable[[], float]
) -> AccessToken:
    if not result:
        raise _problem("not_signed_in", profile)
    if "access_token" not in result:
        raise _oauth_problem(profile, result)
    expires_in = float(result.get("expires_in") or 3600)
    return AccessToken(str(result["access_token"]), clock() + expires_in, fresh=True)


def _ms_user_token(
    profile: Profile, live: _Live, refresh: bool, clock: Callable[[], float]
) -> AccessToken:
    app = _ms_public(profile, live)
    accounts = app.get_accounts(username=profile.username) or app.get_accounts()
    if not accounts:
        raise _problem("not_signed_in", profile)
    try:
        result = app.acquire_token_silent_with_error(
            list(MS_DELEGATED_SCOPES), accounts[0], force_refresh=refresh
        )
    except Exception as exc:
        raise _transport_problem(profile, exc) from None
    token = _ms_result(profile, result, clock)
    if result and result.get("token_source") == "cache":
        token = AccessToken(token.value, token.expires_at, fresh=False)
    _ms_save(profile, live)
    return token


def _client_credential(profile: Profile) -> Any:
    if profile.certificate:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        try:
            pem = Path(profile.certificate).expanduser().read_bytes()
            key = serialization.load_pem_private_key(pem, password=None)
            cert = x509.load_pem_x509_certificate(pem)
        except (OSError, ValueError, TypeError) as exc:
            raise _problem("bad_certificate", profile, _short(exc)) from None
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return {
            "private_key": key_pem,
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - x5t header
        }
    secret = _client_secret(profile)
    if not secret:
        raise _problem("no_client_secret", profile)
    return secret


def _ms_app_token(
    profile: Profile, live: _Live, refresh: bool, clock: Callable[[], float]
) -> AccessToken:
    import msal

    if live.client is None or refresh:
        credential = _client_credential(profile)
        try:
            live.client = msal.ConfidentialClientApplication(
                profile.client_id,
                client_credential=credential,
                token_cache=msal.TokenCache(),
                **_ms_app_kwargs(profile),
            )
        except Exception as exc:
            raise _transport_problem(profile, exc) from None
    try:
        result = live.client.acquire_token_for_client(scopes=list(MS_APP_SCOPES))
    except Exception as exc:
        raise _transport_problem(profile, exc) from None
    return _ms_result(profile, result, clock)


# -- Google (google-auth, google-auth-oauthlib) -----------------------------------------------


def _google_token(profile: Profile, live: _Live, clock: Callable[[], float]) -> AccessToken:
    import google.auth.exceptions
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    state = _load_state(profile)
    if not state or state.get("provider") != "google":
        raise _problem("not_signed_in", profile)
    info = state["authorized_user"]
    # built directly: from_authorized_user_info() would replace the client file's token URI
    credentials = Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=info.get("refresh_token"),
        token_uri=info.get("token_uri"),
        client_id=info.get("client_id"),
        client_secret=info.get("client_secret"),
        scopes=list(GOOGLE_SCOPES),
    )
    try:
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.RefreshError as exc:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        if data.get("error") == "invalid_grant":
            age = (clock() - float(state.get("obtained_at", clock()))) / 86400
            if age >= GOOGLE_TESTING_DAYS - 0.5:
                raise _problem(
                    "google_testing_app", profile, _detail(data), days=round(age)
                ) from None
        if data:
            raise _oauth_problem(profile, data) from None
        raise _transport_problem(profile, exc) from None
    except google.auth.exceptions.TransportError as exc:
        raise _transport_problem(profile, exc.__cause__ or exc) from None
    if credentials.refresh_token != state["authorized_user"].get("refresh_token"):
        state["authorized_user"]["refresh_token"] = credentials.refresh_token
        _save_state(profile, state)
    expires_at = credentials.expiry.timestamp() if credentials.expiry else None
    if credentials.expiry is not None:
        # google-auth keeps expiry as naive UTC
        from datetime import UTC

        expires_at = credentials.expiry.replace(tzinfo=UTC).timestamp()
    return AccessToken(str(credentials.token), expires_at, fresh=True)


# -- token command ----------------------------------------------------------------------------


def _run_token_command(profile: Profile, clock: Callable[[], float]) -> AccessToken:
    """Run the profile's command; its standard output is the token (or JSON holding it)."""
    try:
        done = subprocess.run(  # noqa: S602
            profile.token_command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=TOKEN_COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _problem(
            "token_command_failed", profile, f"no answer within {TOKEN_COMMAND_TIMEOUT:g} s"
        ) from None
    except OSError as exc:
        raise _problem("token_command_failed", profile, _short(exc)) from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        said = f": {lines[-1][:200]}" if lines else ""
        raise _problem("token_command_failed", profile, f"exit status {done.returncode}{said}")
    output = done.stdout.strip()
    expires_at: float | None = None
    if output.startswith("{"):
        try:
            data = json.loads(output)
        except ValueError:
            data = {}
        output = str(data.get("accessToken") or data.get("access_token") or "")
        if data.get("expires_on"):
            expires_at = float(data["expires_on"])
        elif data.get("expires_in"):
            expires_at = clock() + float(data["expires_in"])
    token = output.splitlines()[0].strip() if output else ""
    if not token:
        raise _problem("token_command_empty", profile)
    return AccessToken(token, expires_at, fresh=True)


# -- signing in and out -----------------------------------------------------------------------


def sign_in(
    profile: Profile,
    *,
    show: Callable[[str], None] = print,
    open_browser: Callable[[str], object] | None = None,
    timeout: float = 900.0,
    clock: Callable[[], float] = time.time,
) -> str:
    """Sign ``profile`` in interactively and keep the sign-in; returns what to tell the user.

    Microsoft: a device code — ``show`` gets the link and the code, then this waits until the
    user has signed in in any browser. Google: a browser opens Google's sign-in (``show`` gets
    the link too) and this waits for its redirect to a loopback address. ``oauth2-app`` and
    ``token-command`` need no sign-in: their token is fetched once as a check.
    """
    if profile.auth in ("oauth2-app", "token-command"):
        with _LOCK:
            _LIVE.pop(_key(profile), None)
        access_token(profile, refresh=True, clock=clock)
        return f"Profile {profile.name!r} got an access token ({profile.auth}); no sign-in needed."
    if profile.auth != "oauth2":
        raise _problem(
            "signin_failed", profile, "this profile signs in with a password, not OAuth 2.0"
        )
    with _LOCK:
        _LIVE.pop(_key(profile), None)
        live = _LIVE.setdefault(_key(profile), _Live())
        if profile.provider == "google":
            live.token = _google_sign_in(profile, show, open_browser, timeout, clock)
        else:
            live.token = _ms_sign_in(profile, live, show, timeout, clock)
    return (
        f"Signed in to {provider_label(profile)} as {profile.username} (profile {profile.name!r})."
    )


def _ms_sign_in(
    profile: Profile,
    live: _Live,
    show: Callable[[str], None],
    timeout: float,
    clock: Callable[[], float],
) -> AccessToken:
    import msal

    live.client, live.cache = None, None
    # a fresh cache: signing in replaces what was stored
    cache = msal.SerializableTokenCache()
    try:
        app = msal.PublicClientApplication(
            profile.client_id, token_cache=cache, **_ms_app_kwargs(profile)
        )
        flow = app.initiate_device_flow(scopes=list(MS_DELEGATED_SCOPES))
    except Exception as exc:
        raise _transport_problem(profile, exc) from None
    if "user_code" not in flow:
        raise _oauth_problem(profile, flow)
    show(
        f"To sign in, open {flow['verification_uri']} in a browser and enter the code "
        f"{flow['user_code']}"
    )
    deadline = clock() + timeout
    try:
        result = app.acquire_token_by_device_flow(
            flow,
            exit_condition=lambda f: f.get("expires_at", 0) < time.time() or clock() > deadline,
        )
    except Exception as exc:
        raise _transport_problem(profile, exc) from None
    if "access_token" not in result and result.get("error") == "authorization_pending":
        raise _problem("signin_timeout", profile, "the device code expired")
    token = _ms_result(profile, result, clock)
    live.client, live.cache = app, cache
    _ms_save(profile, live, obtained_at=clock())
    return token


class _Opener(webbrowser.BaseBrowser):
    """Shows the sign-in link, then opens it (in the user's browser, or ``open_browser``)."""

    def __init__(self, show: Callable[[str], None], opener: Callable[[str], object] | None):
        super().__init__("docmail-sign-in")
        self._show = show
        self._opener = opener
        self._browser: webbrowser.BaseBrowser | None = None
        if opener is None:
            try:  # the user's browser, looked up before this one is registered
                found = webbrowser.get()
                # a sign-in earlier in this process registered one of these: use its browser
                self._browser = found._browser if isinstance(found, _Opener) else found
            except webbrowser.Error:
                self._browser = None  # none here (a server): the link is shown

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        self._show(f"Sign in to Google in the browser that opens now, or open: {url}")
        try:
            if self._opener is not None:
                self._opener(url)
            elif self._browser is not None:
                self._browser.open(url, new=1)
        except Exception as exc:  # no browser here: the link was shown
            _log.debug("could not open a browser: %s", type(exc).__name__)
        return True


def _google_sign_in(
    profile: Profile,
    show: Callable[[str], None],
    open_browser: Callable[[str], object] | None,
    timeout: float,
    clock: Callable[[], float],
) -> AccessToken:
    from google_auth_oauthlib.flow import InstalledAppFlow

    try:
        flow = InstalledAppFlow.from_client_secrets_file(
            str(Path(profile.client_secrets).expanduser()), scopes=list(GOOGLE_SCOPES)
        )
    except (OSError, ValueError, KeyError) as exc:
        raise _problem("bad_client_secrets_file", profile, _short(exc)) from None
    browser = "docmail-sign-in"
    webbrowser.register(browser, None, _Opener(show, open_browser))
    try:
        credentials = flow.run_local_server(
            host="localhost",
            bind_addr="127.0.0.1",
            port=0,
            browser=browser,
            authorization_prompt_message="",
            success_message="Signed in: docmail can send mail now. You may close this window.",
            timeout_seconds=timeout,
            login_hint=profile.username,
            prompt="consent",
        )
    except Exception as exc:
        response = getattr(exc, "response", None)
        data = _json_of(response)
        if data:
            raise _oauth_problem(profile, data) from None
        if type(exc).__name__ == "WSGITimeoutError":
            raise _problem("signin_timeout", profile, "no answer from the browser") from None
        if "access_denied" in str(exc) or ("(" in str(exc) and "error" in str(exc).lower()):
            raise _problem("signin_failed", profile, _short(exc)) from None
        raise _transport_problem(profile, exc) from None
    info = json.loads(credentials.to_json(strip=["token", "expiry"]))
    if not info.get("refresh_token"):
        raise _problem("signin_failed", profile, "Google gave no refresh token")
    _save_state(profile, {"provider": "google", "authorized_user": info, "obtained_at": clock()})
    from datetime import UTC

    expires_at = credentials.expiry.replace(tzinfo=UTC).timestamp() if credentials.expiry else None
    return AccessToken(str(credentials.token), expires_at, fresh=True)


def _json_of(response: Any) -> dict[str, Any]:
    try:
        data = response.json() if response is not None else {}
    except Exception:
        return {}
    return data if isinstance(data, dict) else {}


def sign_out(profile: Profile) -> bool:
    """Forget the sign-in of ``profile`` on this computer; whether there was one."""
    return forget_tokens(profile)
