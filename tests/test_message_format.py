"""The message on the wire: real plain text, 8BITMIME or quoted-printable, SMTPUTF8 or IDNA.

Sent through aiosmtpd on 127.0.0.1 with and without the 8BITMIME and SMTPUTF8 extensions;
what the server received (envelope, MAIL FROM options, bytes) is looked at.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import PASSWORD, office
from servers import SMTPTestServer

from docmail_nb._compose.message import Draft
from docmail_nb._compose.plan import make_plan
from docmail_nb._compose.preview import preview
from docmail_nb._compose.templates import parse_template
from docmail_nb._run.send import send_plan
from docmail_nb._sheets.orders import read_orders
from docmail_nb.words import size_text

TEMPLATE = """\
To: {{ email }}
Subject: Rechnung {{ invoice_no }}
Key: {{ invoice_no }}
Format: markdown

Grüezi {{ name }}

Die Rechnung **{{ invoice_no }}** über {{ amount | money }} finden Sie
[im Kundenportal](https://portal.example/{{ invoice_no }}).
"""


def plan_for(folder: Path, email_address: str) -> tuple[Draft, object]:
    path = folder / "orders.csv"
    path.write_text(
        f"invoice_no;name;email;amount\nR-1;Frau Jäggi;{email_address};1234.5\n", encoding="utf-8"
    )
    plan = make_plan(
        read_orders(path),
        parse_template(TEMPLATE, name="rechnungen"),
        documents=folder,
    )
    assert plan.ok, plan.problems
    return plan.drafts[0], plan


def test_plain_text_part_of_markdown_is_real_plain_text(tmp_path: Path) -> None:
    draft, _ = plan_for(tmp_path, "j@bluemli.example")
    assert "**" not in draft.text
    assert "Die Rechnung R-1 über CHF 1’234.50" in draft.text
    assert "im Kundenportal (https://portal.example/R-1)" in draft.text
    assert draft.html is not None
    assert "<strong>R-1</strong>" in draft.html


def test_no_mime_version_on_inner_parts(tmp_path: Path) -> None:
    draft, _ = plan_for(tmp_path, "j@bluemli.example")
    msg = draft.build("c", "anna@example.ch")
    raw = msg.as_bytes()
    assert raw.count(b"MIME-Version:") == 1
    assert msg["MIME-Version"] == "1.0"  # the one at the top


@pytest.mark.parametrize(
    ("hidden", "expected_options", "expected_cte"),
    [
        ((), ["BODY=8BITMIME"], "8bit"),
        (("8BITMIME",), [], "quoted-printable"),
    ],
)
def test_8bit_only_with_8bitmime_and_announced(
    smtp_server: Callable[..., SMTPTestServer],
    ca_file: Path,
    tmp_path: Path,
    hidden: tuple[str, ...],
    expected_options: list[str],
    expected_cte: str,
) -> None:
    server = smtp_server("starttls", hide_extensions=hidden)
    _, plan = plan_for(tmp_path, "j@bluemli.example")
    report = send_plan(plan, office(server, ca_file), password=PASSWORD)  # type: ignore[arg-type]
    assert report.ok, report.frame
    (received,) = server.messages
    assert [o for o in received.mail_options if o.startswith("BODY")] == expected_options
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    texts = [part for part in parsed.walk() if part.get_content_maintype() == "text"]
    assert {str(part["Content-Transfer-Encoding"]) for part in texts} == {expected_cte}
    if expected_cte == "quoted-printable":
        assert all(byte < 128 for byte in received.data)
    plain = next(part for part in texts if part.get_content_subtype() == "plain")
    assert "Grüezi Frau Jäggi" in plain.get_content()  # type: ignore[attr-defined]


@pytest.mark.parametrize("smtputf8", [True, False])
def test_international_domain_reaches_the_recipient(
    smtp_server: Callable[..., SMTPTestServer], ca_file: Path, tmp_path: Path, smtputf8: bool
) -> None:
    server = smtp_server("starttls", smtputf8=smtputf8)
    draft, plan = plan_for(tmp_path, "Büro Jäggi <info@bücher.example>")
    assert draft.to == ("Büro Jäggi <info@bücher.example>",)
    shown = preview(plan, 2, default_sender="anna@example.ch")  # type: ignore[arg-type]
    assert ("To", "Büro Jäggi <info@bücher.example>") in shown.headers
    report = send_plan(plan, office(server, ca_file), password=PASSWORD)  # type: ignore[arg-type]
    assert report.ok, report.frame
    (received,) = server.messages
    parsed = email.message_from_string(received.data.decode(), policy=email.policy.default)
    if smtputf8:
        assert "SMTPUTF8" in received.mail_options
        assert received.rcpt_tos == ["info@bücher.example"]
        assert "info@bücher.example".encode() in received.data  # readable, in UTF-8
        assert parsed["To"].addresses[0].domain == "bücher.example"
    else:
        assert "SMTPUTF8" not in received.mail_options
        assert received.rcpt_tos == ["info@xn--bcher-kva.example"]
        assert parsed["To"].addresses[0].addr_spec == "info@xn--bcher-kva.example"
        assert parsed["To"].addresses[0].display_name == "Büro Jäggi"
        assert b"b=C3=BCcher" not in received.data  # never an encoded word in an address


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 bytes"),
        (812, "812 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 kB"),
        (49_357, "48.2 kB"),
        (1_572_864, "1.5 MB"),
        (3 * 1024**3, "3.0 GB"),
        (5 * 1024**4, "5120.0 GB"),
    ],
)
def test_sizes_read_as_people_say_them(count: int, text: str) -> None:
    assert size_text(count) == text
