"""A renamed template starts a new campaign: keys another campaign sent are said before
sending, in the confirmation question, the dry run and the report."""

from __future__ import annotations

from pathlib import Path

from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._mail.transport import MemoryTransport
from docmail_nb._run.send import SendOptions, pending, send_plan
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store.profiles import Profile

TEMPLATE = """\
To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Key: {{ invoice_no }}

Guten Tag
"""
PROFILE = Profile(name="office", host="smtp.example.ch", from_addr="anna@example.ch")


def plan_named(tmp_path: Path, name: str) -> Plan:
    orders = tmp_path / "orders.csv"
    orders.write_text("invoice_no,email\nR-1,a@example.ch\nR-2,b@example.ch\n", encoding="utf-8")
    return make_plan(read_orders(orders), parse_template(TEMPLATE, name), documents=tmp_path)


def test_keys_sent_under_the_old_template_name_are_reported_before_sending(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    first = send_plan(
        plan_named(tmp_path, "rechnung"), PROFILE, ledger=ledger, transport=MemoryTransport()
    )
    assert {r.state for r in first.results} == {"sent"}
    assert first.notes == []

    renamed = plan_named(tmp_path, "rechnung-2026")  # the template file was renamed
    question = pending(renamed, PROFILE, ledger).question
    assert "2 key(s) of campaign 'rechnung-2026' were already sent in campaign 'rechnung'" in (
        question
    )
    assert "--campaign rechnung" in question
    dry = send_plan(renamed, PROFILE, ledger=ledger, options=SendOptions(dry_run=True))
    assert any("already sent in campaign 'rechnung'" in note for note in dry.notes)
    assert "--campaign rechnung" in dry.summary()


def test_the_same_campaign_has_nothing_to_report(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    send_plan(plan_named(tmp_path, "rechnung"), PROFILE, ledger=ledger, transport=MemoryTransport())
    assert "already sent" not in pending(plan_named(tmp_path, "rechnung"), PROFILE, ledger).question
