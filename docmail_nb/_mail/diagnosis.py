"""An exception from connecting or sending → a :class:`~docmail_nb.errors.Diagnosis`.

Two tables do the work: ``_BY_TYPE`` maps an exception type (most specific first) to the rule
that words it, and ``_AUTH_REPLIES`` maps what a server says to a failed login (reply code,
enhanced status code, provider wording) to what the user should do. Nothing here talks to a
server; ``smtp`` raises, this module explains.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from docmail_nb._store.presets import USUAL_PORT
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import (
    Diagnosis,
    DisconnectedAfterData,
    PlainOnTLSPort,
    RefusedByCheck,
    ReplyTooLong,
    SecretStoreError,
    SMTPProblem,
    TokenRefused,
    UnclearAfterData,
)
from docmail_nb.words import Outcome, setting

__all__ = ["diagnose", "password_notice", "reply_text", "where"]

_HOSTNAME_MISMATCH = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_CERT_EXPIRED = 10


def where(profile: Profile | None) -> str:
    """``host:port`` of the profile, for messages."""
    return f"{profile.host}:{profile.port}" if profile else "the SMTP server"


def reply_text(reply: bytes | str) -> str:
    """A server reply as text (undecodable bytes replaced)."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def diagnose(exc: BaseException, profile: Profile | None = None) -> Diagnosis:
    """Turn an exception from connecting or sending into a plain-language Diagnosis."""
    for kind, rule in _BY_TYPE:
        if isinstance(exc, kind):
            return rule(exc, where(profile), profile)
    return Diagnosis(
        "unexpected",
        f"Talking to {where(profile)} failed unexpectedly: {type(exc).__name__}: {exc}",
        "Run 'docmail test' and check the profile's host, port and security.",
        outcome="fatal",
    )


# -- login replies --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    """A failed-login reply the user can act on: matched by code or by words in the reply."""

    kind: str
    summary: str  # may use {user}, {code}, {text}
    hint: str
    outcome: Outcome
    codes: frozenset[int] = frozenset()
    markers: tuple[str, ...] = ()

    def matches(self, code: int, text: str) -> bool:
        lowered = text.lower()
        return code in self.codes or any(marker in lowered for marker in self.markers)


_AUTH_REPLIES = (
    _Reply(
        "app_password_required",
        "The server wants an app password{user}, not the account password.",
        "With two-factor authentication on (Gmail, Google Workspace), create an app password "
        "in your Google account under Security > App passwords and save it as this profile's "
        "password.",
        "fatal",
        codes=frozenset({534}),
        markers=("5.7.9", "application-specific password"),
    ),
    _Reply(
        "smtp_auth_disabled",
        "SMTP login (SMTP AUTH) is disabled{user} on Microsoft 365.",
        "Ask your Microsoft 365 administrator to enable Authenticated SMTP for this mailbox "
        "(and for the tenant, if it is off there).",
        "fatal",
        markers=("5.7.139", "smtpclientauthentication is disabled"),
    ),
    _Reply(
        "basic_auth_unsupported",
        "The server no longer accepts password logins over SMTP{user}.",
        "Switch this profile to Microsoft 365 sign-in: {switch}",
        "fatal",
        markers=("5.7.30", "basic authentication is not supported"),
    ),
    _Reply(
        "transient",
        "The server could not log you in just now: {code} {text}",
        "Try again in a few minutes; too many connections at once can cause this.",
        "retry",
        codes=frozenset(range(400, 500)),
    ),
)
_AUTH_FAILED = _Reply(
    "auth_failed",
    "The server did not accept the username or password{user}.",
    "Check both. With two-factor authentication (Gmail, Google Workspace, Microsoft 365) you "
    "need an app password instead of the account password.",
    "fatal",
)


def _login_refused(code: int, text: str, profile: Profile | None) -> Diagnosis:
    reply = next((r for r in _AUTH_REPLIES if r.matches(code, text)), _AUTH_FAILED)
    user = f" for {profile.username}" if profile and profile.username else ""
    summary = reply.summary.format(user=user, code=code, text=text)
    hint = reply.hint.replace("{switch}", _switch_command(profile))
    return Diagnosis(reply.kind, summary, hint, code, text, reply.outcome)


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


