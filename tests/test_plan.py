"""Planning: the table-driven bad-input suite, grouping, keys, building and round trips."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import docmail_nb._compose.message
from docmail_nb._compose.headers import header_problem, parse_addresses
from docmail_nb._compose.plaintext import html_to_text
from docmail_nb._compose.plan import Draft, Plan, make_plan
from docmail_nb._compose.preview import preview
from docmail_nb._compose.templates import parse_template
from docmail_nb._sheets.orders import read_orders
from docmail_nb.errors import ConfigError, DocmailError

TEMPLATE = """\
To: {{ email }}
Cc: {{ cc }}
Bcc: {{ bcc }}
Reply-To: {{ reply_to }}
Subject: Rechnung {{ invoice_no }} – {{ company }}
Attachment: {{ document }}
Key: {{ invoice_no }}
X-Customer: {{ customer_no }}
Format: markdown

Guten Tag {{ contact }}

Betrag **{{ amount | money }}**, zahlbar bis {{ due | date }}.
"""

COLUMNS = [
    "invoice_no",
    "customer_no",
    "company",
    "contact",
    "email",
    "cc",
    "bcc",
    "reply_to",
    "amount",
    "due",
    "document",
]
LIMIT = 100_000
PDF = b"%PDF-1.4\n% test document\n%%EOF\n"


def good_row(number: int) -> dict[str, Any]:
    return {
        "invoice_no": f"R-{number:04d}",
        "customer_no": "00042",
        "company": "Bäckerei Müller AG",
        "contact": "Frau Müller",
        "email": "m@mueller.example",
        "cc": None,
        "bcc": None,
        "reply_to": None,
        "amount": 1234.5,
        "due": dt.date(2026, 12, 31),
        "document": f"R-{number:04d}.pdf",
    }


# (id, cell overrides, expected field, fragment of the expected message)
BAD_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    ("no_recipient", {"email": None}, "To", "no recipient"),
    ("whitespace_only_email", {"email": "   "}, "To", "no recipient"),
    ("at_spelled_out", {"email": "m(at)mueller.example"}, "To", "not a valid e-mail address"),
    ("no_domain", {"email": "m@"}, "To", "not a valid e-mail address"),
    ("dotless_domain", {"email": "m@localhost"}, "To", "not a valid e-mail address"),
    ("space_inside", {"email": "m @mueller.example"}, "To", "is not one e-mail address"),
    ("zero_width_space", {"email": "m@mueller.example\u200b"}, "To", "unsafe characters"),
    ("nbsp_in_local_part", {"email": "m\u00a0x@mueller.example"}, "To", "not a valid"),
    ("non_ascii_local_part", {"email": "müller@mueller.example"}, "To", "not a valid"),
    (
        "name_brings_address",
        {"email": '"boss@evil.example" <m@mueller.example>'},
        "To",
        "carries more than one address",
    ),
    (
        "two_angle_addresses",
        {"email": "Max <m@mueller.example> <evil@evil.example>"},
        "To",
        "carries more than one address",
    ),
    ("stray_angle_bracket", {"email": "m@mueller.example>"}, "To", "more than one address"),
    ("group_syntax", {"email": "undisclosed: evil@evil.example;"}, "To", "not one e-mail"),
    ("raw_lf_in_to", {"email": "m@mueller.example\nBcc: evil@evil.example"}, "To", "one e-mail"),
    (
        "encoded_lf_in_to_name",
        {"email": "=?utf-8?q?Max=0ABcc:_evil@evil.example?= <m@mueller.example>"},
        "To",
        "decodes to a line break",
    ),
    ("invalid_cc", {"cc": "treuhand@"}, "Cc", "not a valid e-mail address"),
    ("invalid_bcc", {"bcc": "archiv"}, "Bcc", "not a valid e-mail address"),
    ("invalid_reply_to", {"reply_to": "antwort@@mueller.example"}, "Reply-To", "not a valid"),
    ("raw_cr_in_subject", {"company": "Müller\rAG"}, "Subject", "line break"),
    ("unicode_line_separator", {"company": "Müller\u2028AG"}, "Subject", "line break"),
    ("delete_char_in_subject", {"company": "Müller\x7fAG"}, "Subject", "control character"),
    (
        "encoded_lf_in_subject",
        {"company": "=?utf-8?q?M=C3=BCller=0ABcc:_evil@evil.example?="},
        "Subject",
        "decodes to a line break",
    ),
    (
        "encoded_crlf_base64_in_x_header",
        {"customer_no": "=?utf-8?b?MDAwNDINCkJjYzogZXZpbEBldmlsLmV4YW1wbGU=?="},
        "X-Customer",
        "decodes to a line break",
    ),
    ("unknown_charset", {"company": "=?x-nonsense?q?abc?="}, "Subject", "unknown charset"),
    (
        "encoded_lf_in_attachment",
        {"document": "=?utf-8?q?R=0AX?=.pdf"},
        "Attachment",
        "decodes to a line break",
    ),
    ("missing_key", {"invoice_no": None}, "Key", "Key is empty"),
    ("missing_document", {"document": "R-9999.pdf"}, "Attachment", "not in the documents"),
    ("empty_document_cell", {"document": None}, "Attachment", "attachment name is empty"),
    ("dotdot", {"document": "../secret.pdf"}, "Attachment", "leaves the documents folder"),
    ("absolute_path", {"document": "/etc/hostname"}, "Attachment", "absolute path"),
    ("windows_path", {"document": "C:\\Rechnungen\\R.pdf"}, "Attachment", "absolute path"),
    ("symlink_outside", {"document": "link.pdf"}, "Attachment", "outside the documents folder"),
    ("directory_named_pdf", {"document": "folder.pdf"}, "Attachment", "not a file"),
    ("zero_byte_pdf", {"document": "empty.pdf"}, "Attachment", "empty (0 bytes)"),
    ("not_really_pdf", {"document": "fake.pdf"}, "Attachment", "not a PDF file"),
    ("too_big", {"document": "big.pdf"}, "Attachment", "over the limit"),
    ("empty_amount", {"amount": None}, "body", "an empty cell is not an amount"),
    ("amount_as_words", {"amount": "zwölf Franken"}, "body", "is not a number"),
    ("impossible_date_text", {"due": "31.02.2026"}, "body", "is not a date"),
    ("excel_serial_as_number", {"due": 46022}, "body", "46022 is not a date"),
]

# Odd but fine: each of these rows must stay sendable, rendered as shown.
ODD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("amount_stored_as_text", {"amount": "1234.50"}, "CHF 1’234.50"),
    ("amount_with_swiss_grouping", {"amount": "1'234.50"}, "CHF 1’234.50"),
    ("float_noise", {"amount": 0.1 + 0.2}, "CHF 0.30"),
    ("date_as_iso_text", {"due": "2026-12-31"}, "31.12.2026"),
    ("date_as_swiss_text", {"due": "31.12.2026"}, "31.12.2026"),
    ("datetime_cell", {"due": dt.datetime(2026, 12, 31, 14, 30)}, "31.12.2026"),
    ("surrounding_whitespace", {"contact": "  Frau Müller \u00a0"}, "Guten Tag Frau Müller\n"),
]


def write_xlsx(path: Path, rows: list[dict[str, Any]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Rechnungen"
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row[name] for name in COLUMNS])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that merely starts with "=", not a formula
    book.save(path)


def make_documents(folder: Path, rows: list[dict[str, Any]], outside: Path) -> None:
    folder.mkdir()
    for row in rows:
        name = row["document"]
        if isinstance(name, str) and name.startswith("R-") and name != "R-9999.pdf":
            (folder / name).write_bytes(PDF)
    secret = outside / "secret.pdf"
    secret.write_bytes(PDF)
    (folder / "link.pdf").symlink_to(secret)
    (folder / "folder.pdf").mkdir()
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "fake.pdf").write_bytes(b"hello, not a pdf")
    (folder / "big.pdf").write_bytes(PDF + b"0" * (LIMIT + 1))


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, dict[str, int]]:
    """One sheet: good rows between bad and odd ones; returns the plan and row of each case."""
    base = tmp_path_factory.mktemp("suite")
    rows: list[dict[str, Any]] = []
    where: dict[str, int] = {}
    for case_id, overrides in [(c[0], c[1]) for c in BAD_ROWS] + [(c[0], c[1]) for c in ODD_ROWS]:
        rows.append(good_row(len(rows)))
        where[case_id] = len(rows) + 2  # header is row 1, first order row 2
        rows.append({**good_row(len(rows)), **overrides})
    rows.append(good_row(len(rows)))
    write_xlsx(base / "orders.xlsx", rows)
    make_documents(base / "documents", rows, base)
    plan = make_plan(
        read_orders(base / "orders.xlsx"),
        parse_template(TEMPLATE, name="rechnungen"),
        documents=base / "documents",
        max_message_bytes=LIMIT,
    )
    return plan, where


@pytest.mark.parametrize(
    ("case_id", "field", "fragment"),
    [(c[0], c[2], c[3]) for c in BAD_ROWS],
    ids=[c[0] for c in BAD_ROWS],
)
def test_bad_row_reports_exactly_its_problem(
    suite: tuple[Plan, dict[str, int]], case_id: str, field: str, fragment: str
) -> None:
    plan, where = suite
    row = where[case_id]
    problems = [p for p in plan.problems if p.row == row]
    assert [(p.field, fragment in p.message) for p in problems] == [(field, True)], problems
    assert problems[0].hint
    assert plan.draft_for_row(row) is None
    # the good rows just before and after are untouched
    for neighbour in (row - 1, row + 1):
        assert not [p for p in plan.problems if p.row == neighbour]
        assert plan.draft_for_row(neighbour) is not None


def test_bad_suite_is_large_and_distinct() -> None:
    assert len(BAD_ROWS) >= 30
    assert len({c[0] for c in BAD_ROWS}) == len(BAD_ROWS)
    assert len({repr(c[1]) for c in BAD_ROWS}) == len(BAD_ROWS)


def test_problem_carries_key_of_its_row(suite: tuple[Plan, dict[str, int]]) -> None:
    plan, where = suite
    (problem,) = [p for p in plan.problems if p.row == where["invalid_cc"]]
    assert problem.key == f"R-{where['invalid_cc'] - 2:04d}"


def test_only_problem_rows_are_unsendable(suite: tuple[Plan, dict[str, int]]) -> None:
    plan, _ = suite
    assert plan.problem_rows == {p.row for p in plan.problems}
    assert len(plan.drafts) == plan.total_rows - len(BAD_ROWS)
    assert all(p.row is not None for p in plan.problems)


@pytest.mark.parametrize(
    ("case_id", "expected"), [(c[0], c[2]) for c in ODD_ROWS], ids=[c[0] for c in ODD_ROWS]
)
def test_odd_but_fine_rows_are_sendable(
    suite: tuple[Plan, dict[str, int]], case_id: str, expected: str
) -> None:
    plan, where = suite
    draft = plan.draft_for_row(where[case_id])
    assert draft is not None
    assert expected in draft.text


def plan_for(
    tmp_path: Path, rows: list[dict[str, Any]], template: str = TEMPLATE, **kwargs: Any
) -> Plan:
    write_xlsx(tmp_path / "orders.xlsx", rows)
    folder = tmp_path / "documents"
    folder.mkdir(exist_ok=True)
    for row in rows:
        if row["document"]:
            (folder / row["document"]).write_bytes(PDF)
    return make_plan(
        read_orders(tmp_path / "orders.xlsx"),
        parse_template(template, name="rechnungen"),
        documents=folder,
        **kwargs,
    )


def test_duplicate_keys_block_both_rows_only(tmp_path: Path) -> None:
    rows = [good_row(1), good_row(2), good_row(3)]
    rows[2]["invoice_no"] = rows[0]["invoice_no"]
    plan = plan_for(tmp_path, rows)
    assert [(p.row, p.field, p.key) for p in plan.problems] == [
        (2, "Key", "R-0001"),
        (4, "Key", "R-0001"),
    ]
    assert plan.problems[0].message == "The key 'R-0001' is used by 2 rows: 2, 4."
    assert [d.rows for d in plan.drafts] == [(3,)]


def test_unknown_placeholder_names_closest_column(tmp_path: Path) -> None:
    template = TEMPLATE.replace("{{ contact }}", "{{ contakt }}")
    plan = plan_for(tmp_path, [good_row(1), good_row(2)], template)
    (problem,) = plan.problems
    assert (problem.row, problem.field) == (None, "body")
    assert "{{ contakt }}" in problem.message
    assert "Did you mean {{ contact }}?" in problem.hint
    assert plan.drafts == []


def test_two_addresses_in_one_cell_are_two_recipients(tmp_path: Path) -> None:
    row = good_row(1) | {
        "email": "a@x.example, Büro Müller <b@bücher.example>",
        "cc": "c@x.example; d@x.example",
        "bcc": "archiv@bergmann.example",
    }
    (draft,) = plan_for(tmp_path, [row]).drafts
    assert draft.to == ("a@x.example", "Büro Müller <b@bücher.example>")  # readable
    assert draft.recipients == (
        "a@x.example",
        "b@bücher.example",
        "c@x.example",
        "d@x.example",
        "archiv@bergmann.example",
    )


def test_round_trip_headers_recipients_and_attachment_bytes(tmp_path: Path) -> None:
    row = good_row(7) | {
        "email": '"Müller, Anna" <anna@mueller.example>',
        "cc": "treuhand@zahlen.example",
        "bcc": "archiv@bergmann.example",
        "reply_to": "fragen@bergmann.example",
        "company": "Café Zürcher Höfli – Filiale Ost mit einem recht langen Namen",
        "document": "Rechnung Café Nr 7.pdf",
    }
    plan = plan_for(tmp_path, [row])
    (draft,) = plan.drafts
    msg = draft.build(plan.campaign, default_sender="buchhaltung@bergmann.example")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["From"] == "buchhaltung@bergmann.example"
    assert parsed["To"] == '"Müller, Anna" <anna@mueller.example>'
    assert parsed["To"].addresses[0].display_name == "Müller, Anna"
    assert parsed["Cc"] == "treuhand@zahlen.example"
    assert parsed["Reply-To"] == "fragen@bergmann.example"
    assert parsed["Bcc"] is None
    assert b"archiv@bergmann.example" not in msg.as_bytes()
    assert parsed["Subject"] == f"Rechnung R-0007 – {row['company']}"
    assert parsed["X-Customer"] == "00042"
    assert parsed["Message-ID"] == draft.message_id(plan.campaign, "buchhaltung@bergmann.example")
    assert parsed["Message-ID"].endswith("@bergmann.example>")
    assert draft.recipients == (
        "anna@mueller.example",
        "treuhand@zahlen.example",
        "archiv@bergmann.example",
    )
    body = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert body is not None
    assert html is not None
    assert "CHF 1’234.50" in body.get_content()
    assert "<strong>CHF 1’234.50</strong>" in html.get_content()
    (part,) = list(parsed.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    assert part.get_filename() == "Rechnung Café Nr 7.pdf"
    assert part.get_content() == PDF
    assert all(len(line) <= 998 for line in msg.as_bytes().split(b"\r\n"))


def test_message_id_is_stable_and_follows_content(tmp_path: Path) -> None:
    (draft,) = plan_for(tmp_path, [good_row(1)]).drafts
    again = make_plan(
        read_orders(tmp_path / "orders.xlsx"),
        parse_template(TEMPLATE, name="rechnungen"),
        documents=tmp_path / "documents",
    ).drafts[0]
    assert again.message_id("c") == draft.message_id("c")
    assert draft.message_id("c") != draft.message_id("other campaign")
    changed = Draft(**{**draft.__dict__, "subject": "Rechnung R-0001 (korrigiert)"})
    assert changed.content_hash() != draft.content_hash()
    assert changed.message_id("c") != draft.message_id("c")
    before = draft.content_hash()
    (tmp_path / "documents" / "R-0001.pdf").write_bytes(PDF + b"% changed\n")
    with pytest.raises(DocmailError, match="not the file that was checked"):
        draft.content_hash()  # the file sent must be the file checked
    checked_again = make_plan(
        read_orders(tmp_path / "orders.xlsx"),
        parse_template(TEMPLATE, name="rechnungen"),
        documents=tmp_path / "documents",
    ).drafts[0]
    assert checked_again.content_hash() != before


def test_build_without_any_sender_raises_and_plan_does_not_report(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, [good_row(1)])
    assert plan.ok
    with pytest.raises(ConfigError, match="no From address"):
        plan.drafts[0].build(plan.campaign)


def test_from_in_template_overrides_profile(tmp_path: Path) -> None:
    template = "From: Bergmann Buchhaltung <rechnungen@bergmann.example>\n" + TEMPLATE
    plan = plan_for(tmp_path, [good_row(1)], template)
    msg = plan.drafts[0].build(plan.campaign, default_sender="profil@bergmann.example")
    assert msg["From"] == "Bergmann Buchhaltung <rechnungen@bergmann.example>"


def test_group_by_sends_one_message_per_customer(tmp_path: Path) -> None:
    rows = [good_row(1), good_row(2), good_row(3)]
    rows[2]["customer_no"] = "00107"
    rows[2]["email"] = "zuercher@hoefli.example"
    template = (
        TEMPLATE.replace("Key: {{ invoice_no }}", "Key: Kunde-{{ customer_no }}")
        .replace("Format: markdown", "Format: text\nGroup-By: customer_no")
        .replace("Subject: Rechnung {{ invoice_no }}", "Subject: Rechnungen")
    )
    template = template.split("\n\n")[0] + (
        "\n\n{% for r in rows %}{{ r.invoice_no }}: {{ r.amount | money }}\n{% endfor %}"
    )
    plan = plan_for(tmp_path, rows, template)
    assert plan.ok, plan.problems
    first, second = plan.drafts
    assert (first.key, first.rows) == ("Kunde-00042", (2, 3))
    assert [a.filename for a in first.attachments] == ["R-0001.pdf", "R-0002.pdf"]
    assert first.text == "R-0001: CHF 1’234.50\nR-0002: CHF 1’234.50\n"
    assert (second.key, second.rows, second.to) == (
        "Kunde-00107",
        (4,),
        ("zuercher@hoefli.example",),
    )


def test_problem_in_one_group_row_blocks_the_group_only(tmp_path: Path) -> None:
    rows = [good_row(1), good_row(2), good_row(3)]
    rows[2]["customer_no"] = "00107"
    rows[1]["document"] = None
    template = (
        TEMPLATE.replace("Key: {{ invoice_no }}", "Key: {{ customer_no }}")
        .replace("Format: markdown", "Group-By: customer_no")
        .replace("Subject: Rechnung {{ invoice_no }}", "Subject: Rechnungen")
    )
    plan = plan_for(tmp_path, rows, template)
    assert [(p.row, p.field) for p in plan.problems] == [(3, "Attachment")]
    assert [d.key for d in plan.drafts] == ["00107"]


def test_preview_shows_decoded_headers_and_envelope(tmp_path: Path) -> None:
    row = good_row(1) | {"bcc": "archiv@bergmann.example"}
    plan = plan_for(tmp_path, [row])
    shown = preview(plan, 2, default_sender="buchhaltung@bergmann.example")
    names = [name for name, _ in shown.headers]
    assert names[:2] == ["From", "To"]
    assert "Bcc" not in names
    assert dict(shown.headers)["Subject"] == "Rechnung R-0001 – Bäckerei Müller AG"
    assert shown.envelope_from == "buchhaltung@bergmann.example"
    assert shown.envelope_to == ("m@mueller.example", "archiv@bergmann.example")
    text = shown.as_text()
    assert "R-0001.pdf  (application/pdf, 31 bytes)" in text
    assert "Envelope to:   m@mueller.example, archiv@bergmann.example" in text
    assert "<iframe" in shown._repr_html_()


def test_preview_of_bad_or_missing_row(tmp_path: Path) -> None:
    rows = [good_row(1), good_row(2) | {"email": "kaputt"}]
    plan = plan_for(tmp_path, rows)
    with pytest.raises(DocmailError, match=r"Row 3 \(R-0002\) will not be sent: To:"):
        preview(plan, 3)
    with pytest.raises(ConfigError, match="no order in row 9") as info:
        preview(plan, 9)
    assert "rows 2 to 3" in info.value.hint


@pytest.mark.parametrize(
    "value",
    [
        "a\nb",
        "a\r\nb",
        "=?utf-8?q?a=0Db?=",
        "=?UTF-8?Q?a=0a?=",
        "x =?utf-8?b?YQpi?= y",
        "=?iso-8859-1?q?a=0A?=",
        "a\u0085b",
        "a\x00b",
    ],
)
def test_header_problem_catches_breaks(value: str) -> None:
    assert header_problem(value)


@pytest.mark.parametrize("value", ["Rechnung R-1 – Müller", "=?utf-8?q?M=C3=BCller?=", "a\tb"])
def test_header_problem_passes_clean_values(value: str) -> None:
    assert header_problem(value) == ""


def test_parse_addresses_keeps_quoted_commas() -> None:
    found, problems = parse_addresses('"Müller, Anna" <a@x.example>; b@x.example,')
    assert problems == []
    assert found == ['"Müller, Anna" <a@x.example>', "b@x.example"]


def test_html_to_text_keeps_paragraphs_and_links() -> None:
    html = (
        '<p>Guten Tag<br>Frau Müller</p><ul><li>Eins</li></ul><a href="https://x.example">hier</a>'
    )
    assert html_to_text(html) == "Guten Tag\nFrau Müller\n\n- Eins\n\nhier (https://x.example)\n"


def test_header_problem_control_characters_follow_unicode() -> None:
    for code in [*range(0x3000), 0xFEFF, 0x2028, 0x2029]:
        char = chr(code)
        if char in "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029":
            expected = "contains a line break"
        elif unicodedata.category(char) == "Cc" and char != "\t":
            expected = "contains a control character"
        else:
            expected = ""
        assert header_problem(f"a{char}b") == expected, hex(code)


def test_repeated_cells_are_checked_and_rendered_for_every_row(tmp_path: Path) -> None:
    rows = [good_row(n) for n in range(1, 7)]
    for number in (1, 4):
        rows[number] |= {"email": "m@", "amount": "zwölf"}
    rows[5]["company"] = "Andere AG"
    plan = plan_for(tmp_path, rows)
    assert [(p.row, p.field) for p in plan.problems] == [
        (3, "To"),
        (3, "body"),
        (6, "To"),
        (6, "body"),
    ]
    assert [p.message for p in plan.problems if p.row == 3] == [
        p.message for p in plan.problems if p.row == 6
    ]
    assert [d.rows for d in plan.drafts] == [(2,), (4,), (5,), (7,)]
    assert [d.to for d in plan.drafts] == [("m@mueller.example",)] * 4
    assert [d.subject for d in plan.drafts] == [
        "Rechnung R-0001 – Bäckerei Müller AG",
        "Rechnung R-0003 – Bäckerei Müller AG",
        "Rechnung R-0004 – Bäckerei Müller AG",
        "Rechnung R-0006 – Andere AG",
    ]
    assert [d.attachments[0].filename for d in plan.drafts] == [
        "R-0001.pdf",
        "R-0003.pdf",
        "R-0004.pdf",
        "R-0006.pdf",
    ]


def test_links_are_followed_below_the_documents_folder(tmp_path: Path) -> None:
    rows = [good_row(1), good_row(2), good_row(3)]
    rows[1]["document"] = "sub/secret.pdf"
    rows[2]["document"] = "inside/R-0001.pdf"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(PDF)
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "R-0001.pdf").write_bytes(PDF)
    (folder / "sub").symlink_to(outside)
    (folder / "inside").symlink_to(folder)
    write_xlsx(tmp_path / "orders.xlsx", rows)
    plan = make_plan(
        read_orders(tmp_path / "orders.xlsx"),
        parse_template(TEMPLATE, name="rechnungen"),
        documents=folder,
    )
    assert [(p.row, p.field) for p in plan.problems] == [(3, "Attachment")]
    assert "outside the documents folder" in plan.problems[0].message
    assert [d.rows for d in plan.drafts] == [(2,), (4,)]
    assert plan.drafts[1].attachments[0].path == folder / "inside" / "R-0001.pdf"


def test_build_reads_each_attachment_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (draft,) = plan_for(tmp_path, [good_row(1)]).drafts
    expected = draft.message_id("c", "buchhaltung@bergmann.example")
    reads: list[Path] = []
    read_checked = docmail_nb._compose.message.read_checked

    def counting(path: Path, identity: Any) -> bytes:
        reads.append(path)
        return read_checked(path, identity)

    expected_hash = draft.content_hash()
    monkeypatch.setattr(docmail_nb._compose.message, "read_checked", counting)
    msg = draft.build("c", "buchhaltung@bergmann.example")
    assert reads == [draft.attachments[0].path]
    assert msg["Message-ID"] == expected
    reads.clear()
    msg, content_hash = draft.build_with_hash("c", "buchhaltung@bergmann.example")
    assert reads == [draft.attachments[0].path]  # the ledger's hash comes from the same read
    assert content_hash == expected_hash
    assert msg["Message-ID"] == expected


def test_a_render_failure_names_the_empty_cell(suite: tuple[Plan, dict[str, int]]) -> None:
    plan, where = suite
    (problem,) = [p for p in plan.problems if p.row == where["empty_amount"]]
    assert problem.hint == f"Fill in the empty cell I{where['empty_amount']} (amount)."
