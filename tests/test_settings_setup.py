"""The settings panel on the setup core: a typed password lives through Test connection and
Save stores it; the preset note agrees with the fields shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ipywidgets
from conftest import MemoryKeyring
from servers import SMTPTestServer

from docmail_nb.widgets import SettingsPanel

PASSWORD = "correct horse"


def fill(panel: SettingsPanel, server: SMTPTestServer, ca_file: Path) -> None:
    panel.profile_name.value = "office"
    panel.host.value = server.host
    panel.security.value = "starttls"
    panel.port.value = server.port
    panel.username.value = "anna@example.ch"
    panel.ca_file.value = str(ca_file)


def test_type_test_then_save_stores_the_tested_password(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file)
    panel.password.value = PASSWORD
    panel.test_button.click()
    assert "Connected to 127.0.0.1" in panel.status.value
    assert panel.password.value == ""  # out of the field: never in the widget state
    assert PASSWORD not in repr(ipywidgets.Widget.get_manager_state(drop_defaults=False))
    assert "kept for Save" in panel.password.placeholder

    panel.save_button.click()
    assert "Saved profile &#x27;office&#x27;" in panel.status.value
    assert "The password is stored in keyring." in panel.status.value
    assert memory_keyring.store == {("docmail_nb", "office"): PASSWORD}
    assert "is stored in keyring" in panel.password_note.value
    assert "No password is stored" not in panel.password_note.value


def test_a_wrong_password_is_kept_until_another_is_typed(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file)
    panel.password.value = "wrong horse"
    panel.test_button.click()
    assert "535" in panel.status.value
    assert "typed in the form" in panel.status.value  # where the password tried came from
    panel.password.value = PASSWORD
    panel.test_button.click()
    assert "Connected to" in panel.status.value
    panel.save_button.click()
    assert memory_keyring.store == {("docmail_nb", "office"): PASSWORD}


def test_choosing_another_profile_forgets_the_typed_password(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, memory_keyring: MemoryKeyring
) -> None:
    server = smtp_server("starttls")
    panel = SettingsPanel()
    fill(panel, server, ca_file)
    panel.password.value = PASSWORD
    panel.save_button.click()
    panel.saved.value = ""  # (new profile)
    fill(panel, server, ca_file)
    panel.profile_name.value = "other"
    panel.password.value = "typed for other"
    panel.test_button.click()
    panel.saved.value = "office"
    panel.save_button.click()
    assert memory_keyring.store == {("docmail_nb", "office"): PASSWORD}


def test_the_preset_note_follows_the_port_and_security_shown() -> None:
    panel = SettingsPanel()
    assert "port 587 with STARTTLS" in panel.preset_note.value
    panel.security.value = "ssl"
    assert "port 465 with SSL/TLS" in panel.preset_note.value
    assert "587" not in panel.preset_note.value
    panel.preset.value = "microsoft365"  # the security chosen is kept, and said
    assert "smtp.office365.com, port 465 with SSL/TLS" in panel.preset_note.value
    fresh = SettingsPanel()
    fresh.preset.value = "microsoft365"
    assert "smtp.office365.com, port 587 with STARTTLS" in fresh.preset_note.value
    panel.port.value = 2525
    assert "the form has port 2525" in panel.preset_note.value
