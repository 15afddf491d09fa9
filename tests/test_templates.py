"""The template format, the sandbox and the Swiss formatting filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from docmail_nb._compose.sandbox import make_environment
from docmail_nb._compose.templates import load_template, parse_template
from docmail_nb._compose.values import to_date
from docmail_nb._sample import sample_dir
from docmail_nb.errors import TemplateError


def test_parse_headers_format_group_and_body() -> None:
    template = parse_template(
        "to: {{ email }}\nAttachment: a.pdf\nattachment: b.pdf\nX-Kunde: {{ customer_no }}\n"
        "Key: {{ k }}\nFormat: HTML\nGroup-By: customer_no\nSubject: Rechnung\n"
        "  {{ invoice_no }}\n\n<p>Hallo</p>\n\n",
        name="t",
    )
    assert template.headers == (
        ("To", "{{ email }}"),
        ("Attachment", "a.pdf"),
        ("Attachment", "b.pdf"),
        ("X-Kunde", "{{ customer_no }}"),
        ("Key", "{{ k }}"),
        ("Subject", "Rechnung {{ invoice_no }}"),
    )
    assert (template.format, template.group_by, template.body) == (
        "html",
        "customer_no",
        "<p>Hallo</p>\n",
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("To: x\nSubjekt: y\nKey: k\n\nbody", "unknown header 'Subjekt'"),
        ("To: x\nKey: k\nbody without blank line", "line 3"),
        ("To: x\nKey: k", "no blank line"),
        ("Subject: x\nKey: k\n\nbody", "no To, Cc or Bcc"),
        ("To: x\n\nbody", "no Key header"),
        ("To: x\nTo: y\nKey: k\n\nbody", "header To 2 times"),
        ("To: x\nKey: k\nFormat: pdf\n\nbody", "unknown Format 'pdf'"),
        ("To: x\nKey: k\n\nHallo {{ name }\n", "Jinja syntax error in the body, line 1"),
        ("To: {{ email \nKey: k\n\nbody", "in the To header"),
    ],
)
def test_bad_templates_say_what_and_where(text: str, fragment: str) -> None:
    with pytest.raises(TemplateError, match=fragment) as info:
        parse_template(text, name="t")
    assert info.value.hint


def test_unknown_header_suggests_the_close_one() -> None:
    with pytest.raises(TemplateError) as info:
        parse_template("To: x\nSubjekt: y\nKey: k\n\nbody")
    assert "Did you mean 'Subject'?" in info.value.hint


def test_sample_templates_load() -> None:
    formats = {
        name: load_template(sample_dir() / "templates" / f"{name}.txt").format
        for name in ("invoice", "offer", "delivery_note")
    }
    assert formats == {"invoice": "markdown", "offer": "html", "delivery_note": "text"}


def test_missing_template_file() -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        load_template("/nonexistent/template.txt")


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v | money }}", Decimal("1234.5"), "CHF 1’234.50"),
        ("{{ v | money('EUR') }}", 1234, "EUR 1’234.00"),
        ("{{ v | money }}", "1234.50", "CHF 1’234.50"),
        ("{{ v | money }}", 0.1 + 0.2, "CHF 0.30"),
        ("{{ v | money }}", Decimal("-5.5"), "CHF -5.50"),
        ("{{ v | date }}", dt.date(2026, 12, 31), "31.12.2026"),
        ("{{ v | date('long') }}", dt.date(2026, 12, 31), "31. Dezember 2026"),
        ("{{ v | date }}", "2026-12-31", "31.12.2026"),
        ("{{ v | number }}", Decimal("1234.5"), "1’234.5"),
        ("{{ v | number(2) }}", 1234, "1’234.00"),
        ("[{{ v }}]", None, "[]"),
    ],
)
def test_swiss_filters(source: str, value: object, expected: str) -> None:
    assert make_environment("de_CH").from_string(source).render(v=value) == expected


def test_other_locale() -> None:
    env = make_environment("de_DE")
    assert env.from_string("{{ v | money('EUR') }}").render(v=Decimal("1234.5")) == "1.234,50 €"


def test_undefined_is_an_error_and_sandbox_holds() -> None:
    env = make_environment()
    with pytest.raises(UndefinedError):
        env.from_string("{{ missing }}").render()
    with pytest.raises(SecurityError):
        env.from_string("{{ v.__class__.__mro__ }}").render(v="x")


def test_autoescape_only_when_asked() -> None:
    value = "<b>Müller & Söhne</b>"
    assert make_environment(autoescape=True).from_string("{{ v }}").render(v=value) == (
        "&lt;b&gt;Müller &amp; Söhne&lt;/b&gt;"
    )
    assert make_environment().from_string("{{ v }}").render(v=value) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-31", dt.date(2026, 12, 31)),
        (" 2026-12-31 ", dt.date(2026, 12, 31)),
        ("2026-1-5", dt.date(2026, 1, 5)),
        ("31.12.2026", dt.date(2026, 12, 31)),
        ("2026-12-31 14:30:00", dt.date(2026, 12, 31)),
        ("2026-12-31T14:30:00", dt.date(2026, 12, 31)),
    ],
)
def test_to_date_reads_iso_and_swiss_text(text: str, expected: dt.date) -> None:
    assert to_date(text) == expected


@pytest.mark.parametrize("text", ["2026-02-31", "20261231", "2026-W53-1", "2026-12", "12/31/2026"])
def test_to_date_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        to_date(text)


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v | money }}", Decimal("24.525"), "CHF 24.53"),  # half away from zero, not even
        ("{{ v | money }}", 24.525, "CHF 24.53"),
        ("{{ v | money }}", Decimal("-24.525"), "CHF -24.53"),
        ("{{ v | money }}", 2.675, "CHF 2.68"),
        ("{{ v | money('CHF', round=0.05) }}", Decimal("24.53"), "CHF 24.55"),
        ("{{ v | money('CHF', round=0.05) }}", Decimal("24.525"), "CHF 24.55"),
        ("{{ v | money('CHF', round=0.05) }}", Decimal("24.52"), "CHF 24.50"),
        ("{{ v | money('CHF', round=0.05) }}", Decimal("-24.575"), "CHF -24.60"),
        ("{{ v | money('CHF', round=1) }}", Decimal("979.5"), "CHF 980.00"),
        ("{{ v | money }}", -250, "CHF -250.00"),
        ("{{ v | money }}", "CHF 980.–", "CHF 980.00"),
        ("{{ v | money }}", "980.-", "CHF 980.00"),
        ("{{ v | money }}", "1'234.50", "CHF 1’234.50"),
        ("{{ v | money }}", "1’234.50 CHF", "CHF 1’234.50"),
        ("{{ v | money }}", "CHF -250.00", "CHF -250.00"),
        ("{{ v | money }}", "Fr. 12.–", "CHF 12.00"),
        ("{{ v | number(2) }}", Decimal("0.125"), "0.13"),
    ],
)
def test_money_as_invoices_round_it(source: str, value: object, expected: str) -> None:
    assert make_environment("de_CH").from_string(source).render(v=value) == expected


@pytest.mark.parametrize("value", ["980,50", "zwölf", "1.2.3", "CHF", "--5"])
def test_text_that_is_no_amount_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        make_environment("de_CH").from_string("{{ v | money }}").render(v=value)
