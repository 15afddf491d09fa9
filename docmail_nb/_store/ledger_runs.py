"""The ledger's runs: registered while they go, alive while their process is (SQLite: same host;
another host's run while its heartbeat is recent) or while their database session is
(PostgreSQL), and the connection places of a mailbox they hold, over every sender sharing the
ledger."""

from __future__ import annotations

import os
import uuid

from docmail_nb._store.ledger_store import LedgerStore, Store

__all__ = ["PLACEHOLDER", "STALE_AFTER", "LedgerRuns"]

#: a run on another host whose heartbeat is older than this is taken for dead
STALE_AFTER = 15 * 60.0

# runs of this process that are still going; a claim by any other run of this pid is stale
_ACTIVE_RUNS: set[str] = set()

#: a message a run reserved (``Ledger.reserve``) and never claimed: nothing but its owner
PLACEHOLDER = "owner_run = ? AND state = 'planned' AND message_id = '' AND attempts = 0"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LedgerRuns(LedgerStore):
    """Runs of any sender: begun, ended, alive or not; the connection places they hold."""

    # -- runs ---------------------------------------------------------------------------
    def begin_run(self) -> str:
        """Register a new run of this process and return its id."""
        run_id = uuid.uuid4().hex
        now = self._clock()
        with self._lock, self._plain_errors():
            self._db.hold_run(run_id)  # PostgreSQL: the run lives as long as this session
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                (run_id, os.getpid(), self._host, now, now),
            )
        _ACTIVE_RUNS.add(run_id)
        return run_id

    def end_run(self, run_id: str) -> None:
        """Release what the run claimed but did not attempt; it is no longer live."""
        _ACTIVE_RUNS.discard(run_id)
        with self._transaction(synced=True) as db:
            db.execute(f"DELETE FROM messages WHERE {PLACEHOLDER}", (run_id,))  # noqa: S608
            db.execute(
                "UPDATE messages SET owner_run = NULL WHERE owner_run = ? "
                "AND state IN ('planned', 'failed', 'deferred')",
                (run_id,),
            )
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM connections WHERE run_id = ?", (run_id,))
        with self._lock, self._plain_errors():
            self._db.release_run(run_id)

    # -- a mailbox's connections, over every sender ------------------------------------------
    def take_connection(self, run_id: str, account: str, cap: int) -> bool:
        """Take one of the ``cap`` connection places of ``account`` for this run; False when
        live runs (of any sender sharing the ledger) hold them all."""
        now = self._clock()
        with self._transaction() as db:
            db.serialize("connections", account)
            held = {
                int(row["slot"]): row["run_id"]
                for row in db.execute(
                    "SELECT slot, run_id FROM connections WHERE account = ?", (account,)
                ).fetchall()
            }
            for slot in range(cap):
                owner = held.get(slot)
                if owner is None or (owner != run_id and not self._run_alive(db, owner)):
                    db.execute(
                        "INSERT OR REPLACE INTO connections VALUES (?, ?, ?, ?)",
                        (account, slot, run_id, now),
                    )
                    return True
        return False

    def release_connection(self, run_id: str, account: str) -> None:
        """Give back one connection place this run holds for ``account``."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT slot FROM connections WHERE account = ? AND run_id = ? ORDER BY slot",
                (account, run_id),
            ).fetchone()
            if row is not None:
                db.execute(
                    "DELETE FROM connections WHERE account = ? AND slot = ?",
                    (account, row["slot"]),
                )

    def _run_alive_now(self, run_id: str | None) -> bool:
        """Whether the run ``run_id`` is still going (asked outside a transaction)."""
        with self._lock, self._plain_errors():
            return self._run_alive(self._db, run_id)

    def _run_alive(self, db: Store, run_id: str | None) -> bool:
        if run_id is None:
            return False
        if run_id in _ACTIVE_RUNS:
            return True
        session = db.run_alive(run_id)
        if session is not None:  # PostgreSQL: its session holds the run's lock, or is gone
            return session
        run = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if run is None:
            return False
        if run["host"] != self._host:
            return bool(self._clock() - run["heartbeat_at"] < STALE_AFTER)
        if run["pid"] == os.getpid():
            return False  # a run of this very process that is no longer active
        return _pid_alive(int(run["pid"]))
