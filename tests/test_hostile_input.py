"""Files and cells written to misbehave: bombs, bad files in one row, markup in cells,
line separators in csv, ledgers that are no ledgers, secrets in notebook parameters."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile, save_profile
from docmail_nb._store.secrets import set_password
from docmail_nb.errors import ConfigError, LedgerError, OrdersError
from docmail_nb.scheduled.parameters import job_from_parameters

PDF = b"%PDF-1.4\n% test\n%%EOF\n"
TEMPLATE = """\
To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Attachment: {{ invoice_no }}.pdf
Key: {{ invoice_no }}

Guten Tag {{ company }}
"""


def plan_csv(tmp_path: Path, text: str, template: str = TEMPLATE) -> Plan:
    documents = tmp_path / "documents"
    documents.mkdir(exist_ok=True)
    path = tmp_path / "orders.csv"
    path.write_text(text, encoding="utf-8")
    orders = read_orders(path)
    for _, values in orders.records():
        target = documents / f"{values['invoice_no']}.pdf"
        if not target.exists() and not target.is_symlink():
            target.write_bytes(PDF)
    return make_plan(orders, parse_template(template, "invoices"), documents=documents)


# --- spreadsheet bombs, read in a child process: an allocation failure kills the process ----


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def patched_xlsx(path: Path, part: str, patch: Any) -> Path:
    original = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["invoice_no", "email"], ["R-1", "a@x.ch"]])))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in original.infolist():
            data = original.read(item.filename)
            out.writestr(item, patch(data) if item.filename == part else data)
    return path


def far_cell(tmp_path: Path) -> Path:
    """5 kB: one cell at XFD1048576, a sheet of a million rows × 16,384 columns."""
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return patched_xlsx(
        tmp_path / "far.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda data: data.replace(b"</sheetData>", far + b"</sheetData>"),
    )


def huge_shared_string(tmp_path: Path) -> Path:
    """A few hundred kB packed, 300 MB of one text unpacked."""
    path = tmp_path / "text.xlsx"
    patched_xlsx(path, "xl/sharedStrings.xml", lambda data: data)
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as out,
        out.open("xl/bomb.xml", "w") as part,
    ):
        chunk = b"A" * (1024 * 1024)
        for _ in range(300):
            part.write(chunk)
    return path


def ods(path: Path, rows_xml: str) -> Path:
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}><office:body>'
        f'<office:spreadsheet><table:table table:name="Orders">{rows_xml}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        out.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        out.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type='
            '"application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>',
        )
    return path


def ods_cell(text: str, repeat: int = 1) -> str:
    return (
        f'<table:table-cell table:number-columns-repeated="{repeat}" '
        f'office:value-type="string"><text:p>{text}</text:p></table:table-cell>'
    )


def repeated_rows(tmp_path: Path) -> Path:
    """800 bytes: the same order repeated a million times."""
    header = f"<table:table-row>{ods_cell('invoice_no')}{ods_cell('email')}</table:table-row>"
    row = f"{ods_cell('R-1')}{ods_cell('a@x.ch')}"
    repeated = f'<table:table-row table:number-rows-repeated="1000000">{row}</table:table-row>'
    return ods(tmp_path / "rows.ods", header + repeated)


def ods_as_saved(tmp_path: Path) -> Path:
    """As a spreadsheet program saves it: empty rows and cells repeated to the sheet's end."""
    header = f"<table:table-row>{ods_cell('invoice_no')}{ods_cell('email')}</table:table-row>"
    row = f"<table:table-row>{ods_cell('R-1')}{ods_cell('a@x.ch')}</table:table-row>"
    trailing = (
        '<table:table-row table:number-rows-repeated="1048574">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    return ods(tmp_path / "saved.ods", header + row + trailing)


READ_IN_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from docmail_nb.errors import OrdersError
from docmail_nb._sheets.orders import read_orders
try:
    print("rows", len(read_orders(sys.argv[1])))
except OrdersError as exc:
    print("refused", exc)
"""


def read_in_child(path: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", READ_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (far_cell, "reaches row 1,048,576"),
        (huge_shared_string, "unpacks to"),
        (repeated_rows, "reaches row 1,000,001"),
    ],
)
def test_spreadsheet_bombs_are_refused_with_a_clear_error(
    tmp_path: Path, make: Any, words: str
) -> None:
    path = make(tmp_path)
    assert path.stat().st_size < 2_000_000
    out = read_in_child(path)
    assert out.startswith("refused"), out
    assert words in out
    assert "save it again" in out


def test_a_sheet_as_spreadsheet_programs_save_it_is_read(tmp_path: Path) -> None:
    assert read_in_child(ods_as_saved(tmp_path)) == "rows 1"
    wide_dimension = patched_xlsx(
        tmp_path / "dim.xlsx",
        "xl/worksheets/sheet1.xml",
        lambda data: re.sub(
            rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', data
        ),
    )
    assert read_in_child(wide_dimension) == "rows 1"


def test_too_many_rows_are_refused_in_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docmail_nb._sheets.orders

    monkeypatch.setattr(docmail_nb._sheets.orders, "check_rows", _check_rows_at(5))
    path = tmp_path / "many.csv"
    path.write_text("invoice_no\n" + "".join(f"R-{n}\n" for n in range(10)), encoding="utf-8")
    with pytest.raises(OrdersError, match="more than the 5"):
        read_orders(path)


def _check_rows_at(limit: int) -> Any:
    import docmail_nb._sheets.limits as limits

    def check(source: Path, rows: int) -> None:
        saved = limits.MAX_ROWS
        limits.MAX_ROWS = limit
        try:
            limits.check_rows(source, rows)
        finally:
            limits.MAX_ROWS = saved

    return check


def test_the_duplicate_key_report_grows_linearly(tmp_path: Path) -> None:
    rows = "".join(f"R-1,k{n}@x.ch,Firma {n}\n" for n in range(3000))
    plan = plan_csv(tmp_path, "invoice_no,email,company\n" + rows)
    assert len(plan.problems) == 3000
    assert plan.drafts == []
    longest = max(len(p.message) for p in plan.problems)
    assert longest < 200, longest
    first = plan.problems[0]
    assert first.message == "The key 'R-1' is used by 3,000 rows: 2–3,001."


# --- one bad file in one row is that row's problem ----------------------------------------


def test_a_bad_file_in_one_row_never_aborts_the_check(tmp_path: Path) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "LOOP.pdf").symlink_to("LOOP.pdf")
    locked = documents / "LOCKED.pdf"
    locked.write_bytes(PDF)
    locked.chmod(0)
    long_name = "L" * 300
    rows = [
        "R-1,a@x.ch,ok,R-1",
        "R-2,b@x.ch,loop,LOOP",
        f"R-3,c@x.ch,long,{long_name}",
        "R-4,d@x.ch,locked,LOCKED",
        "R-5,e@x.ch,ok,R-5",
    ]
    template = TEMPLATE.replace("{{ invoice_no }}.pdf", "{{ file }}.pdf")
    (documents / "R-1.pdf").write_bytes(PDF)
    (documents / "R-5.pdf").write_bytes(PDF)
    path = tmp_path / "orders.csv"
    path.write_text("invoice_no,email,company,file\n" + "\n".join(rows) + "\n", encoding="utf-8")
    try:
        plan = make_plan(
            read_orders(path), parse_template(template, "invoices"), documents=documents
        )
    finally:
        locked.chmod(0o600)
    assert [d.key for d in plan.drafts] == ["R-1", "R-5"] if os.geteuid() else ["R-1", "R-4", "R-5"]
    by_row = {p.row: p.message for p in plan.problems}
    assert "leads back to itself" in by_row[3]
    assert "too long" in by_row[4]
    if os.geteuid():  # root may read any file
        assert "not allowed to read" in by_row[5]


# --- markup in cells ------------------------------------------------------------------------

HOSTILE_CELL = (
    '<a href="https://evil.example/pay">Pay here</a> <img src="https://evil.example/t.png"> '
    "<script>alert(1)</script> [Zahlungslink](https://evil.example/pay) **dringend**"
)


@pytest.mark.parametrize(
    ("format_", "body"),
    [
        ("markdown", "Guten Tag {{ company }}\n\nDetails: [Ihr Konto](https://shop.example/k)"),
        ("html", '<p>Guten Tag {{ company }}</p><p><a href="https://shop.example/k">Konto</a></p>'),
    ],
)
def test_markup_in_a_cell_stays_text_and_the_templates_markup_works(
    tmp_path: Path, format_: str, body: str
) -> None:
    template = TEMPLATE.replace("Guten Tag {{ company }}\n", body + "\n")
    template = template.replace("Key:", f"Format: {format_}\nKey:")
    cell = HOSTILE_CELL.replace('"', '""')
    plan = plan_csv(tmp_path, f'invoice_no,email,company\nR-1,a@x.ch,"{cell}"\n', template)
    (draft,) = plan.drafts
    assert draft.html is not None
    html = draft.html
    assert "evil.example" in html  # shown, as text
    assert '<a href="https://evil.example' not in html
    assert "<img" not in html
    assert "<script" not in html
    assert "<strong>dringend" not in html
    assert 'href="https://shop.example/k"' in html  # the template's own link
    assert "&lt;script&gt;" in html
    if format_ == "markdown":
        assert "[Zahlungslink](https://evil.example/pay)" in html
        assert HOSTILE_CELL in draft.text  # the plain-text part shows the cell as it is


def test_markdown_of_the_template_still_formats_values(tmp_path: Path) -> None:
    template = TEMPLATE.replace("Key:", "Format: markdown\nKey:").replace(
        "Guten Tag {{ company }}", "Guten Tag **{{ company }}**, Betrag {{ amount }}"
    )
    plan = plan_csv(
        tmp_path, "invoice_no,email,company,amount\nR-1,a@x.ch,A_B*C,1'234.50\n", template
    )
    (draft,) = plan.drafts
    assert "<strong>A_B*C</strong>" in (draft.html or "")
    assert "1&#39;234.50" in (draft.html or "")  # an apostrophe, HTML-escaped


# --- csv records end only at CR/LF ----------------------------------------------------------


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"])
def test_csv_unicode_line_separators_inside_a_cell_do_not_shift_columns(
    tmp_path: Path, separator: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        f"invoice_no,company,email\r\nR-1,Muster{separator}AG,a@x.ch\r\nR-2,B,b@x.ch\r\n",
        encoding="utf-8",
    )
    orders = read_orders(path)
    assert orders.row_numbers == [2, 3]
    assert list(orders.frame["email"]) == ["a@x.ch", "b@x.ch"]
    assert list(orders.frame["invoice_no"]) == ["R-1", "R-2"]


# --- ledgers that are no ledgers ------------------------------------------------------------


def test_an_empty_ledger_file_is_refused_not_started_anew(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"")
    with pytest.raises(LedgerError) as refused:
        Ledger(path)
    assert "empty file" in refused.value.message
    assert "-wal" in refused.value.hint
    assert path.stat().st_size == 0  # left as it was


def test_a_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="not a docmail ledger"):
        Ledger(path)
    db = sqlite3.connect(path)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert tables == {"customers"}


def test_a_full_disk_is_a_plain_ledger_error(tmp_path: Path) -> None:
    def claim_many(ledger: Ledger, run: str) -> None:
        for n in range(200):
            ledger.claim(
                run, "invoices", f"R-{n}", content_hash="h" * 64, message_id=f"<{n}@x>",
                rows=(n,), recipients=("a@x.ch",),
            )  # fmt: skip

    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        run = ledger.begin_run()
        ledger._db.execute("PRAGMA max_page_count = 1")  # SQLite answers "disk is full"
        with pytest.raises(LedgerError) as full:
            claim_many(ledger, run)
    assert "the disk is full" in full.value.message
    assert "Free some disk space" in full.value.hint
    assert "sqlite3" not in str(full.value)


def test_two_runs_creating_one_ledger_share_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    first, second = Ledger(path), Ledger(path)
    try:
        run = first.begin_run()
        claim = first.claim(
            run, "c", "k", content_hash="h", message_id="<m@x>", rows=(2,), recipients=("a@x.ch",)
        )
        assert claim.ok
        assert second.get("c", "k") is not None
    finally:
        first.close()
        second.close()


# --- secrets in notebook parameters, by value -----------------------------------------------

SECRET = "Zq7-horse-battery-staple-4711"


def defaults() -> dict[str, Any]:
    return {
        "orders": "", "sheet": "", "template": "", "documents": "", "profile": "", "ledger": "",
        "dry_run": True, "limit": None, "rate": None, "connections": 1, "report": "",
        "fail_on_problems": True, "fail_on_errors": True,
    }  # fmt: skip


@pytest.mark.parametrize("name", ["pw", "kennwort", "smtp_pass", "sheet"])
def test_a_parameter_holding_the_password_is_refused_whatever_its_name(
    name: str, memory_keyring: Any
) -> None:
    save_profile(Profile(name="office", host="smtp.example.ch", username="a@example.ch"))
    set_password("office", SECRET)
    with pytest.raises(ConfigError) as refused:
        job_from_parameters({**defaults(), "profile": "office", name: SECRET})
    assert name in refused.value.message
    assert SECRET not in str(refused.value)


def test_a_parameter_holding_a_docmail_secret_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", SECRET)
    with pytest.raises(ConfigError, match="notebook parameter note"):
        job_from_parameters({**defaults(), "note": f"user:{SECRET}"})


def test_unknown_parameters_are_an_error_not_ignored() -> None:
    with pytest.raises(ConfigError) as refused:
        job_from_parameters({**defaults(), "dryrun": False})
    assert "Unknown notebook parameter dryrun" in refused.value.message
    assert "dry_run" in refused.value.hint


def test_what_ipython_keeps_in_a_notebook_is_no_parameter() -> None:
    namespace: dict[str, Any] = {
        **defaults(), "In": [""], "Out": {}, "_": None, "_i1": "x", "exit": object(),
        "get_ipython": lambda: None, "os": os, "display": print,
    }  # fmt: skip
    assert job_from_parameters(namespace).dry_run is True


@pytest.mark.slow
def test_the_scheduled_notebook_refuses_a_renamed_password_and_a_misspelt_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from notebook_runs import error_output, run_cli

    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", SECRET)
    proc, nb, _ = run_cli(tmp_path, "renamed.ipynb", "-r", "kennwort", SECRET)
    assert proc.returncode != 0
    error = error_output(nb)
    assert (error["ename"], "kennwort" in error["evalue"]) == ("ConfigError", True)
    assert SECRET not in error["evalue"]

    proc, nb, _ = run_cli(tmp_path, "misspelt.ipynb", "-p", "dryrun", "False")
    assert proc.returncode != 0
    assert "Unknown notebook parameter dryrun" in error_output(nb)["evalue"]


# --- a value never adds a recipient ---------------------------------------------------------

NAMED_TO = TEMPLATE.replace("To: {{ email }}", "To: {{ company }} <{{ email }}>\nCc: {{ cc }}")


@pytest.mark.parametrize(
    "company",
    ["evil@x.example,", 'x" <evil@x.example>, "y', "Firma <evil@x.example>", "a; evil@x.example"],
)
def test_a_name_cell_never_adds_a_recipient(tmp_path: Path, company: str) -> None:
    cell = company.replace('"', '""')
    plan = plan_csv(
        tmp_path,
        f'invoice_no,email,company,cc\nR-1,a@x.ch,"{cell}",\nR-2,b@x.ch,Muster AG,\n',
        NAMED_TO,
    )
    assert [d.key for d in plan.drafts] == ["R-2"]
    (problem,) = plan.problems
    assert (problem.row, problem.field) == (2, "To")
    assert "refused" in problem.message


def test_names_with_commas_are_quoted_and_the_address_cell_may_hold_several(
    tmp_path: Path,
) -> None:
    template = TEMPLATE.replace("To: {{ email }}", "To: {{ company }} <{{ email }}>\nCc: {{ cc }}")
    plan = plan_csv(
        tmp_path,
        'invoice_no,email,company,cc\nR-1,a@x.ch,"Müller, Hans","c@x.ch; d@x.ch"\n',
        template,
    )
    (draft,) = plan.drafts
    assert draft.to == ('"Müller, Hans" <a@x.ch>',)
    assert draft.recipients == ("a@x.ch", "c@x.ch", "d@x.ch")
    built = draft.build("invoices", "me@x.ch")
    assert built["To"].addresses[0].display_name == "Müller, Hans"


def test_an_address_from_parts_is_one_address(tmp_path: Path) -> None:
    template = TEMPLATE.replace("To: {{ email }}", "To: {{ email }}@firma.example")
    plan = plan_csv(
        tmp_path, 'invoice_no,email,company\nR-1,anna,A\nR-2,"anna,evil@x.example",B\n', template
    )
    assert [d.to for d in plan.drafts] == [("anna@firma.example",)]
    assert [p.row for p in plan.problems] == [3]


def test_check_says_how_many_recipients_each_message_has(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from docmail_nb.cli import main

    template = tmp_path / "invoice.txt"
    template.write_text(
        "To: {{ email }}\nCc: {{ cc }}\nSubject: Rechnung {{ invoice_no }}\n"
        "Key: {{ invoice_no }}\n\nGuten Tag\n",
        encoding="utf-8",
    )
    orders = tmp_path / "orders.csv"
    orders.write_text(
        'invoice_no,email,cc\nR-1,a@x.ch,\nR-2,b@x.ch,"c@x.ch; d@x.ch"\nR-3,e@x.ch,\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["check", str(orders), str(template), "--documents", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "Recipients per message (To, Cc, Bcc): 1 recipient: 2 messages; "
        "3 recipients: 1 message (R-2)"
    ) in result.output


def test_the_providers_recipients_per_message_limit_is_a_problem_in_the_check(
    tmp_path: Path,
) -> None:
    template = (
        "To: {{ email }}\nCc: {{ cc }}\nSubject: R {{ invoice_no }}\nKey: {{ invoice_no }}\n\nx\n"
    )
    path = tmp_path / "orders.csv"
    path.write_text(
        'invoice_no,email,cc\nR-1,a@x.ch,"b@x.ch, c@x.ch"\nR-2,d@x.ch,e@x.ch\n', encoding="utf-8"
    )
    plan = make_plan(
        read_orders(path), parse_template(template, "invoices"), documents=tmp_path,
        max_recipients=2,
    )  # fmt: skip
    assert [d.key for d in plan.drafts] == ["R-2"]
    (problem,) = plan.problems
    assert (problem.row, problem.key) == (2, "R-1")
    assert "3 recipients" in problem.message
    assert "2 per message" in problem.message
