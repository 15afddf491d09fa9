"""Payments from the bank matched to the messages that asked for them, by their reference.

Each credit of a camt file is matched by its QR reference or creditor reference to the one
message whose QR-bill (or ``Reference:`` header) carried that reference, as the ledger keeps it;
it is recorded with its amount and booking date under the bank's identity of the payment, so a
file read twice, or a payment both notified (camt.054) and in a statement (camt.053), is
recorded once. A credit that matches nothing, or more than one message, or in another
currency, is listed and never guessed. A file that cannot be read records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from docmail_nb._money.camt import BankFile, Credit, read_camt
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.records import Payment, PaymentReference

__all__ = ["Matched", "PaymentsRead", "Unmatched", "read_payments"]


@dataclass(frozen=True)
class Matched:
    """A credit matched to a message; ``new`` is False when it was recorded before."""

    credit: Credit
    campaign: str
    key: str
    new: bool


@dataclass(frozen=True)
class Unmatched:
    """A credit docmail did not attribute, and why."""

    credit: Credit
    reason: str


@dataclass
class PaymentsRead:
    """What reading one bank file did."""

    path: str
    bank: BankFile
    matched: list[Matched] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)

    @property
    def recorded(self) -> list[Matched]:
        return [item for item in self.matched if item.new]

    def lines(self) -> list[str]:
        """Plain sentences: what was recorded, what was there before, what matched nothing."""
        out = [
            f"{self.path}: {self.bank.kind}.001.{self.bank.version} "
            f"({self.bank.message_id or 'no message id'}), {len(self.bank.credits)} credit(s)."
        ]
        for item in self.matched:
            credit = item.credit
            what = "returned" if credit.reversal else "paid"
            again = "" if item.new else " (recorded before; not counted again)"
            out.append(
                f"  {item.campaign}/{item.key}: {credit.currency} {abs(credit.amount):.2f} "
                f"{what}, booked {credit.booked.isoformat()}{again}"
            )
        for loose in self.unmatched:
            credit = loose.credit
            out.append(
                f"  not matched: {credit.currency} {credit.amount:.2f} booked "
                f"{credit.booked.isoformat()}"
                + (f" from {credit.debtor}" if credit.debtor else "")
                + f" — {loose.reason}"
            )
        out.append(
            f"Recorded {len(self.recorded)} payment(s); "
            f"{len(self.matched) - len(self.recorded)} were recorded before; "
            f"{len(self.unmatched)} not matched (check them by hand)."
        )
        return out


def read_payments(ledger: Ledger, path: str | Path, campaign: str | None = None) -> PaymentsRead:
    """Read the camt file at ``path`` and record every credit that matches one message.

    Raises PaymentFileError (nothing recorded) when the file is no camt.054/053 it can read.
    """
    bank = read_camt(path)
    result = PaymentsRead(str(path), bank)
    wanted = {credit.reference for credit in bank.credits if credit.reference}
    known = ledger.payment_references(wanted, campaign)
    payments: list[tuple[Credit, PaymentReference]] = []
    for credit in bank.credits:
        reason, target = _match(credit, known.get(credit.reference, []), campaign)
        if target is None:
            result.unmatched.append(Unmatched(credit, reason))
        else:
            payments.append((credit, target))
    new = ledger.record_payments(
        [
            Payment(
                identity=credit.identity,
                campaign=target.campaign,
                key=target.key,
                reference=credit.reference,
                amount=credit.amount,
                currency=credit.currency,
                booked=credit.booked,
                debtor=credit.debtor,
                source=Path(path).name,
            )
            for credit, target in payments
        ]
    )
    result.matched = [
        Matched(credit, target.campaign, target.key, credit.identity in new)
        for credit, target in payments
    ]
    return result


def _match(
    credit: Credit, candidates: list[PaymentReference], campaign: str | None
) -> tuple[str, PaymentReference | None]:
    if not credit.reference:
        return "the payment carries no structured reference", None
    if not candidates:
        where = f" in campaign {campaign!r}" if campaign else ""
        return f"no message{where} carried the reference {credit.reference}", None
    if len(candidates) > 1:
        names = ", ".join(f"{c.campaign}/{c.key}" for c in candidates)
        return f"the reference {credit.reference} was carried by several messages ({names})", None
    target = candidates[0]
    if target.currency and target.currency != credit.currency:
        return (
            f"paid in {credit.currency}, but {target.campaign}/{target.key} asked for "
            f"{target.currency}"
        ), None
    return "", target
