"""Inputs written to misbehave, third round: document names of two keys, Document: paths,
template bombs, long cells, payment data in other scripts, token commands, init through links."""

from __future__ import annotations

import csv
import logging
import os
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from docmail_nb._auth import signin, token_command
from docmail_nb._documents.qrbill import check_payment
from docmail_nb._store.profiles import Profile
from docmail_nb.batch import Batch
from docmail_nb.cli import main
from docmail_nb.errors import DocmailError

MESSAGE = """To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Document: invoice.html
Key: {{ invoice_no }}

Guten Tag, anbei die Rechnung {{ invoice_no }}.
"""
DOCUMENT = "<html><body><h1>Rechnung {{ invoice_no }}</h1><p>{{ company }}</p></body></html>"


def project(
    tmp_path: Path, rows: list[dict[str, Any]], message: str = MESSAGE
) -> tuple[Path, Path]:
    (tmp_path / "templates").mkdir(exist_ok=True)
    template = tmp_path / "templates" / "invoice.txt"
    template.write_text(message, encoding="utf-8")
    (tmp_path / "templates" / "invoice.html").write_text(DOCUMENT, encoding="utf-8")
    orders = tmp_path / "orders.csv"
    columns = sorted({name for row in rows for name in row})
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return orders, template


def customer(number: str, **more: str) -> dict[str, str]:
    return {"invoice_no": number, "email": f"k{abs(hash(number))}@example.org",
            "company": f"Kunde {number}", **more}  # fmt: skip


# --- two keys, one PDF ------------------------------------------------------------------------


def test_two_keys_that_would_share_a_document_file_are_a_problem_of_both_rows(
    tmp_path: Path,
) -> None:
    numbers = ["A 7", "A_7", "A/7", "A_7.", "B-1", "b-1", "C-2"]
    orders, template = project(tmp_path, [customer(n) for n in numbers])
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    troubled = {problem.row for problem in plan.problems}
    assert troubled == {2, 3, 4, 5, 6, 7}  # every row of a colliding name; C-2 is fine
    assert [draft.key for draft in plan.drafts] == ["C-2"]
    problem = next(p for p in plan.problems if p.row == 2)
    assert "invoice-A_7.pdf" in problem.message
    assert "'A_7'" in problem.message
    assert "row 3" in problem.message
    names = [doc.name for draft in plan.drafts for doc in draft.documents]
    assert names == ["invoice-C-2.pdf"]


# --- Document: paths stay in the template's folder ---------------------------------------------


@pytest.mark.parametrize(
    "cell", ["_x/../../../elsewhere/foreign.html", "../elsewhere/foreign.html", "/tmp/x.html"]
)
def test_a_document_path_from_a_cell_cannot_leave_the_template_folder(
    tmp_path: Path, cell: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "foreign.html").write_text("<p>{{ invoice_no }} foreign</p>", encoding="utf-8")
    message = MESSAGE.replace("Document: invoice.html", "Document: {{ doc }}")
    orders, template = project(tmp_path, [customer("R-1", doc=cell)], message)
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    assert not plan.drafts
    (problem,) = plan.problems
    assert problem.field == "Document"
    assert "template folder" in problem.message


def test_a_document_linked_out_of_the_template_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "foreign.html").write_text("<p>{{ invoice_no }}</p>", encoding="utf-8")
    message = MESSAGE.replace("Document: invoice.html", "Document: linked.html")
    orders, template = project(tmp_path, [customer("R-1")], message)
    (template.parent / "linked.html").symlink_to(elsewhere / "foreign.html")
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    assert not plan.drafts
    assert any("template folder" in p.message for p in plan.problems)


