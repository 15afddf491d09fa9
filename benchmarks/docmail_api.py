"""docmail through its Python API, as a notebook would call it: plan, then send_plan.

Uses the profile ``bench`` in $DOCMAIL_HOME and the password in DOCMAIL_SMTP_PASSWORD.

    python benchmarks/docmail_api.py ORDERS TEMPLATE --documents DIR --ledger FILE
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docmail_nb import Batch, SendOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("orders", type=Path)
    parser.add_argument("template", type=Path)
    parser.add_argument("--documents", type=Path, required=True)
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()

    batch = Batch.from_files(
        args.orders,
        args.template,
        documents=args.documents,
        profile="bench",
        ledger=args.ledger,
        options=SendOptions(connections=args.connections),
    )
    report = batch.send()
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
