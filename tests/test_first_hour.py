"""What a new user meets first: hints that never point at another customer's document, words
that name the right thing to fix, and output that stays small however many rows share a
problem."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers import SMTPTestServer
from test_documents_batch import PROFILE, good_rows, project

from docmail_nb import Batch, MemoryTransport
from docmail_nb._sample import sample_dir
from docmail_nb._store.profiles import Profile, save_profile
from docmail_nb.cli import main
from docmail_nb.errors import DocmailError


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def sample_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(sample_dir(), folder)
    return folder


def test_a_missing_invoice_is_never_matched_to_another_customers(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    (folder / "documents" / "R-2026-1044.pdf").unlink()  # R-2026-1049.pdf etc. are still there
    code, out = run(
        "check", str(folder / "orders.xlsx"), str(folder / "templates" / "invoice.txt"),
        "--documents", str(folder / "documents"),
    )  # fmt: skip
    assert code == 1
    assert "R-2026-1044.pdf is not in the documents folder" in out
    assert str(folder / "documents") in out  # where it looked
    assert "Did you mean" not in out
    for other in range(1041, 1051):
        if other != 1044:
            assert f"R-2026-{other}.pdf" not in out


def test_the_same_invoice_written_differently_is_suggested(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path)
    documents = folder / "documents"
    (documents / "R-2026-1044.pdf").rename(documents / "r-2026-1044.PDF")
    code, out = run(
        "check", str(folder / "orders.xlsx"), str(folder / "templates" / "invoice.txt"),
        "--documents", str(documents),
    )  # fmt: skip
    assert code == 1
    assert "A file named r-2026-1044.PDF is there" in out


def write_sheet(path: Path, rows: int, key: str | None = None) -> None:
    lines = ["invoice_no,email,contact,amount"]
    lines += [f"{key or f'R-{n}'},c{n}@example.ch,Person {n},12.50" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_check_of_20000_rows_sharing_one_key_prints_one_line(tmp_path: Path) -> None:
    write_sheet(tmp_path / "orders.csv", 20_000, key="DUP-1")
    (tmp_path / "invoice.txt").write_text(
        "To: {{ email }}\nSubject: {{ invoice_no }}\nKey: {{ invoice_no }}\n\n"
        "Hallo {{ contact }}\n",
        encoding="utf-8",
    )
    code, out = run("check", str(tmp_path / "orders.csv"), str(tmp_path / "invoice.txt"))
    assert code == 1
    assert len(out.encode()) < 1_000_000
    assert "The key 'DUP-1' is used by 20,000 rows: 2–20,001." in out
    assert out.count("DUP-1") < 5


def test_many_different_problems_are_capped_with_a_count(tmp_path: Path) -> None:
    lines = ["invoice_no,email,contact"] + [f"R-{n},not-an-address-{n},P" for n in range(300)]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "invoice.txt").write_text(
        "To: {{ email }}\nSubject: {{ invoice_no }}\nKey: {{ invoice_no }}\n\nHallo\n",
        encoding="utf-8",
    )
    code, out = run("check", str(tmp_path / "orders.csv"), str(tmp_path / "invoice.txt"))
    assert code == 1
    assert "… and 250 more problems in 250 rows." in out
    assert "not-an-address-299" not in out


def test_placeholders_are_matched_to_columns_by_their_words(tmp_path: Path) -> None:
    write_sheet(tmp_path / "orders.csv", 3)
    (tmp_path / "invoice.txt").write_text(
        "To: {{ email }}\nSubject: {{ invoice_no }}\nKey: {{ invoice_no }}\n\n"
        "Hallo {{ contact_name }}\n",
        encoding="utf-8",
    )
    code, out = run("check", str(tmp_path / "orders.csv"), str(tmp_path / "invoice.txt"))
    assert code == 1
    assert "Did you mean {{ contact }}?" in out


def test_a_template_mistake_in_preview_says_fix_the_template(tmp_path: Path) -> None:
    write_sheet(tmp_path / "orders.csv", 3)
    (tmp_path / "invoice.txt").write_text(
        "To: {{ email }}\nSubject: {{ invoice_no }}\nKey: {{ invoice_no }}\n\n"
        "Zahlbar bis {{ due_date }}\n",
        encoding="utf-8",
    )
    code, out = run(
        "preview", str(tmp_path / "orders.csv"), str(tmp_path / "invoice.txt"), "--row", "2"
    )
    assert code != 0
    assert "Fix the template" in out
    assert "Fix the row" not in out
    assert ".;" not in out


def test_the_stop_summary_counts_documents_never_made_as_not_made(tmp_path: Path) -> None:
    orders, template = project(tmp_path, good_rows(3))
    batch = Batch.from_files(
        orders,
        template,
        documents_out=tmp_path / "made",
        profile=PROFILE,
        ledger=tmp_path / "ledger.sqlite",
        transport=MemoryTransport(),
    )
    stop = threading.Event()
    report = batch.send(lambda *_: stop.set(), stop=stop)  # Stop pressed during the first
    assert report.counts() == {"sent": 1, "planned": 2}
    (note,) = [note for note in report.notes if note.startswith("Documents in")]
    assert note.endswith(": 1 made now, 2 not made (their messages were not reached).")


def test_a_refused_login_says_where_the_password_came_from_and_nothing_else(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("starttls")
    save_profile(
        Profile("office", host=server.host, port=server.port, username="anna@example.ch",
                from_addr="buchhaltung@bergmann-werkstatt.example", ca_file=str(ca_file))
    )  # fmt: skip
    sample = sample_copy(tmp_path)  # qr_invoice.txt makes its documents in the folder
    args = [str(sample / "orders.xlsx"), "--sheet", "Rechnungen"]
    ledger = ["--ledger", str(tmp_path / "ledger.sqlite"), "--yes", "--profile", "office"]
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", "correct horse")
    first = CliRunner().invoke(
        main, ["send", *args, str(sample / "templates" / "invoice.txt"), *ledger]
    )
    assert first.exit_code == 0, first.output  # campaign 'invoice' sent these keys

    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", "wrong horse")
    again = CliRunner().invoke(
        main, ["send", *args, str(sample / "templates" / "qr_invoice.txt"), *ledger]
    )
    assert again.exit_code == 1
    assert "did not accept the username or password" in again.output
    assert "came from the environment variable DOCMAIL_SMTP_PASSWORD" in again.output
    assert "campaign 'invoice'" not in again.output  # no note about another campaign's keys
    assert "wrong horse" not in again.output


def test_a_test_message_of_a_broken_template_says_fix_the_template(tmp_path: Path) -> None:
    write_sheet(tmp_path / "orders.csv", 3)
    (tmp_path / "invoice.txt").write_text(
        "To: {{ email }}\nSubject: {{ invoice_no }}\nKey: {{ invoice_no }}\n\n{{ nowhere }}\n",
        encoding="utf-8",
    )
    batch = Batch.from_files(
        tmp_path / "orders.csv", tmp_path / "invoice.txt", profile=PROFILE,
        transport=MemoryTransport(),
    )  # fmt: skip
    with pytest.raises(DocmailError) as raised:
        batch.send_test(2)
    assert "the template has a problem" in raised.value.message
    assert "Fix the template" in raised.value.hint
