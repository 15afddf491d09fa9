"""Notebook panels (ipywidgets 8): SMTP settings, and preview-and-send (:mod:`sendpanel`).

Thin faces over :class:`~docmail_nb.setup.ProfileSetup` (and, for sending, the core behind
:mod:`sendpanel`). Each panel holds its widget tree in ``.widget`` and displays itself.
Building a panel reads files only: nothing is sent and keyring is not touched until a button
is pressed. Testing and saving go through the setup core, as the command line does. A typed
password is taken out of its field at once (so it never stays in the widget state a notebook
may save) and kept by the panel, in the kernel, through Test connection: Save stores the
password that was tested. Choosing another profile forgets it. Layouts follow the notebook's
width (no fixed pixel widths); the choices made last are remembered per user.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from docmail_nb import PRESETS, USUAL_PORT, Profile, list_profiles, sign_in
from docmail_nb._panelkit import (
    CSS,
    FIELD_LAYOUT,
    LABEL_STYLE,
    LINE,
    PathField,
    error_line,
    note_line,
    problem_line,
    recall,
    remember,
    success_line,
)
from docmail_nb.errors import DocmailError, SecretStoreError
from docmail_nb.sendpanel import SendPanel
from docmail_nb.setup import (
    PASSWORD_ENV,
    SECURITIES,
    ProfileSetup,
    Security,
    auth_status,
    describe_preset,
    password_state,
    preset_imap,
    preset_server,
)
from docmail_nb.words import speak_as

__all__ = ["SendPanel", "SettingsPanel"]

_SECURITY_LABELS: dict[Security, str] = {
    "starttls": f"STARTTLS (usually port {USUAL_PORT['starttls']})",
    "ssl": f"SSL/TLS (usually port {USUAL_PORT['ssl']})",
    "none": "None (local relay only)",
}
_NEW_PROFILE = ""


#: the Profile settings the form shows, each in the widget of the same name
_FORM_FIELDS = (
    "host", "port", "security", "username", "from_addr", "reply_to", "ca_file", "imap_host",
    "imap_port", "imap_security", "sent_folder", "copy_to_sent",
)  # fmt: skip
#: the sign-in settings; a profile takes those its Authentication uses (``_auth_settings``)
_AUTH_FIELDS = ("tenant", "client_id", "authority", "client_secrets", "token_command")
#: what a cleared form shows: a new profile's defaults
_BLANK: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(Profile) if f.default is not dataclasses.MISSING
} | {"host": ""}
#: settings the form has no field for (``docmail profile add`` sets them): kept on Save
_KEPT_FIELDS = ("timeout", "verify_tls")
#: fields a preset fills unless the user typed in them
_PRESET_FIELDS = ("host", "port", "security", "imap_host")


def _text(description: str, **kwargs: Any) -> w.Text:
    return w.Text(description=description, style=LABEL_STYLE, layout=FIELD_LAYOUT, **kwargs)


def _choice(description: str, options: Any, value: Any) -> w.Dropdown:
    return w.Dropdown(
        description=description, options=options, value=value, style=LABEL_STYLE,
        layout=FIELD_LAYOUT,
    )  # fmt: skip


def _port(description: str, value: int, *, lowest: int = 1, **kwargs: Any) -> w.BoundedIntText:
    return w.BoundedIntText(
        description=description, value=value, min=lowest, max=65535, style=LABEL_STYLE,
        layout={"width": "100%", "max_width": "18em"}, **kwargs,
    )  # fmt: skip


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
        speak_as("panel")  # hints name the panel's fields, not command-line options
        self._loading = False
        self._typed: set[str] = set()  # fields the user changed: presets leave them alone
        self._sign_in_thread: threading.Thread | None = None
        self._shown: Profile | None = None  # the saved profile in the form, if any
        self._kept: str | None = None  # the password typed, out of the field, until Save
        self._build_server_fields()
        self._build_login_fields()
        self._build_advanced()
        self._build_buttons()
        self._wire_events()
        self.widget = self._layout()
        self._show_auth_fields()
        self._open(name)
        self._show_preset_note()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- building -------------------------------------------------------------------------

    def _build_server_fields(self) -> None:
        """Saved profile, preset, name, and the server: host, port, security."""
        generic = PRESETS["generic"]
        self.saved = _choice("Saved profiles", [], None)
        self.preset = _choice(
            "Preset", [(preset.label, key) for key, preset in PRESETS.items()], generic.key
        )
        self.preset_note = w.HTML(layout={"margin": "0 0 4px 9.5em"})
        self.profile_name = _text("Profile name", placeholder="e.g. office")
        self.host = _text("Host", placeholder="e.g. smtp.office365.com")
        self.port = _port("Port", generic.port)
        self.security = _choice(
            "Security", [(_SECURITY_LABELS[s], s) for s in SECURITIES], generic.security
        )

    def _build_login_fields(self) -> None:
        """Username, how to log in (and the fields each way needs), the sender's addresses."""
        self.username = _text("Username", placeholder="usually your e-mail address")
        self.auth = _choice("Authentication", _AUTH_CHOICES, "password")
        self.tenant = _text("Tenant", placeholder="your domain or directory (tenant) ID")
        self.client_id = _text("Client ID", placeholder="application (client) ID")
        self.client_secrets = _text("Client file", placeholder="Google OAuth client JSON file")
        self.token_command = _text("Token command", placeholder="prints an access token")
        self.sign_in_button = w.Button(description="Sign in", layout={"width": "auto"})
        self.password = w.Password(
            description="Password",
            placeholder="password or app password",
            style=LABEL_STYLE,
            layout=FIELD_LAYOUT,
        )
        self.password_note = w.HTML(layout={"margin": "0 0 4px 9.5em"})
        self.from_addr = _text("From", placeholder="empty: the username")
        self.reply_to = _text("Reply-To", placeholder="optional")

    def _build_advanced(self) -> None:
        """CA file, sign-in authority and the IMAP settings, folded away."""
        self.ca_path = PathField("CA file", "", pattern=["*.pem", "*.crt", "*.cer"])
        self.ca_file = self.ca_path.text
        self.ca_file.placeholder = "PEM file to trust (optional)"
        self.authority = _text("Authority", placeholder="empty: https://login.microsoftonline.com")
        self.imap_host = _text("IMAP host", placeholder="for the Sent folder (optional)")
        self.imap_port = _port("IMAP port", 0, lowest=0, tooltip="0: 993 for TLS, 143 for STARTTLS")
        self.imap_security = _choice(
            "IMAP security",
            [("TLS (usually port 993)", "ssl"), ("STARTTLS (usually 143)", "starttls")],
            "ssl",
        )
        self.sent_folder = _text("Sent folder", placeholder="empty: found automatically")
        self.copy_to_sent = w.Checkbox(
            description="Keep a copy of each sent message in Sent",
            value=True,
            indent=False,
            layout={"margin": "0 0 0 9.5em"},
        )
        fields = [self.ca_path.widget, self.authority, self.imap_host, self.imap_port]
        fields += [self.imap_security, self.sent_folder, self.copy_to_sent]
        self.advanced = w.Accordion(children=[w.VBox(fields)], titles=("Advanced",))
        self.advanced.selected_index = None

    def _build_buttons(self) -> None:
        self.test_button = w.Button(description="Test connection", layout={"width": "auto"})
        self.save_button = w.Button(
            description="Save", button_style="primary", layout={"width": "auto"}
        )
        self.status = w.HTML(layout={"width": "100%"})

    def _wire_events(self) -> None:
        self.preset.observe(self._on_preset, names="value")
        self.port.observe(self._show_preset_note, names="value")
        self.security.observe(self._show_preset_note, names="value")
        self.security.observe(self._on_security, names="value")
        self.auth.observe(self._on_auth, names="value")
        self.sign_in_button.on_click(self._on_sign_in)
        self.saved.observe(self._on_saved, names="value")
        for field in _PRESET_FIELDS:
            getattr(self, field).observe(self._typed_in(field), names="value")
        self.test_button.on_click(self._on_test)
        self.save_button.on_click(self._on_save)

    def _layout(self) -> w.VBox:
        panel = w.VBox(
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
        panel.add_class("docmail-settings")
        return panel

    def _open(self, name: str | None) -> None:
        """Show profile ``name``, else the one chosen last, else the first saved one."""
        profiles = list_profiles()
        self._set_saved_options(profiles)
        wanted = name or recall("settings").get("profile")
        chosen = next((p for p in profiles if p.name == wanted), None)
        if name is not None and chosen is None:
            self.profile_name.value = name
            self.password_note.value = note_line("A new profile: fill in the server and Save.")
            return
        if not (chosen or profiles):
            return
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

    # -- reading and filling the form ---------------------------------------------------

    def profile(self) -> Profile:
        """The profile the form describes; raises ProfileError when a field is invalid."""
        values: dict[str, Any] = {field: getattr(self, field).value for field in _FORM_FIELDS}
        values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
        if self._shown is not None:  # what the form has no field for stays as it was saved
            values |= {field: getattr(self._shown, field) for field in _KEPT_FIELDS}
        return Profile(
            name=self.profile_name.value.strip(),
            preset=self.preset.value,
            **values,
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
        settings = {
            "auth": "oauth2" if choice == "microsoft" else "oauth2-app",
            "tenant": self.tenant.value.strip(),
            "client_id": self.client_id.value.strip(),
            "authority": self.authority.value.strip(),
        }
        if choice == "oauth2-app" and self._shown is not None:  # set with profile add only
            settings["certificate"] = self._shown.certificate
        return settings

    def _typed_in(self, field: str) -> Callable[[dict[str, Any]], None]:
        def note(_change: dict[str, Any]) -> None:
            if not self._loading:
                self._typed.add(field)

        return note

    def _show_profile(self, profile: Profile) -> None:
        self._loading = True
        try:
            self._shown = profile
            self.saved.value = profile.name
            self.preset.value = profile.preset
            self.profile_name.value = profile.name
            for field in (*_FORM_FIELDS, *_AUTH_FIELDS):
                getattr(self, field).value = getattr(profile, field)
            self.password.value = ""
            self.auth.value = _auth_choice(profile)
        finally:
            self._loading = False
        self._show_auth_fields()
        self._typed = set(_PRESET_FIELDS)  # a saved profile's values are the user's
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
        setup = ProfileSetup(profile)
        notice = setup.notice()
        if notice:
            return note_line(notice)
        state = password_state(profile)
        if state.kind == "stored":
            return note_line(f"{state.sentence} Leave Password empty to keep it.")
        if state.kind == "missing":
            return note_line(f"{state.sentence} Type it above; Save keeps it in keyring.")
        return note_line(state.sentence)

    def _show_preset_note(self, _change: Any = None) -> None:
        """The preset's server and limits, in words that agree with the port and security
        the form shows."""
        self.preset_note.value = note_line(
            describe_preset(
                self.preset.value, port=int(self.port.value), security=self.security.value
            )
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
        kept = sorted(self._typed & set(_PRESET_FIELDS))
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
            self.status.value = problem_line(exc)
            return
        self.status.value = note_line("Signing in …")

        def show(text: str) -> None:
            self.status.value = _link_line(text)

        def run() -> None:
            try:
                said = sign_in(profile, show=show)
            except DocmailError as exc:
                self.status.value = problem_line(exc)
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
        self._forget_typed()  # a password typed for another profile is not this one's
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
            self._shown = None
            self.profile_name.value = self.password.value = ""
            for field in (*_FORM_FIELDS, *_AUTH_FIELDS):
                getattr(self, field).value = _BLANK[field]
            self.auth.value = "password"
            self.preset.value = "generic"
            _, self.port.value, self.security.value = preset_server("generic")
        finally:
            self._loading = False
        self._typed = set()
        self._show_preset_note()
        self.password_note.value = note_line("A new profile: fill in the server and Save.")

    def _setup(self) -> ProfileSetup:
        """The form's profile with the password typed: taken out of the field, kept until
        Save stores it (a new one typed replaces it)."""
        typed = str(self.password.value)
        if typed:
            self._kept = typed
            self.password.value = ""
            self.password.placeholder = "typed password kept for Save (type to replace it)"
        return ProfileSetup(self.profile(), self._kept)

    def _forget_typed(self) -> None:
        """Forget the password typed (stored, or another profile chosen)."""
        self._kept = None
        self.password.value = ""
        self.password.placeholder = "password or app password"

    def _on_test(self, _button: w.Button | None = None) -> None:
        try:
            setup = self._setup()
        except DocmailError as exc:
            self.status.value = problem_line(exc)
            return
        profile = setup.profile
        self.status.value = note_line(
            f"Connecting to {profile.host}:{profile.port} … (waiting up to "
            f"{profile.timeout:g} s for the server)"
        )
        self.test_button.disabled = self.save_button.disabled = True
        self.test_button.icon = "spinner"
        self.test_button.description = "Testing …"
        try:
            checked = setup.test()  # SMTP, then IMAP unless there is no password
        finally:
            self.test_button.disabled = self.save_button.disabled = False
            self.test_button.icon = ""
            self.test_button.description = "Test connection"
        self.status.value = "".join(
            success_line(summary) + (note_line(hint) if hint else "")
            if ok
            else error_line(summary, hint)
            for ok, summary, hint in checked.lines()
        )
        if setup.password:
            self.password_note.value = note_line(
                setup.password_state().sentence
                if checked.smtp.ok
                else "The password you typed is kept for Save; type another to replace it."
            )

    def _on_save(self, _button: w.Button | None = None) -> None:
        try:
            setup = self._setup()
            saved = setup.save()  # the keyring first: when it cannot store, nothing is written
        except SecretStoreError as exc:  # keyring cannot keep it: typing it again won't help
            self._forget_typed()
            self.status.value = problem_line(exc)
            self.password_note.value = note_line(
                f"The password was not kept. {exc.hint}" if exc.hint else ""
            )
            return
        except DocmailError as exc:  # a field to correct: the typed password stays
            self.status.value = problem_line(exc)
            return
        self._forget_typed()  # stored: the panel keeps no copy
        profile = saved.profile
        self._set_saved_options(list_profiles())
        self._loading = True
        self.saved.value = profile.name
        self._loading = False
        remember("settings", profile=profile.name)
        self.status.value = success_line(saved.words())
        self.password_note.value = self._password_note(profile)
