"""ProfileSetup: test (SMTP, then IMAP), save (keyring first), the password's state in words."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from conftest import MemoryKeyring
from imap_server import DovecotServer
from servers import SMTPTestServer

from docmail_nb._store.profiles import list_profiles, load_profile, profiles_file
from docmail_nb.errors import SecretStoreError
from docmail_nb.setup import ProfileSetup, describe_preset, password_state

USER = "anna@example.ch"
PASSWORD = "correct horse"


def setup_for(server: SMTPTestServer, ca_file: Path, password: str | None = None, **more: object):
    return ProfileSetup.from_preset(
        "office",
        host=server.host,
        port=server.port,
        security="starttls",
        username=USER,
        ca_file=str(ca_file),
        password=password,
        **more,
    )


def test_a_typed_password_is_tested_then_saved(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server("starttls")
    setup = setup_for(server, ca_file, PASSWORD)
    assert setup.password_state().kind == "typed"
    assert PASSWORD not in repr(setup)

    checked = setup.test()
    assert checked.ok, checked.lines()
    assert checked.imap is None  # no IMAP host: not tried
    assert setup.password == PASSWORD  # still there for Save

    saved = setup.save()
    assert memory_keyring.store == {("docmail_nb", "office"): PASSWORD}
    assert "The password is stored in keyring." in saved.words()
    assert PASSWORD not in profiles_file().read_text("utf-8")
    assert password_state(load_profile("office")).words == "password stored in keyring"
    assert ProfileSetup.load("office").test().ok  # the stored password works


def test_nothing_is_written_when_keyring_cannot_keep_the_password(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path
) -> None:
    server = smtp_server("starttls")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(SecretStoreError, match="Nothing was saved"):
            setup_for(server, ca_file, PASSWORD).save()
    finally:
        keyring.set_keyring(previous)
    assert list_profiles() == []
    assert not profiles_file().exists()


def test_a_failed_login_says_where_the_password_came_from(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("starttls")
    setup_for(server, ca_file, PASSWORD).save()
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", "stale horse")
    checked = ProfileSetup.load("office").test()
    assert not checked.ok
    _, summary, hint = checked.lines()[0]
    assert "535" in summary
    assert "DOCMAIL_SMTP_PASSWORD" in hint
    assert "stale horse" not in summary + hint

    monkeypatch.delenv("DOCMAIL_SMTP_PASSWORD")
    memory_keyring.store[("docmail_nb", "office")] = "old horse"
    hint = ProfileSetup.load("office").test().lines()[0][2]
    assert "came from keyring" in hint


def test_imap_is_tested_after_smtp_unless_there_is_no_password(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    server = smtp_server("starttls")
    mailbox = dovecot(folders=("Sent",))
    imap = {"imap_host": mailbox.host, "imap_port": mailbox.ssl_port}
    checked = setup_for(server, ca_file, PASSWORD, **imap).test()
    assert checked.ok, checked.lines()
    assert checked.imap is not None
    assert "Sent folder 'Sent'" in checked.imap.summary

    missing = setup_for(server, ca_file, None, **imap).test()
    assert missing.smtp.kind == "no_password"
    assert missing.imap is None
    state = password_state(setup_for(server, ca_file).profile)
    assert state.kind == "missing"
    assert state.sentence == "No password is stored for 'office' yet."


def test_password_words_for_every_state(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = ProfileSetup.from_preset("relay", host="127.0.0.1", port=25, security="none")
    assert relay.password_state().words == "no login (no password needed)"
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", "x")
    office = ProfileSetup.from_preset("office", host="smtp.example.ch", username=USER)
    assert office.password_state().words == "password from $DOCMAIL_SMTP_PASSWORD"


def test_the_preset_note_agrees_with_the_fields() -> None:
    assert "port 587 with STARTTLS" in describe_preset("generic")
    shown = describe_preset("generic", port=465, security="ssl")
    assert "port 465 with SSL/TLS" in shown
    assert "587" not in shown
    assert "the form has port 2525" in describe_preset("generic", port=2525, security="starttls")
    assert "smtp.office365.com, port 587 with STARTTLS" in describe_preset("microsoft365")
