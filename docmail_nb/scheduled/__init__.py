"""The unattended job behind ``notebooks/scheduled_send.ipynb``: parameters in, a batch out.

papermill passes the notebook's parameters; ``scheduled.parameters`` checks them into a
:class:`~docmail_nb.scheduled.parameters.Job`, then :func:`open_batch` reads and checks the orders
as a :class:`~docmail_nb.batch.Batch`, the same core object the CLI and the panels drive, and
:func:`run_job` sends it. :func:`raise_for_problems` and :func:`raise_for_failures` turn
problem rows and failed messages into a :class:`BatchFailed` that names each row, so papermill
exits non-zero with a readable reason. :func:`run` does it all and keeps the outcome as a
:class:`ScheduledRun`, summarized first in the output notebook.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docmail_nb.errors import BatchFailed, DocmailError, SMTPProblem
from docmail_nb.scheduled.parameters import Job, job_from_parameters
from docmail_nb.words import AFTER_WORDS

if TYPE_CHECKING:
    import pandas as pd

    from docmail_nb import Plan, Profile, Report
    from docmail_nb.batch import Batch, ProblemGroup

__all__ = [
    "DRY_RUN_SENDER",
    "ScheduledRun",
    "describe_job",
    "describe_plan",
    "describe_report",
    "load_job_profile",
    "open_batch",
    "problems_table",
    "raise_for_failures",
    "raise_for_problems",
    "run",
    "run_job",
]

#: how many problem rows or failed messages an error message lists before "and N more"
_LISTED = 20


def describe_job(job: Job) -> str:
    """The run's settings, a few lines for the top of the output notebook (no secrets)."""
    lines = [
        f"orders:    {job.orders}" + (f" (sheet {job.sheet})" if job.sheet else ""),
        f"template:  {job.template}",
        f"documents: {job.documents or '(none given)'}",
        f"profile:   {job.profile or '(the only profile; a dry run needs none)'}",
        f"ledger:    {_ledger_named(job.ledger)}",
        "mode:      " + ("dry run, nothing is sent" if job.dry_run else "send"),
    ]
    limits = [
        f"{name} {value}"
        for name, value in (
            ("limit", job.limit),
            ("rate", job.rate and f"{job.rate:g}/min"),
            ("connections", job.connections),
            ("jobs", job.jobs),
        )
        if value
    ]
    lines.append("limits:    " + ", ".join(limits))
    return "\n".join(lines)


def _ledger_named(ledger: Path | str | None) -> str:
    """How the run's ledger is shown: never with a password."""
    from docmail_nb import ledger_name

    return ledger_name(ledger) if ledger else f"{ledger_name()} (the default)"


def describe_plan(plan: Plan, job: Job) -> str:
    """The check's summary naming the orders file; then the notices and the rows left out."""
    from docmail_nb.batch import describe_skipped

    notices = [f"Notice: {notice}" for notice in plan.notices]
    skipped = describe_skipped(plan.skipped)
    left_out = ["Left out (not problems):", *(f"  {item}" for item in skipped)] if skipped else []
    return "\n".join([f"{job.orders.name}: {plan.summary()}", *notices, *left_out])


#: the From of a dry run without a profile: an address that can never receive mail
DRY_RUN_SENDER = "no-profile@dry-run.invalid"


def load_job_profile(job: Job) -> Profile:
    """The profile the job sends through.

    A dry run sends nothing, so it needs no profile: without ``profile`` and without exactly
    one saved profile it uses a stand-in (the sample business's address for the sample).
    Errors speak papermill: ``-p profile NAME``.
    """
    from docmail_nb import Profile, list_profiles, load_profile
    from docmail_nb._sample import SINK_SENDER
    from docmail_nb.errors import ProfileError

    if job.dry_run and job.profile is None and len(list_profiles()) != 1:
        sender = SINK_SENDER if job.is_sample else DRY_RUN_SENDER
        return Profile(name="dry-run", host="localhost", security="none", from_addr=sender)
    try:
        return load_profile(job.profile)
    except ProfileError as exc:
        if job.profile is not None:
            raise ProfileError(
                exc.message,
                "Check the name with 'docmail profile list', then run with -p profile NAME.",
            ) from None
        if list_profiles():
            raise ProfileError(exc.message, "Name one with -p profile NAME.") from None
        raise ProfileError(
            exc.message,
            "Save one in 01_smtp_settings.ipynb (or with 'docmail profile add NAME --host ... "
            "--username ...'), then run with -p profile NAME.",
        ) from None


