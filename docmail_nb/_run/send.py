"""A run: what it would send now (``pending``), the run itself (``send_plan``), a test send.

``send_plan`` sends every draft of a plan at most once (see ``ledger``); the worker pool
(``workers``) reuses one authenticated connection per worker and reconnects when the server
closes it; a sliding-window rate limit and the provider's limits hold for all of them. A
"fatal" diagnosis (wrong password, TLS, configuration) stops the whole batch at once. A dry
run builds every message and asks the ledger, read only, what a real run would do.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from docmail_nb._compose.message import Draft
from docmail_nb._compose.plan import Plan
from docmail_nb._documents.drawing import drawn_temporarily
from docmail_nb._documents.planned import documents_changed
from docmail_nb._mail.transport import SMTPTransport, Transport
from docmail_nb._mailbox.reconcile import MailboxRun
from docmail_nb._run.options import SendOptions
from docmail_nb._run.outcomes import draft_result, held_back_result, unbuildable_result
from docmail_nb._run.pool import WorkerPool
from docmail_nb._run.report import MessageResult, Progress, Report
from docmail_nb._store.ledger import Ledger, LedgerLike, existing_ledger, opened_ledger
from docmail_nb._store.profiles import Profile, require_password
from docmail_nb._store.records import elsewhere_note
from docmail_nb._store.status import campaign_status, state_counts
from docmail_nb.errors import ConfigError, DocmailError, InputError
from docmail_nb.words import Decision, ResultState, counted, plural, setting

__all__ = [
    "MessageResult",
    "Pending",
    "Progress",
    "Report",
    "SendOptions",
    "outstanding",
    "pending",
    "send_plan",
    "send_test",
    "would_send",
]


@dataclass(frozen=True)
class Pending:
    """What a run would send now, whether to ask first, and the question to ask."""

    drafts: list[Draft]
    host: str
    sender: str
    problem_rows: int
    fit_now: int | None = None  # how many fit the provider's hourly/daily limits now
    limits: str = ""  # those limits in words
    dry_run: bool = False
    elsewhere: str = ""  # keys other campaigns sent (a renamed template?), said before sending

    @property
    def recipients(self) -> int:
        """Distinct envelope addresses over all pending messages."""
        return len({address for draft in self.drafts for address in draft.recipients})

    @property
    def ask(self) -> bool:
        """True when a real run would send something: confirm before it does."""
        return bool(self.drafts) and not self.dry_run

    @property
    def question(self) -> str:
        """E.g. "Send 18 messages to 21 recipients via smtp.example.ch as anna@example.ch?"."""
        count, people = len(self.drafts), self.recipients
        text = (
            f"Send {counted(count, 'message')} to {people} "
            f"{plural(people, 'recipient')} via {self.host} as {self.sender}?"
        )
        if self.problem_rows:
            text += f" ({self.problem_rows} row(s) with problems are left out.)"
        if self.fit_now is not None and self.fit_now < count:
            text += (
                f" (Only {self.fit_now} fit the provider's limits now ({self.limits}, counted "
                "over every run); the rest stay planned for a later run.)"
            )
        if self.elsewhere:
            text += f"\n{self.elsewhere}"
        return text


def pending(
    plan: Plan,
    profile: Profile,
    ledger: LedgerLike = None,
    options: SendOptions | None = None,
) -> Pending:
    """What ``send_plan`` with these options would try to send now (the ledger is not changed)."""
    options = options or SendOptions()
    fit_now: int | None = None
    with existing_ledger(ledger) as existing:
        drafts: list[Draft] = []
        if not (options.all_or_nothing and plan.problems):
            drafts = _outstanding(
                plan,
                existing,
                options.resend_unknown,
                options.resend_changed,
                resend_bounced=options.resend_bounced,
            )[: options.limit]
        windows = profile.limits.windows()
        if windows and drafts and existing is not None:
            counts = [len(draft.recipients) for draft in drafts]
            fit_now = existing.room(profile.account, windows, counts)
        elsewhere = "" if plan.reminder is not None else _elsewhere(plan, existing, drafts)
    return Pending(
        drafts,
        profile.host,
        profile.sender or profile.username,
        len(plan.problem_rows) or len(plan.problems),
        fit_now,
        "; ".join(profile.limits.lines()),
        options.dry_run,
        elsewhere,
    )


def _elsewhere(plan: Plan, ledger: Ledger | None, drafts: list[Draft]) -> str:
    """The notice for keys of ``drafts`` that another campaign sent ("" for none)."""
    if not drafts or ledger is None:
        return ""
    found = ledger.sent_elsewhere(plan.campaign, [draft.key for draft in drafts])
    return elsewhere_note(plan.campaign, found)


def outstanding(
    plan: Plan,
    ledger: LedgerLike = None,
    *,
    resend_unknown: bool = False,
    resend_changed: bool = False,
    resend_bounced: bool = False,
) -> list[Draft]:
    """The drafts a run would try to send now, judged by the ledger (which is not changed)."""
    with existing_ledger(ledger) as existing:
        return _outstanding(
            plan, existing, resend_unknown, resend_changed, resend_bounced=resend_bounced
        )


def _outstanding(
    plan: Plan,
    ledger: Ledger | None,
    resend_unknown: bool,
    resend_changed: bool,
    *,
    resend_bounced: bool = False,
) -> list[Draft]:
    if ledger is None:
        return list(plan.drafts)
    return [
        draft
        for draft in plan.drafts
        if _decide(
            ledger,
            plan.campaign,
            draft,
            resend_unknown,
            resend_changed,
            resend_bounced=resend_bounced,
        )
        == "claimed"
    ]


def _decide(
    ledger: Ledger,
    campaign: str,
    draft: Draft,
    resend_unknown: bool,
    resend_changed: bool,
    content_hash: str | None = None,
    *,
    resend_bounced: bool = False,
) -> Decision:
    """``Ledger.decide`` for a draft: what a real run's claim would say, read only."""

    def current_hash() -> str:
        if draft.documents and documents_changed(draft.documents, campaign, draft.key, ledger):
            return ""  # a document would now be made from other data: not what was sent
        if content_hash is not None:
            return content_hash
        try:
            return draft.content_hash()
        except (DocmailError, OSError):
            return ""  # unreadable now: the run reports it; it differs from any sent hash

    return ledger.decide(
        campaign,
        draft.key,
        current_hash,
        resend_unknown=resend_unknown,
        resend_changed=resend_changed,
        recipients=draft.recipients,
        resend_bounced=resend_bounced,
    )


