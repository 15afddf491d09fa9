"""Problems many rows share are grouped; long lists are capped with a count of the rest."""

from __future__ import annotations

from docmail_nb._compose.plan import Problem
from docmail_nb._compose.problem_list import capped, group_problems, join_reasons, row_spans


def test_rows_are_named_as_spans() -> None:
    assert row_spans([2, 3, 4, 11]) == "2–4, 11"
    assert row_spans(range(2, 20_002)) == "2–20,001"
    assert row_spans(range(2, 40, 2), limit=3) == "2, 4, 6, and 16 more rows"


def test_one_problem_of_many_rows_is_one_group() -> None:
    message = "The key 'DUP-1' is used by 20,000 rows: 2–20,001."
    problems = [Problem(row, "DUP-1", "Key", message, "Give each its own key.") for row in
                range(2, 20_002)]  # fmt: skip
    problems.append(Problem(None, None, "To", "names no column.", ""))
    groups = group_problems(problems)
    assert len(groups) == 2
    assert groups[0].label == "20,000 rows (DUP-1): 2–20,001"
    assert groups[1].label == "All rows"


def test_a_long_list_is_capped_with_the_count_of_the_rest() -> None:
    problems = [Problem(row, f"K{row}", "To", f"'x{row}' is no address.", "") for row in
                range(2, 102)]  # fmt: skip
    shown, rest = capped(group_problems(problems), limit=10)
    assert len(shown) == 10
    assert rest == "… and 90 more problems in 90 rows."
    assert capped(group_problems(problems[:3]))[1] == ""


def test_problems_are_joined_one_way() -> None:
    reasons = ["To: 'x' is no address.", "Attachment: missing;", "To: 'x' is no address."]
    joined = join_reasons(reasons)
    assert joined == "To: 'x' is no address. Attachment: missing."
    assert ".;" not in joined
