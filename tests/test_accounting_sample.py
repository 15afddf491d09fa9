"""The second sample, as exported from an accounting program, through check, preview and send.

The commands are the README's; the messages go to the embedded capture server.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from docmail_nb._mail.sink import CaptureServer
from docmail_nb._sample import sample_dir
from docmail_nb._store import profiles
from docmail_nb.cli import main

FOLDER = sample_dir() / "accounting"
ARGS = [str(FOLDER / "debitoren.csv"), str(FOLDER / "templates" / "rechnung.txt")]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_names_the_header_row_then_passes_with_it() -> None:
    code, out = run("check", *ARGS)
    assert code == 1
    assert "The column names are in row 4: --header-row 4." in out
    code, out = run("check", *ARGS, "--header-row", "4")
    assert code == 0, out
    assert "read as Windows-1252" in out
    assert "Notice: Column Kundennr: row 6 holds a number (1042)" in out
    assert "Row 7 (R-2026-2103): Send-If" in out
    assert "Row 10: Send-If" in out
    assert "3 messages ready to send; all 3 rows checked are fine, 2 left out." in out


def test_preview_shows_the_row_as_it_will_go() -> None:
    code, out = run("preview", *ARGS, "--header-row", "4", "--row", "6")
    assert code == 0, out
    assert "To: buchhaltung@hoefli.example, treuhand@zahlen-partner.example" in out
    assert "Subject: Rechnung R-2026-2102 – Café Zürcher Höfli" in out
    assert "CHF 486.35, zahlbar bis 31.12.2026." in out  # 486.33 to 5 Rappen
    assert "**" not in out.split("--- text/plain")[1].split("--- text/html")[0]


def test_send_through_the_capture_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with CaptureServer(tmp_path / "outbox") as sink:
        profiles.save_profile(sink.profile("capture"))
        code, out = run(
            "send", *ARGS, "--header-row", "4", "--profile", "capture", "--yes",
            "--report", "report.csv", "--failed-rows", "to-fix.csv",
        )  # fmt: skip
        messages = sink.messages
    assert code == 0, out
    assert "3 sent, 2 row(s) left out by Send-If" in out
    assert "No row needs fixing: to-fix.csv was not written." in out
    assert not (tmp_path / "to-fix.csv").exists()
    raw = (tmp_path / "report.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(tmp_path / "report.csv", sep=";", encoding="utf-8-sig", dtype=str)
    assert sorted(frame["state"]) == ["left out", "left out", "sent", "sent", "sent"]
    recipients = sorted(r for m in messages for r in m.recipients)
    assert "info@fröhlich-holz.example" in recipients  # the capture server offers SMTPUTF8
    assert "e.mueller@baeckerei-mueller.example" in recipients
