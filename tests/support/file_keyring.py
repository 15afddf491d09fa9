"""A keyring backend for tests that spawn processes (Voila kernels, papermill).

It keeps passwords in a JSON file inside the folder named by ``DOCMAIL_TEST_KEYRING_DIR``
(a pytest tmp dir), so a test can look into the store a kernel wrote. Select it with
``PYTHON_KEYRING_BACKEND=file_keyring.TmpDirKeyring`` and ``tests/support/`` on ``PYTHONPATH``.
Never use it outside tests: it stores in plain text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.backend
import keyring.errors


def _store_path() -> Path:
    folder = os.environ.get("DOCMAIL_TEST_KEYRING_DIR", "")
    if not folder:
        raise keyring.errors.InitError("DOCMAIL_TEST_KEYRING_DIR is not set")
    return Path(folder) / "keyring.json"


class TmpDirKeyring(keyring.backend.KeyringBackend):
    """Passwords in ``$DOCMAIL_TEST_KEYRING_DIR/keyring.json``."""

    priority = 0.1  # type: ignore[assignment]

    def _read(self) -> dict[str, str]:
        path = _store_path()
        if not path.exists():
            return {}
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, str]) -> None:
        _store_path().write_text(json.dumps(data), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}/{username}"] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if data.pop(f"{service}/{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("no such password")
        self._write(data)
