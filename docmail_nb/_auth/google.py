"""Google: a user's sign-in in the browser (installed-app flow) and its refreshed tokens."""

from __future__ import annotations

import json
import logging
import webbrowser
from collections.abc import Callable
from pathlib import Path

from docmail_nb._auth.tokens import (
    AccessToken,
    LiveSignIn,
    error_detail,
    json_of,
    load_state,
    oauth_problem,
    save_state,
    shortened,
    sign_in_trouble,
    transport_problem,
)
from docmail_nb._store.profiles import Profile

__all__ = ["GOOGLE_SCOPES", "GOOGLE_TESTING_DAYS", "google_sign_in", "google_token"]

_log = logging.getLogger("docmail_nb._auth.google")

GOOGLE_SCOPES = ("https://mail.google.com/",)

#: Google deletes the refresh tokens of an app in "Testing" after this many days
GOOGLE_TESTING_DAYS = 7


def google_token(profile: Profile, live: LiveSignIn, clock: Callable[[], float]) -> AccessToken:
    import google.auth.exceptions
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    state = load_state(profile)
    if not state or state.get("provider") != "google":
        raise sign_in_trouble("not_signed_in", profile)
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
                raise sign_in_trouble(
                    "google_testing_app", profile, error_detail(data), days=round(age)
                ) from None
        if data:
            raise oauth_problem(profile, data) from None
        raise transport_problem(profile, exc) from None
    except google.auth.exceptions.TransportError as exc:
        raise transport_problem(profile, exc.__cause__ or exc) from None
    if credentials.refresh_token != state["authorized_user"].get("refresh_token"):
        state["authorized_user"]["refresh_token"] = credentials.refresh_token
        save_state(profile, state)
    expires_at = credentials.expiry.timestamp() if credentials.expiry else None
    if credentials.expiry is not None:
        # google-auth keeps expiry as naive UTC
        from datetime import UTC

        expires_at = credentials.expiry.replace(tzinfo=UTC).timestamp()
    return AccessToken(str(credentials.token), expires_at, fresh=True)


class _BrowserOpener(webbrowser.BaseBrowser):
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
                self._browser = found._browser if isinstance(found, _BrowserOpener) else found
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


def google_sign_in(
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
        raise sign_in_trouble("bad_client_secrets_file", profile, shortened(exc)) from None
    browser = "docmail-sign-in"
    webbrowser.register(browser, None, _BrowserOpener(show, open_browser))
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
        data = json_of(response)
        if data:
            raise oauth_problem(profile, data) from None
        if type(exc).__name__ == "WSGITimeoutError":
            raise sign_in_trouble("signin_timeout", profile, "no answer from the browser") from None
        if "access_denied" in str(exc) or ("(" in str(exc) and "error" in str(exc).lower()):
            raise sign_in_trouble("signin_failed", profile, shortened(exc)) from None
        raise transport_problem(profile, exc) from None
    info = json.loads(credentials.to_json(strip=["token", "expiry"]))
    if not info.get("refresh_token"):
        raise sign_in_trouble("signin_failed", profile, "Google gave no refresh token")
    save_state(profile, {"provider": "google", "authorized_user": info, "obtained_at": clock()})
    from datetime import UTC

    expires_at = credentials.expiry.replace(tzinfo=UTC).timestamp() if credentials.expiry else None
    return AccessToken(str(credentials.token), expires_at, fresh=True)
