"""The scheduled notebook run by papermill with a real ipykernel against real SMTP servers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from notebook_runs import (
    NOTEBOOK,
    ORDERS,
    TEMPLATE,
    bad_address_in_row_3,
    batch,
    error_output,
    outputs_text,
    params,
    run_cli,
)
from servers import SMTPTestServer

from docmail_nb._mail.sink import CaptureServer
from docmail_nb._store.profiles import Profile, save_profile
from docmail_nb.errors import ConfigError
from docmail_nb.scheduled import describe_job
from docmail_nb.scheduled.parameters import job_from_parameters, refuse_secret_parameters

pytestmark = pytest.mark.slow
__all__ = ["batch"]  # the fixture, from notebook_runs

USER = "anna@example.ch"
PASSWORD = "Zq7-horse-battery-staple-4711"


@pytest.fixture
def office(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> SMTPTestServer:
    """A STARTTLS server with AUTH, its saved profile, the password in the job's environment."""
    server = smtp_server("starttls", users={USER: PASSWORD})
    save_office_profile(server, ca_file)
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    return server


def save_office_profile(server: SMTPTestServer, ca_file: Path) -> None:
    save_profile(
        Profile(
            name="office",
            host=server.host,
            port=server.port,
            security="starttls",
            username=USER,
            from_addr=USER,
            ca_file=str(ca_file),
        )
    )


def assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert json.dumps(PASSWORD)[1:-1] not in text


# --- dry runs ---------------------------------------------------------------------------------


def test_notebook_as_shipped_is_a_dry_run_of_the_sample(tmp_path: Path) -> None:
    proc, nb, _ = run_cli(tmp_path, "dry.ipynb")
    assert proc.returncode == 0, proc.stderr
    text = outputs_text(nb)
    assert "dry run" in text
    assert "orders.xlsx" in text
    assert "R-2026-1041" in text
    assert "10 would be sent (dry run)" in text
    assert not (tmp_path / "docmail-home" / "ledger.sqlite").exists()


