"""Two `docmail send` processes on one ledger at the same time send each message once."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope
from helpers import keys_on, prepare_cli_batch
from servers import SMTPTestServer

from docmail_nb._store.ledger import Ledger

COUNT = 40

# waits for the go file, so that both processes start sending together
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


@pytest.mark.slow
def test_two_runs_on_one_ledger_send_each_message_once(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow_data(index: int, envelope: Envelope) -> None:
        import time

        time.sleep(0.01)  # keeps both runs busy long enough to overlap

    server = smtp_server("starttls", data_hook=slow_data)
    prepare_cli_batch(server, ca_file, tmp_path, COUNT, monkeypatch)
    go = tmp_path / "go"
    args = [
        "send",
        str(tmp_path / "orders.csv"),
        str(tmp_path / "invoices.txt"),
        "--documents",
        str(tmp_path),
        "--ledger",
        str(tmp_path / "ledger.sqlite"),
        "--yes",
    ]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(go), *args, "--connections", str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for k in (1, 2)
    ]
    go.touch()
    outputs = [p.communicate(timeout=120)[0].decode() for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output

    sent_by = [set(re.findall(r"(R-\d+): sent$", out, re.MULTILINE)) for out in outputs]
    print("messages sent by each run:", [len(keys) for keys in sent_by])
    assert not sent_by[0] & sent_by[1]
    assert len(sent_by[0] | sent_by[1]) == COUNT
    assert Counter(keys_on(server)) == Counter(f"R-{1000 + n}" for n in range(COUNT))
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert {e.state for e in ledger.entries()} == {"sent"}
