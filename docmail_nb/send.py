"""The batch: connections, rate limit, retries, the ledger, progress and the report.

``send_plan`` sends every draft of a plan at most once (see ``ledger``): K worker threads each
reuse one authenticated connection and reconnect when the server closes it; a sliding-window
rate limit and the provider's daily cap hold for all of them. A "fatal" diagnosis (wrong
password, TLS, configuration) stops the whole batch at once.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .documents import documents_changed, drawn_temporarily, prepare_documents
from .errors import ConfigError, Diagnosis, DocmailError, InputError, LedgerError, SMTPProblem
from .ledger import Decision, Entry, Ledger, default_ledger_path, elsewhere_note
from .mailbox import sent_copy
from .pacing import RateLimiter, connections, limit_note, rate, too_many_recipients
from .plan import Draft, Plan
from .profiles import Profile, require_password
from .reconcile import MailboxRun
from .report import MessageResult, Progress, Report, ResultState
from .sessions import SessionOpener
from .transport import Session, SMTPTransport, Transport

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


@dataclass
class SendOptions:
    """How a batch is sent; the defaults suit a first careful run."""

    dry_run: bool = False
    limit: int | None = None  # at most this many messages in this run
    rate_per_minute: float | None = None  # None: the profile's preset limit, if any
    connections: int = 1  # capped by the profile's preset
    resend_unknown: bool = False
    resend_changed: bool = False
    max_attempts: int = 3  # per message and run, for temporary (4xx) trouble
    retry_delay: float = 5.0  # first backoff in seconds, doubled per attempt
    max_retry_delay: float = 60.0
    all_or_nothing: bool = False  # send nothing when any row has a problem


def _result(draft: Draft, state: ResultState, **values: Any) -> MessageResult:
    return MessageResult(draft.rows, draft.key, draft.to, draft.cc, draft.bcc, state, **values)


def _unbuildable(draft: Draft, exc: Exception) -> MessageResult:
    if isinstance(exc, DocmailError):
        return _result(draft, "failed", error=exc.message, hint=exc.hint)
    name = getattr(exc, "filename", None) or "a file"
    return _result(
        draft,
        "failed",
        error=f"Message {draft.key!r}: cannot read {name}: {getattr(exc, 'strerror', exc)}.",
        hint="Put the file back (or run the check again), then send again.",
    )


def _open_ledger(ledger: Ledger | str | Path | None) -> tuple[Ledger, bool]:
    if isinstance(ledger, Ledger):
        return ledger, False
    return Ledger(ledger), True


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
            f"Send {count} message{'s' * (count != 1)} to {people} "
            f"recipient{'s' * (people != 1)} via {self.host} as {self.sender}?"
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
    ledger: Ledger | str | Path | None = None,
    options: SendOptions | None = None,
) -> Pending:
    """What ``send_plan`` with these options would try to send now (the ledger is not changed)."""
    options = options or SendOptions()
    blocked = options.all_or_nothing and bool(plan.problems)
    drafts = [] if blocked else outstanding(
        plan,
        ledger,
        resend_unknown=options.resend_unknown,
        resend_changed=options.resend_changed,
    )[: options.limit]  # fmt: skip
    problem_rows = len(plan.problem_rows) or len(plan.problems)
    sender = profile.sender or profile.username
    fit_now: int | None = None
    windows = profile.limits.windows()
    path = None if isinstance(ledger, Ledger) else Path(ledger or default_ledger_path())
    if windows and drafts and (path is None or path.exists()):
        book, opened = _open_ledger(ledger)
        try:
            counts = [len(draft.recipients) for draft in drafts]
            fit_now = book.room(profile.account, windows, counts)
        finally:
            if opened:
                book.close()
    limits = "; ".join(profile.limits.lines())
    elsewhere = _elsewhere(plan, ledger, drafts)
    return Pending(
        drafts, profile.host, sender, problem_rows, fit_now, limits, options.dry_run, elsewhere
    )


def _elsewhere(plan: Plan, ledger: Ledger | str | Path | None, drafts: list[Draft]) -> str:
    """The notice for keys of ``drafts`` that another campaign sent ("" for none)."""
    if not drafts:
        return ""
    if not isinstance(ledger, Ledger):
        path = Path(ledger) if ledger is not None else default_ledger_path()
        if not path.exists():
            return ""
    book, opened = _open_ledger(ledger)
    try:
        found = book.sent_elsewhere(plan.campaign, [draft.key for draft in drafts])
    finally:
        if opened:
            book.close()
    return elsewhere_note(plan.campaign, found)


def outstanding(
    plan: Plan,
    ledger: Ledger | str | Path | None = None,
    *,
    resend_unknown: bool = False,
    resend_changed: bool = False,
) -> list[Draft]:
    """The drafts a run would try to send now, judged by the ledger (which is not changed)."""
    book, opened = _existing_ledger(ledger)
    if book is None:
        return list(plan.drafts)
    try:
        return [
            draft
            for draft in plan.drafts
            if _decide(book, plan.campaign, draft, resend_unknown, resend_changed) == "claimed"
        ]
    finally:
        if opened:
            book.close()


def _existing_ledger(ledger: Ledger | str | Path | None) -> tuple[Ledger | None, bool]:
    """The ledger to consult without creating one: None when the file does not exist yet."""
    if isinstance(ledger, Ledger):
        return ledger, False
    path = Path(ledger) if ledger is not None else default_ledger_path()
    if not path.exists():
        return None, False
    return Ledger(path), True


def _decide(
    ledger: Ledger,
    campaign: str,
    draft: Draft,
    resend_unknown: bool,
    resend_changed: bool,
    content_hash: str | None = None,
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
    )


def would_send(
    ledger: Ledger, campaign: str, draft: Draft, resend_unknown: bool, resend_changed: bool
) -> tuple[bool, ResultState, str]:
    """Whether a run would send ``draft`` now, the state it would report, and why not.

    Read only; the same rule as the run's claim (:func:`~docmail_nb.ledger.rule`).
    """
    decision = _decide(ledger, campaign, draft, resend_unknown, resend_changed)
    if decision == "claimed":
        return True, "dry-run", ""
    result = _not_claimed(draft, decision, "")
    return False, result.state, result.error


_UNKNOWN_TEXT = "An earlier run lost the connection after handing this message over; not resent."
_UNKNOWN_HINT = (
    "Check the Sent folder or ask the recipient; send it again with --resend-unknown "
    "(resend_unknown=True) only if it did not arrive."
)
_CHANGED_TEXT = "This key was already sent with other content; not resent."
_CHANGED_HINT = (
    "If the new version must go out too, send again with --resend-changed (resend_changed=True)."
)


def _not_claimed(
    draft: Draft, decision: Decision, message_id: str, entry: Entry | None = None
) -> MessageResult:
    """The result of a message the ledger keeps from being sent now."""
    if decision == "sent":
        # settled from the Sent folder: the report says so (the ledger keeps the words)
        found = entry.reply if entry is not None and entry.copy == "found" else ""
        return _result(draft, "skipped", message_id=message_id, reply=found)
    if decision == "unknown":
        return _result(
            draft, "unknown", message_id=message_id, error=_UNKNOWN_TEXT, hint=_UNKNOWN_HINT
        )
    if decision == "changed":
        return _result(
            draft, "changed", message_id=message_id, error=_CHANGED_TEXT, hint=_CHANGED_HINT
        )
    if decision == "busy":
        return _result(
            draft, "busy", message_id=message_id, error="Another run is sending it right now."
        )
    return _result(draft, "planned", error="Not sent: a sending limit is reached.")


def send_plan(
    plan: Plan,
    profile: Profile,
    *,
    password: str | None = None,
    ledger: Ledger | str | Path | None = None,
    options: SendOptions | None = None,
    progress: Progress | Literal["bar"] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    transport: Transport | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Send every draft of ``plan`` at most once and report on each.

    ``ledger`` is a Ledger, a file path or None (the default ledger). ``progress`` is a
    callback ``(done, total, result)`` or "bar" for a tqdm bar (a widget in notebooks).
    ``clock`` and ``sleep`` pace the rate limit and retries. ``transport`` is how messages
    leave (default: :class:`~docmail_nb.transport.SMTPTransport` to the profile's server).
    ``stop``, once set (e.g. by a Stop button), ends the run after the messages being sent:
    the rest stay planned, as "Not sent: stopped".
    """
    options = options or SendOptions()
    if options.limit is not None and options.limit < 0:
        raise ConfigError("A negative --limit is not possible.", "Give 0 or more messages.")
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
            rows = len(plan.problem_rows) or len(plan.problems)
            for draft in plan.drafts:
                report.results.append(
                    _result(
                        draft,
                        "planned",
                        error=f"Not sent: {rows} row(s) have problems and all-or-nothing is on.",
                        hint="Fix the rows with problems, then send again.",
                    )
                )
            return report
        if options.dry_run:
            _dry_run(plan, ledger, options, report, callback, profile.sender)
            note = _elsewhere(plan, ledger, list(plan.drafts))
            if note:
                report.notes.append(note)
            return report
        secret = require_password(profile, password) if transport is None or password else None
        if transport is None:
            transport = SMTPTransport(profile, secret)
        book, opened = _open_ledger(ledger)
        try:
            note = _elsewhere(plan, book, list(plan.drafts))
            if note:
                report.notes.append(note)
            mailbox = MailboxRun(profile, book, secret) if profile.imap_host else None
            batch = _Batch(plan, profile, transport, book, options, report, callback, clock, sleep)
            batch.mailbox = mailbox
            batch.halt = stop or batch.halt
            batch.run()
        finally:
            if opened:
                book.close()
        return report
    finally:
        close_bar()


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
    ledger: Ledger | str | Path | None,
    options: SendOptions,
    report: Report,
    callback: Progress,
    sender: str,
) -> None:
    """Build every message and ask the ledger (if there is one) what a run would do.

    Nothing is sent and nothing is recorded.
    """
    book, opened = _existing_ledger(ledger)
    would = 0
    try:
        for done, draft in enumerate(plan.drafts, 1):
            result = _dry_result(plan, draft, book, options, sender, would)
            would += result.state == "dry-run"
            report.results.append(result)
            callback(done, len(plan.drafts), result)
    finally:
        if opened and book is not None:
            book.close()


