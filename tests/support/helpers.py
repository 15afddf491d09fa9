"""Test helpers shared by the sending tests: orders, a template, a profile, a fake clock."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from servers import SMTPTestServer

from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._sheets.orders import Orders, read_orders
from docmail_nb._store import profiles
from docmail_nb._store.profiles import Profile

PASSWORD = "correct horse"
TEMPLATE = """To: {{ email }}
Cc: {{ cc }}
Bcc: archive@bergmann.example
Subject: Rechnung {{ invoice_no }}
Key: {{ invoice_no }}

Guten Tag {{ name }}, anbei die Rechnung {{ invoice_no }}.
"""
#: the template without its Bcc line
NO_BCC = TEMPLATE.replace("Bcc: archive@bergmann.example\n", "")


class FakeClock:
    """A clock whose sleep advances it: rate limits and backoff without waiting."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


def write_orders(folder: Path, count: int, *, bad_rows: tuple[int, ...] = ()) -> Path:
    """orders.csv with ``count`` invoices; sheet rows in ``bad_rows`` have a bad address."""
    path = folder / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["invoice_no", "name", "email", "cc", "amount"])
        for n in range(count):
            row = n + 2
            email = "kein-mail" if row in bad_rows else f"kunde{n}@example.org"
            cc = f"treuhand{n}@example.net" if n % 3 == 0 else ""
            writer.writerow([f"R-{1000 + n}", f"Kunde {n}", email, cc, f"{100 + n}.50"])
    return path


def make_batch(
    folder: Path, count: int, *, bad_rows: tuple[int, ...] = (), template: str = TEMPLATE
) -> tuple[Orders, Plan]:
    orders = read_orders(write_orders(folder, count, bad_rows=bad_rows))
    plan = make_plan(
        orders,
        parse_template(template, name="invoices"),
        documents=folder,
    )
    return orders, plan


def prepare_cli_batch(
    server: SMTPTestServer,
    ca_file: Path,
    folder: Path,
    count: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A saved profile 'office' for ``server``, its password in the environment, and
    ``folder`` holding orders.csv with ``count`` invoices and the template invoices.txt."""
    profiles.save_profile(office(server, ca_file))
    monkeypatch.setenv("DOCMAIL_SMTP_PASSWORD", PASSWORD)
    write_orders(folder, count)
    (folder / "invoices.txt").write_text(TEMPLATE, encoding="utf-8")


def office(server: SMTPTestServer, ca_file: Path, preset: str = "generic") -> Profile:
    return Profile(
        "office",
        host=server.host,
        port=server.port,
        security="starttls",
        username="anna@example.ch",
        ca_file=str(ca_file),
        timeout=10,
        preset=preset,
    )


def keys_on(server: SMTPTestServer) -> list[str]:
    return sorted(str(m.message["Subject"]).removeprefix("Rechnung ") for m in server.messages)


def crash_while_sending(ledger: Path, campaign: str, key: str) -> None:
    """A separate process claims ``key``, marks it "sending" and dies before the reply."""
    script = (
        "import os, sys\n"
        "from docmail_nb._store.ledger import Ledger\n"
        "ledger = Ledger(sys.argv[1])\n"
        "run = ledger.begin_run()\n"
        "ledger.claim(run, sys.argv[2], sys.argv[3], content_hash='x', message_id='<x@y>',\n"
        "             rows=[2], recipients=['a@example.org'])\n"
        "ledger.mark_sending(run, sys.argv[2], sys.argv[3])\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(ledger), campaign, key], check=True)
