"""Scripted hostile IMAP servers: odd folder names, trickled answers, answers without end.

Each server is real (TLS on 127.0.0.1, trusted through the test CA); docmail must end each
visit with a plain MailboxError (or skip what it cannot read), never hang past its timeout,
never read an announced literal into memory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from hostile_imap import DEFAULT_FOLDERS, HostileIMAPServer
from imap_server import PASSWORD as DOVECOT_PASSWORD
from imap_server import DovecotServer
from mailboxes import imap_profile

from docmail_nb._mailbox.imap import open_mailbox
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import MailboxError

PASSWORD = "correct horse"


def profile_for(server: HostileIMAPServer, ca_file: Path, timeout: float = 1.0) -> Profile:
    return Profile(
        "box",
        host="127.0.0.1",
        username="anna@example.ch",
        ca_file=str(ca_file),
        timeout=timeout,
        imap_host=server.host,
        imap_port=server.port,
        imap_security="ssl",
    )


def hostile(ca: trustme.CA, **script: Any) -> HostileIMAPServer:
    return HostileIMAPServer(ca, **script).start()


def test_malformed_and_non_utf8_folder_names_are_skipped_with_a_note(
    ca: trustme.CA, ca_file: Path
) -> None:
    folders = (
        b'(\\HasNoChildren) "/" "&A-"',  # not base64
        b'(\\HasNoChildren) "/" "&2D3-"',  # half a surrogate pair
        b'(\\HasNoChildren) "/" "Archiv-\xff"',  # a byte that is not UTF-8
        (b'(\\HasNoChildren) "/"', b"Ablage \xfe\xff"),  # the same, as a literal
        (b'(\\HasNoChildren) "/"', "Entwürfe".encode()),  # UTF-8 as a literal: read as is
        *DEFAULT_FOLDERS,
    )
    server = hostile(ca, folders=folders)
    try:
        with open_mailbox(profile_for(server, ca_file), PASSWORD) as mailbox:
            assert mailbox.sent_folder().name == "Sent"
            names = [folder.name for folder in mailbox.folders()]
            skipped = mailbox.skipped
    finally:
        server.stop()
    assert names == ["Entwürfe", "INBOX", "Sent"]
    assert len(skipped) == 4, skipped
    assert all("skipped" in note for note in skipped)
    assert any("&2D3-" in note for note in skipped)


def visit(profile: Profile, step: str) -> None:
    """Connect, find Sent, append a copy: as far as ``step`` lets it get."""
    with open_mailbox(profile, PASSWORD) as mailbox:
        assert step != "connect"
        folder = mailbox.sent_folder()
        assert step != "list"
        assert mailbox.contains("<a@b>", folder)
        assert step != "search"
        mailbox.append(b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nx\r\n", folder)


@pytest.mark.parametrize(
    ("script", "step"),
    [
        ({"greeting": "trickle"}, "connect"),
        ({"list_answer": "trickle"}, "list"),
        ({"search_answer": "trickle"}, "search"),
        ({"append_answer": "trickle"}, "append"),
    ],
)
def test_a_trickled_answer_ends_at_the_profiles_timeout(
    ca: trustme.CA, ca_file: Path, script: dict[str, str], step: str
) -> None:
    # each answer takes several seconds a byte at a time, every byte well within the timeout
    server = hostile(ca, trickle_every=0.15, **script)
    try:
        with pytest.raises(MailboxError) as caught:
            visit(profile_for(server, ca_file, timeout=1.0), step)
    finally:
        server.stop()
    assert caught.value.kind == "timeout"
    assert "did not answer in time" in caught.value.message


@pytest.mark.parametrize("answer", ["huge_literal", "endless"])
def test_an_oversized_answer_is_refused_not_read(
    ca: trustme.CA, ca_file: Path, answer: str
) -> None:
    server = hostile(ca, list_answer=answer)
    try:
        with (
            open_mailbox(profile_for(server, ca_file, timeout=20), PASSWORD) as mailbox,
            pytest.raises(MailboxError) as caught,
        ):
            mailbox.sent_folder()
    finally:
        server.stop()
    assert caught.value.kind == "disconnected"
    assert "MB" in caught.value.message
    assert server.record.list_bytes_sent < 64 * 2**20


def test_a_large_copy_is_appended_within_its_own_time(ca: trustme.CA, ca_file: Path) -> None:
    server = hostile(ca)
    message = b"Subject: x\r\nMessage-ID: <big@b>\r\n\r\n" + b"x" * 76 + b"\r\n"
    message += (b"y" * 76 + b"\r\n") * 40_000  # about 3 MB, as a message with a large PDF
    try:
        with open_mailbox(profile_for(server, ca_file, timeout=5), PASSWORD) as mailbox:
            mailbox.append(message)
    finally:
        server.stop()
    assert server.record.appended == [message]


def test_a_delivery_report_larger_than_an_answer_is_still_read_whole(
    dovecot: Callable[..., DovecotServer], ca_file: Path
) -> None:
    # a bounce returning the original message with its PDF: larger than a folder list may be
    server = dovecot(folders=("Sent",))
    report = b"From: MAILER-DAEMON@example.ch\r\nSubject: Undelivered Mail\r\n"
    report += b"Message-ID: <bounce-1@example.ch>\r\n\r\n" + (b"z" * 76 + b"\r\n") * 90_000
    assert len(report) > 6 * 2**20
    with open_mailbox(imap_profile(server, ca_file), DOVECOT_PASSWORD) as mailbox:
        inbox = next(folder for folder in mailbox.folders() if folder.name == "INBOX")
        mailbox.append(report, inbox)
        ((identity, head),) = mailbox.report_candidates()
        assert b"Undelivered Mail" in head
        assert mailbox.message_bytes(identity) == report
