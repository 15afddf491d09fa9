"""``docmail ledger copy FROM TO``: every record of one ledger into another, of either store.

Messages, documents and whatever else the ledger records about them (every table but the
ledger's own bookkeeping: schema version and runs) are copied row by row. A record TO already
has (the same primary key) is left as it is: copying twice copies nothing new, and a record
that TO changed since is never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docmail_nb.errors import LedgerError

if TYPE_CHECKING:
    from docmail_nb._store.ledger import Ledger

__all__ = ["CopyResult", "copy_ledger"]

#: the ledger's bookkeeping, never copied
_OWN = frozenset({"meta", "runs"})


@dataclass
class CopyResult:
    """Per table: records copied, and records TO already had."""

    source: str
    target: str
    copied: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per table, e.g. "messages: 120 copied, 3 already there"."""
        return [
            f"{table}: {self.copied[table]} copied"
            + (f", {self.kept[table]} already there" if self.kept.get(table) else "")
            for table in self.copied
        ]


def copy_ledger(source: Ledger, target: Ledger) -> CopyResult:
    """Copy every record of ``source`` into ``target``; what was copied and what was kept."""
    if source.where == target.where:
        raise LedgerError(
            f"The ledger {source.where} cannot be copied into itself.",
            "Give the ledger to copy from first, then the one to copy into.",
        )
    result = CopyResult(source.where, target.where)
    tables = source.store_tables() - _OWN
    missing = sorted(tables - target.store_tables())
    if missing:
        raise LedgerError(
            f"The ledger {target.where} has no table {', '.join(missing)}; it was made by "
            "another version of docmail_nb.",
            "Copy with the version of docmail_nb that made both ledgers.",
        )
    for table in ["messages", *sorted(tables - {"messages"})]:
        if table not in tables:
            continue
        rows = source.store_rows(table)
        copied = target.store_insert(table, rows)
        result.copied[table] = copied
        result.kept[table] = len(rows) - copied
    return result
