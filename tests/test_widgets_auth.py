"""The settings panel's Authentication choice from Python: fields, Save, notice, Sign in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import MemoryKeyring
from identity import IdentityServer
from servers import SMTPTestServer

from docmail_nb._store.profiles import Profile, load_profile, save_profile
from docmail_nb.widgets import SettingsPanel

USER = "anna@example.ch"


def shown(widget: object) -> bool:
    return widget.layout.display != "none"  # type: ignore[attr-defined]


def test_each_authentication_shows_its_fields(memory_keyring: MemoryKeyring) -> None:
    panel = SettingsPanel()
    labels = [label for label, _value in panel.auth.options]
    assert labels == [
        "Password",
        "Microsoft 365 sign-in",
        "Google sign-in",
        "App-only (Microsoft)",
        "Token command",
    ]
    assert shown(panel.password)
    assert not shown(panel.client_id)
    assert not shown(panel.sign_in_button)

    panel.auth.value = "microsoft"
    assert shown(panel.tenant)
    assert shown(panel.client_id)
    assert shown(panel.sign_in_button)
    assert not shown(panel.password)
    panel.auth.value = "oauth2-app"
    assert shown(panel.password)
    assert panel.password.description == "Client secret"
    assert not shown(panel.sign_in_button)
    panel.auth.value = "google"
    assert shown(panel.client_secrets)
    assert not shown(panel.client_id)
    panel.auth.value = "token-command"
    assert shown(panel.token_command)
    assert not shown(panel.password)


def test_app_only_save_keeps_the_client_secret_in_keyring_not_the_file(
    memory_keyring: MemoryKeyring,
) -> None:
    panel = SettingsPanel()
    panel.preset.value = "microsoft365"
    panel.profile_name.value = "robot"
    panel.username.value = USER
    panel.auth.value = "oauth2-app"
    panel.tenant.value = "contoso"
    panel.client_id.value = "app-only"
    panel.password.value = "s3cret-of-the-app"

    panel.save_button.click()

    assert "Saved profile &#x27;robot&#x27;" in panel.status.value
    saved = load_profile("robot")
    assert (saved.auth, saved.tenant, saved.client_id) == ("oauth2-app", "contoso", "app-only")
    assert memory_keyring.store == {("docmail_nb", "robot/client-secret"): "s3cret-of-the-app"}
    assert panel.password.value == ""
    assert "client secret in keyring" in panel.password_note.value
    reloaded = SettingsPanel("robot")
    assert reloaded.auth.value == "oauth2-app"
    assert reloaded.client_id.value == "app-only"


def test_microsoft_365_password_profile_shows_the_notice(memory_keyring: MemoryKeyring) -> None:
    save_profile(Profile("office", host="smtp.office365.com", username=USER, preset="microsoft365"))
    save_profile(Profile("hoster", host="mail.example.ch", username=USER))
    panel = SettingsPanel()

    panel.saved.value = "office"
    notice = panel.password_note.value
    panel.saved.value = "hoster"

    assert "end of December 2026" in notice
    assert "--auth oauth2" in notice
    assert "December 2026" not in panel.password_note.value


def test_sign_in_button_shows_the_code_then_success(
    identity: IdentityServer,
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    memory_keyring: MemoryKeyring,
) -> None:
    identity.add_client("app-user")
    server = smtp_server("starttls", identity=identity, exclude_auth=("PLAIN", "LOGIN"))
    panel = SettingsPanel()
    panel.preset.value = "microsoft365"
    panel.profile_name.value = "office"
    panel.host.value = server.host
    panel.port.value = server.port
    panel.username.value = USER
    panel.ca_file.value = str(ca_file)
    panel.auth.value = "microsoft"
    panel.client_id.value = "app-user"
    panel.authority.value = identity.authority()
    seen: list[str] = []
    panel.status.observe(lambda change: seen.append(change["new"]), names="value")

    panel.sign_in_button.click()
    assert panel._sign_in_thread is not None
    panel._sign_in_thread.join(timeout=60)

    prompt = next(value for value in seen if "enter the code" in value)
    assert f"<a href='{identity.base_url}/devicelogin'" in prompt
    assert "Signed in to Microsoft as anna@example.ch" in panel.status.value
    panel.test_button.click()
    assert "(oauth2)" in panel.status.value
