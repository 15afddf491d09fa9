"""Verified SMTP connections, Test connection with a plain-language diagnosis, one delivery.

TLS certificates and host names are always verified (unless a profile explicitly opts out),
every socket has a timeout, TCP_NODELAY is on, and a login makes exactly one AUTH attempt.
Nothing here logs, raises or returns the password. smtplib's own ``debuglevel`` prints AUTH
lines, so it is never switched on.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
import logging
import smtplib
import socket
import ssl
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from docmail_nb._mail.diagnosis import diagnose, password_notice, reply_text, where
from docmail_nb._mail.replies import BoundedSMTP, BoundedSMTP_SSL
from docmail_nb._mail.wire import fit, wire_bytes
from docmail_nb._store.profiles import Profile, is_loopback, require_password
from docmail_nb.errors import (
    CallerFailure,
    Diagnosis,
    DisconnectedAfterData,
    DocmailError,
    InsecureTLSWarning,
    PlainOnTLSPort,
    RefusedByCheck,
    ReplyTooLong,
    SMTPProblem,
    TokenRefused,
    UnclearAfterData,
)

__all__ = ["Delivery", "connect", "deliver", "test_connection", "xtext"]

_log = logging.getLogger("docmail_nb._mail.smtp")

#: AUTH mechanisms we can do, best first; exactly one of them is tried.
_MECHANISMS = ("PLAIN", "LOGIN")


@dataclass(frozen=True)
class Delivery:
    """What the server said to one message."""

    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]]
    code: int
    reply: str


# -- connecting ---------------------------------------------------------------------------


@functools.cache
def _local_hostname() -> str:
    return socket.getfqdn()


def _tls_context(profile: Profile) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=profile.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise RefusedByCheck(
            Diagnosis(
                "bad_ca_file",
                f"Profile {profile.name!r}: the CA file {profile.ca_file!r} cannot be read "
                f"({exc}).",
                "Give the path of a PEM file holding the CA certificate of your mail server, "
                "or leave the CA file empty to trust the system's certificates.",
                outcome="fatal",
            )
        ) from exc
    if not profile.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        message = (
            f"Profile {profile.name!r}: TLS certificate verification is OFF for "
            f"{where(profile)}. Anyone on the network path can read the password and the "
            "mail. Use a CA file instead wherever possible."
        )
        _log.warning(message)
        warnings.warn(message, InsecureTLSWarning, stacklevel=4)
    return context


def _nodelay(conn: smtplib.SMTP) -> None:
    if conn.sock is not None:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether the server completes a TLS handshake on ``port`` (a probe, sends no data)."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE  # only asks whether TLS is spoken; nothing is sent
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            probe.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def _greet(profile: Profile, context: ssl.SSLContext | None) -> smtplib.SMTP:
    """Open the connection (TLS first for 'ssl') and read the server's 220 greeting."""
    host, port, name, timeout = profile.host, profile.port, _local_hostname(), profile.timeout
    try:
        if profile.security == "ssl":
            return BoundedSMTP_SSL(host, port, name, timeout=timeout, context=context)
        return BoundedSMTP(host, port, name, timeout=timeout)
    except smtplib.SMTPServerDisconnected as exc:
        if (
            "timed out" in str(exc)
            and profile.security != "ssl"
            and _speaks_tls(profile.host, profile.port, min(profile.timeout, 5.0))
        ):
            raise PlainOnTLSPort(str(exc)) from exc
        raise


def _open(profile: Profile, password: str | None) -> tuple[smtplib.SMTP, int, str]:
    """Open, secure, greet and log in; return the connection and the last reply."""
    password = require_password(profile, password)
    if profile.username and profile.security == "none" and not is_loopback(profile.host):
        raise RefusedByCheck(
            Diagnosis(
                "auth_unencrypted",
                f"Profile {profile.name!r}: logging in to {profile.host} without encryption "
                "would send the password in the clear.",
                "Use security 'starttls' (port 587) or 'ssl' (port 465); 'none' with a "
                "username is only allowed for a relay on this machine.",
                outcome="fatal",
            )
        )
    context = _tls_context(profile) if profile.security != "none" else None
    _log.debug("connecting to %s (security %s)", where(profile), profile.security)
    conn = _greet(profile, context)
    try:
        _nodelay(conn)
        code, reply = conn.ehlo()
        if code != 250:
            raise smtplib.SMTPHeloError(code, reply)
        if profile.security == "starttls":
            if not conn.has_extn("starttls"):
                raise RefusedByCheck(
                    Diagnosis(
                        "starttls_unavailable",
                        f"{where(profile)} does not offer STARTTLS, so the connection "
                        "cannot be encrypted.",
                        "Check the port: implicit TLS is usually on 465 (security 'ssl'), "
                        "STARTTLS on 587.",
                        outcome="fatal",
                    )
                )
            conn.starttls(context=context)
            _nodelay(conn)
            code, reply = conn.ehlo()
            if code != 250:
                raise smtplib.SMTPHeloError(code, reply)
        _log.debug("connected to %s, TLS %s", where(profile), profile.security != "none")
        if profile.username:
            code, reply = _login(conn, profile, password or "")
        return conn, code, reply.decode("utf-8", "replace")
    except BaseException:
        conn.close()
        raise


