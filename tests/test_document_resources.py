"""What a document template may load: files of its folder and data: URLs, each capped.

Drawn with WeasyPrint for real; what a PDF embeds is read back with poppler (pdfdetach,
pdftotext).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pdfread import pdf_text

from docmail_nb._documents.fetcher import read_resource
from docmail_nb._documents.render import DocumentRenderer, load_document_template
from docmail_nb.errors import ResourceRefused

SECRET = "profile-password-9f2c"


def draw(folder: Path, source: str, row: dict[str, str], out: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "doc.html").write_text(source, encoding="utf-8")
    renderer = DocumentRenderer(load_document_template(folder / "doc.html"))
    out.write_bytes(renderer.pdf(row).pdf)
    return out


def attachments(pdf: Path) -> str:
    return subprocess.run(
        ["pdfdetach", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("scheme", ["FILE", "File", "fIlE"])
@pytest.mark.parametrize(
    "markup",
    [
        '<link rel="attachment" href="{url}">',
        '<a rel="attachment" href="{url}">Beilage</a>',
        '<link rel="stylesheet" href="{url}">',
        '<img src="{url}">',
    ],
)
def test_a_file_outside_the_folder_is_never_loaded_whatever_the_scheme_spelling(
    tmp_path: Path, scheme: str, markup: str
) -> None:
    secret = tmp_path / "profiles.toml"
    secret.write_text(f'h1::after {{ content: "{SECRET}" }}\n', encoding="utf-8")
    url = f"{scheme}://{secret}"
    source = f"<html><head></head><body><h1>Rechnung</h1>{markup.format(url=url)}</body></html>"
    pdf = draw(tmp_path / "tpl", source, {}, tmp_path / "out.pdf")
    assert "0 embedded files" in attachments(pdf)
    assert SECRET not in pdf_text(pdf)
    assert SECRET.encode() not in pdf.read_bytes()


def test_files_inside_the_folder_load_whatever_the_scheme_spelling(tmp_path: Path) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "style.css").write_text('h1::after { content: " INSIDE" }', encoding="utf-8")
    (folder / "agb.txt").write_text("Allgemeine Geschäftsbedingungen", encoding="utf-8")
    source = (
        f'<html><head><link rel="stylesheet" href="FILE://{folder}/style.css">'
        '<link rel="attachment" href="agb.txt"></head><body><h1>Titel</h1></body></html>'
    )
    pdf = draw(folder, source, {}, tmp_path / "out.pdf")
    assert "INSIDE" in pdf_text(pdf)
    assert "agb.txt" in attachments(pdf)


def test_a_cell_naming_dev_zero_or_a_link_out_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "zero.png").symlink_to("/dev/zero")
    (tmp_path / "secret.css").write_text(f'h1::after {{ content: "{SECRET}" }}', encoding="utf-8")
    (folder / "linked.css").symlink_to(tmp_path / "secret.css")
    source = (
        '<html><head><link rel="stylesheet" href="linked.css"></head><body><h1>T</h1>'
        '<img src="{{ logo }}"><img src="zero.png"></body></html>'
    )
    pdf = draw(folder, source, {"logo": "FILE:///dev/zero"}, tmp_path / "out.pdf")
    assert SECRET not in pdf_text(pdf)
    for url in ("FILE:///dev/zero", f"file://{folder}/zero.png", f"file://{folder}/linked.css"):
        with pytest.raises(ResourceRefused, match="outside the template's folder"):
            read_resource(url, folder)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/logo.png",
        "HTTPS://example.org/x.css",
        "ftp://example.org/x",
        "file://otherhost/etc/passwd",
        "jar:file:///x!/y",
    ],
)
def test_every_other_scheme_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ResourceRefused):
        read_resource(url, tmp_path)


def test_each_resource_is_capped_and_a_fifo_never_waited_on(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:  # sparse: no disk used
        handle.truncate(64 * 1024 * 1024)
    with pytest.raises(ResourceRefused, match="larger than"):
        read_resource(big.as_uri(), tmp_path)
    small = tmp_path / "small.css"
    small.write_bytes(b"x" * 3000)
    with pytest.raises(ResourceRefused, match="larger than"):
        read_resource(small.as_uri(), tmp_path, limit=2048)
    assert read_resource(small.as_uri(), tmp_path, limit=4096) == (b"x" * 3000, "text/css")
    os.mkfifo(tmp_path / "pipe.css")
    with pytest.raises(ResourceRefused, match="not a regular file"):
        read_resource((tmp_path / "pipe.css").as_uri(), tmp_path)
    with pytest.raises(ResourceRefused, match="larger than"):
        read_resource("data:text/plain;base64," + "QUFB" * 1000, tmp_path, limit=1024)
    assert read_resource("DATA:text/plain,hello", tmp_path) == (b"hello", "text/plain")
