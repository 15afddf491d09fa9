"""No invoice that goes nowhere, rows chosen on purpose, hints that point at the right cell.

Empty To with Cc/Bcc, Group-By rows that disagree, Send-If and --rows on check, preview and
send (skipped rows listed, not in the exit code), hints naming the full column and the cell
(also inside Group-By loops), swapped arguments, preview with a profile, exports that open in
Swiss Excel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from servers import SMTPTestServer

from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.preview import preview
from docmail_nb._compose.rows import RowChoice
from docmail_nb._compose.templates import parse_template
from docmail_nb._run.send import send_plan
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store import profiles
from docmail_nb.cli import main
from docmail_nb.errors import ConfigError, DocmailError

PDF = b"%PDF-1.4\n% test document\n%%EOF\n"
PASSWORD = "correct horse"
COLUMNS = ["Rechnungsnr", "Kundennr", "Firma", "E-Mail", "Betrag", "Fällig", "Status"]
TEMPLATE = """\
To: {{ row["E-Mail"] }}
Bcc: archiv@schreinerei.example
Subject: Rechnung {{ Rechnungsnr }} – {{ Firma }}
Attachment: {{ Rechnungsnr }}.pdf
Key: {{ Rechnungsnr }}
Send-If: {{ Status != "bezahlt" }}

