"""Notebook panels (ipywidgets 8): SMTP settings, and preview-and-send (:mod:`sendpanel`).

Thin faces over :mod:`profiles` and :mod:`smtp` (and, for sending, the core behind
:mod:`sendpanel`). Each panel holds its widget tree in ``.widget`` and displays itself.
Building a panel reads files only: nothing is sent and keyring is not touched until a button
is pressed. A typed password is cleared from its field after Test connection and Save, so it
never stays in the widget state a notebook may save. Layouts follow the notebook's width (no
fixed pixel widths); the choices made last are remembered per user.
"""

from __future__ import annotations

import html
import os
import re
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .auth import auth_status, set_client_secret, sign_in
from .diagnosis import password_notice
from .errors import DocmailError
from .mailbox import check_mailbox
from .panelkit import (
    CSS,
    FIELD_LAYOUT,
    LABEL_STYLE,
    LINE,
    PathField,
    error_line,
    note_line,
    recall,
    remember,
    success_line,
)
from .profiles import (
    PASSWORD_ENV,
    PRESETS,
    SECURITIES,
    USUAL_PORT,
    Profile,
    Security,
    list_profiles,
    password_status,
    preset_imap,
    preset_server,
    save_profile,
    set_password,
)
from .sendpanel import SendPanel
from .smtp import test_connection

__all__ = ["SendPanel", "SettingsPanel"]

_SECURITY_LABELS: dict[Security, str] = {
    "starttls": f"STARTTLS (usually port {USUAL_PORT['starttls']})",
    "ssl": f"SSL/TLS (usually port {USUAL_PORT['ssl']})",
    "none": "None (local relay only)",
}
_NEW_PROFILE = ""


def _text(description: str, **kwargs: Any) -> w.Text:
    return w.Text(description=description, style=LABEL_STYLE, layout=FIELD_LAYOUT, **kwargs)


#: the Authentication choice: label, value ("microsoft"/"google" are both auth "oauth2")
_AUTH_CHOICES = [
    ("Password", "password"),
    ("Microsoft 365 sign-in", "microsoft"),
    ("Google sign-in", "google"),
    ("App-only (Microsoft)", "oauth2-app"),
    ("Token command", "token-command"),
]


def _auth_choice(profile: Profile) -> str:
    if profile.auth == "oauth2":
        return profile.provider
    return profile.auth


def _link_line(text: str) -> str:
    """A note with its https:// link made clickable (the sign-in link and code)."""
    escaped = html.escape(text)
    linked = re.sub(
        r"(https://[^\s<]+)", r"<a href='\1' target='_blank' rel='noopener'>\1</a>", escaped
    )
    return f"<div class='docmail-note docmail-sign-in' style='{LINE}color:#555'>{linked}</div>"


