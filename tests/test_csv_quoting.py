"""csv exports that stay one cell per field in any spreadsheet program, whatever it splits on."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import PASSWORD, TEMPLATE, office, write_orders
from servers import SMTPTestServer

from docmail_nb._sheets.exports import save_table
from docmail_nb._store import profiles
from docmail_nb.cli import main

CELLS = [
    "Muster AG;=1+41;",
    "a,=HYPERLINK(1)",
    "tab\t@SUM(A1)",
    'quote " inside',
    "two\nlines",
    "=1+1",
    "-5 CHF",
    "plain",
]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_every_risky_field_is_quoted_whatever_the_separator(tmp_path: Path, separator: str) -> None:
    frame = pd.DataFrame({"company": CELLS, "amount": [1.5] * len(CELLS)})
    path = save_table(frame, tmp_path / "report.csv", "report", separator)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    for other in (",", ";", "\t"):  # a program splitting on any separator: no formula
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=other))
        formulas = [cell for row in rows for cell in row if cell.startswith(("=", "+", "@"))]
        assert formulas == [], (other, formulas)
    back = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    assert [row[0] for row in back[1:]] == [
        "'" + cell if cell.startswith(("=", "-", "@")) else cell for cell in CELLS
    ]
    assert '"Muster AG;=1+41;"' in text
    assert f'"plain"{separator}' not in text  # quotes only where they are needed


def test_a_comma_report_read_by_swiss_excel_keeps_the_formula_cell_whole(tmp_path: Path) -> None:
    frame = pd.DataFrame({"company": ["Muster AG;=1+41;"], "key": ["R-1"]})
    text = save_table(frame, tmp_path / "r.csv", "report", ",").read_text(encoding="utf-8-sig")
    (_, row) = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert not any(cell.startswith("=") for cell in row), row


def test_send_writes_semicolon_csv_reports_for_swiss_excel(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("starttls")
    profiles.save_profile(office(server, ca_file))
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    orders = write_orders(tmp_path, 3, bad_rows=(3,))  # a , csv
    (tmp_path / "invoices.txt").write_text(TEMPLATE, encoding="utf-8")
    args = ["send", str(orders), str(tmp_path / "invoices.txt"), "--documents", str(tmp_path)]
    args += ["--ledger", str(tmp_path / "l.sqlite"), "--yes", "--csv-separator", ";"]
    args += ["--report", str(tmp_path / "report.csv"), "--failed-rows", str(tmp_path / "f.csv")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # row 3 has a problem
    for name in ("report.csv", "f.csv"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        header = data.decode("utf-8-sig").splitlines()[0]
        assert ";" in header, header
        assert "," not in header, header
    failed = list(csv.DictReader(io.StringIO((tmp_path / "f.csv").read_text("utf-8-sig")),
                                 delimiter=";"))  # fmt: skip
    assert [row["row"] for row in failed] == ["3"]
    bad = CliRunner().invoke(main, [*args[:-6], "--csv-separator", "|"])
    assert bad.exit_code == 2
