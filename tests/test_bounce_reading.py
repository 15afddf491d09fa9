"""Delivery reports read from a real INBOX (Dovecot) and recorded against the ledger.

Dovecot's INBOX holds real-shaped reports (RFC 3464 from Postfix, Exchange/Microsoft 365 and
Gmail; Exim and qmail plain text), replies, an out-of-office auto-reply, a forged report and
unrelated mail. Reading marks exactly the bounced and delayed messages, leaves every flag of
the mailbox as it was, and counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from imap_server import PASSWORD, DovecotServer
from mailboxes import fetch_all, imap_profile
from reports import deliver_to_inbox, report

from docmail_nb._mailbox.reconcile import sync_mailbox
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.status import campaign_status

ACCOUNT = "anna@example.ch@127.0.0.1"


def sent(ledger: Ledger, key: str, to: str, *, account: str = ACCOUNT) -> str:
    """Record ``key`` as sent to ``to``; its Message-ID."""
    run = ledger.begin_run()
    message_id = f"<{key}.4f1c@example.ch>"
    ledger.claim(
        run,
        "invoices",
        key,
        content_hash="h",
        message_id=message_id,
        rows=(2,),
        recipients=(to,),
        account=account,
    )
    ledger.mark_sending(run, "invoices", key)
    ledger.mark_sent(run, "invoices", key, accepted=(to,))
    ledger.end_run(run)
    return message_id


def test_reports_mark_exactly_the_bounced_messages_and_leave_the_inbox_as_it_was(
    dovecot: Callable[..., DovecotServer], ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    server = dovecot()
    profile = imap_profile(server, ca_file)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ids = {
            key: sent(ledger, key, f"{key.lower()}@kunde.example")
            for key in ("R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7", "R-8")
        }
        other = sent(ledger, "R-9", "r-9@kunde.example", account="someone@else.example@host")

        def about(name: str, key: str, to: str | None = None) -> bytes:
            return report(name, ids[key], to or f"{key.lower()}@kunde.example")

        deliver_to_inbox(
            server,
            ca,
            about("postfix_dsn", "R-1"),
            about("exchange_ndr", "R-2"),
            about("gmail", "R-3"),
            about("exim_text", "R-4"),
            about("qmail_text", "R-5"),
            about("postfix_delayed", "R-6"),
            about("out_of_office", "R-7"),
            about("reply", "R-7"),
            about("newsletter", "R-8"),
            # a forged report: an unknown Message-ID with a real customer's address
            report("postfix_dsn", "<forged.1@example.ch>", "r-8@kunde.example"),
            # a report naming R-8's Message-ID for an address R-8 was never sent to
            report("gmail", ids["R-8"], "somebody@elsewhere.example"),
            # a report about another profile's message
            report("postfix_dsn", other, "r-9@kunde.example"),
        )
        before = fetch_all(server, ca, "INBOX")

        first = sync_mailbox(profile, ledger, password=PASSWORD)
        assert first.error is None, first.error
        read = first.bounces
        assert sorted(b.key for b in read.bounced) == ["R-1", "R-2", "R-3", "R-4", "R-5"]
        assert [b.key for b in read.delayed] == ["R-6"]
        states = {s.key: s for s in campaign_status(ledger, "invoices")}
        assert {k: s.state for k, s in states.items()} == {
            "R-1": "bounced",
            "R-2": "bounced",
            "R-3": "bounced",
            "R-4": "bounced",
            "R-5": "bounced",
            "R-6": "delayed",
            "R-7": "sent",
            "R-8": "sent",
            "R-9": "sent",
        }
        assert (states["R-2"].status_code, states["R-2"].bounced_to) == (
            "5.1.10",
            "r-2@kunde.example",
        )
        assert "RecipientNotFound" in states["R-2"].reason
        assert states["R-4"].status_code == "5.2.1"
        assert states["R-6"].status_code == "4.4.1"
        assert read.unmatched == 3  # the forged one, the stranger's address, the other profile
        assert read.not_reports == 1  # the auto-reply; the server left out the reply and the news

        # the INBOX is exactly as it was: nothing read, flagged, moved or deleted
        assert fetch_all(server, ca, "INBOX") == before
        assert all(b"\\Seen" not in flags for flags, _ in before)

        # read again: every report is remembered, nothing is counted twice
        again = sync_mailbox(profile, ledger, password=PASSWORD)
        assert (again.bounces.bounced, again.bounces.delayed, again.bounces.reports) == (
            [],
            [],
            0,
        )
        assert len(ledger.bounces("invoices")) == 6

        # the delayed message bounces for good later: the later report supersedes the delay
        deliver_to_inbox(server, ca, about("postfix_dsn", "R-6"))
        later = sync_mailbox(profile, ledger, password=PASSWORD)
        assert [b.key for b in later.bounces.bounced] == ["R-6"]
        entry = ledger.get("invoices", "R-6")
        assert entry is not None
        assert entry.state == "bounced"
        assert entry.error.startswith("5.1.1 r-6@kunde.example: ")


class _Inbox:
    """Reports as a mailbox hands them out (for what needs no server)."""

    def __init__(self, *messages: bytes) -> None:
        self.messages = {f"m{n}": data for n, data in enumerate(messages)}

    def report_candidates(self, since: float | None) -> list[tuple[str, bytes]]:
        return [(name, data.split(b"\r\n\r\n", 1)[0]) for name, data in self.messages.items()]

    def message_bytes(self, identity: str) -> bytes:
        return self.messages[identity]


def test_a_report_that_returns_no_headers_is_matched_by_its_envelope_id(tmp_path: Path) -> None:
    from docmail_nb._mailbox.bounces import read_bounces

    with Ledger(tmp_path / "l.sqlite") as ledger:
        message_id = sent(ledger, "R-1", "r-1@kunde.example")
        data = report("postfix_dsn", message_id, "r-1@kunde.example")
        data = data.replace(f"Message-ID: {message_id}".encode(), b"X-No-Id: here")
        assert message_id.encode() not in data.replace(b"ENVID", b"")
        read = read_bounces(ledger, _Inbox(data), ACCOUNT)
        assert [b.key for b in read.bounced] == ["R-1"]


def test_a_report_about_an_unknown_message_settles_it(tmp_path: Path) -> None:
    """A message lost after DATA whose bounce arrives: the server had it, and it bounced."""
    from docmail_nb._mailbox.bounces import read_bounces

    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        ledger.claim(
            run, "invoices", "R-7", content_hash="h", message_id="<R-7.1@example.ch>", rows=(2,),
            recipients=("r-7@kunde.example",), account=ACCOUNT,
        )  # fmt: skip
        ledger.mark_sending(run, "invoices", "R-7")
        ledger.mark_outcome(run, "invoices", "R-7", "unknown", error="Connection lost.")
        ledger.end_run(run)
        data = report("exim_text", "<R-7.1@example.ch>", "r-7@kunde.example")
        read = read_bounces(ledger, _Inbox(data), ACCOUNT)
        assert [b.key for b in read.bounced] == ["R-7"]
        entry = ledger.get("invoices", "R-7")
        assert entry is not None
        assert (entry.state, entry.sent_at is not None) == ("bounced", True)


def test_reconcile_moves_the_reports_it_recorded_only_when_asked(
    dovecot: Callable[..., DovecotServer],
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from docmail_nb._store.profiles import save_profile
    from docmail_nb.cli import main

    server = dovecot()
    save_profile(imap_profile(server, ca_file))
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ids = {key: sent(ledger, key, f"{key.lower()}@kunde.example") for key in ("R-1", "R-2")}
    deliver_to_inbox(
        server,
        ca,
        report("postfix_dsn", ids["R-1"], "r-1@kunde.example"),
        report("reply", ids["R-2"], "r-2@kunde.example"),
        report("gmail", "<forged.2@example.ch>", "r-2@kunde.example"),
    )
    runner = CliRunner()
    args = ["reconcile", "--profile", "box", "--ledger", str(path)]
    moved = runner.invoke(main, [*args, "--move-reports", "Zustellberichte"])
    assert moved.exit_code == 0, moved.output
    assert "1 delivery report(s) moved to the folder 'Zustellberichte'." in moved.output
    left = [data for _, data in fetch_all(server, ca, "INBOX")]
    assert len(left) == 2  # the reply and the forged report stay where they were
    assert not any(ids["R-1"].encode() in data for data in left)
    (there,) = fetch_all(server, ca, "Zustellberichte")
    assert ids["R-1"].encode() in there[1]
    assert all(b"\\Seen" not in flags for flags, _ in fetch_all(server, ca, "INBOX"))
