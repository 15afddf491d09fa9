"""``docmail check``, ``preview`` and ``send``: a batch of orders × template."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the commands import what they use when they run: --help stays quick
    from docmail_nb import MessageResult, Problem, Report, SendOptions
    from docmail_nb.batch import Batch


from docmail_nb.cli._common import friendly_errors, ledger_option, print_error, profile_option

__all__ = ["check", "preview", "send"]


_DOCUMENTS_HELP = (
    "Folder the Attachment paths are relative to. Default: a 'documents' folder beside the "
    "template's folder, else beside the orders file, else the orders file's folder."
)


_SHEET_HELP = (
    "Sheet to read: its name as on the tab (2026 is the sheet named 2026), else its position "
    "counted from 0 (0 = the first sheet). Default: the first sheet."
)


_HEADER_ROW_HELP = (
    "Row that holds the column names (rows above it, a title or a date, are ignored). "
    "Default: the first row that is not empty."
)


_DOCUMENTS_OUT_HELP = (
    "Folder the PDFs made from Document: templates are saved into when sent. Default: "
    "'generated' in the documents folder."
)


_ROWS_HELP = (
    "Only these sheet rows, e.g. 2-40,45 (5- for row 5 to the end); the others are left out "
    "and listed, not counted as problems."
)


@dataclass(frozen=True)
class _Source:
    """ORDERS TEMPLATE and the options that say how to read them (check, preview, send)."""

    orders: Path
    template: Path
    documents: Path | None
    documents_out: Path | None
    sheet: str | None  # read_orders takes a name first, a position only where no name fits
    header_row: int | None
    rows: str | None

    def batch(self, **settings: Any) -> Batch:
        """The Batch of these orders and this template; ``settings`` as for Batch.from_files."""
        from docmail_nb.batch import Batch

        return Batch.from_files(
            self.orders,
            self.template,
            documents=self.documents,
            documents_out=self.documents_out,
            sheet=self.sheet,
            header_row=self.header_row,
            rows=self.rows,
            **settings,
        )


def _orders_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """ORDERS TEMPLATE [--documents DIR] [--documents-out DIR] [--sheet SHEET] [--header-row N]
    [--rows SPEC], handed to the command as one ``source`` (a _Source)."""

    @wraps(func)
    def with_source(**kwargs: Any) -> Any:
        source = _Source(**{name: kwargs.pop(name) for name in _Source.__dataclass_fields__})
        return func(source, **kwargs)

    decorators = [
        click.argument("orders", type=click.Path(dir_okay=False, path_type=Path)),
        click.argument("template", type=click.Path(dir_okay=False, path_type=Path)),
        click.option(
            "--documents",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=None,
            help=_DOCUMENTS_HELP,
        ),
        click.option(
            "--documents-out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help=_DOCUMENTS_OUT_HELP,
        ),
        click.option("--sheet", default=None, help=_SHEET_HELP),
        click.option(
            "--header-row",
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help=_HEADER_ROW_HELP,
        ),
        click.option("--rows", "rows", default=None, metavar="SPEC", help=_ROWS_HELP),
    ]
    command: Callable[..., Any] = with_source
    for decorator in reversed(decorators):  # click lists them in the order written above
        command = decorator(command)
    return command


@click.command(short_help="Check every row; list every problem.")
@_orders_options
@friendly_errors
def check(source: _Source) -> None:
    """Check every row and list every problem (payment data too); exit 1 when any has one."""
    from docmail_nb.batch import describe_recipients, describe_skipped

    plan = source.batch().plan
    for notice in plan.notices:
        click.secho(f"Notice: {notice}", fg="yellow")
    if plan.notices:
        click.echo("")
    if plan.problems:
        _print_problems(plan.problems)
    skipped = describe_skipped(plan.skipped)
    if skipped:
        click.echo("Left out (not problems):")
        for line in skipped:
            click.echo(f"  {line}")
        click.echo("")
    if plan.drafts:
        click.echo(f"Recipients per message (To, Cc, Bcc): {describe_recipients(plan.drafts)}")
    click.secho(plan.summary(), fg="red" if plan.problems else "green")
    if plan.problems:
        sys.exit(1)


def _print_problems(problems: Sequence[Problem]) -> None:
    """The problems as a table: Row, Key, Field, Problem, and each hint below its line.

    Rows with the same problem share one line; past the first groups, a count of the rest.
    """
    from docmail_nb.batch import capped, group_problems

    groups, rest = capped(group_problems(problems))
    lines = [
        (group.row_text, group.keys[0] if len(group.keys) == 1 else "", group.field,
         group.message, group.hint)
        for group in groups
    ]  # fmt: skip
    table = [("Row", "Key", "Field", "", ""), *lines]
    widths = [max(len(r[i]) for r in table) for i in (0, 1, 2)]
    indent = sum(widths) + 6
    click.echo(f"{'Row':<{widths[0]}}  {'Key':<{widths[1]}}  {'Field':<{widths[2]}}  Problem")
    for row, key, field, message, hint in lines:
        click.echo(f"{row:<{widths[0]}}  {key:<{widths[1]}}  {field:<{widths[2]}}  {message}")
        if hint:
            click.echo(f"{'':<{indent}}→ {hint}")
    if rest:
        click.echo(rest)
    click.echo("")


@click.command()
@_orders_options
@click.option("--row", "row", required=True, type=int, help="Sheet row number (2 = first order).")
@profile_option("Show the From address and Message-ID this profile sends with.")
@click.option("--campaign", default=None, help="As for send. Default: the template's name.")
@friendly_errors
def preview(source: _Source, row: int, profile_name: str | None, campaign: str | None) -> None:
    """Show the message of one row exactly as it will be sent.

    A document made from a template is drawn into the 'preview' folder of the documents-out
    folder (not recorded, not sent), with its first page as a PNG image beside it.
    """
    # the From shown is the profile's when one is named
    batch = source.batch(campaign=campaign, profile=profile_name)
    draft = batch.plan.draft_for_row(row)
    folder = draft.documents[0].path.parent / "preview" if draft and draft.documents else None
    click.echo(batch.preview(row, documents_to=folder).as_text(), nl=False)


@click.command(short_help="Send every valid message once, then report.")
@_orders_options
@profile_option("Default: the only profile.")
@ledger_option
@click.option(
    "--campaign", default=None, help="Campaign name in the ledger. Default: template name."
)
@click.option("--dry-run", is_flag=True, help="Build every message; send and record nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages.")
@click.option("--rate", default=None, metavar="N/min", help="At most N messages per minute.")
@click.option(
    "--connections", type=click.IntRange(min=1), default=1, show_default=True,
    help="Parallel connections (capped by the profile's provider).",
)  # fmt: skip
@click.option(
    "--jobs", type=click.IntRange(min=1), default=None,
    help="Processes drawing documents ahead of the sending. Default: one per core.",
)  # fmt: skip
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the report to this .xlsx or .csv file.",
)  # fmt: skip
@click.option(
    "--failed-rows", "failed_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Write the rows that need attention, with an error column, to this .xlsx or .csv.",
)  # fmt: skip
@click.option(
    "--csv-separator", type=click.Choice([",", ";", "tab"]), default=None,
    help="Separator of --report and --failed-rows csv files: ';' for Swiss Excel and "
    "LibreOffice. Default: that of the orders csv, else ','.",
)  # fmt: skip
@click.option("--resend-unknown", is_flag=True, help="Send again messages whose fate is unknown.")
@click.option("--resend-changed", is_flag=True, help="Send again keys sent with other content.")
@click.option(
    "--resend-bounced", is_flag=True,
    help="Send bounced keys again to the same addresses (a corrected address needs no flag).",
)  # fmt: skip
@click.option("--all-or-nothing", is_flag=True, help="Send nothing when any row has a problem.")
@click.option(
    "--test-to-me", "test_row", type=int, default=None, metavar="ROW",
    help="Send only ROW's message to the profile's own address, marked [TEST]; not recorded.",
)  # fmt: skip
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def send(
    source: _Source,
    profile_name: str | None,
    ledger: Path | None,
    campaign: str | None,
    report_path: Path | None,
    failed_path: Path | None,
    csv_separator: str | None,
    test_row: int | None,
    yes: bool,
    **options: Any,
) -> None:
    """Send every valid message once; report rows with problems (exit 1 when there are any)."""
    from docmail_nb import load_profile

    settings = load_profile(profile_name)
    batch = source.batch(
        profile=settings, ledger=ledger, campaign=campaign, options=_send_options(**options)
    )
    if test_row is not None:
        result = batch.send_test(test_row)
        click.secho(f"Test message of row {test_row} sent to {result.to[0]}.", fg="green")
        return
    if not yes:
        _confirm(batch)
    stopped: list[str] = []
    report = batch.send(progress="bar" if sys.stderr.isatty() else _progress_lines(stopped))
    _print_trouble(report)
    click.echo(report.summary())
    separator = "\t" if csv_separator == "tab" else csv_separator
    _save_reports(batch, report, report_path, failed_path, separator)
    if report.fatal is not None and not stopped:
        print_error(report.fatal.summary, report.fatal.hint)
    if report.fatal is not None and report.fatal.kind in _LOGIN_REFUSED:
        from docmail_nb.setup import password_source

        said = password_source(settings)
        if said:
            click.echo(said, err=True)
    if not report.ok:
        sys.exit(1)


def _send_options(rate: str | None, **flags: Any) -> SendOptions:
    """SendOptions from send's --dry-run, --limit, --rate, --connections and --resend-... flags."""
    from docmail_nb import SendOptions
    from docmail_nb.batch import messages_per_minute

    return SendOptions(rate_per_minute=messages_per_minute(rate), **flags)