def _token_refused_reply(
    code: int, text: str, details: dict[str, object], profile: Profile | None
) -> Diagnosis:
    """XOAUTH2 refused: the reply, plus the server's decoded JSON error when it sent one."""
    said = f"{code} {text}"
    if details:
        said += f"; the server's error: {json.dumps(details, sort_keys=True)}"
    reply = f"{text} {json.dumps(details, sort_keys=True)}" if details else text
    user = f" for {profile.username}" if profile and profile.username else ""
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
        return _app_permission_missing(code, reply, said, user, profile)
    if 400 <= code < 500:
        return Diagnosis(
            "transient",
            f"The server could not log you in just now: {said}",
            "Try again in a few minutes; too many connections at once can cause this.",
            code,
            reply,
            "retry",
        )
    return Diagnosis(
        "token_refused",
        f"The server did not accept the access token{user} ({said}).",
        _token_refused_hint(profile),
        code,
        reply,
        "fatal",
    )


def _app_permission_missing(
    code: int, reply: str, said: str, user: str, profile: Profile
) -> Diagnosis:
    """App-only sign-in refused: Exchange lacks the app's service principal or permission."""
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


def _token_refused_hint(profile: Profile | None) -> str:
    """What to do about a token the server refused, by how the profile gets its tokens."""
    if profile is not None and profile.auth == "token-command":
        return (
            "The token command printed a token the server does not accept: check that it is "
            f"issued for {profile.username} with the scope for SMTP "
            "(https://outlook.office.com/SMTP.Send or https://mail.google.com/)."
        )
    name = profile.name if profile else "NAME"
    return (
        f"Sign in again with: docmail login {name} (as {profile.username if profile else 'U'}"
        "); if it keeps happening, the app may lack the SMTP.Send permission "
        "(docs/connect.md)."
    )


def _token_refused(exc: TokenRefused, where: str, profile: Profile | None) -> Diagnosis:
    return _token_refused_reply(exc.smtp_code, reply_text(exc.smtp_error), exc.details, profile)


# -- the rules, one per exception type ---------------------------------------------------------


def _other_port(profile: Profile | None, security: str) -> str:
    if profile is None:
        return ""
    return f" (usually port {USUAL_PORT[security]})"  # type: ignore[index]


def _by_reply(
    kind: str, code: int, text: str, summary: str, hint: str, *, fatal_5xx: bool = False
) -> Diagnosis:
    """A refusal with a reply code: 4xx (and 421) are retried later, 5xx are final."""
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


def _response(code: int, text: str, where: str, profile: Profile | None) -> Diagnosis:
    if code == 530 and "starttls" in text.lower():
        return Diagnosis(
            "starttls_required",
            f"{where} requires STARTTLS before anything else, but the profile uses no encryption.",
            "Set security to 'starttls'.",
            code,
            text,
            "fatal",
        )
    if code == 530:
        return Diagnosis(
            "auth_required",
            f"{where} requires a login before sending: {code} {text}",
            "Give the profile a username (and save its password).",
            code,
            text,
            "fatal",
        )
    if code in (534, 535):
        return _login_refused(code, text, profile)
    return _by_reply(
        "transient" if 400 <= code < 500 else "server_error",
        code,
        text,
        f"{where} answered {code} {text}",
        "Try again later." if 400 <= code < 500 else "Read the server's reply.",
    )


def _timeout(exc: Any, where: str, profile: Profile | None) -> Diagnosis:
    seconds = f" within {profile.timeout:g} s" if profile else ""
    return Diagnosis(
        "timeout",
        f"{where} did not answer{seconds}.",
        "Check host and port and whether a firewall blocks outgoing mail ports; for a slow "
        "server raise the profile's timeout.",
        outcome="retry",
    )