def _login(conn: smtplib.SMTP, profile: Profile, password: str) -> tuple[int, bytes]:
    """Exactly one AUTH attempt, with the best mechanism both sides know."""
    if not conn.has_extn("auth"):
        if profile.security == "none" and conn.has_extn("starttls"):
            raise smtplib.SMTPResponseException(530, b"Must issue a STARTTLS command first")
        raise RefusedByCheck(
            Diagnosis(
                "auth_unavailable",
                f"{where(profile)} does not offer a login (no AUTH after EHLO).",
                "Check host, port and security: most servers offer AUTH on 587 with "
                "STARTTLS or on 465 with SSL. For a relay that needs no login, clear the "
                "username.",
                outcome="fatal",
            )
        )
    offered = conn.esmtp_features["auth"].upper().split()
    if profile.auth != "password":
        return _login_with_token(conn, profile, offered)
    mechanism = next((m for m in _MECHANISMS if m in offered), None)
    if mechanism is None:
        raise RefusedByCheck(
            Diagnosis(
                "auth_unavailable",
                f"{where(profile)} offers no login method docmail can use "
                f"(offered: {' '.join(offered)}).",
                "Ask the mail administrator for PLAIN or LOGIN authentication over TLS.",
                outcome="fatal",
            )
        )
    _log.debug("AUTH %s as %s", mechanism, profile.username)
    code, reply = _authenticate(conn, mechanism, profile.username, password)
    _log.debug("AUTH accepted for %s", profile.username)
    return code, reply


def _login_with_token(
    conn: smtplib.SMTP, profile: Profile, offered: list[str]
) -> tuple[int, bytes]:
    """XOAUTH2 with the profile's access token; a token from memory that is refused is
    replaced by a new one once (it may have expired or been revoked), a new one never."""
    from docmail_nb._auth import signin as auth

    if "XOAUTH2" not in offered:
        raise RefusedByCheck(
            Diagnosis(
                "auth_unavailable",
                f"{where(profile)} offers no sign-in with an access token (XOAUTH2; offered: "
                f"{' '.join(offered)}).",
                "Check host and port: Microsoft 365 (smtp.office365.com:587) and Google "
                "(smtp.gmail.com:465) offer XOAUTH2; another server may need a password.",
                outcome="fatal",
            )
        )
    token = auth.access_token(profile)
    try:
        _log.debug("AUTH XOAUTH2 as %s", profile.username)
        return _xoauth2(conn, profile.username, token.value)
    except TokenRefused as refused:
        about_mailbox = any(
            code in reply_text(refused.smtp_error) for code in ("5.7.139", "5.7.30")
        )
        if token.fresh or refused.smtp_code != 535 or about_mailbox:
            raise
        _log.debug("token from memory refused (%s): getting a new one", refused.smtp_code)
    token = auth.access_token(profile, refresh=True)
    return _xoauth2(conn, profile.username, token.value)


def _xoauth2(conn: smtplib.SMTP, username: str, token: str) -> tuple[int, bytes]:
    """One AUTH XOAUTH2; on a 334 JSON error answer empty and raise with the decoded JSON."""
    from docmail_nb._auth.tokens import xoauth2

    code, reply = conn.docmd("AUTH", f"XOAUTH2 {_b64(xoauth2(username, token))}")
    details: dict[str, object] = {}
    if code == 334:
        try:
            decoded = json.loads(base64.b64decode(reply, validate=True))
            details = decoded if isinstance(decoded, dict) else {"error": decoded}
        except ValueError:
            details = {"challenge": reply_text(reply)}
        code, reply = conn.docmd("")
    if code in (235, 503):
        return code, reply
    raise TokenRefused(code, reply, details)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _authenticate(
    conn: smtplib.SMTP, mechanism: str, username: str, password: str
) -> tuple[int, bytes]:
    """One AUTH exchange (RFC 4954, UTF-8 credentials); raises SMTPAuthenticationError."""
    if mechanism == "PLAIN":
        code, reply = conn.docmd("AUTH", f"PLAIN {_b64(chr(0) + username + chr(0) + password)}")
    else:
        code, reply = conn.docmd("AUTH", f"LOGIN {_b64(username)}")
        if code == 334:
            code, reply = conn.docmd(_b64(password))
    if code == 235:  # only 235 is a login; a 503 ("bad sequence") is none
        return code, reply
    raise smtplib.SMTPAuthenticationError(code, reply)


