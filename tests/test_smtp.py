"""Connections, Test connection diagnoses and delivery, each against a real local server."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from servers import DROP, DROP_AFTER_STORE, SMTPTestServer, free_port

from docmail_nb._mail.smtp import connect, deliver, diagnose, test_connection
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import InsecureTLSWarning, SMTPProblem

USER = "anna@example.ch"
PASSWORD = "correct horse"
Server = Callable[..., SMTPTestServer]


def profile_for(server: SMTPTestServer, ca_file: Path | None, **settings: object) -> Profile:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": {"plain": "none"}.get(server.mode, server.mode),
        "username": USER,
        "ca_file": str(ca_file) if ca_file else "",
        "timeout": 5.0,
    }
    values.update(settings)
    return Profile("test", **values)  # type: ignore[arg-type]


def message(to: str = "kunde@example.com", bcc: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = USER
    msg["To"] = to
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = "Rechnung R-2026-1041"
    msg.set_content("Guten Tag\n.\nAnbei die Rechnung.\n")
    return msg


# -- successful connections ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_connection_ok_with_private_ca(smtp_server: Server, ca_file: Path, mode: str) -> None:
    server = smtp_server(mode)
    result = test_connection(profile_for(server, ca_file), PASSWORD)
    assert result.ok, result
    assert result.kind == "ok"
    assert result.code == 235
    assert "certificate verified" in result.summary
    assert USER in result.summary


def test_plain_local_relay_may_log_in_on_loopback(smtp_server: Server) -> None:
    server = smtp_server("plain")
    result = test_connection(profile_for(server, None, security="none"), PASSWORD)
    assert result.ok, result
    assert "no encryption" in result.summary


def test_relay_without_login_gets_a_mail_probe(smtp_server: Server) -> None:
    server = smtp_server("plain", auth=False)
    profile = profile_for(server, None, security="none", username="", from_addr="a@b.example")
    result = test_connection(profile)
    assert result.ok, result
    assert result.code == 250


def test_one_wrong_password_costs_one_auth_attempt(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("starttls")
    result = test_connection(profile_for(server, ca_file), "wrong")
    assert not result.ok
    assert result.kind == "auth_failed"
    assert result.code == 535
    assert "app password" in result.hint
    assert "two-factor" in result.hint
    assert server.record.auth_attempts == [("PLAIN", USER)]


def test_connection_sets_tcp_nodelay_after_starttls(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("starttls")
    conn = connect(profile_for(server, ca_file), PASSWORD)
    try:
        assert conn.sock is not None
        assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert conn.sock.version() is not None  # type: ignore[attr-defined]
    finally:
        conn.quit()


def test_verification_opt_out_works_and_warns(smtp_server: Server) -> None:
    server = smtp_server("starttls")
    with pytest.warns(InsecureTLSWarning, match="verification is OFF"):
        result = test_connection(profile_for(server, None, verify_tls=False), PASSWORD)
    assert result.ok, result
    assert "NOT verified" in result.summary


# -- diagnoses, each from a real exchange -------------------------------------------------


def test_gmail_app_password_required(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server(
        "ssl",
        auth_reply="534-5.7.9 Application-specific password required. Learn more at\r\n"
        "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor",
    )
    result = test_connection(profile_for(server, ca_file), PASSWORD)
    assert (result.ok, result.kind, result.code) == (False, "app_password_required", 534)
    assert "app password" in result.hint
    assert "Application-specific" in result.reply
    assert len(server.record.auth_attempts) == 1


def test_microsoft_smtp_auth_disabled(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server(
        "starttls",
        auth_reply="535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
        "disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
    )
    result = test_connection(profile_for(server, ca_file), PASSWORD)
    assert (result.kind, result.code) == ("smtp_auth_disabled", 535)
    assert "administrator" in result.hint


def test_implicit_tls_spoken_to_a_starttls_port(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("starttls")
    result = test_connection(profile_for(server, ca_file, security="ssl"), PASSWORD)
    assert result.kind == "tls_on_plain_port"
    assert "starttls" in result.hint


def test_starttls_spoken_to_an_implicit_tls_port(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("ssl")
    profile = profile_for(server, ca_file, security="starttls", timeout=1.0)
    result = test_connection(profile, PASSWORD)
    assert result.kind == "plain_on_tls_port"
    assert "'ssl'" in result.hint


@pytest.mark.parametrize("username", [USER, ""])
def test_server_requires_starttls(smtp_server: Server, username: str) -> None:
    server = smtp_server("starttls")
    profile = profile_for(server, None, security="none", username=username, from_addr=USER)
    result = test_connection(profile, PASSWORD)
    assert (result.kind, result.code) == ("starttls_required", 530)
    assert "'starttls'" in result.hint


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_untrusted_certificate(smtp_server: Server, tmp_path: Path, mode: str) -> None:
    server = smtp_server(mode)
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    result = test_connection(profile_for(server, other_ca), PASSWORD)
    assert result.kind == "untrusted_certificate"
    assert "--ca-file" in result.hint
    assert server.record.auth_attempts == []


def test_system_store_does_not_trust_a_private_ca(smtp_server: Server) -> None:
    server = smtp_server("starttls")
    assert test_connection(profile_for(server, None), PASSWORD).kind == "untrusted_certificate"


def test_hostname_mismatch(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("starttls", cert_hostnames=("mail.other.example",))
    result = test_connection(profile_for(server, ca_file), PASSWORD)
    assert result.kind == "hostname_mismatch"
    assert server.record.auth_attempts == []


def test_connection_refused(tmp_path: Path) -> None:
    profile = Profile("test", "127.0.0.1", free_port(), "starttls", USER, timeout=5.0)
    result = test_connection(profile, PASSWORD)
    assert result.kind == "connection_refused"
    assert str(profile.port) in result.summary


def test_unknown_host() -> None:
    profile = Profile("test", "no-such-host.invalid", 587, "starttls", USER, timeout=5.0)
    result = test_connection(profile, PASSWORD)
    assert result.kind == "unknown_host"
    assert "no-such-host.invalid" in result.summary


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A socket that accepts connections (kernel backlog) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_timeout(silent_listener: int, security: str) -> None:
    profile = Profile("test", "127.0.0.1", silent_listener, security, USER, timeout=1.0)  # type: ignore[arg-type]
    result = test_connection(profile, PASSWORD)
    assert result.kind == "timeout"
    assert "timeout" in result.hint


def test_no_login_in_the_clear_to_a_remote_host() -> None:
    profile = Profile("test", "mail.example.com", 25, "none", USER)
    result = test_connection(profile, PASSWORD)
    assert result.kind == "auth_unencrypted"


def test_no_password_anywhere(smtp_server: Server, ca_file: Path, memory_keyring: object) -> None:
    server = smtp_server("starttls")
    result = test_connection(profile_for(server, ca_file))
    assert result.kind == "no_password"
    assert "DOCMAIL_SMTP_PASSWORD" in result.hint
    assert server.record.connections == 0


def test_missing_ca_file(smtp_server: Server, tmp_path: Path) -> None:
    server = smtp_server("starttls")
    result = test_connection(profile_for(server, tmp_path / "missing.pem"), PASSWORD)
    assert result.kind == "bad_ca_file"


def test_connect_raises_smtp_problem_with_diagnosis(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("starttls")
    with pytest.raises(SMTPProblem) as caught:
        connect(profile_for(server, ca_file), "wrong")
    assert caught.value.diagnosis.kind == "auth_failed"
    assert caught.value.diagnosis.outcome == "fatal"
    assert caught.value.hint


# -- deliver -------------------------------------------------------------------------------


@pytest.fixture
def connected(
    smtp_server: Server, ca_file: Path
) -> Callable[..., tuple[SMTPTestServer, smtplib.SMTP]]:
    opened: list[smtplib.SMTP] = []

    def open_(**hooks: object) -> tuple[SMTPTestServer, smtplib.SMTP]:
        server = smtp_server("starttls", **hooks)
        conn = connect(profile_for(server, ca_file), PASSWORD)
        opened.append(conn)
        return server, conn

    yield open_
    for conn in opened:
        conn.close()


Connected = Callable[..., tuple[SMTPTestServer, smtplib.SMTP]]


def test_deliver_envelope_bcc_and_order(connected: Connected) -> None:
    events: list[str] = []

    def rcpt(address: str) -> str | None:
        events.append(f"rcpt {address}")
        return "550 5.1.1 No such user" if address.startswith("gone") else None

    def data(index: int, envelope: object) -> str | None:
        events.append("data")
        return None

    server, conn = connected(rcpt_hook=rcpt, data_hook=data)
    recipients = ["kunde@example.com", "gone@example.com", "archiv@example.ch"]
    delivery = deliver(
        conn,
        message(bcc="archiv@example.ch"),
        USER,
        recipients,
        before_data=lambda: events.append("before_data"),
    )
    assert delivery.accepted == ("kunde@example.com", "archiv@example.ch")
    assert delivery.refused == {"gone@example.com": (550, "5.1.1 No such user")}
    assert delivery.code == 250
    assert events == [*(f"rcpt {a}" for a in recipients), "before_data", "data"]
    (received,) = server.messages
    assert received.rcpt_tos == ["kunde@example.com", "archiv@example.ch"]
    assert "Bcc" not in received.message
    assert received.message.get_content().splitlines() == ["Guten Tag", ".", "Anbei die Rechnung."]
    # the connection stays usable for the next message
    deliver(conn, message(), USER, ["kunde@example.com"])
    assert len(server.messages) == 2


def test_deliver_keeps_every_line_that_starts_with_a_dot(connected: Connected) -> None:
    server, conn = connected()
    lines = [".", "..", ".hidden", "..two dots", "a . in the middle", "."]
    msg = message()
    msg.set_content("\n".join(lines) + "\n")
    deliver(conn, msg, USER, ["kunde@example.com"])
    (received,) = server.messages
    assert received.message.get_content().splitlines() == lines


def test_deliver_leaves_the_callers_message_alone(connected: Connected) -> None:
    _server, conn = connected()
    msg = message(bcc="archiv@example.ch")
    deliver(conn, msg, USER, ["kunde@example.com", "archiv@example.ch"])
    assert msg["Bcc"] == "archiv@example.ch"


@pytest.mark.parametrize(
    ("hooks", "kind", "outcome"),
    [
        ({"rcpt_hook": lambda a: "550 5.1.1 No such user"}, "recipient_refused", "failed"),
        ({"rcpt_hook": lambda a: "450 4.2.1 Mailbox busy"}, "recipient_refused", "retry"),
        ({"mail_hook": lambda a: "550 5.7.1 Sender not allowed"}, "sender_refused", "failed"),
        ({"mail_hook": lambda a: "451 4.7.1 Try later"}, "sender_refused", "retry"),
        ({"mail_hook": lambda a: "421 4.7.0 Too many messages"}, "transient", "retry"),
        ({"mail_hook": lambda a: DROP}, "disconnected", "retry"),
        ({"rcpt_hook": lambda a: "421 4.3.2 Concurrent connections"}, "transient", "retry"),
        (
            {"data_hook": lambda i, e: "554 5.7.1 Message rejected as spam"},
            "message_refused",
            "failed",
        ),
        ({"data_hook": lambda i, e: "452 4.3.1 Insufficient storage"}, "message_refused", "retry"),
        ({"data_hook": lambda i, e: DROP_AFTER_STORE}, "disconnected_after_data", "unknown"),
        ({"data_hook": lambda i, e: DROP}, "disconnected_after_data", "unknown"),
    ],
)
def test_deliver_outcomes(
    connected: Connected, hooks: dict[str, object], kind: str, outcome: str
) -> None:
    _server, conn = connected(**hooks)
    with pytest.raises(SMTPProblem) as caught:
        deliver(conn, message(), USER, ["kunde@example.com"])
    assert (caught.value.diagnosis.kind, caught.value.diagnosis.outcome) == (kind, outcome)
    assert caught.value.hint


def test_drop_after_store_may_have_delivered(connected: Connected) -> None:
    server, conn = connected(data_hook=lambda i, e: DROP_AFTER_STORE)
    with pytest.raises(SMTPProblem):
        deliver(conn, message(), USER, ["kunde@example.com"])
    assert len(server.messages) == 1  # why "unknown" must not be resent blindly


def test_before_data_failure_sends_nothing(connected: Connected) -> None:
    server, conn = connected()

    def refuse() -> None:
        raise RuntimeError("ledger busy")

    with pytest.raises(RuntimeError, match="ledger busy"):
        deliver(conn, message(), USER, ["kunde@example.com"], before_data=refuse)
    assert server.messages == []
    deliver(conn, message(), USER, ["kunde@example.com"])
    assert len(server.messages) == 1


def test_mail_without_starttls_is_fatal(smtp_server: Server) -> None:
    server = smtp_server("starttls")
    conn = connect(profile_for(server, None, security="none", username=""))
    try:
        with pytest.raises(SMTPProblem) as caught:
            deliver(conn, message(), USER, ["kunde@example.com"])
    finally:
        conn.close()
    assert caught.value.diagnosis.kind == "starttls_required"
    assert caught.value.diagnosis.outcome == "fatal"


def test_diagnose_passes_through_a_diagnosis() -> None:
    problem = SMTPProblem(diagnose(ConnectionRefusedError()))
    assert diagnose(problem) is problem.diagnosis
    assert problem.diagnosis.kind == "connection_refused"


def test_login_only_server_gets_one_login_attempt(smtp_server: Server, ca_file: Path) -> None:
    server = smtp_server("starttls", exclude_auth=("PLAIN",))
    assert test_connection(profile_for(server, ca_file), PASSWORD).ok
    assert test_connection(profile_for(server, ca_file), "wrong").kind == "auth_failed"
    assert server.record.auth_attempts == [("LOGIN", USER), ("LOGIN", USER)]
