"""The hand-written best case: the standard library and nothing else.

One STARTTLS connection with a verified certificate and host name, AUTH once, TCP_NODELAY,
reused for every message; each message built with ``email.message.EmailMessage`` (text and the
PDF) from a csv row. No checks, no record of what was sent: the per-connection limit.

    BENCH_SMTP_PASSWORD=... python benchmarks/best_case.py ORDERS.csv DOCUMENTS \
        --port P --ca-file CA.pem --user U
"""

from __future__ import annotations

import argparse
import csv
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path

FROM_ADDR = "Bergmann Werkstatt AG <buchhaltung@bergmann-werkstatt.example>"
ENVELOPE_FROM = "buchhaltung@bergmann-werkstatt.example"


def build(row: dict[str, str], documents: Path) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = FROM_ADDR
    msg["To"] = row["email"]
    msg["Cc"] = row["cc"]
    msg["Subject"] = f"Rechnung {row['invoice_no']} – {row['company']}"
    msg.set_content(
        f"Guten Tag {row['contact']}\n\n"
        f"Anbei erhalten Sie die Rechnung {row['invoice_no']} über CHF {row['amount']},\n"
        f"zahlbar bis {row['due']}.\n\nFreundliche Grüsse\nBergmann Werkstatt AG\n"
    )
    name = f"{row['invoice_no']}.pdf"
    msg.add_attachment(
        (documents / name).read_bytes(), maintype="application", subtype="pdf", filename=name
    )
    return msg


def nodelay(conn: smtplib.SMTP) -> None:
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("orders", type=Path)
    parser.add_argument("documents", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--user", required=True)
    args = parser.parse_args()

    context = ssl.create_default_context(cafile=args.ca_file)
    with smtplib.SMTP(args.host, args.port, timeout=30) as conn:
        nodelay(conn)
        conn.starttls(context=context)
        nodelay(conn)  # the TLS socket is a new object
        conn.login(args.user, os.environ["BENCH_SMTP_PASSWORD"])
        with args.orders.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                msg = build(row, args.documents)
                conn.send_message(msg, ENVELOPE_FROM, [row["email"], row["cc"]])


if __name__ == "__main__":
    main()
