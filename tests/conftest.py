"""Shared fixtures: an isolated DOCMAIL_HOME, an in-memory keyring, real SMTP servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
import trustme
from imap_server import DovecotServer
from pg_server import ledger_store, pg_url, postgres  # noqa: F401 - the ledger's stores
from servers import SMTPTestServer


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps passwords in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def docmail_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own DOCMAIL_HOME, no password and no shared ledger in the environment."""
    home = tmp_path / "docmail-home"
    monkeypatch.setenv("DOCMAIL_HOME", str(home))
    monkeypatch.delenv("DOCMAIL_SMTP_PASSWORD", raising=False)
    for name in ("DOCMAIL_LEDGER", "PGPASSWORD", "PGPASSFILE"):  # never a developer's database
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Install an in-memory keyring backend for the test, then restore the previous one."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def smtp_server(ca: trustme.CA) -> Iterator[Callable[..., SMTPTestServer]]:
    """Factory: ``smtp_server(mode="starttls", **hooks)`` starts a server, stopped at the end."""
    started: list[SMTPTestServer] = []

    def start(mode: str = "starttls", **kwargs: Any) -> SMTPTestServer:
        server = SMTPTestServer(mode, ca=ca, **kwargs)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def dovecot(ca: trustme.CA) -> Iterator[Callable[..., DovecotServer]]:
    """Factory: ``dovecot(folders=(...), special_use={...})`` starts Dovecot, stopped at the end."""
    started: list[DovecotServer] = []

    def start(**kwargs: Any) -> DovecotServer:
        server = DovecotServer(ca, **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def identity(ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The local HTTPS identity server; msal and google-auth trust it via REQUESTS_CA_BUNDLE."""
    from identity import IdentityServer

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    monkeypatch.delenv("DOCMAIL_OAUTH_CLIENT_SECRET", raising=False)
    server = IdentityServer(ca).start()
    try:
        yield server
    finally:
        server.stop()
        from docmail_nb._auth import tokens

        tokens.LIVE.clear()


@pytest.fixture(autouse=True)
def _command_line_spelling() -> Iterator[None]:
    """Each test starts with settings spelled as on the command line (a panel switches it)."""
    from docmail_nb.words import speak_as

    speak_as("cli")
    yield
    speak_as("cli")
