"""A batch through a profile with IMAP: copies in Sent, unknowns settled by the next run.

Real servers on 127.0.0.1: aiosmtpd for SMTP, Dovecot for IMAP (the same login).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import trustme
from click.testing import CliRunner
from helpers import PASSWORD, keys_on, make_batch, office
from imap_server import DovecotServer
from mailboxes import fetch_all
from servers import DROP_AFTER_STORE, SMTPTestServer

from docmail_nb._mailbox.imap import open_mailbox
from docmail_nb._run.send import send_plan
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile

BCC_LINE = b"Bcc: archive@bergmann.example\r\n"


def with_imap(profile: Profile, mailbox: DovecotServer, **settings: object) -> Profile:
    return dataclasses.replace(
        profile,
        imap_host=mailbox.host,
        imap_port=mailbox.ssl_port,
        imap_security="ssl",
        **settings,  # type: ignore[arg-type]
    )


def test_a_batch_is_in_sent_once_byte_for_byte_with_its_bcc(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
) -> None:
    smtp = smtp_server("starttls")
    mailbox = dovecot()
    _, plan = make_batch(tmp_path, 4)
    profile = with_imap(office(smtp, ca_file), mailbox)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        report = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert report.counts() == {"sent": 4}
        assert "4 copy(ies) appended to the Sent folder 'Sent'." in report.summary()
        assert all(entry.copy == "appended" for entry in ledger.entries())
        assert ledger.copies_due(profile.account) == []

        rerun = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert rerun.counts() == {"skipped": 4}
        assert "appended" not in rerun.summary()
    copies = fetch_all(mailbox, ca, "Sent")
    assert len(copies) == 4  # once each, the rerun appended nothing
    received = {m.message["Message-ID"]: m.data for m in smtp.messages}
    for flags, data in copies:
        assert b"\\Seen" in flags
        assert data.count(BCC_LINE) == 1  # Bcc kept as mail clients keep it
        message_id = next(line for line in data.split(b"\r\n") if line.startswith(b"Message-ID"))
        sent = received[message_id.split(b": ", 1)[1].decode()]
        assert BCC_LINE not in sent
        assert data.replace(BCC_LINE, b"") == sent


def test_append_that_fails_is_retried_by_the_next_run_without_resending(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    smtp = smtp_server("starttls")
    mailbox = dovecot(folders=("Sent", "Drafts"))
    mailbox.remove_folder("Sent")  # deleted behind our back
    _, plan = make_batch(tmp_path, 3)
    profile = with_imap(office(smtp, ca_file), mailbox)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert first.counts() == {"sent": 3}  # the mail went out all the same
        summary = first.summary()
        assert "The mailbox could not be used" in summary
        assert "3 copy(ies) for the Sent folder are still owed" in summary
        # the next run: the IMAP server is gone altogether
        mailbox.stop()
        second = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert second.counts() == {"skipped": 3}
        assert "refused the connection" in second.summary()
        # the run after that, with the mailbox back
        back = dovecot(folders=("Sent",))
        profile = with_imap(profile, back)
        third = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert third.counts() == {"skipped": 3}
        assert "3 copy(ies) appended" in third.summary()
        assert third.ok
    assert len(smtp.messages) == 3  # never resent
    assert len(back.stored("Sent")) == 3


def test_unknown_messages_are_settled_from_sent_by_the_next_run(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    # the server stores messages 2 and 3 and drops the connection before its 250
    smtp = smtp_server(data_hook=lambda i, env: DROP_AFTER_STORE if i in (1, 2) else None)
    mailbox = dovecot()
    _, plan = make_batch(tmp_path, 4)
    profile = with_imap(office(smtp, ca_file), mailbox, copy_to_sent=False)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert [r.state for r in first.results] == ["sent", "unknown", "unknown", "sent"]
        assert mailbox.stored("Sent") == []  # copies are the provider's business here
        # the provider filed R-1001 in Sent (as Microsoft 365 does); R-1002 is not there
        filed = next(m for m in smtp.messages if "R-1001" in str(m.message["Subject"]))
        with open_mailbox(profile, PASSWORD) as box:
            box.append(filed.data)
        smtp.data_hook = None
        second = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        states = {r.key: r.state for r in second.results}
        assert states == {"R-1000": "skipped", "R-1001": "skipped", "R-1002": "sent",
                          "R-1003": "skipped"}  # fmt: skip
        summary = second.summary()
        assert "1 unknown message(s) found (recorded as sent), 1 not found" in summary
        settled = next(r for r in second.results if r.key == "R-1001")
        assert "Found in the Sent folder 'Sent'" in settled.reply  # in the report's rows too
        assert ledger.get("invoices", "R-1001").state == "sent"  # type: ignore[union-attr]
    assert keys_on(smtp).count("R-1001") == 1  # settled from Sent: never sent twice
    assert keys_on(smtp).count("R-1002") == 2  # not in Sent: sent again by the next run


def test_docmail_send_reports_copies_and_settled_messages(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    tmp_path: Path,
    memory_keyring: object,
) -> None:
    from docmail_nb._store.profiles import save_profile
    from docmail_nb._store.secrets import set_password
    from docmail_nb.cli import main

    smtp = smtp_server("starttls")
    mailbox = dovecot()
    orders, _ = make_batch(tmp_path, 2)
    template = tmp_path / "invoices.txt"
    from helpers import TEMPLATE

    template.write_text(TEMPLATE, encoding="utf-8")
    profile = with_imap(office(smtp, ca_file), mailbox)
    save_profile(profile)
    set_password(profile.name, PASSWORD)
    args = ["send", str(orders.source), str(template), "--profile", "office", "--yes"]
    args += ["--documents", str(tmp_path), "--ledger", str(tmp_path / "l.sqlite")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 copy(ies) appended to the Sent folder 'Sent'." in result.output
    assert len(mailbox.stored("Sent")) == 2
