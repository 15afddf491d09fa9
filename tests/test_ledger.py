"""The ledger: claims, rerun decisions, owners that died, daily usage, bad files.

The tests that take ``ledger_store`` run against both stores: an SQLite file and a PostgreSQL
database (a private cluster, tests/support/pg_server.py).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers import FakeClock

from docmail_nb._store.ledger import Ledger
from docmail_nb.errors import LedgerError


def claim(ledger: Ledger, run: str, key: str = "R-1", content: str = "h1", **kw: Any) -> str:
    return ledger.claim(
        run,
        "invoices",
        key,
        content_hash=content,
        message_id=f"<{key}@example>",
        rows=(2,),
        recipients=("a@x.example", "b@y.example"),
        account="anna@example.ch",
        **kw,
    ).decision


def send(ledger: Ledger, run: str, key: str = "R-1") -> None:
    ledger.mark_sending(run, "invoices", key)
    ledger.mark_sent(run, "invoices", key, accepted=("a@x.example",), reply="250 OK")


def test_default_location_is_docmail_home_in_wal_mode(docmail_home: Path) -> None:
    with Ledger() as ledger:
        assert ledger.path == docmail_home / "ledger.sqlite"
    db = sqlite3.connect(docmail_home / "ledger.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_sent_message_is_skipped_and_its_record_is_complete(ledger_store: str | Path) -> None:
    with Ledger(ledger_store) as ledger:
        run = ledger.begin_run()
        assert claim(ledger, run) == "claimed"
        assert ledger.get("invoices", "R-1").state == "planned"  # type: ignore[union-attr]
        ledger.mark_sending(run, "invoices", "R-1")
        assert ledger.get("invoices", "R-1").state == "sending"  # type: ignore[union-attr]
        ledger.mark_sent(
            run,
            "invoices",
            "R-1",
            accepted=("a@x.example",),
            refused={"b@y.example": (550, "no such user")},
            reply="250 queued",
        )
        entry = ledger.get("invoices", "R-1")
        assert entry is not None
        assert (entry.state, entry.attempts, entry.owner_run) == ("sent", 1, None)
        assert entry.accepted == ("a@x.example",)
        assert entry.refused == {"b@y.example": (550, "no such user")}
        assert entry.message_id == "<R-1@example>"
        assert entry.rows == (2,)
        assert entry.sent_at is not None
        assert claim(ledger, run) == "sent"
        ledger.end_run(run)


def test_changed_content_after_sending_is_reported_unless_asked(ledger_store: str | Path) -> None:
    with Ledger(ledger_store) as ledger:
        run = ledger.begin_run()
        claim(ledger, run)
        send(ledger, run)
        assert claim(ledger, run, content="h2") == "changed"
        assert claim(ledger, run, content="h2", resend_changed=True) == "claimed"


@pytest.mark.parametrize("state", ["failed", "deferred"])
def test_failed_and_deferred_are_tried_again(ledger_store: str | Path, state: str) -> None:
    with Ledger(ledger_store) as ledger:
        run = ledger.begin_run()
        claim(ledger, run)
        ledger.mark_outcome(run, "invoices", "R-1", state, error="550 no", attempts=1)  # type: ignore[arg-type]
        assert ledger.get("invoices", "R-1").state == state  # type: ignore[union-attr]
        assert claim(ledger, run) == "claimed"
        assert ledger.get("invoices", "R-1").attempts == 1  # type: ignore[union-attr]


def test_attempts_add_up_over_runs(ledger_store: str | Path) -> None:
    with Ledger(ledger_store) as ledger:
        run = ledger.begin_run()
        claim(ledger, run)
        ledger.mark_outcome(run, "invoices", "R-1", "deferred", error="451 later", attempts=2)
        claim(ledger, run)
        ledger.mark_sending(run, "invoices", "R-1")
        ledger.mark_sent(run, "invoices", "R-1", accepted=("a@x.example",), attempts=1)
        assert ledger.get("invoices", "R-1").attempts == 3  # type: ignore[union-attr]


def test_the_sending_mark_is_synced_to_disk_before_it_returns(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        claim(ledger, run)
        statements: list[str] = []
        ledger._db.connection.set_trace_callback(statements.append)
        ledger.mark_sending(run, "invoices", "R-1")
        assert statements[0] == "PRAGMA synchronous=FULL"
        assert statements.index("COMMIT") < statements.index("PRAGMA synchronous=NORMAL")
        statements.clear()
        ledger.mark_sent(run, "invoices", "R-1", accepted=("a@x.example",))
        assert not any(s.startswith("PRAGMA") for s in statements)  # durable with the next sync
        ledger._db.connection.set_trace_callback(None)
        assert ledger._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_unknown_is_never_resent_unless_asked(ledger_store: str | Path) -> None:
    with Ledger(ledger_store) as ledger:
        run = ledger.begin_run()
        claim(ledger, run)
        ledger.mark_sending(run, "invoices", "R-1")
        ledger.mark_outcome(run, "invoices", "R-1", "unknown", error="dropped after DATA")
        assert claim(ledger, run) == "unknown"
        assert claim(ledger, run, resend_unknown=True) == "claimed"


def test_a_message_held_by_a_live_run_is_busy(ledger_store: str | Path) -> None:
    first = Ledger(ledger_store)
    second = Ledger(ledger_store)
    run1, run2 = first.begin_run(), second.begin_run()
    assert claim(first, run1) == "claimed"
    assert claim(second, run2) == "busy"
    first.mark_sending(run1, "invoices", "R-1")
    assert claim(second, run2) == "busy"
    with pytest.raises(LedgerError, match="no longer held"):
        second.mark_sent(run2, "invoices", "R-1", accepted=())
    first.end_run(run1)
    second.end_run(run2)
    first.close()
    second.close()


def test_end_run_releases_unattempted_claims(ledger_store: str | Path) -> None:
    with Ledger(ledger_store) as ledger:
        run1 = ledger.begin_run()
        claim(ledger, run1)
        ledger.end_run(run1)
        run2 = ledger.begin_run()
        assert claim(ledger, run2) == "claimed"


def _die_holding(path: str | Path, key: str, sending: bool) -> None:
    """A separate process claims ``key`` (and marks it sending), then dies without cleaning up."""
    script = textwrap.dedent(
        f"""
        import os
        from docmail_nb._store.ledger import Ledger
        ledger = Ledger({str(path)!r})
        run = ledger.begin_run()
        ledger.claim(run, "invoices", {key!r}, content_hash="h1", message_id="<m>",
                     rows=(2,), recipients=("a@x.example",), account="anna@example.ch")
        if {sending!r}:
            ledger.mark_sending(run, "invoices", {key!r})
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_claims_of_a_dead_run_are_taken_over_and_sending_becomes_unknown(
    ledger_store: str | Path,
) -> None:
    path = ledger_store
    _die_holding(path, "R-1", sending=False)
    _die_holding(path, "R-2", sending=True)
    with Ledger(path) as ledger:
        run = ledger.begin_run()
        assert claim(ledger, run, "R-1") == "claimed"
        assert claim(ledger, run, "R-2") == "unknown"
        entry = ledger.get("invoices", "R-2")
        assert entry is not None
        assert entry.state == "unknown"
        assert "stopped before the server answered" in entry.error
        assert claim(ledger, run, "R-2", resend_unknown=True) == "claimed"