Betrag {{ Betrag | money }}, zahlbar bis {{ Fällig | date }}.
"""


def invoice(number: int, **changes: Any) -> list[Any]:
    values = {
        "Rechnungsnr": f"R-{number}",
        "Kundennr": "001041",
        "Firma": "Bäckerei Müller AG",
        "E-Mail": "m@mueller.example",
        "Betrag": 100 + number,
        "Fällig": dt.date(2026, 12, 31),
        "Status": "offen",
    }
    values.update(changes)
    return [values[name] for name in COLUMNS]


def workbook(folder: Path, rows: list[list[Any]], columns: list[str] = COLUMNS) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    book.save(folder / "orders.xlsx")
    documents = folder / "documents"
    documents.mkdir(exist_ok=True)
    for row in rows:
        if row[0]:
            (documents / f"{row[0]}.pdf").write_bytes(PDF)
    return folder / "orders.xlsx"


def plan_of(
    folder: Path,
    records: list[list[Any]],
    template: str = TEMPLATE,
    columns: list[str] = COLUMNS,
    **kw: Any,
) -> Plan:
    path = workbook(folder, records, columns)
    return make_plan(
        read_orders(path),
        parse_template(template, name="rechnungen"),
        documents=folder / "documents",
        **kw,
    )


def problems(plan: Plan) -> list[tuple[int | None, str, str]]:
    return [(p.row, p.field, p.message) for p in plan.problems]


# -- 1: an empty To is a problem, also with Bcc ------------------------------------------


@pytest.mark.parametrize("email", [None, "#N/A"])
def test_empty_to_is_a_problem_even_with_a_bcc(tmp_path: Path, email: str | None) -> None:
    path = workbook(tmp_path, [invoice(1), invoice(2, **{"E-Mail": email})])
    if email == "#N/A":  # as a failed VLOOKUP leaves it
        book = openpyxl.load_workbook(path)
        sheet = book.active
        assert sheet is not None
        sheet["D3"].data_type = "e"
        book.save(path)
    plan = make_plan(read_orders(path), parse_template(TEMPLATE), documents=tmp_path / "documents")
    assert [d.key for d in plan.drafts] == ["R-1"]
    ((row, field, message),) = problems(plan)
    assert (row, field) == (3, "To")
    if email is None:
        assert message == (
            "The message has no recipient: To is empty, so it would go only to the copies "
            "(archiv@schreinerei.example)."
        )
        assert plan.problems[0].hint == "Fill in the empty cell D3 (E-Mail)."
    else:
        assert "cell D3 holds the Excel error #N/A" in message


def test_template_without_to_is_refused() -> None:
    with pytest.raises(DocmailError, match="no To header"):
        parse_template("Bcc: archiv@x.example\nSubject: x\nKey: k\n\nx\n")


# -- 3: Group-By rows that disagree ----------------------------------------------------------


def test_group_rows_that_disagree_on_a_header_are_reported(tmp_path: Path) -> None:
    template = (
        TEMPLATE.replace("Key: {{ Rechnungsnr }}", "Key: {{ Kundennr }}-2026")
        .replace("Subject: Rechnung {{ Rechnungsnr }} – {{ Firma }}", "Subject: Rechnungen")
        .replace("Bcc: archiv@schreinerei.example", 'Cc: {{ row["Cc"] }}')
        .replace("Send-If:", "Group-By: Kundennr\nSend-If:")
    )
    rows = [
        [*invoice(1), "buchhaltung@mueller.example"],
        [*invoice(2, **{"E-Mail": "neu@mueller.example"}), None],
        [*invoice(3, Kundennr="001042", **{"E-Mail": "h@hoefli.example"}), None],
    ]
    plan = plan_of(tmp_path, rows, template, [*COLUMNS, "Cc"])
    assert [d.key for d in plan.drafts] == ["001042-2026"]
    found = {(p.row, p.field): p.message for p in plan.problems}
    assert found[(2, "To")] == (
        "The rows of group '001041' disagree on To: row 2: 'm@mueller.example'; "
        "row 3: 'neu@mueller.example'."
    )
    assert found[(2, "Cc")] == (
        "The rows of group '001041' disagree on Cc: row 2: 'buchhaltung@mueller.example'; "
        "row 3: '(empty)'."
    )


# -- 7: Send-If and --rows -------------------------------------------------------------------


def test_send_if_skips_paid_invoices_and_lists_them(tmp_path: Path) -> None:
    rows = [invoice(1), invoice(2, Status="bezahlt"), invoice(3)]
    plan = plan_of(tmp_path, rows)
    assert plan.ok
    assert [d.key for d in plan.drafts] == ["R-1", "R-3"]
    (skipped,) = plan.skipped
    assert skipped.describe() == (
        "Row 3 (R-2): Send-If {{ Status != \"bezahlt\" }} is false (Status = 'bezahlt')"
    )
    with pytest.raises(DocmailError, match="left out"):
        preview(plan, 3)


def test_rows_choose_and_a_totals_row_stays_out(tmp_path: Path) -> None:
    rows = [invoice(1), invoice(2), invoice(3), invoice(4), [None, None, "Total", None, 410]]
    plan = plan_of(tmp_path, rows, rows="2-3,5")
    assert plan.ok, plan.problems
    assert [d.rows for d in plan.drafts] == [(2,), (3,), (5,)]
    assert {s.row for s in plan.skipped} == {4, 6}
    assert 10**6 in RowChoice.parse("5-")
    for bad in ("2-x", "0", "9-3", ""):
        with pytest.raises(ConfigError):
            RowChoice.parse(bad)


def test_check_preview_and_send_with_send_if_and_rows(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [invoice(1), invoice(2, Status="bezahlt"), invoice(3), [None, None, "Total"]]
    path = workbook(tmp_path, rows)
    template = tmp_path / "rechnungen.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    runner = CliRunner()
    args = [str(path), str(template), "--documents", str(tmp_path / "documents")]

    whole = runner.invoke(main, ["check", *args])
    assert whole.exit_code == 1  # the totals row has no To and no Key
    chosen = runner.invoke(main, ["check", *args, "--rows", "2-4"])
    assert chosen.exit_code == 0, chosen.stdout
    assert "Left out (not problems):" in chosen.stdout
    assert 'Row 3 (R-2): Send-If {{ Status != "bezahlt" }} is false' in chosen.stdout
    assert "Row 5: not among the rows chosen (--rows 2-4)" in chosen.stdout
    assert "2 messages ready to send; all 2 rows checked are fine, 2 left out." in chosen.stdout

    shown = runner.invoke(main, ["preview", *args, "--rows", "2-4", "--row", "4"])
    assert shown.exit_code == 0, shown.output
    assert "Subject: Rechnung R-3" in shown.stdout

    server = smtp_server("starttls")
    profiles.save_profile(
        profiles.Profile(
            "office", host=server.host, port=server.port, security="starttls",
            username="anna@example.ch", ca_file=str(ca_file), timeout=10,
        )
    )  # fmt: skip
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    report = tmp_path / "report.csv"
    failed = tmp_path / "zu-korrigieren.csv"
    sent = runner.invoke(
        main,
        ["send", *args, "--rows", "2-4", "--profile", "office", "--yes",
         "--report", str(report), "--failed-rows", str(failed)],
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    assert "2 sent" in sent.stdout
    assert "1 row(s) left out by Send-If, 1 row(s) not among --rows" in sent.stdout
    assert f"No row needs fixing: {failed} was not written." in sent.stdout
    assert not failed.exists()
    assert sorted(str(m.message["Subject"]) for m in server.messages) == [
        "Rechnung R-1 – Bäckerei Müller AG", "Rechnung R-3 – Bäckerei Müller AG"
    ]  # fmt: skip
    frame = pd.read_csv(report, encoding="utf-8-sig")
    assert frame.loc[frame["state"] == "left out", "rows"].tolist() == [3]


# -- 9: hints point at the right cell ------------------------------------------------------


def test_hint_names_the_full_column_and_the_cell(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, [invoice(1), invoice(2, Fällig=None), invoice(3, Betrag="zwölf")])
    hints = {p.row: p.hint for p in plan.problems}
    assert hints[3] == "Fill in the empty cell F3 (Fällig)."
    assert hints[4] == "Check cell E4 (Betrag): it holds 'zwölf'."


def test_hint_inside_a_group_by_loop_names_the_row_of_the_group(tmp_path: Path) -> None:
    template = (
        TEMPLATE.replace("Key: {{ Rechnungsnr }}", "Key: {{ Kundennr }}-2026")
        .replace("Subject: Rechnung {{ Rechnungsnr }} – {{ Firma }}", "Subject: Rechnungen")
        .replace("Attachment: {{ Rechnungsnr }}.pdf\n", "")
        .replace("Send-If:", "Group-By: Kundennr\nSend-If:")
        .split("\n\n")[0]
        + "\n\n{% for r in rows %}{{ r.Rechnungsnr }}: {{ r.Fällig | date }}\n{% endfor %}"
    )
    plan = plan_of(tmp_path, [invoice(1), invoice(2), invoice(3, Fällig=None)], template)
    ((row, field, _message),) = problems(plan)
    assert (row, field) == (2, "body")
    assert plan.problems[0].hint == "Fill in the empty cell F4 (Fällig)."
    assert " r" not in plan.problems[0].hint


def test_filled_but_unreadable_is_never_called_empty(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, [invoice(1, Fällig="31.02.2026")])
    (problem,) = plan.problems
    assert "empty" not in problem.hint
    assert problem.hint == "Check cell F2 (Fällig): it holds '31.02.2026'."


# -- 14: the CLI -----------------------------------------------------------------------------


def test_swapped_arguments_are_named(tmp_path: Path) -> None:
    path = workbook(tmp_path, [invoice(1)])
    template = tmp_path / "rechnungen.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    for first, second in ((template, path), (template, tmp_path / "orders.csv")):
        pd.DataFrame({"a": [1]}).to_csv(tmp_path / "orders.csv", index=False)
        result = CliRunner().invoke(main, ["check", str(first), str(second)])
        assert result.exit_code == 2, result.output
        assert "seem swapped" in result.output
        assert f"{second.name} {first.name}" in result.output


def test_preview_with_a_profile_shows_the_real_from_and_message_id(tmp_path: Path) -> None:
    path = workbook(tmp_path, [invoice(1)])
    template = tmp_path / "rechnungen.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    profiles.save_profile(
        profiles.Profile(
            "office", host="smtp.example.ch", port=587, security="starttls",
            username="anna@example.ch", from_addr="Buchhaltung <rechnung@schreinerei.example>",
        )
    )  # fmt: skip
    args = ["preview", str(path), str(template), "--row", "2"]
    args += ["--documents", str(tmp_path / "documents")]
    plain = CliRunner().invoke(main, args)
    assert "From: (the profile's address)" in plain.stdout
    result = CliRunner().invoke(main, [*args, "--profile", "office"])
    assert result.exit_code == 0, result.output
    assert "From: Buchhaltung <rechnung@schreinerei.example>" in result.stdout
    plan = make_plan(
        read_orders(path), parse_template(TEMPLATE, name="rechnungen"),
        documents=tmp_path / "documents",
    )  # fmt: skip
    message_id = plan.drafts[0].message_id("rechnungen", "rechnung@schreinerei.example")
    assert message_id.endswith("@schreinerei.example>")
    assert f"Message-ID: {message_id}" in result.stdout


# -- 5: exports that open in Swiss Excel ----------------------------------------------------


def test_exports_keep_the_separator_that_was_read_and_a_bom(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    orders_csv = tmp_path / "orders.csv"
    orders_csv.write_bytes(
        "Rechnungsnr;E-Mail;Betrag;Fällig;Status\n"
        "R-1;kein-at;12.50;31.12.2026;offen\n"
        "R-2;m@mueller.example;1'234.50;31.12.2026;offen\n".encode("cp1252")
    )
    template = TEMPLATE.replace("Attachment: {{ Rechnungsnr }}.pdf\n", "").replace(
        " – {{ Firma }}", ""
    )
    orders = read_orders(orders_csv)
    plan = make_plan(orders, parse_template(template), documents=tmp_path)
    server = smtp_server("starttls")
    office = profiles.Profile(
        "office", host=server.host, port=server.port, security="starttls",
        username="anna@example.ch", ca_file=str(ca_file), timeout=10,
    )  # fmt: skip
    report = send_plan(plan, office, password=PASSWORD, ledger=tmp_path / "l.sqlite")
    for path in (report.save(tmp_path / "report.csv"),
                 report.save_failed_rows(orders, tmp_path / "fix.csv")):  # fmt: skip
        assert path is not None
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads it as UTF-8
        assert raw.decode("utf-8-sig").splitlines()[0].count(";") >= 2
    fixed = pd.read_csv(tmp_path / "fix.csv", sep=";", encoding="utf-8-sig", dtype=str)
    assert fixed["Rechnungsnr"].tolist() == ["R-1"]
    xlsx = report.save_failed_rows(orders, tmp_path / "fix.xlsx")
    assert xlsx is not None
    assert openpyxl.load_workbook(xlsx).active["B2"].value == "R-1"  # type: ignore[index]
