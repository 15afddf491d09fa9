"""Where docmail files the Sent copies: an unknown message stays unknown, each copy goes to
Sent once even when an APPEND's answer was lost. Real servers: aiosmtpd and Dovecot."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from helpers import PASSWORD, keys_on, make_batch, office
from imap_server import DovecotServer
from servers import DROP_AFTER_STORE, SMTPTestServer

from docmail_nb._mailbox.imap import Mailbox, open_mailbox
from docmail_nb._mailbox.reconcile import sync_mailbox
from docmail_nb._run.options import SendOptions
from docmail_nb._run.send import send_plan
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import MailboxError


def with_imap(profile: Profile, mailbox: DovecotServer, **settings: object) -> Profile:
    return dataclasses.replace(
        profile,
        imap_host=mailbox.host,
        imap_port=mailbox.ssl_port,
        imap_security="ssl",
        **settings,  # type: ignore[arg-type]
    )


def test_the_profile_says_who_files_sent_mail(
    smtp_server: Callable[..., SMTPTestServer], dovecot: Callable[..., DovecotServer],
    ca_file: Path,
) -> None:  # fmt: skip
    smtp = smtp_server("starttls")
    box = dovecot()
    assert not with_imap(office(smtp, ca_file), box).provider_files_sent  # docmail appends
    assert with_imap(office(smtp, ca_file), box, copy_to_sent=False).provider_files_sent
    for preset in ("microsoft365", "gmail", "google_workspace"):
        assert with_imap(office(smtp, ca_file, preset), box).provider_files_sent
    for preset in ("infomaniak", "cyon", "hostpoint", "swisscom"):
        assert not with_imap(office(smtp, ca_file, preset), box).provider_files_sent


def test_an_unknown_message_is_not_sent_again_where_docmail_files_the_copies(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    # the server stores R-1001 and drops the connection before its 250: the reply is lost
    smtp = smtp_server(data_hook=lambda i, env: DROP_AFTER_STORE if i == 1 else None)
    mailbox = dovecot()
    _, plan = make_batch(tmp_path, 3)
    profile = with_imap(office(smtp, ca_file), mailbox)  # copies appended by docmail
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert [r.state for r in first.results] == ["sent", "unknown", "sent"]
        smtp.data_hook = None
        second = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert ledger.get("invoices", "R-1001").state == "unknown"  # type: ignore[union-attr]
        summary = second.summary()
        assert "stay unknown" in summary, summary
        assert "--resend-unknown" in summary, summary
        assert keys_on(smtp).count("R-1001") == 1  # not sent again by a plain rerun
        third = send_plan(
            plan, profile, password=PASSWORD, ledger=ledger,
            options=SendOptions(resend_unknown=True),
        )  # fmt: skip
        assert {r.key: r.state for r in third.results}["R-1001"] == "sent"
    assert keys_on(smtp).count("R-1001") == 2  # only when asked for
    in_sent = Counter(m.message_id for m in mailbox.stored("Sent"))
    assert len(in_sent) == 3, in_sent
    assert set(in_sent.values()) == {1}, in_sent


def test_a_copy_whose_append_answer_was_lost_is_not_appended_again(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    smtp = smtp_server("starttls")
    mailbox = dovecot(folders=("Sent", "Drafts"))
    mailbox.remove_folder("Sent")  # the copies stay owed while the folder is gone
    _, plan = make_batch(tmp_path, 3)
    profile = with_imap(office(smtp, ca_file), mailbox)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        first = send_plan(plan, profile, password=PASSWORD, ledger=ledger)
        assert first.counts() == {"sent": 3}
        assert len(ledger.copies_due(profile.account)) == 3
    mailbox.add_folder("Sent")

    def answer_lost(profile: Profile, password: str | None) -> Mailbox:
        box = open_mailbox(profile, password)
        real = box.append

        def append(data: bytes, folder: object = None, when: float | None = None) -> None:
            real(data, when=when)  # the server stores it ...
            raise MailboxError("The IMAP server closed the connection.", kind="disconnected")

        box.append = append  # type: ignore[assignment, method-assign]
        return box

    with Ledger(tmp_path / "l.sqlite") as ledger:
        lost = sync_mailbox(profile, ledger, password=PASSWORD, opener=answer_lost)
        assert lost.error is not None
        assert len(mailbox.stored("Sent")) == 1  # ... and its answer never came
        again = sync_mailbox(profile, ledger, password=PASSWORD)
        assert again.error is None
        assert len(again.appended) == 2
        assert ledger.copies_due(profile.account) == []
        copies = Counter(entry.copy for entry in ledger.entries())
        assert copies == {"found": 1, "appended": 2}
    in_sent = Counter(m.message_id for m in mailbox.stored("Sent"))
    assert sorted(in_sent.values()) == [1, 1, 1], in_sent
