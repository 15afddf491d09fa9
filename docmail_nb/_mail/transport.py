"""How messages leave: the ``Transport`` seam, SMTP for real use, an in-memory one for tests.

A transport opens sessions; a session delivers one message at a time and is closed when done::

    session = transport.open()            # SMTPProblem when it cannot (diagnosis says why)
    delivery = session.deliver(msg, envelope_from, recipients, before_data)
    session.close()

``deliver`` calls ``before_data()`` after the recipients were accepted and before the content
flows (the batch marks the message "sending" there), and raises SMTPProblem whose
``diagnosis.outcome`` says retry / failed / fatal / unknown. The batch knows nothing else about
the wire, so its rules can be tried on :class:`MemoryTransport` in milliseconds.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

from docmail_nb._mail.diagnosis import diagnose
from docmail_nb._mail.smtp import Delivery, connect, deliver
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import DisconnectedAfterData, SMTPProblem

__all__ = ["MemoryTransport", "Reply", "SMTPTransport", "Session", "Stored", "Transport"]


class Session(Protocol):
    """One open connection: delivers messages one after another."""

    def deliver(
        self,
        msg: EmailMessage,
        envelope_from: str,
        recipients: Sequence[str],
        before_data: Callable[[], None] | None = None,
    ) -> Delivery: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Opens sessions (thread-safe: each sending worker opens its own)."""

    def open(self) -> Session: ...


# -- SMTP ----------------------------------------------------------------------------------


class _SMTPSession:
    def __init__(self, conn: smtplib.SMTP) -> None:
        self.conn = conn

    def deliver(
        self,
        msg: EmailMessage,
        envelope_from: str,
        recipients: Sequence[str],
        before_data: Callable[[], None] | None = None,
    ) -> Delivery:
        return deliver(self.conn, msg, envelope_from, recipients, before_data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.quit()
        with contextlib.suppress(Exception):
            self.conn.close()


class SMTPTransport:
    """Sessions to the profile's server: verified TLS, one login each (see ``smtp.connect``)."""

    def __init__(self, profile: Profile, password: str | None = None) -> None:
        self.profile = profile
        self._password = password

    def __repr__(self) -> str:
        return f"SMTPTransport({self.profile.host}:{self.profile.port})"

    def open(self) -> Session:
        return _SMTPSession(connect(self.profile, self._password))


# -- in memory -------------------------------------------------------------------------------

#: What the in-memory server answers for a recipient: "accept", "drop" (take the message, then
#: drop the connection before the reply to DATA) or an SMTP reply ``(code, text)`` to RCPT.
Reply = Literal["accept", "drop"] | tuple[int, str]


@dataclass(frozen=True)
class Stored:
    """A message the in-memory server took: what was sent and to whom (the envelope)."""

    msg: EmailMessage
    envelope_from: str
    recipients: tuple[str, ...]
    acknowledged: bool  # False when the connection dropped before the reply to DATA


class _MemorySession:
    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.open = True

    def deliver(
        self,
        msg: EmailMessage,
        envelope_from: str,
        recipients: Sequence[str],
        before_data: Callable[[], None] | None = None,
    ) -> Delivery:
        if not self.open:
            raise SMTPProblem(diagnose(smtplib.SMTPServerDisconnected("please run connect()")))
        replies = {address: self.transport.reply(address) for address in recipients}
        refused = {a: r for a, r in replies.items() if isinstance(r, tuple)}
        accepted = tuple(a for a in recipients if a not in refused)
        if not accepted:
            raise SMTPProblem(
                diagnose(
                    smtplib.SMTPRecipientsRefused(
                        {a: (code, text.encode()) for a, (code, text) in refused.items()}
                    )
                )
            )
        if before_data is not None:
            before_data()
        drop = any(replies[address] == "drop" for address in accepted)
        self.transport.store(Stored(msg, envelope_from, accepted, not drop))
        if drop:
            self.open = False
            raise SMTPProblem(diagnose(DisconnectedAfterData("Connection unexpectedly closed")))
        return Delivery(accepted, dict(refused), 250, "2.0.0 Ok: queued")

    def close(self) -> None:
        self.open = False


class MemoryTransport:
    """A scripted server in memory, for tests of the batch's rules (no sockets, no threads).

    ``replies`` maps a recipient to a :data:`Reply` or a list of them, used one per attempt
    (the last one repeats); a recipient not named is accepted. ``login`` makes every
    ``open`` fail with that reply (e.g. ``(535, "5.7.8 Username and Password not accepted")``).
    """

    def __init__(
        self,
        replies: Mapping[str, Reply | Sequence[Reply]] | None = None,
        *,
        login: tuple[int, str] | None = None,
    ) -> None:
        self._replies = {
            address: [reply] if isinstance(reply, str | tuple) else list(reply)
            for address, reply in (replies or {}).items()
        }
        self._login = login
        self._lock = threading.Lock()
        self.stored: list[Stored] = []
        self.sessions = 0

    def open(self) -> Session:
        with self._lock:
            self.sessions += 1
        if self._login is not None:
            code, text = self._login
            raise SMTPProblem(diagnose(smtplib.SMTPAuthenticationError(code, text.encode())))
        return _MemorySession(self)

    def reply(self, address: str) -> Reply:
        """The next scripted reply for ``address``."""
        with self._lock:
            script = self._replies.get(address)
            if not script:
                return "accept"
            return script.pop(0) if len(script) > 1 else script[0]

    def store(self, stored: Stored) -> None:
        with self._lock:
            self.stored.append(stored)
