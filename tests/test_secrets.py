"""The password: keyring, the environment variable, no plaintext fallback, and no leaks."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.backends.null
import pytest
from conftest import MemoryKeyring
from servers import SMTPTestServer

from docmail_nb._mail.smtp import connect, deliver, test_connection
from docmail_nb._store.profiles import Profile, profiles_file, remove_profile, save_profile
from docmail_nb._store.secrets import forget_password, get_password, has_password, set_password
from docmail_nb.errors import SecretStoreError, SMTPProblem

USER = "anna@example.ch"
SECRET = "S3cret-Pässwort!"


@pytest.fixture
def backend_without_keyring() -> Iterator[None]:
    """The backend a headless server has: every keyring call fails."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_password_lives_in_keyring(memory_keyring: MemoryKeyring) -> None:
    save_profile(Profile("office", "smtp.example.ch", username=USER))
    set_password("office", SECRET)
    assert memory_keyring.store == {("docmail_nb", "office"): SECRET}
    assert get_password("office") == SECRET
    assert has_password("office")
    forget_password("office")
    assert not has_password("office")
    forget_password("office")  # forgetting twice is fine


def test_removing_a_profile_forgets_its_password(memory_keyring: MemoryKeyring) -> None:
    save_profile(Profile("office", "smtp.example.ch", username=USER))
    set_password("office", SECRET)
    remove_profile("office")
    assert memory_keyring.store == {}


def test_environment_variable_wins(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_password("office", "from keyring")
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", SECRET)
    assert get_password("office") == SECRET


def test_environment_variable_without_keyring(
    backend_without_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_password("office") is None
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", SECRET)
    assert get_password("office") == SECRET


def test_no_keyring_backend_names_the_ways_out(backend_without_keyring: None) -> None:
    with pytest.raises(SecretStoreError) as caught:
        set_password("office", SECRET)
    assert "no usable keyring backend" in caught.value.message
    assert "keyring backend" in caught.value.hint
    assert "DOCMAIL_SMTP_PASSWORD" in caught.value.hint
    assert caught.value.exit_code == 2
    assert SECRET not in str(caught.value)
    forget_password("office")  # nothing to forget, and no crash


def test_a_backend_that_keeps_nothing_is_refused() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.null.Keyring())
    try:
        with pytest.raises(SecretStoreError, match="not kept") as caught:
            set_password("office", SECRET)
    finally:
        keyring.set_keyring(previous)
    assert "DOCMAIL_SMTP_PASSWORD" in caught.value.hint


def test_empty_password_is_refused(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(SecretStoreError):
        set_password("office", "")


def secret_forms(username: str, password: str) -> list[str]:
    """The password and the base64 forms AUTH PLAIN and AUTH LOGIN put on the wire."""

    def b64(raw: str) -> str:
        return base64.b64encode(raw.encode()).decode()

    return [
        password,
        b64(password),
        b64(f"\0{username}\0{password}"),
        b64(f"{username}\0{username}\0{password}"),
        repr(password)[1:-1],
    ]


def test_password_never_leaks(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for mechanism in ("PLAIN", "LOGIN"):
        excluded = ("PLAIN",) if mechanism == "LOGIN" else ()
        server = smtp_server("starttls", users={USER: SECRET}, exclude_auth=excluded)
        profile = Profile(
            f"leak-{mechanism.lower()}",
            server.host,
            server.port,
            "starttls",
            USER,
            ca_file=str(ca_file),
            timeout=5.0,
        )
        save_profile(profile)
        set_password(profile.name, SECRET)
        seen += [repr(profile), str(profile)]

        result = test_connection(profile)
        assert result.ok, result
        seen.append(repr(result))

        conn = connect(profile)
        delivery = deliver(conn, _message(), USER, ["kunde@example.com"])
        conn.quit()
        seen.append(repr(delivery))
        assert [m for m, _ in server.record.auth_attempts] == [mechanism, mechanism]

        failing = smtp_server("starttls", users={USER: "another one"}, exclude_auth=excluded)
        wrong = Profile("wrong", failing.host, failing.port, "starttls", USER, ca_file=str(ca_file))
        failed = test_connection(wrong, SECRET)
        assert failed.kind == "auth_failed"
        seen.append(repr(failed))
        with pytest.raises(SMTPProblem) as caught:
            connect(wrong, SECRET)
        seen += [str(caught.value), repr(caught.value), repr(caught.value.diagnosis)]
        cause = caught.value.__cause__
        seen += [str(cause), repr(cause)]

    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the server's
    assert any(r.name == "docmail_nb._mail.smtp" for r in ours)
    seen += [r.getMessage() for r in ours]
    seen += [r.exc_text or "" for r in ours]
    seen.append(profiles_file().read_text("utf-8"))
    captured = capsys.readouterr()
    seen += [captured.out, captured.err]
    text = "\n".join(seen)
    for form in secret_forms(USER, SECRET):
        assert form not in text


def _message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = USER
    msg["To"] = "kunde@example.com"
    msg["Subject"] = "Test"
    msg.set_content("Hallo")
    return msg