# --- template bombs and a template that rewrites its row ---------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "'x' * 10**10",
        "[1] * 10**9",
        "10**9 * 'x'",
        "(invoice_no ~ 'x') * 10**8",
        "lipsum(10**6)",
        "lipsum(3, min=10**9, max=10**9)",
        "2 ** (10**9)",
        "'%099999999d' % 1",
        "'%099999999d' | format(1)",
        "'{:>9999999999}'.format(1)",
        "'x'.center(10**10)",
        "'x'.ljust(10**10)",
        "('x' * 100000).replace('x', 'y' * 100000)",
        "('x' * 100000) | replace('x', 'y' * 100000)",
        "('-' * 100000).join(['a'] * 100000)",
        "'x' | indent(10**10, true)",
    ],
)
@pytest.mark.parametrize("where", ["Subject", "Send-If"])
def test_repetition_and_lipsum_are_bounded(tmp_path: Path, expression: str, where: str) -> None:
    if where == "Subject":
        message = MESSAGE.replace(
            "Subject: Rechnung {{ invoice_no }}", f"Subject: {{{{ {expression} }}}}"
        )
    else:
        message = f"Send-If: {expression}\n" + MESSAGE
    orders, template = project(tmp_path, [customer("R-1"), customer("R-2")], message)
    started = time.monotonic()
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    assert time.monotonic() - started < 60  # it ends; the bound is far below this
    assert not plan.drafts
    assert plan.problems
    assert any("too" in p.message or "unsafe" in p.message for p in plan.problems), plan.problems


def test_a_template_that_renders_without_end_is_stopped(tmp_path: Path) -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    orders, template = project(tmp_path, [customer("R-1")], MESSAGE.replace("Guten Tag", loops))
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    (problem,) = plan.problems
    assert "too much" in problem.message


def test_small_repetition_and_lipsum_still_work(tmp_path: Path) -> None:
    message = MESSAGE.replace(
        "Guten Tag",
        "{{ '-' * 40 }} {{ ([1, 2] * 3) | length }} {{ lipsum(1, html=False) }} "
        "{{ 'a-b' | replace('-', '+') }} {{ '%05d' | format(7) }} {{ '{:>4}'.format(1) }} "
        "{{ 'x' | indent(2, true) }} {{ 'ab'.center(4) }}|",
    )
    orders, template = project(tmp_path, [customer("R-1")], message)
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    assert plan.ok, plan.problems
    (draft,) = plan.drafts
    assert "-" * 40 + " 6 " in draft.text
    assert "a+b 00007    1   x  ab |" in draft.text


def test_a_template_cannot_rewrite_its_row(tmp_path: Path) -> None:
    message = MESSAGE.replace(
        "Subject: Rechnung", "Subject: {{ row.update(email='attacker@example.net') or '' }}Rechnung"
    )
    orders, template = project(tmp_path, [customer("R-1")], message)
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    assert not plan.drafts
    assert any("unsafe" in p.message for p in plan.problems)


# --- long cells in check's output --------------------------------------------------------------


@pytest.mark.parametrize("column", ["amount", "email"])
def test_check_shortens_a_huge_cell_in_its_output(tmp_path: Path, column: str) -> None:
    import openpyxl

    rows = [customer("R-1", amount="Z" * (2 * 1024 * 1024)), customer("R-2", amount="12.50")]
    rows[0][column] = "Z" * (2 * 1024 * 1024)
    message = MESSAGE.replace("Guten Tag", "Betrag {{ amount | money }}. Guten Tag")
    _, template = project(tmp_path, rows, message)
    book = openpyxl.Workbook()
    columns = list(rows[0])
    book.active.append(columns)
    for values in rows:
        book.active.append([values[name] for name in columns])
    orders = tmp_path / "orders.xlsx"
    book.save(orders)
    result = CliRunner().invoke(main, ["check", str(orders), str(template)])
    assert result.exit_code == 1, result.output
    assert "R-1" in result.output
    assert len(result.output) < 5_000  # the cell is 32,767 characters as the sheet keeps it
    assert "characters" in result.output  # says that something was left out


# --- payment data as the Swiss Payment Standards allow -----------------------------------------

CREDITOR = {"name": "Bergmann GmbH", "pcode": "8406", "city": "Winterthur", "country": "CH"}


