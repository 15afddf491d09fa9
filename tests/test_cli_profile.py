"""`docmail profile add|list|show|remove` and `docmail test` against a real local server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from click.testing import CliRunner, Result
from conftest import MemoryKeyring
from imap_server import DovecotServer
from servers import SMTPTestServer

from docmail_nb._store.profiles import load_profile, profiles_file
from docmail_nb.cli import main

USER = "anna@example.ch"
PASSWORD = "correct horse"


def add(server: SMTPTestServer, ca_file: Path, *extra: str, password: str = PASSWORD) -> Result:
    args = ["profile", "add", "office", "--host", server.host, "--port", str(server.port)]
    args += ["--security", "starttls", "--username", USER, "--ca-file", str(ca_file)]
    args += ["--password-stdin", *extra]
    return CliRunner().invoke(main, args, input=password + "\n")


def test_add_then_test_with_private_ca(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server("starttls")
    added = add(server, ca_file)
    assert added.exit_code == 0, added.output
    assert memory_keyring.store == {("docmail_nb", "office"): PASSWORD}
    assert PASSWORD not in profiles_file().read_text("utf-8")
    assert load_profile("office").ca_file == str(ca_file.resolve())

    tested = CliRunner().invoke(main, ["test", "--profile", "office"])
    assert tested.exit_code == 0, tested.output
    assert "OK: Connected to" in tested.output
    assert "certificate verified" in tested.output
    assert CliRunner().invoke(main, ["test"]).exit_code == 0  # the only profile


def test_failed_test_prints_summary_hint_and_exits_1(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server(
        "starttls",
        auth_reply="534-5.7.9 Application-specific password required. Learn more at\r\n"
        "534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor",
    )
    assert add(server, ca_file).exit_code == 0
    tested = CliRunner().invoke(main, ["test", "--profile", "office"])
    assert tested.exit_code == 1
    assert "app password" in tested.output
    assert "Server reply: 534" in tested.output
    assert "Traceback" not in tested.output


def test_list_show_remove(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server("starttls")
    add(server, ca_file)
    listed = CliRunner().invoke(main, ["profile", "list"])
    assert listed.exit_code == 0
    assert "office" in listed.output
    assert "password stored in keyring" in listed.output
    shown = CliRunner().invoke(main, ["profile", "show", "office"])
    assert shown.exit_code == 0
    assert f"username: {USER}" in shown.output
    assert PASSWORD not in shown.output
    removed = CliRunner().invoke(main, ["profile", "remove", "office"])
    assert removed.exit_code == 0
    assert memory_keyring.store == {}
    assert "No profiles yet" in CliRunner().invoke(main, ["profile", "list"]).output


def test_preset_fills_host_port_and_shows_limits(memory_keyring: MemoryKeyring) -> None:
    result = CliRunner().invoke(
        main,
        [
            "profile",
            "add",
            "m365",
            "--preset",
            "microsoft365",
            "--username",
            USER,
            "--password-stdin",
        ],
        input="app-password\n",
    )
    assert result.exit_code == 0, result.output
    profile = load_profile("m365")
    assert (profile.host, profile.port, profile.security) == ("smtp.office365.com", 587, "starttls")
    shown = CliRunner().invoke(main, ["profile", "show", "m365"]).output
    assert "30 messages a minute" in shown


def test_usage_and_configuration_errors_exit_2(memory_keyring: MemoryKeyring) -> None:
    unknown = CliRunner().invoke(main, ["test", "--profile", "nope"])
    assert unknown.exit_code == 2
    assert "Error: There is no SMTP profile called 'nope'" in unknown.output
    no_host = CliRunner().invoke(main, ["profile", "add", "x", "--username", USER])
    assert no_host.exit_code == 2
    assert "--host" in no_host.output


def test_no_keyring_backend_on_add_writes_nothing(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        server = smtp_server("starttls")
        result = add(server, ca_file)
        assert result.exit_code == 2
        assert "cannot be saved" in result.output
        assert "Nothing was saved" in result.output
        assert "Saved profile" not in result.output
        assert not profiles_file().exists()
        assert "DOCMAIL_SMTP_PASSWORD" in result.output
        assert PASSWORD not in result.output
        # the way out the hint names: the password in the environment, the profile without it
        monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
        args = ["profile", "add", "office", "--host", server.host, "--port", str(server.port)]
        args += ["--username", USER, "--ca-file", str(ca_file)]
        added = CliRunner().invoke(main, args)
        assert added.exit_code == 0, added.output
        assert "$DOCMAIL_SMTP_PASSWORD will be used" in added.output
        tested = CliRunner().invoke(main, ["test", "--profile", "office"])
        assert tested.exit_code == 0, tested.output
    finally:
        keyring.set_keyring(previous)


def test_add_without_a_terminal_or_password_source_exits_2_with_the_ways_out(
    memory_keyring: MemoryKeyring,
) -> None:
    args = ["profile", "add", "office", "--host", "smtp.example.ch", "--username", USER]
    result = CliRunner().invoke(main, args, input="")  # stdin is no terminal
    assert result.exit_code == 2, result.output
    assert "no terminal" in result.output
    assert "--password-stdin" in result.output
    assert "DOCMAIL_SMTP_PASSWORD" in result.output
    assert "Warning" not in result.output  # no raw getpass warning
    assert "Aborted" not in result.output
    assert not profiles_file().exists()
    assert memory_keyring.store == {}


def test_list_and_show_say_no_login_plainly(memory_keyring: MemoryKeyring) -> None:
    args = ["profile", "add", "relay", "--host", "127.0.0.1", "--port", "2525"]
    added = CliRunner().invoke(main, [*args, "--security", "none", "--from", USER])
    assert added.exit_code == 0, added.output
    assert "No login" in added.output
    listed = CliRunner().invoke(main, ["profile", "list"]).output
    assert "no login (no password needed)" in listed
    assert "missing" not in listed
    shown = CliRunner().invoke(main, ["profile", "show", "relay"]).output
    assert "login: no login (no password needed)" in shown


def test_imap_settings_are_saved_shown_and_tested(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    server = smtp_server("starttls")
    mailbox = dovecot(folders=("Sent", "Gesendet"), special_use={"Gesendet": "\\Sent"})
    imap = ["--imap-host", mailbox.host, "--imap-port", str(mailbox.starttls_port)]
    added = add(server, ca_file, *imap, "--imap-security", "starttls")
    assert added.exit_code == 0, added.output
    saved = load_profile("office")
    assert (saved.imap_host, saved.imap_port, saved.imap_security) == (
        "127.0.0.1",
        mailbox.starttls_port,
        "starttls",
    )
    assert saved.appends_to_sent
    shown = CliRunner().invoke(main, ["profile", "show", "office"]).output
    assert f"imap: 127.0.0.1:{mailbox.starttls_port} (starttls)" in shown
    assert "copies appended by docmail" in shown

    tested = CliRunner().invoke(main, ["test", "--profile", "office"])
    assert tested.exit_code == 0, tested.output
    assert "Sent folder 'Gesendet' (marked as Sent)" in tested.output

    # a Sent folder named in the profile that the server does not have: the test fails
    named = add(server, ca_file, *imap, "--imap-security", "starttls", "--sent-folder", "Outbox")
    assert named.exit_code == 0, named.output
    failed = CliRunner().invoke(main, ["test", "--profile", "office"])
    assert failed.exit_code == 1
    assert "the Sent folder 'Outbox' does not exist" in failed.output
    assert PASSWORD not in failed.output


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("cyon", "100 recipients an hour (rolling)"),
        ("infomaniak", "500 recipients in 24 hours (rolling)"),
        ("hostpoint", "limits: none known"),
    ],
)
def test_swiss_presets_show_host_imap_and_limits(
    memory_keyring: MemoryKeyring, preset: str, expected: str
) -> None:
    added = CliRunner().invoke(
        main,
        ["profile", "add", "shop", "--preset", preset, "--username", USER, "--password-stdin"],
        input="secret\n",
    )
    assert added.exit_code == 0, added.output
    shown = CliRunner().invoke(main, ["profile", "show", "shop"]).output
    assert expected in shown
    assert "imap: " in shown
    assert "copies appended by docmail" in shown


def test_microsoft365_files_sent_mail_itself(memory_keyring: MemoryKeyring) -> None:
    args = ["profile", "add", "m", "--preset", "microsoft365", "--username", USER]
    added = CliRunner().invoke(
        main, [*args, "--password-stdin", "--imap-host", "outlook.office365.com"], input="x\n"
    )
    assert added.exit_code == 0, added.output
    saved = load_profile("m")
    assert saved.imap_host == "outlook.office365.com"
    assert not saved.copy_to_sent  # reconcile only; Exchange files SMTP mail in Sent Items
    shown = CliRunner().invoke(main, ["profile", "show", "m"]).output
    assert "copies filed by the provider" in shown
