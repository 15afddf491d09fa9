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
import ipaddress
import json
import logging
import smtplib
import socket
import ssl
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from .errors import DocmailError, SMTPProblem
from .profiles import PASSWORD_ENV, USUAL_PORT, Profile, get_password

__all__ = [
    "Delivery",
    "Diagnosis",
    "InsecureTLSWarning",
    "Outcome",
    "TestResult",
    "connect",
    "deliver",
    "diagnose",
    "test_connection",
]

log = logging.getLogger("docmail_nb.smtp")

Outcome = Literal["ok", "retry", "failed", "fatal", "unknown"]

#: AUTH mechanisms we can do, best first; exactly one of them is tried.
_MECHANISMS = ("PLAIN", "LOGIN")
_HOSTNAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_CERT_EXPIRED = 10


class InsecureTLSWarning(UserWarning):
    """A profile turned certificate verification off."""


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong (or right), in one plain line, and what to do about it."""

    kind: str
    summary: str
    hint: str
    code: int | None = None
    reply: str = ""
    outcome: Outcome = "failed"


@dataclass(frozen=True)
class TestResult:
    """The answer of :func:`test_connection`."""

    __test__ = False  # not a pytest test class

    ok: bool
    summary: str
    hint: str
    code: int | None
    reply: str
    kind: str


@dataclass(frozen=True)
class Delivery:
    """What the server said to one message."""

    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]]
    code: int
    reply: str


class _DisconnectedAfterData(smtplib.SMTPServerDisconnected):
    """The connection broke after the message content began: the server may have it."""


class _CallerFailure(Exception):
    """``before_data`` raised: its exception goes back to the caller unchanged."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class _PlainOnTLSPort(OSError):
    """The server answered a TLS handshake where a plain greeting was expected."""


class _TokenRefused(smtplib.SMTPAuthenticationError):
    """XOAUTH2 refused; ``details`` is the server's decoded JSON error (may be empty)."""

    def __init__(self, code: int, reply: bytes, details: dict[str, object]) -> None:
        super().__init__(code, reply)
        self.details = details


