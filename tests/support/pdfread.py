"""Reading PDFs back as a reader would: text with poppler, the QR code from a rasterized page."""

from __future__ import annotations

import subprocess
from pathlib import Path

import zxingcpp
from PIL import Image

#: The lines of a QR-bill's code, in the order of the Swiss Payment Standards.
PAYLOAD_FIELDS = (
    "qr_type",
    "version",
    "coding",
    "account",
    *(f"creditor.{name}" for name in ("type", "name", "street", "house_num", "pcode", "city")),
    "creditor.country",
    *(f"ultimate_creditor.{n}" for n in ("type", "name", "street", "house_num", "pcode", "city")),
    "ultimate_creditor.country",
    "amount",
    "currency",
    *(f"debtor.{name}" for name in ("type", "name", "street", "house_num", "pcode", "city")),
    "debtor.country",
    "reference_type",
    "reference",
    "additional_information",
    "trailer",
)


def pdf_text(path: Path, *, page: int | None = None, layout: bool = False) -> str:
    """The text of the PDF (or of one page) as pdftotext reads it."""
    args = ["pdftotext", "-enc", "UTF-8"]
    if layout:
        args.append("-layout")
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run(
        [*args, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def page_count(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    for line in info.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError(f"pdfinfo found no page count in {path}")


def word_boxes(path: Path, page: int) -> list[tuple[str, float, float]]:
    """(word, x, y) of every word on a page, in points from the top left corner."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    boxes = []
    for line in html.splitlines():
        line = line.strip()
        if line.startswith("<word "):
            attrs = dict(part.split("=", 1) for part in line[6 : line.index(">")].split())
            word = line[line.index(">") + 1 : line.rindex("<")]
            boxes.append((word, float(attrs["xMin"].strip('"')), float(attrs["yMin"].strip('"'))))
    return boxes


def decode_qr(path: Path, page: int, workdir: Path) -> list[str]:
    """The QR code on ``page`` rasterized at 300 dpi in grey, decoded with zxing-cpp, as lines."""
    prefix = workdir / f"{path.stem}-page"
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-f", str(page), "-l", str(page), str(path), prefix],
        check=True,
    )
    (image_path,) = workdir.glob(f"{path.stem}-page*.pgm")
    with Image.open(image_path) as image:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    image_path.unlink()
    assert len(found) == 1, f"expected one QR code on page {page}, found {len(found)}"
    return found[0].bytes.decode("utf-8").split("\r\n")


def payload_fields(lines: list[str]) -> dict[str, str]:
    """The decoded lines named by their place in the Swiss Payment Standards."""
    assert len(lines) == len(PAYLOAD_FIELDS), lines
    return dict(zip(PAYLOAD_FIELDS, lines, strict=True))
