"""Opening sessions for a batch: a bounded number of tries, then the batch stops.

Before the first command can be sent a session may fail in many ways: no greeting in time, a
dropped connection, ``421`` at the greeting, ``454`` to STARTTLS or to AUTH, a connection that
closes during AUTH. Each of these is tried again, after a pause, but never endlessly and never
so often that the server locks the account:

- at most ``MAX_FAILED_OPENS`` (3) failed tries per run in all (every worker, every message
  counts; each try is at most one login with the password), with ``retry_delay`` seconds
  before the second try and twice that before the third;
- a failure that no retry can mend (a wrong password, TLS, the configuration) stops the
  batch at once.

A server that never answers thus ends the batch after at most 3 × the profile's timeout
plus the pauses (3 × 30 s + 5 s + 10 s with the defaults).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from docmail_nb._mail.transport import Session, Transport
from docmail_nb.errors import SMTPProblem

__all__ = ["MAX_FAILED_OPENS", "SessionOpener"]

MAX_FAILED_OPENS = 3


class SessionOpener:
    """Opens the sessions of one run through ``transport`` (thread-safe)."""

    def __init__(
        self,
        transport: Transport,
        *,
        sleep: Callable[[float], None],
        retry_delay: float,
        max_retry_delay: float,
        max_failures: int = MAX_FAILED_OPENS,
    ) -> None:
        self.transport = transport
        self.sleep = sleep
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.max_failures = max_failures
        self.failures = 0
        self.stopped: SMTPProblem | None = None
        self._lock = threading.Lock()

    def open(self) -> Session:
        """A session, or SMTPProblem with a "fatal" diagnosis once the tries are used up."""
        while True:
            with self._lock:
                if self.stopped is not None:
                    raise self.stopped  # never try again what already stopped the run
                try:
                    return self.transport.open()
                except SMTPProblem as problem:
                    diagnosis = problem.diagnosis
                    self.failures += 1
                    if diagnosis.outcome == "retry" and self.failures < self.max_failures:
                        delay = min(
                            self.retry_delay * 2 ** (self.failures - 1), self.max_retry_delay
                        )
                    else:
                        if diagnosis.outcome == "retry":
                            tries = f" (tried {self.failures} times in this run)"
                            diagnosis = dataclasses.replace(
                                diagnosis, summary=diagnosis.summary + tries, outcome="fatal"
                            )
                        self.stopped = SMTPProblem(diagnosis)
                        raise self.stopped from None
            self.sleep(delay)
