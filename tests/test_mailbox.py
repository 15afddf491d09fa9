"""The Sent folder over IMAP, against a real Dovecot on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from imap_server import PASSWORD, USER, DovecotServer
from mailboxes import fetch_all, imap_profile, invoice
from servers import SMTPTestServer

from docmail_nb._mail.smtp import connect, deliver
from docmail_nb._mailbox.folders import decode_folder_name, encode_folder_name
from docmail_nb._mailbox.imap import check_mailbox, open_mailbox, sent_copy
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import MailboxError


def test_folder_names_round_trip_modified_utf7() -> None:
    for name in ("Sent", "Gesendete Objekte", "Éléments envoyés", "A&B", "Posta inviata/ä"):
        assert decode_folder_name(encode_folder_name(name)) == name
    assert encode_folder_name("Envoyés") == "Envoy&AOk-s"


def test_sent_found_by_special_use_even_with_an_unusual_name(
    dovecot: Callable[..., DovecotServer], ca_file: Path
) -> None:
    server = dovecot(
        folders=("Sent", "Postausgang", "Drafts"), special_use={"Postausgang": "\\Sent"}
    )
    with open_mailbox(imap_profile(server, ca_file), PASSWORD) as mailbox:
        folder = mailbox.sent_folder()
    assert folder.name == "Postausgang"  # marked \Sent wins over a folder called "Sent"
    assert folder.special_sent


@pytest.mark.parametrize("name", ["Gesendete Objekte", "Éléments envoyés"])
def test_sent_found_by_usual_name_over_starttls(
    dovecot: Callable[..., DovecotServer], ca_file: Path, name: str
) -> None:
    server = dovecot(folders=("Drafts", "Archiv", name), special_use={})
    profile = imap_profile(server, ca_file, starttls=True)
    with open_mailbox(profile, PASSWORD) as mailbox:
        folder = mailbox.sent_folder()
        assert folder.name == name
        assert not folder.special_sent
        mailbox.append(sent_copy(invoice()))
    assert len(server.stored(name)) == 1


def test_named_folder_that_does_not_exist_is_a_clear_error(
    dovecot: Callable[..., DovecotServer], ca_file: Path
) -> None:
    server = dovecot(folders=("Sent", "Drafts"))
    profile = imap_profile(server, ca_file, sent_folder="Gesendet")
    with open_mailbox(profile, PASSWORD) as mailbox, pytest.raises(MailboxError) as caught:
        mailbox.sent_folder()
    assert caught.value.kind == "folder_missing"
    assert caught.value.exit_code == 2
    assert "'Gesendet' does not exist" in caught.value.message
    assert "Drafts, INBOX, Sent" in caught.value.message
    assert "--sent-folder" in caught.value.hint
    checked = check_mailbox(profile, PASSWORD)
    assert not checked.ok
    assert "Gesendet" in checked.summary


def test_no_sent_folder_at_all_asks_for_one(
    dovecot: Callable[..., DovecotServer], ca_file: Path
) -> None:
    server = dovecot(folders=("Drafts",), special_use={})
    with (
        pytest.raises(MailboxError, match="no folder marked as Sent") as caught,
        open_mailbox(imap_profile(server, ca_file), PASSWORD) as mailbox,
    ):
        mailbox.sent_folder()
    assert "--sent-folder" in caught.value.hint


def test_copy_is_the_message_as_sent_plus_bcc_flagged_seen(
    dovecot: Callable[..., DovecotServer],
    smtp_server: Callable[..., SMTPTestServer],
    ca: trustme.CA,
    ca_file: Path,
) -> None:
    smtp = smtp_server("starttls")
    server = dovecot()
    profile = imap_profile(server, ca_file, port=smtp.port)
    msg = invoice()
    bcc = ["archiv@example.ch", "Revision <revision@example.ch>"]
    conn = connect(profile, "correct horse")
    try:
        deliver(conn, msg, "anna@example.ch", ["kunde@example.org", *bcc])
    finally:
        conn.quit()
    received = smtp.messages[0].data
    assert b"Bcc" not in received
    with open_mailbox(profile, PASSWORD) as mailbox:
        mailbox.append(sent_copy(msg, bcc))
        assert mailbox.contains("<0123abcd@example.ch>")
        assert not mailbox.contains("<other@example.ch>")
    [(flags, stored)] = fetch_all(server, ca, "Sent")
    assert b"\\Seen" in flags
    bcc_line = b"Bcc: archiv@example.ch, Revision <revision@example.ch>\r\n"
    assert stored.count(bcc_line) == 1
    assert stored.replace(bcc_line, b"") == received  # byte for byte, apart from Bcc
    kept = email.message_from_bytes(stored, policy=email.policy.default)
    assert kept["Message-ID"] == "<0123abcd@example.ch>"


def test_untrusted_certificate_and_wrong_password_are_named(
    dovecot: Callable[..., DovecotServer], ca_file: Path
) -> None:
    server = dovecot()
    with pytest.raises(MailboxError) as untrusted:
        open_mailbox(imap_profile(server, None), PASSWORD)
    assert untrusted.value.kind == "untrusted_certificate"
    assert "--ca-file" in untrusted.value.hint
    with pytest.raises(MailboxError) as refused:
        open_mailbox(imap_profile(server, ca_file), "wrong horse battery")
    assert refused.value.kind == "login_failed"
    assert "wrong horse" not in str(refused.value)
    assert USER in refused.value.message


def test_server_gone_and_wrong_port_are_named(ca_file: Path) -> None:
    from servers import free_port

    profile = Profile(
        "box", "127.0.0.1", username=USER, ca_file=str(ca_file), imap_host="127.0.0.1",
        imap_port=free_port(),
    )  # fmt: skip
    with pytest.raises(MailboxError) as caught:
        open_mailbox(profile, PASSWORD)
    assert caught.value.kind == "connection_refused"
    assert "993" in caught.value.hint


def test_check_names_the_sent_folder(dovecot: Callable[..., DovecotServer], ca_file: Path) -> None:
    server = dovecot(folders=("Sent", "Drafts"))
    checked = check_mailbox(imap_profile(server, ca_file), PASSWORD)
    assert checked.ok, checked.summary
    assert checked.folder == "Sent"
    assert "Sent folder 'Sent' (marked as Sent)" in checked.summary
    assert "certificate verified" in checked.summary


def test_profile_without_imap_says_how_to_add_it() -> None:
    with pytest.raises(MailboxError) as caught:
        open_mailbox(Profile("box", "smtp.example.ch"), PASSWORD)
    assert caught.value.kind == "no_imap"
    assert "--imap-host" in caught.value.hint
