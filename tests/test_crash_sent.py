"""SIGKILL `docmail send` with copies to Sent on (docmail files them), resume, count.

Dovecot is the mailbox; docmail, not the provider, appends each copy. A message whose reply
was lost is "unknown": it is not in Sent (its copy comes only once it is recorded sent), so
that absence proves nothing and the next run must not send it again. Every message reaches
the SMTP server at most once, and each copy is in Sent at most once.
"""

from __future__ import annotations

import dataclasses
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
from helpers import PASSWORD, TEMPLATE, keys_on, office, write_orders
from imap_server import DovecotServer
from servers import DROP, SMTPTestServer

from docmail_nb._store import profiles
from docmail_nb._store.ledger import Ledger

COUNT = 20
KILLS = 5


def start_sending(folder: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "docmail_nb", "send", str(folder / "orders.csv")]
    command += [str(folder / "invoices.txt"), "--documents", str(folder)]
    command += ["--ledger", str(folder / "ledger.sqlite"), "--yes"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=default_sigint
    )


@pytest.mark.slow
def test_killed_runs_with_copies_to_sent_deliver_each_message_at_most_once(
    smtp_server: Callable[..., SMTPTestServer],
    dovecot: Callable[..., DovecotServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    server = smtp_server("starttls")
    mailbox = dovecot()
    profile = dataclasses.replace(
        office(server, ca_file),
        imap_host=mailbox.host,
        imap_port=mailbox.ssl_port,
        imap_security="ssl",
    )
    assert profile.appends_to_sent
    assert not profile.provider_files_sent
    profiles.save_profile(profile)
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    write_orders(tmp_path, COUNT)
    (tmp_path / "invoices.txt").write_text(TEMPLATE, encoding="utf-8")

    kills = 0
    for round_ in range(KILLS):
        before = len(server.messages)
        process = start_sending(tmp_path)
        if round_ < 2 or rng.random() < 0.5:
            # kill while the server holds DATA; the first two rounds after it stored the
            # message: the reply is lost, the message is on its way all the same
            target = before + rng.randint(0, 3)
            store = round_ < 2 or rng.random() < 0.5
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
                    time.sleep(0.05)  # the reply comes after the process is gone
                    return None if store else DROP
                return None

            server.data_hook = kill_at_data
        else:
            # kill at any moment: ledger writes, SMTP, an APPEND to Sent, idle
            server.data_hook = None
            target = before + rng.randint(0, 4)
            while process.poll() is None and len(server.messages) < target:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        output = process.communicate(timeout=120)[0].decode()
        server.data_hook = None
        if process.returncode == -signal.SIGKILL:
            kills += 1
        else:
            assert process.returncode in (0, 1), output
            break

    for _ in range(2):  # a plain rerun, and one more: neither sends an unknown message again
        final = start_sending(tmp_path)
        output = final.communicate(timeout=120)[0].decode()
        assert final.returncode in (0, 1), output

    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        entries = {entry.key: entry for entry in ledger.entries("invoices")}
    states = {key: entry.state for key, entry in entries.items()}
    on_server = Counter(keys_on(server))
    in_sent = Counter(stored.message_id for stored in mailbox.stored("Sent"))
    unknown = {key for key, state in states.items() if state == "unknown"}
    note = f"seed {seed}, {kills} kills, states {Counter(states.values())}, sent {in_sent}"
    print(note)
    assert len(states) == COUNT, note
    assert set(states.values()) <= {"sent", "unknown"}, note
    assert unknown, note  # the first rounds left messages whose reply was lost
    assert "--resend-unknown" in output, output
    for n in range(COUNT):
        key = f"R-{1000 + n}"
        assert on_server[key] <= 1, f"{key} delivered {on_server[key]} times: {note}"
        if key not in unknown:
            assert on_server[key] == 1, f"{key}: {note}"
            assert in_sent[entries[key].message_id] == 1, f"{key}: {note}"
    assert all(count == 1 for count in in_sent.values()), note
    assert final.returncode == 1, output
