"""``docmail ledger copy FROM TO``: a campaign's SQLite ledger moved into PostgreSQL, and back."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from pg_server import PASSWORD, PostgresCluster

from docmail_nb._store.ledger import Ledger
from docmail_nb.cli import main


def fill(ledger: Ledger) -> None:
    """Three messages: sent (with a document and a copy owed to Sent), unknown, failed."""
    run = ledger.begin_run()
    for key in ("R-1", "R-2", "R-3"):
        ledger.claim(
            run,
            "invoices",
            key,
            content_hash=f"h-{key}",
            message_id=f"<{key}@example>",
            rows=(2, 3),
            recipients=("a@x.example", "b@y.example"),
            account="anna@example.ch",
        )
        ledger.mark_sending(run, "invoices", key)
    ledger.record_document(
        "invoices", "R-1", "invoice-R-1.pdf", path="/srv/pdf/invoice-R-1.pdf", sha256="ab" * 32,
        fingerprint="f1",
    )  # fmt: skip
    ledger.mark_sent(
        run, "invoices", "R-1", accepted=("a@x.example",), refused={"b@y.example": (550, "no")},
        reply="250 OK", copy=b"\x00raw message\xff",
    )  # fmt: skip
    ledger.mark_outcome(run, "invoices", "R-2", "unknown", error="dropped after DATA")
    ledger.mark_outcome(run, "invoices", "R-3", "failed", error="550 no such user")
    ledger.end_run(run)


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_sqlite_ledger_copied_into_postgresql_and_back_keeps_every_record(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    source = tmp_path / "ledger.sqlite"
    with Ledger(source) as ledger:
        fill(ledger)
        entries, documents = ledger.entries(), ledger.documents()
        copies = ledger.copies_due("anna@example.ch")
    url = postgres.new_database()

    code, out = run_cli("ledger", "copy", str(source), url)
    assert code == 0, out
    assert "messages: 3 copied" in out
    assert "documents: 1 copied" in out
    assert PASSWORD not in out
    assert ":***@" in out
    with Ledger(url) as shared:
        assert shared.entries() == entries
        assert shared.documents() == documents
        assert shared.copies_due("anna@example.ch") == copies
        run = shared.begin_run()
        assert shared.decide("invoices", "R-1", lambda: "h-R-1") == "sent"
        assert shared.decide("invoices", "R-2", lambda: "h-R-2") == "unknown"
        assert shared.decide("invoices", "R-3", lambda: "h-R-3") == "claimed"
        shared.end_run(run)

    code, out = run_cli("ledger", "copy", str(source), url)
    assert code == 0, out
    assert "messages: 0 copied, 3 already there" in out

    back = tmp_path / "back.sqlite"
    code, out = run_cli("ledger", "copy", url, str(back))
    assert code == 0, out
    with Ledger(back) as ledger:
        assert ledger.entries() == entries
        assert ledger.documents() == documents


def test_copying_from_a_ledger_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    code, out = run_cli(
        "ledger", "copy", str(tmp_path / "none.sqlite"), str(tmp_path / "to.sqlite")
    )
    assert code != 0
    assert "does not exist" in out
    assert not (tmp_path / "to.sqlite").exists()
    assert not (tmp_path / "none.sqlite").exists()


def test_a_ledger_is_not_copied_into_itself(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    code, out = run_cli("ledger", "copy", str(path), str(path))
    assert code != 0
    assert "into itself" in out
