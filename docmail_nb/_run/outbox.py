"""Every message of a plan with its state, as a mail program's outbox lists them.

``outbox(plan, ledger)`` gives one :class:`OutboxEntry` per message (ready, or what the ledger says
about it: sent, unknown, changed) and one per row with a problem, before anything is sent;
``OutboxEntry.after(result)`` is the same message once a run has reported on it. The states and
their words live here once, for every face that lists messages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from docmail_nb._compose.problem_list import join_reasons
from docmail_nb._store.ledger import LedgerLike, existing_ledger
from docmail_nb._store.status import campaign_status

if TYPE_CHECKING:
    from docmail_nb._compose.plan import Draft, Plan
    from docmail_nb._compose.rows import Problem
    from docmail_nb._run.report import MessageResult

from docmail_nb.words import OUTBOX_ORDER, OutboxState

__all__ = ["OutboxEntry", "count_states", "outbox", "progress_text"]


_FROM_RESULT: dict[str, OutboxState] = {
    "sent": "sent",
    "skipped": "skipped",
    "failed": "failed",
    "deferred": "failed",
    "unknown": "unknown",
    "changed": "changed",
    "planned": "not sent",
    "busy": "busy",
    "dry-run": "dry-run",
    "problem": "problem",
    "bounced": "bounced",
}


_FROM_LEDGER: dict[str, OutboxState] = {
    "unknown": "unknown", "changed": "changed", "skipped": "sent", "busy": "busy",
    "bounced": "bounced",
}  # fmt: skip


@dataclass(frozen=True)
class OutboxEntry:
    """One message (or one row that has none, with its problem)."""

    rows: tuple[int, ...]
    key: str
    to: str
    state: OutboxState
    note: str = ""
    hint: str = ""
    status: str = ""  # after "sent", as docmail status says it: bounced 5.1.1, paid 1234.50, ...

    @property
    def row(self) -> int:
        """The first sheet row of the message (0 for a problem of the whole template)."""
        return self.rows[0] if self.rows else 0

    def after(self, result: MessageResult) -> OutboxEntry:
        """This message as a run reported it."""
        state = _FROM_RESULT.get(result.state, "failed")
        note = result.error  # refused recipients are named in it
        if state == "skipped" and not note:
            note = "Sent by an earlier run."
        return replace(self, state=state, note=note, hint=result.hint)


def outbox(plan: Plan, ledger: LedgerLike = None) -> list[OutboxEntry]:
    """Each message of ``plan`` with its state by the ledger (not changed), then problem rows."""
    from docmail_nb._run.send import would_send  # the same rule as the run's

    entries: list[OutboxEntry] = []
    with existing_ledger(ledger) as existing:
        after = {}
        if existing is not None:  # what docmail status says of each key
            after = {s.key: s.short for s in campaign_status(existing, plan.campaign)}
        for draft in plan.drafts:
            state: OutboxState = "ready"
            note = ""
            if existing is not None:
                _, decided, note = would_send(existing, plan.campaign, draft, False, False)
                state = _FROM_LEDGER.get(decided, "ready")
                if state == "sent":
                    note = "Sent by an earlier run."
            entries.append(replace(_entry(draft, state, note), status=after.get(draft.key, "")))
    entries += _problem_entries(plan.problems, plan.row_keys)
    return entries


def _entry(draft: Draft, state: OutboxState, note: str) -> OutboxEntry:
    return OutboxEntry(draft.rows, draft.key, ", ".join(draft.to), state, note)


def _problem_entries(problems: list[Problem], keys: dict[int, str]) -> list[OutboxEntry]:
    by_row: dict[int, list[Problem]] = {}
    for problem in problems:
        if problem.row is not None:
            by_row.setdefault(problem.row, []).append(problem)
    return [
        OutboxEntry(
            (row,),
            keys.get(row) or listed[0].key or "",
            "",
            "problem",
            join_reasons(p.reason for p in listed),
            " ".join(dict.fromkeys(p.hint for p in listed if p.hint)),
        )
        for row, listed in sorted(by_row.items())
    ]


def count_states(entries: list[OutboxEntry]) -> dict[OutboxState, int]:
    """How many messages are in each state, in the order of OUTBOX_ORDER."""
    counts = dict.fromkeys(OUTBOX_ORDER, 0)
    for entry in entries:
        counts[entry.state] += 1
    return {state: n for state, n in counts.items() if n}


def progress_text(
    done: int, total: int, elapsed_s: float, per_minute_limit: float | None, current: str = ""
) -> str:
    """'313 / 1,500 · row 315 (R-1) · 28.1 a minute · about 42 min left'."""
    parts = [f"{done:,} / {total:,}"]
    if current:
        parts.append(current)
    measured = done / elapsed_s * 60 if done and elapsed_s > 0 else None
    if measured is not None:
        parts.append(f"{measured:,.1f} a minute")
    speed = min(filter(None, (measured, per_minute_limit)), default=None)
    if speed and done < total:
        parts.append(f"about {_duration((total - done) / speed * 60)} left")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
