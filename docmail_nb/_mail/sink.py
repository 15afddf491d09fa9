"""The embedded capture server: a real SMTP server on 127.0.0.1 that keeps every message.

It accepts any sender and recipient without authentication and stores each message, byte for
byte, in a Maildir, prefixed with ``Return-Path`` and ``X-Original-To`` lines as a mail server
does on delivery (so Bcc recipients are visible there, and only there). For the demo, the
tests, the notebooks and anyone trying a template without a mail account.
"""

from __future__ import annotations

import email
import email.policy
import logging
import mailbox
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from docmail_nb._store.profiles import is_loopback
from docmail_nb.errors import ConfigError

if TYPE_CHECKING:
    from docmail_nb._store.profiles import Profile

from docmail_nb.words import setting

__all__ = ["SINK_SENDER", "CaptureServer", "CapturedMessage"]

_log = logging.getLogger(__name__)

#: the From address of the capture profile (the sample business)
SINK_SENDER = "buchhaltung@bergmann-werkstatt.example"


@dataclass(frozen=True)
class CapturedMessage:
    """One message the capture server received."""

    path: Path
    mail_from: str
    recipients: tuple[str, ...]
    subject: str
    size: int

    def message(self) -> EmailMessage:
        """The stored message, parsed (with the delivery lines the server added)."""
        parsed = email.message_from_bytes(self.path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def summary(self) -> str:
        """One line for a terminal: sender, recipients, subject, size."""
        return (
            f"{self.mail_from} -> {', '.join(self.recipients)}: "
            f"{self.subject!r} ({self.size:,} bytes)"
        )


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _Store:
    """aiosmtpd handler: every message into the Maildir, then the callback."""

    def __init__(self, server: CaptureServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        mail_from = str(envelope.mail_from or "")
        recipients = tuple(str(r) for r in envelope.rcpt_tos)
        delivery_lines = (
            f"Return-Path: <{mail_from}>\r\nX-Original-To: {', '.join(recipients)}\r\n"
        ).encode("utf-8", "surrogateescape")
        captured = self.server._store(mail_from, recipients, delivery_lines + data)
        if self.server.on_message is not None:
            self.server.on_message(captured)
        return "250 2.0.0 Message captured"


class CaptureServer:
    """Start with ``with CaptureServer("outbox") as sink:``; stops on leaving the block."""

    def __init__(
        self,
        maildir: str | Path = "outbox",
        host: str = "127.0.0.1",
        port: int | None = None,
        on_message: Callable[[CapturedMessage], None] | None = None,
    ) -> None:
        self.maildir = Path(maildir).resolve()
        self.host = host
        self.port = port if port is not None else 0
        self.on_message = on_message
        self._mailbox = mailbox.Maildir(self.maildir, create=True)
        self._messages: list[CapturedMessage] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def __repr__(self) -> str:
        state = "running" if self._controller else "stopped"
        return f"CaptureServer({self.host}:{self.port}, maildir={str(self.maildir)!r}, {state})"

    @property
    def messages(self) -> list[CapturedMessage]:
        """The messages received since this server started, in order."""
        with self._lock:
            return list(self._messages)

    def _store(self, mail_from: str, recipients: tuple[str, ...], data: bytes) -> CapturedMessage:
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        with self._lock:
            key = self._mailbox.add(data)
            path = self.maildir / "new" / key
            captured = CapturedMessage(
                path=path,
                mail_from=mail_from,
                recipients=recipients,
                subject=str(parsed.get("Subject", "")),
                size=len(data),
            )
            self._messages.append(captured)
        _log.info("captured %s", captured.summary())
        return captured

    def start(self) -> CaptureServer:
        """Listen on the host and port (a free port when none was given)."""
        if self._controller is not None:
            return self
        if not is_loopback(self.host):
            _log.warning(
                "the capture server listens on %s: anyone who can reach it can drop mail here",
                self.host,
            )
        if self.port == 0:
            self.port = _free_port(self.host)
        else:
            self._check_port_free()
        controller = Controller(_Store(self), hostname=self.host, port=self.port, ready_timeout=10)
        try:
            controller.start()
        except (OSError, RuntimeError, TimeoutError) as exc:
            controller.stop(no_assert=True)
            controller.loop.close()
            raise self._cannot_listen(exc) from None
        self._controller = controller
        return self

    def _cannot_listen(self, exc: OSError | RuntimeError | TimeoutError) -> ConfigError:
        return ConfigError(
            f"The capture server cannot listen on {self.host}:{self.port} ({exc}).",
            f"Choose another port with {setting('port')}, or stop the program that uses this one.",
        )

    def _check_port_free(self) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise self._cannot_listen(exc) from None

    def stop(self) -> None:
        """Stop listening; the Maildir stays."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def profile(self, name: str = "capture") -> Profile:
        """An SMTP profile that sends to this server (plain, no login, sample sender)."""
        from docmail_nb._store.profiles import Profile

        return Profile(
            name=name,
            host=self.host,
            port=self.port,
            security="none",
            from_addr=SINK_SENDER,
            timeout=10.0,
        )
