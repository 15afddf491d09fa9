"""Invoices made and sent: a PDF with lines, VAT and a Swiss QR-bill per row, then mailed.

    .venv/bin/python benchmarks/documents.py                 # 1,000 plain PDFs, 1,000 Factur-X
    .venv/bin/python benchmarks/documents.py --n 50          # a quick look
    .venv/bin/python benchmarks/documents.py --kinds factur-x

`docmail send` (the CLI, process start included) with the sample's invoice templates
(data/templates/qr_invoice.txt, invoice.html, seller.toml) on N generated rows with three
lines each (two VAT rates), against the counting STARTTLS+AUTH server of run.py in its own
process; then the same command again, which makes and sends nothing. Once with plain PDFs
(``einvoice`` empty), once with every row a Factur-X invoice (the EN 16931 XML made, checked
against the XSD and the rules, embedded into a PDF/A-3b). Each PDF's QR code and XML are
checked by the tests, not here. The table goes to stdout and to
benchmarks/results/documents.md (and .json).
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
    "invoice_no", "customer_no", "company", "contact", "email", "cc", "due",
    "street", "house_num", "pcode", "city", "country", "invoice_date", "currency", "einvoice",
    "buyer_vat_id", "buyer_reference",
]  # fmt: skip
LINE_COLUMNS = ["invoice_no", "description", "quantity", "unit", "unit_price", "vat_rate"]
STREETS = ["Marktgasse", "Stadthausstrasse", "Zürcherstrasse", "Obergasse", "Technikumstrasse"]
TOWNS = [("8400", "Winterthur"), ("8404", "Winterthur"), ("8406", "Winterthur"), ("9490", "Vaduz")]


def write_orders(path: Path, n: int, kind: str) -> None:
    """N invoices with structured addresses, as the sample's Rechnungen sheet has them, and
    their lines in positionen.csv beside them."""
    rng = random.Random(17)
    with (path.parent / "positionen.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(LINE_COLUMNS)
        for number in range(1, n + 1):
            key = f"R-2026-{number:05d}"
            writer.writerow([key, "Schreinerarbeit", rng.randrange(1, 40) / 4, "h", "96.50", "8.1"])
            writer.writerow([key, "Eichenbrett", rng.randrange(1, 300) / 100, "m2", "41.15", "8.1"])
            writer.writerow([key, "Fachbuch", rng.randrange(1, 4), "Stk", "29.00", "2.6"])
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
                    (dt.date(2026, 12, 1) + dt.timedelta(days=number % 60)).isoformat(),
                    rng.choice(STREETS),
                    str(rng.randrange(1, 200)),
                    pcode,
                    city,
                    "LI" if city == "Vaduz" else "CH",
                    "2026-12-01",
                    "CHF",
                    kind,
                    "",
                    "",
                ]
            )
    assert qr_reference("00042", "20261041")  # the template's reference helper is importable


def prepare(work: Path) -> Setup:
    templates = work / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    for name in ("qr_invoice.txt", "invoice.html", "seller.toml"):
        shutil.copy(ROOT / "data" / "templates" / name, templates / name)
    template = templates / "qr_invoice.txt"
    text = template.read_text(encoding="utf-8")
    lines = "Lines: positionen.csv on invoice_no"
    template.write_text(text.replace("Lines: Positionen on invoice_no", lines), encoding="utf-8")
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
    parser.add_argument("--kinds", default="plain,factur-x", help="plain, factur-x or both")
    parser.add_argument("--work", type=Path, default=Path("/tmp/docmail-bench-documents"))
    args = parser.parse_args()

    runs: list[dict[str, Any]] = []
    ok = True
    sizes: dict[str, float] = {}
    for kind in args.kinds.split(","):
        work = args.work / kind
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        setup = prepare(work)
        orders = work / "orders.csv"
        write_orders(orders, args.n, "" if kind == "plain" else kind)
        kind_runs = []
        for label in ("first run", "rerun"):
            folder = work / label.replace(" ", "-")
            folder.mkdir()
            usage, stats = send(setup, orders, folder, label)
            on_disk = len(list(setup.documents.glob("*.pdf")))
            made = made_now(folder / f"{label}.log")
            kind_runs.append(
                {
                    "kind": kind,
                    "run": label,
                    "usage": asdict(usage),
                    "server": stats,
                    "pdfs": on_disk,
                    "made": made,
                }
            )
            print(
                f"  {kind:<9} {label:<10} N={args.n}  {usage.wall:7.1f} s  "
                f"cpu {usage.cpu:7.1f} s  peak {usage.peak_rss_mb:5.0f} MB  "
                f"server got {stats.get('messages')}  PDFs made {made}, on disk {on_disk}  "
                f"exit {usage.exit_code}",
                flush=True,
            )
        first, again = kind_runs
        ok = ok and (
            first["usage"]["exit_code"] == 0
            and first["server"].get("messages") == args.n
            and again["server"].get("messages") == 0
            and first["pdfs"] == args.n
            and first["made"] == args.n
            and again["made"] == 0
        )
        pdfs = [path.stat().st_size for path in setup.documents.glob("*.pdf")]
        sizes[kind] = sum(pdfs) / max(1, len(pdfs)) / 1024
        runs += kind_runs
    lines = [
        f"Invoices made and sent by `docmail send` on {machine()}, {dt.date.today()}:",
        "",
        "| invoices as | run | invoices | wall s | invoices/s | CPU s | CPU ms/invoice | peak MB "
        "| PDFs made | sent |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        usage = r["usage"]
        rate = f"{args.n / usage['wall']:.2f}" if r["made"] else "—"
        lines.append(
            f"| {r['kind']} | {r['run']} | {args.n:,} | {usage['wall']:.1f} | {rate} | "
            f"{usage['cpu']:.1f} | {1000 * usage['cpu'] / args.n:.0f} | "
            f"{usage['peak_rss_mb']:.0f} | {r['made']} | {r['server'].get('messages')} |"
        )
    lines += [
        "",
        "PDF size on average: "
        + ", ".join(f"{kind} {size:.1f} kB" for kind, size in sizes.items())
        + f"; {'ok' if ok else 'NOT OK'}.",
    ]
    table = "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "documents.md").write_text(table + "\n", encoding="utf-8")
    (RESULTS / "documents.json").write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
