"""How fast a batch may go: rates per minute, connections, and the sliding window that holds it.

A provider's known limits come with the profile's preset (``Profile.limits``); hourly and
daily limits are rolling windows counted across runs by the ledger (``Ledger.claim``).
Impossible settings raise ConfigError naming the setting.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from docmail_nb._store.profiles import Profile
from docmail_nb.errors import ConfigError
from docmail_nb.words import setting

__all__ = [
    "RateLimiter",
    "connections",
    "limit_note",
    "messages_per_minute",
    "rate",
    "too_many_recipients",
]

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*min(?:ute)?)?\s*$", re.IGNORECASE)


def messages_per_minute(value: str | float | None) -> float | None:
    """A rate such as ``30``, ``"30/min"`` or ``"0.5/minute"``; None for no rate.

    ConfigError names the rate as the face in use spells it when the value is not a positive
    rate.
    """
    if value is None or value == "":
        return None
    found: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = float(value)
    elif isinstance(value, str) and (match := _RATE.match(value)) is not None:
        found = float(match.group(1))
    if found is None or not 0 < found < float("inf"):
        raise ConfigError(
            f"The rate {value!r} ({setting('rate')}) is not a number of messages per minute.",
            f"Write it like {setting('rate', '30/min')} (or {setting('rate', '0.5/min')} for one "
            "every two minutes).",
        )
    return found


def connections(wanted: int, profile: Profile) -> int:
    """How many connections a batch may open: ``wanted``, capped by the profile's preset."""
    if wanted < 1:
        raise ConfigError(
            f"{wanted} connections is not possible.", f"Give {setting('connections')} 1 or more."
        )
    cap = profile.limits.max_connections
    return min(wanted, cap) if cap else wanted


def rate(wanted: float | None, profile: Profile) -> float | None:
    """The rate a batch keeps: the lower of ``wanted`` and the preset's, None for no limit."""
    rates = [r for r in (wanted, profile.limits.messages_per_minute) if r]
    return min(rates) if rates else None


class RateLimiter:
    """At most ``per_minute`` sends in any 60-second window (a sliding window of send times)."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not per_minute > 0:
            raise ConfigError(
                f"The rate {per_minute} messages per minute is not possible.",
                f"Give a positive number, e.g. {setting('rate', '30/min')}.",
            )
        self.capacity = max(1, math.floor(per_minute))
        self.window = 60.0 * self.capacity / per_minute if per_minute < 1 else 60.0
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def seed(self, ages: list[float]) -> None:
        """Count sends of earlier runs, ``ages`` seconds ago, so the window spans runs."""
        with self._lock:
            now = self._clock()
            self._times = deque(sorted([*self._times, *(now - age for age in ages)]))

    def acquire(self) -> None:
        """Wait until one more send fits into the window, and count it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._times and self._times[0] <= now - self.window:
                    self._times.popleft()
                if len(self._times) < self.capacity:
                    self._times.append(now)
                    return
                self._sleep(self._times[0] + self.window - now)


_WINDOW_NAMES = {60.0: "per-minute", 3600.0: "hourly", 86400.0: "daily"}


def limit_note(profile: Profile, left: int, window: float | None, free_at: float | None) -> str:
    """Which rolling limit (counted by the ledger) stopped a run, what waits, and when the
    next message fits again."""
    from datetime import datetime

    name = _WINDOW_NAMES.get(window or 0.0, "sending")
    limits = "; ".join(profile.limits.lines()) or "the provider's limit"
    note = (
        f"The {name} limit of the profile {profile.name!r} is reached ({limits}; counted "
        f"over every run in the ledger): {left} message(s) stay planned for the next run."
    )
    if free_at is not None:
        when = datetime.fromtimestamp(free_at).astimezone()
        note += f" The next message fits from {when:%Y-%m-%d %H:%M %Z}."
    return note


def too_many_recipients(profile: Profile, recipients: int) -> str:
    """Why a message with this many envelope addresses cannot go through ``profile``, or ""."""
    cap = profile.limits.recipients_per_message
    if cap is None or recipients <= cap:
        return ""
    return (
        f"{recipients} recipients (To, Cc and Bcc) are more than the {cap} per message the "
        f"provider of profile {profile.name!r} accepts; not sent."
    )
