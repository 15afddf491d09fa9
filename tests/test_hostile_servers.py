"""Against SMTP servers written to misbehave: bounded retries and logins, deadlines, limits on
replies, and exactly once when the server's last answer is garbage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hostile_server import HostileSMTPServer

import docmail_nb._mail.replies
from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._mail.smtp import test_connection
from docmail_nb._run.report import Report
from docmail_nb._run.send import SendOptions, send_plan
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile

USER = "anna@example.ch"
TEMPLATE = """\
To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Key: {{ invoice_no }}

Guten Tag
"""


@pytest.fixture
def hostile() -> Any:
    started: list[HostileSMTPServer] = []

    def start(**modes: Any) -> HostileSMTPServer:
        server = HostileSMTPServer(**modes).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def plan_of(tmp_path: Path, count: int = 3) -> Plan:
    path = tmp_path / "orders.csv"
    rows = "".join(f"R-{n},k{n}@example.ch\n" for n in range(1, count + 1))
    path.write_text("invoice_no,email\n" + rows, encoding="utf-8")
    return make_plan(read_orders(path), parse_template(TEMPLATE, "invoices"), documents=tmp_path)


def profile_for(server: HostileSMTPServer, security: str = "none", timeout: float = 5.0) -> Profile:
    return Profile(
        name="hostile",
        host=server.host,
        port=server.port,
        security=security,  # type: ignore[arg-type]
        username=USER,
        from_addr=USER,
        timeout=timeout,
    )


def send(
    tmp_path: Path, server: HostileSMTPServer, count: int = 3, **profile: Any
) -> tuple[Report, list[float]]:
    slept: list[float] = []
    report = send_plan(
        plan_of(tmp_path, count),
        profile_for(server, **profile),
        password="secret-password-1",
        ledger=tmp_path / "ledger.sqlite",
        options=SendOptions(retry_delay=0.01, max_retry_delay=0.05),
        sleep=slept.append,
    )
    return report, slept


# --- 1. no endless retry before the first command ------------------------------------------


@pytest.mark.parametrize(
    ("modes", "profile", "kind"),
    [
        ({"greeting": "421"}, {}, "transient"),
        ({"greeting": "drop"}, {}, "disconnected"),
        ({"greeting": "silent"}, {"timeout": 0.5}, "timeout"),
        ({"starttls": "454"}, {"security": "starttls"}, "transient"),
        ({"auth": "454"}, {}, "transient"),
        ({"auth": "close"}, {}, "disconnected"),
    ],
)
def test_trouble_before_the_first_command_is_tried_a_few_times_then_stops_the_batch(
    tmp_path: Path, hostile: Any, modes: dict[str, str], profile: dict[str, Any], kind: str
) -> None:
    server = hostile(**modes)
    report, slept = send(tmp_path, server, **profile)
    assert report.fatal is not None
    assert report.fatal.kind == kind
    assert "tried 3 times" in report.fatal.summary
    # a silent server is also probed once per try for implicit TLS (a handshake, no data)
    assert server.record.connections == (6 if modes == {"greeting": "silent"} else 3)
    assert server.record.auth_attempts <= 3
    assert len(slept) == 2  # a pause before the second and the third try
    assert [r.state for r in report.results] == ["planned"] * 3
    assert server.messages == []
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert {e.state for e in ledger.entries()} <= {"planned"}


def test_a_failed_open_after_a_working_one_counts_toward_the_same_limit(
    tmp_path: Path, hostile: Any
) -> None:
    server = hostile(after_data="421 4.3.2 closing, too busy")
    report, _ = send(tmp_path, server, count=5)
    # every message is deferred by a 421 after DATA; reconnecting works each time, so the
    # batch goes on, and the logins stay within what the messages need
    assert report.fatal is None
    assert {r.state for r in report.results} == {"deferred"}


# --- 4. exactly once when the last answer is garbage; 503 to AUTH is no login ---------------


@pytest.mark.parametrize(
    "after_data", ["25O ok", "prose", "354", "disconnect", "long_line", "endless"]
)
def test_garbage_after_the_message_leaves_it_unknown_and_a_rerun_does_not_resend(
    tmp_path: Path, hostile: Any, after_data: str
) -> None:
    server = hostile(after_data=after_data)
    report, _ = send(tmp_path, server, count=1)
    (result,) = report.results
    assert result.state == "unknown", (result.error, result.reply)
    assert len(server.messages) == 1
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert [e.state for e in ledger.entries()] == ["unknown"]
    again, _ = send(tmp_path, server, count=1)
    assert [r.state for r in again.results] == ["unknown"]
    assert len(server.messages) == 1


def test_a_clear_refusal_after_the_message_is_still_failed(tmp_path: Path, hostile: Any) -> None:
    server = hostile(after_data="554 5.7.1 rejected as spam")
    report, _ = send(tmp_path, server, count=1)
    assert [r.state for r in report.results] == ["failed"]


def test_503_to_auth_is_not_a_login(tmp_path: Path, hostile: Any) -> None:
    server = hostile(auth="503")
    result = test_connection(profile_for(server), "secret-password-1")
    assert not result.ok
    assert result.code == 503
    report, _ = send(tmp_path, server)
    assert report.fatal is not None
    assert server.record.auth_attempts == 2  # the test above, then one for the batch
    assert not [c for c in server.record.commands if c.upper().startswith("MAIL")]
    assert server.messages == []


# --- 9. replies within limits, deadlines that hold against a trickle --------------------------


@pytest.mark.parametrize("greeting", ["endless", "long_line"])
def test_an_endless_or_over_long_reply_is_an_error(hostile: Any, greeting: str) -> None:
    server = hostile(greeting=greeting)
    result = test_connection(profile_for(server), "secret-password-1")
    assert not result.ok
    assert result.kind == "reply_too_long"
    assert "limits" in result.summary


def test_a_trickling_greeting_is_cut_off_by_the_command_deadline(hostile: Any) -> None:
    # the greeting takes about 8 s at a byte each 0.3 s: every byte comes well within the
    # timeout, so only a deadline for the whole reply stops it
    server = hostile(greeting="trickle", trickle_every=0.3)
    result = test_connection(profile_for(server, timeout=1.0), "secret-password-1")
    assert not result.ok
    assert result.kind == "timeout"


def test_a_trickling_final_reply_is_cut_off_by_the_message_deadline(
    tmp_path: Path, hostile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docmail_nb._mail.replies, "MESSAGE_DEADLINE", 1.0)
    server = hostile(after_data="trickle", trickle_every=0.3)
    report, _ = send(tmp_path, server, count=1, timeout=30.0)
    assert [r.state for r in report.results] == ["unknown"]
    assert "broke after the message was handed over" in report.results[0].error
