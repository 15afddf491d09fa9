"""Servers that throttle, drop, refuse recipients or stop accepting the password mid-batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope
from helpers import NO_BCC, PASSWORD, TEMPLATE, FakeClock, keys_on, make_batch, office
from servers import DROP, DROP_AFTER_STORE, SMTPTestServer

from docmail_nb._run.send import SendOptions, send_plan
from docmail_nb._store.ledger import Ledger


def nth_calls(replies: dict[int, str]) -> Callable[[str], str | None]:
    """A MAIL/RCPT hook answering ``replies[n]`` to its n-th call (counting from 1)."""
    calls = 0

    def hook(address: str) -> str | None:
        nonlocal calls
        calls += 1
        return replies.get(calls)

    return hook


def test_451_is_retried_with_backoff_on_the_same_connection(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server(mail_hook=nth_calls({1: "451 4.7.1 Try later", 2: "451 4.7.1 Try later"}))
    _, plan = make_batch(tmp_path, 3)
    clock = FakeClock()
    report = send_plan(
        plan, office(server, ca_file), password=PASSWORD, clock=clock, sleep=clock.sleep
    )
    assert report.counts() == {"sent": 3}
    assert report.results[0].attempts == 3
    assert clock.sleeps == [5.0, 10.0]
    assert server.record.connections == 1
    assert len(server.messages) == 3


@pytest.mark.parametrize("reply", ["421 4.4.2 Idle timeout, closing", DROP])
def test_a_closed_connection_is_reopened_transparently(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path, reply: str
) -> None:
    server = smtp_server(mail_hook=nth_calls({3: reply}))
    _, plan = make_batch(tmp_path, 5)
    clock = FakeClock()
    report = send_plan(
        plan, office(server, ca_file), password=PASSWORD, clock=clock, sleep=clock.sleep
    )
    assert report.counts() == {"sent": 5}
    assert report.ok
    assert server.record.connections == 2
    assert len(server.record.auth_attempts) == 2
    assert clock.sleeps == []
    assert keys_on(server) == [f"R-{1000 + n}" for n in range(5)]


def test_persistent_4xx_defers_after_bounded_backoff_and_a_rerun_sends_it(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server(mail_hook=lambda address: "451 4.3.0 Mail server temporarily busy")
    _, plan = make_batch(tmp_path, 1)
    clock = FakeClock()
    options = SendOptions(max_attempts=4, retry_delay=25, max_retry_delay=60)
    report = send_plan(
        plan,
        office(server, ca_file),
        password=PASSWORD,
        options=options,
        clock=clock,
        sleep=clock.sleep,
    )
    (result,) = report.results
    assert result.state == "deferred"
    assert result.attempts == 4
    assert result.reply.startswith("451")
    assert clock.sleeps == [25.0, 50.0, 60.0]
    assert not report.ok

    server.mail_hook = None
    again = send_plan(plan, office(server, ca_file), password=PASSWORD)
    assert again.counts() == {"sent": 1}
    assert len(server.messages) == 1


def test_one_refused_recipient_of_three_is_reported(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    def refuse_treuhand(address: str) -> str | None:
        return "550 5.1.1 Mailbox unknown" if address == "treuhand0@example.net" else None

    server = smtp_server(rcpt_hook=refuse_treuhand)
    orders, plan = make_batch(tmp_path, 2)
    ledger = tmp_path / "l.sqlite"
    report = send_plan(plan, office(server, ca_file), password=PASSWORD, ledger=ledger)
    first = report.results[0]
    assert first.state == "sent"
    assert first.refused == {"treuhand0@example.net": (550, "5.1.1 Mailbox unknown")}
    assert "treuhand0@example.net (550" in first.error
    assert first.hint
    assert not report.ok
    assert "1 with refused recipients" in report.summary()
    assert server.messages[0].rcpt_tos == ["kunde0@example.org", "archive@bergmann.example"]
    with Ledger(ledger) as book:
        entry = book.get("invoices", "R-1000")
    assert entry is not None
    assert entry.state == "sent"
    assert entry.accepted == ("kunde0@example.org", "archive@bergmann.example")
    assert set(entry.refused) == {"treuhand0@example.net"}
    assert list(report.failed_rows(orders)["row"]) == [2]


def test_every_recipient_refused_fails_with_the_servers_text_and_is_retried_later(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    def refuse(address: str) -> str | None:
        return (
            "550 5.1.1 <kunde1@example.org>: user unknown"
            if address.startswith("kunde1@")
            else None
        )

    server = smtp_server(rcpt_hook=refuse)
    _, plan = make_batch(tmp_path, 3, template=NO_BCC)
    report = send_plan(plan, office(server, ca_file), password=PASSWORD)
    assert [r.state for r in report.results] == ["sent", "failed", "sent"]
    failed = report.results[1]
    assert "user unknown" in failed.error + failed.reply
    assert failed.hint
    assert server.record.connections == 1

    server.rcpt_hook = None
    again = send_plan(plan, office(server, ca_file), password=PASSWORD)
    assert again.counts() == {"skipped": 2, "sent": 1}
    assert keys_on(server) == ["R-1000", "R-1001", "R-1002"]


def test_a_5xx_to_data_fails_that_message_only(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    def reject_second(index: int, envelope: Envelope) -> str | None:
        return (
            "554 5.6.0 Message rejected as spam"
            if "kunde1@example.org" in envelope.rcpt_tos
            else None
        )

    server = smtp_server(data_hook=reject_second)
    _, plan = make_batch(tmp_path, 3)
    report = send_plan(plan, office(server, ca_file), password=PASSWORD)
    assert [r.state for r in report.results] == ["sent", "failed", "sent"]
    assert "spam" in report.results[1].error + report.results[1].reply
    assert keys_on(server) == ["R-1000", "R-1002"]


def test_a_4xx_to_the_end_of_data_is_retried_and_delivered_once(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    answered: list[str] = []

    def throttle_once(index: int, envelope: Envelope) -> str | None:
        answered.append("451" if not answered else "250")
        return "451 4.7.0 Throttled, try again later" if len(answered) == 1 else None

    server = smtp_server(data_hook=throttle_once)
    _, plan = make_batch(tmp_path, 2)
    clock = FakeClock()
    report = send_plan(
        plan, office(server, ca_file), password=PASSWORD, clock=clock, sleep=clock.sleep
    )
    assert report.counts() == {"sent": 2}
    assert report.results[0].attempts == 2
    assert clock.sleeps == [5.0]
    assert keys_on(server) == ["R-1000", "R-1001"]


def test_a_drop_after_data_is_unknown_and_never_resent_unless_asked(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server(data_hook=lambda index, env: DROP_AFTER_STORE if index == 1 else None)
    _, plan = make_batch(tmp_path, 4)
    profile = office(server, ca_file)
    report = send_plan(plan, profile, password=PASSWORD)
    assert [r.state for r in report.results] == ["sent", "unknown", "sent", "sent"]
    assert report.results[1].hint
    assert not report.ok
    assert keys_on(server) == ["R-1000", "R-1001", "R-1002", "R-1003"]  # R-1001 did arrive

    server.data_hook = None
    rerun = send_plan(plan, profile, password=PASSWORD)
    assert rerun.counts() == {"skipped": 3, "unknown": 1}
    assert "--resend-unknown" in rerun.results[1].hint
    assert len(server.messages) == 4

    forced = send_plan(plan, profile, password=PASSWORD, options=SendOptions(resend_unknown=True))
    assert forced.counts() == {"skipped": 3, "sent": 1}
    assert keys_on(server).count("R-1001") == 2


def test_auth_rejected_mid_batch_stops_at_once_and_the_rest_stays_planned(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server(mail_hook=nth_calls({3: "421 4.7.0 Too many messages, closing"}))

    def revoke_after_second(index: int, envelope: Envelope) -> str | None:
        if index == 1:
            server.auth_reply = "535 5.7.8 Username and Password not accepted"
        return None

    server.data_hook = revoke_after_second
    _, plan = make_batch(tmp_path, 5)
    profile = office(server, ca_file)
    clock = FakeClock()
    report = send_plan(plan, profile, password=PASSWORD, clock=clock, sleep=clock.sleep)
    assert [r.state for r in report.results] == ["sent", "sent"] + ["planned"] * 3
    assert report.fatal is not None
    assert report.fatal.outcome == "fatal"
    assert report.fatal.code == 535
    assert "Stopped:" in report.summary()
    assert all(r.error.startswith("Not sent") for r in report.results[2:])
    assert len(server.record.auth_attempts) == 2  # one good login, one refused, no more
    assert not report.ok
    assert clock.sleeps == []

    server.auth_reply = None
    server.mail_hook = None
    server.data_hook = None
    rest = send_plan(plan, profile, password=PASSWORD)
    assert rest.counts() == {"skipped": 2, "sent": 3}
    assert keys_on(server) == [f"R-{1000 + n}" for n in range(5)]


def test_a_wrong_password_costs_one_auth_attempt_even_with_parallel_connections(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server()
    _, plan = make_batch(tmp_path, 9)
    ledger = tmp_path / "l.sqlite"
    report = send_plan(
        plan,
        office(server, ca_file),
        password="wrong horse",
        ledger=ledger,
        options=SendOptions(connections=3),
    )
    assert report.counts() == {"planned": 9}
    assert report.fatal is not None
    assert report.fatal.code == 535
    assert "wrong horse" not in report.summary() + report.frame.to_csv()
    assert len(server.record.auth_attempts) == 1
    assert not server.messages
    with Ledger(ledger) as book:
        assert all(e.state == "planned" and e.owner_run is None for e in book.entries())


def test_an_attachment_removed_after_the_check_fails_that_message_only(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    server = smtp_server()
    for n in range(3):
        (tmp_path / f"R-{1000 + n}.pdf").write_bytes(b"%PDF-1.4 invoice " + bytes([n]))
    template = TEMPLATE.replace("Key:", "Attachment: {{ invoice_no }}.pdf\nKey:")
    _, plan = make_batch(tmp_path, 3, template=template)
    assert not plan.problems
    (tmp_path / "R-1001.pdf").unlink()
    report = send_plan(plan, office(server, ca_file), password=PASSWORD)
    assert [r.state for r in report.results] == ["sent", "failed", "sent"]
    assert "R-1001.pdf" in report.results[1].error
    assert report.results[1].hint
    assert keys_on(server) == ["R-1000", "R-1002"]
