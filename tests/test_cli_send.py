"""`docmail send` end to end: the sample batch over verified STARTTLS, reruns, exit codes."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from helpers import PASSWORD, TEMPLATE, write_orders
from servers import SMTPTestServer

from docmail_nb import Batch, ConfigError, SendOptions
from docmail_nb._sample import sample_dir
from docmail_nb._store.profiles import Profile, save_profile
from docmail_nb.cli import main

SAMPLE = sample_dir()
INVOICES = [str(SAMPLE / "orders.xlsx"), str(SAMPLE / "templates" / "invoice.txt")]
SHEET = ["--sheet", "Rechnungen", "--documents", str(SAMPLE / "documents")]


@pytest.fixture
def server(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> SMTPTestServer:
    started = smtp_server("starttls")
    save_profile(
        Profile(
            "office",
            host=started.host,
            port=started.port,
            username="anna@example.ch",
            from_addr="buchhaltung@bergmann-werkstatt.example",
            ca_file=str(ca_file),
            timeout=10,
        )
    )
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    return started


def docmail(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sample_batch_is_delivered_once_and_a_rerun_sends_nothing(
    server: SMTPTestServer, tmp_path: Path, docmail_home: Path
) -> None:
    report = tmp_path / "report.xlsx"
    result = docmail("send", *INVOICES, *SHEET, "--yes", "--report", str(report))
    assert result.exit_code == 0, result.output
    assert "10 sent" in result.output
    assert len(server.messages) == 10
    assert server.record.connections == 1
    first = server.messages[0].message
    assert first["From"] == "buchhaltung@bergmann-werkstatt.example"
    assert [part.get_filename() for part in first.iter_attachments()] == ["R-2026-1041.pdf"]
    frame = pd.read_excel(report, dtype=str, engine="calamine")
    assert list(frame["state"]) == ["sent"] * 10
    assert (docmail_home / "ledger.sqlite").exists()

    again = docmail("send", *INVOICES, *SHEET, "--yes")
    assert again.exit_code == 0, again.output
    assert "10 skipped (already sent)" in again.output
    assert len(server.messages) == 10


def test_without_a_terminal_send_needs_yes(server: SMTPTestServer) -> None:
    result = CliRunner().invoke(main, ["send", *INVOICES, *SHEET], input="y\n")
    assert result.exit_code == 2
    assert "no terminal" in result.output
    assert "--yes" in result.output
    assert not server.messages


def test_dry_run_sends_and_records_nothing(server: SMTPTestServer, docmail_home: Path) -> None:
    result = docmail("send", *INVOICES, *SHEET, "--dry-run", "--limit", "4")
    assert result.exit_code == 0, result.output
    assert "4 would be sent (dry run)" in result.output
    assert "6 left for a later run" in result.output
    assert server.record.connections == 0
    assert not (docmail_home / "ledger.sqlite").exists()


def _orders_with_a_bad_row(folder: Path) -> list[str]:
    orders = write_orders(folder, 4, bad_rows=(4,))
    template = folder / "invoices.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    return [str(orders), str(template), "--documents", str(folder)]


def test_problem_rows_exit_1_and_go_to_the_failed_rows_file(
    server: SMTPTestServer, tmp_path: Path
) -> None:
    args = _orders_with_a_bad_row(tmp_path)
    failed = tmp_path / "to-fix.xlsx"
    result = docmail(
        "send", *args, "--yes", "--failed-rows", str(failed), "--ledger", str(tmp_path / "l.sqlite")
    )
    assert result.exit_code == 1, result.output
    assert "Row 4 (R-1002): problem in" in result.output
    assert "3 sent" in result.output
    assert len(server.messages) == 3
    rows = pd.read_excel(failed, dtype=str, engine="calamine")
    assert list(rows["row"]) == ["4"]
    assert list(rows["invoice_no"]) == ["R-1002"]
    assert rows.loc[0, "error"]


def test_all_or_nothing_sends_nothing_when_a_row_has_a_problem(
    server: SMTPTestServer, tmp_path: Path
) -> None:
    args = _orders_with_a_bad_row(tmp_path)
    result = docmail("send", *args, "--all-or-nothing")  # no --yes needed: nothing goes out
    assert result.exit_code == 1, result.output
    assert "3 left for a later run" in result.output
    assert not server.messages


def test_a_wrong_password_stops_with_the_diagnosis_and_exit_1(
    server: SMTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", "wrong horse")
    result = docmail("send", *INVOICES, *SHEET, "--yes", "--connections", "3")
    assert result.exit_code == 1  # as `docmail test` for the same diagnosis
    assert "Error:" in result.output
    assert "Hint:" in result.output
    assert "wrong horse" not in result.output
    assert len(server.record.auth_attempts) == 1
    assert not server.messages


def test_test_to_me_sends_one_marked_message_to_my_own_address(
    server: SMTPTestServer, docmail_home: Path
) -> None:
    result = docmail("send", *INVOICES, *SHEET, "--test-to-me", "3")
    assert result.exit_code == 0, result.output
    (received,) = server.messages
    assert received.rcpt_tos == ["buchhaltung@bergmann-werkstatt.example"]
    assert str(received.message["Subject"]).startswith("[TEST] Rechnung R-2026-1042")
    assert "Cc" not in received.message
    assert not (docmail_home / "ledger.sqlite").exists()


@pytest.mark.parametrize("rate", ["fast", "0/min", "-3", "nan"])
def test_a_bad_rate_is_a_usage_error(server: SMTPTestServer, rate: str) -> None:
    result = docmail("send", *INVOICES, *SHEET, "--yes", "--rate", rate)
    assert result.exit_code == 2
    assert "--rate 30/min" in result.output
    assert not server.messages


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_a_usage_error(server: SMTPTestServer, limit: str) -> None:
    result = docmail("send", *INVOICES, *SHEET, "--yes", "--limit", limit)
    assert result.exit_code == 2
    assert "--limit" in result.output
    assert not server.messages


def test_send_options_take_the_same_limit_rule_for_every_face() -> None:
    with pytest.raises(ConfigError, match="whole number above 0"):
        SendOptions(limit=0)
    assert SendOptions(limit=1).limit == 1


def test_on_a_terminal_send_asks_first(server: SMTPTestServer) -> None:
    plan = Batch.from_files(*INVOICES, sheet="Rechnungen", documents=SAMPLE / "documents").plan
    recipients = {address for draft in plan.drafts[:2] for address in draft.recipients}
    command = [sys.executable, "-m", "docmail_nb", "send", *INVOICES, *SHEET, "--limit", "2"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: docmail on a terminal
        os.execvpe(command[0], command, os.environ)
    output = b""
    try:
        while b"?" not in output:
            output += os.read(fd, 1024)
        os.write(fd, b"y\n")
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
    text = output.decode()
    question = (
        f"Send 2 messages to {len(recipients)} recipients via 127.0.0.1 as "
        "buchhaltung@bergmann-werkstatt.example?"
    )
    assert question in text
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert len(server.messages) == 2


def test_the_console_script_is_installed() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("docmail")), "send", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--resend-unknown" in done.stdout


def test_unreachable_server_is_said_first_not_after_a_line_per_message(
    tmp_path: Path, docmail_home: Path
) -> None:
    from servers import free_port

    save_profile(
        Profile(
            "office",
            host="127.0.0.1",
            port=free_port(),  # nothing listens there
            security="none",
            from_addr="buchhaltung@bergmann-werkstatt.example",
            timeout=10,
        )
    )
    result = docmail("send", *INVOICES, *SHEET, "--yes")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("Error:"), lines
    assert "refused the connection" in lines[0]
    assert lines[1].startswith("Hint:")
    assert not any(line.startswith("[") for line in lines), lines  # no line per message
    assert "10 left for a later run" in result.output
