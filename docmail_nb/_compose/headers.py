"""What may go into a header: values without line breaks, and checked lists of addresses.

A value is refused when it would change the header's structure: a raw line break or control
character, or an RFC 2047 encoded word that decodes to one (the email package of Python before
3.11.10 / 3.12.5 serializes such a word as real header lines, CVE-2024-6923, so the check
does not rely on it).
"""

from __future__ import annotations

import re
import unicodedata
from email.header import decode_header
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

__all__ = ["addr_spec", "header_problem", "join_lines", "parse_addresses", "split_addresses"]

_SPLIT = re.compile(r"[,;]")
_OUTLOOK = re.compile(r"^[^<>@\"]+<[^<>]+@[^<>]+>$")
_NAME_ADDR = re.compile(r"^(?P<name>.*?)\s*<(?P<addr>[^<>]*)>$", re.DOTALL)
_LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_LINE_BREAK = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL_NOT_TAB = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # Unicode category Cc, no tab


def header_problem(value: str) -> str:
    """Why ``value`` cannot be a header value ("" when it can).

    Catches raw line breaks and control characters, and RFC 2047 encoded words that decode to
    them (the email package of some Python versions serializes those as real header lines).
    """
    if _LINE_BREAK.search(value):
        return "contains a line break"
    if _CONTROL_NOT_TAB.search(value):
        return "contains a control character"
    if "=?" not in value:
        return ""
    try:
        parts = decode_header(value)
    except Exception:
        return "contains a malformed encoded word (=?...?=)"
    for chunk, charset in parts:
        raw = chunk.encode("utf-8", "replace") if isinstance(chunk, str) else chunk
        if any(byte in raw for byte in (b"\r", b"\n", b"\x00")):
            return "contains an encoded word (=?...?=) that decodes to a line break"
        try:
            text = raw.decode(charset or "ascii", "replace")
        except LookupError:
            return f"contains an encoded word in the unknown charset {charset!r}"
        if any(ch in _LINE_BREAKS or unicodedata.category(ch) == "Cc" for ch in text):
            return "contains an encoded word (=?...?=) that decodes to a control character"
    return ""


def parse_addresses(value: str) -> tuple[list[str], list[str]]:
    """Split a To/Cc/Bcc value into checked addresses; returns (addresses, problems).

    Commas and semicolons separate addresses (outside quotes). Each entry is ``addr`` or
    ``Name <addr>`` (``Müller, Hans <h@x.ch>`` as Outlook writes it too); a display name that
    brings its own address or angle brackets is refused.
    Addresses are checked with email-validator; international domains are kept in IDNA form.
    """
    found: list[str] = []
    problems: list[str] = []
    for entry in split_addresses(value):
        match = _NAME_ADDR.match(entry)
        name, addr = (match.group("name"), match.group("addr")) if match else ("", entry)
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').strip()
        if (
            "<" in name
            or ">" in name
            or "@" in name
            or (not match and ("<" in addr or ">" in addr))
        ):
            problems.append(
                f"{entry!r} carries more than one address (a name that brings its own address "
                "or angle brackets)."
            )
            continue
        if addr.strip() != addr.strip().strip('"') or " " in addr.strip():
            problems.append(f"{entry!r} is not one e-mail address.")
            continue
        try:
            checked = validate_email(addr.strip(), check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as exc:
            problems.append(f"{addr.strip()!r} is not a valid e-mail address: {exc}")
            continue
        spec = checked.normalized  # an international domain stays readable (wire.fit)
        found.append(str(Address(display_name=name, addr_spec=spec)) if name else spec)
    return found, problems


def join_lines(value: str) -> str:
    """An address cell with one address per line (Alt+Enter in Excel) as one list.

    Only CR and LF separate; every other control character stays for ``header_problem`` to
    refuse, and each line is still checked as an address of its own.
    """
    if "\n" not in value and "\r" not in value:
        return value
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", value)]
    return ", ".join(line.rstrip(",;").strip() for line in lines if line.strip(" ,;"))


def split_addresses(value: str) -> list[str]:
    """The entries of an address list: split at commas and semicolons outside quotes and <>.

    Outlook writes unquoted display names with a comma (``Müller, Hans <h@x.ch>; ...``): a
    part without an address that is followed by ``Name <address>`` is joined to it.
    """
    entries = _split_raw(value)
    merged: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        following = entries[index + 1] if index + 1 < len(entries) else ""
        if "@" not in entry and "<" not in entry and '"' not in entry and _OUTLOOK.match(following):
            merged.append(f"{entry}, {following}")
            index += 2
            continue
        merged.append(entry)
        index += 1
    return merged


def _split_raw(value: str) -> list[str]:
    entries: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for ch in value:
        if ch == '"' and not angled:
            quoted = not quoted
        elif ch == "<" and not quoted:
            angled = True
        elif ch == ">" and not quoted:
            angled = False
        if _SPLIT.match(ch) and not quoted and not angled:
            entries.append("".join(current))
            current = []
        else:
            current.append(ch)
    entries.append("".join(current))
    return [entry.strip() for entry in entries if entry.strip()]


def addr_spec(entry: str) -> str:
    """The bare address of ``Name <addr>`` or ``addr``."""
    match = _NAME_ADDR.match(entry.strip())
    return (match.group("addr") if match else entry).strip()
