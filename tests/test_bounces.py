"""Delivery reports read from their bytes: RFC 3464 and the common plain-text shapes."""

from __future__ import annotations

import pytest
from reports import BOUNCES, NOT_BOUNCES, report

from docmail_nb._mailbox.bounces import read_report

MID = "<R-2026-1041.5f2c@example.ch>"
TO = "buchhaltung@kunde.example"


@pytest.mark.parametrize(
    ("name", "shape", "status", "words"),
    [
        ("postfix_dsn", "RFC 3464", "5.1.1", "User unknown in virtual mailbox table"),
        ("exchange_ndr", "RFC 3464", "5.1.10", "RESOLVER.ADR.RecipientNotFound"),
        ("gmail", "RFC 3464", "5.1.1", "The email account that you tried to reach does not"),
        ("exim_text", "Exim", "5.2.1", "Mailbox disabled, not accepting messages"),
        ("qmail_text", "qmail", "5.1.1", "User unknown"),
    ],
)
def test_a_permanent_failure_names_the_message_recipient_code_and_reason(
    name: str, shape: str, status: str, words: str
) -> None:
    found = read_report(report(name, MID, TO))
    assert found is not None
    assert found.shape == shape
    assert MID in found.message_ids
    assert [(r.address, r.action, r.status) for r in found.failed] == [(TO, "failed", status)]
    assert words in found.failed[0].diagnostic
    assert found.report_id.startswith("<")
    assert found.report_id != MID
    assert "\n" not in found.failed[0].diagnostic


def test_a_delay_is_transient_and_carries_the_envelope_id() -> None:
    found = read_report(report("postfix_delayed", MID, TO, envid="R-2026-1041.5f2c@example.ch"))
    assert found is not None
    assert found.failed == ()
    assert [(r.address, r.status) for r in found.delayed] == [(TO, "4.4.1")]
    assert found.envelope_id == "R-2026-1041.5f2c@example.ch"
    assert "Connection timed out" in found.delayed[0].diagnostic


@pytest.mark.parametrize("name", NOT_BOUNCES)
def test_replies_auto_replies_and_other_mail_are_no_reports(name: str) -> None:
    assert read_report(report(name, MID, TO)) is None


def test_the_auto_submitted_header_does_not_decide() -> None:
    """Real bounces say auto-replied too (Postfix, Exchange); the report's shape decides."""
    for name in BOUNCES:
        data = report(name, MID, TO)
        assert read_report(data) is not None, name


def test_a_report_without_its_own_message_id_is_known_by_its_bytes() -> None:
    data = report("qmail_text", MID, TO).replace(
        b"Message-ID: <20261130080411.", b"X-Was-Message-ID: <20261130080411."
    )
    first, again = read_report(data), read_report(data)
    assert first is not None
    assert again is not None
    assert first.report_id.startswith("sha256:")
    assert first.report_id == again.report_id