class SettingsPanel:
    """SMTP settings with a preset chooser, Test connection and Save.

    ``SettingsPanel()`` shows the profile chosen last (else the first saved one, else an empty
    form); ``name`` picks one.
    """

    def __init__(self, name: str | None = None) -> None:
        self._loading = False
        self._typed: set[str] = set()  # fields the user changed: presets leave them alone
        self.saved = w.Dropdown(
            description="Saved profiles", style=LABEL_STYLE, layout=FIELD_LAYOUT
        )
        self.preset = w.Dropdown(
            description="Preset",
            options=[(preset.label, key) for key, preset in PRESETS.items()],
            value="generic",
            style=LABEL_STYLE,
            layout=FIELD_LAYOUT,
        )
        self.preset_note = w.HTML(layout={"margin": "0 0 4px 9.5em"})
        self.profile_name = _text("Profile name", placeholder="e.g. office")
        self.host = _text("Host", placeholder="e.g. smtp.office365.com")
        self.port = w.BoundedIntText(
            description="Port",
            value=PRESETS["generic"].port,
            min=1,
            max=65535,
            style=LABEL_STYLE,
            layout={"width": "100%", "max_width": "18em"},
        )
        self.security = w.Dropdown(
            description="Security",
            options=[(_SECURITY_LABELS[s], s) for s in SECURITIES],
            value=PRESETS["generic"].security,
            style=LABEL_STYLE,
            layout=FIELD_LAYOUT,
        )
        self.username = _text("Username", placeholder="usually your e-mail address")
        self.auth = w.Dropdown(
            description="Authentication",
            options=_AUTH_CHOICES,
            value="password",
            style=LABEL_STYLE,
            layout=FIELD_LAYOUT,
        )
        self.tenant = _text("Tenant", placeholder="your domain or directory (tenant) ID")
        self.client_id = _text("Client ID", placeholder="application (client) ID")
        self.client_secrets = _text("Client file", placeholder="Google OAuth client JSON file")
        self.token_command = _text("Token command", placeholder="prints an access token")
        self.authority = _text("Authority", placeholder="empty: https://login.microsoftonline.com")
        self.sign_in_button = w.Button(description="Sign in", layout={"width": "auto"})
        self._sign_in_thread: threading.Thread | None = None
        self.password = w.Password(
            description="Password",
            placeholder="password or app password",
            style=LABEL_STYLE,
            layout=FIELD_LAYOUT,
        )
        self.password_note = w.HTML(layout={"margin": "0 0 4px 9.5em"})
        self.from_addr = _text("From", placeholder="empty: the username")
        self.reply_to = _text("Reply-To", placeholder="optional")
        self.ca_path = PathField("CA file", "", pattern=["*.pem", "*.crt", "*.cer"])
        self.ca_file = self.ca_path.text
        self.ca_file.placeholder = "PEM file to trust (optional)"
        self.imap_host = _text("IMAP host", placeholder="for the Sent folder (optional)")
        self.imap_port = w.BoundedIntText(
            description="IMAP port",
            value=0,
            min=0,
            max=65535,
            style=LABEL_STYLE,
            layout={"width": "100%", "max_width": "18em"},
            tooltip="0: 993 for TLS, 143 for STARTTLS",
        )
        self.imap_security = w.Dropdown(
            description="IMAP security",
            options=[("TLS (usually port 993)", "ssl"), ("STARTTLS (usually 143)", "starttls")],
            value="ssl",
            style=LABEL_STYLE,
            layout=FIELD_LAYOUT,
        )
        self.sent_folder = _text("Sent folder", placeholder="empty: found automatically")
        self.copy_to_sent = w.Checkbox(
            description="Keep a copy of each sent message in Sent",
            value=True,
            indent=False,
            layout={"margin": "0 0 0 9.5em"},
        )
        self.advanced = w.Accordion(
            children=[
                w.VBox(
                    [
                        self.ca_path.widget,
                        self.authority,
                        self.imap_host,
                        self.imap_port,
                        self.imap_security,
                        self.sent_folder,
                        self.copy_to_sent,
                    ]
                )
            ],
            titles=("Advanced",),
        )
        self.advanced.selected_index = None
        self.test_button = w.Button(description="Test connection", layout={"width": "auto"})
        self.save_button = w.Button(
            description="Save", button_style="primary", layout={"width": "auto"}
        )
        self.status = w.HTML(layout={"width": "100%"})

        self.preset.observe(self._on_preset, names="value")
        self.security.observe(self._on_security, names="value")
        self.auth.observe(self._on_auth, names="value")
        self.sign_in_button.on_click(self._on_sign_in)
        self.saved.observe(self._on_saved, names="value")
        for field in ("host", "port", "security", "imap_host"):
            getattr(self, field).observe(self._typed_in(field), names="value")
        self.test_button.on_click(self._on_test)
        self.save_button.on_click(self._on_save)

        self.widget = w.VBox(
            [
                w.HTML(CSS + "<h3 style='margin:0 0 6px 0'>SMTP settings</h3>"),
                self.saved,
                self.preset,
                self.preset_note,
                self.profile_name,
                self.host,
                self.port,
                self.security,
                self.username,
                self.auth,
                self.tenant,
                self.client_id,
                self.client_secrets,
                self.token_command,
                self.password,
                self.password_note,
                self.from_addr,
                self.reply_to,
                self.advanced,
                w.HBox([self.test_button, self.sign_in_button, self.save_button]),
                self.status,
            ],
            layout={"width": "100%", "max_width": "48em", "padding": "4px"},
        )
        self.widget.add_class("docmail-settings")

        self._show_auth_fields()
        profiles = list_profiles()
        self._set_saved_options(profiles)
        wanted = name or recall("settings").get("profile")
        chosen = next((p for p in profiles if p.name == wanted), None)
        if name is not None and chosen is None:
            self.profile_name.value = name
            self.password_note.value = note_line("A new profile: fill in the server and Save.")
        elif chosen or profiles:
            shown = chosen or profiles[0]
            self._show_profile(shown)
            # opening reads no keyring: only a button or choosing a profile does
            if shown.auth != "password":
                label = {v: k for k, v in _AUTH_CHOICES}[_auth_choice(shown)]
                note = note_line(f"Logs in with {label}; Test connection checks the sign-in.")
            elif not shown.username or os.environ.get(PASSWORD_ENV):
                note = self._password_note(shown)
            else:
                note = note_line(
                    "Leave Password empty to keep the password stored in keyring, if one is "
                    "(choose the profile above or press Test connection to find out)."
                )
            self.password_note.value = note
        self._show_preset_note()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- reading and filling the form ---------------------------------------------------

    def profile(self) -> Profile:
        """The profile the form describes; raises ProfileError when a field is invalid."""
        return Profile(
            name=self.profile_name.value.strip(),
            host=self.host.value.strip(),
            port=int(self.port.value),
            security=self.security.value,
            username=self.username.value.strip(),
            from_addr=self.from_addr.value.strip(),
            reply_to=self.reply_to.value.strip(),
            ca_file=self.ca_file.value.strip(),
            preset=self.preset.value,
            imap_host=self.imap_host.value.strip(),
            imap_port=int(self.imap_port.value),
            imap_security=self.imap_security.value,
            sent_folder=self.sent_folder.value.strip(),
            copy_to_sent=bool(self.copy_to_sent.value),
            **self._auth_settings(),
        )

    def _auth_settings(self) -> dict[str, Any]:
        """The sign-in settings of the chosen Authentication (only those it uses)."""
        choice = self.auth.value
        if choice == "password":
            return {}
        if choice == "token-command":
            return {"auth": "token-command", "token_command": self.token_command.value.strip()}
        if choice == "google":
            return {"auth": "oauth2", "client_secrets": self.client_secrets.value.strip()}
        return {
            "auth": "oauth2" if choice == "microsoft" else "oauth2-app",
            "tenant": self.tenant.value.strip(),
            "client_id": self.client_id.value.strip(),
            "authority": self.authority.value.strip(),
        }

    def _typed_in(self, field: str) -> Callable[[dict[str, Any]], None]:
        def note(_change: dict[str, Any]) -> None:
            if not self._loading:
                self._typed.add(field)

        return note

    def _show_profile(self, profile: Profile) -> None:
        self._loading = True
        try:
            self.saved.value = profile.name
            self.preset.value = profile.preset
            self.profile_name.value = profile.name
            self.host.value = profile.host
            self.security.value = profile.security
            self.port.value = profile.port
            self.username.value = profile.username
            self.password.value = ""
            self.from_addr.value = profile.from_addr
            self.reply_to.value = profile.reply_to
            self.ca_file.value = profile.ca_file
            self.imap_host.value = profile.imap_host
            self.imap_port.value = profile.imap_port
            self.imap_security.value = profile.imap_security
            self.sent_folder.value = profile.sent_folder
            self.copy_to_sent.value = profile.copy_to_sent
            self.auth.value = _auth_choice(profile)
            self.tenant.value = profile.tenant
            self.client_id.value = profile.client_id
            self.authority.value = profile.authority
            self.client_secrets.value = profile.client_secrets
            self.token_command.value = profile.token_command
        finally:
            self._loading = False
        self._show_auth_fields()
        # a saved profile's values are the user's
        self._typed = {"host", "port", "security", "imap_host"}
        self._show_preset_note()

    def _set_saved_options(self, profiles: list[Profile]) -> None:
        self._loading = True
        try:
            self.saved.options = [("(new profile)", _NEW_PROFILE)] + [
                (p.name, p.name) for p in profiles
            ]
        finally:
            self._loading = False

    def _password_note(self, profile: Profile) -> str:
        """What is true about this profile's password, from the one rule in profiles."""
        if profile.auth != "password":
            return note_line(auth_status(profile))
        notice = password_notice(profile)
        if notice:
            return note_line(notice)
        status = password_status(profile)
        if status == "stored":
            return note_line(
                f"A password for '{profile.name}' is stored in keyring; leave Password empty "
                "to keep it."
            )
        if status == "environment":
            return note_line(
                "The password comes from DOCMAIL_SMTP_PASSWORD in this kernel's environment; "
                "nothing is stored in keyring."
            )
        if status == "not needed":
            return note_line("No username: this server is used without a login or password.")
        return note_line(f"No password is stored for '{profile.name}' yet.")

    def _show_preset_note(self) -> None:
        preset = PRESETS[self.preset.value]
        limits = ", ".join(preset.limits.lines())
        usual = f"{preset.host or 'your server'}, port {preset.port} with {preset.security}"
        self.preset_note.value = note_line(
            f"{preset.label}: {usual}. "
            + (f"Known limits, applied when sending: {limits}." if limits else "No known limits.")
        )

    # -- reactions ------------------------------------------------------------------------

    def _on_preset(self, change: dict[str, Any]) -> None:
        self._show_preset_note()
        if self._loading:
            return
        preset = PRESETS[change["new"]]
        typed_host = self.host.value.strip() if "host" in self._typed else ""
        host, port, security = preset_server(  # what the preset fills, as profile add does
            preset.key,
            host=typed_host or None,
            port=int(self.port.value) if "port" in self._typed else None,
            security=self.security.value if "security" in self._typed else None,
        )
        self._loading = True
        try:
            if host:  # the generic preset has none: the field keeps its value
                self.host.value = host
            self.security.value = security
            self.port.value = port
            imap = preset_imap(preset.key)
            if "imap_host" not in self._typed or not self.imap_host.value.strip():
                self.imap_host.value = imap["imap_host"]
            self.copy_to_sent.value = imap["copy_to_sent"]
        finally:
            self._loading = False
        kept = sorted(self._typed & {"host", "port", "security", "imap_host"})
        if kept:
            self.status.value = note_line(
                f"Kept what you typed in {', '.join(kept)}; the preset suggests "
                f"{preset.host or 'your own host'}:{preset.port} with {preset.security}."
            )

    def _on_auth(self, change: dict[str, Any]) -> None:
        self._show_auth_fields()
        if self._loading:
            return
        notes = {
            "microsoft": "Fill in Tenant and Client ID (from your administrator), Save, then "
            "Sign in.",
            "google": "Give the Google OAuth client file, Save, then Sign in.",
            "oauth2-app": "Fill in Tenant and Client ID; the client secret is kept in keyring "
            "on Save.",
            "token-command": "The command prints an access token each time docmail logs in.",
        }
        self.password_note.value = note_line(notes.get(change["new"], ""))

    def _show_auth_fields(self) -> None:
        """Show the fields the chosen Authentication needs; the rest are hidden."""
        choice = self.auth.value
        wanted = {
            self.tenant: choice in ("microsoft", "oauth2-app"),
            self.client_id: choice in ("microsoft", "oauth2-app"),
            self.client_secrets: choice == "google",
            self.token_command: choice == "token-command",
            self.password: choice in ("password", "oauth2-app"),
            self.sign_in_button: choice in ("microsoft", "google"),
        }
        for field, shown in wanted.items():
            field.layout.display = "" if shown else "none"
        self.password.description = "Client secret" if choice == "oauth2-app" else "Password"

    def _on_sign_in(self, _button: w.Button | None = None) -> None:
        """Sign in in the background: the device code and link appear in the status line."""
        try:
            profile = self.profile()
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        self.status.value = note_line("Signing in …")

        def show(text: str) -> None:
            self.status.value = _link_line(text)

        def run() -> None:
            try:
                said = sign_in(profile, show=show)
            except DocmailError as exc:
                self.status.value = error_line(exc.message, exc.hint)
                return
            self.status.value = success_line(said)
            self.password_note.value = note_line(auth_status(profile))

        self._sign_in_thread = threading.Thread(target=run, daemon=True)
        self._sign_in_thread.start()

    def _on_security(self, change: dict[str, Any]) -> None:
        if self._loading or "port" in self._typed:
            return
        self._loading = True
        try:
            self.port.value = preset_server(self.preset.value, security=change["new"])[1]
        finally:
            self._loading = False

    def _on_saved(self, change: dict[str, Any]) -> None:
        if self._loading:
            return
        name = change["new"]
        self.status.value = ""
        if name == _NEW_PROFILE:
            self._show_profile_cleared()
            return
        profile = next((p for p in list_profiles() if p.name == name), None)
        if profile is None:
            self.status.value = error_line(
                f"The profile {name!r} is no longer saved.", "Choose another one or add it again."
            )
            return
        self._show_profile(profile)
        self.password_note.value = self._password_note(profile)
        remember("settings", profile=name)

    def _show_profile_cleared(self) -> None:
        self._loading = True
        try:
            for field in (self.profile_name, self.host, self.username, self.password):
                field.value = ""
            for field in (self.from_addr, self.reply_to, self.ca_file):
                field.value = ""
            self.imap_host.value = self.sent_folder.value = ""
            self.imap_port.value = 0
            self.imap_security.value = "ssl"
            self.copy_to_sent.value = True
            for field in (self.tenant, self.client_id, self.authority):
                field.value = ""
            for field in (self.client_secrets, self.token_command):
                field.value = ""
            self.auth.value = "password"
            self.preset.value = "generic"
            _, self.port.value, self.security.value = preset_server("generic")
        finally:
            self._loading = False
        self._typed = set()
        self._show_preset_note()
        self.password_note.value = note_line("A new profile: fill in the server and Save.")

    def _take_password(self) -> str | None:
        """The typed password, removed from the field at once."""
        typed = str(self.password.value)
        self.password.value = ""
        return typed or None

    def _on_test(self, _button: w.Button | None = None) -> None:
        password = self._take_password()
        try:
            profile = self.profile()
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        self.status.value = note_line(
            f"Connecting to {profile.host}:{profile.port} … (waiting up to "
            f"{profile.timeout:g} s for the server)"
        )
        self.test_button.disabled = self.save_button.disabled = True
        self.test_button.icon = "spinner"
        self.test_button.description = "Testing …"
        try:
            result = test_connection(profile, password)
        finally:
            self.test_button.disabled = self.save_button.disabled = False
            self.test_button.icon = ""
            self.test_button.description = "Test connection"
        if result.ok:
            self.status.value = success_line(result.summary) + (
                note_line(result.hint) if result.hint else ""
            )
        else:
            said = " ".join(str(part) for part in (result.code, result.reply) if part)
            detail = f" (server said: {said})" if said else ""
            self.status.value = error_line(result.summary + detail, result.hint)
        if profile.imap_host and result.kind != "no_password":
            self.status.value += note_line(f"Looking for the Sent folder on {profile.imap_host} …")
            imap = check_mailbox(profile, password)
            self.status.value = self.status.value.rsplit("<div class='docmail-note'", 1)[0] + (
                success_line(imap.summary) if imap.ok else error_line(imap.summary, imap.hint)
            )
        if password:
            self.password_note.value = note_line(
                "The password was cleared from the form; type it again before Save to keep it."
            )

    def _on_save(self, _button: w.Button | None = None) -> None:
        password = self._take_password()
        try:
            profile = self.profile()
            if password:  # the keyring first: when it cannot store, nothing is written
                if profile.auth == "oauth2-app":
                    set_client_secret(profile, password)
                else:
                    set_password(profile.name, password)
            path = save_profile(profile)
        except DocmailError as exc:
            nothing = " Nothing was saved." if password else ""
            self.status.value = error_line(exc.message + nothing, exc.hint)
            self.password_note.value = note_line(
                "The password was cleared from the form; type it again to retry."
                if password
                else ""
            )
            return
        self._set_saved_options(list_profiles())
        self._loading = True
        self.saved.value = profile.name
        self._loading = False
        remember("settings", profile=profile.name)
        stored = " The password is stored in keyring." if password else ""
        self.status.value = success_line(f"Saved profile '{profile.name}' in {path}.{stored}")
        self.password_note.value = self._password_note(profile)
