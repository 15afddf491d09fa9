"""Each key its own message and its own file: keys used by several rows, and keys whose
documents would be saved under one file name, are problems of every row concerned."""

from __future__ import annotations

from docmail_nb._compose.message import Draft
from docmail_nb._compose.problem_list import row_spans
from docmail_nb._compose.rows import ReportProblem

__all__ = ["drop_duplicate_keys", "drop_shared_documents"]

#: how many other keys (and their rows) a shared-document problem names
_LISTED_ROWS = 5


def drop_duplicate_keys(
    drafts: list[Draft], key_groups: dict[str, list[tuple[int, ...]]], problem: ReportProblem
) -> list[Draft]:
    """The drafts whose key no other rows use (``key_groups``: key → the rows of each draft);
    every row of a key used more than once gets a problem."""
    duplicates = {key for key, groups in key_groups.items() if len(groups) > 1}
    for key in duplicates:
        rows = sorted(row for group in key_groups[key] for row in group)
        # one text for every row: a list of problems groups them into one line
        message = f"The key {key!r} is used by {len(rows):,} rows: {row_spans(rows)}."
        for row in rows:
            problem(
                row,
                key,
                "Key",
                message,
                "Every message needs its own key (document number); remove the duplicate "
                "row or correct its number.",
            )
    return [draft for draft in drafts if draft.key not in duplicates]


def drop_shared_documents(drafts: list[Draft], problem: ReportProblem) -> list[Draft]:
    """Drafts of keys whose document would be saved under one file name are problems of
    them all: the file attached must be the one made for its key.

    Names are compared case-blind (a documents folder on Windows or macOS holds one file
    for ``A-7`` and ``a-7``).
    """
    owners: dict[str, dict[str, tuple[int, ...]]] = {}
    shown: dict[str, str] = {}
    for draft in drafts:
        for document in draft.documents:
            name = str(document.path).casefold()
            owners.setdefault(name, {}).setdefault(draft.key, draft.rows)
            shown.setdefault(name, document.name)
    dropped: set[str] = set()
    for name, keys in owners.items():
        if len(keys) < 2:
            continue
        for key, rows in keys.items():
            others = [
                f"{other!r} (row {', '.join(map(str, other_rows[:_LISTED_ROWS]))})"
                for other, other_rows in keys.items()
                if other != key
            ][:_LISTED_ROWS]
            for row in rows:
                problem(
                    row,
                    key,
                    "Document",
                    f"The document of key {key!r} would be saved as {shown[name]}, the file "
                    f"name of key{'s' * (len(others) > 1)} {', '.join(others)} too.",
                    "Make the keys differ in letters or digits, not only in spaces, "
                    "punctuation or capitals (file names keep only letters, digits, '.', "
                    "'_' and '-').",
                )
        dropped.update(keys)
    return [draft for draft in drafts if draft.key not in dropped]
