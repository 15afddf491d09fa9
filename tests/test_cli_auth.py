"""`docmail profile add --auth …`, `login`, `test`, `send`, `logout`, each in its own process.

The identity server and the SMTP server run on loopback; the keyring is a file backend in a
folder of its own, so a later process finds the sign-in only there and nowhere else on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from identity import IdentityServer
from servers import SMTPTestServer
from signin import TEMPLATE, USER, issued_secrets, oauth_server

SUPPORT = Path(__file__).parent / "support"


class Cli:
    def __init__(self, tmp_path: Path, ca_file: Path) -> None:
        self.keyring_dir = tmp_path / "keyring"
        self.keyring_dir.mkdir()
        self.home = tmp_path / "home"
        browser = tmp_path / "browser"  # BROWSER names one program, as a desktop's does
        browser.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{SUPPORT / "fake_browser.py"}" "$1"\n',
            encoding="utf-8",
        )
        browser.chmod(0o700)
        self.env = {
            **os.environ,
            "DOCMAIL_HOME": str(self.home),
            "REQUESTS_CA_BUNDLE": str(ca_file),
            "PYTHON_KEYRING_BACKEND": "file_keyring.TmpDirKeyring",
            "DOCMAIL_TEST_KEYRING_DIR": str(self.keyring_dir),
            "PYTHONPATH": str(SUPPORT),
            "BROWSER": str(browser),
        }
        for name in ("DOCMAIL_SMTP_PASSWORD", "DOCMAIL_OAUTH_CLIENT_SECRET"):
            self.env.pop(name, None)

    def __call__(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docmail_nb", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=120,
            check=False,
        )

    def keyring_text(self) -> str:
        path = self.keyring_dir / "keyring.json"
        return path.read_text(encoding="utf-8") if path.exists() else ""


@pytest.fixture
def cli(tmp_path: Path, ca_file: Path) -> Cli:
    return Cli(tmp_path, ca_file)


@pytest.fixture
def batch(tmp_path: Path) -> list[str]:
    orders = tmp_path / "work" / "orders.csv"
    orders.parent.mkdir()
    orders.write_text("no,name,email\nR-1,Kunde 1,k1@example.org\nR-2,Kunde 2,k2@example.org\n")
    template = tmp_path / "work" / "invoice.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    ledger = tmp_path / "work" / "ledger.sqlite"
    return [str(orders), str(template), "--ledger", str(ledger), "--yes"]


@pytest.fixture
def server(identity: IdentityServer, smtp_server: Callable[..., SMTPTestServer]) -> SMTPTestServer:
    return oauth_server(smtp_server, identity)


def local(server: SMTPTestServer, ca_file: Path) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(server.port), "--ca-file", str(ca_file)]


def no_token_on_disk(folder: Path, identity: IdentityServer, keyring_dir: Path) -> None:
    secrets = issued_secrets(identity)
    for path in folder.rglob("*"):
        if path.is_file() and keyring_dir not in path.parents:
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path


def test_microsoft_sign_in_login_test_send_logout(
    cli: Cli,
    identity: IdentityServer,
    server: SMTPTestServer,
    ca_file: Path,
    batch: list[str],
    tmp_path: Path,
) -> None:
    identity.add_client("app-user")
    added = cli(
        "profile",
        "add",
        "office",
        "--preset",
        "microsoft365",
        "--username",
        USER,
        "--auth",
        "oauth2",
        "--tenant",
        "contoso",
        "--client-id",
        "app-user",
        "--authority",
        identity.authority(),
        *local(server, ca_file),
    )
    assert added.returncode == 0, added.stderr
    assert "Next: docmail login office" in added.stdout

    login = cli("login", "office")
    assert login.returncode == 0, login.stderr
    assert f"open {identity.base_url}/devicelogin" in login.stdout
    assert "enter the code " in login.stdout
    assert "Signed in to Microsoft as anna@example.ch" in login.stdout
    assert "RefreshToken" in cli.keyring_text()

    tested = cli("test", "--profile", "office")  # a later process: silent refresh
    assert tested.returncode == 0, tested.stderr
    assert "OK: Connected" in tested.stdout
    assert "(oauth2)" in tested.stdout
    assert identity.grants("refresh_token") == 1

    sent = cli("send", *batch, "--profile", "office")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(server.messages) == 2
    assert identity.grants("refresh_token") == 2

    shown = cli("profile", "show", "office")
    assert "sign-in: Microsoft sign-in, signed in" in shown.stdout
    no_token_on_disk(tmp_path, identity, cli.keyring_dir)
    out = login.stdout + tested.stdout + sent.stdout + sent.stderr + shown.stdout
    assert not [s for s in issued_secrets(identity) if s in out]

    out_ = cli("logout", "office")
    assert out_.returncode == 0
    assert "forgotten" in out_.stdout
    assert "RefreshToken" not in cli.keyring_text()
    after = cli("test", "--profile", "office")
    assert after.returncode == 1
    assert "docmail login office" in after.stdout + after.stderr


def test_app_only_add_login_test_send(
    cli: Cli,
    identity: IdentityServer,
    server: SMTPTestServer,
    ca_file: Path,
    batch: list[str],
    tmp_path: Path,
) -> None:
    identity.add_client("app-only", secret="app-secret-value", public=False, mailboxes=(USER,))
    added = cli(
        "profile",
        "add",
        "robot",
        "--preset",
        "microsoft365",
        "--username",
        USER,
        "--auth",
        "oauth2-app",
        "--tenant",
        "contoso",
        "--client-id",
        "app-only",
        "--authority",
        identity.authority(),
        *local(server, ca_file),
        "--password-stdin",
        stdin="app-secret-value\n",
    )
    assert added.returncode == 0, added.stderr
    assert "The client secret is stored in keyring." in added.stdout
    assert "app-secret-value" not in (cli.home / "profiles.toml").read_text(encoding="utf-8")

    login = cli("login", "robot")
    assert login.returncode == 0, login.stderr
    assert "no sign-in needed" in login.stdout
    assert cli("test", "--profile", "robot").returncode == 0
    sent = cli("send", *batch, "--profile", "robot")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(server.messages) == 2
    assert identity.grants("client_credentials") == 3
    no_token_on_disk(tmp_path, identity, cli.keyring_dir)


def test_token_command_add_login_test_send(
    cli: Cli,
    identity: IdentityServer,
    server: SMTPTestServer,
    ca_file: Path,
    batch: list[str],
    tmp_path: Path,
) -> None:
    identity.add_client("app-only", secret="x", public=False, mailboxes=(USER,))
    token = identity._httpd.issue("", "app-only", "https://outlook.office365.com/.default")
    script = tmp_path / "token.sh"
    script.write_text(f"#!/bin/sh\necho {token['access_token']}\n", encoding="utf-8")
    script.chmod(0o700)
    added = cli(
        "profile",
        "add",
        "relay",
        "--security",
        "starttls",
        "--username",
        USER,
        "--auth",
        "token-command",
        "--token-command",
        f"sh {script}",
        *local(server, ca_file),
    )
    assert added.returncode == 0, added.stderr

    assert cli("login", "relay").returncode == 0
    tested = cli("test", "--profile", "relay")
    assert tested.returncode == 0, tested.stderr
    sent = cli("send", *batch, "--profile", "relay")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(server.messages) == 2


def test_google_sign_in_in_a_browser_then_test(
    cli: Cli,
    identity: IdentityServer,
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    server = smtp_server("ssl", identity=identity, exclude_auth=("PLAIN", "LOGIN"))
    client_file = identity.google_client_file(tmp_path / "client.json", "g-app", "g-secret")
    added = cli(
        "profile",
        "add",
        "gmail",
        "--preset",
        "google_workspace",
        "--username",
        USER,
        "--auth",
        "oauth2",
        "--client-secrets",
        str(client_file),
        *local(server, ca_file),
    )
    assert added.returncode == 0, added.stderr

    login = cli("login", "gmail")
    assert login.returncode == 0, login.stdout + login.stderr
    assert "Signed in to Google as anna@example.ch" in login.stdout
    tested = cli("test", "--profile", "gmail")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    no_token_on_disk(tmp_path, identity, cli.keyring_dir)


def test_add_refuses_incomplete_sign_in_settings(cli: Cli, tmp_path: Path) -> None:
    missing = cli(
        "profile",
        "add",
        "office",
        "--preset",
        "microsoft365",
        "--username",
        USER,
        "--auth",
        "oauth2",
    )
    assert missing.returncode == 2
    assert "--client-id" in missing.stderr
    app = cli(
        "profile",
        "add",
        "robot",
        "--preset",
        "microsoft365",
        "--username",
        USER,
        "--auth",
        "oauth2-app",
        "--client-id",
        "c",
    )
    assert app.returncode == 2
    assert "--tenant" in app.stderr