def test_daily_cap_counts_the_last_24_hours_of_the_account(ledger_store: str | Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    with Ledger(ledger_store, clock=clock) as ledger:
        run = ledger.begin_run()
        for key in ("R-1", "R-2"):
            claim(ledger, run, key)
            send(ledger, run, key)
        assert ledger.usage_last_day("anna@example.ch") == (2, 4)
        assert ledger.usage_last_day("someone@else.example") == (0, 0)
        assert claim(ledger, run, "R-3", messages_per_day=2) == "capped"
        assert claim(ledger, run, "R-3", recipients_per_day=5) == "capped"
        assert claim(ledger, run, "R-3", recipients_per_day=6) == "claimed"
        ledger.release(run, "invoices", "R-3")
        clock.now += 24 * 3600 + 1
        assert ledger.usage_last_day("anna@example.ch") == (0, 0)
        assert claim(ledger, run, "R-3", messages_per_day=2) == "claimed"


def test_a_file_that_is_no_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LedgerError, match="not a docmail ledger") as info:
        Ledger(path)
    assert "--ledger" in info.value.hint


def test_a_ledger_from_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="another version"):
        Ledger(path)


def test_the_per_minute_window_is_the_mailboxs_over_every_sender(ledger_store: str | Path) -> None:
    """Three senders (each its own connection) pace one mailbox: five places a minute."""
    import threading

    clock = FakeClock(1_800_000_000.0)
    ledgers = [Ledger(ledger_store, clock=clock) for _ in range(3)]
    runs = [ledger.begin_run() for ledger in ledgers]
    waits: list[float] = []

    def sender(n: int) -> None:
        for k in range(4):
            key = f"R-{n}-{k}"
            assert claim(ledgers[n], runs[n], key) == "claimed"
            waits.append(ledgers[n].pace(runs[n], "invoices", key, "anna@example.ch", 5, 60.0))

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert waits.count(0.0) == 5
    assert all(0 < wait <= 60 for wait in waits if wait)
    assert claim(ledgers[0], runs[0], "other") == "claimed"  # another mailbox has its own window
    assert ledgers[0].pace(runs[0], "invoices", "other", "bert@example.ch", 5, 60.0) == 0.0
    clock.now += 60
    assert ledgers[1].pace(runs[1], "invoices", "R-1-3", "anna@example.ch", 5, 60.0) == 0.0
    for ledger, run in zip(ledgers, runs, strict=True):
        ledger.end_run(run)
        ledger.close()


def test_a_mailboxs_connection_places_are_counted_over_every_sender(
    ledger_store: str | Path,
) -> None:
    first, second = Ledger(ledger_store), Ledger(ledger_store)
    run1, run2 = first.begin_run(), second.begin_run()
    assert first.take_connection(run1, "anna@example.ch", 2)
    assert second.take_connection(run2, "anna@example.ch", 2)
    assert not first.take_connection(run1, "anna@example.ch", 2)  # the cap is the mailbox's
    assert first.take_connection(run1, "bert@example.ch", 2)  # another mailbox, other places
    second.release_connection(run2, "anna@example.ch")
    assert first.take_connection(run1, "anna@example.ch", 2)
    assert not second.take_connection(run2, "anna@example.ch", 2)
    first.end_run(run1)  # a run that ends gives its places back
    assert second.take_connection(run2, "anna@example.ch", 2)
    second.end_run(run2)
    first.close()
    second.close()


def test_the_connection_places_of_a_dead_sender_are_free_again(ledger_store: str | Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from docmail_nb._store.ledger import Ledger
        ledger = Ledger({str(ledger_store)!r})
        run = ledger.begin_run()
        assert ledger.take_connection(run, "anna@example.ch", 2)
        assert ledger.take_connection(run, "anna@example.ch", 2)
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    with Ledger(ledger_store) as ledger:
        run = ledger.begin_run()
        assert ledger.take_connection(run, "anna@example.ch", 2)
        assert ledger.take_connection(run, "anna@example.ch", 2)
        assert not ledger.take_connection(run, "anna@example.ch", 2)
        ledger.end_run(run)
