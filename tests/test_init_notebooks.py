"""The notebooks of a ``docmail init`` folder, run top to bottom as they come, twice, with
papermill in its own process as a user or a cron job would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from docmail_nb import list_profiles
from docmail_nb.workfolder import init_folder

PAPERMILL = Path(sys.executable).parent / "papermill"


def papermill(folder: Path, notebook: str, output: str, tmp: Path, *args: str) -> str:
    """Run ``notebook`` of ``folder`` there; the text of its output notebook."""
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.run(
        [str(PAPERMILL), notebook, output, "--no-progress-bar", "--cwd", str(folder), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (folder / output).read_text(encoding="utf-8")


def outputs(text: str) -> str:
    """Every output of an output notebook, as one text."""
    notebook = nbformat.reads(text, as_version=4)
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            found.append(str(output.get("text", "")))
            found += [str(value) for value in output.get("data", {}).values()]
    return "\n".join(found)


def test_the_scheduled_notebook_dry_runs_in_a_fresh_folder_without_a_profile(
    tmp_path: Path,
) -> None:
    folder = init_folder(tmp_path / "invoices").folder
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    assert list_profiles() == []
    for run in ("first", "second"):
        shown = outputs(papermill(folder, "scheduled_send.ipynb", f"runs/{run}.ipynb", tmp))
        assert "10 would be sent (dry run)" in shown
        assert "a dry run needs none" in shown
        assert "--profile" not in shown
    assert list_profiles() == []  # nothing was saved for it


def test_the_scheduled_notebook_names_papermill_parameters_when_a_profile_is_needed(
    tmp_path: Path,
) -> None:
    folder = init_folder(tmp_path / "invoices").folder
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.run(
        [
            str(PAPERMILL), "scheduled_send.ipynb", "runs/send.ipynb", "--no-progress-bar",
            "-p", "dry_run", "False",
        ],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    shown = outputs((folder / "runs" / "send.ipynb").read_text(encoding="utf-8"))
    assert "No SMTP profile has been saved yet" in shown
    assert "-p profile NAME" in shown
    assert "--profile" not in shown


SEND_CELL = """\
import re

panel.send_button.click()
if panel.confirm_box.layout.display == "flex":  # asked: "Send 10 messages ...?"
    panel.yes_button.click()
    print("RUN:", panel.wait(240).summary())
else:
    print("NOT ASKED:", re.sub("<[^>]+>", "", panel.status.value))
"""


def test_the_send_notebook_run_twice_sends_each_message_once_and_leaves_no_temp_folder(
    tmp_path: Path,
) -> None:
    folder = init_folder(tmp_path / "invoices").folder
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # the notebook as it comes, then what a user does: press Send, then Yes, send
    notebook = nbformat.read(folder / "02_send_documents.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(SEND_CELL))
    nbformat.write(notebook, folder / "send_and_press.ipynb")

    first = outputs(papermill(folder, "send_and_press.ipynb", "runs/first.ipynb", tmp))
    assert "RUN: Campaign 'invoice': 10 sent." in first
    second = outputs(papermill(folder, "send_and_press.ipynb", "runs/second.ipynb", tmp))
    assert "RUN:" not in second
    assert "NOT ASKED: Nothing to send: 10 sent." in second

    assert len(list((folder / "outbox" / "new").iterdir())) == 10  # each invoice once
    assert (folder / "capture-ledger.sqlite").is_file()
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("docmail")) == []
    as_it_comes = outputs(papermill(folder, "02_send_documents.ipynb", "runs/plain.ipynb", tmp))
    assert "10 in all in the capture outbox" in as_it_comes


def test_the_settings_notebook_runs_as_it_comes(tmp_path: Path) -> None:
    folder = init_folder(tmp_path / "invoices").folder
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    for run in ("first", "second"):
        papermill(folder, "01_smtp_settings.ipynb", f"runs/settings-{run}.ipynb", tmp)
