"""An SMTP server written to misbehave, for the tests: asyncio on 127.0.0.1, a free port.

Each phase of a session can be told how to answer:

- ``greeting``: ``"ok"`` (220), ``"silent"`` (never a word), ``"trickle"`` (a byte every
  ``trickle_every`` seconds), ``"endless"`` (``220-`` continuation lines without end),
  ``"long_line"`` (one line that never ends), ``"421"`` (busy, then close), ``"drop"``
  (close at once).
- ``starttls``: ``"none"`` (not offered), ``"454"`` (offered, then refused).
- ``auth``: ``"ok"`` (235), ``"535"``, ``"454"`` (too many login attempts), ``"503"``
  (bad sequence), ``"close"`` (the connection closes during AUTH), ``"silent"``.
- ``after_data``: the final reply after the message's ``.``: ``"250"``, ``"25O ok"``,
  ``"prose"``, ``"354"``, ``"disconnect"``, ``"long_line"``, ``"endless"``, ``"trickle"``,
  ``"silent"``, or any reply line given as text.
- ``ehlo``: ``"ok"`` or ``"endless"`` (continuation lines without end).

The server records every connection, every AUTH attempt, every command and every message whose
data reached it, so a test can count what a client did.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HostileSMTPServer"]

_PROSE = b"Thank you for your message, we will look at it shortly.\r\n"


@dataclass
class HostileRecord:
    connections: int = 0
    auth_attempts: int = 0
    commands: list[str] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class HostileSMTPServer:
    """Start with ``start()`` (or as a context manager); ``host``, ``port`` once started."""

    def __init__(
        self,
        *,
        greeting: str = "ok",
        ehlo: str = "ok",
        starttls: str = "none",
        auth: str = "ok",
        after_data: str = "250",
        trickle_every: float = 0.2,
        auth_mechanisms: str = "PLAIN LOGIN",
    ) -> None:
        self.greeting = greeting
        self.ehlo = ehlo
        self.starttls = starttls
        self.auth = auth
        self.after_data = after_data
        self.trickle_every = trickle_every
        self.auth_mechanisms = auth_mechanisms
        self.record = HostileRecord()
        self.host = "127.0.0.1"
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> HostileSMTPServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._session, self.host, 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="hostile-smtp", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> HostileSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[bytes]:
        with self.record.lock:
            return list(self.record.messages)

    # -- one session --------------------------------------------------------------------------
    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with self.record.lock:
            self.record.connections += 1
        try:
            if not await self._answer(writer, self.greeting, b"220 hostile.example ESMTP\r\n"):
                return
            if self.greeting == "421":
                return
            await self._commands(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _commands(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("ascii", "replace").strip()
            verb = command.split(" ", 1)[0].upper()
            with self.record.lock:
                self.record.commands.append(command)
            if verb in ("EHLO", "HELO"):
                if not await self._answer(writer, self.ehlo, self._ehlo_reply()):
                    return
            elif verb == "STARTTLS":
                await self._send(writer, b"454 4.7.0 TLS not available due to temporary reason\r\n")
            elif verb == "AUTH":
                if not await self._auth(reader, writer, command):
                    return
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                await self._send(writer, b"250 2.0.0 OK\r\n")
            elif verb == "DATA":
                await self._send(writer, b"354 End data with <CR><LF>.<CR><LF>\r\n")
                data = await self._read_data(reader)
                with self.record.lock:
                    self.record.messages.append(data)
                if not await self._answer(writer, self.after_data, b"250 2.0.0 Ok: queued\r\n"):
                    return
            elif verb == "QUIT":
                await self._send(writer, b"221 2.0.0 Bye\r\n")
                return
            else:
                await self._send(writer, b"502 5.5.2 Command not recognized\r\n")

    def _ehlo_reply(self) -> bytes:
        lines = ["hostile.example", "8BITMIME", "PIPELINING", f"AUTH {self.auth_mechanisms}"]
        if self.starttls != "none":
            lines.insert(1, "STARTTLS")
        return b"".join(
            f"250{' ' if i == len(lines) - 1 else '-'}{text}\r\n".encode()
            for i, text in enumerate(lines)
        )

    async def _auth(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, command: str
    ) -> bool:
        with self.record.lock:
            self.record.auth_attempts += 1
        parts = command.split()
        if len(parts) == 2 and parts[1].upper() == "LOGIN":  # user name and password asked
            await self._send(writer, b"334 VXNlcm5hbWU6\r\n")
            await reader.readline()
            if self.auth == "close":
                return False
            await self._send(writer, b"334 UGFzc3dvcmQ6\r\n")
            await reader.readline()
        elif len(parts) == 2:  # PLAIN without an initial response
            await self._send(writer, b"334 \r\n")
            await reader.readline()
        replies = {
            "ok": b"235 2.7.0 Authentication successful\r\n",
            "535": b"535 5.7.8 Authentication credentials invalid\r\n",
            "454": b"454 4.7.0 Too many login attempts, please try again later\r\n",
            "503": b"503 5.5.1 Error: authentication not enabled\r\n",
        }
        if self.auth == "close":
            return False
        if self.auth == "silent":
            await asyncio.sleep(3600)
            return False
        await self._send(writer, replies[self.auth])
        return True

    async def _read_data(self, reader: asyncio.StreamReader) -> bytes:
        lines = []
        while True:
            line = await reader.readline()
            if not line or line == b".\r\n":
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)

    async def _answer(self, writer: asyncio.StreamWriter, how: str, normal: bytes) -> bool:
        """Answer a phase as told; False when the session is over."""
        if how in ("ok", "250"):
            await self._send(writer, normal)
            return True
        if how == "silent":
            await asyncio.sleep(3600)
            return False
        if how in ("drop", "disconnect"):
            return False
        if how == "421":
            await self._send(writer, b"421 4.3.2 Service not available, try again later\r\n")
            return False
        if how == "trickle":
            for byte in normal:
                await self._send(writer, bytes([byte]))
                await asyncio.sleep(self.trickle_every)
            return True
        if how == "endless":
            code = normal[:3]
            while True:
                await self._send(writer, code + b"-" + b"x" * 60 + b"\r\n")
                await asyncio.sleep(0)
        if how == "long_line":
            await self._send(writer, normal[:3] + b" ")
            while True:
                await self._send(writer, b"y" * 4096)
                await asyncio.sleep(0)
        if how == "prose":
            await self._send(writer, _PROSE)
            return True
        if how == "354":
            await self._send(writer, b"354 go ahead\r\n")
            return True
        await self._send(writer, how.encode() + b"\r\n")  # a reply line given as it is
        return True

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    def __repr__(self) -> str:
        return f"HostileSMTPServer({self.host}:{self.port})"

    def summary(self) -> dict[str, Any]:
        with self.record.lock:
            return {
                "connections": self.record.connections,
                "auth_attempts": self.record.auth_attempts,
                "messages": len(self.record.messages),
            }
