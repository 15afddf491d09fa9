"""The scheduled notebook, headless, signing in with app-only credentials or a token command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from identity import IdentityServer
from notebook_runs import batch, outputs_text, params, run_cli
from servers import SMTPTestServer
from signin import USER, app_profile, ms_profile, oauth_server

from docmail_nb._store.profiles import Profile, save_profile

pytestmark = pytest.mark.slow
__all__ = ["batch"]  # the fixture, shared with test_scheduled

CLIENT_SECRET = "app-secret-Zq7-4711"


def test_app_only_job_sends_headless_and_leaves_no_secret_in_the_notebook(
    tmp_path: Path,
    batch: dict[str, str],
    identity: IdentityServer,
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity.add_client("app-only", secret=CLIENT_SECRET, public=False, mailboxes=(USER,))
    server = oauth_server(smtp_server, identity)
    save_profile(app_profile(identity, server, ca_file))
    monkeypatch.setenv("DOCMAIL_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # headless

    args = [*params(batch, dry_run=False), "-r", "profile", "robot"]
    proc, nb, text = run_cli(tmp_path, "sent.ipynb", *args)

    assert proc.returncode == 0, proc.stderr
    assert len(server.messages) == 3
    assert identity.grants("client_credentials") == 1
    secrets = [CLIENT_SECRET, *identity.state.access_tokens]
    for haystack in (text, json.dumps(nb.metadata), proc.stdout + proc.stderr):
        assert not [s for s in secrets if s in haystack]
    assert "sent" in outputs_text(nb).lower()


def test_token_command_job_whose_command_fails_names_it(
    tmp_path: Path,
    batch: dict[str, str],
    identity: IdentityServer,
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
) -> None:
    server = oauth_server(smtp_server, identity)
    save_profile(
        Profile(
            "relay",
            host=server.host,
            port=server.port,
            username=USER,
            ca_file=str(ca_file),
            auth="token-command",
            token_command=f"{sys.executable} -c \"import sys; sys.exit('not logged in')\"",
        )
    )

    args = [*params(batch, dry_run=False), "-r", "profile", "relay"]
    proc, nb, _text = run_cli(tmp_path, "failed.ipynb", *args)

    assert proc.returncode != 0
    assert "token command of profile 'relay' failed" in outputs_text(nb)
    assert "not logged in" in outputs_text(nb)
    assert server.messages == []


def test_delegated_sign_in_works_headless_after_one_login(
    tmp_path: Path,
    batch: dict[str, str],
    identity: IdentityServer,
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity.add_client("app-user")
    server = oauth_server(smtp_server, identity)
    profile = ms_profile(identity, server, ca_file, tenant="contoso")
    save_profile(profile)
    keyring_dir = tmp_path / "keyring"
    keyring_dir.mkdir()
    monkeypatch.setenv("DOCMAIL_TEST_KEYRING_DIR", str(keyring_dir))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "file_keyring.TmpDirKeyring")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent / "support"))
    login = subprocess.run(
        [sys.executable, "-m", "docmail_nb", "login", "office"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert login.returncode == 0, login.stderr

    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, nb, text = run_cli(tmp_path, "sent.ipynb", *args)

    assert proc.returncode == 0, proc.stderr
    assert len(server.messages) == 3
    assert identity.grants("refresh_token") == 1  # the job refreshed silently, once
    secrets = [*identity.state.access_tokens, *identity.state.refresh_tokens]
    for haystack in (text, json.dumps(nb.metadata), proc.stdout + proc.stderr):
        assert not [s for s in secrets if s in haystack]
