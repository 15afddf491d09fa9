"""The notebook panels from Python: set values, press buttons, read what is shown.

The servers are real aiosmtpd servers on 127.0.0.1 (tests/servers.py); keyring is the
in-memory backend of conftest.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MemoryKeyring
from helpers import TEMPLATE, crash_while_sending, write_orders
from imap_server import DovecotServer
from servers import SMTPTestServer

from docmail_nb import Batch, MemoryTransport
from docmail_nb._mail.sink import CaptureServer
from docmail_nb._sample import sample_dir
from docmail_nb._store.presets import PRESETS
from docmail_nb._store.profiles import Profile, list_profiles, load_profile, save_profile
from docmail_nb._store.secrets import PASSWORD_ENV, has_password
from docmail_nb.cli import main
from docmail_nb.widgets import SendPanel, SettingsPanel

PASSWORD = "correct horse"


def fill(panel: SettingsPanel, server: SMTPTestServer, ca_file: Path, password: str) -> None:
    panel.profile_name.value = "office"
    panel.host.value = server.host
    panel.security.value = server.mode if server.mode != "plain" else "none"
    panel.port.value = server.port
    panel.username.value = "anna@example.ch"
    panel.password.value = password
    panel.ca_file.value = str(ca_file)


# -- settings panel ------------------------------------------------------------------


def test_empty_form_shows_the_labelled_fields() -> None:
    panel = SettingsPanel()
    labels = [
        panel.profile_name.description,
        panel.host.description,
        panel.port.description,
        panel.security.description,
        panel.username.description,
        panel.password.description,
        panel.from_addr.description,
        panel.reply_to.description,
        panel.ca_file.description,
    ]
    assert labels == [
        "Profile name",
        "Host",
        "Port",
        "Security",
        "Username",
        "Password",
        "From",
        "Reply-To",
        "CA file",
    ]
    assert panel.advanced.get_title(0) == "Advanced"
    assert panel.profile_name.value == ""
    assert panel.status.value == ""


def test_preset_fills_host_port_and_security() -> None:
    panel = SettingsPanel()
    panel.preset.value = "gmail"
    assert (panel.host.value, panel.port.value, panel.security.value) == (
        "smtp.gmail.com",
        465,
        "ssl",
    )
    panel.preset.value = "microsoft365"
    assert (panel.host.value, panel.port.value, panel.security.value) == (
        "smtp.office365.com",
        587,
        "starttls",
    )


@pytest.mark.parametrize("security", [None, "ssl", "none"])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_fills_what_docmail_profile_add_saves(
    preset: str, security: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # profile add asks for no password
    args = ["profile", "add", "cli", "--preset", preset, "--username", "anna@example.ch"]
    panel = SettingsPanel()
    if preset == "generic":  # no host of its own: typed in both
        args += ["--host", "relay.example.ch"]
        panel.host.value = "relay.example.ch"
    if security is not None:  # chosen before the preset: kept, its usual port with it
        args += ["--security", security]
        panel.security.value = security
    assert CliRunner().invoke(main, args).exit_code == 0
    panel.preset.value = preset
    panel.profile_name.value = "panel"
    panel.username.value = "anna@example.ch"
    fields = ("host", "port", "security", "preset", "imap_host", "copy_to_sent")
    saved, filled = load_profile("cli"), panel.profile()
    assert [getattr(filled, f) for f in fields] == [getattr(saved, f) for f in fields]


def test_security_change_suggests_the_usual_port_but_keeps_a_typed_one() -> None:
    panel = SettingsPanel()
    panel.security.value = "ssl"
    assert panel.port.value == 465
    panel.security.value = "starttls"
    assert panel.port.value == 587
    panel.port.value = 465  # typed, even though it is a usual port
    panel.security.value = "none"
    assert panel.port.value == 465
    panel.port.value = 2525
    panel.security.value = "ssl"
    assert panel.port.value == 2525


def test_preset_keeps_what_the_user_typed_and_shows_its_limits() -> None:
    panel = SettingsPanel()
    panel.host.value = "relay.example.ch"
    panel.port.value = 2587
    panel.preset.value = "microsoft365"
    assert (panel.host.value, panel.port.value) == ("relay.example.ch", 2587)
    assert panel.security.value == "starttls"  # not typed: the preset's
    assert "Kept what you typed in host, port" in panel.status.value
    assert "30 messages a minute" in panel.preset_note.value
    assert "3 connections at a time" in panel.preset_note.value
    panel.preset.value = "generic"
    assert "No known limits" in panel.preset_note.value


def test_password_note_says_stored_not_stored_or_not_needed(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_profile(Profile("relay", "127.0.0.1", 25, "none", from_addr="a@example.ch"))
    save_profile(Profile("office", "smtp.example.ch", 465, "ssl", "anna@example.ch"))
    panel = SettingsPanel("relay")
    assert "without a login or password" in panel.password_note.value
    panel.saved.value = "office"
    assert "No password is stored for &#x27;office&#x27;" in panel.password_note.value
    assert "stored in keyring" not in panel.password_note.value
    memory_keyring.store[("docmail_nb", "office")] = PASSWORD
    panel.saved.value = "relay"
    panel.saved.value = "office"
    assert "is stored in keyring" in panel.password_note.value
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", "from the job")
    del memory_keyring.store[("docmail_nb", "office")]
    panel.saved.value = "relay"
    panel.saved.value = "office"
    assert "DOCMAIL_SMTP_PASSWORD" in panel.password_note.value
    assert "stored in keyring;" not in panel.password_note.value


def test_keyring_that_cannot_store_saves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        panel = SettingsPanel()
        panel.profile_name.value = "office"
        panel.host.value = "smtp.example.ch"
        panel.username.value = "anna@example.ch"
        panel.password.value = PASSWORD
        panel.save_button.click()
    finally:
        keyring.set_keyring(previous)
    assert "docmail-error" in panel.status.value
    assert "Nothing was saved" in panel.status.value
    assert "Saved profile" not in panel.status.value
    assert list_profiles() == []
    assert panel.password.value == ""


def test_the_profile_chosen_last_opens_next_time(memory_keyring: MemoryKeyring) -> None:
    save_profile(Profile("office", "smtp.example.ch", 465, "ssl", "anna@example.ch"))
    save_profile(Profile("relay", "127.0.0.1", 25, "none", from_addr="a@example.ch"))
    panel = SettingsPanel()
    assert panel.profile_name.value == "office"
    panel.saved.value = "relay"
    assert SettingsPanel().profile_name.value == "relay"


def test_test_connection_shows_progress_while_it_waits(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    seen: list[str] = []
    panel.status.observe(lambda change: seen.append(change["new"]), names="value")
    panel.test_button.observe(lambda change: seen.append(change["new"]), names="description")
    panel.test_button.click()
    assert any("Connecting to" in text and "waiting up to" in text for text in seen)
    assert "Testing …" in seen
    assert panel.test_button.description == "Test connection"
    assert not panel.test_button.disabled


def test_connection_succeeds_against_starttls_server_and_clears_password(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    panel.test_button.click()
    assert "docmail-ok" in panel.status.value
    assert "Connected to" in panel.status.value
    assert panel.password.value == ""
    assert server.record.auth_attempts  # it really logged in
    assert PASSWORD not in panel.status.value + panel.password_note.value


def test_connection_with_wrong_password_shows_diagnosis_not_traceback(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file, "wrong horse")
    panel.test_button.click()
    status = panel.status.value
    assert "docmail-error" in status
    assert "535" in status
    assert "docmail-hint" in status
    assert "Traceback" not in status
    assert "wrong horse" not in status
    assert panel.password.value == ""


def test_connection_to_gmail_like_server_explains_app_password(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path
) -> None:
    server = smtp_server("ssl", auth_reply="534 5.7.9 Application-specific password required.")
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    panel.test_button.click()
    assert "docmail-error" in panel.status.value
    assert "app" in panel.status.value.lower()


def test_untrusted_certificate_is_refused_without_ca_file(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    panel.ca_file.value = ""
    panel.test_button.click()
    assert "docmail-error" in panel.status.value
    assert "certificate" in panel.status.value.lower()
    assert server.record.auth_attempts == []


def test_invalid_setting_is_a_red_line(memory_keyring: MemoryKeyring) -> None:
    panel = SettingsPanel()
    panel.profile_name.value = "office"
    panel.host.value = ""
    panel.password.value = PASSWORD
    panel.save_button.click()
    assert "docmail-error" in panel.status.value
    assert "host" in panel.status.value.lower()
    assert panel.password.value == ""
    assert list_profiles() == []
    assert memory_keyring.store == {}


def test_save_stores_profile_and_password_in_keyring_only(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
    docmail_home: Path,
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    panel.from_addr.value = "buchhaltung@example.ch"
    panel.reply_to.value = "fragen@example.ch"
    panel.save_button.click()

    assert "docmail-ok" in panel.status.value
    assert panel.password.value == ""
    assert memory_keyring.store == {("docmail_nb", "office"): PASSWORD}
    saved = load_profile("office")
    assert (saved.host, saved.port, saved.security) == (server.host, server.port, "starttls")
    assert (saved.from_addr, saved.reply_to, saved.ca_file) == (
        "buchhaltung@example.ch",
        "fragen@example.ch",
        str(ca_file),
    )
    for path in docmail_home.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes()
    assert "stored in keyring" in panel.password_note.value

    # Test connection now uses the stored password
    panel.test_button.click()
    assert "docmail-ok" in panel.status.value


def test_saved_profile_loads_without_password_and_without_keyring(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_profile(Profile("office", "smtp.example.ch", 465, "ssl", "anna@example.ch"))
    memory_keyring.store[("docmail_nb", "office")] = PASSWORD

    def no_keyring(*_args: object) -> None:
        raise AssertionError("keyring touched while opening the panel")

    with monkeypatch.context() as patch:
        patch.setattr(memory_keyring, "get_password", no_keyring)
        panel = SettingsPanel()
    assert (panel.profile_name.value, panel.host.value, panel.port.value) == (
        "office",
        "smtp.example.ch",
        465,
    )
    assert panel.security.value == "ssl"
    assert panel.password.value == ""
    assert panel.saved.value == "office"

    # choosing it again (a user action) tells whether a password is stored
    panel.saved.value = ""
    assert panel.profile_name.value == ""
    panel.saved.value = "office"
    assert "is stored in keyring" in panel.password_note.value
    assert has_password("office")


@pytest.mark.parametrize(
    "saved",
    [
        Profile(
            "hoster", "mail.cyon.ch", 2465, "ssl", "anna@example.ch", from_addr="a@example.ch",
            reply_to="b@example.ch", ca_file="/etc/ca.pem", preset="cyon",
            imap_host="imap.example.ch", imap_port=1993, imap_security="starttls",
            sent_folder="Gesendet", copy_to_sent=False, timeout=90.0, verify_tls=False,
        ),
        Profile(
            "m365", "smtp.office365.com", 587, "starttls", "anna@example.ch",
            preset="microsoft365", auth="oauth2", tenant="example.ch", client_id="abc-123",
            authority="https://login.example.test", imap_host="", copy_to_sent=False,
        ),
        Profile(
            "app", "smtp.office365.com", 587, "starttls", "anna@example.ch",
            preset="microsoft365", auth="oauth2-app", tenant="example.ch", client_id="abc-123",
            certificate="/etc/docmail/app.pem", copy_to_sent=False,
        ),
        Profile(
            "token", "relay.example.ch", 587, "starttls", "anna@example.ch",
            auth="token-command", token_command="print-token --for smtp",
        ),
    ],
    ids=["hoster", "microsoft", "app-only", "token-command"],
)  # fmt: skip
def test_a_saved_profile_is_shown_and_read_back_unchanged_then_cleared(saved: Profile) -> None:
    save_profile(saved)
    panel = SettingsPanel(saved.name)
    assert panel.profile() == saved  # Save keeps what the form has no field for, too
    panel.saved.value = ""  # (new profile): every field back to a new profile's
    assert panel.profile_name.value == panel.host.value == panel.username.value == ""
    assert (panel.port.value, panel.security.value, panel.preset.value) == (
        587, "starttls", "generic"
    )  # fmt: skip
    assert (panel.imap_host.value, panel.imap_port.value, panel.sent_folder.value) == ("", 0, "")
    assert (panel.imap_security.value, panel.copy_to_sent.value) == ("ssl", True)
    assert (panel.auth.value, panel.tenant.value, panel.token_command.value) == ("password", "", "")


def test_password_never_in_widget_state(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    import ipywidgets

    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    panel.save_button.click()
    panel.password.value = PASSWORD
    panel.test_button.click()
    state = ipywidgets.Widget.get_manager_state(drop_defaults=False)
    assert PASSWORD not in repr(state)
    assert PASSWORD not in repr(panel.profile())


# -- send panel ------------------------------------------------------------------------


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[CaptureServer]:
    with CaptureServer(tmp_path / "outbox") as server:
        yield server


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


def labels(panel: SendPanel) -> list[str]:
    return [" ".join(row["titles"]) for row in panel.grid.rows]


def send_all(panel: SendPanel) -> None:
    panel.send_button.click()
    assert panel.confirm_box.layout.display == "flex", panel.status.value
    panel.yes_button.click()
    panel.wait(60)
    assert not panel.sending


def test_send_panel_lists_every_message_and_previews_the_first_as_a_mail_program(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    assert list(panel.sheet.options) == ["Rechnungen", "Offerten", "Lieferscheine", "Positionen"]
    assert panel.sheet.value == "Rechnungen"
    assert "docmail-ok" in panel.summary.value
    assert "10 messages from 10 rows: 10 ready" in panel.summary.value
    assert len(panel.grid.rows) == 10
    assert panel.columns.value == ("company", "amount")  # a name and an amount beside the key
    head = [column["label"].lower() for column in panel.grid.columns]
    for name in ("row", "state", "key", "to", "company", "amount"):
        assert name in head
    assert "R-2026-1041" in labels(panel)[0]
    assert "Bäckerei Müller AG" in labels(panel)[0]
    shown = panel.preview.value
    assert "Rechnung R-2026-1041" in shown  # the subject
    assert "buchhaltung@bergmann-werkstatt.example" in shown  # From
    assert "R-2026-1041.pdf" in shown
    assert "data:application/pdf;base64," in shown  # the PDF opens from the preview
    assert "MIME-Version" not in shown  # plumbing only in the raw message
    assert "MIME-Version" in panel.raw.value
    assert panel.raw.layout.display == "none"
    panel.raw_toggle.value = True
    assert panel.raw.layout.display == "block"
    assert panel.template_text.value.startswith("To: {{ email }}")
    assert capture.messages == []  # opening sends nothing


def test_table_searches_filters_sorts_and_walks_with_previous_and_next(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    panel.grid.query = "fröhlich"
    assert len(panel.grid.rows) == 1
    assert "R-2026-1044" in panel.preview.value
    panel.grid.query = ""
    panel.grid.sort_by = "col:amount"
    panel.grid.descending = True
    amounts = [float(panel._row_values(panel.entries[i].row)["amount"]) for i in panel._shown]
    assert amounts == sorted(amounts, reverse=True)
    panel.grid.selected = first = panel._shown[0]
    panel.next_button.click()
    assert panel.grid.selected == panel._shown[1] != first
    assert "2 of 10" in panel.position.value
    panel.previous_button.click()
    assert panel.grid.selected == first
    assert panel.previous_button.disabled
    panel.show.value = "ready"
    assert len(panel.grid.rows) == 10


def test_choosing_a_row_shows_its_message_and_every_recipient(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    panel.pick(4)
    assert "R-2026-1043" in panel.preview.value
    assert "s.jaeggi@bluemli.example, office@bluemli.example" in panel.preview.value
    panel.template_path.value = str(sample_dir() / "templates" / "offer.txt")
    assert "docmail-error" in panel.summary.value  # offers template on the invoices
    assert "The template has a problem" in panel.summary.value
    assert "rows have problems" not in panel.summary.value
    panel.sheet.value = "Offerten"
    assert "5 messages from 5 rows: 5 ready" in panel.summary.value
    assert "O-2026-03" in panel.preview.value
    assert "<iframe" in panel.preview.value  # html mail is shown rendered


def test_send_asks_first_and_cancel_sends_nothing(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    panel.send_button.click()
    assert panel.confirm_box.layout.display == "flex"
    assert (
        f"Send 10 messages to 13 recipients via {capture.host} as "
        "buchhaltung@bergmann-werkstatt.example?"
    ) in panel.confirm_text.value
    panel.cancel_button.click()
    assert panel.confirm_box.layout.display == "none"
    assert "Nothing was sent" in panel.status.value
    assert capture.messages == []


def test_yes_send_delivers_every_row_once_with_progress_report_and_download(
    capture: CaptureServer, ledger_file: Path, tmp_path: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    send_all(panel)
    assert len(capture.messages) == 10
    assert sum(len(m.recipients) for m in capture.messages) == 14
    assert (panel.progress.value, panel.progress.max) == (10, 10)
    assert "10 / 10" in panel.progress_text.value
    assert "a minute" in panel.progress_text.value
    assert panel.report is not None
    assert list(panel.report.frame["state"]) == ["sent"] * 10
    assert "10 sent" in panel.status.value
    assert {panel.entries[i].state for i in panel._shown} == {"sent"}
    assert "10 messages from 10 rows: 10 sent" in panel.summary.value  # never stale
    assert panel.failed_box.layout.display == "none"
    assert panel.stop_button.disabled
    link = panel.download.value
    assert "download='report-invoice.xlsx'" in link
    data = link.split("base64,", 1)[1].split("'", 1)[0]
    (tmp_path / "report.xlsx").write_bytes(base64.b64decode(data))
    frame = pd.read_excel(tmp_path / "report.xlsx", dtype=str, engine="calamine")
    assert len(frame) == 10
    assert set(frame["state"]) == {"sent"}

    # exactly once: a second Send says what is already sent and finds nothing to send
    again = SendPanel(profile=capture.profile(), ledger=ledger_file)
    assert "10 sent" in again.summary.value
    again.send_button.click()
    assert again.confirm_box.layout.display == "none"
    assert "Nothing to send: 10 sent." in again.status.value
    assert len(capture.messages) == 10


def test_stop_ends_the_run_after_the_current_message_and_says_what_went(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
    ledger_file: Path,
) -> None:
    first_arrives, go_on = threading.Event(), threading.Event()

    def hold_the_first(index: int, _envelope: object) -> None:
        if index == 0:
            first_arrives.set()
            go_on.wait(30)

    server = smtp_server("starttls", data_hook=hold_the_first)
    save_profile(
        Profile(
            "office", server.host, server.port, "starttls", "anna@example.ch",
            from_addr="buchhaltung@bergmann-werkstatt.example", ca_file=str(ca_file),
        )
    )  # fmt: skip
    memory_keyring.store[("docmail_nb", "office")] = PASSWORD
    panel = SendPanel(profile="office", ledger=ledger_file)
    panel.send_button.click()
    panel.yes_button.click()
    assert first_arrives.wait(30)
    assert panel.sending
    assert not panel.stop_button.disabled
    panel.stop_button.click()
    assert "Stopping after the message being sent" in panel.progress_text.value
    go_on.set()
    panel.wait(60)
    assert len(server.messages) == 1
    status = panel.status.value
    assert "Stopped after the message being sent" in status
    assert "1 sent" in status
    assert "9 left for a later run" in status
    assert "Press Send to go on" in status
    states = [entry.state for entry in panel.entries]
    assert states.count("sent") == 1
    assert states.count("not sent") == 9
    assert panel.progress.bar_style == "warning"

    # going on sends the other nine, never the first again
    send_all(panel)
    assert len(server.messages) == 10


def test_unknown_message_is_offered_for_resending_with_the_risk_explained(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
    ledger_file: Path,
) -> None:
    from servers import DROP_AFTER_STORE

    server = smtp_server(
        "starttls", data_hook=lambda index, _e: DROP_AFTER_STORE if index == 0 else None
    )
    save_profile(
        Profile(
            "office", server.host, server.port, "starttls", "anna@example.ch",
            from_addr="buchhaltung@bergmann-werkstatt.example", ca_file=str(ca_file),
        )
    )  # fmt: skip
    memory_keyring.store[("docmail_nb", "office")] = PASSWORD
    panel = SendPanel(profile="office", ledger=ledger_file)
    send_all(panel)
    assert [e.state for e in panel.entries].count("unknown") == 1
    assert panel.offer_box.layout.display == "flex"
    assert "may well have arrived" in panel.offer_text.value
    assert panel.resend_unknown_button.description == "Resend 1 unknown…"

    # a new panel (after a restart) tells the same from the ledger
    again = SendPanel(profile="office", ledger=ledger_file)
    assert "1 unknown (may have arrived)" in again.summary.value
    assert again.offer_box.layout.display == "flex"
    again.resend_unknown_button.click()
    assert "Send 1 message" in again.confirm_text.value
    assert "may well have arrived" in again.confirm_text.value
    again.yes_button.click()
    again.wait(60)
    assert len(server.messages) == 11  # the unknown one, stored twice: the user chose so


def test_template_edited_after_sending_says_changed_not_already_sent(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    send_all(panel)
    panel.template_text.value = panel.template_text.value.replace("Guten Tag", "Grüezi")
    assert "10 changed since sent" in panel.summary.value
    assert "Row 2 (R-2026-1041): changed since sent" in panel.preview.value
    assert panel.resend_changed_button.description == "Resend 10 changed…"
    panel.send_button.click()
    assert "Nothing to send: 10 changed since sent." in panel.status.value
    panel.resend_changed_button.click()
    assert "second message" in panel.confirm_text.value
    panel.yes_button.click()
    panel.wait(60)
    assert len(capture.messages) == 20


def test_send_test_to_me_goes_only_to_the_profile_address(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    panel.pick(3)
    panel.test_button.click()
    assert "docmail-ok" in panel.status.value
    [message] = capture.messages
    assert message.recipients == ("buchhaltung@bergmann-werkstatt.example",)
    assert message.subject.startswith("[TEST] Rechnung R-2026-1042")
    assert "10 ready" in SendPanel(profile=capture.profile(), ledger=ledger_file).summary.value


def write_orders_with_a_bad_row(folder: Path) -> Path:
    lines = (sample_dir() / "orders.csv").read_text(encoding="utf-8").splitlines()
    fields = lines[2].split(";")
    fields[4] = "not-an-address"
    lines[2] = ";".join(fields)
    path = folder / "orders.csv"
    path.write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    return path


def test_problem_rows_are_in_the_table_not_sent_and_saved_for_fixing(
    capture: CaptureServer, ledger_file: Path, tmp_path: Path
) -> None:
    orders = write_orders_with_a_bad_row(tmp_path)
    panel = SendPanel(orders, profile=capture.profile(), ledger=ledger_file)
    assert panel.sheet.disabled
    assert "docmail-error" in panel.summary.value
    assert "3 messages from 4 rows: 1 with a problem, 3 ready" in panel.summary.value
    panel.show.value = "problem"
    assert len(panel.grid.rows) == 1
    assert "R-2026-1042" in labels(panel)[0]
    assert "not-an-address" in panel.preview.value  # the problem, with what to do
    assert "docmail-hint" in panel.preview.value

    panel.send_button.click()
    assert "(1 row(s) with problems are left out.)" in panel.confirm_text.value
    panel.yes_button.click()
    panel.wait(60)
    assert len(capture.messages) == 3
    assert panel.failed_box.layout.display == "flex"
    panel.failed_path.value = str(tmp_path / "failed.xlsx")
    panel.save_failed_button.click()
    assert "docmail-ok" in panel.status.value
    failed = pd.read_excel(tmp_path / "failed.xlsx", dtype=str, engine="calamine")
    assert list(failed["invoice_no"]) == ["R-2026-1042"]


def test_template_mistake_is_a_red_line_and_no_stale_status_stays(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    send_all(panel)
    assert "10 sent" in panel.status.value
    panel.template_text.value = "To: {{ email }\nSubject: x\n\nHallo"
    assert "docmail-error" in panel.summary.value
    assert "Traceback" not in panel.summary.value
    assert panel.status.value == ""  # the last run's lines are gone
    assert panel.progress_box.layout.display == "none"
    assert panel.download.value == ""
    assert panel.grid.rows == []
    panel.send_button.click()
    assert panel.confirm_box.layout.display == "none"


def test_upload_replaces_the_orders_file_and_choices_are_remembered(
    capture: CaptureServer, ledger_file: Path, docmail_home: Path, tmp_path: Path
) -> None:
    content = write_orders_with_a_bad_row(tmp_path).read_bytes()
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    panel.upload.value = (
        {
            "name": "mine.csv",
            "type": "text/csv",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": dt.datetime.now(dt.UTC),
        },
    )
    assert panel.orders_path.value == str(docmail_home / "uploads" / "mine.csv")
    assert (docmail_home / "uploads" / "mine.csv").stat().st_mode & 0o777 == 0o600
    assert (docmail_home / "uploads").stat().st_mode & 0o777 == 0o700
    assert "1 with a problem" in panel.summary.value
    # the next panel (e.g. after a kernel restart) starts where this one ended
    again = SendPanel(profile=capture.profile(), ledger=ledger_file)
    assert again.orders_path.value == str(docmail_home / "uploads" / "mine.csv")


def test_browse_opens_a_file_chooser_that_fills_the_path(
    capture: CaptureServer, ledger_file: Path, tmp_path: Path
) -> None:
    orders = write_orders_with_a_bad_row(tmp_path)
    panel = SendPanel(profile=capture.profile(), ledger=ledger_file)
    panel.orders_path.browse.value = True
    (chooser,) = panel.orders_path.chooser_box.children
    chooser._set_form_values(str(tmp_path), orders.name)  # a click on the folder, the file
    chooser._select.click()
    assert panel.orders_path.value == str(orders)
    assert "1 with a problem" in panel.summary.value


def test_layout_has_no_fixed_pixel_widths(capture: CaptureServer, ledger_file: Path) -> None:
    import ipywidgets

    for panel in (SendPanel(profile=capture.profile(), ledger=ledger_file), SettingsPanel()):
        seen: list[ipywidgets.Widget] = [panel.widget]
        while seen:
            widget = seen.pop()
            layout = getattr(widget, "layout", None)
            for name in ("width", "min_width", "max_width"):
                value = getattr(layout, name, None) or ""
                assert not str(value).endswith("px"), (type(widget).__name__, name, value)
            style = getattr(widget, "style", None)
            width = getattr(style, "description_width", "") or ""
            assert not str(width).endswith("px"), type(widget).__name__
            seen.extend(getattr(widget, "children", ()))


def test_wrong_password_stops_the_batch_with_the_diagnosis(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
    ledger_file: Path,
) -> None:
    server = smtp_server("starttls")
    save_profile(
        Profile(
            "office",
            server.host,
            server.port,
            "starttls",
            "anna@example.ch",
            ca_file=str(ca_file),
        )
    )
    memory_keyring.store[("docmail_nb", "office")] = "wrong horse"
    panel = SendPanel(profile="office", ledger=ledger_file)
    assert "anna@example.ch" in panel.via.value
    panel.send_button.click()
    assert "as anna@example.ch?" in panel.confirm_text.value
    panel.yes_button.click()
    panel.wait(60)
    shown = panel.status.value
    assert "docmail-error" in shown
    assert "username or password" in shown
    assert "wrong horse" not in shown
    assert "10 not sent in this run" in shown, shown  # the honest account
    assert server.messages == []


# -- the notebooks, top to bottom under papermill --------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_smtp_settings.ipynb", "02_send_documents.ipynb"])
def test_notebook_runs_top_to_bottom_under_papermill(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    import papermill

    # a keyring that would fail loudly if opening a notebook touched it
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    output = tmp_path / name
    papermill.execute_notebook(
        str(notebooks / name),
        str(output),
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    executed = nbformat.read(output, as_version=4)
    outputs = [out for cell in executed.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    views = [
        out for out in outputs if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    assert views  # the panel was displayed
    if name.startswith("02"):
        assert outputs[-1]["text"].startswith(
            "0 message(s) captured since this kernel started the capture server;\n"
            f"0 in all in the capture outbox {tmp_path / 'outbox'}:"
        )


def test_settings_panel_tests_imap_names_the_sent_folder_and_keeps_it(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    server = smtp_server("starttls")
    mailbox = dovecot(folders=("Sent", "Gesendet"), special_use={"Gesendet": "\\Sent"})
    panel = SettingsPanel()
    fill(panel, server, ca_file, PASSWORD)
    panel.imap_host.value = mailbox.host
    panel.imap_port.value = mailbox.starttls_port
    panel.imap_security.value = "starttls"
    panel.test_button.click()
    assert "Connected to" in panel.status.value
    assert "Sent folder &#x27;Gesendet&#x27; (marked as Sent)" in panel.status.value
    panel.password.value = PASSWORD
    panel.save_button.click()
    saved = load_profile("office")
    assert (saved.imap_host, saved.imap_port, saved.imap_security) == (
        mailbox.host,
        mailbox.starttls_port,
        "starttls",
    )
    # a Sent folder the server does not have: Test connection says so
    panel.sent_folder.value = "Ausgang"
    panel.test_button.click()
    assert "docmail-error" in panel.status.value
    assert "Ausgang" in panel.status.value
    assert PASSWORD not in panel.status.value
    # shown again from the saved profile
    again = SettingsPanel("office")
    assert again.imap_host.value == mailbox.host
    assert again.imap_security.value == "starttls"


def test_preset_fills_the_imap_host_and_copies_by_provider() -> None:
    panel = SettingsPanel()
    panel.preset.value = "cyon"
    assert (panel.imap_host.value, panel.copy_to_sent.value) == ("mail.cyon.ch", True)
    panel.preset.value = "microsoft365"
    assert (panel.imap_host.value, panel.copy_to_sent.value) == ("", False)


def test_send_panel_shows_the_first_page_of_a_made_invoice(
    capture: CaptureServer, ledger_file: Path
) -> None:
    panel = SendPanel(
        template=sample_dir() / "templates" / "qr_invoice.txt",
        sheet="Rechnungen",
        profile=capture.profile(),
        ledger=ledger_file,
    )
    assert "10 messages from 10 rows: 10 ready" in panel.summary.value
    assert "invoice-R-2026-1041.pdf" in panel.preview.value
    assert "<img alt='invoice-R-2026-1041.pdf, page 1'" in panel.preview.value
    assert "data:image/png;base64," in panel.preview.value
    assert capture.messages == []


def test_a_message_left_sending_by_a_dead_run_is_unknown_in_the_panel_as_in_the_cli(
    tmp_path: Path, ledger_file: Path
) -> None:
    orders = write_orders(tmp_path, 4)
    template = tmp_path / "invoices.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    crash_while_sending(ledger_file, "invoices", "R-1001")
    profile = Profile("office", host="smtp.example.ch", username="anna@example.ch")
    save_profile(profile)
    files = [str(orders), str(template), "--ledger", str(ledger_file), "--profile", "office"]
    dry = CliRunner().invoke(
        main, ["send", *files, "--dry-run", "--yes", "--report", str(tmp_path / "dry.csv")]
    )
    assert dry.exit_code == 1, dry.output  # the unknown message needs attention
    cli = dict(pd.read_csv(tmp_path / "dry.csv", dtype=str)[["key", "state"]].values)
    assert cli == {
        "R-1000": "dry-run",
        "R-1001": "unknown",
        "R-1002": "dry-run",
        "R-1003": "dry-run",
    }

    transport = MemoryTransport()
    panel = SendPanel(orders, template, tmp_path, profile=profile, ledger=ledger_file,
                      transport=transport)  # fmt: skip
    assert {e.key: e.state for e in panel.entries}["R-1001"] == "unknown"
    panel.send_button.click()
    waiting = Batch.from_files(orders, template, profile=profile, ledger=ledger_file).pending()
    assert waiting.question.startswith("Send 3 messages to ")
    assert panel.confirm_text.value.startswith(f"<b>{html.escape(waiting.question)}</b>")
    assert "Not sent again: 1 unknown (may have arrived)." in panel.confirm_text.value
    panel.yes_button.click()
    panel.wait(60)
    assert panel.report is not None
    real = {r.key: r.state for r in panel.report.results}
    assert real == {"R-1000": "sent", "R-1001": "unknown", "R-1002": "sent", "R-1003": "sent"}
    assert sorted(str(s.msg["Subject"]) for s in transport.stored) == [
        "Rechnung R-1000", "Rechnung R-1002", "Rechnung R-1003"
    ]  # fmt: skip
    assert panel.resend_unknown_button.description == "Resend 1 unknown…"
