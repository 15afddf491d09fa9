"""Hourly and rolling-day limits of a profile, counted over every run in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import PASSWORD, FakeClock, keys_on, make_batch, office
from servers import SMTPTestServer

from docmail_nb._run.send import pending, send_plan
from docmail_nb._store import profiles
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.presets import Limits, Preset


@pytest.fixture
def hourly_preset(monkeypatch: pytest.MonkeyPatch) -> str:
    limits = Limits(messages_per_hour=3)
    preset = Preset("hourly", "Hourly", "", 587, "starttls", limits)
    monkeypatch.setitem(profiles.PRESETS, "hourly", preset)
    return "hourly"


@pytest.fixture
def recipients_preset(monkeypatch: pytest.MonkeyPatch) -> str:
    limits = Limits(recipients_per_hour=6)
    preset = Preset("few", "Few recipients", "", 587, "starttls", limits)
    monkeypatch.setitem(profiles.PRESETS, "few", preset)
    return "few"


def test_hourly_limit_is_shared_by_two_runs_in_one_hour(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path, hourly_preset: str
) -> None:
    server = smtp_server("starttls")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first_plan = make_batch(tmp_path / "a", 2)
    _, second_plan = make_batch(tmp_path / "b", 4)
    second_plan.campaign = "reminders"
    clock = FakeClock()
    clock.now = 1_800_000_000.0
    profile = office(server, ca_file, preset=hourly_preset)
    with Ledger(tmp_path / "l.sqlite", clock=clock) as ledger:
        first = send_plan(first_plan, profile, password=PASSWORD, ledger=ledger)
        assert first.counts() == {"sent": 2}
        clock.now += 20 * 60  # another batch, same hour: only one more message fits
        question = pending(second_plan, profile, ledger).question
        assert question.startswith("Send 4 messages")
        assert "Only 1 fit the provider's limits now (3 messages an hour (rolling)" in question
        second = send_plan(second_plan, profile, password=PASSWORD, ledger=ledger)
        assert second.counts() == {"sent": 1, "planned": 3}
        assert second.ok
        summary = second.summary()
        assert "The hourly limit of the profile 'office' is reached" in summary
        assert "3 messages an hour (rolling)" in summary
        assert "3 message(s) stay planned for the next run" in summary
        assert "The next message fits from" in summary
        clock.now += 20 * 60  # still within the hour of the first run: nothing goes
        waiting = send_plan(second_plan, profile, password=PASSWORD, ledger=ledger)
        assert waiting.counts() == {"skipped": 1, "planned": 3}
        clock.now += 21 * 60  # the first run's messages are an hour old
        later = send_plan(second_plan, profile, password=PASSWORD, ledger=ledger)
        assert later.counts() == {"skipped": 1, "sent": 2, "planned": 1}
    assert len(server.messages) == 5


def test_recipients_per_hour_count_cc_and_bcc(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    recipients_preset: str,
) -> None:
    server = smtp_server("starttls")
    _, plan = make_batch(tmp_path, 3)  # 3 + 2 + 2 envelope addresses (To, Cc, Bcc)
    clock = FakeClock()
    clock.now = 1_800_000_000.0
    with Ledger(tmp_path / "l.sqlite", clock=clock) as ledger:
        report = send_plan(
            plan,
            office(server, ca_file, preset=recipients_preset),
            password=PASSWORD,
            ledger=ledger,
        )
    assert report.counts() == {"sent": 2, "planned": 1}  # 3 + 2 = 5 of 6; 2 more do not fit
    assert "6 recipients an hour (rolling)" in report.summary()
    assert keys_on(server) == ["R-1000", "R-1001"]


@pytest.fixture
def per_minute_preset(monkeypatch: pytest.MonkeyPatch) -> str:
    limits = Limits(messages_per_minute=3, recipients_per_message=2)
    preset = Preset("minute", "Per minute", "", 587, "starttls", limits)
    monkeypatch.setitem(profiles.PRESETS, "minute", preset)
    return "minute"


def test_per_minute_pace_counts_the_previous_run(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    per_minute_preset: str,
) -> None:
    from helpers import NO_BCC

    server = smtp_server("starttls")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first_plan = make_batch(tmp_path / "a", 3, template=NO_BCC)
    _, second_plan = make_batch(tmp_path / "b", 2, template=NO_BCC)
    second_plan.campaign = "reminders"
    wall = FakeClock()
    wall.now = 1_800_000_000.0
    profile = office(server, ca_file, preset=per_minute_preset)
    with Ledger(tmp_path / "l.sqlite", clock=wall) as ledger:
        first = send_plan(
            first_plan, profile, password=PASSWORD, ledger=ledger, clock=wall, sleep=wall.sleep
        )
        assert first.counts() == {"sent": 3}
        assert wall.sleeps == []
        wall.now += 20  # the next run, 20 seconds later: the minute is full
        second = send_plan(
            second_plan, profile, password=PASSWORD, ledger=ledger, clock=wall, sleep=wall.sleep
        )
        assert second.counts() == {"sent": 2}
        assert wall.sleeps == [40.0]  # waited until the first run's messages were a minute old


def test_more_recipients_than_the_provider_takes_per_message_fail_before_sending(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    per_minute_preset: str,
) -> None:
    server = smtp_server("starttls")
    _, plan = make_batch(tmp_path, 2)  # 3 and 2 envelope addresses
    with Ledger(tmp_path / "l.sqlite") as ledger:
        report = send_plan(
            plan, office(server, ca_file, preset=per_minute_preset), password=PASSWORD,
            ledger=ledger,
        )  # fmt: skip
    assert [r.state for r in report.results] == ["failed", "sent"]
    assert "3 recipients (To, Cc and Bcc) are more than the 2 per message" in (
        report.results[0].error
    )
    assert keys_on(server) == ["R-1001"]
