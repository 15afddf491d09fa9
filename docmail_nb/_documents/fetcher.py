"""What a document may load while it is drawn: files of its template's folder, data: URLs.

WeasyPrint asks one URL fetcher for every resource of a document: stylesheets, images, fonts
and attachments (``<link rel=attachment>``, ``<a rel=attachment>``). This one rule answers
all of them:

- the scheme is read from the parsed URL and compared case-blind (``FILE:``, ``File:``);
- ``data:`` URLs are decoded (they are part of the document already);
- ``file:`` URLs name a regular file inside the template's folder once every link is
  followed (``..``, symlinks and other hosts are refused), opened without waiting on a FIFO;
- every other scheme (``http``, ``ftp``, …) is refused;
- no resource is larger than ``MAX_RESOURCE_BYTES``: more is refused, not read.

A refused resource is left out of the document (as WeasyPrint leaves out one it cannot load)
and logged; ``refused`` lists them.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from docmail_nb.errors import ResourceRefused

__all__ = ["MAX_RESOURCE_BYTES", "folder_fetcher", "read_resource"]

_log = logging.getLogger("docmail_nb.documents")

#: the largest stylesheet, image, font or attachment a document may load
MAX_RESOURCE_BYTES = 20 * 1024 * 1024


def read_resource(url: str, folder: Path, limit: int = MAX_RESOURCE_BYTES) -> tuple[bytes, str]:
    """The bytes and content type of ``url`` if a document of ``folder`` may load it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "data":
        return _data_url(url, limit)
    if scheme != "file":
        raise ResourceRefused(f"{_short(url)}: only files of the template's folder are loaded")
    if parts.netloc not in ("", "localhost"):
        raise ResourceRefused(f"{_short(url)}: a file on another computer")
    root = folder.resolve()
    try:
        path = Path(url2pathname(unquote(parts.path))).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ResourceRefused(f"{_short(url)}: {exc}") from None
    if not path.is_relative_to(root):
        raise ResourceRefused(f"{_short(url)}: outside the template's folder {root}")
    return _read_file(path, limit, url), mimetypes.guess_type(path.name)[0] or ""


def _read_file(path: Path, limit: int, url: str) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ResourceRefused(f"{_short(url)}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ResourceRefused(f"{_short(url)}: not a regular file")
        if info.st_size > limit:
            raise ResourceRefused(f"{_short(url)}: larger than {limit // 2**20} MB")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ResourceRefused(f"{_short(url)}: larger than {limit // 2**20} MB")
    return data


def _data_url(url: str, limit: int) -> tuple[bytes, str]:
    from urllib.request import DataHandler, Request

    if len(url) > limit * 2:
        raise ResourceRefused(f"{_short(url)}: larger than {limit // 2**20} MB")
    try:
        response = DataHandler().data_open(Request(url))  # noqa: S310 - data: only
    except (ValueError, OSError) as exc:
        raise ResourceRefused(f"{_short(url)}: {exc}") from None
    data = response.read(limit + 1)
    if len(data) > limit:
        raise ResourceRefused(f"{_short(url)}: larger than {limit // 2**20} MB")
    return data, str(response.headers.get("Content-Type") or "")


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:100] + "…"


def folder_fetcher(weasyprint: Any, folder: Path, limit: int = MAX_RESOURCE_BYTES) -> Any:
    """A WeasyPrint URL fetcher that loads what ``read_resource`` allows, and nothing else."""
    base = weasyprint.urls.URLFetcher
    response_type = weasyprint.urls.URLFetcherResponse

    class FolderFetcher(base):  # type: ignore[misc, valid-type]
        refused: list[str]

        def fetch(self, url: str, headers: Any = None) -> Any:
            try:
                data, content_type = read_resource(url, folder, limit)
            except ResourceRefused as exc:
                self.refused.append(str(exc))
                _log.warning("document resource refused: %s", exc)
                raise
            header = {"Content-Type": content_type} if content_type else {}
            return response_type(url, data, header)

    fetcher = FolderFetcher(allowed_protocols={"file", "data"})
    fetcher.refused = []
    return fetcher
