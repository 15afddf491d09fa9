"""A bounced row: listed with its reason, sent again once its address is corrected (or when
asked), with a new Message-ID, and recorded as the resend of the message that bounced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers import NO_BCC, write_orders
from servers import SMTPTestServer

from docmail_nb import Batch, MemoryTransport, Profile, SendOptions
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.records import Bounce

PROFILE = Profile("memory", host="memory.invalid", from_addr="buchhaltung@bergmann.example")


def bounce(ledger: Ledger, key: str, report: str) -> None:
    entry = ledger.get("invoices", key)
    assert entry is not None
    findings = [
        Bounce("invoices", key, entry.message_id, entry.recipients[0], "failed", "5.1.1",
               "User unknown", report_id=report),
    ]  # fmt: skip
    assert ledger.record_report(entry.account, report, findings) == findings


def test_a_bounced_row_is_listed_then_sent_again_once_corrected(tmp_path: Path) -> None:
    orders = write_orders(tmp_path, 3)
    template = tmp_path / "invoices.txt"
    template.write_text(NO_BCC, encoding="utf-8")
    ledger_path, transport = tmp_path / "ledger.sqlite", MemoryTransport()

    def send(**options: bool) -> Batch:
        return Batch.from_files(
            orders, template, documents=tmp_path, profile=PROFILE, ledger=ledger_path,
            transport=transport, options=SendOptions(**options),
        )  # fmt: skip

    first = send().send()
    assert first.counts() == {"sent": 3}
    with Ledger(ledger_path) as ledger:
        bounce(ledger, "R-1001", "<report-1@mx.example>")
        bounced_id = ledger.get("invoices", "R-1001").message_id  # type: ignore[union-attr]

    # the address is still wrong: nothing is sent, the row is listed with the reason
    batch = send()
    again = batch.send()
    assert again.counts() == {"skipped": 2, "bounced": 1}
    assert not again.ok
    (held,) = [r for r in again.results if r.state == "bounced"]
    assert held.error == "Bounced: 5.1.1 kunde1@example.org: User unknown."
    assert "Correct the address" in held.hint
    failed = batch.failed_rows(again)
    assert list(failed["row"]) == [3]
    assert "5.1.1 kunde1@example.org: User unknown" in failed["error"][0]
    assert len(transport.stored) == 3

    # the address corrected in the sheet: the key goes out again, with a new Message-ID
    text = orders.read_text(encoding="utf-8").replace("kunde1@example.org", "kunde1@example.com")
    orders.write_text(text, encoding="utf-8")
    fixed = send().send()
    assert fixed.counts() == {"skipped": 2, "sent": 1}
    (resent,) = [r for r in fixed.results if r.state == "sent"]
    assert resent.message_id != bounced_id
    assert transport.stored[-1].recipients == ("kunde1@example.com",)
    with Ledger(ledger_path) as ledger:
        entry = ledger.get("invoices", "R-1001")
        assert entry is not None
        assert (entry.state, entry.resend_of) == ("sent", bounced_id)
        # it bounces again at the same address: only --resend-bounced sends it there again
        bounce(ledger, "R-1001", "<report-2@mx.example>")
    assert send().send().counts() == {"skipped": 2, "bounced": 1}
    forced = send(resend_bounced=True).send()
    assert forced.counts() == {"skipped": 2, "sent": 1}
    (last,) = [r for r in forced.results if r.state == "sent"]
    assert last.message_id not in (bounced_id, resent.message_id)
    assert str(transport.stored[-1].msg["Message-ID"]) == last.message_id
    assert len(transport.stored) == 5


def test_a_server_offering_dsn_is_asked_for_failure_reports_that_name_the_message(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path
) -> None:
    from helpers import PASSWORD, office

    dsn = smtp_server("starttls", dsn=True)
    plain = smtp_server("starttls")
    orders = write_orders(tmp_path, 2)
    template = tmp_path / "invoices.txt"
    template.write_text(NO_BCC, encoding="utf-8")
    for server in (dsn, plain):
        batch = Batch.from_files(
            orders, template, documents=tmp_path, profile=office(server, ca_file),
            ledger=tmp_path / f"{server.port}.sqlite", password=PASSWORD,
        )  # fmt: skip
        assert batch.send().counts() == {"sent": 2}
    for received in dsn.messages:
        message_id = str(received.message["Message-ID"]).strip("<>")
        assert "RET=HDRS" in received.mail_options
        assert f"ENVID={message_id}".upper() in received.mail_options  # aiosmtpd upper-cases
        assert "NOTIFY=FAILURE,DELAY" in received.rcpt_options
        assert f"ORCPT=RFC822;{received.rcpt_tos[0]}".upper() in received.rcpt_options
    for received in plain.messages:  # a server without DSN gets none of it
        assert not [o for o in received.mail_options if o.startswith(("RET", "ENVID"))]
        assert received.rcpt_options == []


def test_xtext_encodes_plus_equals_and_what_is_not_printable() -> None:
    from docmail_nb._mail.smtp import xtext

    assert xtext("a1b2@example.ch") == "a1b2@example.ch"
    assert xtext("a+b=c d") == "a+2Bb+3Dc+20d"


def test_a_reminder_attaches_the_files_its_campaign_attached_exactly_as_sent(
    tmp_path: Path,
) -> None:
    from docmail_nb import Ledger as PublicLedger

    orders = write_orders(tmp_path, 3)
    for n in range(3):
        (tmp_path / f"R-{1000 + n}.pdf").write_bytes(f"%PDF-1.4 invoice {n}\n".encode())
    (tmp_path / "invoices.txt").write_text(
        NO_BCC.replace("Key:", "Attachment: {{ invoice_no }}.pdf\nKey:"), encoding="utf-8"
    )
    (tmp_path / "reminder.txt").write_text(
        "To: {{ email }}\nSubject: Erinnerung {{ invoice_no }}\nReminder-Of: invoices\n"
        "Key: {{ invoice_no }}\n\nGuten Tag {{ name }}, offen: {{ open_amount }}.\n",
        encoding="utf-8",
    )
    ledger_path, transport = tmp_path / "ledger.sqlite", MemoryTransport()

    def send(template: str) -> dict[str, list[str]]:
        batch = Batch.from_files(
            orders, tmp_path / template, documents=tmp_path, profile=PROFILE,
            ledger=ledger_path, transport=transport,
        )  # fmt: skip
        assert batch.plan.ok, batch.plan.problems
        found: dict[str, list[str]] = {}
        for result in batch.send().results:
            found.setdefault(result.state, []).append(result.key)
        return found

    assert send("invoices.txt") == {"sent": ["R-1000", "R-1001", "R-1002"]}
    sent_pdfs = {s.msg["Subject"].split()[-1]: s for s in transport.stored}
    with PublicLedger(ledger_path) as ledger:
        bounce(ledger, "R-1001", "<report-9@mx.example>")
    assert send("reminder.txt") == {"sent": ["R-1000", "R-1002"]}  # not the bounced one
    for stored in transport.stored[3:]:
        key = str(stored.msg["Subject"]).split()[-1]
        (attached,) = stored.msg.iter_attachments()
        (original,) = sent_pdfs[key].msg.iter_attachments()
        assert attached.get_content() == original.get_content()
    assert send("reminder.txt") == {}  # each level once

    # a file changed since it was sent is the row's problem, not another PDF sent
    (tmp_path / "R-1000.pdf").write_bytes(b"%PDF-1.4 changed\n")
    (tmp_path / "reminder2.txt").write_text(
        (tmp_path / "reminder.txt")
        .read_text(encoding="utf-8")
        .replace("Reminder-Of: invoices\n", "Reminder-Of: invoices\nReminder-Level: 2\n"),
        encoding="utf-8",
    )
    second = Batch.from_files(
        orders, tmp_path / "reminder2.txt", documents=tmp_path, profile=PROFILE,
        ledger=ledger_path, transport=transport,
    )  # fmt: skip
    (problem,) = second.plan.problems
    assert (problem.key, problem.field) == ("R-1000", "Reminder-Of")
    assert "is no longer the one sent in campaign 'invoices'" in problem.message
    assert [draft.key for draft in second.plan.drafts] == ["R-1002"]
    assert [item.key for item in second.plan.skipped] == ["R-1001"]  # bounced
