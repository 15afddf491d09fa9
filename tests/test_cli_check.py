"""`docmail check` and `docmail preview` on the sample data and on tests/data/bad_orders.xlsx."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from docmail_nb._sample import sample_dir
from docmail_nb.cli import main

DATA = Path(__file__).parent / "data"
BAD = [str(DATA / "bad_orders.xlsx"), str(DATA / "bad_invoice.txt")]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("template", "sheet", "count"),
    [("invoice", None, 10), ("offer", "Offerten", 5), ("delivery_note", "Lieferscheine", 5)],
)
def test_check_sample_data_is_clean(template: str, sheet: str | None, count: int) -> None:
    folder = sample_dir()
    args = ["check", str(folder / "orders.xlsx"), str(folder / "templates" / f"{template}.txt")]
    code, out, _ = run(*args, *(["--sheet", sheet] if sheet else []))
    assert code == 0, out
    assert f"{count} messages ready to send; all {count} rows are fine." in out


def test_check_suggests_the_right_sheet() -> None:
    folder = sample_dir()
    code, out, _ = run("check", str(folder / "orders.xlsx"), str(folder / "templates/offer.txt"))
    assert code == 1
    assert "{{ offer_no }}" in out
    assert "--sheet Offerten" in out


def test_check_bad_spreadsheet_lists_every_problem() -> None:
    code, out, _ = run("check", *BAD)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["Row", "Key", "Field", "Problem"]
    # columns are two spaces apart; rows sharing a problem (the key R-2) share its line
    problems = [re.split(r"\s{2,}", line)[:3] for line in lines[1:] if " R-" in line[:10]]
    assert problems == [
        ["3", "R-2", "To"],
        ["3, 7", "R-2", "Key"],
        ["4", "R-3", "Attachment"],
        ["4", "R-3", "To"],
        ["5", "R-4", "Subject"],
        ["5", "R-4", "body"],
        ["6", "R-5", "Cc"],
        ["8", "R-7", "Attachment"],
        ["8", "R-7", "body"],
    ]
    assert "decodes to a line break" in out
    assert "→ " in out
    assert out.rstrip().endswith("2 messages ready to send; 10 problems in 6 of 8 rows.")


def test_preview_shows_the_exact_message() -> None:
    code, out, _ = run("preview", *BAD, "--row", "9")
    assert code == 0, out
    assert out.startswith("From: (the profile's address)\nTo: l@kita.example\nCc: t@kita.example\n")
    assert "Envelope to:   l@kita.example, t@kita.example" in out
    assert "CHF 50.00" in out
    assert "R-8.pdf  (application/pdf, 31 bytes)" in out


def test_preview_of_a_bad_row_exits_1_with_its_problems() -> None:
    code, _, err = run("preview", *BAD, "--row", "6")
    assert code == 1
    assert "Row 6 (R-5) will not be sent: Cc: 'treuhand@'" in err
    assert "Hint:" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["preview", *BAD, "--row", "42"], "no order in row 42"),
        (["check", "nowhere.xlsx", BAD[1]], "does not exist"),
        (["check", BAD[0], "nowhere.txt"], "does not exist"),
        (["check", *BAD, "--sheet", "Offerten"], "no sheet 'Offerten'"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], fragment: str) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


def test_documents_default_beside_the_template_folder(tmp_path: Path) -> None:
    shutil.copytree(sample_dir() / "templates", tmp_path / "project" / "templates")
    shutil.copytree(sample_dir() / "documents", tmp_path / "project" / "documents")
    shutil.copy(sample_dir() / "orders.xlsx", tmp_path / "orders.xlsx")
    code, out, _ = run(
        "check", str(tmp_path / "orders.xlsx"), str(tmp_path / "project/templates/invoice.txt")
    )
    assert code == 0, out
    (tmp_path / "project" / "documents" / "R-2026-1041.pdf").unlink()
    code, out, _ = run(
        "check", str(tmp_path / "orders.xlsx"), str(tmp_path / "project/templates/invoice.txt")
    )
    assert code == 1
    assert "R-2026-1041.pdf is not in the documents folder" in out
