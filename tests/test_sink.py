"""The capture server, driven by a real SMTP client."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from child_process import default_sigint

from docmail_nb._mail.sink import CapturedMessage, CaptureServer, is_loopback
from docmail_nb.errors import ConfigError


def make_message(subject: str, to: str, attachment: bytes, filename: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Jörg Bergmann <buchhaltung@bergmann-werkstatt.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Grüezi mitenand – die Rechnung liegt bei.")
    msg.add_attachment(attachment, maintype="application", subtype="pdf", filename=filename)
    return msg


def test_stores_several_messages_byte_for_byte(tmp_path: Path) -> None:
    seen: list[CapturedMessage] = []
    pdfs = [bytes(range(256)) * 40, b"%PDF-1.4\n" + b"\x00\xff\r\n" * 500]
    with (
        CaptureServer(tmp_path / "outbox", on_message=seen.append) as sink,
        smtplib.SMTP(sink.host, sink.port, timeout=10) as client,
    ):
        client.send_message(
            make_message(
                "Rechnung R-1 – Bäckerei Müller",
                "Frau Müller <m@x.example>",
                pdfs[0],
                "Rechnung Müller.pdf",
            )
        )
        client.send_message(
            make_message("Offerte für Café Höfli", "h@y.example", pdfs[1], "offerte.pdf"),
            to_addrs=["h@y.example", "hidden@z.example"],
        )
    assert [m.subject for m in sink.messages] == [
        "Rechnung R-1 – Bäckerei Müller",
        "Offerte für Café Höfli",
    ]
    assert seen == sink.messages
    first, second = (m.message() for m in sink.messages)
    assert first["To"].addresses[0].display_name == "Frau Müller"
    assert first["From"].addresses[0].display_name == "Jörg Bergmann"
    attachment = next(first.iter_attachments())
    assert attachment.get_filename() == "Rechnung Müller.pdf"
    assert attachment.get_content() == pdfs[0]
    assert next(second.iter_attachments()).get_content() == pdfs[1]
    assert second["X-Original-To"] == "h@y.example, hidden@z.example"
    assert sink.messages[1].recipients == ("h@y.example", "hidden@z.example")
    stored = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(stored) == 2


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with (
        CaptureServer(tmp_path / "a") as first,
        pytest.raises(ConfigError, match="cannot listen") as info,
    ):
        CaptureServer(tmp_path / "b", port=first.port).start()
    assert "--port" in info.value.hint


def test_profile_points_at_the_server(tmp_path: Path) -> None:
    with CaptureServer(tmp_path / "outbox") as sink:
        profile = sink.profile()
    assert (profile.host, profile.port, profile.security) == (sink.host, sink.port, "none")
    assert profile.username == ""
    assert profile.sender == "buchhaltung@bergmann-werkstatt.example"


def test_loopback_detection() -> None:
    for host in ("127.0.0.1", "127.3.4.5", "::1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "192.0.2.7", "mail.example.ch"):
        assert not is_loopback(host), host


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_sink_prints_a_line_per_message_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "docmail_nb",
            "sink",
            "--port",
            str(port),
            "--maildir",
            str(tmp_path / "box"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"127.0.0.1:{port}" in banner
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(make_message("Lieferschein L-1", "a@b.example", b"%PDF", "l.pdf"))
        line = proc.stdout.readline()
        assert "a@b.example" in line
        assert "Lieferschein L-1" in line
    finally:
        proc.send_signal(2)  # Ctrl-C
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "stopped" in out
    assert len(list((tmp_path / "box" / "new").iterdir())) == 1
