"""The worker pool of one real run: K workers share a queue of drafts and the run's limits.

Each worker reuses one session (reconnecting when the server closes it) and, per message:
makes its documents, builds it, claims it in the ledger, waits for the rate limit, hands it
over (retrying temporary trouble) and records what happened. A "fatal" diagnosis (wrong
password, TLS, configuration) stops every worker at once; the rest stay planned.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from docmail_nb._compose.message import Draft
from docmail_nb._compose.plan import Plan
from docmail_nb._documents.planned import PlannedDocument, needs_drawing, prepare_documents
from docmail_nb._mail.sessions import SessionOpener
from docmail_nb._mail.smtp import Delivery
from docmail_nb._mail.transport import Session, Transport
from docmail_nb._mailbox.imap import sent_copy
from docmail_nb._mailbox.reconcile import MailboxRun
from docmail_nb._run.drawpool import DrawingPool, drawing_jobs
from docmail_nb._run.options import SendOptions
from docmail_nb._run.outcomes import (
    changed_hint,
    draft_result,
    held_back_result,
    unbuildable_result,
)
from docmail_nb._run.pacing import RateLimiter, connections, limit_note, rate, too_many_recipients
from docmail_nb._run.report import MessageResult, Progress, Report
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.profiles import Profile
from docmail_nb.errors import Diagnosis, DocmailError, LedgerError, SMTPProblem
from docmail_nb.words import setting

__all__ = ["WorkerPool"]


@dataclass
class _Tries:
    """How delivering one message is going: attempts so far, and whether DATA began."""

    count: int = 0
    free_reconnect: bool = True  # one reconnect that is not counted as an attempt
    data_started: bool = False


class WorkerPool:
    """One real run of ``send_plan``: a queue of drafts, K workers, shared limits."""

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
        self.ledger = ledger
        self.options = options
        self.report = report
        self.callback = callback
        self.sleep = sleep
        self.account = profile.account
        per_minute = rate(options.rate_per_minute, profile)
        # the window's size and length; counted in the ledger, for the mailbox (every run and
        # every sender of the ledger), not in this process
        self.limiter = RateLimiter(per_minute, clock=clock, sleep=sleep) if per_minute else None
        self.workers = min(connections(options.connections, profile), max(1, len(plan.drafts)))
        self.todo: queue.SimpleQueue[tuple[int, Draft]] = queue.SimpleQueue()
        for item in enumerate(plan.drafts):
            self.todo.put(item)
        self.results: dict[int, MessageResult] = {}
        self.lock = threading.Lock()
        self.pacing = threading.Lock()
        self.stop = threading.Event()  # set inside: a fatal problem, no worker goes on
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
        self.documents_ready: set[str] = set()  # keys whose documents were made or found
        self.drawing = DrawingPool((), 1)  # the run's, started by run()

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> None:
        """Send every draft with the workers, then add results and notes to the report."""
        if self.mailbox is not None:  # unknowns settled from Sent before anything is claimed
            self.mailbox.start(self.plan.campaign)
        self.run_id = self.ledger.begin_run()
        try:
            self.drawing = self._drawing_pool()
            self._run_workers()
        finally:
            self.drawing.close()
            self.ledger.end_run(self.run_id)
            if self.mailbox is not None:
                self.report.notes.extend(self.mailbox.finish().notes())
        self.report.results.extend(self.results[i] for i in sorted(self.results))
        self._add_notes()
        if self.errors:
            raise self.errors[0]

    def _drawing_pool(self) -> DrawingPool:
        """The processes that draw the run's documents ahead, in the order of sending."""
        campaign, resend = self.plan.campaign, self.options.resend_changed
        order = [
            (draft.key, document) for draft in self.plan.drafts for document in draft.documents
        ]
        keys = {document.path: key for key, document in order}

        def wanted(document: PlannedDocument) -> bool:
            """Drawn ahead when this run holds its message (not another sender) and the
            ledger does not have it already."""
            key = keys[document.path]
            return self.ledger.reserve(self.run_id, campaign, key) and needs_drawing(
                document, campaign, key, self.ledger, resend
            )

        return DrawingPool(
            [document for _, document in order],
            drawing_jobs(self.options.jobs) if order else 1,
            wanted=wanted,
        )

    def _run_workers(self) -> None:
        if self.workers == 1:
            self._work()
            return
        threads = [
            threading.Thread(target=self._work, name=f"docmail-send-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _add_notes(self) -> None:
        """The report's notes on documents made and on a sending limit reached."""
        planned = [doc for draft in self.plan.drafts for doc in draft.documents]
        if planned:
            skipped = {i for i, result in self.results.items() if result.state == "skipped"}
            ready = sum(
                len(draft.documents)
                for i, draft in enumerate(self.plan.drafts)
                if draft.key in self.documents_ready or i in skipped
            )
            made = self.documents_made
            before, never = ready - made, len(planned) - ready
            parts = [f"{made} made now"]
            if before:
                parts.append(f"{before} as made before (the ledger has them)")
            if never:
                parts.append(f"{never} not made (their messages were not reached)")
            self.report.notes.append(f"Documents in {planned[0].path.parent}: {', '.join(parts)}.")
        if self.capped:
            left = sum(1 for r in self.report.results if r.state == "planned")
            self.report.notes.append(limit_note(self.profile, left, *self.capped_at))

    def _work(self) -> None:
        """One worker: take drafts from the queue until it is empty, on one session."""
        session: Session | None = None
        try:
            while True:
                try:
                    index, draft = self.todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    result, session = self._send_one(draft, session)
                except BaseException as exc:
                    self.stop.set()
                    with self.lock:
                        self.errors.append(exc)
                    result = draft_result(draft, "planned", error=f"Not sent: {exc}")
                self._record_result(index, result)
        finally:
            _close(session)

    def _record_result(self, index: int, result: MessageResult) -> None:
        with self.lock:
            self.results[index] = result
            self.callback(len(self.results), len(self.plan.drafts), result)

    # -- one message --------------------------------------------------------------------------
    def _send_one(
        self, draft: Draft, session: Session | None
    ) -> tuple[MessageResult, Session | None]:
        """Claim, pace, deliver (with retries) and record one message."""
        with self.lock:
            not_now = self._reason_not_attempted(draft)
            if not_now is None:
                self.claimed += 1
        if not_now is not None:
            return not_now, session
        if not self.ledger.reserve(self.run_id, self.plan.campaign, draft.key):
            self._unclaim()  # another sender holds it: nothing drawn or built for it here
            return held_back_result(draft, "busy", ""), session
        built = self._build(draft)
        if isinstance(built, MessageResult):
            self._unclaim()
            self.ledger.unreserve(self.run_id, self.plan.campaign, draft.key)
            return built, session
        msg, content_hash = built
        message_id = self._new_id_after_bounce(draft, msg, content_hash)
        held_back = self._claim(draft, content_hash, message_id)
        if held_back is not None:
            return held_back, session
        self._pace(draft)
        return self._deliver(draft, msg, message_id, session)

    def _pace(self, draft: Draft) -> None:
        """Wait for a place in the mailbox's per-minute window (shared through the ledger)."""
        if self.limiter is None:
            return
        capacity, window = self.limiter.capacity, self.limiter.window
        while True:
            with self.pacing:  # this run's connections ask one after the other
                wait = self.ledger.pace(
                    self.run_id, self.plan.campaign, draft.key, self.account, capacity, window
                )
                if wait <= 0:
                    return
                self.sleep(wait)

    def _reason_not_attempted(self, draft: Draft) -> MessageResult | None:
        """Why this draft is not attempted now (stopped, halted, capped, --limit), if so."""
        if self.stop.is_set():
            fatal = self.report.fatal
            why = f"the batch stopped: {fatal.summary}" if fatal else "the batch stopped"
            return draft_result(
                draft, "planned", error=f"Not sent: {why}", hint=fatal.hint if fatal else ""
            )
        if self.halt.is_set():
            return draft_result(
                draft,
                "planned",
                error="Not sent: stopped before this message.",
                hint="Send again to go on; what went is recorded and not sent twice.",
            )
        if self.capped:
            return draft_result(draft, "planned", error="Not sent: a sending limit is reached.")
        if self.options.limit is not None and self.claimed >= self.options.limit:
            return draft_result(draft, "planned", error=f"Not sent: beyond {setting('limit')}.")
        return None

    def _unclaim(self) -> None:
        """A message counted toward --limit was not attempted after all."""
        with self.lock:
            self.claimed -= 1

    def _build(self, draft: Draft) -> tuple[EmailMessage, str] | MessageResult:
        """The message and its content hash, or the result that says why it cannot go."""
        try:
            refused = self._documents(draft)
            if refused is not None:
                return refused
            msg, content_hash = draft.build_with_hash(self.plan.campaign, self.profile.sender)
        except (DocmailError, OSError) as exc:  # e.g. an attachment removed since the check
            return unbuildable_result(draft, exc)
        too_many = too_many_recipients(self.profile, len(draft.recipients))
        if too_many:
            return draft_result(
                draft,
                "failed",
                message_id=str(msg["Message-ID"]),
                error=f"Message {draft.key!r}: {too_many}",
                hint="Split the recipients over several messages (rows), then send again.",
            )
        return msg, content_hash

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
            draw=self.drawing.draw,
        )
        with self.lock:
            self.documents_made += made
            self.documents_ready.add(draft.key)
        if refused:
            return draft_result(draft, "changed", error=refused, hint=changed_hint())
        return None

    def _new_id_after_bounce(self, draft: Draft, msg: EmailMessage, content_hash: str) -> str:
        """The message's Message-ID: a new one when the same message bounced before (sent
        again as it was, --resend-bounced), so a report about either is told apart."""
        message_id = str(msg["Message-ID"])
        before = self.ledger.get(self.plan.campaign, draft.key)
        if before is not None and before.state == "bounced" and before.message_id == message_id:
            message_id = draft.resend_id(
                self.plan.campaign, self.profile.sender, content_hash, before.message_id
            )
            msg.replace_header("Message-ID", message_id)
        return message_id

    def _claim(self, draft: Draft, content_hash: str, message_id: str) -> MessageResult | None:
        """Claim the message in the ledger; the result that holds it back, if any."""
        claim = self.ledger.claim(
            self.run_id,
            self.plan.campaign,
            draft.key,
            content_hash=content_hash,
            message_id=message_id,
            rows=draft.rows,
            recipients=draft.recipients,
            account=self.account,
            resend_unknown=self.options.resend_unknown,
            resend_changed=self.options.resend_changed,
            resend_bounced=self.options.resend_bounced,
            windows=self.profile.limits.windows(),
        )
        if claim.ok:
            if draft.payment is not None:  # what a payment is matched by, kept with the message
                self.ledger.record_reference(
                    self.plan.campaign,
                    draft.key,
                    reference=draft.payment.reference,
                    kind=draft.payment.kind,
                    amount=draft.payment.amount,
                    currency=draft.payment.currency,
                )
            return None
        with self.lock:
            self.claimed -= 1
            if claim.decision == "capped":
                self.capped = True
                self.capped_at = (claim.window, claim.free_at)
        return held_back_result(
            draft, claim.decision, message_id, claim.found_in_sent, claim.bounce
        )

    # -- the wire ---------------------------------------------------------------------------
    def _connect(self) -> Session:
        """A new connection: a few tries per run at most, one worker at a time (sessions).

        Under a provider's cap on connections per mailbox, the connection first takes one of
        its places in the ledger (shared by every sender of the ledger), waiting for one.
        """
        if self.report.fatal is not None:
            raise SMTPProblem(self.report.fatal)  # never repeat a login that failed
        counted = self._connection_place()
        try:
            session = self.opener.open()
        except SMTPProblem as problem:
            if counted:
                self.ledger.release_connection(self.run_id, self.account)
            if problem.diagnosis.outcome == "fatal":
                self._stop(problem.diagnosis)  # before the next worker opens
            raise
        except BaseException:
            if counted:
                self.ledger.release_connection(self.run_id, self.account)
            raise
        if not counted:
            return session
        return _PlaceHeld(
            session, lambda: self.ledger.release_connection(self.run_id, self.account)
        )

    def _connection_place(self) -> bool:
        """Wait for a place under the mailbox's connection cap (False: the profile has none)."""
        cap = self.profile.limits.max_connections
        if not cap:
            return False
        while not self.ledger.take_connection(self.run_id, self.account, cap):
            self.sleep(1.0)  # other senders of the ledger hold every place right now
        return True

    def _stop(self, diagnosis: Diagnosis) -> None:
        """Stop the batch for good: no worker starts another message or login."""
        with self.lock:
            if self.report.fatal is None:
                self.report.fatal = diagnosis
        self.stop.set()

    def _deliver(
        self, draft: Draft, msg: EmailMessage, message_id: str, session: Session | None
    ) -> tuple[MessageResult, Session | None]:
        """Hand the claimed message over, trying again on temporary trouble; record it."""
        campaign, key, run = self.plan.campaign, draft.key, self.run_id
        envelope_from = draft.sender or self.profile.sender
        tries = _Tries()

        def before_data() -> None:
            self.ledger.mark_sending(run, campaign, key)
            tries.data_started = True

        while True:
            reused = session is not None
            try:
                if session is None:
                    session = self._connect()
                tries.count += 1
                delivery = session.deliver(msg, envelope_from, draft.recipients, before_data)
            except SMTPProblem as problem:
                diagnosis = problem.diagnosis
                broken = _breaks_session(diagnosis)
                if broken:
                    _close(session)
                    session = None
                if self._try_again(diagnosis, tries, lost_reused=reused and broken):
                    continue
                return self._record_problem(draft, message_id, diagnosis, tries), session
            except LedgerError as exc:
                _close(session)
                return draft_result(
                    draft, "busy", message_id=message_id, error=exc.message, hint=exc.hint
                ), None
            except BaseException:
                _close(session)
                if tries.data_started:
                    self.ledger.mark_outcome(
                        run, campaign, key, "unknown", error="Sending stopped unexpectedly."
                    )
                raise
            return self._record_sent(draft, msg, message_id, delivery, tries.count), session

    def _try_again(self, diagnosis: Diagnosis, tries: _Tries, *, lost_reused: bool) -> bool:
        """Whether to deliver again after ``diagnosis`` (after the backoff's pause)."""
        if diagnosis.outcome != "retry":  # retry: not delivered, whether before or after DATA
            return False
        if lost_reused and tries.free_reconnect:
            tries.free_reconnect = False  # the server closed an idle or reused connection
            tries.count -= 1
            return True
        if tries.count < self.options.max_attempts and not self.stop.is_set():
            delay = self.options.retry_delay * 2 ** max(0, tries.count - 1)
            self.sleep(min(delay, self.options.max_retry_delay))
            return True
        return False

    def _record_attached(self, draft: Draft, msg: EmailMessage) -> None:
        """Keep the sha256 of each file attached as sent (a reminder attaches it again, checked
        by it); documents made from a template are recorded when they are made."""
        made = {document.name for document in draft.documents}
        files = {item.filename: item for item in draft.attachments if item.filename not in made}
        for part in msg.iter_attachments():
            item = files.get(part.get_filename() or "")
            data = part.get_payload(decode=True)
            if item is None or not isinstance(data, bytes):
                continue
            self.ledger.record_document(
                self.plan.campaign,
                draft.key,
                item.filename,
                path=str(item.path),
                sha256=hashlib.sha256(data).hexdigest(),
                fingerprint="attached",
            )

    def _record_sent(
        self, draft: Draft, msg: EmailMessage, message_id: str, delivery: Delivery, attempts: int
    ) -> MessageResult:
        """Record the server's acceptance in the ledger (and the copy for Sent)."""
        self.ledger.mark_sent(
            self.run_id,
            self.plan.campaign,
            draft.key,
            accepted=delivery.accepted,
            refused=delivery.refused,
            reply=f"{delivery.code} {delivery.reply}",
            attempts=attempts,
            copy=sent_copy(msg, draft.bcc) if self.profile.appends_to_sent else None,
        )
        self._record_attached(draft, msg)
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
        return draft_result(
            draft,
            "sent",
            message_id=message_id,
            reply=f"{delivery.code} {delivery.reply}",
            error=error,
            hint=hint,
            attempts=attempts,
            refused=dict(delivery.refused),
        )

    def _record_problem(
        self, draft: Draft, message_id: str, diagnosis: Diagnosis, tries: _Tries
    ) -> MessageResult:
        """Record a message that was not (or may not have been) delivered."""
        campaign, key, run = self.plan.campaign, draft.key, self.run_id
        reply = f"{diagnosis.code} {diagnosis.reply}".strip() if diagnosis.code else diagnosis.reply
        state: Literal["failed", "deferred", "unknown"]
        if diagnosis.outcome == "unknown" or (tries.data_started and diagnosis.outcome == "fatal"):
            state = "unknown"
        elif diagnosis.outcome == "failed":
            state = "failed"
        elif diagnosis.outcome == "fatal":
            self._stop(diagnosis)
            self.ledger.release(run, campaign, key)
            return draft_result(
                draft,
                "planned",
                message_id=message_id,
                reply=reply,
                error=f"Not sent: {diagnosis.summary}",
                hint=diagnosis.hint,
                attempts=tries.count,
            )
        else:
            state = "deferred"
        self.ledger.mark_outcome(
            run, campaign, key, state, error=diagnosis.summary, reply=reply, attempts=tries.count
        )
        return draft_result(
            draft,
            state,
            message_id=message_id,
            reply=reply,
            error=diagnosis.summary,
            hint=diagnosis.hint,
            attempts=tries.count,
        )


def _breaks_session(diagnosis: Diagnosis) -> bool:
    """Whether the session is unusable after ``diagnosis`` (closed, or in an unknown state)."""
    return diagnosis.outcome in ("fatal", "unknown") or diagnosis.code in (None, 421)


class _PlaceHeld:
    """A session that holds one of the mailbox's connection places until it is closed."""

    def __init__(self, session: Session, release: Callable[[], None]) -> None:
        self._session = session
        self._release = release

    def deliver(
        self,
        msg: EmailMessage,
        envelope_from: str,
        recipients: Sequence[str],
        before_data: Callable[[], None] | None = None,
    ) -> Delivery:
        return self._session.deliver(msg, envelope_from, recipients, before_data)

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            with contextlib.suppress(LedgerError):  # the run's end gives it back anyway
                self._release()


def _close(session: Session | None) -> None:
    if session is not None:
        session.close()
