"""Notebook panels (ipywidgets 8): SMTP settings, and preview-and-send.

Thin faces over :mod:`profiles`, :mod:`smtp`, :mod:`orders`, :mod:`templates`, :mod:`plan`
and :mod:`send`. Each panel holds its widget tree in ``.widget`` and displays itself.
Building a panel reads files only: nothing is sent and keyring is not touched until a
button is pressed. A typed password is cleared from its field after Test connection and
Save, so it never stays in the widget state a notebook may save.
"""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w

from .auth import auth_status, set_client_secret, sign_in
from .diagnosis import password_notice
from .errors import DocmailError
from .ledger import Ledger
from .mailbox import check_mailbox
from .orders import Orders, read_orders, sheet_names
from .plan import Plan, make_plan
from .preview import preview
from .profiles import (
    PRESETS,
    SECURITIES,
    USUAL_PORT,
    Profile,
    Security,
    docmail_home,
    has_password,
    list_profiles,
    load_profile,
    preset_imap,
    save_profile,
    set_password,
)
from .sample import sample_dir
from .send import MessageResult, Report, pending, send_plan, send_test
from .smtp import test_connection
from .templates import parse_template

__all__ = ["SendPanel", "SettingsPanel"]

_LABEL_STYLE = {"description_width": "120px"}
_FIELD_LAYOUT = {"width": "460px"}
_SECURITY_LABELS: dict[Security, str] = {
    "starttls": "STARTTLS (usually port 587)",
    "ssl": "SSL/TLS (usually port 465)",
    "none": "None (local relay only)",
}
_NEW_PROFILE = ""
_LINE = "line-height:1.4;margin:2px 0;"
_TABLE_CSS = (
    "<style>.docmail-report-table, .docmail-problems {border-collapse:collapse;font-size:13px}"
    ".docmail-report-table th, .docmail-report-table td, .docmail-problems th,"
    " .docmail-problems td {text-align:left;padding:2px 10px 2px 0;line-height:1.4;"
    "vertical-align:top;white-space:nowrap}</style>"
)


def success_line(text: str) -> str:
    """A green line for the status area."""
    return f"<div class='docmail-ok' style='{_LINE}color:#1b7f3b'>✔ {html.escape(text)}</div>"


def error_line(message: str, hint: str = "") -> str:
    """A red line with the hint below it, for the status area."""
    hint_html = f"<div class='docmail-hint'>{html.escape(hint)}</div>" if hint else ""
    return (
        f"<div class='docmail-error' style='{_LINE}'>"
        f"<div style='color:#b00020'>✘ {html.escape(message)}</div>"
        f"{hint_html}</div>"
    )


def note_line(text: str) -> str:
    """A grey explanatory line."""
    return f"<div class='docmail-note' style='{_LINE}color:#555'>{html.escape(text)}</div>"


def _text(description: str, **kwargs: Any) -> w.Text:
    return w.Text(description=description, style=_LABEL_STYLE, layout=_FIELD_LAYOUT, **kwargs)


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
    return f"<div class='docmail-note docmail-sign-in' style='{_LINE}color:#555'>{linked}</div>"


