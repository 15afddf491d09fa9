"""IMAP: the mailbox's own record of what was sent.

One verified IMAP connection with the profile's credentials (implicit TLS or STARTTLS, the
profile's CA file), the Sent folder (found by its SPECIAL-USE ``\\Sent`` attribute, RFC 6154,
else by the usual names), APPEND of a copy as mail clients keep it (flag ``\\Seen``, the bytes
as sent plus the Bcc header), and the search for a Message-ID.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from docmail_nb._mail.wire import wire_bytes
from docmail_nb._mailbox.bounded import BoundedIMAP4, BoundedIMAP4_SSL, whole_messages
from docmail_nb._mailbox.folders import (
    SENT_NAMES,
    Folder,
    encode_folder_name,
    parse_list,
    quoted,
)
from docmail_nb._mailbox.problems import (
    diagnose_imap,
    error_words,
    imap_server,
    mailbox_problem,
)
from docmail_nb._store.profiles import Profile, require_password
from docmail_nb.errors import DocmailError, MailboxError, SecretStoreError
from docmail_nb.words import setting

__all__ = ["Mailbox", "MailboxCheck", "check_mailbox", "open_mailbox", "sent_copy"]

_log = logging.getLogger("docmail_nb._mailbox.imap")


# -- the copy in Sent --------------------------------------------------------------------------


def sent_copy(msg: EmailMessage, bcc: Sequence[str] = ()) -> bytes:
    """The message as a mail client keeps it in Sent: the bytes as sent, plus a Bcc header.

    Identical to what the SMTP server received (before dot-stuffing) apart from the Bcc line,
    which goes right before the blank line that ends the header block.
    """
    data = wire_bytes(msg)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    addresses = [address for address in bcc if address]
    if not addresses or "Bcc" in msg:
        return data
    line = SMTP.fold_binary("Bcc", ", ".join(addresses))
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data + line
    return data[: end + 2] + line + data[end + 2 :]


# -- the connection ----------------------------------------------------------------------------


def _tls_context(profile: Profile) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=profile.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise mailbox_problem(
            "bad_ca_file",
            f"Profile {profile.name!r}: the CA file {profile.ca_file!r} cannot be read ({exc}).",
            "Give the path of a PEM file with your mail server's CA certificate.",
        ) from None
    if not profile.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _log.warning("Profile %r: TLS certificate verification is OFF for IMAP.", profile.name)
    return context


class Mailbox:
    """One logged-in IMAP connection; a context manager."""

    def __init__(self, conn: imaplib.IMAP4, profile: Profile) -> None:
        self._conn = conn
        self.profile = profile
        self._sent: Folder | None = None
        self._selected: str | None = None
        self._inbox_uids: dict[str, str] = {}
        #: folders left out because their names cannot be read, one note each
        self.skipped: list[str] = []

    def __repr__(self) -> str:
        return f"Mailbox({self.profile.imap_host!r}, user={self.profile.username!r})"

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._selected is not None:
                self._conn.close()
            self._conn.logout()
        except (imaplib.IMAP4.error, OSError) as exc:
            _log.debug("logout: %s", type(exc).__name__)
            _shutdown(self._conn)  # logout closes the socket only when the server answers
        finally:
            self._selected = None

    def _call(self, what: str, typ_data: tuple[str, list[object]]) -> list[object]:
        typ, data = typ_data
        if typ != "OK":
            words = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise mailbox_problem(
                "refused", f"The {imap_server(self.profile)} refused to {what}: {words}", ""
            )
        return data

    def _run(self, what: str, command: str, *args: str) -> list[object]:
        try:
            method = getattr(self._conn, command)
            return self._call(what, method(*args))
        except MailboxError:
            raise
        except (imaplib.IMAP4.error, OSError) as exc:
            given_up = getattr(self._conn, "given_up", "")
            if given_up:  # imaplib rewords the abort: the reason is kept on the connection
                raise mailbox_problem(
                    "disconnected",
                    f"The {imap_server(self.profile)} was left: {given_up}.",
                    "The server does not answer as an IMAP server should; check the IMAP "
                    "host and port, or ask the provider.",
                ) from None
            if isinstance(exc, imaplib.IMAP4.abort | OSError):
                raise diagnose_imap(exc, self.profile) from None
            raise mailbox_problem(
                "refused",
                f"The {imap_server(self.profile)} refused to {what}: {error_words(exc)}",
                "",
            ) from None

    # -- folders --------------------------------------------------------------------------
    def folders(self) -> list[Folder]:
        """Every folder the server lists."""
        self.skipped = []
        return parse_list(self._run("list the folders", "list", '""', "*"), self.skipped)

    def sent_folder(self) -> Folder:
        """The profile's Sent folder; else the one marked \\Sent; else the usual names."""
        if self._sent is not None:
            return self._sent
        folders = [folder for folder in self.folders() if folder.selectable]
        wanted = self.profile.sent_folder
        if wanted:
            for folder in folders:
                if wanted in (folder.name, folder.raw):
                    self._sent = folder
                    return folder
            names = ", ".join(sorted(f.name for f in folders)) or "none"
            raise mailbox_problem(
                "folder_missing",
                f"Profile {self.profile.name!r}: the Sent folder {wanted!r} does not exist on "
                f"the {imap_server(self.profile)} (its folders: {names}).",
                f"Give one of those names with {setting('sent_folder')}, or leave it empty "
                "to find the "
                "Sent folder automatically.",
            )
        marked = [folder for folder in folders if folder.special_sent]
        if marked:
            self._sent = marked[0]
            return self._sent
        usual = {name.casefold(): rank for rank, name in enumerate(SENT_NAMES)}
        named = sorted(
            (usual[folder.leaf.casefold()], folder)
            for folder in folders
            if folder.leaf.casefold() in usual
        )
        if named:
            self._sent = named[0][1]
            return self._sent
        names = ", ".join(sorted(f.name for f in folders)) or "none"
        raise mailbox_problem(
            "no_sent_folder",
            f"The {imap_server(self.profile)} has no folder marked as Sent and none of the usual "
            f"names (its folders: {names}).",
            f"Name the folder to keep sent mail in with {setting('sent_folder')}.",
        )

    # -- messages -------------------------------------------------------------------------
    def append(self, data: bytes, folder: Folder | None = None, when: float | None = None) -> None:
        """Store ``data`` in ``folder`` (default: Sent), flagged \\Seen."""
        target = folder or self.sent_folder()
        moment = imaplib.Time2Internaldate(when if when is not None else time.time())
        self._run(
            f"store a copy in {target.name!r}",
            "append",
            quoted(target.raw),
            "(\\Seen)",
            moment,
            data,  # type: ignore[arg-type]
        )

    def contains(self, message_id: str, folder: Folder | None = None) -> bool:
        """Whether ``folder`` (default: Sent) holds a message with this Message-ID."""
        target = folder or self.sent_folder()
        if self._selected != target.raw:
            self._run(f"open {target.name!r}", "select", quoted(target.raw), True)  # type: ignore[arg-type]
            self._selected = target.raw
        data = self._run(
            f"search {target.name!r}", "uid", "SEARCH", "HEADER", "Message-ID", quoted(message_id)
        )
        found = b" ".join(d for d in data if isinstance(d, bytes)).split()
        return bool(found)

    # -- the INBOX, read only (delivery reports) ------------------------------------------------
    def report_candidates(self, since: float | None = None) -> list[tuple[str, bytes]]:
        """(identity, header block) of each INBOX message since ``since`` that may be a report.

        The INBOX is opened with EXAMINE (read-only) and read with BODY.PEEK: no flag changes,
        not even \\Seen. The identity is the message's Message-ID with a hash of its header
        block: the same whatever the server numbers it, distinct for two messages that share a
        Message-ID.
        """
        self._examine_inbox()
        criteria = list(_MAYBE_REPORT)
        if since is not None:  # a day earlier: SINCE compares dates in the server's zone
            criteria += ["SINCE", time.strftime("%d-%b-%Y", time.gmtime(since - 86400))]
        data = self._run("search the INBOX", "uid", "SEARCH", *criteria)
        uids = b" ".join(d for d in data if isinstance(d, bytes)).decode().split()
        found: list[tuple[str, bytes]] = []
        for start in range(0, len(uids), 200):
            chunk = ",".join(uids[start : start + 200])
            with whole_messages(self._conn):
                fetched = self._run(
                    "read the INBOX", "uid", "FETCH", chunk, "(UID BODY.PEEK[HEADER])"
                )
            for item in fetched:
                if not isinstance(item, tuple):
                    continue
                match = re.search(rb"UID (\d+)", item[0])
                if match is None:
                    continue
                uid = match.group(1).decode()
                head = bytes(item[1])
                mid = re.search(rb"(?im)^Message-ID:[ \t]*(<[^>\r\n]+>)", head)
                named = mid.group(1).decode("ascii", "replace") if mid else ""
                identity = f"{named}|{hashlib.sha256(head).hexdigest()[:20]}"
                self._inbox_uids[identity] = uid
                found.append((identity, head))
        return found

    def message_bytes(self, identity: str) -> bytes:
        """The whole INBOX message ``identity`` (from ``report_candidates``), flags untouched."""
        self._examine_inbox()
        uid = self._inbox_uids[identity]
        with whole_messages(self._conn):
            data = self._run("read the INBOX", "uid", "FETCH", uid, "(BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple):
                return bytes(item[1])
        return b""

    def move_reports(self, identities: Sequence[str], folder: str) -> int:
        """Move these INBOX messages (from ``report_candidates``) into ``folder``, made when
        it does not exist; how many were moved. Nothing else in the INBOX is touched."""
        uids = [self._inbox_uids[i] for i in dict.fromkeys(identities) if i in self._inbox_uids]
        if not uids:
            return 0
        known = next((f for f in self.folders() if folder in (f.name, f.raw)), None)
        raw = known.raw if known is not None else encode_folder_name(folder)
        if known is None:
            self._run(f"make the folder {folder!r}", "create", quoted(raw))
        self._run("open the INBOX", "select", "INBOX")  # read-write, for this only
        self._selected = "\0INBOX (read-write)"
        uid_set = ",".join(uids)
        what = f"move delivery reports to {folder!r}"
        answer = self._run("list its capabilities", "capability")  # as after the login
        offered = set(b" ".join(d for d in answer if isinstance(d, bytes)).upper().split())
        if b"MOVE" in offered:
            self._run(what, "uid", "MOVE", uid_set, quoted(raw))
        else:  # copy, then mark; expunge only these (UIDPLUS), never what others marked
            self._run(what, "uid", "COPY", uid_set, quoted(raw))
            self._run(what, "uid", "STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")
            if b"UIDPLUS" in offered:
                self._run(what, "uid", "EXPUNGE", uid_set)
        for identity in identities:
            self._inbox_uids.pop(identity, None)
        self._examine_inbox()  # back to read-only: closing never expunges the INBOX
        return len(uids)

    def _examine_inbox(self) -> None:
        if self._selected == _INBOX_READ_ONLY:
            return
        self._run("open the INBOX", "select", "INBOX", True)  # type: ignore[arg-type]
        self._selected = _INBOX_READ_ONLY


#: what may be a delivery report, searched by the server (read_report decides): a report's
#: content type, a mailer daemon's or postmaster's address, an automatic message, Exim's
#: failed-recipients header, or the empty return path of a bounce
_MAYBE_REPORT = (
    "OR", "OR", "OR", "OR", "OR",
    "HEADER", "Content-Type", "report",
    "FROM", "mailer-daemon",
    "FROM", "postmaster",
    "HEADER", "Auto-Submitted", "auto",
    "HEADER", "X-Failed-Recipients", "@",
    "HEADER", "Return-Path", '"<>"',
)  # fmt: skip
#: what ``_selected`` holds while the INBOX is open read-only (no folder is spelled so)
_INBOX_READ_ONLY = "\0INBOX (read-only)"


def open_mailbox(profile: Profile, password: str | None = None) -> Mailbox:
    """Connect to the profile's IMAP server, verify TLS, log in with the SMTP credentials."""
    if not profile.imap_host:
        raise mailbox_problem(
            "no_imap",
            f"Profile {profile.name!r} has no IMAP server.",
            f"Add one with 'docmail profile add {profile.name} ... --imap-host HOST'.",
        )
    if not profile.username:
        raise mailbox_problem(
            "no_login",
            f"Profile {profile.name!r} has an IMAP server but no username to log in with.",
            f"IMAP uses the profile's SMTP login: add {setting('username')} (and its password).",
        )
    try:
        secret = require_password(profile, password) or ""
    except SecretStoreError as exc:
        raise mailbox_problem("no_password", exc.message, exc.hint) from None
    conn = _imap_connect(profile)
    _imap_login(conn, profile, secret)
    return Mailbox(conn, profile)


def _imap_connect(profile: Profile) -> imaplib.IMAP4:
    """A connection to the profile's IMAP server, TLS verified (implicit, or STARTTLS)."""
    context = _tls_context(profile)
    port = profile.imap_port_or_default
    conn: imaplib.IMAP4 | None = None
    try:
        if profile.imap_security == "ssl":
            return BoundedIMAP4_SSL(
                profile.imap_host, port, ssl_context=context, timeout=profile.timeout
            )
        conn = BoundedIMAP4(profile.imap_host, port, timeout=profile.timeout)
        if "STARTTLS" not in conn.capabilities:
            raise mailbox_problem(
                "starttls_unavailable",
                f"The {imap_server(profile)} does not offer STARTTLS.",
                f"Use {setting('imap_security', 'ssl')} (usually port 993).",
            )
        conn.starttls(ssl_context=context)
        return conn
    except (OSError, imaplib.IMAP4.error) as exc:
        if conn is not None:
            _shutdown(conn)
        raise diagnose_imap(exc, profile) from None
    except MailboxError:
        if conn is not None:
            _shutdown(conn)
        raise


def _imap_login(conn: imaplib.IMAP4, profile: Profile, secret: str) -> None:
    """Log in with the SMTP credentials (password, or the sign-in's token); shut down if not."""
    try:
        if profile.auth == "password":
            conn.login(profile.username, secret)
        else:  # the SMTP sign-in's access token, over SASL XOAUTH2
            from docmail_nb._auth.signin import access_token
            from docmail_nb._auth.tokens import xoauth2

            token = access_token(profile).value
            conn.authenticate("XOAUTH2", lambda _: xoauth2(profile.username, token).encode())
    except imaplib.IMAP4.abort as exc:
        _shutdown(conn)
        raise diagnose_imap(exc, profile) from None
    except imaplib.IMAP4.error as exc:
        _shutdown(conn)
        raise mailbox_problem(
            "login_failed",
            f"The {imap_server(profile)} did not accept the login of {profile.username}: "
            f"{error_words(exc)}",
            "IMAP uses the profile's SMTP username and password: check both (with two-factor "
            "authentication, an app password).",
        ) from None
    except OSError as exc:
        _shutdown(conn)
        raise diagnose_imap(exc, profile) from None
    except DocmailError as exc:  # no access token (sign-in expired, token command failed)
        _shutdown(conn)
        raise mailbox_problem("login_failed", exc.message, exc.hint) from None


def _shutdown(conn: imaplib.IMAP4) -> None:
    try:
        conn.shutdown()
    except OSError as exc:
        _log.debug("shutdown: %s", type(exc).__name__)


@dataclass(frozen=True)
class MailboxCheck:
    """What Test connection found on the IMAP side."""

    ok: bool
    summary: str
    hint: str = ""
    folder: str = ""
    kind: str = "ok"


def check_mailbox(profile: Profile, password: str | None = None) -> MailboxCheck:
    """Log in to IMAP and find the Sent folder; never raises for what the server says."""
    try:
        with open_mailbox(profile, password) as mailbox:
            folder = mailbox.sent_folder()
    except MailboxError as exc:
        return MailboxCheck(False, exc.message, exc.hint, kind=exc.kind)
    how = "marked as Sent" if folder.special_sent and not profile.sent_folder else "by name"
    if profile.sent_folder:
        how = "as set in the profile"
    security = "TLS" if profile.imap_security == "ssl" else "STARTTLS"
    copies = (
        "copies of sent messages go there"
        if profile.copy_to_sent
        else "the provider files sent mail there itself"
    )
    return MailboxCheck(
        True,
        f"IMAP: connected to {profile.imap_host}:{profile.imap_port_or_default} with "
        f"{security}, certificate verified, logged in as {profile.username}; Sent folder "
        f"{folder.name!r} ({how}); {copies}.",
        folder=folder.name,
    )
