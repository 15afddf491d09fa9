"""After "sent" at scale: N messages in a ledger, a camt.054 with a credit for each, N reports.

Times, on one machine: reading and recording the bank file (and reading it again, which records
nothing), ``docmail status`` over the campaign, and parsing delivery reports of each shape the
tests use (RFC 3464 and plain text). Nothing leaves the machine.

    .venv/bin/python benchmarks/after_sent.py [--messages 10000] [--reports 1000]

Writes the table to ``benchmarks/results/after_sent.md``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from docmail_nb._documents.payment_references import qr_reference
from docmail_nb._mailbox.bounces import read_report
from docmail_nb._money.payments import read_payments
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.status import campaign_status

HERE = Path(__file__).resolve().parent
REPORTS = HERE.parent / "tests" / "data" / "reports"
SHAPES = ("postfix_dsn", "exchange_ndr", "gmail", "exim_text", "qmail_text", "out_of_office")


def ledger_with(path: Path, count: int) -> list[str]:
    """``count`` invoices sent, each with its QR reference; the references."""
    references = []
    with Ledger(path) as ledger:
        run = ledger.begin_run()
        for n in range(count):
            key, reference = f"R-{n:06d}", qr_reference(str(n % 10**9), str(20260000 + n))
            to = f"kunde{n}@example.org"
            ledger.claim(run, "invoices", key, content_hash="h", message_id=f"<{key}@x.ch>",
                         rows=(n + 2,), recipients=(to,), account="bench")  # fmt: skip
            ledger.record_reference("invoices", key, reference=reference, kind="QRR",
                                    amount=Decimal("100.00"), currency="CHF")  # fmt: skip
            ledger.mark_sending(run, "invoices", key)
            ledger.mark_sent(run, "invoices", key, accepted=(to,))
            references.append(reference)
        ledger.end_run(run)
    return references


def camt(references: list[str]) -> bytes:
    """A camt.054.001.08 with one credit per reference, ten to an entry (batched)."""
    entries = []
    for batch, start in enumerate(range(0, len(references), 10)):
        txs = "".join(
            f"<TxDtls><Refs><AcctSvcrRef>B{batch}-{i}</AcctSvcrRef></Refs>"
            f'<Amt Ccy="CHF">{"100.00" if i % 3 else "60.00"}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            "<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Prtry>QRR</Prtry></CdOrPrtry></Tp>"
            f"<Ref>{reference}</Ref></CdtrRefInf></Strd></RmtInf></TxDtls>"
            for i, reference in enumerate(references[start : start + 10])
        )
        entries.append(
            '<Ntry><Amt Ccy="CHF">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><RvslInd>false</RvslInd>'
            "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-12-02</Dt></BookgDt>"
            f"<AcctSvcrRef>E{batch}</AcctSvcrRef><NtryDtls>{txs}</NtryDtls></Ntry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>BENCH</MsgId></GrpHdr><Ntfctn>"
        "<Acct><Id><IBAN>CH4431999123000889012</IBAN></Id></Acct>"
        + "".join(entries)
        + "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def reports(count: int) -> list[bytes]:
    texts = {name: (REPORTS / f"{name}.eml").read_text(encoding="utf-8") for name in SHAPES}
    made = []
    for n, name in zip(range(count), itertools.cycle(SHAPES), strict=False):
        text = texts[name].replace("$MESSAGE_ID", f"<R-{n:06d}@x.ch>")
        text = text.replace("$RECIPIENT", f"kunde{n}@example.org").replace("$SERIAL", str(n))
        made.append(text.replace("$ENVID", f"R-{n:06d}@x.ch").replace("\n", "\r\n").encode())
    return made


def timed(action: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()  # type: ignore[operator]
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--reports", type=int, default=1_000)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.sqlite"
        seconds, references = timed(lambda: ledger_with(path, args.messages))
        rows.append(
            (f"{args.messages:,} messages sent and their references recorded", f"{seconds:.2f} s")
        )
        bank = Path(folder) / "camt054.xml"
        bank.write_bytes(camt(references))  # type: ignore[arg-type]
        size = bank.stat().st_size
        with Ledger(path) as ledger:
            first, read = timed(lambda: read_payments(ledger, bank))
            again, _ = timed(lambda: read_payments(ledger, bank))
            status, found = timed(lambda: campaign_status(ledger, "invoices"))
        recorded = len(read.recorded)  # type: ignore[attr-defined]
        rows += [
            (
                f"camt.054 of {size / 1e6:.1f} MB, {args.messages:,} credits: "
                f"read and {recorded:,} recorded",
                f"{first:.2f} s",
            ),
            ("the same file again (nothing recorded)", f"{again:.2f} s"),
            (f"docmail status over {len(found):,} messages", f"{status:.2f} s"),  # type: ignore[arg-type]
        ]
    samples = reports(args.reports)
    seconds, parsed = timed(lambda: [read_report(data) for data in samples])
    found_reports = sum(1 for item in parsed if item is not None)  # type: ignore[attr-defined]
    rows.append(
        (f"{args.reports:,} INBOX messages parsed ({found_reports:,} reports, 6 shapes)",
         f"{seconds:.2f} s ({seconds / args.reports * 1000:.2f} ms each)")
    )  # fmt: skip
    table = "| what | time |\n| --- | --- |\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
    out = HERE / "results" / "after_sent.md"
    out.write_text("# After sent: payments, status, reports\n\n" + table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
