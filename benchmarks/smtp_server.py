"""A counting SMTP server for the benchmark, run as its own process.

aiosmtpd on 127.0.0.1 with STARTTLS required and AUTH required (PLAIN/LOGIN, one user). It
prints ``READY <port>`` once it listens; when its standard input closes it stops and prints one
JSON line: messages, distinct Message-IDs, recipients, bytes, TLS connections, AUTH failures.

    python benchmarks/smtp_server.py --port P --cert CHAIN.pem --key KEY.pem \
        --user U --password-env BENCH_SMTP_PASSWORD
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import ssl
import sys
import threading
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


class Counter:
    """Counts what arrives; aiosmtpd calls these hooks from its event loop thread."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.messages = 0
        self.recipients = 0
        self.bytes = 0
        self.tls_connections = 0
        self.auth_failures = 0
        self.message_ids: set[bytes] = set()

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        if session.ssl is not None:  # the EHLO after STARTTLS: one per connection
            with self.lock:
                self.tls_connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        head = data.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        with self.lock:
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
            self.bytes += len(data)
            if found:
                self.message_ids.add(found.group(1))
        return "250 2.0.0 OK queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        ):
            return AuthResult(success=True)
        with self.lock:
            self.auth_failures += 1
        return AuthResult(success=False, handled=False)

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {
                "messages": self.messages,
                "distinct_message_ids": len(self.message_ids),
                "recipients": self.recipients,
                "bytes": self.bytes,
                "tls_connections": self.tls_connections,
                "auth_failures": self.auth_failures,
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-env", default="BENCH_SMTP_PASSWORD")
    args = parser.parse_args()
    # aiosmtpd's own AUTH code logs a warning about its deprecated attribute on every login
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    counter = Counter(args.user, os.environ[args.password_env])
    controller = Controller(
        counter,
        hostname="127.0.0.1",
        port=args.port,
        ready_timeout=20,
        tls_context=context,
        require_starttls=True,
        authenticator=counter.authenticate,
        auth_required=True,
        data_size_limit=50 * 1024 * 1024,
    )
    controller.start()
    print(f"READY {args.port}", flush=True)
    try:
        sys.stdin.read()  # the benchmark closes our stdin to stop us
    finally:
        controller.stop()
        print(json.dumps(counter.stats()), flush=True)


if __name__ == "__main__":
    main()
