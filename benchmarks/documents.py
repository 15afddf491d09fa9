"""Invoices made and sent: a PDF with a Swiss QR-bill per row, drawn by WeasyPrint, then mailed.

    .venv/bin/python benchmarks/documents.py            # 1,000 invoices
    .venv/bin/python benchmarks/documents.py --n 50     # a quick look

`docmail send` (the CLI, process start included) with the sample's invoice templates
(data/templates/qr_invoice.txt and invoice.html) on N generated rows, against the counting
STARTTLS+AUTH server of run.py in its own process; then the same command again, which makes
and sends nothing. Each PDF's QR code is checked by the tests, not here. The table goes to
stdout and to benchmarks/results/documents.md (and .json).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import re
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from measure import Usage, run_measured
from run import RESULTS, ROOT, CountingServer, Setup, docmail_profile, machine, new_setup

from docmail_nb import qr_reference

COLUMNS = [
    "invoice_no", "customer_no", "company", "contact", "email", "cc", "amount", "due",
    "street", "house_num", "pcode", "city", "country",
]  # fmt: skip
STREETS = ["Marktgasse", "Stadthausstrasse", "Zürcherstrasse", "Obergasse", "Technikumstrasse"]
TOWNS = [("8400", "Winterthur"), ("8404", "Winterthur"), ("8406", "Winterthur"), ("9490", "Vaduz")]


def write_orders(path: Path, n: int) -> None:
    """N invoices with structured addresses, as the sample's Rechnungen sheet has them."""
    rng = random.Random(17)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(COLUMNS)
        for number in range(1, n + 1):
            pcode, city = rng.choice(TOWNS)
            writer.writerow(
                [
                    f"R-2026-{number:05d}",
                    f"{rng.randrange(1, 99999):05d}",
                    f"Kunde {number} Müller & Söhne AG",
                    "Frau Jäggi",
                    f"kunde{number}@example.ch",
                    "",
                    f"{rng.randrange(1000, 2_000_000) / 100:.2f}",
                    (dt.date(2026, 12, 1) + dt.timedelta(days=number % 60)).isoformat(),
                    rng.choice(STREETS),
                    str(rng.randrange(1, 200)),
                    pcode,
                    city,
                    "LI" if city == "Vaduz" else "CH",
                ]
            )
    assert qr_reference("00042", "20261041")  # the template's reference helper is importable


def prepare(work: Path) -> Setup:
    templates = work / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    for name in ("qr_invoice.txt", "invoice.html"):
        shutil.copy(ROOT / "data" / "templates" / name, templates / name)
    template = templates / "qr_invoice.txt"
    return new_setup(work, work / "made", template, template)


def send(setup: Setup, orders: Path, folder: Path, label: str) -> tuple[Usage, dict[str, Any]]:
    server = CountingServer(setup)
    try:
        env = docmail_profile(setup, server.port, folder)
        cmd = [str(Path(sys.executable).with_name("docmail")), "send", str(orders)]
        cmd += [str(setup.docmail_template), "--profile", "bench", "--yes"]
        cmd += ["--ledger", str(setup.work / "ledger.sqlite")]
        cmd += ["--documents-out", str(setup.documents)]
        usage = run_measured(cmd, env=env, log=folder / f"{label}.log", timeout=7200)
    finally:
        stats = server.stop()
    return usage, stats


def made_now(log: Path) -> int:
    """How many documents the run made, from its summary ("Documents in …: N made now")."""
    found = re.findall(r"(\d+) made now", log.read_text(encoding="utf-8", errors="replace"))
    return int(found[-1]) if found else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/docmail-bench-documents"))
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    setup = prepare(args.work)
    orders = args.work / "orders.csv"
    write_orders(orders, args.n)
    runs: list[dict[str, Any]] = []
    for label in ("first run", "rerun"):
        folder = args.work / label.replace(" ", "-")
        folder.mkdir()
        usage, stats = send(setup, orders, folder, label)
        on_disk = len(list(setup.documents.glob("*.pdf")))
        made = made_now(folder / f"{label}.log")
        runs.append(
            {"run": label, "usage": asdict(usage), "server": stats, "pdfs": on_disk, "made": made}
        )
        print(
            f"  {label:<10} N={args.n}  {usage.wall:7.1f} s  cpu {usage.cpu:7.1f} s  "
            f"peak {usage.peak_rss_mb:5.0f} MB  server got {stats.get('messages')}  "
            f"PDFs made {made}, on disk {on_disk}  exit {usage.exit_code}",
            flush=True,
        )
    first, again = runs
    sizes = [path.stat().st_size for path in setup.documents.glob("*.pdf")]
    ok = (
        first["usage"]["exit_code"] == 0
        and first["server"].get("messages") == args.n
        and again["server"].get("messages") == 0
        and first["pdfs"] == args.n
        and first["made"] == args.n
        and again["made"] == 0
    )
    lines = [
        f"Invoices made and sent by `docmail send` on {machine()}, {dt.date.today()}:",
        "",
        "| run | invoices | wall s | invoices/s | CPU s | CPU ms/invoice | peak MB | PDFs made "
        "| sent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        usage = r["usage"]
        rate = f"{args.n / usage['wall']:.2f}" if r["made"] else "—"
        lines.append(
            f"| {r['run']} | {args.n:,} | {usage['wall']:.1f} | {rate} | {usage['cpu']:.1f} | "
            f"{1000 * usage['cpu'] / args.n:.0f} | {usage['peak_rss_mb']:.0f} | {r['made']} | "
            f"{r['server'].get('messages')} |"
        )
    lines += [
        "",
        f"PDF size {sum(sizes) / max(1, len(sizes)) / 1024:.1f} kB on average; "
        f"{'ok' if ok else 'NOT OK'}.",
    ]
    table = "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "documents.md").write_text(table + "\n", encoding="utf-8")
    (RESULTS / "documents.json").write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
