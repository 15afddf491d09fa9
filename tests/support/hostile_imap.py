"""An IMAP server written to misbehave, for the tests: implicit TLS on 127.0.0.1, a free port.

It speaks just enough IMAP for docmail's mailbox (CAPABILITY, LOGIN, LIST, SELECT, UID SEARCH,
APPEND, CLOSE, LOGOUT) and can be told how to answer:

- ``greeting``: ``"ok"`` or ``"trickle"`` (a byte every ``trickle_every`` seconds);
- ``folders``: the LIST lines (bytes, without the ``* LIST`` prefix and CRLF); a ``bytes``
  item that is a tuple ``(head, literal)`` is sent as ``* LIST head {n}`` and the literal;
- ``list_answer``: ``"ok"``, ``"trickle"``, ``"huge_literal"`` (announces ``{3999999999}``
  and sends a little), ``"endless"`` (LIST lines without end, until the client leaves);
- ``search_answer`` and ``append_answer``: ``"ok"`` or ``"trickle"``.

Each connection is served on its own thread; ``record`` counts what the client did.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import trustme

__all__ = ["HostileIMAPServer"]

DEFAULT_FOLDERS: tuple[Any, ...] = (b'(\\HasNoChildren) "/" INBOX', b'(\\Sent) "/" "Sent"')


@dataclass
class Record:
    connections: int = 0
    commands: list[str] = field(default_factory=list)
    appended: list[bytes] = field(default_factory=list)
    list_bytes_sent: int = 0


class HostileIMAPServer:
    """Start with ``start()`` (or as a context manager); ``host``, ``port`` once started."""

    def __init__(
        self,
        ca: trustme.CA,
        *,
        greeting: str = "ok",
        folders: tuple[Any, ...] = DEFAULT_FOLDERS,
        list_answer: str = "ok",
        search_answer: str = "ok",
        append_answer: str = "ok",
        trickle_every: float = 0.1,
    ) -> None:
        self.greeting = greeting
        self.folders = folders
        self.list_answer = list_answer
        self.search_answer = search_answer
        self.append_answer = append_answer
        self.trickle_every = trickle_every
        self.record = Record()
        self.host = "127.0.0.1"
        self.port = 0
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._context)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> HostileIMAPServer:
        listener = socket.create_server((self.host, 0))
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(10)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> HostileIMAPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.record.connections += 1
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(30)
        try:
            with self._context.wrap_socket(raw, server_side=True) as conn:
                self._session(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # the client went away: what these tests are about

    def _send(self, conn: ssl.SSLSocket, data: bytes, how: str = "ok") -> None:
        if how != "trickle":
            conn.sendall(data)
            return
        for index in range(len(data)):
            if self._stopping.is_set():
                return
            conn.sendall(data[index : index + 1])
            time.sleep(self.trickle_every)

    def _session(self, conn: ssl.SSLSocket) -> None:
        self._send(conn, b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hostile ready\r\n", self.greeting)
        reader = conn.makefile("rb")
        while not self._stopping.is_set():
            line = reader.readline(100_000)
            if not line:
                return
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            command = rest.split(b" ", 1)[0].upper().decode("ascii", "replace")
            if command == "UID":
                command = "UID " + rest.split(b" ", 2)[1].upper().decode("ascii", "replace")
            self.record.commands.append(command)
            done = tag + b" OK " + command.encode() + b" done\r\n"
            if command == "CAPABILITY":
                conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + done)
            elif command in ("LOGIN", "CLOSE", "NOOP"):
                conn.sendall(done)
            elif command == "LOGOUT":
                conn.sendall(b"* BYE\r\n" + done)
                return
            elif command == "LIST":
                self._list(conn, done)
            elif command == "SELECT" or command == "EXAMINE":
                conn.sendall(b"* 0 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n" + done)
            elif command == "UID SEARCH":
                self._send(conn, b"* SEARCH 7\r\n" + done, self.search_answer)
            elif command == "APPEND":
                self._append(conn, reader, rest, done)
            else:
                conn.sendall(tag + b" BAD unknown\r\n")

    def _list(self, conn: ssl.SSLSocket, done: bytes) -> None:
        if self.list_answer == "huge_literal":
            conn.sendall(b'* LIST () "/" {3999999999}\r\nSent')
            time.sleep(1)
            return
        if self.list_answer == "endless":
            line = b'* LIST () "/" "Folder ' + b"x" * 200 + b'"\r\n'
            while not self._stopping.is_set():
                conn.sendall(line * 100)
                self.record.list_bytes_sent += len(line) * 100
            return
        data = b""
        for folder in self.folders:
            if isinstance(folder, tuple):
                head, literal = folder
                data += b"* LIST " + head + b" {%d}\r\n" % len(literal) + literal + b"\r\n"
            else:
                data += b"* LIST " + folder + b"\r\n"
        self._send(conn, data + done, self.list_answer)

    def _append(self, conn: ssl.SSLSocket, reader: Any, rest: bytes, done: bytes) -> None:
        match = re.search(rb"\{(\d+)\}$", rest)
        if match is None:
            conn.sendall(done.replace(b" OK ", b" BAD ", 1))
            return
        conn.sendall(b"+ go ahead\r\n")
        data = reader.read(int(match.group(1)))
        reader.readline()
        self.record.appended.append(data)
        with contextlib.suppress(OSError):
            self._send(conn, done, self.append_answer)