class SettingsPanel:
    """SMTP settings with a preset chooser, Test connection and Save.

    ``SettingsPanel()`` shows the first saved profile (or an empty form); ``name`` picks one.
    """

    def __init__(self, name: str | None = None) -> None:
        self._loading = False
        self.saved = w.Dropdown(
            description="Saved profiles", style=_LABEL_STYLE, layout=_FIELD_LAYOUT
        )
        self.preset = w.Dropdown(
            description="Preset",
            options=[(preset.label, key) for key, preset in PRESETS.items()],
            value="generic",
            style=_LABEL_STYLE,
            layout=_FIELD_LAYOUT,
        )
        self.profile_name = _text("Profile name", placeholder="e.g. office")
        self.host = _text("Host", placeholder="e.g. smtp.office365.com")
        self.port = w.BoundedIntText(
            description="Port",
            value=USUAL_PORT["starttls"],
            min=1,
            max=65535,
            style=_LABEL_STYLE,
            layout={"width": "240px"},
        )
        self.security = w.Dropdown(
            description="Security",
            options=[(_SECURITY_LABELS[s], s) for s in SECURITIES],
            value="starttls",
            style=_LABEL_STYLE,
            layout=_FIELD_LAYOUT,
        )
        self.username = _text("Username", placeholder="usually your e-mail address")
        self.auth = w.Dropdown(
            description="Authentication",
            options=_AUTH_CHOICES,
            value="password",
            style=_LABEL_STYLE,
            layout=_FIELD_LAYOUT,
        )
        self.tenant = _text("Tenant", placeholder="your domain or directory (tenant) ID")
        self.client_id = _text("Client ID", placeholder="application (client) ID")
        self.client_secrets = _text("Client file", placeholder="Google OAuth client JSON file")
        self.token_command = _text("Token command", placeholder="prints an access token")
        self.authority = w.Text(
            description="Authority",
            placeholder="empty: https://login.microsoftonline.com",
            style=_LABEL_STYLE,
            layout={"width": "420px"},
        )
        self.sign_in_button = w.Button(description="Sign in")
        self._sign_in_thread: threading.Thread | None = None
        self.password = w.Password(
            description="Password",
            placeholder="password or app password",
            style=_LABEL_STYLE,
            layout=_FIELD_LAYOUT,
        )
        self.password_note = w.HTML(layout={"margin": "0 0 4px 128px", "width": "360px"})
        self.from_addr = _text("From", placeholder="empty: the username")
        self.reply_to = _text("Reply-To", placeholder="optional")
        self.ca_file = w.Text(
            description="CA file",
            placeholder="PEM file to trust (optional)",
            style=_LABEL_STYLE,
            layout={"width": "420px"},
        )
        self.imap_host = _text("IMAP host", placeholder="for the Sent folder (optional)")
        self.imap_port = w.BoundedIntText(
            description="IMAP port",
            value=0,
            min=0,
            max=65535,
            style=_LABEL_STYLE,
            layout={"width": "240px"},
            tooltip="0: 993 for TLS, 143 for STARTTLS",
        )
        self.imap_security = w.Dropdown(
            description="IMAP security",
            options=[("TLS (usually port 993)", "ssl"), ("STARTTLS (usually 143)", "starttls")],
            value="ssl",
            style=_LABEL_STYLE,
            layout=_FIELD_LAYOUT,
        )
        self.sent_folder = _text("Sent folder", placeholder="empty: found automatically")
        self.copy_to_sent = w.Checkbox(
            description="Keep a copy of each sent message in Sent",
            value=True,
            indent=False,
            layout={"margin": "0 0 0 128px"},
        )
        self.advanced = w.Accordion(
            children=[
                w.VBox(
                    [
                        self.ca_file,
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
        self.test_button = w.Button(description="Test connection")
        self.save_button = w.Button(description="Save", button_style="primary")
        self.status = w.HTML()

        self.preset.observe(self._on_preset, names="value")
        self.security.observe(self._on_security, names="value")
        self.auth.observe(self._on_auth, names="value")
        self.sign_in_button.on_click(self._on_sign_in)
        self.saved.observe(self._on_saved, names="value")
        self.test_button.on_click(self._on_test)
        self.save_button.on_click(self._on_save)

        self.widget = w.VBox(
            [
                w.HTML("<h3 style='margin:0 0 6px 0'>SMTP settings</h3>"),
                self.saved,
                self.preset,
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
            layout={"width": "500px", "padding": "4px"},
        )
        self.widget.add_class("docmail-settings")

        self._show_auth_fields()
        profiles = list_profiles()
        self._set_saved_options(profiles)
        chosen = next((p for p in profiles if p.name == name), None)
        if name is not None and chosen is None:
            self.profile_name.value = name
            self.password_note.value = note_line("A new profile: fill in the server and Save.")
        elif chosen or profiles:
            self._show_profile(chosen or profiles[0])
            self.password_note.value = note_line(
                "Leave Password empty to keep the password stored in keyring."
            )

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

    def _set_saved_options(self, profiles: list[Profile]) -> None:
        self._loading = True
        try:
            self.saved.options = [("(new profile)", _NEW_PROFILE)] + [
                (p.name, p.name) for p in profiles
            ]
        finally:
            self._loading = False

    def _password_note(self, name: str) -> str:
        profile = next((p for p in list_profiles() if p.name == name), None)
        if profile is not None and profile.auth != "password":
            return note_line(auth_status(profile))
        notice = password_notice(profile) if profile is not None else ""
        if notice:
            return note_line(notice)
        if has_password(name):
            return note_line(
                f"A password for '{name}' is stored in keyring; leave Password empty to keep it."
            )
        return note_line(f"No password is stored for '{name}' yet.")

    # -- reactions ------------------------------------------------------------------------

    def _on_preset(self, change: dict[str, Any]) -> None:
        if self._loading:
            return
        preset = PRESETS[change["new"]]
        if preset.host:
            self.host.value = preset.host
        self.security.value = preset.security
        self.port.value = preset.port
        imap = preset_imap(change["new"])
        self.imap_host.value = imap["imap_host"]
        self.copy_to_sent.value = imap["copy_to_sent"]

    def _on_auth(self, _change: dict[str, Any]) -> None:
        self._show_auth_fields()

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
        if self._loading:
            return
        if self.port.value in USUAL_PORT.values():
            self.port.value = USUAL_PORT[change["new"]]

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
        self.password_note.value = self._password_note(name)

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
            self.security.value = "starttls"
            self.port.value = USUAL_PORT["starttls"]
        finally:
            self._loading = False
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
        self.status.value = note_line(f"Connecting to {profile.host}:{profile.port} …")
        result = test_connection(profile, password)
        if result.ok:
            self.status.value = success_line(result.summary) + (
                note_line(result.hint) if result.hint else ""
            )
        else:
            said = " ".join(str(part) for part in (result.code, result.reply) if part)
            detail = f" (server said: {said})" if said else ""
            self.status.value = error_line(result.summary + detail, result.hint)
        if profile.imap_host and result.kind != "no_password":
            imap = check_mailbox(profile, password)
            self.status.value += (
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
            path = save_profile(profile)
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        self._set_saved_options(list_profiles())
        self._loading = True
        self.saved.value = profile.name
        self._loading = False
        saved = success_line(f"Saved profile '{profile.name}' in {path}.")
        if password:
            try:
                if profile.auth == "oauth2-app":
                    set_client_secret(profile, password)
                else:
                    set_password(profile.name, password)
            except DocmailError as exc:
                self.status.value = saved + error_line(exc.message, exc.hint)
                return
        self.status.value = saved
        self.password_note.value = self._password_note(profile.name)


def _problems_table(plan: Plan) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{'' if p.row is None else p.row}</td><td>{html.escape(p.key or '')}</td>"
        f"<td>{html.escape(p.field)}</td><td>{html.escape(p.message)}</td>"
        f"<td>{html.escape(p.hint)}</td></tr>"
        for p in plan.problems
    )
    return _TABLE_CSS + (
        "<table class='docmail-problems'><thead><tr><th>Row</th><th>Key</th><th>Field</th>"
        f"<th>Problem</th><th>What to do</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _report_table(report: Report) -> str:
    frame = report.frame[["rows", "key", "to", "cc", "state", "error"]]
    table = frame.to_html(index=False, escape=True, border=0, classes="docmail-report-table")
    line = success_line if report.ok else error_line
    return (
        _TABLE_CSS
        + line(report.summary())
        + f"<div style='overflow:auto;max-height:24em'>{table}</div>"
    )


class SendPanel:
    """Choose orders, sheet, template and documents; check, preview, test and send.

    With no arguments it uses the sample data. ``profile`` is a Profile (e.g. the capture
    server's) or a saved profile's name; ``ledger`` the ledger file (None: the default one).
    """

    def __init__(
        self,
        orders: str | Path | None = None,
        template: str | Path | None = None,
        documents: str | Path | None = None,
        *,
        sheet: str | None = None,
        profile: Profile | str | None = None,
        ledger: Ledger | str | Path | None = None,
    ) -> None:
        sample = sample_dir()
        self.ledger = ledger
        self.plan: Plan | None = None
        self.orders: Orders | None = None
        self.report: Report | None = None
        self._profile = profile
        self._loading = False

        wide = {"width": "640px"}
        self.orders_path = w.Text(
            description="Orders file",
            value=str(orders or sample / "orders.xlsx"),
            continuous_update=False,
            style=_LABEL_STYLE,
            layout=wide,
        )
        self.upload = w.FileUpload(description="Upload", accept=".xlsx,.xls,.ods,.csv")
        self.sheet = w.Dropdown(description="Sheet", style=_LABEL_STYLE, layout=_FIELD_LAYOUT)
        self.template_path = w.Text(
            description="Template file",
            value=str(template or sample / "templates" / "invoice.txt"),
            continuous_update=False,
            style=_LABEL_STYLE,
            layout=wide,
        )
        self.template_text = w.Textarea(
            description="Template",
            continuous_update=False,
            style=_LABEL_STYLE,
            layout={"width": "760px", "height": "16em"},
        )
        self.template_box = w.Accordion(children=[self.template_text], titles=("Edit template",))
        self.template_box.selected_index = None
        self.documents = w.Text(
            description="Documents folder",
            value=str(documents or sample / "documents"),
            continuous_update=False,
            style=_LABEL_STYLE,
            layout=wide,
        )
        self.check_button = w.Button(description="Check")
        self.check_status = w.HTML()
        self.problems = w.HTML()
        self.row = w.Dropdown(description="Row", style=_LABEL_STYLE, layout=_FIELD_LAYOUT)
        self.preview = w.HTML(layout={"width": "100%"})
        self.test_button = w.Button(description="Send test to me")
        self.send_button = w.Button(description="Send", button_style="primary")
        self.confirm_text = w.HTML()
        self.yes_button = w.Button(description="Yes, send", button_style="danger")
        self.cancel_button = w.Button(description="Cancel")
        self.confirm_box = w.VBox(
            [self.confirm_text, w.HBox([self.yes_button, self.cancel_button])],
            layout={"display": "none", "border": "1px solid #d9a400", "padding": "6px"},
        )
        self.progress = w.IntProgress(
            description="Sent", min=0, max=1, value=0, style=_LABEL_STYLE,
            layout={"width": "460px", "visibility": "hidden"},
        )  # fmt: skip
        self.status = w.HTML()
        self.report_view = w.HTML()
        self.failed_path = w.Text(
            description="Failed rows file",
            value="failed_rows.xlsx",
            style=_LABEL_STYLE,
            layout=_FIELD_LAYOUT,
        )
        self.save_failed_button = w.Button(description="Save failed rows")
        self.failed_box = w.HBox(
            [self.failed_path, self.save_failed_button], layout={"display": "none"}
        )

        self.orders_path.observe(self._on_orders_path, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.sheet.observe(self._on_input, names="value")
        self.template_path.observe(self._on_template_path, names="value")
        self.template_text.observe(self._on_input, names="value")
        self.documents.observe(self._on_input, names="value")
        self.row.observe(self._on_row, names="value")
        self.check_button.on_click(lambda _b: self.check())
        self.test_button.on_click(self._on_test)
        self.send_button.on_click(self._on_send)
        self.yes_button.on_click(self._on_yes)
        self.cancel_button.on_click(self._on_cancel)
        self.save_failed_button.on_click(self._on_save_failed)

        self.via = w.HTML()
        self.widget = w.VBox(
            [
                w.HTML("<h3 style='margin:0 0 6px 0'>Preview and send</h3>"),
                self.via,
                w.HBox([self.orders_path, self.upload]),
                self.sheet,
                self.template_path,
                self.template_box,
                self.documents,
                w.HBox([self.check_button, self.check_status]),
                self.problems,
                self.row,
                self.preview,
                w.HBox([self.test_button, self.send_button]),
                self.confirm_box,
                self.progress,
                self.status,
                self.report_view,
                self.failed_box,
            ],
            layout={"width": "820px", "padding": "4px"},
        )
        self.widget.add_class("docmail-send")

        self._load_sheets(sheet)
        self._load_template_file()
        self.check()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- inputs ---------------------------------------------------------------------------

    def profile(self) -> Profile:
        """The profile messages go through (a saved profile is read on each use)."""
        if isinstance(self._profile, Profile):
            return self._profile
        return load_profile(self._profile)

    def _load_sheets(self, wanted: str | None = None) -> None:
        self._loading = True
        try:
            path = Path(self.orders_path.value).expanduser()
            names = sheet_names(path) if path.suffix.lower() not in (".csv", ".txt") else []
            self.sheet.options = names
            self.sheet.value = wanted if wanted in names else (names[0] if names else None)
            self.sheet.disabled = not names
        except DocmailError as exc:
            self.sheet.options = []
            self.check_status.value = error_line(exc.message, exc.hint)
        finally:
            self._loading = False

    def _load_template_file(self) -> None:
        path = Path(self.template_path.value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.check_status.value = error_line(
                f"The template file {path} cannot be read ({type(exc).__name__}).",
                "Give the path of a template file (a .txt with header lines, a blank line, "
                "the body).",
            )
            return
        self._loading = True
        self.template_text.value = text
        self._loading = False

    def _on_orders_path(self, _change: dict[str, Any]) -> None:
        self._load_sheets()
        self.check()

    def _on_template_path(self, _change: dict[str, Any]) -> None:
        self._load_template_file()
        self.check()

    def _on_input(self, _change: dict[str, Any]) -> None:
        if not self._loading:
            self.check()

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        folder = docmail_home() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / Path(str(item["name"])).name
        target.write_bytes(bytes(item["content"]))
        self.upload.value = ()  # keep the file's bytes out of the saved widget state
        self.orders_path.value = str(target)

    # -- check and preview ----------------------------------------------------------------

    def check(self) -> Plan | None:
        """Read the orders and the template, check every row, show problems and a preview."""
        self.report = None
        self.report_view.value = ""
        self.failed_box.layout.display = "none"
        self.confirm_box.layout.display = "none"
        try:
            profile = self.profile()
            self.via.value = note_line(
                f"Sending through profile '{profile.name}': {profile.host}:{profile.port} "
                f"as {profile.sender or '(no address yet)'}."
            )
            self.orders = read_orders(self.orders_path.value, self.sheet.value or None)
            path = Path(self.template_path.value)
            template = parse_template(
                self.template_text.value, name=path.stem or "template", folder=path.parent
            )
            self.plan = make_plan(
                self.orders,
                template,
                documents=self.documents.value or None,
                sender=profile.sender,
            )
        except DocmailError as exc:
            self.plan = None
            self.check_status.value = error_line(exc.message, exc.hint)
            self.problems.value = ""
            self._set_rows({})
            return None
        plan = self.plan
        if plan.problems:
            rows = len(plan.problem_rows) or len(plan.problems)
            self.check_status.value = error_line(
                f"{rows} of {plan.total_rows} rows have problems; {len(plan.drafts)} messages "
                "can be sent.",
                "Fix the rows in the spreadsheet or the template, then press Check again.",
            )
            self.problems.value = _problems_table(plan)
        else:
            self.check_status.value = success_line(
                f"All {plan.total_rows} rows are fine: {len(plan.drafts)} messages ready."
            )
            self.problems.value = ""
        labels = {
            row: f"{row} · {key}" + (" (problem)" if row in plan.problem_rows else "")
            for row, key in sorted(plan.row_keys.items())
        }
        self._set_rows(labels)
        return plan

    def _set_rows(self, labels: dict[int, str]) -> None:
        previous = self.row.value
        self._loading = True
        try:
            self.row.options = [(label, row) for row, label in labels.items()]
            self.row.value = previous if previous in labels else next(iter(labels), None)
        finally:
            self._loading = False
        self._show_preview()

    def _on_row(self, _change: dict[str, Any]) -> None:
        if not self._loading:
            self._show_preview()

    def _show_preview(self) -> None:
        if self.plan is None or self.row.value is None:
            self.preview.value = ""
            return
        try:
            shown = preview(self.plan, int(self.row.value), self.profile().sender)
        except DocmailError as exc:
            self.preview.value = error_line(exc.message, exc.hint)
            return
        self.preview.value = (
            "<div style='border:1px solid #ddd;padding:6px;overflow:auto;max-height:30em;"
            "font-size:90%;line-height:1.3'>"
            f"{shown._repr_html_()}</div>"
        )

    # -- sending --------------------------------------------------------------------------

    def _on_test(self, _button: w.Button | None = None) -> None:
        if self.plan is None or self.row.value is None:
            self.status.value = error_line(
                "There is no message to test yet.", "Fix the problems shown above first."
            )
            return
        try:
            profile = self.profile()
            result: MessageResult = send_test(self.plan, int(self.row.value), profile)
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        self.status.value = success_line(
            f"Test message for row {self.row.value} ({result.key}) sent to {', '.join(result.to)}."
        )

    def _on_send(self, _button: w.Button | None = None) -> None:
        plan = self.check()
        if plan is None:
            return
        try:
            waiting = pending(plan, self.profile(), self.ledger)
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        if not waiting.drafts:
            self.status.value = note_line(
                "Nothing to send: every message of this campaign was already sent."
            )
            return
        self.confirm_text.value = f"<b>{html.escape(waiting.question)}</b>"
        self.status.value = ""
        self.confirm_box.layout.display = "flex"

    def _on_cancel(self, _button: w.Button | None = None) -> None:
        self.confirm_box.layout.display = "none"
        self.status.value = note_line("Nothing was sent.")

    def _on_yes(self, _button: w.Button | None = None) -> None:
        self.confirm_box.layout.display = "none"
        plan = self.plan
        if plan is None:
            return
        self.progress.max = max(len(plan.drafts), 1)
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.send_button.disabled = self.test_button.disabled = True

        def advance(done: int, total: int, result: MessageResult) -> None:
            self.progress.max = max(total, 1)
            self.progress.value = done

        try:
            self.report = send_plan(plan, self.profile(), ledger=self.ledger, progress=advance)
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        finally:
            self.send_button.disabled = self.test_button.disabled = False
        self.status.value = ""
        self.report_view.value = _report_table(self.report)
        self.failed_box.layout.display = "none" if self.report.ok else "flex"

    def _on_save_failed(self, _button: w.Button | None = None) -> None:
        if self.report is None or self.orders is None:
            return
        try:
            path = self.report.save_failed_rows(self.orders, self.failed_path.value.strip())
        except DocmailError as exc:
            self.status.value = error_line(exc.message, exc.hint)
            return
        self.status.value = success_line(f"Saved the rows that need attention to {path}.")
