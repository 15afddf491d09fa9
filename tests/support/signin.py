"""Shared set-up of the sign-in tests: an SMTP server that takes only the identity server's
tokens, Microsoft 365 profiles (delegated and app-only), and the secrets the identity server
issued (which must never land in a file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from identity import IdentityServer
from servers import SMTPTestServer

from docmail_nb._store.profiles import Profile

USER = "anna@example.ch"
TEMPLATE = "To: {{ email }}\nSubject: Rechnung {{ no }}\nKey: {{ no }}\n\nGuten Tag {{ name }}.\n"


def oauth_server(
    smtp_server: Callable[..., SMTPTestServer],
    identity: IdentityServer,
    mode: str = "starttls",
    **kwargs: Any,
) -> SMTPTestServer:
    """An SMTP server offering only XOAUTH2, trusting ``identity``'s tokens."""
    kwargs.setdefault("exclude_auth", ("PLAIN", "LOGIN"))
    return smtp_server(mode, identity=identity, **kwargs)


def ms_profile(
    identity: IdentityServer, server: SMTPTestServer, ca_file: Path, **kw: Any
) -> Profile:
    """Profile "office": Microsoft 365, signed in as the user (delegated, app "app-user")."""
    return _microsoft(
        "office", identity, server, ca_file, {"auth": "oauth2", "client_id": "app-user", **kw}
    )


def app_profile(
    identity: IdentityServer, server: SMTPTestServer, ca_file: Path, **kw: Any
) -> Profile:
    """Profile "robot": Microsoft 365, app-only (client credentials of app "app-only")."""
    settings = {"auth": "oauth2-app", "tenant": "contoso", "client_id": "app-only", **kw}
    return _microsoft("robot", identity, server, ca_file, settings)


def _microsoft(
    name: str,
    identity: IdentityServer,
    server: SMTPTestServer,
    ca_file: Path,
    settings: dict[str, Any],
) -> Profile:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "ca_file": str(ca_file),
        "preset": "microsoft365",
        "authority": identity.authority(),
    }
    return Profile(name, **{**values, **settings})


def issued_secrets(identity: IdentityServer) -> list[str]:
    return [*identity.state.access_tokens, *identity.state.refresh_tokens]
