"""``imaplib`` with bounds: a deadline for each whole reply, and a cap on what a reply holds.

``imaplib`` applies the socket timeout to each read, so a server that trickles a byte at a
time holds a command for as long as it likes; and it reads an announced literal
(``{3999999999}``) or an endless folder list into memory. The classes here read through one
bounded reader:

- each reply (the greeting, then each command's answer) must be complete within
  ``reply_timeout`` seconds, else ``TimeoutError``; a large message sent with APPEND may take
  up to ``MESSAGE_SECONDS`` (as SMTP gives one message), and the answer to it then gets its
  own deadline;
- a literal may announce at most ``MAX_LITERAL`` bytes and a reply hold at most
  ``MAX_REPLY`` bytes, else ``AnswerTooLarge`` (an ``imaplib.IMAP4.abort``; imaplib rewords
  it on its way up, so the reason is also kept as ``given_up``).

Nothing docmail asks an IMAP server for (LIST, SELECT, SEARCH, APPEND's answer) comes near.
"""

from __future__ import annotations

import contextlib
import imaplib
import io
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

__all__ = [
    "MAX_LITERAL",
    "MAX_MESSAGE",
    "MAX_REPLY",
    "MESSAGE_SECONDS",
    "AnswerTooLarge",
    "BoundedIMAP4",
    "BoundedIMAP4_SSL",
    "whole_messages",
]

#: the largest literal a server may announce in an answer
MAX_LITERAL = 4 * 1024 * 1024
#: the most one answer (all its lines and literals) may hold
MAX_REPLY = 8 * 1024 * 1024
#: how long a large message (APPEND's literal) may take to send, as for SMTP
MESSAGE_SECONDS = 600.0
#: the most an answer carrying whole messages (``whole_messages``) may hold
MAX_MESSAGE = 64 * 1024 * 1024


class AnswerTooLarge(imaplib.IMAP4.abort):
    """The server's answer is larger than docmail reads; the connection is given up."""


class _ReplyReader(io.RawIOBase):
    """The socket as a raw stream, each read bounded by the connection's reply deadline."""

    def __init__(self, owner: _Bounds) -> None:
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        owner = self._owner
        owner._before_io()
        count = owner.sock.recv_into(buffer)
        owner._received += count
        if owner._received > owner.max_reply:
            owner.given_up = (
                f"its answer is larger than {owner.max_reply // 2**20} MB, more than docmail reads"
            )
            raise AnswerTooLarge(owner.given_up)
        return count


class _Bounds(imaplib.IMAP4):
    """The bounds, shared by the plain (STARTTLS) and the implicit-TLS connection."""

    reply_timeout: float = 30.0
    max_literal: int = MAX_LITERAL
    max_reply: int = MAX_REPLY
    given_up: str = ""  # why the connection was given up (an answer too large)
    sock: socket.socket

    def _start_reply(self) -> None:
        self._deadline = time.monotonic() + self.reply_timeout
        self._received = 0

    def _before_io(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"no complete answer within {self.reply_timeout:g} s; the connection was closed"
            )
        self.sock.settimeout(remaining)

    def _bounded_file(self) -> None:
        self.file = io.BufferedReader(_ReplyReader(self))

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        super().open(host, port, timeout)
        self._start_reply()  # the greeting comes next
        self._bounded_file()

    def starttls(self, ssl_context: ssl.SSLContext | None = None) -> Any:
        result = super().starttls(ssl_context)
        self._bounded_file()  # imaplib made a new file over the TLS socket
        return result

    def _command(self, name: str, *args: Any) -> Any:
        self._start_reply()
        return super()._command(name, *args)  # type: ignore[misc]  # imaplib's own

    def send(self, data: Any) -> None:
        if len(data) > 64 * 1024:  # APPEND's message: as long as SMTP gives one message
            self.sock.settimeout(MESSAGE_SECONDS)
            super().send(data)
            self._start_reply()  # the answer to it then gets its own deadline
            return
        self._before_io()
        super().send(data)

    def read(self, size: int) -> bytes:
        if size > self.max_literal:
            self.given_up = (
                f"it announced {size:,} bytes, more than an answer to docmail may hold "
                f"({self.max_literal // 2**20} MB)"
            )
            raise AnswerTooLarge(self.given_up)
        return super().read(size)


@contextlib.contextmanager
def whole_messages(conn: imaplib.IMAP4) -> Iterator[None]:
    """Within: an answer may carry whole messages (a delivery report with the message it
    returns): up to ``MAX_MESSAGE`` bytes, in up to ``MESSAGE_SECONDS``."""
    if not isinstance(conn, _Bounds):
        yield
        return
    before = conn.reply_timeout
    conn.max_literal = conn.max_reply = MAX_MESSAGE
    conn.reply_timeout = max(before, MESSAGE_SECONDS)
    try:
        yield
    finally:
        del conn.max_literal, conn.max_reply  # the class's bounds again
        conn.reply_timeout = before


class BoundedIMAP4(_Bounds):
    """``imaplib.IMAP4`` with a deadline per reply (``timeout``) and capped answers."""

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self.reply_timeout = timeout
        super().__init__(host, port, timeout)


class BoundedIMAP4_SSL(_Bounds, imaplib.IMAP4_SSL):  # type: ignore[misc]  # one open()
    """``imaplib.IMAP4_SSL`` with a deadline per reply (``timeout``) and capped answers."""

    def __init__(
        self, host: str, port: int, *, ssl_context: ssl.SSLContext, timeout: float
    ) -> None:
        self.reply_timeout = timeout
        imaplib.IMAP4_SSL.__init__(self, host, port, ssl_context=ssl_context, timeout=timeout)