def test_dry_run_sends_nothing(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    proc, nb, text = run_cli(tmp_path, "dry.ipynb", *params(batch, profile="office"))
    assert proc.returncode == 0, proc.stderr
    assert office.messages == []
    assert "R-2026-0003" in outputs_text(nb)
    assert_no_secret(text)


# --- real runs --------------------------------------------------------------------------------


def test_real_run_sends_the_batch_then_a_rerun_sends_nothing(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    report = tmp_path / "report.csv"
    proc, nb, text = run_cli(tmp_path, "first.ipynb", *args, "-r", "report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert sorted(m.message["Subject"] for m in office.messages) == [
        "Rechnung R-2026-0001",
        "Rechnung R-2026-0002",
        "Rechnung R-2026-0003",
    ]
    assert "R-2026-0001" in report.read_text(encoding="utf-8")
    assert_no_secret(text)

    proc, nb, text = run_cli(tmp_path, "second.ipynb", *args)
    assert proc.returncode == 0, proc.stderr
    assert len(office.messages) == 3
    assert "nothing new to send" in outputs_text(nb).lower()
    assert_no_secret(text)


def test_readme_command_sends_the_sample_through_the_capture_server(tmp_path: Path) -> None:
    with CaptureServer(tmp_path / "outbox") as sink:
        save_profile(sink.profile("capture"))
        proc, _nb, _ = run_cli(
            tmp_path, "sample.ipynb", "-r", "profile", "capture", "-p", "dry_run", "False"
        )
        assert proc.returncode == 0, proc.stderr
        subjects = {m.subject for m in sink.messages}
    assert any("R-2026-1041" in subject for subject in subjects)
    assert len(subjects) == 10


# --- failing runs -----------------------------------------------------------------------------


def test_bad_row_fails_the_run_naming_the_row(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    bad_address_in_row_3(batch)
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(tmp_path / "bad.ipynb"),
            parameters={**batch, "profile": "office", "dry_run": False},
            progress_bar=False,
            cwd=str(tmp_path),
        )
    assert failure.value.ename == "BatchFailed"
    assert "Row 3 (R-2026-0002)" in failure.value.evalue
    assert "Row 2 " not in failure.value.evalue
    assert office.messages == []
    nb = nbformat.read(tmp_path / "bad.ipynb", as_version=4)
    assert "Row 3 (R-2026-0002)" in error_output(nb)["evalue"]


def test_bad_row_can_be_skipped_when_asked(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    bad_address_in_row_3(batch)
    args = [*params(batch, dry_run=False, fail_on_problems=False), "-r", "profile", "office"]
    proc, nb, _ = run_cli(tmp_path, "skip.ipynb", *args)
    assert proc.returncode == 0, proc.stderr
    assert len(office.messages) == 2
    assert "R-2026-0002" in outputs_text(nb)


def test_rejected_password_fails_with_the_535_diagnosis(
    tmp_path: Path,
    batch: dict[str, str],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server(
        "starttls", users={USER: "another"}, auth_reply="535 5.7.3 Authentication unsuccessful"
    )
    save_office_profile(server, ca_file)
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, nb, text = run_cli(tmp_path, "auth.ipynb", *args)
    assert proc.returncode != 0
    error = error_output(nb)
    assert error["ename"] == "SMTPProblem"
    assert "535" in error["evalue"]
    assert "password" in error["evalue"].lower()
    assert server.messages == []
    assert_no_secret(text)
    assert_no_secret(proc.stdout + proc.stderr)


def test_password_parameter_is_refused(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    args = [*params(batch, dry_run=False), "-r", "profile", "office", "-p", "password", "x"]
    proc, nb, _ = run_cli(tmp_path, "secret.ipynb", *args)
    assert proc.returncode != 0
    error = error_output(nb)
    assert error["ename"] == "ConfigError"
    assert "password" in error["evalue"]
    assert "DOCMAIL_SMTP_PASSWORD" in error["evalue"]
    assert "keyring" in error["evalue"]
    assert office.messages == []
    assert office.record.connections == 0


def test_password_from_the_environment_is_nowhere_in_the_output(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, nb, text = run_cli(tmp_path, "sent.ipynb", *args)
    assert proc.returncode == 0, proc.stderr
    assert len(office.messages) == 3
    # the whole notebook: cells, outputs, metadata (papermill's parameters included)
    assert_no_secret(text)
    assert_no_secret(json.dumps(nb.metadata))
    assert_no_secret(proc.stdout + proc.stderr)


# --- identifiers and parameters ---------------------------------------------------------------


def test_numeric_identifier_given_with_p_is_refused_and_works_with_r(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "00123"
    for line in ORDERS.splitlines():
        sheet.append(line.split(";"))
    xlsx = tmp_path / "orders.xlsx"
    workbook.save(xlsx)
    batch = {**batch, "orders": str(xlsx), "profile": "office"}

    proc, nb, _ = run_cli(tmp_path, "p.ipynb", *params(batch), "-p", "sheet", "00123")
    assert proc.returncode != 0
    assert "-r sheet" in error_output(nb)["evalue"]

    proc, nb, _ = run_cli(tmp_path, "r.ipynb", *params(batch), "-r", "sheet", "00123")
    assert proc.returncode == 0, proc.stderr
    assert "R-2026-0001" in outputs_text(nb)


@pytest.mark.parametrize("name", ["password", "smtp_password", "api_token", "SECRET", "apikey"])
def test_secret_looking_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        refuse_secret_parameters([name, "orders"])
    assert name in refused.value.message
    assert "DOCMAIL_SMTP_PASSWORD" in refused.value.hint


def shipped_defaults() -> dict[str, Any]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    namespace: dict[str, Any] = {}
    exec(cell.source, namespace)
    del namespace["__builtins__"]
    return namespace


def test_parameters_are_converted_from_raw_text() -> None:
    job = job_from_parameters(
        {**shipped_defaults(), "dry_run": "false", "limit": "5", "rate": "30/min"}
    )
    assert (job.dry_run, job.limit, job.rate) == (False, 5, 30.0)
    assert job.orders.name == "orders.xlsx"
    assert job.fail_on_problems is True


def test_a_postgresql_ledger_without_its_password_and_the_drawing_jobs() -> None:
    url = "postgresql://billing@db.example.ch:5432/docmail"
    job = job_from_parameters({**shipped_defaults(), "ledger": url, "jobs": "2"})
    assert (job.ledger, job.jobs) == (url, 2)
    assert f"ledger:    {url}" in describe_job(job)
    assert job_from_parameters(shipped_defaults()).jobs is None


def test_a_ledger_url_with_its_password_is_refused_without_showing_it() -> None:
    url = "postgresql://billing:Geheim-42@db.example.ch/docmail"
    with pytest.raises(ConfigError) as refused:
        job_from_parameters({**shipped_defaults(), "ledger": url})
    assert "ledger" in refused.value.message
    assert "PGPASSWORD" in refused.value.hint
    assert "Geheim-42" not in str(refused.value)


def test_a_notebook_made_before_jobs_existed_still_runs() -> None:
    defaults = shipped_defaults()
    del defaults["jobs"]
    assert job_from_parameters(defaults).jobs is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("dry_run", "maybe"), ("limit", 0), ("rate", "fast"), ("profile", 42), ("connections", -1),
     ("jobs", 0)],
)  # fmt: skip
def test_bad_parameter_values_are_refused(name: str, value: Any) -> None:
    with pytest.raises(ConfigError) as refused:
        job_from_parameters({**shipped_defaults(), name: value})
    assert name in refused.value.message


def test_refused_message_fails_the_run_naming_the_row(
    tmp_path: Path,
    batch: dict[str, str],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server(
        "starttls",
        users={USER: PASSWORD},
        rcpt_hook=lambda addr: "550 5.1.1 User unknown" if "hoefli" in addr else None,
    )
    save_office_profile(server, ca_file)
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, nb, _ = run_cli(tmp_path, "refused.ipynb", *args)
    assert proc.returncode == 1
    error = error_output(nb)
    assert error["ename"] == "BatchFailed"
    assert "Row 3 (R-2026-0002)" in error["evalue"]
    assert "550" in error["evalue"]
    assert len(server.messages) == 2


def test_password_from_a_keyring_backend_reaches_the_headless_job(
    tmp_path: Path,
    batch: dict[str, str],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from file_keyring import TmpDirKeyring

    server = smtp_server("starttls", users={USER: PASSWORD})
    save_office_profile(server, ca_file)
    monkeypatch.setenv("DOCMAIL_TEST_KEYRING_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "file_keyring.TmpDirKeyring")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent / "support"))
    TmpDirKeyring().set_password("docmail_nb", "office", PASSWORD)
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, _nb, text = run_cli(tmp_path, "keyring.ipynb", *args)
    assert proc.returncode == 0, proc.stderr
    assert len(server.messages) == 3
    assert_no_secret(text)


# --- the summary comes first ------------------------------------------------------------------


def first_output(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The first output of any cell (papermill's error banner is a cell without outputs)."""
    outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
    assert outputs, "the notebook has no output"
    return dict(outputs[0])


def test_failing_run_shows_a_markdown_summary_before_the_traceback(
    tmp_path: Path,
    batch: dict[str, str],
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server(
        "starttls",
        users={USER: PASSWORD},
        rcpt_hook=lambda addr: "550 5.1.1 User unknown" if "bluemli" in addr else None,
    )
    save_office_profile(server, ca_file)
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    bad_address_in_row_3(batch)
    args = [*params(batch, dry_run=False, fail_on_problems=False), "-r", "profile", "office"]
    proc, nb, _ = run_cli(tmp_path, "summary.ipynb", *args)
    assert proc.returncode == 1
    first = first_output(nb)
    assert first["output_type"] == "display_data"
    summary = first["data"]["text/markdown"]
    assert "1 sent" in summary
    assert "Row 3 (R-2026-0002): problem in To" in summary  # the problem row and why
    assert "Row 4 (R-2026-0003): " in summary  # the refused message
    assert "550" in summary
    assert error_output(nb)["ename"] == "BatchFailed"
    assert len(server.messages) == 1  # row 2 delivered; row 4 refused at RCPT


def test_stopped_run_summary_comes_first_and_says_nothing_was_sent(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    bad_address_in_row_3(batch)
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, nb, _ = run_cli(tmp_path, "stopped.ipynb", *args)
    assert proc.returncode == 1
    summary = first_output(nb)["data"]["text/markdown"]
    assert summary.startswith("**The run failed: rows have problems, nothing was sent.**")
    assert "Row 3 (R-2026-0002)" in summary
    assert "fail\\_on\\_problems False" in summary  # the hint, markdown-escaped
    assert office.messages == []


def test_paid_invoices_and_a_totals_row_left_out_by_send_if_do_not_fail_the_run(
    tmp_path: Path, batch: dict[str, str], office: SMTPTestServer
) -> None:
    orders = Path(batch["orders"])
    orders.write_text(
        ORDERS.replace("amount\n", "amount;status\n")
        .replace("1234.50\n", "1234.50;offen\n")
        .replace("486.00\n", "486.00;bezahlt\n")
        .replace("2980.75\n", "2980.75;offen\n")
        + ";;Total;;4701.25;\n",
        encoding="utf-8",
    )
    template = Path(batch["template"])
    template.write_text(
        TEMPLATE.replace("Key: {{ invoice_no }}\n", "Key: {{ invoice_no }}\n"
                         'Send-If: {{ invoice_no and status != "bezahlt" }}\n'),
        encoding="utf-8",
    )  # fmt: skip
    args = [*params(batch, dry_run=False), "-r", "profile", "office"]
    proc, nb, _ = run_cli(tmp_path, "paid.ipynb", *args)
    assert proc.returncode == 0, proc.stderr
    assert len(office.messages) == 2
    text = outputs_text(nb)
    assert "Left out (not problems):" in text
    assert "Row 3 (R-2026-0002): Send-If" in text
    assert "2 sent, 2 row(s) left out by Send-If" in text
    summary = first_output(nb)["data"]["text/markdown"]  # said first, too
    assert "2 row(s) left out on purpose (not problems)" in summary
    assert "Row 3 (R-2026-0002): Send-If" in summary
