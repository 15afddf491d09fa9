"""Suggestions for a name that was not found: a column, or a document file.

A suggestion must never lead the user astray. A column is suggested when its name is close in
spelling or shares a telling word (``contact_name`` → ``contact``, ``due_date`` → ``due``). A
document file is suggested only when it could be the same document written differently
(``r-2026-1044.PDF`` for ``R-2026-1044.pdf``): never a file another row attaches, never a name
that differs in its number or its key: that would be another customer's document.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["closest_column", "document_suggestion", "name_words"]

#: words that say little about which column is meant: they count half
_GENERIC = frozenset(
    {"no", "nr", "num", "number", "id", "date", "name", "code", "value", "text", "the", "of"}
)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def name_words(name: str) -> tuple[str, ...]:
    """The words of a column name: ``invoiceNo`` and ``invoice_no`` both give invoice, no."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return tuple(word for word in re.split(r"[\W_]+", _folded(spaced)) if word)


def closest_column(name: str, columns: Iterable[str]) -> str | None:
    """The column ``name`` most likely meant, or None when none is close enough or two tie."""
    choices = [str(column) for column in columns]
    folded = {_folded(column): column for column in choices}
    if _folded(name) in folded:
        return folded[_folded(name)]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    if close:
        return close[0]
    wanted = set(name_words(name))
    scores: dict[str, float] = {}
    for column in choices:
        shared = wanted & set(name_words(column))
        score = sum(0.5 if word in _GENERIC else 1.0 for word in shared)
        if score >= 1.0:
            scores[column] = score
    if not scores:
        return None
    best = max(scores.values())
    leaders = [column for column, score in scores.items() if score == best]
    return leaders[0] if len(leaders) == 1 else None


def _digits(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def document_suggestion(
    wanted: str,
    files: Iterable[str],
    *,
    claimed: Iterable[str] = (),
    keys: Iterable[str] = (),
    own_key: str | None = None,
) -> str | None:
    """A file in the folder that may be ``wanted`` written differently, or None.

    ``claimed``: the names other rows attach (never suggested); ``keys``: the other rows'
    keys (a name holding one is theirs); ``own_key``: this row's key. A file whose numbers
    differ from the wanted name's, or that lacks the row's own key, is never suggested.
    """
    target = _folded(wanted)
    taken = {_folded(name) for name in claimed}
    own = _folded(own_key) if own_key else ""
    others = [_folded(key) for key in keys if key and _folded(key) != own]
    candidates: list[str] = []
    for name in files:
        folded = _folded(name)
        if folded in taken or name == wanted:
            continue
        if _digits(folded) != _digits(target):
            continue  # another number: another document
        if own and own in target and own not in folded:
            continue  # the wanted name holds the row's key, this one does not
        if any(key in folded and key not in target for key in others):
            continue  # another row's key
        candidates.append(name)
    by_folded = {_folded(name): name for name in candidates}
    close = difflib.get_close_matches(target, list(by_folded), n=1, cutoff=0.7)
    return by_folded[close[0]] if close else None