def payment_problems(**fields: Any) -> list[tuple[str, str]]:
    data, problems = check_payment(
        **{"account": "CH93 0076 2011 6238 5295 7", "creditor": CREDITOR, **fields}
    )
    assert data is None
    return [(problem.field, problem.message) for problem in problems]


def test_an_iban_in_other_digits_or_with_accents_is_refused_naming_the_field() -> None:
    arabic = "CH93 0076 2011 6238 5295 7".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    ((field, message),) = payment_problems(account="CH" + arabic[2:])
    assert field == "account"
    assert "0-9" in message
    ((field, message),) = payment_problems(account="CH93 0076 2011 6238 5295 É")
    assert field == "account"
    assert "'É'" in message
    assert "base 36" not in message


def test_a_reference_in_other_digits_is_refused() -> None:
    digits = "210000000003139471430009017"
    arabic = digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    ((field, _message),) = payment_problems(account="CH44 3199 9123 0008 8901 2", reference=arabic)
    assert field == "reference"


@pytest.mark.parametrize(
    "amount", ["1" * 29, "9" * 40 + ".99", Decimal("1E+400"), "١٢٣.٤٥", "1e999999999"]
)
def test_an_amount_out_of_bounds_or_in_other_digits_names_the_field(amount: Any) -> None:
    ((field, message),) = payment_problems(amount=amount)
    assert field == "amount"
    assert "InvalidOperation" not in message
    assert "class" not in message


def test_money_of_a_huge_amount_is_a_plain_problem(tmp_path: Path) -> None:
    message = MESSAGE.replace("Guten Tag", "{{ amount | money }}")
    orders, template = project(tmp_path, [customer("R-1", amount="1" * 29)], message)
    plan = Batch.from_files(orders, template, documents_out=tmp_path / "made").plan
    (problem,) = plan.problems
    assert "InvalidOperation" not in problem.message


# --- token commands ----------------------------------------------------------------------------


def token_profile(command: str) -> Profile:
    return Profile(
        "tok", host="127.0.0.1", username="anna@example.ch", auth="token-command",
        token_command=command,
    )  # fmt: skip


def test_a_token_commands_stderr_stays_out_of_the_error_and_is_shown_once_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    profile = token_profile(
        "echo 'refresh_token=0.AVYA-secret-refresh-token-value-1234567890abcdef' >&2; exit 2"
    )
    caplog.set_level(logging.WARNING)
    texts = []
    for _ in range(3):
        with pytest.raises(DocmailError) as caught:
            signin.access_token(profile)
        texts.append(f"{caught.value.message} {caught.value.hint}")
    assert all("secret-refresh" not in text and "exit status 2" in text for text in texts)
    shown = [r.getMessage() for r in caplog.records if "refresh_token" in r.getMessage()]
    assert len(shown) == 1, shown
    assert "secret-refresh" not in shown[0]


def test_a_token_command_that_prints_without_end_is_stopped() -> None:
    with pytest.raises(DocmailError) as caught:
        signin.access_token(token_profile("yes"))
    assert "more than" in caught.value.message


def test_a_token_command_that_hangs_is_killed_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_command, "TOKEN_COMMAND_TIMEOUT", 1.0)
    pid_file = tmp_path / "child.pid"
    with pytest.raises(DocmailError) as caught:
        signin.access_token(token_profile(f"sleep 300 & echo $! > {pid_file}; sleep 300"))
    assert "no answer within" in caught.value.message
    child = int(pid_file.read_text())
    for _ in range(100):  # the kill is sent; reaping by init may take a moment
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the token command's child outlived it")


# --- docmail init never writes through a link --------------------------------------------------


@pytest.mark.parametrize("link", ["templates", "documents", "runs", "."])
def test_init_refuses_to_write_through_a_symlink(tmp_path: Path, link: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = tmp_path / "work"
    if link == ".":
        folder.symlink_to(elsewhere, target_is_directory=True)
    else:
        folder.mkdir()
        (folder / link).symlink_to(elsewhere, target_is_directory=True)
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code != 0, result.output
    assert "link" in result.output
    assert list(elsewhere.iterdir()) == []
