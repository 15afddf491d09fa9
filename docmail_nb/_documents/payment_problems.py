"""What the payment checks report: a field's problem, the list each check adds to, and how a
cell is quoted in one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["PaymentProblem", "PaymentProblems", "cell_text", "char_label", "compact", "short_repr"]

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PaymentProblem:
    """One thing wrong with the payment data: the field (``creditor.pcode``) and what to do."""

    field: str
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} {self.hint}".strip()


class PaymentProblems(list[PaymentProblem]):
    """The problems found so far; ``add`` is handed to each field's check."""

    def add(self, field: str, message: str, hint: str) -> None:
        self.append(PaymentProblem(field, message, hint))


def char_label(char: str) -> str:
    """A character as a message names it: quoted, or "a control character"."""
    return repr(char) if char.isprintable() else "a control character"


def cell_text(value: Any) -> str:
    """A cell as text: integral numbers without decimals (a postcode 8400 read as 8400.0)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return str(value).strip()


def short_repr(value: Any) -> str:
    """A value as a message quotes it: ``repr``, at most about 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}… ({len(text):,} characters)"


def compact(value: str) -> str:
    """An IBAN or reference without spaces, in capitals."""
    return _SPACES.sub("", value).upper()
