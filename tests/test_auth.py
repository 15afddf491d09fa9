"""OAuth 2.0 sign-in against the local identity server, XOAUTH2 against a real aiosmtpd server.

msal and google-auth talk unmodified to ``tests/identity.py`` over HTTPS (trusted through
REQUESTS_CA_BUNDLE); the SMTP server accepts only access tokens that server issued.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from conftest import MemoryKeyring
from identity import IdentityServer
from servers import SMTPTestServer
from signin import TEMPLATE, USER, app_profile, issued_secrets, ms_profile, oauth_server

from docmail_nb._auth import signin as auth
from docmail_nb._auth import tokens
from docmail_nb._compose.plan import make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._mail.smtp import connect, test_connection
from docmail_nb._run.send import SendOptions, send_plan
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store.profiles import Profile, save_profile
from docmail_nb._store.secrets import get_secret
from docmail_nb.errors import SignInProblem


def make_batch(folder: Path, count: int) -> Any:
    path = folder / "orders.csv"
    lines = ["no,name,email"] + [f"R-{i},Kunde {i},k{i}@example.org" for i in range(1, count + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return make_plan(read_orders(path), parse_template(TEMPLATE, "invoice"))


@pytest.fixture
def oauth_smtp(
    identity: IdentityServer, smtp_server: Callable[..., SMTPTestServer]
) -> Callable[..., SMTPTestServer]:
    """An SMTP server offering only XOAUTH2, trusting ``identity``'s tokens."""

    def start(mode: str = "starttls", **kwargs: Any) -> SMTPTestServer:
        return oauth_server(smtp_server, identity, mode, **kwargs)

    return start


@dataclass(frozen=True)
class SignInSetup:
    """What a sign-in test needs: the identity server, an SMTP server that takes its tokens,
    the CA file both are trusted with, and the in-memory keyring the tokens are kept in."""

    identity: IdentityServer
    smtp: Callable[..., SMTPTestServer]
    ca_file: Path
    keyring: Any


@pytest.fixture
def oauth(
    identity: IdentityServer,
    oauth_smtp: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: Any,
) -> SignInSetup:
    """The four fixtures every sign-in test takes, as one."""
    return SignInSetup(identity, oauth_smtp, ca_file, memory_keyring)


def secrets_in_files(folder: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s[:6]}…" for s in secrets if s and s.encode() in data]
    return found


# -- Microsoft 365, delegated (device code) ---------------------------------------------------