def open_batch(job: Job, password: str | None = None) -> Batch:
    """Read the orders and check every row against the template, as the job says."""
    from docmail_nb import SendOptions
    from docmail_nb.batch import Batch

    options = SendOptions(
        dry_run=job.dry_run,
        limit=job.limit,
        rate_per_minute=job.rate,
        connections=job.connections,
        jobs=job.jobs,
    )
    return Batch.from_files(
        job.orders,
        job.template,
        documents=job.documents,
        sheet=job.sheet,
        profile=load_job_profile(job),
        ledger=job.ledger,
        options=options,
        password=password,
    )


def problems_table(plan: Plan) -> pd.DataFrame:
    """The check's problems, one line each, as the notebook shows them."""
    import pandas as pd

    from docmail_nb.batch import group_problems

    return pd.DataFrame(
        [
            (group.row_text, ", ".join(group.keys[:3]), group.field, group.message, group.hint)
            for group in group_problems(plan.problems)
        ],
        columns=["rows", "key", "field", "problem", "what to do"],
    )


def raise_for_problems(plan: Plan, job: Job) -> None:
    """Raise BatchFailed naming every problem row, when the job fails on problems."""
    if not plan.problems or not job.fail_on_problems:
        return
    from docmail_nb.batch import group_problems

    lines = [f"{group.label}: problem in {group.field}: {group.message}" for group in
             group_problems(plan.problems)]  # fmt: skip
    rows = len(plan.problem_rows)
    raise BatchFailed(
        f"The check found {len(plan.problems)} problem(s) in {rows} of {plan.total_rows} "
        f"row(s) of {job.orders.name}; nothing was sent.\n" + _listing(lines) + "\n",
        f"Fix those rows in {job.orders.name} and run again, or pass -p fail_on_problems False "
        "to send the other rows and skip these.",
    )


def run_job(job: Job, batch: Batch) -> Report:
    """Send (or dry-run) the batch through the job's profile, recorded in the ledger."""
    report = batch.send()
    if job.report is not None:
        report.save(job.report)
    return report


def describe_report(report: Report, job: Job) -> str:
    """The run's outcome in a line or two, saying so when there was nothing new to send."""
    lines = [report.summary()]
    states = {result.state for result in report.results}
    if report.fatal is None and states <= {"skipped"}:
        done = len(report.results)
        lines.append(
            f"Nothing new to send: all {done} message(s) were sent by earlier runs."
            if done
            else "Nothing new to send: the orders hold no sendable message."
        )
    if job.report is not None:
        lines.append(f"Report saved to {job.report}.")
    return "\n".join(lines)


def raise_for_failures(report: Report, job: Job) -> None:
    """Raise when the batch was stopped, or when messages failed and the job fails on errors.

    A stop (wrong password, TLS, configuration) raises SMTPProblem with its diagnosis; failed,
    deferred, unknown or changed messages and refused recipients raise BatchFailed.
    """
    fatal = report.fatal
    if fatal is not None:
        if fatal.code is not None and str(fatal.code) not in fatal.summary:
            reply = f"{fatal.code} {fatal.reply}".strip()
            fatal = dataclasses.replace(fatal, summary=f"{fatal.summary} (server: {reply})")
        raise SMTPProblem(fatal)
    if not job.fail_on_errors:
        return
    lines = [str(result) for result in report.results if result.trouble]
    if lines:
        raise BatchFailed(
            f"{len(lines)} message(s) did not go out as they should.\n" + _listing(lines) + "\n",
            "Read the reasons above; a rerun with the same ledger sends only what is still "
            "missing and never sends a message twice.",
        )


def _listing(lines: list[str]) -> str:
    shown = [f"  - {line}" for line in lines[:_LISTED]]
    if len(lines) > _LISTED:
        shown.append(f"  ... and {len(lines) - _LISTED} more")
    return "\n".join(shown)


# --- the whole run, summarized first ---------------------------------------------------------


