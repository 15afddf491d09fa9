"""Invoices made and sent: a PDF with lines, VAT and a Swiss QR-bill per row, then mailed.

    .venv/bin/python benchmarks/documents.py                 # 1,000 invoices, --jobs 1 and 2
    .venv/bin/python benchmarks/documents.py --n 50          # a quick look
    .venv/bin/python benchmarks/documents.py --jobs 1 2 4    # other pool sizes
    .venv/bin/python benchmarks/documents.py --kinds plain factur-x   # e-invoices beside PDFs

`docmail send --jobs J` (the CLI, process start included) with the sample's invoice templates
(data/templates/qr_invoice.txt, invoice.html, seller.toml) on N generated rows with three
lines each (two VAT rates, from positionen.csv), against the counting STARTTLS+AUTH server of
run.py in its own process, once per J (each with a new ledger and documents folder); then the
last command again, which makes and sends nothing. ``--kinds``: the invoices as plain PDFs
(``einvoice`` empty, the default) and/or as Factur-X (every row's EN 16931 XML made, checked
against the XSD and the rules, embedded into a PDF/A-3b). Then WeasyPrint alone draws the same
HTML on every core (draw_alone.py): the ceiling. Each PDF's QR code and XML are checked by the
tests, not here. The table goes to stdout and to benchmarks/results/documents.md (and .json).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
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


def write_orders(path: Path, n: int, einvoice: str = "") -> None:
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
                    einvoice,
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


def send(
    setup: Setup, orders: Path, folder: Path, label: str, jobs: int
) -> tuple[Usage, dict[str, Any]]:
    server = CountingServer(setup)
    try:
        env = docmail_profile(setup, server.port, folder)
        cmd = [str(Path(sys.executable).with_name("docmail")), "send", str(orders)]
        cmd += [str(setup.docmail_template), "--profile", "bench", "--yes"]
        cmd += ["--ledger", str(setup.documents.with_suffix(".sqlite"))]
        cmd += ["--documents-out", str(setup.documents), "--jobs", str(jobs)]
        usage = run_measured(cmd, env=env, log=folder / f"{label}.log", timeout=7200)
    finally:
        stats = server.stop()
    return usage, stats


def made_now(log: Path) -> int:
    """How many documents the run made, from its summary ("Documents in …: N made now")."""
    found = re.findall(r"(\d+) made now", log.read_text(encoding="utf-8", errors="replace"))
    return int(found[-1]) if found else -1


def draw_alone(setup: Setup, orders: Path, jobs: int) -> Usage:
    """WeasyPrint alone drawing the HTML docmail draws, in ``jobs`` processes (timed)."""
    script = str(Path(__file__).with_name("draw_alone.py"))
    out = setup.work / "alone"
    html = [sys.executable, script, "html", str(orders), str(setup.docmail_template), str(out)]
    subprocess.run(html, check=True, capture_output=True)
    draw = [sys.executable, script, "draw", str(out), "--jobs", str(jobs)]
    return run_measured(draw, log=setup.work / "alone.log", timeout=7200)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kinds", nargs="+", default=["plain"], choices=["plain", "factur-x"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/docmail-bench-documents"))
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    base = prepare(args.work)
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    for kind in args.kinds:
        (args.work / kind).mkdir()
        orders = args.work / kind / "orders.csv"
        write_orders(orders, args.n, "" if kind == "plain" else kind)
        plan = [(f"--jobs {jobs}", jobs) for jobs in args.jobs] + [("rerun", args.jobs[-1])]
        for label, jobs in plan:
            setup = dataclasses.replace(base, documents=args.work / kind / f"made-jobs-{jobs}")
            folder = args.work / kind / label.replace(" ", "").replace("-", "")
            folder.mkdir()
            usage, stats = send(setup, orders, folder, label, jobs)
            on_disk = len(list(setup.documents.glob("*.pdf")))
            made = made_now(folder / f"{label}.log")
            runs.append(
                {
                    "kind": kind,
                    "run": label,
                    "jobs": jobs,
                    "usage": asdict(usage),
                    "server": stats,
                    "pdfs": on_disk,
                    "made": made,
                }
            )
            print(
                f"  {kind:<8} {label:<10} N={args.n}  {usage.wall:7.1f} s  "
                f"cpu {usage.cpu:7.1f} s  peak {usage.peak_rss_mb:5.0f} MB  "
                f"server got {stats.get('messages')}  PDFs made {made}, on disk {on_disk}  "
                f"exit {usage.exit_code}",
                flush=True,
            )
    orders = args.work / args.kinds[0] / "orders.csv"
    alone = draw_alone(base, orders, cores)
    print(f"  WeasyPrint alone, {cores} processes: {alone.wall:7.1f} s", flush=True)
    firsts = [r for r in runs if r["run"] != "rerun"]
    agains = [r for r in runs if r["run"] == "rerun"]
    sizes = {
        kind: [
            path.stat().st_size
            for path in (args.work / kind / f"made-jobs-{args.jobs[-1]}").glob("*.pdf")
        ]
        for kind in args.kinds
    }
    ok = (
        all(r["usage"]["exit_code"] == 0 for r in runs)
        and all(r["server"].get("messages") == args.n for r in firsts)
        and all(r["pdfs"] == args.n and r["made"] == args.n for r in firsts)
        and all(r["server"].get("messages") == 0 and r["made"] == 0 for r in agains)
        and alone.exit_code == 0
    )
    ones = {r["kind"]: r for r in firsts if r["jobs"] == 1}
    lines = [
        f"Invoices made and sent by `docmail send` on {machine()}, {dt.date.today()}; "
        f"load average {load:.1f} when it began:",
        "",
        "| invoices as | run | invoices | wall s | invoices/s | vs --jobs 1 | CPU s "
        "| CPU ms/invoice | peak MB | PDFs made | sent |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        usage = r["usage"]
        rate = f"{args.n / usage['wall']:.2f}" if r["made"] else "—"
        one = ones.get(r["kind"])
        speedup = (
            f"{one['usage']['wall'] / usage['wall']:.2f}x" if one is not None and r["made"] else "—"
        )
        lines.append(
            f"| {r['kind']} | {r['run']} | {args.n:,} | {usage['wall']:.1f} | {rate} | {speedup} | "
            f"{usage['cpu']:.1f} | {1000 * usage['cpu'] / args.n:.0f} | "
            f"{usage['peak_rss_mb']:.0f} | {r['made']} | {r['server'].get('messages')} |"
        )
    best = min((r for r in firsts if r["kind"] == args.kinds[0]), key=lambda r: r["usage"]["wall"])
    lines += [
        f"| {args.kinds[0]} | WeasyPrint alone, {cores} processes | {args.n:,} | "
        f"{alone.wall:.1f} | "
        f"{args.n / alone.wall:.2f} | — | {alone.cpu:.1f} | {1000 * alone.cpu / args.n:.0f} | "
        f"{alone.peak_rss_mb:.0f} | {args.n} | — |",
        "",
        f"`{best['run']}` draws and sends at {alone.wall / best['usage']['wall']:.2f}x the "
        "documents per second of WeasyPrint alone on every core. "
        "PDF size on average: "
        + ", ".join(f"{k} {sum(v) / max(1, len(v)) / 1024:.1f} kB" for k, v in sizes.items())
        + "; "
        f"{'ok' if ok else 'NOT OK'}.",
    ]
    table = "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "documents.md").write_text(table + "\n", encoding="utf-8")
    results = {"runs": runs, "alone": asdict(alone), "cores": cores, "load": load}
    (RESULTS / "documents.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
