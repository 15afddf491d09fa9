"""Microsoft 365: a user's sign-in (device code) and an app's own credentials, through msal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docmail_nb._auth.tokens import (
    AccessToken,
    LiveSignIn,
    client_secret,
    load_state,
    oauth_problem,
    save_state,
    shortened,
    sign_in_trouble,
    transport_problem,
)
from docmail_nb._store.profiles import Profile

__all__ = [
    "MS_APP_SCOPES",
    "MS_DELEGATED_SCOPES",
    "MS_LOGIN",
    "app_token",
    "authority",
    "sign_in_user",
    "user_token",
]


#: Microsoft delegated scope; msal adds ``offline_access`` (and ``openid profile``) itself
MS_DELEGATED_SCOPES = ("https://outlook.office.com/SMTP.Send",)

MS_APP_SCOPES = ("https://outlook.office365.com/.default",)

MS_LOGIN = "https://login.microsoftonline.com"


def authority(profile: Profile) -> str:
    if profile.authority:
        return profile.authority.rstrip("/")
    return f"{MS_LOGIN}/{profile.tenant or 'organizations'}"


def _app_kwargs(profile: Profile) -> dict[str, Any]:
    # a user-supplied authority is not asked about at Microsoft's instance discovery
    return {
        "authority": authority(profile),
        "instance_discovery": False if profile.authority else None,
    }


def _public_app(profile: Profile, live: LiveSignIn) -> Any:
    import msal

    if live.client is None:
        cache = msal.SerializableTokenCache()
        state = load_state(profile)
        if state and state.get("provider") == "microsoft":
            cache.deserialize(state["msal_cache"])
        try:
            live.client = msal.PublicClientApplication(
                profile.client_id, token_cache=cache, **_app_kwargs(profile)
            )
        except Exception as exc:
            raise transport_problem(profile, exc) from None
        live.cache = cache
    return live.client


def _save_cache(profile: Profile, live: LiveSignIn, obtained_at: float | None = None) -> None:
    """Store msal's cache without its access and ID tokens (small; a token lives in memory)."""
    if not live.cache.has_state_changed and obtained_at is None:
        return
    data = json.loads(live.cache.serialize())
    data.pop("AccessToken", None)
    data.pop("IdToken", None)
    previous = load_state(profile) or {}
    save_state(
        profile,
        {
            "provider": "microsoft",
            "msal_cache": json.dumps(data, separators=(",", ":")),
            "obtained_at": obtained_at or previous.get("obtained_at", time.time()),
        },
    )
    live.cache.has_state_changed = False


def _token_from_result(
    profile: Profile, result: dict[str, Any] | None, clock: Callable[[], float]
) -> AccessToken:
    if not result:
        raise sign_in_trouble("not_signed_in", profile)
    if "access_token" not in result:
        raise oauth_problem(profile, result)
    expires_in = float(result.get("expires_in") or 3600)
    return AccessToken(str(result["access_token"]), clock() + expires_in, fresh=True)


def user_token(
    profile: Profile, live: LiveSignIn, refresh: bool, clock: Callable[[], float]
) -> AccessToken:
    app = _public_app(profile, live)
    accounts = app.get_accounts(username=profile.username) or app.get_accounts()
    if not accounts:
        raise sign_in_trouble("not_signed_in", profile)
    try:
        result = app.acquire_token_silent_with_error(
            list(MS_DELEGATED_SCOPES), accounts[0], force_refresh=refresh
        )
    except Exception as exc:
        raise transport_problem(profile, exc) from None
    token = _token_from_result(profile, result, clock)
    if result and result.get("token_source") == "cache":
        token = AccessToken(token.value, token.expires_at, fresh=False)
    _save_cache(profile, live)
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
            raise sign_in_trouble("bad_certificate", profile, shortened(exc)) from None
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        return {
            "private_key": key_pem,
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - x5t header
        }
    secret = client_secret(profile)
    if not secret:
        raise sign_in_trouble("no_client_secret", profile)
    return secret


def app_token(
    profile: Profile, live: LiveSignIn, refresh: bool, clock: Callable[[], float]
) -> AccessToken:
    import msal

    if live.client is None or refresh:
        credential = _client_credential(profile)
        try:
            live.client = msal.ConfidentialClientApplication(
                profile.client_id,
                client_credential=credential,
                token_cache=msal.TokenCache(),
                **_app_kwargs(profile),
            )
        except Exception as exc:
            raise transport_problem(profile, exc) from None
    try:
        result = live.client.acquire_token_for_client(scopes=list(MS_APP_SCOPES))
    except Exception as exc:
        raise transport_problem(profile, exc) from None
    return _token_from_result(profile, result, clock)


def sign_in_user(
    profile: Profile,
    live: LiveSignIn,
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
            profile.client_id, token_cache=cache, **_app_kwargs(profile)
        )
        flow = app.initiate_device_flow(scopes=list(MS_DELEGATED_SCOPES))
    except Exception as exc:
        raise transport_problem(profile, exc) from None
    if "user_code" not in flow:
        raise oauth_problem(profile, flow)
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
        raise transport_problem(profile, exc) from None
    if "access_token" not in result and result.get("error") == "authorization_pending":
        raise sign_in_trouble("signin_timeout", profile, "the device code expired")
    token = _token_from_result(profile, result, clock)
    live.client, live.cache = app, cache
    _save_cache(profile, live, obtained_at=clock())
    return token