def connect(profile: Profile, password: str | None = None) -> smtplib.SMTP:
    """A connection that is open, verified, greeted and logged in; raises SMTPProblem.

    ``password`` defaults to :func:`~docmail_nb._store.profiles.get_password` of the profile.
    """
    try:
        conn, _code, _reply = _open(profile, password)
    except SMTPProblem:
        raise  # a sign-in problem keeps its type
    except Exception as exc:
        raise SMTPProblem(diagnose(exc, profile)) from _safe_cause(exc)
    return conn


def _safe_cause(exc: BaseException) -> BaseException | None:
    return None if isinstance(exc, RefusedByCheck | DocmailError) else exc


# -- Test connection ----------------------------------------------------------------------


def test_connection(
    profile: Profile,
    password: str | None = None,  # noqa: PT028 - not a test: the feature's name
) -> Diagnosis:
    """Connect, TLS, EHLO, AUTH, (MAIL probe + RSET), QUIT; never raises.

    The answer's ``ok`` says whether it worked; ``summary`` and ``hint`` say what to do.
    """
    try:
        conn, code, reply = _open(profile, password)
        try:
            if profile.sender:
                mail_code, mail_reply = conn.mail(profile.sender)
                if mail_code != 250:
                    raise smtplib.SMTPSenderRefused(mail_code, mail_reply, profile.sender)
                conn.rset()
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                conn.quit()
            conn.close()
    except Exception as exc:
        diagnosis = diagnose(exc, profile)
        _log.debug("test connection %s failed: %s", where(profile), diagnosis.kind)
        return diagnosis
    security = {"ssl": "implicit TLS", "starttls": "STARTTLS", "none": "no encryption"}
    login = f", logged in as {profile.username}" if profile.username else ""
    if profile.username and profile.auth != "password":
        login += f" ({profile.auth})"
    verified = (
        ", certificate verified"
        if profile.security != "none" and profile.verify_tls
        else ", certificate NOT verified"
        if profile.security != "none"
        else ""
    )
    hint = "" if profile.verify_tls else "Certificate verification is off for this profile."
    hint = " ".join(part for part in (hint, password_notice(profile)) if part)
    return Diagnosis(
        "ok",
        f"Connected to {where(profile)} with {security[profile.security]}{verified}{login}.",
        hint,
        code,
        reply,
        "ok",
    )


test_connection.__test__ = False  # type: ignore[attr-defined]  # keep pytest from collecting it


# -- delivering one message ---------------------------------------------------------------


def deliver(
    conn: smtplib.SMTP,
    msg: EmailMessage,
    envelope_from: str,
    recipients: Sequence[str],
    before_data: Callable[[], None] | None = None,
) -> Delivery:
    """MAIL, RCPT for each recipient, ``before_data()``, DATA; raises SMTPProblem.

    The problem's ``diagnosis.outcome`` is "unknown" when the connection broke after the
    message content began to flow, or the server's last answer was no well-formed reply (the
    server may have it); "retry" for 4xx replies and drops before that, "failed" for 5xx,
    "fatal" for authentication or TLS trouble. The whole message has ``MESSAGE_DEADLINE``.
    """
    bounded = conn if isinstance(conn, BoundedSMTP | BoundedSMTP_SSL) else None
    if bounded is not None:
        bounded.begin_message()
    try:
        return _deliver(conn, msg, envelope_from, recipients, before_data)
    except CallerFailure as failure:
        raise failure.original from None
    except DocmailError:
        raise
    except Exception as exc:
        raise SMTPProblem(diagnose(exc)) from _safe_cause(exc)
    finally:
        if bounded is not None:
            bounded.end_message()


