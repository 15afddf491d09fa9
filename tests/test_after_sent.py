"""After a real send: bounces read from the INBOX, payments from the bank, each key's state,
and a reminder run that mails only the delivered, unpaid invoices, each once, with the PDF
as it was sent.

Real servers on 127.0.0.1: aiosmtpd for SMTP, Dovecot for IMAP (the INBOX holds the reports);
the sample's QR invoices, drawn with their QR-bills; a camt.054 of the sample's references.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest
import trustme
from click.testing import CliRunner
from helpers import PASSWORD, office
from imap_server import DovecotServer
from mailboxes import fetch_all
from reports import deliver_to_inbox, report
from servers import SMTPTestServer

from docmail_nb import Batch
from docmail_nb._run.options import SendOptions
from docmail_nb._sample import sample_dir
from docmail_nb._store import profiles
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.status import campaign_status
from docmail_nb.cli import main

CAMT = Path(__file__).parent / "data" / "camt"
pytestmark = pytest.mark.slow


def sample_with_dues(folder: Path, overdue: dict[str, int]) -> Path:
    """The sample (orders, templates, documents) in ``folder``; each invoice of ``overdue``
    fell due that many days ago, the others in 20 days."""
    shutil.copytree(sample_dir(), folder)
    path = folder / "orders.xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book["Rechnungen"]
    columns = [cell.value for cell in sheet[1]]
    key, due = columns.index("invoice_no"), columns.index("due")
    today = dt.datetime.combine(dt.date.today(), dt.time())
    for row in sheet.iter_rows(min_row=2):
        days = overdue.get(str(row[key].value), -20)
        row[due].value = today - dt.timedelta(days=days)
    book.save(path)
    return path


def pdf_of(msg: EmailMessage) -> bytes:
    (part,) = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    data = part.get_content()
    assert isinstance(data, bytes)
    return data


def test_bounces_payments_status_and_one_reminder_per_unpaid_delivered_invoice(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca: trustme.CA,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    smtp = smtp_server("starttls")
    mailbox = dovecot()
    profile = dataclasses.replace(
        office(smtp, ca_file),
        imap_host=mailbox.host,
        imap_port=mailbox.ssl_port,
        imap_security="ssl",
        from_addr="buchhaltung@bergmann.example",
    )
    profiles.save_profile(profile)
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    folder = tmp_path / "work"
    overdue = {f"R-2026-{n}": 20 for n in range(1041, 1050)}  # R-2026-1050 is not due yet
    orders = sample_with_dues(folder, overdue)
    ledger = tmp_path / "ledger.sqlite"
    templates = folder / "templates"

    # 1. the invoices go out, each with its QR-bill
    invoices = Batch.from_files(
        orders, templates / "qr_invoice.txt", sheet="Rechnungen", profile=profile, ledger=ledger,
        password=PASSWORD,
    )  # fmt: skip
    sent = invoices.send()
    assert sent.counts() == {"sent": 10}, sent.summary()
    received = {str(m.message["Message-ID"]): m.message for m in smtp.messages}
    by_key = {r.key: r for r in sent.results}
    invoice_pdf = {key: pdf_of(received[r.message_id]) for key, r in by_key.items()}

    # 2. the INBOX gets reports, an auto-reply and a reply
    def about(name: str, key: str, to: str) -> bytes:
        return report(name, by_key[key].message_id, to)

    deliver_to_inbox(
        mailbox,
        ca,
        about("postfix_dsn", "R-2026-1043", "s.jaeggi@bluemli.example"),
        about("exchange_ndr", "R-2026-1046", "rechnungen@saentisblick.example"),
        about("postfix_delayed", "R-2026-1047", "h.braendli@metzgerei-braendli.example"),
        about("out_of_office", "R-2026-1048", "praxis@dr-kaelin.example"),
        about("reply", "R-2026-1049", "bestellungen@rueegg-wein.example"),
        report("gmail", "<not-ours@example.ch>", "mail@velo-kuehne.example"),
    )
    inbox = fetch_all(mailbox, ca, "INBOX")
    runner = CliRunner()
    common = ["--ledger", str(ledger)]
    reconciled = runner.invoke(main, ["reconcile", "--profile", "office", *common])
    assert reconciled.exit_code == 0, reconciled.output
    assert "INBOX: 4 new delivery report(s): 2 bounced, 1 delayed." in reconciled.output
    assert fetch_all(mailbox, ca, "INBOX") == inbox  # not even marked as read

    # 3. the bank's notification: paid, partly paid, overpaid, and one that matches nothing
    paid = runner.invoke(main, ["payments", str(CAMT / "camt054_qrr.xml"), *common])
    assert paid.exit_code == 1, paid.output  # the unknown credit is listed for a look
    assert "Recorded 4 payment(s)" in paid.output
    again = runner.invoke(main, ["payments", str(CAMT / "camt054_qrr.xml"), *common])
    assert "Recorded 0 payment(s); 4 were recorded before" in again.output

    # 4. status: each key's state, the bounce's code and reason, the payments
    with Ledger(ledger) as opened:
        states = {s.key: s for s in campaign_status(opened, "qr_invoice")}
    assert {key: s.state for key, s in states.items()} == {
        "R-2026-1041": "paid",
        "R-2026-1042": "partly paid",
        "R-2026-1043": "overpaid",  # paid though its mail bounced
        "R-2026-1044": "paid",
        "R-2026-1045": "sent",
        "R-2026-1046": "bounced",
        "R-2026-1047": "delayed",
        "R-2026-1048": "sent",
        "R-2026-1049": "sent",
        "R-2026-1050": "sent",
    }
    assert (states["R-2026-1043"].sent_state, states["R-2026-1043"].status_code) == (
        "bounced",
        "5.1.1",
    )
    assert states["R-2026-1046"].status_code == "5.1.10"
    shown = runner.invoke(main, ["status", "--campaign", "qr_invoice", *common])
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if x.startswith("qr_invoice/R-2026-1046"))
    assert "bounced" in line
    assert "5.1.10 rechnungen@saentisblick.example: " in line
    assert "RecipientNotFound" in line

    # 5. the first reminder: delivered (a delayed one counts), not paid in full, overdue
    def remind(name: str) -> dict[str, list[str]]:
        batch = Batch.from_files(
            orders, templates / name, sheet="Rechnungen", profile=profile, ledger=ledger,
            password=PASSWORD, options=SendOptions(),
        )  # fmt: skip
        assert batch.plan.ok, batch.plan.problems
        done = batch.send()
        found: dict[str, list[str]] = {}
        for result in done.results:
            found.setdefault(result.state, []).append(result.key)
        return found

    before = len(smtp.messages)
    assert remind("reminder_1.txt") == {
        "sent": ["R-2026-1042", "R-2026-1045", "R-2026-1047", "R-2026-1048", "R-2026-1049"]
    }
    reminders = smtp.messages[before:]
    for message in reminders:
        subject = str(message.message["Subject"])
        key = subject.split("Rechnung ", 1)[1].split(" ", 1)[0]
        assert subject.startswith("Zahlungserinnerung – Rechnung ")
        assert pdf_of(message.message) == invoice_pdf[key]  # the very PDF sent
    partly = next(m for m in reminders if "R-2026-1042" in str(m.message["Subject"]))
    assert "offen sind noch" in partly.message.get_body(("plain",)).get_content()

    # a second run sends nothing; the second level waits for 30 days overdue
    assert remind("reminder_1.txt") == {}
    assert remind("reminder_2.txt") == {}
    assert len(smtp.messages) == before + 5
    with Ledger(ledger) as opened:
        levels = {s.key: s.reminder_level for s in campaign_status(opened, "qr_invoice")}
    assert [k for k, level in levels.items() if level == 1] == [
        "R-2026-1042", "R-2026-1045", "R-2026-1047", "R-2026-1048", "R-2026-1049",
    ]  # fmt: skip


def test_the_send_panel_and_the_scheduled_summary_show_the_states_of_docmail_status(
    tmp_path: Path,
) -> None:
    from decimal import Decimal

    from docmail_nb._mail.sink import CaptureServer
    from docmail_nb._money.payments import read_payments
    from docmail_nb._store.records import Bounce
    from docmail_nb.scheduled import ScheduledRun
    from docmail_nb.widgets import SendPanel

    ledger = tmp_path / "ledger.sqlite"
    with CaptureServer(tmp_path / "outbox") as capture:
        panel = SendPanel(profile=capture.profile(), ledger=ledger)
        panel.send_button.click()
        panel.yes_button.click()
        panel.wait(60)
        assert panel.report is not None
        campaign = panel.report.campaign
        with Ledger(ledger) as opened:
            entry = opened.get(campaign, "R-2026-1043")
            assert entry is not None
            found = Bounce(campaign, "R-2026-1043", entry.message_id, entry.recipients[0],
                           "failed", "5.1.1", "User unknown", report_id="<r@mx>")  # fmt: skip
            opened.record_report(entry.account, "<r@mx>", [found])
            opened.record_reference(
                campaign, "R-2026-1041", reference="000000004200000000202610411", kind="QRR",
                amount=Decimal("1234.50"), currency="CHF",
            )  # fmt: skip
            read_payments(opened, CAMT / "camt054_qrr.xml")
            states = {s.key: s.short for s in campaign_status(opened, campaign)}
        assert states["R-2026-1043"] == "bounced 5.1.1"
        assert states["R-2026-1041"] == "paid 1234.50 of 1234.50"

        again = SendPanel(profile=capture.profile(), ledger=ledger)
        assert "Status" in [column["label"] for column in again.grid.columns]
        shown = {
            again.entries[i].key: again.entries[i].status for i in again._shown
        }  # the same words as docmail status
        assert shown == states
        row = next(r for r in again.grid.rows if "R-2026-1043" in " ".join(r["titles"]))
        assert "bounced 5.1.1" in " ".join(row["titles"])
        assert {e.key: e.state for e in again.entries}["R-2026-1043"] == "bounced"
        assert again.offer_box.layout.display == "flex"
        assert "1 message(s) bounced" in again.offer_text.value
        assert again.resend_bounced_button.layout.display == "flex"
        before = len(capture.messages)
        again.resend_bounced_button.click()
        assert "sends the bounced messages again" in again.confirm_text.value
        again.yes_button.click()
        again.wait(60)
        assert len(capture.messages) == before + 1  # only the bounced one, as it was
        with Ledger(ledger) as opened:
            resent = opened.get(campaign, "R-2026-1043")
            assert resent is not None
            assert (resent.state, resent.resend_of) == ("sent", entry.message_id)
        # what the ledger held before the resend, for the scheduled run below
        with Ledger(ledger) as opened:
            opened.record_report(resent.account, "<r2@mx>", [
                Bounce(campaign, "R-2026-1043", resent.message_id, resent.recipients[0],
                       "failed", "5.1.1", "User unknown", report_id="<r2@mx>"),
            ])  # fmt: skip

        # a scheduled run: its summary says what the ledger now holds
        batch = Batch.from_files(
            sample_dir() / "orders.xlsx", sample_dir() / "templates" / "invoice.txt",
            sheet="Rechnungen", profile=capture.profile(), ledger=ledger,
        )  # fmt: skip
        report = batch.send()
        assert report.after_sent == {"paid": 1, "sent": 8, "bounced": 1}
        summary = ScheduledRun(plan=batch.plan, report=report).markdown()
        assert "- In the ledger now: 1 paid, 8 sent, 1 bounced" in summary