class _Refusal(Exception):
    """A refusal found by our own checks, carrying its diagnosis."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.summary)
        self.diagnosis = diagnosis


# -- connecting ---------------------------------------------------------------------------


@functools.cache
def _local_hostname() -> str:
    return socket.getfqdn()


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _where(profile: Profile) -> str:
    return f"{profile.host}:{profile.port}"


def _tls_context(profile: Profile) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=profile.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise _Refusal(
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
            f"{_where(profile)}. Anyone on the network path can read the password and the "
            "mail. Use a CA file instead wherever possible."
        )
        log.warning(message)
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
            return smtplib.SMTP_SSL(host, port, name, timeout=timeout, context=context)
        return smtplib.SMTP(host, port, name, timeout=timeout)
    except smtplib.SMTPServerDisconnected as exc:
        if (
            "timed out" in str(exc)
            and profile.security != "ssl"
            and _speaks_tls(profile.host, profile.port, min(profile.timeout, 5.0))
        ):
            raise _PlainOnTLSPort(str(exc)) from exc
        raise


def _open(profile: Profile, password: str | None) -> tuple[smtplib.SMTP, int, str]:
    """Open, secure, greet and log in; return the connection and the last reply."""
    if profile.username and profile.auth == "password" and password is None:
        password = get_password(profile.name)
        if password is None:
            raise _Refusal(_no_password(profile))
    if profile.username and profile.security == "none" and not _is_loopback(profile.host):
        raise _Refusal(
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
    log.debug("connecting to %s (security %s)", _where(profile), profile.security)
    conn = _greet(profile, context)
    try:
        _nodelay(conn)
        code, reply = conn.ehlo()
        if code != 250:
            raise smtplib.SMTPHeloError(code, reply)
        if profile.security == "starttls":
            if not conn.has_extn("starttls"):
                raise _Refusal(
                    Diagnosis(
                        "starttls_unavailable",
                        f"{_where(profile)} does not offer STARTTLS, so the connection "
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
        log.debug("connected to %s, TLS %s", _where(profile), profile.security != "none")
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
        raise _Refusal(
            Diagnosis(
                "auth_unavailable",
                f"{_where(profile)} does not offer a login (no AUTH after EHLO).",
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
        raise _Refusal(
            Diagnosis(
                "auth_unavailable",
                f"{_where(profile)} offers no login method docmail can use "
                f"(offered: {' '.join(offered)}).",
                "Ask the mail administrator for PLAIN or LOGIN authentication over TLS.",
                outcome="fatal",
            )
        )
    log.debug("AUTH %s as %s", mechanism, profile.username)
    code, reply = _authenticate(conn, mechanism, profile.username, password)
    log.debug("AUTH accepted for %s", profile.username)
    return code, reply


def _login_with_token(
    conn: smtplib.SMTP, profile: Profile, offered: list[str]
) -> tuple[int, bytes]:
    """XOAUTH2 with the profile's access token; a token from memory that is refused is
    replaced by a new one once (it may have expired or been revoked), a new one never."""
    from . import auth

    if "XOAUTH2" not in offered:
        raise _Refusal(
            Diagnosis(
                "auth_unavailable",
                f"{_where(profile)} offers no sign-in with an access token (XOAUTH2; offered: "
                f"{' '.join(offered)}).",
                "Check host and port: Microsoft 365 (smtp.office365.com:587) and Google "
                "(smtp.gmail.com:465) offer XOAUTH2; another server may need a password.",
                outcome="fatal",
            )
        )
    token = auth.access_token(profile)
    try:
        log.debug("AUTH XOAUTH2 as %s", profile.username)
        return _xoauth2(conn, profile.username, token.value)
    except _TokenRefused as refused:
        about_mailbox = any(code in _text(refused.smtp_error) for code in ("5.7.139", "5.7.30"))
        if token.fresh or refused.smtp_code != 535 or about_mailbox:
            raise
        log.debug("token from memory refused (%s): getting a new one", refused.smtp_code)
    token = auth.access_token(profile, refresh=True)
    return _xoauth2(conn, profile.username, token.value)


def _xoauth2(conn: smtplib.SMTP, username: str, token: str) -> tuple[int, bytes]:
    """One AUTH XOAUTH2; on a 334 JSON error answer empty and raise with the decoded JSON."""
    from .auth import xoauth2

    code, reply = conn.docmd("AUTH", f"XOAUTH2 {_b64(xoauth2(username, token))}")
    details: dict[str, object] = {}
    if code == 334:
        try:
            decoded = json.loads(base64.b64decode(reply, validate=True))
            details = decoded if isinstance(decoded, dict) else {"error": decoded}
        except ValueError:
            details = {"challenge": _text(reply)}
        code, reply = conn.docmd("")
    if code in (235, 503):
        return code, reply
    raise _TokenRefused(code, reply, details)


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
    if code in (235, 503):  # 503: already authenticated
        return code, reply
    raise smtplib.SMTPAuthenticationError(code, reply)


def connect(profile: Profile, password: str | None = None) -> smtplib.SMTP:
    """A connection that is open, verified, greeted and logged in; raises SMTPProblem.

    ``password`` defaults to :func:`~docmail_nb.profiles.get_password` of the profile.
    """
    try:
        conn, _code, _reply = _open(profile, password)
    except SMTPProblem:
        raise
    except Exception as exc:
        raise SMTPProblem(diagnose(exc, profile)) from _safe_cause(exc)
    return conn


def _safe_cause(exc: BaseException) -> BaseException | None:
    return None if isinstance(exc, _Refusal) else exc


# -- Test connection ----------------------------------------------------------------------


def test_connection(
    profile: Profile,
    password: str | None = None,  # noqa: PT028 - not a test: the feature's name
) -> TestResult:
    """Connect, TLS, EHLO, AUTH, (MAIL probe + RSET), QUIT; never raises."""
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
        log.debug("test connection %s failed: %s", _where(profile), diagnosis.kind)
        return TestResult(
            False,
            diagnosis.summary,
            diagnosis.hint,
            diagnosis.code,
            diagnosis.reply,
            diagnosis.kind,
        )
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
    return TestResult(
        True,
        f"Connected to {_where(profile)} with {security[profile.security]}{verified}{login}.",
        hint,
        code,
        reply,
        "ok",
    )


test_connection.__test__ = False  # type: ignore[attr-defined]  # keep pytest from collecting it


# -- delivering one message ---------------------------------------------------------------


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def deliver(
    conn: smtplib.SMTP,
    msg: EmailMessage,
    envelope_from: str,
    recipients: Sequence[str],
    before_data: Callable[[], None] | None = None,
) -> Delivery:
    """MAIL, RCPT for each recipient, ``before_data()``, DATA; raises SMTPProblem.

    The problem's ``diagnosis.outcome`` is "unknown" only when the connection broke after the
    message content began to flow (the server may have it), "retry" for 4xx replies and drops
    before that, "failed" for 5xx, "fatal" for authentication or TLS trouble.
    """
    try:
        return _deliver(conn, msg, envelope_from, recipients, before_data)
    except _CallerFailure as failure:
        raise failure.original from None
    except DocmailError:
        raise
    except Exception as exc:
        raise SMTPProblem(diagnose(exc)) from _safe_cause(exc)


def _flatten(msg: EmailMessage) -> bytes:
    if "Bcc" in msg or "Resent-Bcc" in msg:
        msg = copy.copy(msg)  # deleting a header rebinds the header list: the caller's is kept
        del msg["Bcc"], msg["Resent-Bcc"]
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
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
    data = _flatten(msg)
    options = [f"SIZE={len(data)}"] if conn.has_extn("size") else []
    code, reply = conn.mail(envelope_from, options)
    if code != 250:
        if code != 421:
            _rset(conn)
        raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
    accepted: list[str] = []
    refused: dict[str, tuple[int, str]] = {}
    for address in recipients:
        code, reply = conn.rcpt(address)
        if code in (250, 251):
            accepted.append(address)
        elif code == 421:
            raise smtplib.SMTPResponseException(code, reply)
        else:
            refused[address] = (code, _text(reply))
            log.debug("recipient %s refused: %s", address, code)
    if not accepted:
        _rset(conn)
        raise smtplib.SMTPRecipientsRefused(
            {address: (code, text.encode()) for address, (code, text) in refused.items()}
        )
    if before_data is not None:
        try:
            before_data()
        except Exception as exc:
            _rset(conn)
            raise _CallerFailure(exc) from exc
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
        raise _DisconnectedAfterData(str(exc)) from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    log.debug("message accepted for %d recipient(s): %s", len(accepted), code)
    return Delivery(tuple(accepted), refused, code, _text(reply))


# -- diagnosis ---------------------------------------------------------------------------


def _no_password(profile: Profile) -> Diagnosis:
    return Diagnosis(
        "no_password",
        f"No password is known for profile {profile.name!r} (user {profile.username}).",
        f"Save it with 'docmail profile add {profile.name} ... ' (it is kept in keyring), or "
        f"set the environment variable {PASSWORD_ENV} for a job without keyring.",
        outcome="fatal",
    )


def _other_port(profile: Profile | None, security: str) -> str:
    if profile is None:
        return ""
    return f" (usually port {USUAL_PORT[security]})"  # type: ignore[index]


def diagnose(exc: BaseException, profile: Profile | None = None) -> Diagnosis:
    """Turn an exception from connecting or sending into a plain-language Diagnosis."""
    where = _where(profile) if profile else "the SMTP server"
    if isinstance(exc, SMTPProblem):
        return exc.diagnosis
    if isinstance(exc, _Refusal):
        return exc.diagnosis
    if isinstance(exc, _PlainOnTLSPort):
        return Diagnosis(
            "plain_on_tls_port",
            f"{where} expects implicit TLS, but the profile speaks "
            f"{'STARTTLS' if profile and profile.security == 'starttls' else 'plain SMTP'}.",
            f"Set security to 'ssl' for this port, or use security 'starttls'"
            f"{_other_port(profile, 'starttls')}.",
            outcome="fatal",
        )
    if isinstance(exc, _TokenRefused):
        return _token_diagnosis(exc.smtp_code, _text(exc.smtp_error), exc.details, profile)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _auth_diagnosis(exc.smtp_code, _text(exc.smtp_error), profile)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = {a: (c, _text(t)) for a, (c, t) in exc.recipients.items()}
        transient = all(400 <= c < 500 for c, _ in refusals.values())
        listed = "; ".join(f"{a}: {c} {t}" for a, (c, t) in refusals.items())
        first_code, first_text = next(iter(refusals.values()), (None, ""))
        return Diagnosis(
            "recipient_refused",
            f"The server refused every recipient ({listed}).",
            "Check the addresses in the sheet; a 4xx reply is temporary and is retried later."
            if transient
            else "Check the addresses in the sheet (a typo, or a mailbox that no longer exists).",
            first_code,
            first_text,
            "retry" if transient else "failed",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        code, text = exc.smtp_code, _text(exc.smtp_error)
        if code == 530:
            return _response_diagnosis(code, text, where, profile)
        return _reply_diagnosis(
            "sender_refused",
            code,
            text,
            f"{where} refused the sender address {_text(exc.sender)}: {code} {text}",
            "Use the address of the mailbox you log in with (or one it may send as) as From.",
        )
    if isinstance(exc, smtplib.SMTPDataError):
        code, text = exc.smtp_code, _text(exc.smtp_error)
        return _reply_diagnosis(
            "message_refused",
            code,
            text,
            f"{where} refused the message: {code} {text}",
            "Read the server's reply: a size limit, an attachment type or a spam filter "
            "are the usual reasons.",
        )
    if isinstance(exc, smtplib.SMTPConnectError):
        code, text = exc.smtp_code, _text(exc.smtp_error)
        return _reply_diagnosis(
            "connection_rejected",
            code,
            text,
            f"{where} answered the connection with {code} {text}",
            "The server does not accept connections right now; try again later or ask the "
            "mail administrator.",
            fatal_5xx=True,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Diagnosis(
            "starttls_unavailable",
            f"{where} does not support a step docmail needs: {exc}",
            "Check host, port and security.",
            outcome="fatal",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _response_diagnosis(exc.smtp_code, _text(exc.smtp_error), where, profile)
    if isinstance(exc, _DisconnectedAfterData):
        return Diagnosis(
            "disconnected_after_data",
            f"The connection to {where} broke after the message was handed over; the server "
            "may or may not have it.",
            "Check the Sent folder or ask the recipient before sending this message again.",
            outcome="unknown",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if "timed out" in str(exc):
            return _timeout(where, profile)
        return Diagnosis(
            "disconnected",
            f"{where} closed the connection unexpectedly ({exc}).",
            "Try again later; if it keeps happening, check host, port and security"
            " (implicit TLS on 465, STARTTLS on 587).",
            outcome="retry",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _certificate_diagnosis(exc, where, profile)
    if isinstance(exc, ssl.SSLError):
        if "WRONG_VERSION_NUMBER" in str(exc) or exc.reason == "WRONG_VERSION_NUMBER":
            return Diagnosis(
                "tls_on_plain_port",
                f"{where} does not speak implicit TLS (security 'ssl') on this port.",
                "Use security 'starttls' for this port"
                f"{_other_port(profile, 'starttls')}, or security 'ssl' with port 465.",
                outcome="fatal",
            )
        return Diagnosis(
            "tls_failed",
            f"The TLS handshake with {where} failed ({exc.reason or exc}).",
            "Check host, port and security; the server may need an older or newer TLS "
            "version than this system allows.",
            outcome="fatal",
        )
    if isinstance(exc, socket.gaierror):
        host = profile.host if profile else "the server"
        return Diagnosis(
            "unknown_host",
            f"The server name {host!r} cannot be found (DNS: {exc.strerror}).",
            "Check the spelling of the host (e.g. smtp.office365.com, smtp.gmail.com) and "
            "that this computer is online.",
            outcome="fatal",
        )
    if isinstance(exc, ConnectionRefusedError):
        return Diagnosis(
            "connection_refused",
            f"{where} refused the connection: nothing listens on that port.",
            "Check host and port (465 for ssl, 587 for starttls); a firewall may also block "
            "outgoing mail ports.",
            outcome="fatal",
        )
    if isinstance(exc, TimeoutError):
        return _timeout(where, profile)
    if isinstance(exc, OSError):
        return Diagnosis(
            "network_error",
            f"{where} cannot be reached ({exc.strerror or exc}).",
            "Check that this computer is online and that host and port are right.",
            outcome="fatal",
        )
    return Diagnosis(
        "unexpected",
        f"Talking to {where} failed unexpectedly: {type(exc).__name__}: {exc}",
        "Run 'docmail test' and check the profile's host, port and security.",
        outcome="fatal",
    )


def _timeout(where: str, profile: Profile | None) -> Diagnosis:
    seconds = f" within {profile.timeout:g} s" if profile else ""
    return Diagnosis(
        "timeout",
        f"{where} did not answer{seconds}.",
        "Check host and port and whether a firewall blocks outgoing mail ports; for a slow "
        "server raise the profile's timeout.",
        outcome="retry",
    )


def _certificate_diagnosis(
    exc: ssl.SSLCertVerificationError, where: str, profile: Profile | None
) -> Diagnosis:
    ca_hint = (
        f" (the profile trusts only the CA file {profile.ca_file})"
        if profile and profile.ca_file
        else ""
    )
    if exc.verify_code in _HOSTNAME_MISMATCH:
        return Diagnosis(
            "hostname_mismatch",
            f"The certificate of {where} is not issued for that name ({exc.verify_message}).",
            "Use the host name the certificate is issued for (as your provider documents it), "
            "not an alias or IP address.",
            outcome="fatal",
        )
    if exc.verify_code == _CERT_EXPIRED:
        return Diagnosis(
            "certificate_expired",
            f"The certificate of {where} has expired.",
            "Tell the mail server's administrator; do not turn verification off.",
            outcome="fatal",
        )
    return Diagnosis(
        "untrusted_certificate",
        f"The certificate of {where} is not trusted{ca_hint}: {exc.verify_message}.",
        "For a company server with its own certificate authority, give that CA's PEM file "
        "as the profile's CA file (--ca-file); only for a test relay turn verification off.",
        outcome="fatal",
    )


def _auth_diagnosis(code: int, text: str, profile: Profile | None) -> Diagnosis:
    user = f" for {profile.username}" if profile and profile.username else ""
    lowered = text.lower()
    if code == 534 or "5.7.9" in text or "application-specific password" in lowered:
        return Diagnosis(
            "app_password_required",
            f"The server wants an app password{user}, not the account password.",
            "With two-factor authentication on (Gmail, Google Workspace), create an app "
            "password in your Google account under Security > App passwords and save it as "
            "this profile's password.",
            code,
            text,
            "fatal",
        )
    if "5.7.139" in text or "smtpclientauthentication is disabled" in lowered:
        return Diagnosis(
            "smtp_auth_disabled",
            f"SMTP login (SMTP AUTH) is disabled{user} on Microsoft 365.",
            "Ask your Microsoft 365 administrator to enable Authenticated SMTP for this "
            "mailbox (and for the tenant, if it is off there).",
            code,
            text,
            "fatal",
        )
    if "5.7.30" in text or "basic authentication is not supported" in lowered:
        return Diagnosis(
            "basic_auth_unsupported",
            f"The server no longer accepts password logins over SMTP{user}.",
            f"Switch this profile to Microsoft 365 sign-in: {_switch_command(profile)}",
            code,
            text,
            "fatal",
        )
    if 400 <= code < 500:
        return Diagnosis(
            "transient",
            f"The server could not log you in just now: {code} {text}",
            "Try again in a few minutes; too many connections at once can cause this.",
            code,
            text,
            "retry",
        )
    return Diagnosis(
        "auth_failed",
        f"The server did not accept the username or password{user}.",
        "Check both. With two-factor authentication (Gmail, Google Workspace, Microsoft 365) "
        "you need an app password instead of the account password.",
        code,
        text,
        "fatal",
    )


def _switch_command(profile: Profile | None) -> str:
    """The commands that move ``profile`` from a password to Microsoft 365 sign-in."""
    name = profile.name if profile else "NAME"
    user = profile.username if profile and profile.username else "U"
    return (
        f"docmail profile add {name} --preset microsoft365 --username {user} --auth oauth2 "
        f"--client-id CLIENT_ID, then docmail login {name} (CLIENT_ID: the app your "
        "administrator registered, see docs/connect.md)."
    )


def password_notice(profile: Profile) -> str:
    """For a Microsoft 365 profile that logs in with a password: that this ends, and how to
    switch; "" for every other profile."""
    microsoft = profile.preset == "microsoft365" or profile.host.lower().endswith(
        ("office365.com", "outlook.com")
    )
    if profile.auth != "password" or not microsoft:
        return ""
    return (
        "Microsoft turns password login over SMTP off by default at the end of December 2026. "
        f"Switch to sign-in before then: {_switch_command(profile)}"
    )


def _token_diagnosis(
    code: int, text: str, details: dict[str, object], profile: Profile | None
) -> Diagnosis:
    """XOAUTH2 refused: the reply, plus the server's decoded JSON error when it sent one."""
    said = f"{code} {text}"
    if details:
        said += f"; the server's error: {json.dumps(details, sort_keys=True)}"
    reply = f"{text} {json.dumps(details, sort_keys=True)}" if details else text
    user = f" for {profile.username}" if profile and profile.username else ""
    name = profile.name if profile else "NAME"
    if "5.7.139" in text or "smtpclientauthentication is disabled" in text.lower():
        return Diagnosis(
            "smtp_auth_disabled",
            f"SMTP login (SMTP AUTH) is disabled{user} on Microsoft 365 ({said}).",
            "Sign-in with OAuth still needs it: ask your Microsoft 365 administrator to enable "
            "Authenticated SMTP for this mailbox (Set-CASMailbox -Identity "
            f"{profile.username if profile else 'U'} -SmtpClientAuthenticationDisabled $false) "
            "and for the tenant if it is off there.",
            code,
            reply,
            "fatal",
        )
    if (
        profile is not None
        and profile.auth == "oauth2-app"
        and ("5.7.3" in text or 500 <= code < 600)
    ):
        return Diagnosis(
            "app_permission_missing",
            f"Microsoft 365 refused the app's access token{user} ({said}): the app has no "
            "service principal in Exchange Online or no permission on this mailbox.",
            "An Exchange administrator runs New-ServicePrincipal -AppId "
            f"{profile.client_id} -ObjectId <object ID of the enterprise application>, then "
            f"Add-MailboxPermission -Identity {profile.username} -User <that service "
            "principal> -AccessRights FullAccess; and the app needs the SMTP.SendAsApp "
            "permission with admin consent (docs/connect.md).",
            code,
            reply,
            "fatal",
        )
    if 400 <= code < 500:
        return Diagnosis(
            "transient",
            f"The server could not log you in just now: {said}",
            "Try again in a few minutes; too many connections at once can cause this.",
            code,
            reply,
            "retry",
        )
    if profile is not None and profile.auth == "token-command":
        hint = (
            "The token command printed a token the server does not accept: check that it is "
            f"issued for {profile.username} with the scope for SMTP "
            "(https://outlook.office.com/SMTP.Send or https://mail.google.com/)."
        )
    else:
        hint = (
            f"Sign in again with: docmail login {name} (as {profile.username if profile else 'U'}"
            "); if it keeps happening, the app may lack the SMTP.Send permission "
            "(docs/connect.md)."
        )
    return Diagnosis(
        "token_refused",
        f"The server did not accept the access token{user} ({said}).",
        hint,
        code,
        reply,
        "fatal",
    )


