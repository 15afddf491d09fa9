"""Several `docmail send` processes on one PostgreSQL ledger: each message once, through a kill.

Three senders start together on the same orders, template and campaign; one is killed with
SIGKILL while the server receives a message from it; a rerun follows at once. On the server
every key is there exactly once, except a key the ledger calls "unknown" (the killed sender
handed it over and got no reply): there at most once, and at most one of them per kill.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from aiosmtpd.smtp import Envelope
from helpers import keys_on, prepare_cli_batch
from pg_server import PASSWORD as PG_PASSWORD
from pg_server import PostgresCluster
from servers import SMTPTestServer

from docmail_nb._store.ledger import Ledger

COUNT = 300
SENDERS = 3

# waits for the go file, so that the senders start together
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from docmail_nb.cli import main
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.005)
    main(sys.argv[2:])
    """
)


def send_command(folder: Path, *extra: str) -> list[str]:
    return [
        "send",
        str(folder / "orders.csv"),
        str(folder / "invoices.txt"),
        "--documents",
        str(folder),
        "--yes",
        *extra,
    ]


@pytest.mark.slow
def test_three_senders_send_a_campaign_exactly_once_through_a_kill(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    postgres: PostgresCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres.new_database()
    bare = postgres.url(url.rsplit("/", 1)[1], password=False)
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)  # the URL on the command line has none
    processes: list[subprocess.Popen[bytes]] = []
    killed = threading.Event()

    def kill_one(index: int, envelope: Envelope) -> None:
        """At the 100th message, kill a sender while the server holds its DATA."""
        import time

        time.sleep(0.01)  # keeps the senders busy long enough to overlap
        if index >= 100 and not killed.is_set() and processes:
            killed.set()
            processes[0].send_signal(signal.SIGKILL)

    server = smtp_server("starttls", data_hook=kill_one)
    prepare_cli_batch(server, ca_file, tmp_path, COUNT, monkeypatch)
    go = tmp_path / "go"
    args = send_command(tmp_path, "--ledger", bare)
    processes += [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(go), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(SENDERS)
    ]
    go.touch()
    outputs = [p.communicate(timeout=300)[0].decode() for p in processes]
    assert killed.is_set()
    assert processes[0].returncode == -signal.SIGKILL
    for process, output in zip(processes[1:], outputs[1:], strict=True):
        # 1 only for the killed sender's message in flight, which a live sender may come to
        unknown_here = re.findall(r"(R-\d+): unknown$", output, re.MULTILINE)
        assert process.returncode == (1 if unknown_here else 0), output
        assert len(unknown_here) <= 1

    sent_by = [set(re.findall(r"(R-\d+): sent$", out, re.MULTILINE)) for out in outputs[1:]]
    print("sent by the senders that lived:", [len(keys) for keys in sent_by])
    assert all(sent_by)  # each did part of the work
    assert not sent_by[0] & sent_by[1]

    rerun = subprocess.run(
        [sys.executable, "-m", "docmail_nb", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    on_server = Counter(keys_on(server))
    with Ledger(url) as ledger:
        entries = {entry.key: entry for entry in ledger.entries()}
    unknown = {key for key, entry in entries.items() if entry.state == "unknown"}
    assert len(unknown) <= 1
    assert {entry.state for key, entry in entries.items() if key not in unknown} == {"sent"}
    assert len(entries) == COUNT
    assert all(count == 1 for count in on_server.values()), on_server.most_common(3)
    assert set(on_server) | unknown == {f"R-{1000 + n}" for n in range(COUNT)}
    for output in [*outputs, rerun.stdout, rerun.stderr]:
        assert PG_PASSWORD not in output
    assert rerun.returncode == (1 if unknown else 0), rerun.stdout + rerun.stderr


@pytest.mark.slow
def test_three_senders_share_the_mailboxs_rate(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    postgres: PostgresCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three senders with --rate 4/min on one mailbox: four messages a minute in all."""
    url = postgres.new_database()
    server = smtp_server("starttls")
    prepare_cli_batch(server, ca_file, tmp_path, 6, monkeypatch)
    monkeypatch.setenv("DOCMAIL_LEDGER", url)  # the whole URL from the environment
    go = tmp_path / "go"
    args = send_command(tmp_path, "--rate", "4/min")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(go), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(SENDERS)
    ]
    go.touch()
    outputs = [p.communicate(timeout=300)[0].decode() for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
        assert PG_PASSWORD not in output
    with Ledger(url) as ledger:
        entries = ledger.entries()
    assert sorted(entry.state for entry in entries) == ["sent"] * 6
    times = sorted(entry.attempted_at or 0.0 for entry in entries)
    for start in times:
        assert sum(1 for at in times if start <= at < start + 60) <= 4
    assert Counter(keys_on(server)) == Counter(f"R-{1000 + n}" for n in range(6))


def test_a_ledger_that_cannot_be_reached_sends_nothing(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    postgres: PostgresCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("starttls")
    prepare_cli_batch(server, ca_file, tmp_path, 3, monkeypatch)
    closed = postgres.url("docmail").replace(f":{postgres.port}/", ":1/")
    done = subprocess.run(
        [sys.executable, "-m", "docmail_nb", *send_command(tmp_path, "--ledger", closed)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot be reached" in done.stdout + done.stderr
    assert "Nothing was sent" in done.stdout + done.stderr
    for secret in (PG_PASSWORD, quote(PG_PASSWORD, safe="")):
        assert secret not in done.stdout + done.stderr
    assert server.messages == []
    assert server.record.connections == 0
