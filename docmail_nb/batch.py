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

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

from docmail_nb._compose.plan import Plan, make_plan, read_and_plan
from docmail_nb._compose.preview import Preview, preview
from docmail_nb._compose.problem_list import ProblemGroup, capped, group_problems, join_reasons
from docmail_nb._compose.rows import RowChoice, describe_recipients, describe_skipped
from docmail_nb._compose.sandbox import make_environment
from docmail_nb._compose.templates import (
    MessageTemplate,
    money_columns,
    parse_template,
    template_variables,
)
from docmail_nb._run.outbox import OutboxEntry, count_states, outbox, progress_text
from docmail_nb._run.pacing import messages_per_minute, rate
from docmail_nb._run.send import Pending, SendOptions, pending, send_plan, send_test
from docmail_nb._sheets.orders import Orders
from docmail_nb._store.files import write_private
from docmail_nb._store.ledger import LedgerLike
from docmail_nb._store.profiles import Profile, docmail_home, load_profile
from docmail_nb.errors import DocmailError, ProfileError

if TYPE_CHECKING:
    import pandas as pd

    from docmail_nb._mail.transport import Transport
    from docmail_nb._run.report import MessageResult, Progress, Report

__all__ = [
    "Batch",
    "BatchSettings",
    "OutboxEntry",
    "ProblemGroup",
    "capped",
    "count_states",
    "describe_recipients",
    "describe_skipped",
    "group_problems",
    "join_reasons",
    "keep_upload",
    "messages_per_minute",
    "money_text",
    "progress_text",
    "rate",
]


class BatchSettings(TypedDict, total=False):
    """What :meth:`Batch.from_files` and :meth:`Batch.from_text` take besides the files.

    Reading: ``documents`` (the attachments' folder), ``documents_out`` (where documents
    made from a template are saved), ``sheet``, ``header_row``, ``rows`` (``"2-40,45"``),
    ``campaign``. Sending, as for :class:`Batch`: ``profile``, ``ledger``, ``options``,
    ``transport``, ``password``.
    """

    documents: str | Path | None
    documents_out: str | Path | None
    sheet: str | int | None
    header_row: int | None
    rows: RowChoice | str | None
    campaign: str | None
    profile: Profile | str | None
    ledger: LedgerLike
    options: SendOptions | None
    transport: Transport | None
    password: str | None