def _response_diagnosis(code: int, text: str, where: str, profile: Profile | None) -> Diagnosis:
    if code == 530 and "starttls" in text.lower():
        return Diagnosis(
            "starttls_required",
            f"{where} requires STARTTLS before anything else, but the profile uses no encryption.",
            "Set security to 'starttls'.",
            code,
            text,
            "fatal",
        )
    if code in (530, 534, 535):
        return (
            _auth_diagnosis(code, text, profile)
            if code != 530
            else Diagnosis(
                "auth_required",
                f"{where} requires a login before sending: {code} {text}",
                "Give the profile a username (and save its password).",
                code,
                text,
                "fatal",
            )
        )
    return _reply_diagnosis(
        "transient" if 400 <= code < 500 else "server_error",
        code,
        text,
        f"{where} answered {code} {text}",
        "Try again later." if 400 <= code < 500 else "Read the server's reply.",
    )


def _reply_diagnosis(
    kind: str, code: int, text: str, summary: str, hint: str, *, fatal_5xx: bool = False
) -> Diagnosis:
    if code == 421 or 400 <= code < 500:
        return Diagnosis(
            "transient" if code == 421 else kind,
            summary,
            "The server asked to try again later; the message was not sent and will be retried.",
            code,
            text,
            "retry",
        )
    return Diagnosis(kind, summary, hint, code, text, "fatal" if fatal_5xx else "failed")
