"""Address headers composed from parts: a cell's value can never add a recipient.

An address header such as ``To: {{ contact }} <{{ email }}>`` is not rendered to text and then
split at its commas (a contact cell ``evil@x.example,`` would then add a recipient). It is
rendered with every value replaced by a placeholder; the template's own text decides where
the entries and their parts are; then each value is put into its part and checked for it:

- a value that is a whole entry (``To: {{ email }}``) is the cell meant to hold addresses and
  may hold several, comma or semicolon separated;
- a value in a display name may hold a comma (it is quoted) but no ``@``, ``<``, ``>``, ``"``
  or ``;``;
- a value inside the address part (``<{{ email }}>``, ``{{ user }}@firma.ch``) must be part of
  one address: no comma, semicolon, space, quote or angle bracket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.headerregistry import Address
from typing import Any

from jinja2 import Template, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from docmail_nb._compose.headers import header_problem, parse_addresses, split_addresses

__all__ = ["compose_addresses", "parts_environment", "render_parts"]

_VALUES = "\ue000values"  # the render context's list of values (not a column name)
_TOKEN = re.compile("\ue000(\\d+)\ue001")
_NAME_ADDR = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>\s*$")
_NOT_IN_NAME = '@<>";'
_NOT_IN_ADDRESS = ',;<>"() \t'


def parts_environment(env: SandboxedEnvironment) -> SandboxedEnvironment:
    """A copy of ``env`` that renders every value as a placeholder (see ``render_parts``).

    Each value first goes through ``env``'s own finalize (an Excel error fails there).
    """
    finalize = env.finalize

    @pass_context  # never evaluated at compile time: constants get a placeholder too
    def placeholder(context: Context, value: Any) -> str:
        if finalize is not None:
            value = finalize(value)
        values: list[str] = context.get(_VALUES, [])
        values.append("" if value is None else str(value))
        return f"\ue000{len(values) - 1}\ue001"

    return env.overlay(finalize=placeholder)


def render_parts(template: Template, context: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The template's own text with placeholders, and the values they stand for."""
    values: list[str] = []
    skeleton = template.render({**context, _VALUES: values})
    return skeleton, values


def compose_addresses(
    skeleton: str, values: list[str], check_value: Any
) -> tuple[list[str], list[str]]:
    """The checked entries of an address header and its problems.

    ``check_value(value)`` checks a value that is a whole entry (the cell holding addresses)
    and returns ``(addresses, problems)``, like ``parse_addresses``.
    """
    found: list[str] = []
    problems: list[str] = []
    for entry in split_addresses(skeleton):
        tokens = _TOKEN.findall(entry)
        if not tokens:  # the template's own text
            more, trouble = parse_addresses(entry)
        elif len(tokens) == 1 and not _TOKEN.sub("", entry).strip():
            value = values[int(tokens[0])]
            if not value.strip():
                continue
            more, trouble = check_value(value)
        else:
            more, trouble = _compose_entry(entry, values)
        found += more
        problems += trouble
    return found, problems


def _compose_entry(entry: str, values: list[str]) -> tuple[list[str], list[str]]:
    """One ``name <address>`` (or one address) built from the template's text and values."""
    problems: list[str] = []

    def fill(part: str, forbidden: str, where: str) -> str:
        def value_of(match: re.Match[str]) -> str:
            value = values[int(match.group(1))]
            trouble = header_problem(value)
            bad = sorted({ch for ch in value if ch in forbidden})
            if trouble or bad:
                why = trouble or "contains " + " ".join(repr(ch) for ch in bad)
                problems.append(
                    f"The value {value.strip()!r} in the {where} {why}: it would change the "
                    "recipients, so it is refused."
                )
            return value

        return _TOKEN.sub(value_of, part)

    match = _NAME_ADDR.match(entry)
    name_part, addr_part = (match.group("name"), match.group("addr")) if match else ("", entry)
    name = " ".join(fill(name_part, _NOT_IN_NAME, "display name").split())
    addr = fill(addr_part, _NOT_IN_ADDRESS, "address").strip()
    if problems:
        return [], problems
    if len(name) >= 2 and name[0] == name[-1] == '"':  # the template quoted the name
        name = name[1:-1].strip()
    if not addr:
        return [], [f"{name!r} has no address: the address cell is empty."]
    checked, trouble = parse_addresses(addr)
    if trouble or len(checked) != 1:
        return [], trouble or [f"{addr!r} is not one e-mail address."]
    return [str(Address(display_name=name, addr_spec=checked[0])) if name else checked[0]], []