def _dry_result(
    plan: Plan, draft: Draft, book: Ledger | None, options: SendOptions, sender: str, would: int
) -> MessageResult:
    try:
        with drawn_temporarily(draft) as built:  # documents drawn, recorded nowhere
            msg, content_hash = built.build_with_hash(plan.campaign, sender)
    except (DocmailError, OSError) as exc:
        return _unbuildable(draft, exc)
    message_id = str(msg["Message-ID"])
    decision: Decision = "claimed"
    if book is not None:
        decision = _decide(
            book,
            plan.campaign,
            draft,
            options.resend_unknown,
            options.resend_changed,
            content_hash,
        )
    if decision != "claimed":
        return _not_claimed(draft, decision, message_id)
    if options.limit is not None and would >= options.limit:
        return _result(draft, "planned", message_id=message_id, error="Not sent: beyond --limit.")
    return _result(draft, "dry-run", message_id=message_id)


class _Batch:
    """One run of send_plan: a queue of drafts, K workers, shared limits."""

    def __init__(
        self,
        plan: Plan,
        profile: Profile,
        transport: Transport,
        ledger: Ledger,
        options: SendOptions,
        report: Report,
        callback: Progress,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.plan = plan
        self.profile = profile
        self.transport = transport
        self.ledger = ledger
        self.options = options
        self.report = report
        self.callback = callback
        self.sleep = sleep
        self.account = profile.account
        per_minute = rate(options.rate_per_minute, profile)
        self.limiter = RateLimiter(per_minute, clock=clock, sleep=sleep) if per_minute else None
        if self.limiter is not None:  # the provider counts the last minute of every run
            self.limiter.seed(ledger.attempt_ages(self.account, self.limiter.window))
        self.workers = min(connections(options.connections, profile), max(1, len(plan.drafts)))
        self.todo: queue.SimpleQueue[tuple[int, Draft]] = queue.SimpleQueue()
        for item in enumerate(plan.drafts):
            self.todo.put(item)
        self.results: dict[int, MessageResult] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.halt = threading.Event()  # set from outside: stop after the current message
        self.capped = False
        self.capped_at: tuple[float | None, float | None] = (None, None)
        self.claimed = 0
        self.errors: list[BaseException] = []
        self.run_id = ""
        self.opener = SessionOpener(
            transport,
            sleep=sleep,
            retry_delay=options.retry_delay,
            max_retry_delay=options.max_retry_delay,
        )
        self.mailbox: MailboxRun | None = None
        self.documents_made = 0

    # -- running ----------------------------------------------------------------------
    def run(self) -> None:
        if self.mailbox is not None:  # unknowns settled from Sent before anything is claimed
            self.mailbox.start(self.plan.campaign)
        self.run_id = self.ledger.begin_run()
        try:
            if self.workers == 1:
                self._work()
            else:
                threads = [
                    threading.Thread(target=self._work, name=f"docmail-send-{n}", daemon=True)
                    for n in range(self.workers)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        finally:
            self.ledger.end_run(self.run_id)
            if self.mailbox is not None:
                self.report.notes.extend(self.mailbox.finish().notes())
        self.report.results.extend(self.results[i] for i in sorted(self.results))
        planned = [doc for draft in self.plan.drafts for doc in draft.documents]
        if planned:
            made, before = self.documents_made, len(planned) - self.documents_made
            self.report.notes.append(
                f"Documents in {planned[0].path.parent}: {made} made now"
                + (f", {before} as made before (the ledger has them)." if before else ".")
            )
        if self.capped:
            left = sum(1 for r in self.report.results if r.state == "planned")
            self.report.notes.append(limit_note(self.profile, left, *self.capped_at))
        if self.errors:
            raise self.errors[0]

    def _finish(self, index: int, result: MessageResult) -> None:
        with self.lock:
            self.results[index] = result
            self.callback(len(self.results), len(self.plan.drafts), result)

    def _work(self) -> None:
        conn: Session | None = None
        try:
            while True:
                try:
                    index, draft = self.todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    result, conn = self._one(draft, conn)
                except BaseException as exc:
                    self.stop.set()
                    with self.lock:
                        self.errors.append(exc)
                    result = _result(draft, "planned", error=f"Not sent: {exc}")
                self._finish(index, result)
        finally:
            _close(conn)

    def _left_planned(self, draft: Draft) -> MessageResult | None:
        """The reason this draft is not attempted now, if there is one."""
        if self.stop.is_set():
            fatal = self.report.fatal
            why = f"the batch stopped: {fatal.summary}" if fatal else "the batch stopped"
            return _result(
                draft, "planned", error=f"Not sent: {why}", hint=fatal.hint if fatal else ""
            )
        if self.halt.is_set():
            return _result(
                draft,
                "planned",
                error="Not sent: stopped before this message.",
                hint="Send again to go on; what went is recorded and not sent twice.",
            )
        if self.capped:
            return _result(draft, "planned", error="Not sent: a sending limit is reached.")
        if self.options.limit is not None and self.claimed >= self.options.limit:
            return _result(draft, "planned", error="Not sent: beyond --limit.")
        return None

    def _one(self, draft: Draft, conn: Session | None) -> tuple[MessageResult, Session | None]:
        """Claim, pace, deliver (with retries) and record one message."""
        with self.lock:
            waiting = self._left_planned(draft)
            if waiting is None:
                self.claimed += 1
        if waiting is not None:
            return waiting, conn
        campaign = self.plan.campaign
        try:
            refused = self._documents(draft)
            if refused is None:
                msg, content_hash = draft.build_with_hash(campaign, self.profile.sender)
        except (DocmailError, OSError) as exc:  # e.g. an attachment removed since the check
            with self.lock:
                self.claimed -= 1
            return _unbuildable(draft, exc), conn
        if refused is not None:
            with self.lock:
                self.claimed -= 1
            return refused, conn
        message_id = str(msg["Message-ID"])
        too_many = too_many_recipients(self.profile, len(draft.recipients))
        if too_many:
            with self.lock:
                self.claimed -= 1
            return _result(
                draft,
                "failed",
                message_id=message_id,
                error=f"Message {draft.key!r}: {too_many}",
                hint="Split the recipients over several messages (rows), then send again.",
            ), conn
        limits = self.profile.limits
        claim = self.ledger.claim(
            self.run_id,
            campaign,
            draft.key,
            content_hash=content_hash,
            message_id=message_id,
            rows=draft.rows,
            recipients=draft.recipients,
            account=self.account,
            resend_unknown=self.options.resend_unknown,
            resend_changed=self.options.resend_changed,
            windows=limits.windows(),
        )
        if not claim.ok:
            with self.lock:
                self.claimed -= 1
                if claim.decision == "capped":
                    self.capped = True
                    self.capped_at = (claim.window, claim.free_at)
            entry = self.ledger.get(campaign, draft.key) if claim.decision == "sent" else None
            return _not_claimed(draft, claim.decision, message_id, entry), conn
        if self.limiter is not None:
            self.limiter.acquire()
        return self._deliver(draft, msg, message_id, conn)

    def _documents(self, draft: Draft) -> MessageResult | None:
        """Make the draft's documents that the ledger does not have yet (None: ready)."""
        if not draft.documents:
            return None
        made, refused = prepare_documents(
            draft.documents,
            self.plan.campaign,
            draft.key,
            self.ledger,
            resend_changed=self.options.resend_changed,
        )
        with self.lock:
            self.documents_made += made
        if refused:
            return _result(draft, "changed", error=refused, hint=_CHANGED_HINT)
        return None

    def _connect(self) -> Session:
        """A new connection: a few tries per run at most, one worker at a time (sessions)."""
        if self.report.fatal is not None:
            raise SMTPProblem(self.report.fatal)  # never repeat a login that failed
        try:
            return self.opener.open()
        except SMTPProblem as problem:
            if problem.diagnosis.outcome == "fatal":
                self._stop(problem.diagnosis)  # before the next worker opens
            raise

    def _stop(self, diagnosis: Diagnosis) -> None:
        """Stop the batch for good: no worker starts another message or login."""
        with self.lock:
            if self.report.fatal is None:
                self.report.fatal = diagnosis
        self.stop.set()

    def _deliver(
        self, draft: Draft, msg: Any, message_id: str, conn: Session | None
    ) -> tuple[MessageResult, Session | None]:
        campaign, key, run = self.plan.campaign, draft.key, self.run_id
        envelope_from = draft.sender or self.profile.sender
        attempts = 0
        free_reconnect = True
        data_started = False

        def before_data() -> None:
            nonlocal data_started
            self.ledger.mark_sending(run, campaign, key)
            data_started = True

        while True:
            reused = conn is not None
            try:
                if conn is None:
                    conn = self._connect()
                attempts += 1
                delivery = conn.deliver(msg, envelope_from, draft.recipients, before_data)
            except SMTPProblem as problem:
                diagnosis = problem.diagnosis
                broken = diagnosis.outcome in ("fatal", "unknown") or diagnosis.code in (None, 421)
                if broken:
                    _close(conn)
                    conn = None
                if diagnosis.outcome == "retry":  # not delivered, whether before or after DATA
                    if reused and broken and free_reconnect:
                        free_reconnect = False  # the server closed an idle or reused connection
                        attempts -= 1
                        continue
                    if attempts < self.options.max_attempts and not self.stop.is_set():
                        delay = self.options.retry_delay * 2 ** max(0, attempts - 1)
                        self.sleep(min(delay, self.options.max_retry_delay))
                        continue
                return self._record_problem(
                    draft, message_id, diagnosis, attempts, data_started
                ), conn
            except LedgerError as exc:
                _close(conn)
                return _result(
                    draft, "busy", message_id=message_id, error=exc.message, hint=exc.hint
                ), None
            except BaseException:
                _close(conn)
                if data_started:
                    self.ledger.mark_outcome(
                        run, campaign, key, "unknown", error="Sending stopped unexpectedly."
                    )
                raise
            self.ledger.mark_sent(
                run,
                campaign,
                key,
                accepted=delivery.accepted,
                refused=delivery.refused,
                reply=f"{delivery.code} {delivery.reply}",
                attempts=attempts,
                copy=sent_copy(msg, draft.bcc) if self.profile.appends_to_sent else None,
            )
            if self.mailbox is not None:
                self.mailbox.copy()
            error = hint = ""
            if delivery.refused:
                error = "Refused recipients: " + "; ".join(
                    f"{addr} ({code} {text})" for addr, (code, text) in delivery.refused.items()
                )
                hint = (
                    "The others got the message. Correct these addresses and send to them "
                    "separately (a rerun will not resend this message)."
                )
            return _result(
                draft,
                "sent",
                message_id=message_id,
                reply=f"{delivery.code} {delivery.reply}",
                error=error,
                hint=hint,
                attempts=attempts,
                refused=dict(delivery.refused),
            ), conn

    def _record_problem(
        self,
        draft: Draft,
        message_id: str,
        diagnosis: Diagnosis,
        attempts: int,
        data_started: bool,
    ) -> MessageResult:
        campaign, key, run = self.plan.campaign, draft.key, self.run_id
        reply = f"{diagnosis.code} {diagnosis.reply}".strip() if diagnosis.code else diagnosis.reply
        state: Literal["failed", "deferred", "unknown"]
        if diagnosis.outcome == "unknown" or (data_started and diagnosis.outcome == "fatal"):
            state = "unknown"
        elif diagnosis.outcome == "failed":
            state = "failed"
        elif diagnosis.outcome == "fatal":
            self._stop(diagnosis)
            self.ledger.release(run, campaign, key)
            return _result(
                draft,
                "planned",
                message_id=message_id,
                reply=reply,
                error=f"Not sent: {diagnosis.summary}",
                hint=diagnosis.hint,
                attempts=attempts,
            )
        else:
            state = "deferred"
        self.ledger.mark_outcome(
            run, campaign, key, state, error=diagnosis.summary, reply=reply, attempts=attempts
        )
        return _result(
            draft,
            state,
            message_id=message_id,
            reply=reply,
            error=diagnosis.summary,
            hint=diagnosis.hint,
            attempts=attempts,
        )


def _close(conn: Session | None) -> None:
    if conn is not None:
        conn.close()


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
        problems = [p for p in plan.problems if p.row == row]
        if problems:
            raise InputError(
                f"Row {row} has no message to test: {problems[0].field}: {problems[0].message}",
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
            "Give the profile a From address (--from) or a username that is an address.",
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
    return _result(
        test,
        "sent",
        message_id=str(msg["Message-ID"]),
        reply=f"{delivery.code} {delivery.reply}",
    )
