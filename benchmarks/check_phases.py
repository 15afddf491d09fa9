"""Time the phases of a check in one process: read the sheet, plan every row, preview one.

Prints one JSON line: rows, drafts, problems and the seconds of read, check and preview.

    python benchmarks/check_phases.py ORDERS.xlsx TEMPLATE --documents DIR --engine calamine
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from docmail_nb import load_template, preview, read_orders
from docmail_nb._compose.plan import make_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("orders", type=Path)
    parser.add_argument("template", type=Path)
    parser.add_argument("--documents", type=Path, required=True)
    parser.add_argument("--engine", default="calamine")
    parser.add_argument("--read-only", action="store_true", help="stop after reading")
    args = parser.parse_args()

    start = time.perf_counter()
    orders = read_orders(args.orders, engine=args.engine)
    read = time.perf_counter()
    if args.read_only:
        print(json.dumps({"rows": len(orders.row_numbers), "read": read - start}))
        return
    plan = make_plan(orders, load_template(args.template), documents=args.documents)
    checked = time.perf_counter()
    middle = orders.row_numbers[len(orders.row_numbers) // 2]
    preview(plan, middle, "buchhaltung@bergmann-werkstatt.example").as_text()
    shown = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": plan.total_rows,
                "drafts": len(plan.drafts),
                "problems": len(plan.problems),
                "read": read - start,
                "check": checked - read,
                "preview": shown - checked,
            }
        )
    )


if __name__ == "__main__":
    main()
