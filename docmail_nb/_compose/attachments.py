"""Attachments: the file an Attachment header names, found in the documents folder and checked.

A name must stay inside the documents folder (no absolute path, no ``..``, no link or hard
link to a file elsewhere), name a regular, non-empty file, and a ``.pdf`` must be a PDF. What
the check found (size, type, the file's identity) is what the send must find again.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from docmail_nb._compose.closest import document_suggestion
from docmail_nb._compose.docfolder import locate, normalized
from docmail_nb._compose.headers import header_problem
from docmail_nb._compose.message import Attachment
from docmail_nb._store.files import FileIdentity

__all__ = ["MISSING_HINT", "AttachmentFinder", "Refusal"]

_INSIDE = "Attachments are relative to the documents folder and must stay inside it."
#: what to do about a missing attachment when no file could be it written differently
MISSING_HINT = (
    "Put the document into the documents folder under that name, or correct the name in the "
    "sheet (or the template's Attachment header)."
)
_NO_LINK = "Copy the file into the documents folder instead of linking to it."


@dataclass(frozen=True)
class Refusal:
    """Why a named attachment cannot be sent, and what to do."""

    message: str
    hint: str
    missing: str = ""  # the name looked for, when no such file is there


class AttachmentFinder:
    """Finds and checks the attachments of one plan in one documents folder."""

    def __init__(self, documents: Path) -> None:
        self.documents = documents
        self.root = documents.resolve()
        self._inodes: Counter[tuple[int, int]] | None = None  # files below the folder
        self._listings: dict[Path, list[str]] = {}  # the files of a folder, for suggestions

    def find(self, value: str) -> Attachment | Refusal:
        """The attachment ``value`` (a rendered Attachment header) names, or why not."""
        problem = header_problem(value)
        if problem:
            return Refusal(
                f"The attachment name {problem}.",
                "Remove line breaks and encoded words from the file name.",
            )
        name = value.strip()
        if not name:
            return Refusal(
                "The attachment name is empty.", "Fill in the column that names the document."
            )
        try:
            return self._file(name)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            return Refusal(
                f"The attachment {name[:200]!r} cannot be read: {_file_trouble(exc)}.",
                "Fix the file in the documents folder (or the name in the sheet), "
                "then run the check again.",
            )

    def _file(self, name: str) -> Attachment | Refusal:
        relative = Path(name)
        if relative.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            return Refusal(f"The attachment {name!r} is an absolute path.", _INSIDE)
        if ".." in re.split(r"[/\\]", name):
            return Refusal(f"The attachment {name!r} leaves the documents folder.", _INSIDE)
        path = locate(self.documents, relative)  # names matched Unicode-normalized
        if not path.exists() and not path.is_symlink():
            return Refusal(
                f"The attachment {name} is not in the documents folder {self.documents}: "
                "it was looked for there, and no file has that name.",
                MISSING_HINT,
                missing=name,
            )
        if not self._inside_documents(path.relative_to(self.documents)):
            return Refusal(
                f"The attachment {name!r} is a link to a file outside the documents folder.",
                _NO_LINK,
            )
        if not path.is_file():
            return Refusal(
                f"The attachment {name} is not a file (it is a folder or a device).",
                "Name the document file itself.",
            )
        return self._checked_file(name, relative, path)

    def _checked_file(self, name: str, relative: Path, path: Path) -> Attachment | Refusal:
        """A regular file inside the folder: not empty, a real PDF if named so, no hard link."""
        size = path.stat().st_size
        if size == 0:
            return Refusal(
                f"The attachment {name} is empty (0 bytes).", "Export the document again."
            )
        content_type = mimetypes.guess_type(relative.name)[0] or "application/octet-stream"
        if content_type == "application/pdf":
            with path.open("rb") as handle:
                if not handle.read(1024).lstrip().startswith(b"%PDF-"):
                    return Refusal(
                        f"The attachment {name} is not a PDF file.",
                        "Export the document again as PDF.",
                    )
        identity = FileIdentity.of(path)  # what the send must find again
        if identity.links > 1 and self._names_inside(identity) < identity.links:
            return Refusal(
                f"The attachment {name} also has a name outside the documents folder (a hard "
                "link), so it may be a file that does not belong there.",
                _NO_LINK,
            )
        return Attachment(
            path=path,
            filename=relative.name,
            size=size,
            content_type=content_type,
            identity=identity,
        )

    def _names_inside(self, identity: FileIdentity) -> int:
        """How many names the file has inside the documents folder (links not followed)."""
        if self._inodes is None:
            counts: Counter[tuple[int, int]] = Counter()
            for folder, _, files in os.walk(self.root):
                for file in files:
                    try:
                        st = os.lstat(Path(folder, file))
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        counts[st.st_dev, st.st_ino] += 1
            self._inodes = counts
        return self._inodes[identity.device, identity.inode]

    def _inside_documents(self, relative: Path) -> bool:
        """Whether the file stays in the documents folder when every link is followed."""
        path = self.root
        for part in relative.parts:
            path = path / part
            if path.is_symlink():
                return (self.root / relative).resolve().is_relative_to(self.root)
        return True  # no links below the (resolved) folder: the path is its own real path

    def suggestion(
        self, name: str, *, claimed: Iterable[str], keys: Iterable[str], own_key: str | None
    ) -> str | None:
        """A file beside where ``name`` was looked for that may be it written differently.

        Never a file another row attaches (``claimed``) nor one differing in its number or
        key (:func:`~docmail_nb._compose.closest.document_suggestion`).
        """
        relative = Path(name.strip())
        folder = self.documents / relative.parent
        if folder not in self._listings:
            try:
                self._listings[folder] = [
                    normalized(p.name) for p in folder.iterdir() if p.is_file()
                ]
            except OSError:
                self._listings[folder] = []
        others = {Path(other.strip()).name for other in claimed}
        found = document_suggestion(
            normalized(relative.name),
            self._listings[folder],
            claimed=others,
            keys=keys,
            own_key=own_key,
        )
        return None if found is None else str(relative.parent / found)


def _file_trouble(exc: BaseException) -> str:
    """Why a file cannot be used, in plain words."""
    reasons = {
        errno.ELOOP: "it is a link that leads back to itself",
        errno.ENAMETOOLONG: "the name is too long for the file system",
        errno.EACCES: "docmail is not allowed to read it",
        errno.EPERM: "docmail is not allowed to read it",
        errno.EIO: "the disk reported an error",
    }
    if isinstance(exc, OSError):
        return reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return reasons[errno.ELOOP]  # pathlib reports a symlink loop as RuntimeError