def _confirm(batch: Batch) -> None:
    """Ask before sending when the batch says to; exit 1 when the answer is no."""
    from docmail_nb.errors import ConfigError

    waiting = batch.pending()
    if not waiting.ask:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            "docmail send needs a confirmation, but there is no terminal to ask on.",
            "Add --yes to send without asking (e.g. in a scheduled job), or try --dry-run first.",
        )
    if not click.confirm(waiting.question, default=False):
        click.echo("Nothing sent.")
        sys.exit(1)


def _progress_lines(stopped: list[str]) -> Callable[[int, int, MessageResult], None]:
    """A line per message; a batch that stopped is said once, first (its error in ``stopped``)."""

    def log_line(done: int, total: int, result: MessageResult) -> None:
        if result.state == "planned":  # not attempted: the batch stopped
            if not stopped:
                stopped.append(result.error)
                print_error(result.error, result.hint)
            return
        rows = ", ".join(str(r) for r in result.rows)
        click.echo(f"[{done}/{total}] row {rows} {result.key}: {result.state}")

    return log_line


#: diagnoses of a login the server refused: the password tried is worth naming
_LOGIN_REFUSED = ("auth_failed", "app_password_required")
#: messages that need attention listed before "and N more"
_LISTED = 50


def _print_trouble(report: Report) -> None:
    """The messages that need attention, then the rows with problems, each with its hint;
    both lists bounded (rows with the same problem share a line)."""
    from docmail_nb.batch import capped, group_problems

    trouble = [r for r in report.results if r.trouble]
    for result in trouble[:_LISTED]:
        click.secho(str(result), fg="red")
        if result.hint:
            click.echo(f"  → {result.hint}")
    if len(trouble) > _LISTED:
        click.echo(f"… and {len(trouble) - _LISTED:,} more messages (--report FILE lists all).")
    groups, rest = capped(group_problems(report.problems))
    for group in groups:
        click.secho(f"{group.label}: problem in {group.field}: {group.message}", fg="red")
        if group.hint:
            click.echo(f"  → {group.hint}")
    if rest:
        click.echo(rest)


def _save_reports(
    batch: Batch,
    report: Report,
    report_path: Path | None,
    failed_path: Path | None,
    separator: str | None = None,
) -> None:
    """--report and --failed-rows: write the files asked for and say where they went."""
    if report_path is not None:
        click.echo(f"Report written to {report.save(report_path, separator)}")
    if failed_path is not None:
        written = report.save_failed_rows(batch.orders, failed_path, separator)
        click.echo(
            f"Rows to fix written to {written}"
            if written is not None
            else f"No row needs fixing: {failed_path} was not written."
        )
