"""Reading SMTP replies with limits, so that a misbehaving server cannot hold or exhaust us.

smtplib reads a reply line by line with no limit on the number of continuation lines and a
timeout that starts anew with every byte: a server that trickles a byte a second, or sends
``250-`` lines without end, holds the batch forever. The connections docmail opens read replies
themselves, within these limits:

=========================  ========  ======================================================
``MAX_REPLY_LINE``         4,096     bytes in one reply line (SMTP allows 512)
``MAX_REPLY_LINES``        100       lines in one reply (an EHLO answer has about ten)
per command                timeout   the whole reply within the profile's timeout (30 s)
``MESSAGE_DEADLINE``       600 s     one message, from MAIL FROM to the server's last word
=========================  ========  ======================================================

A reply beyond these limits is an error (``ReplyTooLong``, or a time-out), and the connection
is closed. A reply must also be well-formed: a three-digit code from 2xx to 5xx, the same on
every line; anything else (``25O ok``, prose) comes back with the code -1.
"""

from __future__ import annotations

import math
import re
import smtplib
import time
from typing import Any

from docmail_nb.errors import ReplyTooLong

__all__ = [
    "MAX_REPLY_LINE",
    "MAX_REPLY_LINES",
    "MESSAGE_DEADLINE",
    "BoundedSMTP",
    "BoundedSMTP_SSL",
]

MAX_REPLY_LINE = 4096
MAX_REPLY_LINES = 100
MESSAGE_DEADLINE = 600.0

_WELL_FORMED = re.compile(rb"^([2-5][0-9][0-9])([ -]|\r?\n|$)")


class _BoundedReplies:
    """Replies read within limits and deadlines; mixed into smtplib's SMTP classes."""

    sock: Any
    timeout: Any
    _inbox: bytearray | None = None
    _message_deadline: float | None = None

    # -- deadlines ----------------------------------------------------------------------------
    def begin_message(self, seconds: float | None = None) -> None:
        """Everything until ``end_message`` must be done within ``seconds`` (MESSAGE_DEADLINE)."""
        self._message_deadline = time.monotonic() + (seconds or MESSAGE_DEADLINE)

    def end_message(self) -> None:
        self._message_deadline = None

    def _deadline(self) -> float:
        per_command = self.timeout if isinstance(self.timeout, int | float) else math.inf
        deadline = time.monotonic() + per_command
        if self._message_deadline is not None:
            deadline = min(deadline, self._message_deadline)
        return deadline

    # -- reading ------------------------------------------------------------------------------
    def getreply(self) -> tuple[int, bytes]:
        """One reply (all its lines) within the limits; raises on a broken or endless one."""
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        deadline = self._deadline()
        lines: list[bytes] = []
        while True:
            line = self._read_line(deadline)
            lines.append(line)
            if len(lines) > MAX_REPLY_LINES:
                self._give_up()
                raise ReplyTooLong(-1, f"The reply has more than {MAX_REPLY_LINES} lines.".encode())
            if line[3:4] != b"-":
                break
        codes = {match.group(1) if match else None for match in map(_WELL_FORMED.match, lines)}
        if len(codes) == 1 and None not in codes:
            code = int(lines[-1][:3])
            return code, b"\n".join(line[4:].strip(b" \t\r\n") for line in lines)
        return -1, b"\n".join(line.strip(b" \t\r\n") for line in lines)

    def _read_line(self, deadline: float) -> bytes:
        inbox = self._inbox if self._inbox is not None else bytearray()
        self._inbox = inbox
        while True:
            end = inbox.find(b"\n")
            if 0 <= end < MAX_REPLY_LINE:
                line = bytes(inbox[: end + 1])
                del inbox[: end + 1]
                return line
            if end >= MAX_REPLY_LINE or len(inbox) >= MAX_REPLY_LINE:
                self._give_up()
                raise ReplyTooLong(
                    -1, f"A reply line is longer than {MAX_REPLY_LINE} bytes.".encode()
                )
            inbox += self._receive(deadline)

    def _receive(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self._give_up()
            raise smtplib.SMTPServerDisconnected(
                "Connection unexpectedly closed: timed out (the reply did not come in time)"
            )
        sock = self.sock
        try:
            sock.settimeout(remaining)
            chunk: bytes = sock.recv(8192)
        except TimeoutError:
            self._give_up()
            raise smtplib.SMTPServerDisconnected(
                "Connection unexpectedly closed: timed out (the reply did not come in time)"
            ) from None
        except OSError as exc:
            self._give_up()
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc
        finally:
            self._restore_timeout(sock)
        if not chunk:
            self._give_up()
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return chunk

    def _restore_timeout(self, sock: Any) -> None:
        if sock is not None and sock.fileno() != -1:
            sock.settimeout(self.timeout if isinstance(self.timeout, int | float) else None)

    # -- writing ------------------------------------------------------------------------------
    def send(self, s: Any) -> None:
        """smtplib's send, finished within the message's deadline (or the timeout)."""
        sock = self.sock
        if sock is not None and self._message_deadline is not None:
            remaining = self._message_deadline - time.monotonic()
            if remaining <= 0:
                self._give_up()
                raise smtplib.SMTPServerDisconnected(
                    "Connection unexpectedly closed: timed out (the message took too long)"
                )
            per_command = self.timeout if isinstance(self.timeout, int | float) else math.inf
            sock.settimeout(min(remaining, per_command))
            try:
                super().send(s)  # type: ignore[misc]
            finally:
                self._restore_timeout(self.sock)
            return
        super().send(s)  # type: ignore[misc]

    # -- the connection's life ----------------------------------------------------------------
    def connect(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        self._inbox = bytearray()
        result: tuple[int, bytes] = super().connect(*args, **kwargs)  # type: ignore[misc]
        return result

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        result: tuple[int, bytes] = super().starttls(*args, **kwargs)  # type: ignore[misc]
        # bytes that came in plain text after the server's "220 ready" were never protected
        # by TLS (an injection on the way): they are dropped, as smtplib drops its buffer
        self._inbox = bytearray()
        return result

    def close(self) -> None:
        self._inbox = None
        super().close()  # type: ignore[misc]

    def _give_up(self) -> None:
        self.close()


class BoundedSMTP(_BoundedReplies, smtplib.SMTP):
    """smtplib.SMTP with bounded replies and deadlines."""


class BoundedSMTP_SSL(_BoundedReplies, smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL with bounded replies and deadlines."""
