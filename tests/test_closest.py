"""Suggestions for a missing name never point at another customer's document."""

from __future__ import annotations

from docmail_nb._compose.closest import closest_column, document_suggestion

COLUMNS = ["invoice_no", "customer_no", "company", "contact", "email", "amount", "due", "city"]
INVOICES = [f"R-2026-10{n}.pdf" for n in range(41, 51)]


def test_columns_are_matched_by_spelling_and_by_words() -> None:
    assert closest_column("emial", COLUMNS) == "email"
    assert closest_column("contact_name", COLUMNS) == "contact"
    assert closest_column("due_date", COLUMNS) == "due"
    assert closest_column("invoiceNumber", COLUMNS) == "invoice_no"
    assert closest_column("Company", COLUMNS) == "company"
    assert closest_column("weather", COLUMNS) is None
    assert closest_column("name", ["first_name", "last_name"]) is None  # a tie: no guess


def test_a_name_differing_in_one_digit_is_never_suggested() -> None:
    others = [name for name in INVOICES if name != "R-2026-1044.pdf"]
    assert document_suggestion("R-2026-1044.pdf", others, own_key="R-2026-1044") is None
    assert document_suggestion("R-2026-1044.pdf", ["R-2026-1054.pdf"]) is None
    assert document_suggestion("R-2026-1044.pdf", ["R-2026-10444.pdf"]) is None


def test_the_same_document_written_differently_is_suggested() -> None:
    files = [*INVOICES[:3], "r-2026-1044.PDF", *INVOICES[4:]]
    assert document_suggestion("R-2026-1044.pdf", files, own_key="R-2026-1044") == (
        "r-2026-1044.PDF"
    )
    assert document_suggestion("R-2026-1044.pdf", ["R-2026-1044 .pdf"]) == "R-2026-1044 .pdf"


def test_another_rows_attachment_or_key_is_never_suggested() -> None:
    files = ["r-2026-1044.PDF"]
    assert document_suggestion("R-2026-1044.pdf", files, claimed=["R-2026-1044.PDF"]) is None
    named = ["Rechnung Meyer.pdf", "Rechnung Meier (1).pdf"]
    assert document_suggestion("Rechnung Meier.pdf", named[:1], keys=["Meyer"]) is None
    assert document_suggestion("Rechnung Meier.pdf", named[:1], own_key="Meier") is None
