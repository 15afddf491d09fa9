"""A cell's value as an exact amount or a date: what the ``money``, ``date`` and ``number``
filters, the planner and the documents compute with, and how a problem quotes a cell."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from docmail_nb._sheets.orders import CellError

__all__ = ["MAX_AMOUNT_DIGITS", "SHOWN_CELL", "round_amount", "shown", "to_date", "to_decimal"]

#: the largest amount (in units) docmail computes with: 10**15, far beyond any invoice
MAX_AMOUNT_DIGITS = 15
#: how much of a cell a problem quotes
SHOWN_CELL = 60
_CURRENCY = r"(?:[A-Z]{3}|S?Fr\.?|sFr\.?|€|\$|£)"
_AMOUNT = re.compile(
    rf"^(?:{_CURRENCY}\s*)?(?P<sign>[-−–]\s*)?(?:{_CURRENCY}\s*)?"
    r"(?P<number>[0-9][0-9'’\u00a0\u202f ,]*(?:\.(?:[0-9]+|[-–]{1,2}))?|\.[0-9]+)"
    rf"\s*(?:{_CURRENCY})?$",
    re.IGNORECASE,
)
_GROUPING = re.compile(r"['’\u00a0\u202f ]")
_WHOLE_FRANCS = re.compile(r"\.[-–]{1,2}$")


def to_decimal(value: Any) -> Decimal:
    """A number cell, or an amount as typed into a text cell, as an exact Decimal.

    Text may carry a currency (``CHF 980.–``, ``1’234.50 CHF``), thousands separators (``'``,
    ``’``, spaces, or ``,`` before a decimal point), the Swiss ``.–`` / ``.-`` for whole francs
    and a leading minus (``-``, ``−``).
    """
    if value is None:
        raise ValueError("an empty cell is not an amount")
    if isinstance(value, CellError):
        raise ValueError(value.describe())
    if isinstance(value, bool):
        raise ValueError(f"{shown(value)} is not an amount")
    if isinstance(value, Decimal | int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return _bounded(number, value)
    text = str(value).strip()
    if len(text) > 4 * MAX_AMOUNT_DIGITS:
        raise ValueError(f"{shown(text)} is too long for a number")
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(f"{shown(value)} is not a number")
    digits = _GROUPING.sub("", match.group("number"))
    if "," in digits:
        if "." not in digits or digits.index(",") > digits.index("."):
            raise ValueError(f"{shown(value)} is not a number (a decimal comma?)")
        digits = digits.replace(",", "")
    digits = _WHOLE_FRANCS.sub("", digits)
    try:
        number = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"{shown(value)} is not a number") from None
    return _bounded(-number if match.group("sign") else number, value)


def _bounded(number: Decimal, value: Any) -> Decimal:
    """``number``, unless it is no finite number or too large to be an amount."""
    if not number.is_finite():
        raise ValueError(f"{shown(value)} is not a number")
    if number and number.adjusted() >= MAX_AMOUNT_DIGITS:
        raise ValueError(
            f"{shown(value)} is too large a number (more than {MAX_AMOUNT_DIGITS} digits "
            "before the decimal point)"
        )
    return number


def shown(value: Any) -> str:
    """``repr(value)``, shortened to about ``SHOWN_CELL`` characters for a message."""
    text = repr(value)
    if len(text) <= SHOWN_CELL:
        return text
    return f"{text[: SHOWN_CELL - 10]}…{text[-5:]} ({len(text):,} characters)"


def round_amount(amount: Decimal, step: Decimal, places: int) -> Decimal:
    """``amount`` rounded half away from zero to a multiple of ``step`` (as Excel's ROUND and
    invoice programs do: 24.525 → 24.53), with ``places`` decimal places."""
    units = (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (units * step).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_date(value: Any) -> dt.date:
    """A date cell, or ISO text such as "2026-12-31" or Swiss "31.12.2026", as a date."""
    if value is None:
        raise ValueError("an empty cell is not a date")
    if isinstance(value, CellError):
        raise ValueError(value.describe())
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == text[7] == "-":
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return dt.datetime.strptime(text, pattern).date()
            except ValueError:
                continue
    raise ValueError(f"{shown(value)} is not a date")
