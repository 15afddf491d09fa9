"""Known providers: servers, ports, security, IMAP for the Sent folder, published limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "GOOGLE_PRESETS",
    "IMAP_PORT",
    "IMAP_SECURITIES",
    "PRESETS",
    "SECURITIES",
    "USUAL_PORT",
    "ImapSecurity",
    "Limits",
    "Preset",
    "Security",
]


Security = Literal["ssl", "starttls", "none"]

SECURITIES: tuple[Security, ...] = get_args(Security)

GOOGLE_PRESETS = ("gmail", "google_workspace")

USUAL_PORT: dict[Security, int] = {"ssl": 465, "starttls": 587, "none": 25}

ImapSecurity = Literal["ssl", "starttls"]

IMAP_SECURITIES: tuple[ImapSecurity, ...] = get_args(ImapSecurity)

IMAP_PORT: dict[ImapSecurity, int] = {"ssl": 993, "starttls": 143}


@dataclass(frozen=True)
class Limits:
    """Known sending limits of a provider; ``None`` means unknown or unlimited.

    "day" is a rolling 24 hours and "hour" a rolling 60 minutes, as providers count them;
    a recipient limit counts every envelope address (To, Cc and Bcc) of every message.
    """

    messages_per_minute: int | None = None
    max_connections: int | None = None
    messages_per_day: int | None = None
    recipients_per_day: int | None = None
    recipients_per_message: int | None = None
    messages_per_hour: int | None = None
    recipients_per_hour: int | None = None

    def windows(self) -> list[tuple[float, int | None, int | None]]:
        """(seconds, messages, recipients) of the hourly and daily rolling limits.

        When one is reached, the rest of a batch waits for a later run; the per-minute limit
        is a pace instead (a run waits for it).
        """
        found = [
            (3600.0, self.messages_per_hour, self.recipients_per_hour),
            (86400.0, self.messages_per_day, self.recipients_per_day),
        ]
        return [window for window in found if window[1] is not None or window[2] is not None]

    def lines(self) -> list[str]:
        """Each limit in words, for ``docmail profile show``."""
        words = {
            "messages_per_minute": "messages a minute",
            "messages_per_hour": "messages an hour (rolling)",
            "recipients_per_hour": "recipients an hour (rolling)",
            "messages_per_day": "messages in 24 hours (rolling)",
            "recipients_per_day": "recipients in 24 hours (rolling)",
            "recipients_per_message": "recipients per message",
            "max_connections": "connections at a time",
        }
        return [
            f"{value:,} {text}"
            for name, text in words.items()
            if (value := getattr(self, name)) is not None
        ]


@dataclass(frozen=True)
class Preset:
    """Server settings and limits of a common provider.

    ``files_sent``: the provider puts mail submitted over SMTP into Sent itself, so no copy
    is appended over IMAP.
    """

    key: str
    label: str
    host: str
    port: int
    security: Security
    limits: Limits
    imap_host: str = ""
    files_sent: bool = False


PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset("generic", "Other SMTP server", "", 587, "starttls", Limits()),
        Preset(
            "gmail",
            "Gmail (personal account)",
            "smtp.gmail.com",
            465,
            "ssl",
            Limits(messages_per_day=500, recipients_per_message=100),
            imap_host="imap.gmail.com",
            files_sent=True,
        ),
        Preset(
            "google_workspace",
            "Google Workspace",
            "smtp.gmail.com",
            465,
            "ssl",
            Limits(messages_per_day=2000, recipients_per_day=10000, recipients_per_message=100),
            imap_host="imap.gmail.com",
            files_sent=True,
        ),
        Preset(
            "microsoft365",
            "Microsoft 365 / Exchange Online",
            "smtp.office365.com",
            587,
            "starttls",
            Limits(
                messages_per_minute=30,
                max_connections=3,
                recipients_per_day=10000,
                recipients_per_message=500,
            ),
            imap_host="outlook.office365.com",
            files_sent=True,
        ),
        # Swiss hosters: limits as each publishes them (sources in docs/connect.md)
        Preset(
            "infomaniak",
            "Infomaniak",
            "mail.infomaniak.com",
            465,
            "ssl",
            Limits(recipients_per_day=500, recipients_per_message=100),
            imap_host="mail.infomaniak.com",
        ),
        Preset(
            "cyon",
            "cyon",
            "mail.cyon.ch",
            465,
            "ssl",
            Limits(recipients_per_hour=100, recipients_per_message=50),
            imap_host="mail.cyon.ch",
        ),
        Preset(
            "hostpoint",
            "Hostpoint",
            "asmtp.mail.hostpoint.ch",
            465,
            "ssl",
            Limits(),
            imap_host="imap.mail.hostpoint.ch",
        ),
        Preset(
            "swisscom",
            "Swisscom (bluewin.ch)",
            "smtpauths.bluewin.ch",
            465,
            "ssl",
            Limits(),
            imap_host="imaps.bluewin.ch",
        ),
    )
}
