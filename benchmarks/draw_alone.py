"""WeasyPrint alone, on every core: the ceiling for drawing documents on this machine.

    python benchmarks/draw_alone.py html ORDERS TEMPLATE OUT   # the HTML docmail draws (untimed)
    python benchmarks/draw_alone.py draw OUT [--jobs N]         # draw OUT/*.html (timed)

``html`` writes, for each row, the HTML that docmail hands to WeasyPrint (the payment part
drawn in) and the stylesheet it puts under it. ``draw`` draws those files to PDF with
WeasyPrint and nothing else: N processes (default: one per core) from ``multiprocessing``,
one font configuration per process, resources from the template's folder. Run as a
separate process and timed from outside (start-up included), as docmail is.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

_SETUP: dict[str, Any] = {}


def write_html(orders: Path, template: Path, out: Path) -> int:
    from docmail_nb._documents.render import BASE_CSS
    from docmail_nb.batch import Batch

    plan = Batch.from_files(orders, template, documents_out=out / "unused").plan
    out.mkdir(parents=True, exist_ok=True)
    (out / "base.css").write_text(BASE_CSS, encoding="utf-8")
    (out / "folder").write_text(str(template.resolve().parent), encoding="utf-8")
    count = 0
    for draft in plan.drafts:
        for document in draft.documents:
            if document.renderer is None:  # an e-invoice's XML: nothing to draw
                continue
            html = document.renderer.html(document.values)
            (out / f"{count:06d}.html").write_text(html, encoding="utf-8")
            count += 1
    return count


def _start(folder: str, css: str) -> None:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    _SETUP.update(
        weasyprint=weasyprint,
        folder=folder,
        fonts=fonts,
        css=weasyprint.CSS(string=css, font_config=fonts),
    )


def _draw(path: str) -> int:
    weasyprint = _SETUP["weasyprint"]
    html = Path(path).read_text(encoding="utf-8")
    document = weasyprint.HTML(string=html, base_url=_SETUP["folder"])
    pdf = document.write_pdf(stylesheets=[_SETUP["css"]], font_config=_SETUP["fonts"])
    Path(path).with_suffix(".pdf").write_bytes(pdf)
    return len(pdf)


def draw_all(out: Path, jobs: int) -> int:
    files = sorted(str(path) for path in out.glob("*.html"))
    setup = ((out / "folder").read_text(encoding="utf-8"), (out / "base.css").read_text("utf-8"))
    with multiprocessing.get_context("fork").Pool(jobs, _start, setup) as pool:
        sizes = list(pool.imap_unordered(_draw, files, chunksize=4))
    return len(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    html = commands.add_parser("html")
    html.add_argument("orders", type=Path)
    html.add_argument("template", type=Path)
    html.add_argument("out", type=Path)
    draw = commands.add_parser("draw")
    draw.add_argument("out", type=Path)
    draw.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    if args.command == "html":
        print(f"{write_html(args.orders, args.template, args.out)} documents")
    else:
        print(f"{draw_all(args.out, args.jobs)} drawn with {args.jobs} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
