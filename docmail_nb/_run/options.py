"""How a batch is sent: ``SendOptions``, the settings of one run (dry run, limit, pace, retries)."""

from __future__ import annotations

from dataclasses import dataclass

from docmail_nb.errors import ConfigError

__all__ = ["SendOptions"]


@dataclass
class SendOptions:
    """How a batch is sent; the defaults suit a first careful run."""

    dry_run: bool = False
    limit: int | None = None  # at most this many messages in this run
    rate_per_minute: float | None = None  # None: the profile's preset limit, if any
    connections: int = 1  # capped by the profile's preset
    resend_unknown: bool = False
    resend_changed: bool = False
    resend_bounced: bool = False  # send a bounced key again though its recipients are the same
    max_attempts: int = 3  # per message and run, for temporary (4xx) trouble
    retry_delay: float = 5.0  # first backoff in seconds, doubled per attempt
    max_retry_delay: float = 60.0
    all_or_nothing: bool = False  # send nothing when any row has a problem
    jobs: int | None = None  # processes drawing documents; None: one per core, 1: in the run

    def __post_init__(self) -> None:
        """One rule for every face: a limit is a whole number above 0 (None: no limit)."""
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise ConfigError(
                f"The limit must be a whole number above 0, not {self.limit!r}.",
                "Give the most messages this run may send (e.g. 10), or no limit at all.",
            )