def _bounce(ledger: Ledger, campaign: str, key: str) -> str:
    """The ledger's words for a bounced message (its status code, address and reason)."""
    entry = ledger.get(campaign, key)
    return entry.error if entry is not None and entry.state == "bounced" else ""


def would_send(
    ledger: Ledger,
    campaign: str,
    draft: Draft,
    resend_unknown: bool,
    resend_changed: bool,
    *,
    resend_bounced: bool = False,
) -> tuple[bool, ResultState, str]:
    """Whether a run would send ``draft`` now, the state it would report, and why not.

    Read only; the same rule as the run's claim (:func:`~docmail_nb._store.ledger.rule`).
    """
    decision = _decide(
        ledger, campaign, draft, resend_unknown, resend_changed, resend_bounced=resend_bounced
    )
    if decision == "claimed":
        return True, "dry-run", ""
    result = held_back_result(draft, decision, "", bounce=_bounce(ledger, campaign, draft.key))
    return False, result.state, result.error


def send_plan(
    plan: Plan,
    profile: Profile,
    *,
    password: str | None = None,
    ledger: LedgerLike = None,
    options: SendOptions | None = None,
    progress: Progress | Literal["bar"] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    transport: Transport | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Send every draft of ``plan`` at most once and report on each.

    ``ledger`` is a Ledger, a file path or None (the default ledger). ``progress`` is a
    callback ``(done, total, result)`` or "bar" for a tqdm bar (a widget in notebooks).
    ``clock`` (wall-clock time: it is compared across processes) keeps time for a ledger
    opened here; with ``sleep`` it paces the rate limit and retries. ``transport`` is how messages
    leave (default: :class:`~docmail_nb._mail.transport.SMTPTransport` to the profile's server).
    ``stop``, once set (e.g. by a Stop button), ends the run after the messages being sent:
    the rest stay planned, as "Not sent: stopped".
    """
    options = options or SendOptions()  # its limit is checked where it is made
    report = Report(
        plan.campaign,
        [],
        list(plan.problems),
        dry_run=options.dry_run,
        skipped=list(plan.skipped),
        delimiter=plan.delimiter or ",",
    )
    callback, close_bar = _progress(progress, len(plan.drafts), plan.campaign)
    try:
        if options.all_or_nothing and plan.problems:
            _hold_everything(plan, report)
        elif options.dry_run:
            _dry_run(plan, ledger, options, report, callback, profile.sender)
        else:
            secret = require_password(profile, password) if transport is None or password else None
            if transport is None:
                transport = SMTPTransport(profile, secret)
            with opened_ledger(ledger, clock) as record:
                elsewhere = ""
                if plan.reminder is not None:  # its keys are the reminded campaign's, on purpose
                    record.record_reminder_campaign(plan.campaign, *plan.reminder)
                else:
                    elsewhere = _elsewhere(plan, record, list(plan.drafts))
                pool = WorkerPool(
                    plan, profile, transport, record, options, report, callback, clock, sleep
                )
                pool.mailbox = MailboxRun(profile, record, secret) if profile.imap_host else None
                pool.halt = stop or pool.halt
                pool.run()
                # keys another campaign sent matter to a run that sent something; a run that
                # stopped before any message (a refused login) has only its own story to tell
                if any(r.state in _WENT for r in report.results):
                    _add_note(report, elsewhere)
                report.after_sent = state_counts(campaign_status(record, plan.campaign))
        return report
    finally:
        close_bar()


#: results of a message that was handed to the server (or may have been)
_WENT = frozenset({"sent", "unknown", "failed", "deferred"})


def _add_note(report: Report, note: str) -> None:
    if note:
        report.notes.append(note)


def _hold_everything(plan: Plan, report: Report) -> None:
    """All-or-nothing with rows that have problems: every message stays planned."""
    rows = len(plan.problem_rows) or len(plan.problems)
    report.results.extend(
        draft_result(
            draft,
            "planned",
            error=f"Not sent: {rows} row(s) have problems and all-or-nothing is on.",
            hint="Fix the rows with problems, then send again.",
        )
        for draft in plan.drafts
    )


def _progress(
    progress: Progress | Literal["bar"] | None, total: int, campaign: str
) -> tuple[Progress, Callable[[], None]]:
    if progress is None:
        return (lambda done, total, result: None), (lambda: None)
    if progress != "bar":
        return progress, (lambda: None)
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=campaign, unit="msg")

    def update(done: int, total: int, result: MessageResult) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{result.key}: {result.state}", refresh=False)

    return update, bar.close


def _dry_run(
    plan: Plan,
    ledger: LedgerLike,
    options: SendOptions,
    report: Report,
    callback: Progress,
    sender: str,
) -> None:
    """Build every message and ask the ledger (if there is one) what a run would do.

    Nothing is sent and nothing is recorded.
    """
    would = 0
    with existing_ledger(ledger) as existing:
        for done, draft in enumerate(plan.drafts, 1):
            result = _dry_result(plan, draft, existing, options, sender, would)
            would += result.state == "dry-run"
            report.results.append(result)
            callback(done, len(plan.drafts), result)
        _add_note(report, _elsewhere(plan, existing, list(plan.drafts)))


def _dry_result(
    plan: Plan, draft: Draft, ledger: Ledger | None, options: SendOptions, sender: str, would: int
) -> MessageResult:
    try:
        with drawn_temporarily(draft) as built:  # documents drawn, recorded nowhere
            msg, content_hash = built.build_with_hash(plan.campaign, sender)
    except (DocmailError, OSError) as exc:
        return unbuildable_result(draft, exc)
    message_id = str(msg["Message-ID"])
    decision: Decision = "claimed"
    if ledger is not None:
        decision = _decide(
            ledger,
            plan.campaign,
            draft,
            options.resend_unknown,
            options.resend_changed,
            content_hash,
            resend_bounced=options.resend_bounced,
        )
    if decision != "claimed":
        bounce = _bounce(ledger, plan.campaign, draft.key) if ledger is not None else ""
        return held_back_result(draft, decision, message_id, bounce=bounce)
    if options.limit is not None and would >= options.limit:
        return draft_result(
            draft, "planned", message_id=message_id, error=f"Not sent: beyond {setting('limit')}."
        )
    return draft_result(draft, "dry-run", message_id=message_id)


def send_test(
    plan: Plan,
    row: int,
    profile: Profile,
    *,
    password: str | None = None,
    transport: Transport | None = None,
) -> MessageResult:
    """Send row ``row``'s message to the profile's own address, marked "[TEST] ".

    Cc and Bcc are dropped; nothing is recorded in the ledger.
    """
    draft = plan.draft_for_row(row)
    if draft is None:
        template = [p for p in plan.problems if p.row is None]
        if template:  # the template's mistake, not the row's
            raise InputError(
                f"Row {row} has no message to test: the template has a problem. "
                f"{template[0].reason}",
                f"{template[0].hint} Fix the template, then try again.".strip(),
            )
        problems = [p for p in plan.problems if p.row == row]
        if problems:
            raise InputError(
                f"Row {row} has no message to test: {problems[0].reason}",
                problems[0].hint or "Fix the row, then try again.",
            )
        raise InputError(
            f"There is no row {row} with a message.",
            "Rows are numbered as in the sheet: the first order is row 2.",
        )
    me = profile.sender
    if not me:
        raise ConfigError(
            f"Profile {profile.name!r} has no address of its own to send a test to.",
            f"Give the profile a From address ({setting('from')}) or a username that is an "
            "address.",
        )
    test = dataclasses.replace(draft, to=(me,), cc=(), bcc=(), subject=f"[TEST] {draft.subject}")
    with drawn_temporarily(test) as built:  # documents drawn for the test, recorded nowhere
        msg = built.build(f"{plan.campaign}/test", me)
    if transport is None:
        transport = SMTPTransport(profile, require_password(profile, password))
    session = transport.open()
    try:
        delivery = session.deliver(msg, test.sender or me, test.recipients)
    finally:
        session.close()
    return draft_result(
        test,
        "sent",
        message_id=str(msg["Message-ID"]),
        reply=f"{delivery.code} {delivery.reply}",
    )
