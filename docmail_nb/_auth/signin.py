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

import os
import time
from collections.abc import Callable

from docmail_nb._auth.google import (
    google_sign_in,
    google_token,
)
from docmail_nb._auth.microsoft import (
    app_token,
    sign_in_user,
    user_token,
)
from docmail_nb._auth.problems import provider_label
from docmail_nb._auth.token_command import run_token_command
from docmail_nb._auth.tokens import (
    CLIENT_SECRET_ENV,
    LIVE,
    LIVE_LOCK,
    REFRESH_MARGIN,
    AccessToken,
    LiveSignIn,
    client_secret,
    forget_tokens,
    sign_in_trouble,
    signed_in,
)
from docmail_nb._store.profiles import Profile

__all__ = ["access_token", "auth_status", "sign_in", "sign_out"]


# -- diagnoses (worded in diagnosis.SIGN_IN_PROBLEMS) ----------------------------------------


# -- where tokens are kept ---------------------------------------------------------------


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
        found = "in keyring" if client_secret(profile) else "missing"
        return f"Microsoft app-only, client secret {found}"
    if profile.auth == "token-command":
        return f"token command: {profile.token_command}"
    return "password"


# -- live tokens (in memory, per process) ----------------------------------------------------


def _live_key(profile: Profile) -> tuple[str, ...]:
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
        return run_token_command(profile, clock)
    if profile.auth not in ("oauth2", "oauth2-app"):
        raise ValueError(f"profile {profile.name!r} signs in with a password")
    with LIVE_LOCK:
        live = LIVE.setdefault(_live_key(profile), LiveSignIn())
        token = live.token
        if (
            not refresh
            and token is not None
            and (token.expires_at is None or token.expires_at - clock() > REFRESH_MARGIN)
        ):
            return AccessToken(token.value, token.expires_at, fresh=False)
        refresh = refresh or token is not None  # the one in memory is about to expire
        if profile.auth == "oauth2-app":
            token = app_token(profile, live, refresh, clock)
        elif profile.provider == "google":
            token = google_token(profile, live, clock)
        else:
            token = user_token(profile, live, refresh, clock)
        live.token = token
        return token


# -- Microsoft (msal) -------------------------------------------------------------------------


# -- Google (google-auth, google-auth-oauthlib) -----------------------------------------------


# -- token command ----------------------------------------------------------------------------


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
        with LIVE_LOCK:
            LIVE.pop(_live_key(profile), None)
        access_token(profile, refresh=True, clock=clock)
        return f"Profile {profile.name!r} got an access token ({profile.auth}); no sign-in needed."
    if profile.auth != "oauth2":
        raise sign_in_trouble(
            "signin_failed", profile, "this profile signs in with a password, not OAuth 2.0"
        )
    with LIVE_LOCK:
        LIVE.pop(_live_key(profile), None)
        live = LIVE.setdefault(_live_key(profile), LiveSignIn())
        if profile.provider == "google":
            live.token = google_sign_in(profile, show, open_browser, timeout, clock)
        else:
            live.token = sign_in_user(profile, live, show, timeout, clock)
    return (
        f"Signed in to {provider_label(profile)} as {profile.username} (profile {profile.name!r})."
    )


def sign_out(profile: Profile) -> bool:
    """Forget the sign-in of ``profile`` on this computer; whether there was one."""
    return forget_tokens(profile)
