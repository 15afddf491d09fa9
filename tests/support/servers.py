"""Real SMTP servers on 127.0.0.1 for the tests: aiosmtpd with AUTH, STARTTLS or implicit TLS.

``SMTPTestServer`` records what reached it (connections, AUTH attempts, messages) and takes
hooks that make it answer like a provider would: a forced AUTH reply (534/535 texts), a reply
per recipient, per MAIL, or per DATA, or a DATA that stores the message and then drops the
connection before answering.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

Mode = Literal["starttls", "ssl", "plain"]

#: returned by a ``data_hook``: store the message, then close the connection without a reply
DROP_AFTER_STORE = "__drop_after_store__"
#: returned by any hook: close the connection at once, without storing or replying
DROP = "__drop__"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ListeningProcess:
    """A server program started with its output in ``log``, ready once it listens on ``port``
    of 127.0.0.1 (within ``start_limit_s``); stopped, and its log closed, by :meth:`stop`."""

    name = "server"
    start_limit_s = 120.0

    def start(
        self, command: list[str], *, port: int, cwd: Path, env: dict[str, str], log: Path
    ) -> None:
        self.port = port
        self.log = log.open("w")
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_until_listening()
        except RuntimeError:
            self.stop()
            raise

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + self.start_limit_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not start listening")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)
    rcpt_options: list[str] = field(default_factory=list)  # of every RCPT, in order

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Record:
    sessions: set[object] = field(default_factory=set)  # one per TCP connection
    auth_attempts: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, login)
    messages: list[Received] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # access tokens presented with XOAUTH2
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connections(self) -> int:
        return len(self.sessions)


class _Handler:
    def __init__(self, server: SMTPTestServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, smtp: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.server.record.lock:
            # the peer address names the TCP connection; STARTTLS starts a new Session on it
            self.server.record.sessions.add(session.peer or id(session))
        session.host_name = hostname
        shown = [r for r in responses if r[4:].upper() not in self.server.hide_extensions]
        if self.server.dsn:  # RFC 3461, before the last line
            shown.insert(len(shown) - 1, "250-DSN")
        return shown

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.server.mail_hook(address) if self.server.mail_hook else None
        if reply == DROP:
            smtp.transport.close()
            return "421 closing"
        if reply:
            if reply.startswith("421"):
                await smtp.push(reply)
                smtp.transport.close()
                return "421 closing"
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.server.rcpt_hook(address) if self.server.rcpt_hook else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        index = len(self.server.record.messages)
        reply = self.server.data_hook(index, envelope) if self.server.data_hook else None
        if reply == DROP:
            smtp.transport.close()
            return "421 closing"
        data = envelope.original_content or b""
        if reply is None or reply == DROP_AFTER_STORE:
            with self.server.record.lock:
                self.server.record.messages.append(
                    Received(
                        str(envelope.mail_from),
                        list(envelope.rcpt_tos),
                        bytes(data),
                        list(envelope.mail_options),
                        list(envelope.rcpt_options),
                    )
                )
        if reply == DROP_AFTER_STORE:
            smtp.transport.close()
            return "250 OK (never sent)"
        return reply or "250 2.0.0 OK queued"


class _OAuthHandler(_Handler):
    """Adds XOAUTH2: accepts only access tokens the test identity server issued for the user."""

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False, message="501 5.5.2 bad base64")
        else:
            answer = await smtp.challenge_auth("", encode_to_b64=False)
            if answer is MISSING:
                return AuthResult(success=False, handled=True)
            blob = answer  # type: ignore[assignment]
        fields = dict(
            part.split("=", 1)
            for part in blob.decode("utf-8", "replace").split("\x01")
            if "=" in part
        )
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        server = self.server
        with server.record.lock:
            server.record.auth_attempts.append(("XOAUTH2", user))
            server.record.tokens.append(token)
        if server.token_reply:
            return AuthResult(success=False, handled=False, message=server.token_reply)
        assert server.identity is not None
        if server.identity.check(token, user):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        error = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
        await smtp.challenge_auth(json.dumps(error).encode(), encode_to_b64=True)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


class _DSNSMTP(SMTP):
    """aiosmtpd, taking the DSN parameters of MAIL and RCPT (RET, ENVID, NOTIFY, ORCPT)."""

    def _getparams(self, params: Any) -> Any:
        found = super()._getparams(params)
        if found is not None:
            for name in ("RET", "ENVID", "NOTIFY", "ORCPT"):
                found.pop(name, None)
        return found


class _DSNController(Controller):
    def factory(self) -> SMTP:
        return _DSNSMTP(self.handler, **self.SMTP_kwargs)


class SMTPTestServer:
    """An aiosmtpd server on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        mode: Mode = "starttls",
        *,
        ca: trustme.CA | None = None,
        users: dict[str, str] | None = None,
        auth: bool = True,
        auth_reply: str | None = None,
        mail_hook: Callable[[str], str | None] | None = None,
        rcpt_hook: Callable[[str], str | None] | None = None,
        data_hook: Callable[[int, Envelope], str | None] | None = None,
        cert_hostnames: tuple[str, ...] = ("127.0.0.1", "localhost"),
        exclude_auth: tuple[str, ...] = (),
        smtputf8: bool = False,
        hide_extensions: tuple[str, ...] = (),
        identity: Any = None,
        token_reply: str | None = None,
        dsn: bool = False,
    ) -> None:
        self.mode = mode
        self.ca = ca or trustme.CA()
        self.users = {"anna@example.ch": "correct horse"} if users is None else users
        self.auth = auth
        self.auth_reply = auth_reply
        self.mail_hook = mail_hook
        self.rcpt_hook = rcpt_hook
        self.data_hook = data_hook
        self.exclude_auth = exclude_auth  # AUTH mechanisms not to offer, e.g. ("PLAIN",)
        self.smtputf8 = smtputf8  # offer SMTPUTF8
        self.hide_extensions = {name.upper() for name in hide_extensions}  # e.g. ("8BITMIME",)
        self.identity = identity  # tests.identity.IdentityServer: XOAUTH2 is offered
        self.token_reply = token_reply  # a forced reply to every XOAUTH2 attempt
        self.dsn = dsn  # offer DSN and take its MAIL and RCPT parameters (RFC 3461)
        self.record = Record()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._cert = self.ca.issue_cert(*cert_hostnames)
        self._controller: Controller | None = None

    # -- what the tests look at -------------------------------------------------------
    @property
    def messages(self) -> list[Received]:
        return list(self.record.messages)

    def ca_file(self, folder: Path) -> Path:
        """Write the CA certificate as PEM into ``folder`` and return its path."""
        path = folder / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return path

    # -- lifecycle ----------------------------------------------------------------------
    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        login = data.login.decode() if isinstance(data, LoginPassword) else ""
        with self.record.lock:
            self.record.auth_attempts.append((mechanism, login))
        if self.auth_reply:
            return AuthResult(success=False, handled=False, message=self.auth_reply)
        if isinstance(data, LoginPassword) and self.users.get(login) == data.password.decode():
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> SMTPTestServer:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self.auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
            if self.exclude_auth:
                kwargs.update(auth_exclude_mechanism=list(self.exclude_auth))
        if self.mode == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif self.mode == "ssl":
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(auth_require_tls=False)
        handler = _OAuthHandler(self) if self.identity is not None else _Handler(self)
        controller = _DSNController if self.dsn else Controller
        self._controller = controller(
            handler, hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        if self.mode == "ssl":
            # the controller's readiness probe speaks plain SMTP; it needs the context too
            self._controller.ssl_context = context
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
