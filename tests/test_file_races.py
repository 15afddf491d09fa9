"""The file sent is the file checked: a document swapped between the check and the send (for
a link, a FIFO, other content or another file) fails its message, never the batch, and never
sends what was not checked. The check and the send are two calls here: what happens between
them is the race, done deterministically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docmail_nb._compose.plan import Plan, make_plan
from docmail_nb._compose.templates import parse_template
from docmail_nb._mail.transport import MemoryTransport
from docmail_nb._run.send import send_plan
from docmail_nb._sheets.orders import read_orders
from docmail_nb._store.profiles import Profile

PDF = b"%PDF-1.4\n% invoice %s\n%%EOF\n"
SECRET = b"%PDF-1.4\n% SECRET salary list\n%%EOF\n"
TEMPLATE = """\
To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Attachment: {{ invoice_no }}.pdf
Key: {{ invoice_no }}

Guten Tag
"""
KEYS = ["R-1", "R-2", "R-3", "R-4", "R-5"]


def checked(tmp_path: Path) -> tuple[Plan, Path, Path]:
    documents = tmp_path / "documents"
    documents.mkdir()
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "salaries.pdf").write_bytes(SECRET)
    for key in KEYS:
        (documents / f"{key}.pdf").write_bytes(PDF.replace(b"%s", key.encode()))
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "invoice_no,email\n" + "".join(f"{k},{k.lower()}@example.ch\n" for k in KEYS),
        encoding="utf-8",
    )
    plan = make_plan(read_orders(orders), parse_template(TEMPLATE, "invoices"), documents=documents)
    assert plan.problems == []
    return plan, documents, outside / "salaries.pdf"


def send(tmp_path: Path, plan: Plan) -> tuple[dict[str, str], dict[str, str], MemoryTransport]:
    transport = MemoryTransport()
    profile = Profile(name="office", host="smtp.example.ch", from_addr="anna@example.ch")
    report = send_plan(plan, profile, ledger=tmp_path / "ledger.sqlite", transport=transport)
    states = {r.key: r.state for r in report.results}
    errors = {r.key: r.error for r in report.results}
    return states, errors, transport


def sent_bytes(transport: MemoryTransport) -> bytes:
    """The attachments' bytes of every message sent, decoded."""
    return b"".join(
        part.get_content() for stored in transport.stored for part in stored.msg.iter_attachments()
    )


def test_documents_swapped_after_the_check_fail_their_message_only(tmp_path: Path) -> None:
    plan, documents, secret = checked(tmp_path)
    # between the check and the send:
    (documents / "R-1.pdf").unlink()
    (documents / "R-1.pdf").symlink_to(secret)  # a link to a file outside
    (documents / "R-2.pdf").unlink()
    os.mkfifo(documents / "R-2.pdf")  # a FIFO: reading it would wait for ever
    (documents / "R-3.pdf").write_bytes(SECRET)  # other content under the same name
    other = documents / "other.pdf"
    other.write_bytes(PDF.replace(b"%s", b"R-4"))
    other.replace(documents / "R-4.pdf")  # the same content, but another file

    states, errors, transport = send(tmp_path, plan)
    assert states == {"R-1": "failed", "R-2": "failed", "R-3": "failed", "R-4": "failed",
                      "R-5": "sent"}  # fmt: skip
    assert "replaced by a link" in errors["R-1"]
    assert "no longer a regular file" in errors["R-2"]
    assert "replaced or changed" in errors["R-3"]
    assert "replaced or changed" in errors["R-4"]
    assert all("not the file that was checked" in errors[k] for k in KEYS[:4])
    assert [s.recipients for s in transport.stored] == [("r-5@example.ch",)]
    assert b"SECRET" not in sent_bytes(transport)


def test_a_document_put_back_as_it_was_checked_is_sent(tmp_path: Path) -> None:
    plan, _, _ = checked(tmp_path)
    states, _, _ = send(tmp_path, plan)
    assert set(states.values()) == {"sent"}


def test_a_hard_link_to_a_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    documents = tmp_path / "documents"
    documents.mkdir()
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "salaries.pdf").write_bytes(SECRET)
    os.link(outside / "salaries.pdf", documents / "R-1.pdf")
    (documents / "R-2.pdf").write_bytes(PDF.replace(b"%s", b"R-2"))
    os.link(documents / "R-2.pdf", documents / "copy-of-R-2.pdf")  # both names inside: fine
    orders = tmp_path / "orders.csv"
    orders.write_text("invoice_no,email\nR-1,a@example.ch\nR-2,b@example.ch\n", encoding="utf-8")
    plan = make_plan(read_orders(orders), parse_template(TEMPLATE, "invoices"), documents=documents)
    assert [d.key for d in plan.drafts] == ["R-2"]
    (problem,) = plan.problems
    assert (problem.row, problem.field) == (2, "Attachment")
    assert "hard link" in problem.message


@pytest.mark.parametrize("name", ["R-1.pdf"])
def test_a_link_inside_the_folder_that_the_check_accepted_is_sent(
    tmp_path: Path, name: str
) -> None:
    documents = tmp_path / "documents"
    (documents / "archive").mkdir(parents=True)
    (documents / "archive" / name).write_bytes(PDF.replace(b"%s", b"R-1"))
    (documents / name).symlink_to(documents / "archive" / name)
    orders = tmp_path / "orders.csv"
    orders.write_text("invoice_no,email\nR-1,a@example.ch\n", encoding="utf-8")
    plan = make_plan(read_orders(orders), parse_template(TEMPLATE, "invoices"), documents=documents)
    states, _, transport = send(tmp_path, plan)
    assert states == {"R-1": "sent"}
    assert b"invoice R-1" in sent_bytes(transport)