def _no_password(exc: SecretStoreError, where: str, profile: Profile | None) -> Diagnosis:
    return Diagnosis("no_password", exc.message, exc.hint, outcome="fatal")


def _plain_on_tls_port(exc: Any, where: str, profile: Profile | None) -> Diagnosis:
    spoken = "STARTTLS" if profile and profile.security == "starttls" else "plain SMTP"
    return Diagnosis(
        "plain_on_tls_port",
        f"{where} expects implicit TLS, but the profile speaks {spoken}.",
        f"Set security to 'ssl' for this port, or use security 'starttls'"
        f"{_other_port(profile, 'starttls')}.",
        outcome="fatal",
    )


def _recipients_refused(
    exc: smtplib.SMTPRecipientsRefused, where: str, profile: Profile | None
) -> Diagnosis:
    refusals = {a: (c, reply_text(t)) for a, (c, t) in exc.recipients.items()}
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


def _sender_refused(
    exc: smtplib.SMTPSenderRefused, where: str, profile: Profile | None
) -> Diagnosis:
    code, text = exc.smtp_code, reply_text(exc.smtp_error)
    if code == 530:
        return _response(code, text, where, profile)
    return _by_reply(
        "sender_refused",
        code,
        text,
        f"{where} refused the sender address {reply_text(exc.sender)}: {code} {text}",
        "Use the address of the mailbox you log in with (or one it may send as) as From.",
    )


def _data_refused(exc: smtplib.SMTPDataError, where: str, profile: Profile | None) -> Diagnosis:
    code, text = exc.smtp_code, reply_text(exc.smtp_error)
    return _by_reply(
        "message_refused",
        code,
        text,
        f"{where} refused the message: {code} {text}",
        "Read the server's reply: a size limit, an attachment type or a spam filter are the "
        "usual reasons.",
    )


def _connection_rejected(
    exc: smtplib.SMTPConnectError, where: str, profile: Profile | None
) -> Diagnosis:
    code, text = exc.smtp_code, reply_text(exc.smtp_error)
    return _by_reply(
        "connection_rejected",
        code,
        text,
        f"{where} answered the connection with {code} {text}",
        "The server does not accept connections right now; try again later or ask the mail "
        "administrator.",
        fatal_5xx=True,
    )


def _not_supported(exc: Any, where: str, profile: Profile | None) -> Diagnosis:
    return Diagnosis(
        "starttls_unavailable",
        f"{where} does not support a step docmail needs: {exc}",
        "Check host, port and security.",
        outcome="fatal",
    )


_ASK_BEFORE_RESENDING = (
    "Check the Sent folder or ask the recipient before sending this message again."
)


def _disconnected_after_data(exc: Any, where: str, profile: Profile | None) -> Diagnosis:
    return Diagnosis(
        "disconnected_after_data",
        f"The connection to {where} broke after the message was handed over; the server may "
        "or may not have it.",
        _ASK_BEFORE_RESENDING,
        outcome="unknown",
    )


def _unclear_after_data(exc: UnclearAfterData, where: str, profile: Profile | None) -> Diagnosis:
    said = exc.text[:200] + ("…" if len(exc.text) > 200 else "")
    return Diagnosis(
        "unclear_after_data",
        f"{where} answered the message with something that is neither yes nor no ({said!r}); "
        "it may or may not have the message.",
        _ASK_BEFORE_RESENDING,
        None,
        exc.text[:200],
        outcome="unknown",
    )


def _reply_too_long(exc: ReplyTooLong, where: str, profile: Profile | None) -> Diagnosis:
    return Diagnosis(
        "reply_too_long",
        f"{where} sent a reply beyond docmail's limits ({reply_text(exc.args[-1])}); the "
        "connection was closed.",
        "The server misbehaves; try again later or ask its administrator.",
        outcome="retry",
    )


def _disconnected(exc: Any, where: str, profile: Profile | None) -> Diagnosis:
    if "timed out" in str(exc):
        return _timeout(exc, where, profile)
    return Diagnosis(
        "disconnected",
        f"{where} closed the connection unexpectedly ({exc}).",
        "Try again later; if it keeps happening, check host, port and security"
        " (implicit TLS on 465, STARTTLS on 587).",
        outcome="retry",
    )


