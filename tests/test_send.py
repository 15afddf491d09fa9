"""send_plan against real aiosmtpd servers: reuse, parallel connections, limits, report."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import PASSWORD, TEMPLATE, FakeClock, keys_on, make_batch, office
from servers import SMTPTestServer

from docmail_nb._run.pacing import RateLimiter, messages_per_minute
from docmail_nb._run.send import (
    MessageResult,
    SendOptions,
    pending,
    send_plan,
    send_test,
)
from docmail_nb._store import profiles
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.presets import Limits, Preset
from docmail_nb.errors import ConfigError, InputError


@pytest.fixture
def server(smtp_server: Callable[..., SMTPTestServer]) -> SMTPTestServer:
    return smtp_server("starttls")


def test_one_connection_and_one_login_for_the_whole_batch_then_a_rerun_sends_nothing(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path, docmail_home: Path
) -> None:
    _, plan = make_batch(tmp_path, 7)
    seen: list[tuple[int, int, str]] = []
    report = send_plan(
        plan,
        office(server, ca_file),
        password=PASSWORD,
        progress=lambda done, total, result: seen.append((done, total, result.state)),
    )
    assert report.ok, report.frame
    assert report.counts() == {"sent": 7}
    assert server.record.connections == 1
    assert len(server.record.auth_attempts) == 1
    assert keys_on(server) == [f"R-{1000 + n}" for n in range(7)]
    assert seen == [(n, 7, "sent") for n in range(1, 8)]

    first = server.messages[0]
    assert "archive@bergmann.example" in first.rcpt_tos
    assert first.rcpt_tos[:2] == ["kunde0@example.org", "treuhand0@example.net"]
    assert "Bcc" not in first.message
    frame = report.frame
    assert list(frame["state"]) == ["sent"] * 7
    assert frame.loc[0, "rows"] == "2"
    assert frame.loc[0, "message_id"] == first.message["Message-ID"]
    assert frame.loc[0, "reply"].startswith("250")
    assert "7 sent" in report.summary()

    with Ledger(docmail_home / "ledger.sqlite") as ledger:
        entries = ledger.entries("invoices")
    assert [e.state for e in entries] == ["sent"] * 7
    assert entries[0].message_id == first.message["Message-ID"]

    again = send_plan(plan, office(server, ca_file), password=PASSWORD)
    assert again.counts() == {"skipped": 7}
    assert again.ok
    assert len(server.messages) == 7
    assert server.record.connections == 1  # a rerun with nothing to send does not connect


def test_k_parallel_connections_each_reused(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    _, plan = make_batch(tmp_path, 24)
    report = send_plan(
        plan,
        office(server, ca_file),
        password=PASSWORD,
        options=SendOptions(connections=3),
        ledger=tmp_path / "l.sqlite",
    )
    assert report.counts() == {"sent": 24}
    assert server.record.connections == 3
    assert len(server.record.auth_attempts) == 3
    assert keys_on(server) == sorted(f"R-{1000 + n}" for n in range(24))
    assert [r.key for r in report.results] == [d.key for d in plan.drafts]  # plan order


def test_rate_limit_holds_over_every_60_second_window(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    _, plan = make_batch(tmp_path, 12)
    clock = FakeClock()
    sent_at: list[float] = []
    report = send_plan(
        plan,
        office(server, ca_file),
        password=PASSWORD,
        ledger=tmp_path / "l.sqlite",
        options=SendOptions(rate_per_minute=5),
        progress=lambda done, total, result: sent_at.append(clock.now),
        clock=clock,
        sleep=clock.sleep,
    )
    assert report.counts() == {"sent": 12}
    for start in sent_at:
        assert sum(1 for t in sent_at if start <= t < start + 60) <= 5
    assert sent_at[-1] - sent_at[0] >= 120  # 12 messages at 5 per minute span two full windows


def test_preset_caps_connections_and_rate(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    _, plan = make_batch(tmp_path, 40)
    clock = FakeClock()
    sent_at: list[float] = []
    report = send_plan(
        plan,
        office(server, ca_file, preset="microsoft365"),  # 30/min, 3 connections
        password=PASSWORD,
        ledger=tmp_path / "l.sqlite",
        options=SendOptions(connections=8, rate_per_minute=100),
        progress=lambda done, total, result: sent_at.append(clock.now),
        clock=clock,
        sleep=clock.sleep,
    )
    assert report.counts() == {"sent": 40}
    assert server.record.connections == 3
    assert sum(1 for t in sent_at if t < sent_at[0] + 60) <= 30
    assert clock.sleeps


def test_rate_limiter_below_one_per_minute_spaces_single_sends() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(3):
        limiter.acquire()
        times.append(clock.now)
    assert [b - a for a, b in itertools.pairwise(times)] == [120.0, 120.0]
    with pytest.raises(ConfigError, match="not possible"):
        RateLimiter(0)


@pytest.fixture
def tiny_preset(monkeypatch: pytest.MonkeyPatch) -> str:
    limits = Limits(messages_per_day=3)
    monkeypatch.setitem(
        profiles.PRESETS, "tiny", Preset("tiny", "Tiny", "", 587, "starttls", limits)
    )
    return "tiny"


def test_daily_cap_leaves_the_rest_planned_for_the_next_run(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path, tiny_preset: str
) -> None:
    _, plan = make_batch(tmp_path, 5)
    day = FakeClock()
    profile = office(server, ca_file, preset=tiny_preset)
    with Ledger(tmp_path / "l.sqlite", clock=day) as ledger:
        report = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert report.counts() == {"sent": 3, "planned": 2}
        assert "daily limit" in report.summary()
        assert "2 message(s) stay planned" in report.summary()
        assert report.ok  # nothing failed: the rest goes out with the next run
        assert len(server.messages) == 3

        same_day = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert same_day.counts() == {"skipped": 3, "planned": 2}

        day.now += 24 * 3600 + 1
        next_day = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert next_day.counts() == {"skipped": 3, "sent": 2}
    assert keys_on(server) == [f"R-{1000 + n}" for n in range(5)]


def test_limit_and_dry_run(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path, docmail_home: Path
) -> None:
    _, plan = make_batch(tmp_path, 5)
    profile = office(server, ca_file)
    dry = send_plan(plan, profile, options=SendOptions(dry_run=True, limit=3))
    assert [r.state for r in dry.results] == ["dry-run"] * 3 + ["planned"] * 2
    assert all(r.message_id.startswith("<") for r in dry.results)
    assert server.record.connections == 0
    assert not (docmail_home / "ledger.sqlite").exists()  # a dry run records nothing

    limited = send_plan(plan, profile, password=PASSWORD, options=SendOptions(limit=2))
    assert limited.counts() == {"sent": 2, "planned": 3}
    assert dry.results[0].message_id == limited.results[0].message_id

    dry_again = send_plan(plan, profile, options=SendOptions(dry_run=True))
    assert [r.state for r in dry_again.results] == ["skipped"] * 2 + ["dry-run"] * 3
    assert len(server.messages) == 2


def test_problem_rows_are_reported_and_failed_rows_exported(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    orders, plan = make_batch(tmp_path, 4, bad_rows=(3,))
    assert plan.problem_rows == {3}
    profile = office(server, ca_file)
    nothing = send_plan(plan, profile, password=PASSWORD, options=SendOptions(all_or_nothing=True))
    assert nothing.counts() == {"planned": 3}
    assert not server.messages

    report = send_plan(plan, profile, password=PASSWORD, ledger=tmp_path / "l.sqlite")
    assert report.counts() == {"sent": 3}
    assert not report.ok
    frame = report.frame
    problem = frame[frame["state"] == "problem"]
    assert list(problem["rows"]) == ["3"]
    assert problem.iloc[0]["hint"]
    assert "1 row(s) with problems" in report.summary()

    failed = report.failed_rows(orders)
    assert list(failed["row"]) == [3]
    assert list(failed["invoice_no"]) == ["R-1001"]
    assert failed.iloc[0]["error"]
    xlsx = report.save_failed_rows(orders, tmp_path / "out" / "failed.xlsx")
    again = pd.read_excel(xlsx, dtype=str, engine="calamine")
    assert list(again.columns) == ["row", "invoice_no", "name", "email", "cc", "amount", "error"]
    csv_path = report.save(tmp_path / "report.csv")
    saved = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(saved["state"]) == ["sent", "sent", "sent", "problem"]
    report.save(tmp_path / "report.xlsx")
    assert pd.read_excel(tmp_path / "report.xlsx", engine="calamine").shape == (4, 11)
    with pytest.raises(ConfigError, match=r"\.xlsx or \.csv"):
        report.save(tmp_path / "report.txt")


def test_changed_content_is_reported_not_resent_unless_asked(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    _, plan = make_batch(tmp_path, 2)
    profile = office(server, ca_file)
    send_plan(plan, profile, password=PASSWORD)
    _, changed = make_batch(tmp_path, 2, template=TEMPLATE + "\nNeu: mit Zahlungslink.\n")
    report = send_plan(changed, profile, password=PASSWORD)
    assert report.counts() == {"changed": 2}
    assert not report.ok
    assert "--resend-changed" in report.results[0].hint
    assert len(server.messages) == 2
    resent = send_plan(
        changed, profile, password=PASSWORD, options=SendOptions(resend_changed=True)
    )
    assert resent.counts() == {"sent": 2}
    assert len(server.messages) == 4


def test_send_test_goes_to_me_only_and_is_not_recorded(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path, docmail_home: Path
) -> None:
    _, plan = make_batch(tmp_path, 3, bad_rows=(4,))
    profile = office(server, ca_file)
    result = send_test(plan, 2, profile, password=PASSWORD)
    assert isinstance(result, MessageResult)
    assert result.state == "sent"
    (received,) = server.messages
    assert received.rcpt_tos == ["anna@example.ch"]
    assert received.message["Subject"] == "[TEST] Rechnung R-1000"
    assert received.message["To"] == "anna@example.ch"
    assert "Cc" not in received.message
    assert not (docmail_home / "ledger.sqlite").exists()
    with pytest.raises(InputError, match="Row 4 has no message"):
        send_test(plan, 4, profile, password=PASSWORD)
    with pytest.raises(InputError, match="no row 9"):
        send_test(plan, 9, profile, password=PASSWORD)


def test_the_password_appears_in_no_report_ledger_or_repr(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    _, plan = make_batch(tmp_path, 2)
    ledger_path = tmp_path / "l.sqlite"
    report = send_plan(plan, office(server, ca_file), password=PASSWORD, ledger=ledger_path)
    texts = [repr(report), report.summary(), report.frame.to_csv(), report._repr_html_()]
    assert not any(PASSWORD in text for text in texts)
    for path in tmp_path.glob("l.sqlite*"):
        assert PASSWORD.encode() not in path.read_bytes()


def test_progress_bar(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, plan = make_batch(tmp_path, 3)
    send_plan(plan, office(server, ca_file), password=PASSWORD, progress="bar")
    assert "3/3" in capsys.readouterr().err


def test_pending_asks_about_what_a_run_would_send_now(
    server: SMTPTestServer, ca_file: Path, tmp_path: Path
) -> None:
    _, plan = make_batch(tmp_path, 4, bad_rows=(3,))
    profile = office(server, ca_file)
    ledger = tmp_path / "ledger.sqlite"
    before = pending(plan, profile, ledger)
    assert [d.key for d in before.drafts] == ["R-1000", "R-1002", "R-1003"]
    assert before.question == (
        f"Send 3 messages to 6 recipients via {server.host} as anna@example.ch? "
        "(1 row(s) with problems are left out.)"
    )
    send_plan(plan, profile, password=PASSWORD, ledger=ledger, options=SendOptions(limit=1))
    after = pending(plan, profile, ledger, SendOptions(limit=1))
    assert [d.key for d in after.drafts] == ["R-1002"]
    assert after.question.startswith(f"Send 1 message to 2 recipients via {server.host} ")
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), (30, 30.0), ("30", 30.0), ("30/min", 30.0), ("0.5 / minute", 0.5)],
)
def test_messages_per_minute_reads_the_usual_forms(
    value: str | float | None, expected: float | None
) -> None:
    assert messages_per_minute(value) == expected


@pytest.mark.parametrize("value", ["fast", "0/min", "-3", "nan", "inf", 0, float("inf"), "30/h"])
def test_messages_per_minute_refuses_the_rest(value: str | float) -> None:
    with pytest.raises(ConfigError, match="messages per minute"):
        messages_per_minute(value)
