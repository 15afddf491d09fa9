"""The mailbox's folders: their names (modified UTF-7, RFC 3501 section 5.1.3), a LIST answer
read into folders, the names a Sent folder goes by, and IMAP's quoted strings."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "SENT_NAMES",
    "Folder",
    "decode_folder_name",
    "encode_folder_name",
    "parse_list",
    "quoted",
]

_log = logging.getLogger("docmail_nb._mailbox.imap")  # the mailbox's one log

#: names a Sent folder goes by when the server marks none with \Sent (compared case-blind,
#: on the last part of the folder's name)
SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Gesendet",
    "Gesendete Objekte",
    "Gesendete Elemente",
    "Gesendete Nachrichten",
    "Envoyés",
    "Éléments envoyés",
    "Messages envoyés",
    "Posta inviata",
    "Elementi inviati",
    "Inviata",
)

_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')


def decode_folder_name(raw: str) -> str:
    """A folder name as the server spells it (modified UTF-7) → text; ValueError when a
    ``&…-`` sequence is not base64 of UTF-16."""

    def part(match: re.Match[str]) -> str:
        chunk = match.group(1)
        if not chunk:
            return "&"
        data = chunk.replace(",", "/")
        data += "=" * (-len(data) % 4)
        return base64.b64decode(data, validate=True).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", part, raw)


def encode_folder_name(name: str) -> str:
    """Text → the modified UTF-7 the server expects."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quoted(text: str) -> str:
    """``text`` as an IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


@dataclass(frozen=True)
class Folder:
    """One folder of the mailbox: its name as text, as the server spells it, its attributes."""

    name: str
    raw: str
    flags: tuple[str, ...]
    delimiter: str = "/"

    @property
    def special_sent(self) -> bool:
        return any(flag.lower() == "\\sent" for flag in self.flags)

    @property
    def selectable(self) -> bool:
        return not any(flag.lower() in ("\\noselect", "\\nonexistent") for flag in self.flags)

    @property
    def leaf(self) -> str:
        return self.name.rsplit(self.delimiter, 1)[-1] if self.delimiter else self.name


def parse_list(lines: Sequence[object], skipped: list[str] | None = None) -> list[Folder]:
    """The folders of a LIST answer; a name that cannot be read (not UTF-8, a malformed
    modified UTF-7 sequence) is left out with a note in ``skipped``."""
    folders: list[Folder] = []
    for item in lines:
        if isinstance(item, tuple):  # a name sent as a literal: (b'(flags) "/" {n}', b'name')
            head, literal = item[0], item[1]
            quoted = literal.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            item = head.rsplit(b" ", 1)[0] + b' "' + quoted + b'"'
        if not isinstance(item, bytes):
            continue
        match = _LIST_LINE.match(item)
        if match is None:
            _log.debug("unparsed LIST line %r", item[:200])
            continue
        try:
            folders.append(_folder(match))
        except ValueError as exc:  # UnicodeDecodeError, binascii.Error
            note = (
                f"The folder {match.group('name')[:100].decode('ascii', 'backslashreplace')} "
                f"was skipped: its name cannot be read ({type(exc).__name__})."
            )
            _log.warning("%s", note)
            if skipped is not None:
                skipped.append(note)
    return folders


def _folder(match: re.Match[bytes]) -> Folder:
    """One LIST line's folder; ValueError when its name is not UTF-8 or not modified UTF-7."""
    raw = _unquote(match.group("name").decode("utf-8"))
    delim_raw = match.group("delim").decode("utf-8")
    delimiter = "" if delim_raw == "NIL" else _unquote(delim_raw)
    flags = tuple(match.group("flags").decode("utf-8").split())
    name = decode_folder_name(raw) if raw.isascii() else raw  # UTF-8 names (UTF8=ACCEPT)
    return Folder(name, raw, flags, delimiter)