def _flatten(msg: EmailMessage) -> bytes:
    if "Bcc" in msg or "Resent-Bcc" in msg:
        msg = copy.copy(msg)  # deleting a header rebinds the header list: the caller's is kept
        del msg["Bcc"], msg["Resent-Bcc"]
    data = wire_bytes(msg)
    data = data.replace(b"\n.", b"\n..")  # dot-stuffing: every line that starts with "."
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _rset(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        conn.rset()


def _deliver(
    conn: smtplib.SMTP,
    msg: EmailMessage,
    envelope_from: str,
    recipients: Sequence[str],
    before_data: Callable[[], None] | None,
) -> Delivery:
    fitted = fit(
        msg,
        envelope_from,
        recipients,
        eight_bit=conn.has_extn("8bitmime"),
        smtputf8=conn.has_extn("smtputf8"),
    )
    data = _flatten(fitted.msg)
    options = [f"SIZE={len(data)}"] if conn.has_extn("size") else []
    dsn = conn.has_extn("dsn")
    if dsn:  # RFC 3461: failure and delay reports, with the headers and our envelope id
        envid = str(msg.get("Message-ID", "")).strip().strip("<>")
        options += ["RET=HDRS"] + ([f"ENVID={xtext(envid)}"] if envid else [])
    _mail_from(conn, fitted.envelope_from, [*options, *fitted.mail_options])
    accepted, refused = _rcpt_to(conn, fitted.recipients, dsn=dsn)
    if before_data is not None:
        try:
            before_data()
        except Exception as exc:
            _rset(conn)
            raise CallerFailure(exc) from exc
    code, reply = _data(conn, data)
    _log.debug("message accepted for %d recipient(s): %s", len(accepted), code)
    return Delivery(tuple(accepted), refused, code, reply_text(reply))


def _mail_from(conn: smtplib.SMTP, envelope_from: str, options: list[str]) -> None:
    code, reply = conn.mail(envelope_from, options)
    if code != 250:
        if code != 421:
            _rset(conn)
        raise smtplib.SMTPSenderRefused(code, reply, envelope_from)


def xtext(text: str) -> str:
    """RFC 3461 xtext: ``+`` and ``=``, and anything outside ``!``..``~``, as ``+XX``."""
    return "".join(
        char if "!" <= char <= "~" and char not in "+=" else f"+{ord(char):02X}" for char in text
    )


def _dsn_options(address: str) -> list[str]:
    """NOTIFY=FAILURE,DELAY and, for an ASCII address, ORCPT (RFC 3461 section 4)."""
    options = ["NOTIFY=FAILURE,DELAY"]
    if address.isascii():
        options.append(f"ORCPT=rfc822;{xtext(address)}")
    return options


def _rcpt_to(
    conn: smtplib.SMTP, recipients: Sequence[str], *, dsn: bool = False
) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """The recipients the server accepted and those it refused; raises when none is accepted.

    ``dsn``: the server offers DSN, so each RCPT asks for failure and delay reports.
    """
    accepted: list[str] = []
    refused: dict[str, tuple[int, str]] = {}
    for address in recipients:
        code, reply = conn.rcpt(address, _dsn_options(address) if dsn else ())
        if code in (250, 251):
            accepted.append(address)
        elif code == 421:
            raise smtplib.SMTPResponseException(code, reply)
        else:
            refused[address] = (code, reply_text(reply))
            _log.debug("recipient %s refused: %s", address, code)
    if not accepted:
        _rset(conn)
        raise smtplib.SMTPRecipientsRefused(
            {address: (code, text.encode()) for address, (code, text) in refused.items()}
        )
    return accepted, refused


def _data(conn: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
    """DATA and the content; the server's reply when it took the message."""
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        if code != 421:
            _rset(conn)
        raise smtplib.SMTPDataError(code, reply)
    try:
        conn.send(data)
        code, reply = conn.getreply()
    except smtplib.SMTPServerDisconnected as exc:
        raise DisconnectedAfterData(str(exc)) from exc
    except ReplyTooLong as exc:  # the server said something, but not a clear yes or no
        raise UnclearAfterData(-1, reply_text(exc.args[-1])) from exc
    if 400 <= code < 600:  # a clear no: temporary (4xx) or for good (5xx)
        raise smtplib.SMTPDataError(code, reply)
    if not 200 <= code < 300:  # "25O ok", prose, a 354 again: the server may have it
        with contextlib.suppress(Exception):
            conn.close()
        raise UnclearAfterData(code, reply_text(reply))
    return code, reply