@dataclass
class ScheduledRun:
    """One run of the notebook: what was planned and sent, or the error that stopped it.

    :func:`run` never raises a :class:`DocmailError`: it keeps it, so the notebook can show
    :meth:`markdown` as its first output and only then fail with :meth:`raise_for_outcome`.
    """

    job: Job | None = None
    plan: Plan | None = None
    report: Report | None = None
    error: DocmailError | None = None

    def markdown(self) -> str:
        """The run in a few lines of markdown: the verdict, then counts, problems, failures."""
        from docmail_nb.batch import describe_skipped

        lines = [f"**{_md(self._verdict())}**", ""]
        if self.report is not None:
            counts = self.report.counts()
            named = [
                ("sent", "sent"),
                ("dry-run", "would be sent (dry run)"),
                ("skipped", "skipped, sent by an earlier run"),
            ]
            for state, label in named:
                if counts.get(state):
                    lines.append(f"- {counts[state]} {label}")
        if self.plan is not None and self.plan.problems:
            rows = len(self.plan.problem_rows)
            lines.append(
                f"- {len(self.plan.problems)} problem(s)"
                + (f" in {rows} of {self.plan.total_rows} row(s)" if rows else " in the template")
            )
        left_out = describe_skipped(self.plan.skipped) if self.plan is not None else []
        if left_out:
            skipped = len(self.plan.skipped) if self.plan is not None else 0
            lines.append(f"- {skipped} row(s) left out on purpose (not problems)")
        trouble = [r for r in self.report.results if r.trouble] if self.report else []
        if trouble:
            lines.append(f"- {len(trouble)} message(s) that did not go out as they should")
        after = self.report.after_sent if self.report is not None else {}
        if set(after) - {"sent"}:  # bounces, delays, payments: as docmail status shows them
            shown = ", ".join(f"{n} {AFTER_WORDS.get(state, state)}" for state, n in after.items())
            lines.append(f"- In the ledger now: {shown}")
        if self.plan is not None and self.plan.problems:
            from docmail_nb.batch import capped, group_problems

            groups, rest = capped(group_problems(self.plan.problems), _LISTED)
            lines += ["", "**Problems** (row as in the sheet):", ""]
            lines += [f"- {_md(_problem_line(group))}" for group in groups]
            if rest:
                lines.append(f"- {_md(rest)} (table below)")
        if trouble:
            lines += ["", "**Messages that need attention:**", ""]
            lines += [f"- {_md(str(r))}" for r in trouble[:_LISTED]]
            if len(trouble) > _LISTED:
                lines.append(f"- … and {len(trouble) - _LISTED} more (report below)")
        if left_out:
            lines += ["", "**Left out** (not problems):", ""]
            lines += [f"- {_md(item)}" for item in left_out[:_LISTED]]
            if len(left_out) > _LISTED:
                lines.append(f"- … and {len(left_out) - _LISTED} more (details below)")
        if self.error is not None:
            lines += ["", _md(self.error.message)]
            if self.error.hint:
                lines += ["", f"*What to do:* {_md(self.error.hint)}"]
        return "\n".join(lines).rstrip() + "\n"

    def _verdict(self) -> str:
        report, plan = self.report, self.plan
        if report is not None and report.fatal is not None:
            return f"The run stopped: {report.fatal.summary}"
        if self.error is not None and report is None:
            if plan is not None and plan.problems:
                return "The run failed: rows have problems, nothing was sent."
            return "The run failed before sending anything."
        if report is None:
            return "Nothing was sent."
        verdict = report.summary()
        if self.error is not None:
            return f"The run failed. {verdict}"
        return verdict

    def raise_for_outcome(self) -> None:
        """Fail the run when it failed: the kept error, problem rows, failed messages."""
        if self.error is not None:
            raise self.error
        if self.job is not None and self.report is not None:
            raise_for_failures(self.report, self.job)


def run(namespace: Mapping[str, Any]) -> ScheduledRun:
    """Check the parameters (pass ``globals()``), plan, then send unless problems stop it."""
    outcome = ScheduledRun()
    try:
        outcome.job = job = job_from_parameters(namespace)
        batch = open_batch(job)
        outcome.plan = batch.plan
        raise_for_problems(batch.plan, job)
        outcome.report = run_job(job, batch)
        raise_for_failures(outcome.report, job)
    except DocmailError as exc:
        outcome.error = exc
    return outcome


def _problem_line(group: ProblemGroup) -> str:
    line = f"{group.label}: problem in {group.field}: {group.message}"
    return f"{line} → {group.hint}" if group.hint else line


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


def _md(text: str) -> str:
    """Text shown literally in markdown (no emphasis, links or HTML from cell values)."""
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")
