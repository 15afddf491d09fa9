"""Starting fast: the quick commands load no spreadsheet, template, notebook or sign-in library.

Each case runs in a fresh interpreter (as the ``docmail`` command does) and reports which of
the heavy libraries it imported. Timings are measured by benchmarks/run.py, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import SMTPTestServer

from docmail_nb._store.profiles import Profile, save_profile

#: what the faces need only for a batch, a panel, a notebook run, a sign-in or a document
HEAVY = (
    "pandas",
    "numpy",
    "jinja2",
    "babel",
    "papermill",
    "nbformat",
    "ipywidgets",
    "msal",
    "google.auth",
    "weasyprint",
    "openpyxl",
    "python_calamine",
    "aiosmtpd",
    "email_validator",
    "sqlite3",
    "imaplib",
)

PROBE = """
import json, sys
args, out = json.loads(sys.argv[1]), sys.argv[2]
code = 0
if args is None:
    import docmail_nb
else:
    from docmail_nb.cli import main
    try:
        main(args, prog_name="docmail")
    except SystemExit as exc:
        code = exc.code
with open(out, "w") as file:
    json.dump({"code": code, "modules": sorted(sys.modules)}, file)
"""


def run_fresh(args: list[str] | None, tmp_path: Path, **env: str) -> tuple[int, set[str], str]:
    """Exit code, the modules imported and the output of ``docmail ARGS`` in a new process."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), str(out)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.exists(), done.stderr
    found = json.loads(out.read_text("utf-8"))
    return found["code"], set(found["modules"]), done.stdout + done.stderr


def heavy_in(modules: set[str]) -> list[str]:
    return [name for name in HEAVY if name in modules]


def test_importing_the_package_loads_none_of_its_modules(tmp_path: Path) -> None:
    code, modules, _ = run_fresh(None, tmp_path)
    assert code == 0
    assert heavy_in(modules) == []
    assert [m for m in modules if m.startswith("docmail_nb.")] == []
    assert "keyring" not in modules
    assert "click" not in modules


def test_help_loads_no_heavy_library_and_no_keyring(tmp_path: Path) -> None:
    code, modules, output = run_fresh(["--help"], tmp_path)
    assert code == 0
    assert "profile" in output
    assert heavy_in(modules) == []
    assert "keyring" not in modules


def test_profile_list_reads_keyring_but_nothing_heavy(tmp_path: Path) -> None:
    save_profile(Profile(name="relay", host="127.0.0.1", port=2525, security="none"))
    save_profile(Profile(name="office", host="smtp.example.ch", username="anna@example.ch"))
    code, modules, output = run_fresh(
        ["profile", "list"], tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"
    )
    assert code == 0, output
    assert "relay\t127.0.0.1:2525\tnone\tno login" in output
    assert "office\tsmtp.example.ch:587\tstarttls\tanna@example.ch\tpassword missing" in output
    assert "keyring" in modules  # the office profile's password was looked for
    assert heavy_in(modules) == []


def test_connection_test_loads_nothing_heavy(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server("starttls")
    save_profile(
        Profile(
            name="office",
            host=server.host,
            port=server.port,
            security="starttls",
            username="anna@example.ch",
            ca_file=str(ca_file),
        )
    )
    code, modules, output = run_fresh(
        ["test", "--profile", "office"], tmp_path, DOCMAIL_SMTP_PASSWORD="correct horse"
    )
    assert code == 0, output
    assert "OK: Connected to" in output
    assert "certificate verified" in output
    assert heavy_in(modules) == []


@pytest.mark.parametrize("first", ["function", "module"])
def test_preview_is_the_function_whichever_comes_first(first: str, tmp_path: Path) -> None:
    probe = (
        "import docmail_nb, sys\n"
        + ("docmail_nb.preview\n" if first == "function" else "")
        + "import docmail_nb._compose.preview\n"
        + "from docmail_nb._compose.preview import Preview\n"
        + "assert callable(docmail_nb.preview) and not isinstance(docmail_nb.preview, type(sys))\n"
        + "assert docmail_nb.preview is sys.modules['docmail_nb._compose.preview'].preview\n"
        + "assert docmail_nb.Preview is Preview\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