def test_device_code_sign_in_then_test_and_send(
    oauth: SignInSetup,
    tmp_path: Path,
    docmail_home: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    server = oauth_smtp()
    profile = ms_profile(identity, server, ca_file)
    save_profile(profile)
    shown: list[str] = []

    said = auth.sign_in(profile, show=shown.append)

    assert "Signed in to Microsoft as anna@example.ch" in said
    assert identity.base_url + "/devicelogin" in shown[0]
    assert list(identity.state.approved) == []
    assert len(shown) == 1
    # the token endpoint answered authorization_pending before the sign-in completed
    assert identity.grants("urn:ietf:params:oauth:grant-type:device_code") == 2
    scope = next(iter(identity.state.access_tokens.values())).scope
    assert scope == "https://outlook.office.com/SMTP.Send"
    stored = json.loads(get_secret("office", "tokens") or "{}")
    assert stored["provider"] == "microsoft"
    assert "RefreshToken" in stored["msal_cache"]
    assert "AccessToken" not in json.loads(stored["msal_cache"])

    result = test_connection(profile)
    assert result.ok, result
    assert "(oauth2)" in result.summary
    assert result.hint == ""  # no password notice for a signed-in profile

    report = send_plan(make_batch(tmp_path, 3), profile, ledger=tmp_path / "ledger.sqlite")
    assert report.ok, report.summary()
    assert len(server.messages) == 3
    assert server.record.auth_attempts == [("XOAUTH2", USER)] * 2  # test + one batch connection
    assert secrets_in_files(tmp_path, issued_secrets(identity)) == []


def test_access_token_is_refreshed_before_it_expires(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)
    auth.sign_in(profile, show=lambda _: None)
    now = [time.time()]
    first = auth.access_token(profile, clock=lambda: now[0])
    assert not first.fresh  # the token of the sign-in, from memory
    refreshes = identity.grants("refresh_token")
    assert first.expires_at is not None

    now[0] = first.expires_at - auth.REFRESH_MARGIN - 10  # still comfortably valid
    assert auth.access_token(profile, clock=lambda: now[0]).value == first.value
    now[0] = first.expires_at - auth.REFRESH_MARGIN + 10  # about to expire
    second = auth.access_token(profile, clock=lambda: now[0])

    assert second.value != first.value
    assert second.fresh
    assert identity.grants("refresh_token") == refreshes + 1


def test_token_expiring_in_the_middle_of_a_batch_is_refreshed_once_and_the_batch_goes_on(
    oauth: SignInSetup,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    expired = threading.Event()

    def expire_after_two(index: int, envelope: Any) -> str | None:
        if index == 2 and not expired.is_set():
            expired.set()  # the token runs out, the server drops the session
            identity.expire_access_tokens()
            return "421 4.4.2 Session expired, please reconnect"
        return None

    server = oauth_smtp(data_hook=expire_after_two)
    profile = ms_profile(identity, server, ca_file)
    auth.sign_in(profile, show=lambda _: None)
    refreshes = identity.grants("refresh_token")

    report = send_plan(
        make_batch(tmp_path, 5),
        profile,
        ledger=tmp_path / "ledger.sqlite",
        options=SendOptions(retry_delay=0.0),
        sleep=lambda _s: None,
    )

    assert report.ok, report.summary()
    assert len(server.messages) == 5
    assert identity.grants("refresh_token") == refreshes + 1
    # the expired token was refused once, then the new one accepted
    tokens = server.record.tokens
    assert len(tokens) == 3
    assert tokens[1] == tokens[0]
    assert tokens[2] != tokens[1]


def test_a_refused_fresh_token_costs_exactly_one_auth_attempt_and_the_json_is_diagnosed(
    oauth: SignInSetup,
) -> None:
    oauth_smtp, ca_file = oauth.smtp, oauth.ca_file
    server = oauth_smtp()
    profile = Profile(
        "tokens",
        host="127.0.0.1",
        port=server.port,
        username=USER,
        ca_file=str(ca_file),
        auth="token-command",
        token_command=f"{sys.executable} -c \"print('not-a-token-from-that-server')\"",
    )

    result = test_connection(profile)

    assert not result.ok
    assert result.kind == "token_refused"
    assert result.code == 535
    assert '"scope": "https://mail.google.com/"' in result.summary
    assert '"status": "401"' in result.reply
    assert server.record.auth_attempts == [("XOAUTH2", USER)]
    assert "not-a-token" not in result.summary + result.hint + result.reply


def test_silent_sign_in_needs_a_stored_sign_in(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    server = oauth_smtp()
    profile = ms_profile(identity, server, ca_file)

    result = test_connection(profile)

    assert result.kind == "not_signed_in"
    assert "docmail login office" in result.hint
    assert server.record.auth_attempts == []


def test_logout_forgets_the_tokens(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file, memory_keyring = (
        oauth.identity,
        oauth.smtp,
        oauth.ca_file,
        oauth.keyring,
    )
    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)
    auth.sign_in(profile, show=lambda _: None)
    assert tokens.signed_in(profile)

    assert auth.sign_out(profile) is True
    assert not tokens.signed_in(profile)
    assert memory_keyring.store == {}
    assert test_connection(profile).kind == "not_signed_in"
    assert auth.sign_out(profile) is False


# -- diagnoses from the identity side ---------------------------------------------------------


def test_revoked_refresh_token_says_login_again(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)
    auth.sign_in(profile, show=lambda _: None)
    tokens.LIVE.clear()  # a later process: only the keyring is left
    identity.revoke()

    result = test_connection(profile)

    assert result.kind == "signin_expired"
    assert "invalid_grant" in result.summary
    assert "AADSTS700082" in result.summary
    assert result.hint == "Sign in again with: docmail login office"


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        (
            {
                "error": "invalid_grant",
                "error_description": "AADSTS65001: The user or administrator has not consented "
                "to use the application.",
                "error_codes": [65001],
            },
            "admin_consent_required",
            "admin consent",
        ),
        (
            {"error": "invalid_grant", "error_description": "AADSTS50173: grant revoked"},
            "signin_expired",
            "docmail login office",
        ),
    ],
)
def test_device_code_errors_are_diagnosed(
    oauth: SignInSetup,
    error: dict[str, Any],
    kind: str,
    words: str,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    identity.state.pending_polls = 0
    identity.state.fail_next["urn:ietf:params:oauth:grant-type:device_code"] = error
    profile = ms_profile(identity, oauth_smtp(), ca_file)

    with pytest.raises(SignInProblem) as caught:
        auth.sign_in(profile, show=lambda _: None)

    assert caught.value.diagnosis.kind == kind
    assert words in caught.value.diagnosis.hint
    assert get_secret("office", "tokens") is None


def test_unknown_tenant_and_unknown_client(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    server = oauth_smtp()
    nowhere = ms_profile(identity, server, ca_file, authority=identity.authority("fabrikam"))
    stranger = ms_profile(identity, server, ca_file, client_id="not-registered")

    with pytest.raises(SignInProblem) as tenant:
        auth.sign_in(nowhere, show=lambda _: None)
    with pytest.raises(SignInProblem) as client:
        auth.sign_in(stranger, show=lambda _: None)

    assert tenant.value.diagnosis.kind == "unknown_tenant"
    assert "AADSTS90002" in tenant.value.diagnosis.summary
    assert "--tenant" in tenant.value.diagnosis.hint
    assert client.value.diagnosis.kind == "unknown_client"
    assert "AADSTS700016" in client.value.diagnosis.summary
    assert "--client-id" in client.value.diagnosis.hint


def test_untrusted_identity_server_is_named(
    oauth: SignInSetup,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)

    with pytest.raises(SignInProblem) as caught:
        auth.sign_in(profile, show=lambda _: None)

    assert caught.value.diagnosis.kind == "identity_untrusted"
    assert "REQUESTS_CA_BUNDLE" in caught.value.diagnosis.hint


# -- diagnoses from the SMTP side -------------------------------------------------------------


def test_smtp_auth_disabled_for_the_mailbox(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    server = oauth_smtp(
        token_reply="535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
        "disabled for the Mailbox."
    )
    profile = ms_profile(identity, server, ca_file)
    auth.sign_in(profile, show=lambda _: None)

    result = test_connection(profile)

    assert result.kind == "smtp_auth_disabled"
    assert "Set-CASMailbox -Identity anna@example.ch" in result.hint
    assert len(server.record.auth_attempts) == 1  # not about the token: no second attempt


def test_password_profile_told_basic_auth_is_gone_gets_the_switch_command(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: Any
) -> None:
    server = smtp_server(
        auth_reply="550 5.7.30 Basic authentication is not supported for Client Submission"
    )
    profile = Profile(
        "office",
        host="127.0.0.1",
        port=server.port,
        username=USER,
        ca_file=str(ca_file),
        preset="microsoft365",
    )

    result = test_connection(profile, password="secret")

    assert result.kind == "basic_auth_unsupported"
    assert (
        "docmail profile add office --preset microsoft365 --username anna@example.ch "
        "--auth oauth2 --client-id CLIENT_ID" in result.hint
    )
    assert "docmail login office" in result.hint


def test_microsoft_365_password_profile_gets_the_notice(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path
) -> None:
    server = smtp_server(users={USER: "pw"})
    profile = Profile(
        "office",
        host="127.0.0.1",
        port=server.port,
        username=USER,
        ca_file=str(ca_file),
        preset="microsoft365",
    )
    other = Profile(
        "hoster", host="127.0.0.1", port=server.port, username=USER, ca_file=str(ca_file)
    )

    result = test_connection(profile, password="pw")

    assert result.ok
    assert "end of December 2026" in result.hint
    assert "--auth oauth2" in result.hint
    assert test_connection(other, password="pw").hint == ""


# -- app-only (client credentials) ------------------------------------------------------------


def test_app_only_with_a_client_secret_from_keyring_or_environment(
    oauth: SignInSetup,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-only", secret="s3cr3t-value", public=False, mailboxes=(USER,))
    server = oauth_smtp()
    profile = app_profile(identity, server, ca_file)

    assert test_connection(profile).kind == "no_client_secret"
    monkeypatch.setenv(tokens.CLIENT_SECRET_ENV, "s3cr3t-value")
    assert test_connection(profile).ok
    monkeypatch.delenv(tokens.CLIENT_SECRET_ENV)
    tokens.LIVE.clear()
    tokens.set_client_secret(profile, "s3cr3t-value")
    report = send_plan(make_batch(tmp_path, 2), profile, ledger=tmp_path / "l.sqlite")

    assert report.ok, report.summary()
    assert len(server.messages) == 2
    assert identity.grants("client_credentials") == 2
    scope = next(iter(identity.state.access_tokens.values())).scope
    assert scope == "https://outlook.office365.com/.default"


def test_app_only_wrong_secret_and_missing_mailbox_permission(
    oauth: SignInSetup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-only", secret="right", public=False, mailboxes=())
    permission = oauth_smtp(token_reply="535 5.7.3 Authentication unsuccessful")
    profile = app_profile(identity, permission, ca_file)

    monkeypatch.setenv(tokens.CLIENT_SECRET_ENV, "wrong")
    wrong = test_connection(profile)
    monkeypatch.setenv(tokens.CLIENT_SECRET_ENV, "right")
    tokens.LIVE.clear()
    missing = test_connection(profile)

    assert wrong.kind == "bad_client_secret"
    assert "AADSTS7000215" in wrong.summary
    assert "wrong" not in wrong.summary + wrong.hint
    assert missing.kind == "app_permission_missing"
    assert "New-ServicePrincipal -AppId app-only" in missing.hint
    assert "Add-MailboxPermission -Identity anna@example.ch" in missing.hint


def test_app_only_with_a_certificate(
    oauth: SignInSetup,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    app_cert = trustme.CA().issue_cert("docmail-app.example", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "app.pem"
    pem.write_bytes(app_cert.private_key_pem.bytes() + app_cert.cert_chain_pems[0].bytes())
    identity.add_client(
        "app-only",
        certificate_pem=app_cert.cert_chain_pems[0].bytes(),
        public=False,
        mailboxes=(USER,),
    )
    server = oauth_smtp()
    profile = app_profile(identity, server, ca_file, certificate=str(pem))

    assert test_connection(profile).ok
    assert identity.grants("client_credentials") == 1
    other = tmp_path / "other.pem"
    stranger = trustme.CA().issue_cert("x.example", key_type=trustme.KeyType.RSA)
    other.write_bytes(stranger.private_key_pem.bytes() + stranger.cert_chain_pems[0].bytes())
    tokens.LIVE.clear()
    assert test_connection(app_profile(identity, server, ca_file, certificate=str(other))).kind == (
        "bad_client_secret"
    )


# -- Google (installed-app flow with a loopback redirect) ---------------------------------------


def browser_for(ca_file: Path) -> Callable[[str], object]:
    """The user's browser: follows Google's consent redirect to the loopback address."""

    def open_url(url: str) -> object:
        def visit() -> None:
            requests.get(url, verify=str(ca_file), timeout=10)

        thread = threading.Thread(target=visit, daemon=True)
        thread.start()
        return thread

    return open_url


def google_profile(
    identity: IdentityServer, server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> Profile:
    client_file = identity.google_client_file(
        tmp_path / "client_secret.json", "google-app.apps.example", "g-client-secret"
    )
    return Profile(
        "gmail",
        host="127.0.0.1",
        port=server.port,
        security="ssl",
        username=USER,
        ca_file=str(ca_file),
        preset="google_workspace",
        auth="oauth2",
        client_secrets=str(client_file),
    )


def test_google_sign_in_test_and_send(
    oauth: SignInSetup,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    server = oauth_smtp("ssl")
    profile = google_profile(identity, server, ca_file, tmp_path)
    shown: list[str] = []

    said = auth.sign_in(profile, show=shown.append, open_browser=browser_for(ca_file))

    assert "Signed in to Google" in said
    assert f"{identity.base_url}/google/auth?" in shown[0]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in shown[0]
    stored = json.loads(get_secret("gmail", "tokens") or "{}")
    assert stored["provider"] == "google"
    assert stored["authorized_user"]["refresh_token"]
    tokens.LIVE.clear()
    assert test_connection(profile).ok
    report = send_plan(make_batch(tmp_path, 2), profile, ledger=tmp_path / "l.sqlite")
    assert report.ok
    assert len(server.messages) == 2
    assert identity.grants("refresh_token") == 1  # one refresh, then the token from memory
    scope = list(identity.state.access_tokens.values())[-1].scope
    assert scope == "https://mail.google.com/"
    assert secrets_in_files(tmp_path, issued_secrets(identity)) == []


def test_google_app_in_testing_after_seven_days(
    oauth: SignInSetup,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    profile = google_profile(identity, oauth_smtp("ssl"), ca_file, tmp_path)
    eight_days_ago = time.time() - 8 * 86400
    auth.sign_in(
        profile,
        show=lambda _: None,
        open_browser=browser_for(ca_file),
        clock=lambda: eight_days_ago,
    )
    tokens.LIVE.clear()
    identity.revoke()  # Google deletes a Testing app's refresh tokens after 7 days

    result = test_connection(profile)

    assert result.kind == "google_testing_app"
    assert "'Testing'" in result.summary
    assert "Internal" in result.hint
    assert "docmail login gmail" in result.hint


def test_google_refresh_token_revoked_within_days(
    oauth: SignInSetup,
    tmp_path: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    profile = google_profile(identity, oauth_smtp("ssl"), ca_file, tmp_path)
    auth.sign_in(profile, show=lambda _: None, open_browser=browser_for(ca_file))
    tokens.LIVE.clear()
    identity.revoke()

    result = test_connection(profile)

    assert result.kind == "signin_expired"
    assert "Token has been expired or revoked" in result.summary


# -- token command ---------------------------------------------------------------------------


def test_token_command_prints_a_token_or_json(
    identity: IdentityServer,
    oauth_smtp: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    identity.add_client("app-only", secret="x", public=False, mailboxes=(USER,))
    server = oauth_smtp()
    token = identity._httpd.issue("", "app-only", "https://outlook.office365.com/.default")
    script = tmp_path / "get_token.py"
    script.write_text(
        "import json, sys\n"
        f"token = {token['access_token']!r}\n"
        "print(json.dumps({'accessToken': token, 'expires_on': 4102444800})"
        " if sys.argv[1:] == ['json'] else token)\n",
        encoding="utf-8",
    )
    for form in ("", " json"):
        profile = Profile(
            "tokens",
            host="127.0.0.1",
            port=server.port,
            username=USER,
            ca_file=str(ca_file),
            auth="token-command",
            token_command=f"{sys.executable} {script}{form}",
        )
        assert test_connection(profile).ok
    report = send_plan(make_batch(tmp_path, 2), profile, ledger=tmp_path / "l.sqlite")
    assert report.ok
    assert len(server.messages) == 2


@pytest.mark.parametrize(
    ("command", "kind", "words"),
    [
        ("exit 3", "token_command_failed", "exit status 3"),
        (
            f"{sys.executable} -c \"import sys; sys.exit('az: please run az login')\"",
            "token_command_failed",
            "exit status 1; its last error line was shown once, as a warning",
        ),
        ("true", "token_command_empty", "printed no access token"),
    ],
)
def test_token_command_that_fails_or_prints_nothing(
    oauth_smtp: Callable[..., SMTPTestServer],
    ca_file: Path,
    command: str,
    kind: str,
    words: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = oauth_smtp()
    profile = Profile(
        "tokens",
        host="127.0.0.1",
        port=server.port,
        username=USER,
        ca_file=str(ca_file),
        auth="token-command",
        token_command=command,
    )

    result = test_connection(profile)

    assert result.kind == kind
    assert words in result.summary
    assert server.record.auth_attempts == []
    if "az login" in command:  # what it said on stderr: logged, never in the summary
        assert "az: please run az login" in caplog.text
        assert "az login" not in result.summary


def test_server_without_xoauth2(smtp_server: Callable[..., SMTPTestServer], ca_file: Path) -> None:
    server = smtp_server()
    profile = Profile(
        "tokens",
        host="127.0.0.1",
        port=server.port,
        username=USER,
        ca_file=str(ca_file),
        auth="token-command",
        token_command="echo abc",
    )
    result = test_connection(profile)
    assert result.kind == "auth_unavailable"
    assert "XOAUTH2" in result.summary


# -- where tokens are kept ---------------------------------------------------------------------


def test_a_sign_in_too_large_for_the_keyring_is_never_written_in_plain_text(
    docmail_home: Path, ca_file: Path
) -> None:
    import keyring
    import keyring.backend
    import keyring.errors

    class SmallKeyring(MemoryKeyring):
        """Refuses secrets over 2,560 bytes, as Windows' credential store does."""

        def set_password(self, service: str, username: str, password: str) -> None:
            if len(password) > tokens.KEYRING_SECRET_LIMIT:
                raise keyring.errors.PasswordSetError("The stub received bad data.")
            super().set_password(service, username, password)

    previous = keyring.get_keyring()
    small = SmallKeyring()
    keyring.set_keyring(small)
    try:
        profile = Profile("big", host="127.0.0.1", username=USER, auth="oauth2", client_id="c")
        huge = "rt-" + "x" * 4000
        refused: SignInProblem | None = None
        try:
            tokens.save_state(profile, {"provider": "microsoft", "msal_cache": huge})
        except SignInProblem as problem:  # no encrypted store on this machine
            refused = problem
        if refused is not None:
            assert refused.diagnosis.kind == "token_store_failed"
            assert "never writes tokens to a plain file" in refused.diagnosis.hint
        else:  # msal-extensions' encrypted store took it; the keyring holds only its place
            assert json.loads(small.store[("docmail_nb", "big/tokens")]) == {
                "persisted": str(docmail_home / "tokens" / "big.bin")
            }
            assert tokens.load_state(profile) == {"provider": "microsoft", "msal_cache": huge}
        assert secrets_in_files(docmail_home.parent, [huge]) == []
    finally:
        keyring.set_keyring(previous)


def test_profile_file_holds_no_secret(
    oauth: SignInSetup,
    docmail_home: Path,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)
    path = save_profile(profile)
    auth.sign_in(profile, show=lambda _: None)

    text = path.read_text(encoding="utf-8")
    assert 'auth = "oauth2"' in text
    assert 'client_id = "app-user"' in text
    assert secrets_in_files(docmail_home, issued_secrets(identity)) == []
    assert "at-" not in repr(auth.access_token(profile))


def test_connect_raises_the_sign_in_problem(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file = oauth.identity, oauth.smtp, oauth.ca_file
    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)
    with pytest.raises(SignInProblem) as caught:
        connect(profile)
    assert caught.value.exit_code == 1
    assert caught.value.diagnosis.outcome == "fatal"


def test_removing_a_profile_forgets_its_tokens_and_client_secret(
    oauth: SignInSetup,
) -> None:
    identity, oauth_smtp, ca_file, memory_keyring = (
        oauth.identity,
        oauth.smtp,
        oauth.ca_file,
        oauth.keyring,
    )
    from docmail_nb._store.profiles import remove_profile

    identity.add_client("app-user")
    profile = ms_profile(identity, oauth_smtp(), ca_file)
    save_profile(profile)
    auth.sign_in(profile, show=lambda _: None)
    tokens.set_client_secret(profile, "left-over")
    assert len(memory_keyring.store) == 2

    remove_profile("office")

    assert memory_keyring.store == {}
