"""SIGKILL a sending `docmail send` at random points, resume, and count what the server holds.

Every message must be on the server exactly once, except those the ledger calls "unknown"
(killed between handing the message over and the server's reply): those are there at most
once, and there is at most one of them per kill (one connection).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope
from child_process import default_sigint
from helpers import keys_on, prepare_cli_batch
from servers import DROP, SMTPTestServer

from docmail_nb._store.ledger import Ledger

COUNT = 30
KILLS = 5


def start_sending(folder: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "docmail_nb",
        "send",
        str(folder / "orders.csv"),
        str(folder / "invoices.txt"),
        "--documents",
        str(folder),
        "--ledger",
        str(folder / "ledger.sqlite"),
        "--yes",
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=default_sigint
    )


@pytest.mark.slow
def test_killed_runs_resume_without_duplicates(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    server = smtp_server("starttls")
    prepare_cli_batch(server, ca_file, tmp_path, COUNT, monkeypatch)

    kills = 0
    for _ in range(KILLS):
        before = len(server.messages)
        process = start_sending(tmp_path)
        if rng.random() < 0.5:
            # kill while the server holds DATA: before or after it stored the message
            target = before + rng.randint(0, 3)
            store = rng.random() < 0.5
            fired = False

            def kill_at_data(
                index: int,
                envelope: Envelope,
                target: int = target,
                store: bool = store,
                process: subprocess.Popen[bytes] = process,
            ) -> str | None:
                nonlocal fired
                if index >= target and not fired:
                    fired = True
                    process.send_signal(signal.SIGKILL)
                    return None if store else DROP
                return None

            server.data_hook = kill_at_data
        else:
            # kill at any moment between a few messages: ledger writes, MAIL, RCPT, idle
            server.data_hook = None
            target = before + rng.randint(0, 4)
            while process.poll() is None and len(server.messages) < target:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.02))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        output = process.communicate(timeout=120)[0].decode()
        server.data_hook = None
        if process.returncode == -signal.SIGKILL:
            kills += 1
        else:
            assert process.returncode in (0, 1), output
            break

    final = start_sending(tmp_path)
    output = final.communicate(timeout=120)[0].decode()
    assert final.returncode in (0, 1), output

    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        states = {entry.key: entry.state for entry in ledger.entries("invoices")}
    on_server = Counter(keys_on(server))
    unknown = {key for key, state in states.items() if state == "unknown"}
    note = f"seed {seed}, {kills} kills, states {Counter(states.values())}"
    print(note)
    assert len(states) == COUNT, note
    assert set(states.values()) <= {"sent", "unknown"}, note
    assert len(unknown) <= kills, note
    for n in range(COUNT):
        key = f"R-{1000 + n}"
        if key in unknown:
            assert on_server[key] <= 1, f"{key}: {note}"
        else:
            assert on_server[key] == 1, f"{key}: {note}"
    assert final.returncode == (1 if unknown else 0), output


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_a_rerun_sends_the_rest_once(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server("starttls")
    prepare_cli_batch(server, ca_file, tmp_path, COUNT, monkeypatch)
    process = start_sending(tmp_path)

    def interrupt_at_the_fifth(index: int, envelope: Envelope) -> str | None:
        if index == 4:
            process.send_signal(signal.SIGINT)
            time.sleep(0.2)  # the reply comes after the interrupt has arrived
        return None

    server.data_hook = interrupt_at_the_fifth
    output = process.communicate(timeout=120)[0].decode()
    server.data_hook = None
    assert process.returncode == 130, output
    assert "Interrupted." in output
    assert "run the same command again" in output
    assert "Traceback" not in output

    final = start_sending(tmp_path)
    output = final.communicate(timeout=120)[0].decode()
    counts = Counter(keys_on(server))
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        states = {entry.key: entry.state for entry in ledger.entries("invoices")}
    unknown = [key for key, state in states.items() if state == "unknown"]
    assert len(unknown) <= 1, states
    assert all(counts[f"R-{1000 + n}"] == 1 for n in range(COUNT)), (counts, output)
    assert final.returncode == (1 if unknown else 0), output
