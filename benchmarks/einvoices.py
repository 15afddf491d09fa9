"""E-invoices beside plain PDFs: what an EN 16931 invoice costs to check and to draw.

    .venv/bin/python benchmarks/einvoices.py            # 60 invoices of each kind
    .venv/bin/python benchmarks/einvoices.py --n 20     # a quick look

N generated invoices with three lines each (two VAT rates, from positionen.csv) and the sample's
templates (qr_invoice.txt, invoice.html, seller.toml), planned and drawn in this one process,
once as plain PDFs (``einvoice`` empty) and once as Factur-X (every row's CII XML made and
checked against the XSD and the EN 16931 rules when planned; embedded into a PDF/A-3b when
drawn), the kinds alternating in rounds of ten so that a busy machine weighs on both alike.
Timed with the process's CPU clock (``time.process_time``), so other work on the machine does
not count. The table goes to stdout and to benchmarks/results/einvoices.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path

from documents import prepare, write_orders
from run import RESULTS, machine

from docmail_nb import Batch


def plan(work: Path, kind: str, n: int) -> tuple[list[object], float]:
    """The documents of N rows of ``kind``, and the CPU seconds the check took."""
    folder = work / kind
    folder.mkdir(parents=True, exist_ok=True)
    orders = folder / "orders.csv"
    write_orders(orders, n, "" if kind == "plain" else kind)
    template = (work if (work / "templates").exists() else work.parent) / "templates"
    template = template / "qr_invoice.txt"
    start = time.process_time()
    batch = Batch.from_files(orders, template, documents_out=folder / "made")
    spent = time.process_time() - start
    assert batch.plan.ok, batch.plan.problems[:3]
    documents = [doc for draft in batch.plan.drafts for doc in draft.documents]
    assert len(documents) == n
    return documents, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path("/tmp/docmail-bench-einvoices"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    prepare(args.work)
    kinds = ("plain", "factur-x")
    for kind in kinds:  # once untimed: imports, the XSD and the code lists load on first use
        plan(args.work / "cold", kind, 5)
    planned = {kind: plan(args.work, kind, args.n) for kind in kinds}
    for kind in kinds:  # warm up: WeasyPrint, fonts and the XSD load on first use
        planned[kind][0][0].render()  # type: ignore[attr-defined]
    drawn = dict.fromkeys(kinds, 0.0)
    sizes = dict.fromkeys(kinds, 0)
    for start in range(0, args.n, 10):
        for kind in kinds:
            for document in planned[kind][0][start : start + 10]:
                began = time.process_time()
                made = document.render()  # type: ignore[attr-defined]
                drawn[kind] += time.process_time() - began
                sizes[kind] += len(made.pdf)
    lines = [
        f"E-invoices beside plain PDFs, {args.n} invoices of each, in one process on "
        f"{machine()}, {dt.date.today()} (CPU time):",
        "",
        "| invoices as | check ms/invoice | draw ms/invoice | invoices/s (check + draw) | PDF kB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in kinds:
        check = 1000 * planned[kind][1] / args.n
        draw = 1000 * drawn[kind] / args.n
        lines.append(
            f"| {kind} | {check:.1f} | {draw:.0f} | {1000 / (check + draw):.2f} | "
            f"{sizes[kind] / args.n / 1024:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "einvoices.md").write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
