"""The settings panel's Authentication choice and Sign in, in Chromium through Voila."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from identity import IdentityServer
from playwright.sync_api import Page, expect
from servers import SMTPTestServer
from test_browser import (
    VoilaServer,
    browser,
    keyring_dir,
    open_notebook,
    page,
    screenshot,
    settings_field,
    stored_passwords,
    voila,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["browser", "keyring_dir", "page", "voila"]  # fixtures shared with test_browser


def test_settings_panel_signs_in_with_a_device_code(
    identity: IdentityServer,
    page: Page,
    voila: Callable[[str], VoilaServer],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    keyring_dir: Path,
) -> None:
    identity.add_client("app-user")
    identity.state.pending_polls = -1  # only the user entering the code completes the sign-in
    server = smtp_server("starttls", identity=identity, exclude_auth=("PLAIN", "LOGIN"))
    notebook = voila("01_smtp_settings.ipynb")
    open_notebook(page, notebook, "docmail-settings")
    panel = page.locator(".docmail-settings")

    settings_field(page, "Preset").select_option(label="Microsoft 365 / Exchange Online")
    settings_field(page, "Profile name").fill("office")
    settings_field(page, "Host").fill(server.host)
    settings_field(page, "Port").fill(str(server.port))
    settings_field(page, "Port").press("Tab")
    settings_field(page, "Username").fill("anna@example.ch")
    expect(settings_field(page, "Client ID")).to_be_hidden()
    settings_field(page, "Authentication").select_option(label="Microsoft 365 sign-in")
    expect(settings_field(page, "Password")).to_be_hidden()
    settings_field(page, "Tenant").fill("contoso")
    settings_field(page, "Client ID").fill("app-user")
    panel.get_by_text("Advanced").click()
    settings_field(page, "CA file").fill(str(ca_file))
    settings_field(page, "Authority").fill(identity.authority())
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator(".docmail-ok")).to_contain_text("Saved profile 'office'")

    panel.get_by_role("button", name="Sign in").click()
    prompt = panel.locator(".docmail-sign-in")
    expect(prompt).to_contain_text("enter the code")
    link = prompt.get_by_role("link")
    expect(link).to_have_attribute("href", f"{identity.base_url}/devicelogin")
    code = re.search(r"code (\w+)", prompt.inner_text())
    assert code is not None
    screenshot(page, ".docmail-settings", "settings-panel-sign-in.png")
    identity._httpd.approve(code.group(1))  # the user enters the code at the link

    signed_in = panel.locator(".docmail-ok")
    expect(signed_in).to_contain_text("Signed in to Microsoft as anna@example.ch")
    assert "RefreshToken" in stored_passwords(keyring_dir).get("docmail_nb/office/tokens", "")
    panel.get_by_role("button", name="Test connection").click()
    expect(panel.locator(".docmail-ok")).to_contain_text("(oauth2)")
    assert server.record.auth_attempts == [("XOAUTH2", "anna@example.ch")]
