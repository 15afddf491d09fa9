"""The sandboxed Jinja environment templates are rendered with: its bounds (nothing a template
makes grows past ``MAX_REPEAT``, no rendering past ``MAX_OUTPUT``), its filters (``money``,
``date``, ``number``, bounded ``center``, ``indent``, ``replace``, ``format``) and how values are
written (empty cells empty, Excel errors refused, markdown escaped)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from jinja2 import StrictUndefined, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from docmail_nb._compose.values import round_amount, to_date, to_decimal
from docmail_nb._sheets.orders import CellError

__all__ = ["MAX_LIPSUM", "MAX_OUTPUT", "MAX_REPEAT", "BoundedSandbox", "make_environment"]

#: the longest string or list a template may make with ``*`` (and ``lipsum``'s words)
MAX_REPEAT = 100_000
#: the most paragraphs ``lipsum`` makes
MAX_LIPSUM = 100
#: the most characters one rendering (a header, a body, a document) may make
MAX_OUTPUT = 5_000_000
_SPACES = re.compile(r"[\u00a0\u202f]")
#: the characters Python-Markdown takes as markup and lets be escaped with a backslash
#: (``<``, ``>`` and ``&`` are HTML-escaped instead, which markdown leaves as they are)
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!]")


def make_environment(
    locale: str = "de_CH", *, autoescape: bool = False, markdown: bool = False
) -> SandboxedEnvironment:
    """A sandboxed Jinja environment: undefined names are errors, empty cells render empty.

    ``autoescape``: every value is HTML-escaped (html bodies). ``markdown``: every value is
    also escaped for markdown (``[text](url)``, ``**``, ``#`` stay text), so a cell can never
    add a link or a tag to a markdown body; the template's own markup still works.

    Filters: ``money(value, currency="CHF", round=None)`` → ``CHF 1’234.50`` (rounded half
    away from zero to the currency's cents, or to ``round``: ``round=0.05`` for 5 Rappen;
    negative as ``CHF -250.00``); ``date(value, format="medium")`` → ``31.12.2026`` (Babel
    patterns such as ``"d. MMMM yyyy"`` too); ``number(value, digits=None)`` → ``1’234.5``.
    All follow ``locale``. A cell holding an Excel error is never rendered: it fails, naming it.
    """

    env = BoundedSandbox(
        undefined=StrictUndefined,
        autoescape=autoescape,
        finalize=_finalize_markdown if markdown else _finalize,
        keep_trailing_newline=True,
    )
    env.globals["lipsum"] = _lipsum
    env.filters.update(
        center=_center,
        indent=_indent,
        replace=pass_eval_context(_replace),
        format=_format,
        money=functools.partial(_money, locale=locale),
        date=functools.partial(_date, locale=locale),
        number=functools.partial(_number, locale=locale),
    )
    return env


_WIDE_FORMAT = re.compile(r"%[-+ #0]*(?:\*|[0-9]{6,}|\.(?:\*|[0-9]{6,}))")
_WIDE_FIELD = re.compile(r"\{[^{}]*:[^{}]*[0-9]{6,}")


def _check_string_call(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A string method called by a template: refused when its result could be huge."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(function, "__name__", "")
    values = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and values:
        _check_width(values[0])
    elif name == "expandtabs" and values:
        _check_width(owner.count("\t") * values[0] if isinstance(values[0], int) else 0)
    elif name == "replace" and len(values) >= 2:
        _check_width(_replaced_length(owner, values[0], values[1]))
    elif name == "join" and isinstance(values[0] if values else None, list | tuple):
        _check_width(len(owner) * len(values[0]))


def _refuse_wide_format(*args: Any, **kwargs: Any) -> str:
    raise SecurityError("a format width that large is too much for a template")


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_REPEAT * 10:
        raise SecurityError(f"a text of {width:,} characters is too much for a template")


def _replaced_length(text: str, old: Any, new: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return 0
    count = text.count(old) if old else len(text) + 1
    return len(text) + count * max(0, len(new) - len(old))


def _bounded_concat(parts: Any) -> str:
    """Join what a template renders, stopping once it passes ``MAX_OUTPUT`` characters."""
    kept: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_OUTPUT:
            raise SecurityError(
                f"the template makes more than {MAX_OUTPUT:,} characters, too much for a "
                "message or a document"
            )
        kept.append(part)
    return "".join(kept)


def _indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> str:
    """Jinja's ``indent``, bounded like the rest."""
    from jinja2.filters import do_indent

    if isinstance(width, int):
        _check_width(width * (str(value).count("\n") + 1))
    elif isinstance(width, str):
        _check_width(len(width) * (str(value).count("\n") + 1))
    return str(do_indent(value, width, first, blank))


def _replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> Any:
    """Jinja's ``replace``, bounded like the rest."""
    from jinja2.filters import do_replace

    _check_width(_replaced_length(str(value), str(old), str(new)))
    return do_replace(eval_ctx, value, old, new, count)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's ``format``, without widths of a million."""
    from jinja2.filters import do_format

    if _WIDE_FORMAT.search(str(value)):
        raise SecurityError("a format width that large is too much for a template")
    return str(do_format(value, *args, **kwargs))


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with bounds: nothing a template makes with ``*``, ``**`` or ``%``, a
    string method or a filter that pads or replaces grows past ``MAX_REPEAT``; no rendering
    makes more than ``MAX_OUTPUT`` characters; no object given to it (the row) can be
    changed."""

    intercepted_binops = frozenset({"*", "**", "%"})
    concat = staticmethod(_bounded_concat)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_string_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        owner = getattr(value, "__self__", None)
        name = getattr(value, "__name__", "")
        if (
            isinstance(owner, str)
            and name in ("format", "format_map")
            and _WIDE_FIELD.search(owner)
        ):
            return _refuse_wide_format
        return super().wrap_str_format(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise SecurityError("a format width that large is too much for a template")
        return super().call_binop(context, operator, left, right)


def _check_repeat(sequence: Any, times: Any) -> None:
    if (
        isinstance(sequence, str | list | tuple)
        and isinstance(times, int)
        and times > 0
        and len(sequence) * times > MAX_REPEAT
    ):
        raise SecurityError(
            f"repeating {len(sequence):,} items {times:,} times is too much for a "
            f"template (at most {MAX_REPEAT:,})"
        )


def _check_power(base: Any, exponent: Any) -> None:
    numbers = (int, float, Decimal)
    if not (isinstance(base, numbers) and isinstance(exponent, numbers)):
        return
    size: Any = abs(base)
    power: Any = abs(exponent)
    if size > 1 and power > 1000:
        raise SecurityError("a power that large is too much for a template")


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's ``lipsum``, with at most ``MAX_LIPSUM`` paragraphs of at most 100 words."""
    if not (0 <= n <= MAX_LIPSUM and 0 < min <= max <= 100):
        raise SecurityError(
            f"lipsum takes at most {MAX_LIPSUM} paragraphs of at most 100 words; this is too much"
        )
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _center(value: Any, width: int = 80) -> str:
    """Jinja's ``center``, up to ``MAX_REPEAT`` characters wide."""
    if width > MAX_REPEAT:
        raise SecurityError(f"center({width:,}) is too wide for a template")
    return str(value).center(width)


def _money(value: Any, currency: str = "CHF", round: Any = None, *, locale: str) -> str:
    """The ``money`` filter: ``CHF 1’234.50``, rounded half away from zero."""
    amount = to_decimal(value)
    places = get_currency_precision(currency)
    step = Decimal(1).scaleb(-places)
    if round is not None:
        step = to_decimal(round)
        if step <= 0:
            raise ValueError(f"money(round={round!r}): the step must be positive")
        places = max(places, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
    amount = round_amount(amount, step, places)
    text = format_currency(
        amount,
        currency,
        format=_signed_pattern(locale, places),
        locale=_locale(locale),
        currency_digits=False,
    )
    return _swiss_apostrophe(_plain_spaces(text))


def _date(value: Any, format: str = "medium", *, locale: str) -> str:
    """The ``date`` filter: ``31.12.2026``, or a Babel pattern such as ``"d. MMMM yyyy"``."""
    day = to_date(value)
    if isinstance(day, dt.datetime) and format not in ("short", "medium", "long", "full"):
        return _plain_spaces(format_datetime(day, format, locale=_locale(locale)))
    return _plain_spaces(format_date(day, format, locale=_locale(locale)))


def _number(value: Any, digits: int | None = None, *, locale: str) -> str:
    """The ``number`` filter: ``1’234.5``, or with ``digits`` places."""
    amount = to_decimal(value)
    if digits is not None:
        amount = round_amount(amount, Decimal(1).scaleb(-digits), digits)
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        text = format_decimal(amount, pattern, locale=_locale(locale))
        return _swiss_apostrophe(_plain_spaces(text))
    if amount.as_tuple().exponent < -3:  # type: ignore[operator]
        amount = round_amount(amount, Decimal("0.001"), 3).normalize()
    return _swiss_apostrophe(_plain_spaces(format_decimal(amount, locale=_locale(locale))))


@functools.cache
def _signed_pattern(locale: str, places: int) -> str:
    """The locale's currency pattern with the minus next to the number (``CHF -250.00``)."""
    pattern = _locale(locale).currency_formats["standard"].pattern.split(";")[0]
    decimals = "0" * places
    pattern = re.sub(r"0\.0+", f"0.{decimals}" if places else "0", pattern)
    return f"{pattern};{pattern.replace('#', '-#', 1)}"


@functools.cache
def _locale(name: str) -> Locale:
    """The parsed Babel locale (parsing a locale name anew on every call is slow)."""
    return Locale.parse(name)


def _finalize(value: Any) -> Any:
    if isinstance(value, CellError):
        raise ValueError(value.describe())
    return "" if value is None else value


def _finalize_markdown(value: Any) -> Any:
    """A value as markdown text: every character markdown would act on, backslash-escaped."""
    value = _finalize(value)  # an Excel error fails here, as everywhere
    if isinstance(value, Markup):  # the template marked it safe on purpose
        return value
    return _MARKDOWN_SPECIAL.sub(r"\\\g<0>", str(value))


def _plain_spaces(text: str) -> str:
    return _SPACES.sub(" ", text)


def _swiss_apostrophe(text: str) -> str:
    """Digits grouped with the typographic apostrophe (1’234.50), whatever Babel's CLDR says.

    CLDR versions differ between ' and ’ for de_CH; a formatted number has no other quote.
    """
    return text.replace("'", "’")