def _certificate(
    exc: ssl.SSLCertVerificationError, where: str, profile: Profile | None
) -> Diagnosis:
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
    ca_hint = (
        f" (the profile trusts only the CA file {profile.ca_file})"
        if profile and profile.ca_file
        else ""
    )
    return Diagnosis(
        "untrusted_certificate",
        f"The certificate of {where} is not trusted{ca_hint}: {exc.verify_message}.",
        "For a company server with its own certificate authority, give that CA's PEM file as "
        f"the profile's CA file ({setting('ca_file')}); only for a test relay turn "
        "verification off.",
        outcome="fatal",
    )


def _tls(exc: ssl.SSLError, where: str, profile: Profile | None) -> Diagnosis:
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
        "Check host, port and security; the server may need an older or newer TLS version "
        "than this system allows.",
        outcome="fatal",
    )


def _unknown_host(exc: socket.gaierror, where: str, profile: Profile | None) -> Diagnosis:
    host = profile.host if profile else "the server"
    return Diagnosis(
        "unknown_host",
        f"The server name {host!r} cannot be found (DNS: {exc.strerror}).",
        "Check the spelling of the host (e.g. smtp.office365.com, smtp.gmail.com) and that "
        "this computer is online.",
        outcome="fatal",
    )


def _connection_refused(exc: Any, where: str, profile: Profile | None) -> Diagnosis:
    return Diagnosis(
        "connection_refused",
        f"{where} refused the connection: nothing listens on that port.",
        "Check host and port (465 for ssl, 587 for starttls); a firewall may also block "
        "outgoing mail ports.",
        outcome="fatal",
    )


def _network(exc: OSError, where: str, profile: Profile | None) -> Diagnosis:
    return Diagnosis(
        "network_error",
        f"{where} cannot be reached ({exc.strerror or exc}).",
        "Check that this computer is online and that host and port are right.",
        outcome="fatal",
    )


_Rule = Callable[[Any, str, "Profile | None"], Diagnosis]

#: exception type → rule; the first type the exception is an instance of wins, so a subclass
#: comes before its base (SMTPAuthenticationError before SMTPResponseException, ...).
_BY_TYPE: tuple[tuple[type[BaseException], _Rule], ...] = (
    (SMTPProblem, lambda exc, where, profile: exc.diagnosis),
    (RefusedByCheck, lambda exc, where, profile: exc.diagnosis),
    (SecretStoreError, _no_password),
    (PlainOnTLSPort, _plain_on_tls_port),
    (TokenRefused, _token_refused),
    (
        smtplib.SMTPAuthenticationError,
        lambda exc, where, profile: _login_refused(
            exc.smtp_code, reply_text(exc.smtp_error), profile
        ),
    ),
    (smtplib.SMTPRecipientsRefused, _recipients_refused),
    (smtplib.SMTPSenderRefused, _sender_refused),
    (smtplib.SMTPDataError, _data_refused),
    (smtplib.SMTPConnectError, _connection_rejected),
    (smtplib.SMTPNotSupportedError, _not_supported),
    (
        smtplib.SMTPResponseException,
        lambda exc, where, profile: _response(
            exc.smtp_code, reply_text(exc.smtp_error), where, profile
        ),
    ),
    (DisconnectedAfterData, _disconnected_after_data),
    (UnclearAfterData, _unclear_after_data),
    (ReplyTooLong, _reply_too_long),
    (smtplib.SMTPServerDisconnected, _disconnected),
    (ssl.SSLCertVerificationError, _certificate),
    (ssl.SSLError, _tls),
    (socket.gaierror, _unknown_host),
    (ConnectionRefusedError, _connection_refused),
    (TimeoutError, _timeout),
    (OSError, _network),
)


# -- signing in (OAuth 2.0, token command): what failed, what to do ---------------------------
