"""Finding a document in the documents folder as the user named it.

A file name typed on Windows has ``ä`` as one character (NFC); the same name written by a Mac
or synced from SharePoint/OneDrive may have ``a`` + a combining diaeresis (NFD). They look the
same and are different bytes, so each part of an attachment path is matched Unicode-normalized
when the exact name is not there, in subfolders too.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

__all__ = ["locate", "normalized"]


def normalized(name: str) -> str:
    """``name`` in Unicode NFC, the form a Windows keyboard types."""
    return unicodedata.normalize("NFC", name)


def locate(folder: Path, relative: Path) -> Path:
    """The path of ``relative`` inside ``folder``, each part matched Unicode-normalized.

    Returns ``folder / relative`` when the exact path exists or nothing matches (the caller
    then reports it missing).
    """
    exact = folder / relative
    if exact.exists() or exact.is_symlink():
        return exact
    current = folder
    for part in relative.parts:
        candidate = current / part
        if not (candidate.exists() or candidate.is_symlink()):
            wanted = normalized(part)
            try:
                entries = [entry.name for entry in current.iterdir()]
            except OSError:
                return exact
            match = next((entry for entry in entries if normalized(entry) == wanted), None)
            if match is None:
                return exact
            candidate = current / match
        current = candidate
    return current
