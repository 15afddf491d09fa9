"""The batch every face drives: orders × template → plan, then preview, pending, send.

``Batch`` holds one campaign's orders, template, plan, profile, ledger, options and transport.
The CLI, the notebook panels, the scheduled notebook, the demo and Python code all build one
with :meth:`Batch.from_files` (or :meth:`Batch.from_text` for a template being edited) and ask
it the same questions, so a row has the same problems, a rerun the same pending count and a
message the same result whichever face runs it::

    batch = Batch.from_files("orders.xlsx", "templates/invoice.txt", profile="office")
    print(batch.plan.summary())
    batch.preview(2)                   # what row 2 will send
    waiting = batch.pending()          # what a run would send now; waiting.question
    report = batch.send()              # each message once, recorded in the ledger
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .ledger import Ledger
from .orders import Orders, read_orders, sheet_names
from .plan import Plan, default_documents, make_plan
from .preview import Preview, preview
from .profiles import Profile, load_profile
from .send import Pending, SendOptions, pending, send_plan, send_test
from .templates import MessageTemplate, load_template, parse_template, template_variables

if TYPE_CHECKING:
    import pandas as pd

    from .report import MessageResult, Progress, Report
    from .transport import Transport

__all__ = ["Batch", "plan_from_files"]

LedgerLike = Ledger | str | Path | None


class Batch:
    """One campaign: its orders, template and plan, and how and where it is sent.

    ``profile`` is a Profile, a saved profile's name, or None (the only saved profile); it is
    loaded when first needed, so checking and previewing need no profile at all. ``ledger`` is
    a Ledger, a file, or None (the default ledger). ``transport`` defaults to SMTP through the
    profile.
    """

    def __init__(
        self,
        orders: Orders,
        template: MessageTemplate,
        *,
        documents: str | Path | None = None,
        documents_out: str | Path | None = None,
        template_path: str | Path | None = None,
        profile: Profile | str | None = None,
        ledger: LedgerLike = None,
        campaign: str | None = None,
        options: SendOptions | None = None,
        transport: Transport | None = None,
        password: str | None = None,
    ) -> None:
        self.orders = orders
        self.template = template
        self.documents = (
            Path(documents).expanduser()
            if documents
            else default_documents(orders.source, template_path)
        )
        self.ledger = ledger
        self.options = options or SendOptions()
        self.transport = transport
        self._profile = profile
        self._password = password
        self.plan: Plan = make_plan(
            orders,
            template,
            documents=self.documents,
            documents_out=documents_out,
            campaign=campaign,
        )

    def __repr__(self) -> str:
        return (
            f"Batch({self.plan.campaign!r}: {len(self.plan.drafts)} messages, "
            f"{len(self.plan.problems)} problems)"
        )

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls,
        orders: str | Path,
        template: str | Path,
        *,
        documents: str | Path | None = None,
        documents_out: str | Path | None = None,
        sheet: str | int | None = None,
        header_row: int | None = None,
        profile: Profile | str | None = None,
        ledger: LedgerLike = None,
        campaign: str | None = None,
        options: SendOptions | None = None,
        transport: Transport | None = None,
        password: str | None = None,
    ) -> Batch:
        """Read the orders and the template file and check every row (``docmail check``).

        Without ``documents``, attachments are looked for as ``default_documents`` says.
        """
        return cls._read(
            orders,
            load_template(template),
            template,
            documents=documents,
            documents_out=documents_out,
            sheet=sheet,
            header_row=header_row,
            profile=profile,
            ledger=ledger,
            campaign=campaign,
            options=options,
            transport=transport,
            password=password,
        )

    @classmethod
    def from_text(
        cls,
        orders: str | Path,
        template_text: str,
        *,
        template_path: str | Path | None = None,
        documents: str | Path | None = None,
        documents_out: str | Path | None = None,
        sheet: str | int | None = None,
        header_row: int | None = None,
        profile: Profile | str | None = None,
        ledger: LedgerLike = None,
        campaign: str | None = None,
        options: SendOptions | None = None,
        transport: Transport | None = None,
        password: str | None = None,
    ) -> Batch:
        """Like :meth:`from_files`, with the template as text (the panel's editor).

        ``template_path`` is where the text came from: it names the campaign and, like a
        template file, helps find the documents folder.
        """
        name = Path(template_path).stem if template_path else "template"
        folder = Path(template_path).parent if template_path else None
        return cls._read(
            orders,
            parse_template(template_text, name=name or "template", folder=folder),
            template_path,
            documents=documents,
            documents_out=documents_out,
            sheet=sheet,
            header_row=header_row,
            profile=profile,
            ledger=ledger,
            campaign=campaign,
            options=options,
            transport=transport,
            password=password,
        )

    @classmethod
    def _read(
        cls,
        orders_path: str | Path,
        template: MessageTemplate,
        template_path: str | Path | None,
        *,
        sheet: str | int | None,
        header_row: int | None,
        documents: str | Path | None,
        documents_out: str | Path | None,
        profile: Profile | str | None,
        ledger: LedgerLike,
        campaign: str | None,
        options: SendOptions | None,
        transport: Transport | None,
        password: str | None,
    ) -> Batch:
        orders = read_orders(orders_path, sheet=sheet, header_row=header_row)
        batch = cls(
            orders,
            template,
            documents=documents,
            documents_out=documents_out,
            template_path=template_path,
            profile=profile,
            ledger=ledger,
            campaign=campaign,
            options=options,
            transport=transport,
            password=password,
        )
        if sheet is None and any(problem.row is None for problem in batch.plan.problems):
            batch._suggest_sheet(orders_path)
        return batch

    def _suggest_sheet(self, path: str | Path) -> None:
        """When the template does not fit the first sheet, name a sheet it fits."""
        needed = set().union(*template_variables(self.template).values())
        if self.template.group_by:
            needed.add(self.template.group_by)
        better = next(
            (
                name
                for name in sheet_names(path)
                if name != self.orders.sheet and needed <= set(read_orders(path, name).columns)
            ),
            "",
        )
        if better:
            advice = f" The sheet {better!r} has every column the template uses: --sheet {better}."
            self.plan.problems = [
                replace(p, hint=p.hint + advice) if p.row is None else p for p in self.plan.problems
            ]

    # -- asking -----------------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        """The profile messages go through (a saved one is loaded on first use)."""
        if not isinstance(self._profile, Profile):
            self._profile = load_profile(self._profile)
        return self._profile

    @property
    def sender(self) -> str:
        """The profile's address when a profile was given, else "" (shown as such)."""
        if self._profile is None:
            return ""
        return self.profile.sender

    def preview(self, row: int, documents_to: Path | None = None) -> Preview:
        """Sheet row ``row``'s message exactly as it will be sent (row 2 is the first order).

        Documents made from a template are drawn into ``documents_to`` (else a temporary
        folder), recorded nowhere.
        """
        return preview(self.plan, row, self.sender, documents_to=documents_to)

    def pending(self) -> Pending:
        """What ``send()`` would send now, whether to ask first, and the question to ask."""
        return pending(self.plan, self.profile, self.ledger, self.options)

    # -- sending ----------------------------------------------------------------------------

    def send(self, progress: Progress | Literal["bar"] | None = None) -> Report:
        """Send every pending message once (or a dry run, as the options say); the report."""
        return send_plan(
            self.plan,
            self.profile,
            password=self._password,
            ledger=self.ledger,
            options=self.options,
            progress=progress,
            transport=self.transport,
        )

    def send_test(self, row: int) -> MessageResult:
        """Row ``row``'s message to the profile's own address, marked "[TEST]"; not recorded."""
        return send_test(
            self.plan, row, self.profile, password=self._password, transport=self.transport
        )

    def failed_rows(self, report: Report) -> pd.DataFrame:
        """The orders' rows that need attention after ``report``, with an ``error`` column."""
        return report.failed_rows(self.orders)

    def save_failed_rows(self, report: Report, path: str | Path) -> Path:
        """Write :meth:`failed_rows` as .xlsx or .csv, ready to fix and send again."""
        return report.save_failed_rows(self.orders, path)


def plan_from_files(
    orders_path: str | Path,
    template_path: str | Path,
    *,
    documents: str | Path | None = None,
    sheet: str | int | None = None,
    campaign: str | None = None,
    header_row: int | None = None,
    documents_out: str | Path | None = None,
) -> Plan:
    """The plan of :meth:`Batch.from_files` (what ``docmail check`` shows)."""
    batch = Batch.from_files(
        orders_path,
        template_path,
        documents=documents,
        sheet=sheet,
        header_row=header_row,
        documents_out=documents_out,
        campaign=campaign,
    )
    return batch.plan
