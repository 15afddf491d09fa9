"""The mailbox's limits in the ledger: what an account sent in a rolling window (over every run
and every sender of the ledger), a place in its pace, how many messages fit the windows now,
and the first window one more message would exceed."""

from __future__ import annotations

import json
from collections.abc import Sequence

from docmail_nb._store.ledger_store import LedgerStore, Store
from docmail_nb._store.records import Window

__all__ = ["DAY", "LedgerLimits"]

DAY = 24 * 3600.0


class LedgerLimits(LedgerStore):
    """Usage of a mailbox counted in rolling windows, and its pace."""

    def usage_last_day(self, account: str) -> tuple[int, int]:
        """Messages and recipients sent (or possibly sent) by ``account`` in the last 24 hours."""
        return self.usage(account, DAY)

    def usage(self, account: str, seconds: float) -> tuple[int, int]:
        """Messages and recipients sent (or possibly sent) by ``account``, all runs, in the
        last ``seconds``."""
        with self._lock, self._plain_errors():
            attempts = self._attempts(self._db, account, seconds)
        return len(attempts), sum(count for _, count in attempts)

    def attempt_ages(self, account: str, seconds: float) -> list[float]:
        """How many seconds ago each message of ``account`` went out, within ``seconds``."""
        with self._lock:
            now = self._clock()
            return [now - at for at, _ in self._attempts(self._db, account, seconds)]

    def _attempts(self, db: Store, account: str, seconds: float) -> list[tuple[float, int]]:
        rows = db.execute(
            "SELECT attempted_at, recipients FROM messages WHERE account = ? "
            "AND attempted_at >= ? "
            "AND state IN ('sending', 'sent', 'unknown', 'delayed', 'bounced') "
            "ORDER BY attempted_at",
            (account, self._clock() - seconds),
        ).fetchall()
        return [(row["attempted_at"], len(json.loads(row["recipients"]))) for row in rows]

    def pace(
        self, run_id: str, campaign: str, key: str, account: str, capacity: int, window: float
    ) -> float:
        """Take a place for this claimed message in the mailbox's rolling ``window``, which
        holds at most ``capacity`` messages of every run and every sender of the ledger.

        Returns 0.0 when the place is taken (the message counts from now on), else how many
        seconds to wait before asking again. One sender asks at a time per mailbox.
        """
        now = self._clock()
        with self._transaction() as db:
            db.serialize("mailbox", account)
            rows = db.execute(
                "SELECT attempted_at FROM messages WHERE account = ? AND attempted_at > ? "
                "AND NOT (campaign = ? AND key = ?) ORDER BY attempted_at",
                (account, now - window, campaign, key),
            ).fetchall()
            if len(rows) < capacity:
                db.execute(
                    "UPDATE messages SET attempted_at = ? WHERE campaign = ? AND key = ? "
                    "AND owner_run = ?",
                    (now, campaign, key, run_id),
                )
                return 0.0
            return max(float(rows[len(rows) - capacity]["attempted_at"]) + window - now, 0.001)

    def room(self, account: str, windows: Sequence[Window], recipients: Sequence[int]) -> int:
        """How many of these messages (their recipient counts, in order) fit the windows now."""
        with self._lock:
            used = [
                (len(attempts), sum(count for _, count in attempts), messages, people)
                for seconds, messages, people in windows
                for attempts in [self._attempts(self._db, account, seconds)]
            ]
        for fitted, count in enumerate(recipients):
            for index, (sent, reached, messages, people) in enumerate(used):
                if (messages is not None and sent + 1 > messages) or (
                    people is not None and reached + count > people
                ):
                    return fitted
                used[index] = (sent + 1, reached + count, messages, people)
        return len(recipients)

    def _window_exceeded(
        self, db: Store, account: str, recipients: int, windows: Sequence[Window]
    ) -> tuple[float, float] | None:
        """The first window one more message would exceed, and when it fits again."""
        now = self._clock()
        for seconds, max_messages, max_recipients in windows:
            attempts = self._attempts(db, account, seconds)
            sent = len(attempts)
            reached = sum(count for _, count in attempts)
            too_many = max_messages is not None and sent + 1 > max_messages
            too_wide = max_recipients is not None and reached + recipients > max_recipients
            if not (too_many or too_wide):
                continue
            free_at = now
            left_messages, left_recipients = sent, reached
            for at, count in attempts:  # oldest first: when enough of them left the window
                fits_messages = max_messages is None or left_messages + 1 <= max_messages
                fits_recipients = (
                    max_recipients is None or left_recipients + recipients <= max_recipients
                )
                if fits_messages and fits_recipients:
                    break
                left_messages -= 1
                left_recipients -= count
                free_at = at + seconds
            return seconds, free_at
        return None