class Batch:
    """One campaign: its orders, template and plan, and how and where it is sent.

    ``profile`` is a Profile, a saved profile's name, or None (the only saved profile); it is
    loaded when first needed, so checking and previewing need no profile at all. ``ledger`` is
    a Ledger, a file, a PostgreSQL URL, or None (the default ledger). ``transport`` defaults
    to SMTP through the profile.
    """

    def __init__(
        self,
        orders: Orders,
        template: MessageTemplate,
        *,
        documents: str | Path | None = None,
        documents_out: str | Path | None = None,
        rows: RowChoice | str | None = None,
        campaign: str | None = None,
        plan: Plan | None = None,
        profile: Profile | str | None = None,
        ledger: LedgerLike = None,
        options: SendOptions | None = None,
        transport: Transport | None = None,
        password: str | None = None,
    ) -> None:
        self.orders = orders
        self.template = template
        self.ledger = ledger
        self.options = options or SendOptions()
        self.transport = transport
        self._profile = profile = _named_profile(profile)
        self._password = password
        self.plan: Plan = plan or make_plan(
            orders,
            template,
            documents=documents,
            documents_out=documents_out,
            campaign=campaign,
            rows=rows,
            max_recipients=_recipient_limit(profile),
            ledger=ledger,
        )

    def __repr__(self) -> str:
        return (
            f"Batch({self.plan.campaign!r}: {len(self.plan.drafts)} messages, "
            f"{len(self.plan.problems)} problems)"
        )

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_files(
        cls, orders: str | Path, template: str | Path, **settings: Unpack[BatchSettings]
    ) -> Batch:
        """Read the orders and the template file and check every row (``docmail check``).

        ``settings`` are those of :class:`BatchSettings`. Without ``documents``, attachments
        are looked for as ``default_documents`` says.
        """
        return cls._read(orders, template, None, settings)

    @classmethod
    def from_text(
        cls,
        orders: str | Path,
        template_text: str,
        *,
        template_path: str | Path | None = None,
        **settings: Unpack[BatchSettings],
    ) -> Batch:
        """Like :meth:`from_files`, with the template as text (the panel's editor).

        ``template_path`` is where the text came from: it names the campaign and, like a
        template file, helps find the documents folder and the Document templates.
        """
        name = Path(template_path).stem if template_path else "template"
        folder = Path(template_path).parent if template_path else None
        template = parse_template(template_text, name=name or "template", folder=folder)
        return cls._read(orders, template_path, template, settings)

    @classmethod
    def _read(
        cls,
        orders: str | Path,
        template_path: str | Path | None,
        template: MessageTemplate | None,
        settings: BatchSettings,
    ) -> Batch:
        unknown = sorted(set(settings) - set(BatchSettings.__annotations__))
        if unknown:
            raise TypeError(f"Batch: unexpected keyword argument(s) {', '.join(unknown)}")
        profile = _named_profile(settings.get("profile"))
        read, parsed, plan = read_and_plan(
            orders,
            template_path,
            template=template,
            documents=settings.get("documents"),
            documents_out=settings.get("documents_out"),
            sheet=settings.get("sheet"),
            header_row=settings.get("header_row"),
            rows=settings.get("rows"),
            campaign=settings.get("campaign"),
            max_recipients=_recipient_limit(profile),
            ledger=settings.get("ledger"),
        )
        return cls(
            read,
            parsed,
            plan=plan,
            profile=profile,
            ledger=settings.get("ledger"),
            options=settings.get("options"),
            transport=settings.get("transport"),
            password=settings.get("password"),
        )

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

    def money_columns(self) -> dict[str, str]:
        """The columns the template writes as money, with their currency (``amount``: CHF)."""
        return money_columns(self.template)

    def address_columns(self, header: str = "To") -> list[str]:
        """The columns an address header (To, Cc, Bcc) is made of."""
        try:
            return sorted(template_variables(self.template).get(header, set()))
        except DocmailError:  # the check has said what is wrong with the template
            return []

    def outbox(self) -> list[OutboxEntry]:
        """Every message with its state by the ledger (unchanged), then the problem rows."""
        return outbox(self.plan, self.ledger)

    def pending(self) -> Pending:
        """What ``send()`` would send now, whether to ask first, and the question to ask."""
        return pending(self.plan, self.profile, self.ledger, self.options)

    # -- sending ----------------------------------------------------------------------------

    def send(
        self,
        progress: Progress | Literal["bar"] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> Report:
        """Send every pending message once (or a dry run, as the options say); the report.

        ``stop``, once set (a Stop button), ends the run after the messages being sent.
        """
        return send_plan(
            self.plan,
            self.profile,
            password=self._password,
            ledger=self.ledger,
            options=self.options,
            progress=progress,
            transport=self.transport,
            stop=stop,
        )

    def send_test(self, row: int) -> MessageResult:
        """Row ``row``'s message to the profile's own address, marked "[TEST]"; not recorded."""
        return send_test(
            self.plan, row, self.profile, password=self._password, transport=self.transport
        )

    def failed_rows(self, report: Report) -> pd.DataFrame:
        """The orders' rows that need attention after ``report``, with an ``error`` column."""
        return report.failed_rows(self.orders)

    def save_failed_rows(self, report: Report, path: str | Path) -> Path | None:
        """Write :meth:`failed_rows` as .xlsx or .csv, ready to fix and send again.

        None (and no file) when no row needs fixing.
        """
        return report.save_failed_rows(self.orders, path)


def _named_profile(profile: Profile | str | None) -> Profile | str | None:
    """A saved profile's name loaded once, so its limits check every row; else as given.

    A name that does not load stays a name: checking needs no profile, and sending says why.
    """
    if not isinstance(profile, str):
        return profile
    try:
        return load_profile(profile)
    except ProfileError:
        return profile


def _recipient_limit(profile: Profile | str | None) -> int | None:
    """The provider's recipients per message, when the profile is at hand (checked per row)."""
    return profile.limits.recipients_per_message if isinstance(profile, Profile) else None


def keep_upload(name: str, content: bytes) -> Path:
    """An orders file uploaded in a panel, kept in docmail's home as every file docmail
    writes: mode 0600 in a 0700 folder (it holds customers' data)."""
    folder = docmail_home() / "uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return write_private(folder / Path(name).name, lambda handle: handle.write(content))


def money_text(amount: Any, currency: str = "CHF") -> str:
    """An amount as a template's ``money`` filter writes it, e.g. ``CHF 1’234.50``."""
    return str(make_environment().filters["money"](amount, currency))
