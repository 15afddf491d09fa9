"""The ledger on PostgreSQL: a run's life is its session, the password is never shown."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pg_server import PASSWORD, PostgresCluster

from docmail_nb._store.ledger import Ledger
from docmail_nb._store.postgres import masked_url, translate
from docmail_nb.errors import LedgerError


def claim(ledger: Ledger, run: str, key: str = "R-1") -> str:
    return ledger.claim(
        run,
        "invoices",
        key,
        content_hash="h1",
        message_id=f"<{key}@example>",
        rows=(2,),
        recipients=("a@x.example",),
        account="anna@example.ch",
    ).decision


def test_the_schema_is_made_once_by_the_first_of_several_ledgers(pg_url: str) -> None:
    ledgers = [Ledger(pg_url) for _ in range(3)]
    try:
        run = ledgers[0].begin_run()
        assert claim(ledgers[0], run) == "claimed"
        assert ledgers[1].get("invoices", "R-1") is not None
    finally:
        for ledger in ledgers:
            ledger.close()


def test_a_killed_senders_message_is_unknown_for_the_very_next_run(pg_url: str) -> None:
    """No heartbeat to wait for: the run died with its connection."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from docmail_nb._store.ledger import Ledger
        ledger = Ledger({pg_url!r})
        run = ledger.begin_run()
        for key in ("R-1", "R-2"):
            ledger.claim(run, "invoices", key, content_hash="h1", message_id="<m>",
                         rows=(2,), recipients=("a@x.example",), account="anna@example.ch")
        ledger.mark_sending(run, "invoices", "R-2")
        print("holding", flush=True)
        sys.stdin.readline()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    with Ledger(pg_url) as ledger:
        run = ledger.begin_run()
        assert claim(ledger, run, "R-1") == "busy"  # its sender is alive
        assert claim(ledger, run, "R-2") == "busy"
        child.send_signal(signal.SIGKILL)
        child.wait()
        _wait_for_session_end(ledger, "R-2")
        assert claim(ledger, run, "R-1") == "claimed"
        assert claim(ledger, run, "R-2") == "unknown"
        entry = ledger.get("invoices", "R-2")
        assert entry is not None
        assert entry.state == "unknown"
        ledger.end_run(run)
    for stream in (child.stdin, child.stdout):
        assert stream is not None
        stream.close()


def _wait_for_session_end(ledger: Ledger, key: str) -> None:
    """The server notices a closed connection at once; its backend may need a moment to exit."""
    import time

    entry = ledger.get("invoices", key)
    assert entry is not None
    assert entry.owner_run is not None
    deadline = time.monotonic() + 10
    while ledger._run_alive_now(entry.owner_run) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_unreachable_database_is_a_clear_error_without_the_password(
    postgres: PostgresCluster,
) -> None:
    closed = postgres.url("ledger").replace(f":{postgres.port}/", ":1/")
    with pytest.raises(LedgerError) as caught:
        Ledger(closed)
    text = str(caught.value)
    assert "cannot be reached" in text
    assert "postgresql://docmail:***@127.0.0.1:1/ledger" in text
    assert PASSWORD not in text
    assert urlsplit(closed).password not in text


def test_a_wrong_password_is_refused_and_not_shown(postgres: PostgresCluster) -> None:
    url = postgres.new_database().replace(urlsplit(postgres.url("x")).password or "", "wrong")
    with pytest.raises(LedgerError, match="password authentication failed") as caught:
        Ledger(url)
    assert "wrong" not in str(caught.value)


def test_the_password_from_pgpassword_or_pgpass(
    postgres: PostgresCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bare = postgres.new_database().replace(urlsplit(postgres.url("x")).netloc, "")
    bare = postgres.url(bare.rsplit("/", 1)[1], password=False)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with Ledger(bare) as ledger:
        assert repr(ledger) == f"Ledger({bare!r})"
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")  # as .pgpass wants it
    pgpass.write_text(f"127.0.0.1:{postgres.port}:*:docmail:{escaped}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with Ledger(bare) as ledger:
        assert ledger.entries() == []
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(LedgerError, match="no password supplied"):
        Ledger(bare)


def test_the_ledger_names_its_database_without_the_password(pg_url: str) -> None:
    with Ledger(pg_url) as ledger:
        assert PASSWORD not in repr(ledger)
        assert ledger.where == masked_url(pg_url)
        assert ":***@" in ledger.where


def test_without_psycopg_the_extra_is_named(pg_url: str) -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from docmail_nb._store.ledger import Ledger\n"
        "from docmail_nb.errors import LedgerError\n"
        "try:\n"
        f"    Ledger({pg_url!r})\n"
        "except LedgerError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'docmail_nb[postgresql]'" in done.stdout
    assert PASSWORD not in done.stdout


@pytest.mark.parametrize(
    ("sqlite", "postgresql"),
    [
        ("SELECT a FROM t WHERE b = ? AND c LIKE '50%'",
         "SELECT a FROM t WHERE b = %s AND c LIKE '50%%'"),
        ("UPDATE t SET a = :a WHERE k = :k", "UPDATE t SET a = %(a)s WHERE k = %(k)s"),
        ("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, at REAL, data BLOB, n INTEGER)",
         "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, at DOUBLE PRECISION, data BYTEA, "
         "n BIGINT)"),
        ("INSERT OR IGNORE INTO t (k, n) VALUES (?, ?)",
         "INSERT INTO t (k, n) VALUES (%s, %s) ON CONFLICT DO NOTHING"),
        ("INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?)",
         "INSERT INTO t VALUES (%s, %s, %s, %s) ON CONFLICT (k) DO UPDATE SET at = EXCLUDED.at, "
         "data = EXCLUDED.data, n = EXCLUDED.n"),
        ("SELECT IFNULL(a, 'x?') FROM t", "SELECT COALESCE(a, 'x?') FROM t"),
    ],
)  # fmt: skip
def test_sql_written_once_is_adapted_for_postgresql(sqlite: str, postgresql: str) -> None:
    assert translate(sqlite, lambda table: (["k", "at", "data", "n"], ["k"])) == postgresql


def test_masked_url() -> None:
    assert masked_url("postgresql://u:p%40ss@db.example:5432/l") == (
        "postgresql://u:***@db.example:5432/l"
    )
    assert masked_url("postgres://u@db/l?password=x&sslmode=require") == (
        "postgres://u@db/l?password=***&sslmode=require"
    )
    assert masked_url("postgresql://db/l") == "postgresql://db/l"
