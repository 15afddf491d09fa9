"""The send panel: orders as a table of messages, a preview as a mail program shows it, Send
with a Stop that is heard, and an honest account of every run.

A face over :class:`~docmail_nb.batch.Batch`, like the CLI and the scheduled notebook: the
batch checks the rows, lists the messages, previews, counts what would be sent, sends and
tests; the panel decides nothing of its own. Sending runs in a thread beside the kernel, so the
panel stays live while it runs: the Stop button ends the run after the message being sent,
and a Kernel → Interrupt does not cut a message in half.

Here: the files, the check, sending and its account; the widgets are built in ``controls``,
the table of messages and the preview are ``table``'s.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from docmail_nb import (
    Ledger,
    MessageResult,
    Plan,
    Profile,
    Report,
    SendOptions,
    Transport,
    load_profile,
    sheet_names,
)
from docmail_nb._panelkit import (
    BOUNCED_RISK,
    CHANGED_RISK,
    LINE,
    UNKNOWN_RISK,
    download_link,
    error_line,
    note_line,
    problem_line,
    recall,
    remember,
    success_line,
)
from docmail_nb.batch import Batch, count_states, join_reasons, keep_upload, progress_text, rate
from docmail_nb.errors import DocmailError
from docmail_nb.sendpanel.table import MessageTable
from docmail_nb.words import STATE_WORDS, speak_as

__all__ = ["SendPanel"]


class SendPanel(MessageTable):
    """Choose orders, sheet, template and documents; see every message; preview, test, send.

    With no arguments it uses the files chosen last time (else the sample data). ``profile``
    is a Profile (e.g. the capture server's) or a saved profile's name; ``ledger`` the ledger
    file (None: the default one); ``transport`` how messages leave (default: SMTP through the
    profile), as for :class:`~docmail_nb.batch.Batch`. Sending runs beside the kernel, so
    **Stop** is heard: it ends the run after the message being sent; :meth:`wait` waits for a
    run to end.
    """

    def __init__(
        self,
        orders: str | Path | None = None,
        template: str | Path | None = None,
        documents: str | Path | None = None,
        *,
        sheet: str | None = None,
        profile: Profile | str | None = None,
        ledger: Ledger | str | Path | None = None,
        transport: Transport | None = None,
    ) -> None:
        speak_as("panel")  # hints name the panel's buttons and fields, not command-line options
        remembered = recall("send") if orders is None and template is None else {}
        self.ledger = ledger
        self.transport = transport
        self.batch = None
        self.report: Report | None = None
        self.entries = []
        self._profile = profile
        self._loading = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._positions = None
        self._last_table_refresh = 0.0
        self._build_inputs(orders, template, documents, remembered)
        self._build_table()
        self._build_sending()
        self._wire_events()
        self.widget = self._layout()
        self._load_sheets(sheet or remembered.get("sheet"))
        self._load_template_file()
        self.check()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _wire_events(self) -> None:
        self.orders_path.observe(self._on_orders_path)
        self.upload.observe(self._on_upload, names="value")
        self.sheet.observe(self._unless_loading(self.check), names="value")
        self.template_path.observe(self._on_template_path)
        self.template_text.observe(self._unless_loading(self.check), names="value")
        self.documents.observe(lambda: self._unless_loading(self.check)({}))
        self.check_button.on_click(lambda _b: self.check())
        for control in (self.show, self.columns):
            control.observe(self._unless_loading(self._fill_table), names="value")
        self.grid.observe(self._unless_loading(self._show_preview), names="selected")
        self.previous_button.on_click(lambda _b: self._step(-1))
        self.next_button.on_click(lambda _b: self._step(1))
        self.raw_toggle.observe(self._on_raw, names="value")
        self.test_button.on_click(self._on_test)
        self.send_button.on_click(self._on_send)
        self.stop_button.on_click(self._on_stop)
        self.yes_button.on_click(self._on_yes)
        self.cancel_button.on_click(self._on_cancel)
        self.resend_unknown_button.on_click(lambda _b: self._offer(resend_unknown=True))
        self.resend_changed_button.on_click(lambda _b: self._offer(resend_changed=True))
        self.resend_bounced_button.on_click(lambda _b: self._offer(resend_bounced=True))
        self.save_failed_button.on_click(self._on_save_failed)

    # -- inputs ---------------------------------------------------------------------------

    def profile(self) -> Profile:
        """The profile messages go through (a saved profile is read on each use)."""
        if isinstance(self._profile, Profile):
            return self._profile
        return load_profile(self._profile)

    def _load_sheets(self, wanted: str | None = None) -> None:
        self._loading = True
        try:
            path = Path(self.orders_path.value).expanduser()
            names = sheet_names(path) if path.suffix.lower() not in (".csv", ".txt") else []
            self.sheet.options = names
            self.sheet.value = wanted if wanted in names else (names[0] if names else None)
            self.sheet.disabled = not names
        except DocmailError as exc:
            self.sheet.options = []
            self.summary.value = problem_line(exc)
        finally:
            self._loading = False

    def _load_template_file(self) -> None:
        path = Path(self.template_path.value).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.summary.value = error_line(
                f"The template file {path} cannot be read ({type(exc).__name__}).",
                "Give the path of a template file (a .txt with header lines, a blank line, "
                "the body).",
            )
            return
        self._loading = True
        self.template_text.value = text
        self._loading = False

    def _on_orders_path(self) -> None:
        self._load_sheets()
        self.check()

    def _on_template_path(self) -> None:
        self._load_template_file()
        self.check()

    def _unless_loading(self, action: Callable[[], object]) -> Callable[[dict[str, Any]], None]:
        """A reaction to a changed value, skipped while the panel fills its own fields."""

        def react(_change: dict[str, Any]) -> None:
            if not self._loading:
                action()

        return react

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        target = keep_upload(str(item["name"]), bytes(item["content"]))
        self.upload.value = ()  # keep the file's bytes out of the saved widget state
        self.orders_path.value = str(target)

    # -- check ----------------------------------------------------------------------------

    def check(self) -> Plan | None:
        """Read the orders and the template, check every row, list every message."""
        if self.sending:
            self.status.value = note_line("A run is going on: press Stop first to change files.")
            return self.plan
        self.report = None
        for box in (self.confirm_box, self.offer_box, self.failed_box, self.progress_box):
            box.layout.display = "none"
        self.status.value = self.download.value = ""
        try:
            profile = self.profile()
            self.via.value = note_line(
                f"Sending through profile '{profile.name}': {profile.host}:{profile.port} "
                f"as {profile.sender or '(no address yet)'}."
            )
            self.batch = Batch.from_text(  # the same reading and checking as every other face
                self.orders_path.value,
                self.template_text.value,
                template_path=self.template_path.value or None,
                documents=self.documents.value or None,
                sheet=self.sheet.value or None,
                profile=profile,
                ledger=self.ledger,
                transport=self.transport,
            )
            self.entries = self.batch.outbox()
            self._positions = None  # the sheet may have changed
        except DocmailError as exc:
            self.batch = None
            self.entries = []
            self.summary.value = problem_line(exc)
            self._fill_table()
            return None
        remember(
            "send",
            orders=self.orders_path.value,
            sheet=self.sheet.value or "",
            template=self.template_path.value,
            documents=self.documents.value,
        )
        self._set_columns()
        self.summary.value = self._summary_line()
        self._fill_table()
        self._show_offers()
        return self.plan

    def _summary_line(self) -> str:
        plan = self.plan
        assert plan is not None
        template_problems = [p for p in plan.problems if p.row is None]
        if template_problems:
            listed = join_reasons(p.reason for p in template_problems)
            hints = " ".join(dict.fromkeys(p.hint for p in template_problems if p.hint))
            return error_line(f"The template has a problem, so no row can be sent: {listed}", hints)
        counts = count_states(self.entries)
        parts = [f"{n:,} {STATE_WORDS[state]}" for state, n in counts.items()]
        line = f"{len(plan.drafts):,} messages from {plan.total_rows:,} rows: " + ", ".join(parts)
        if counts.get("problem"):
            return error_line(
                line + ".", "Rows with problems are left out; pick one to see what to fix."
            )
        return success_line(line + ".")

    # -- sending --------------------------------------------------------------------------

    @property
    def sending(self) -> bool:
        """Whether a run is going on."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> Report | None:
        """Wait until the current run ends; its report."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.report

    def _picked_row(self) -> int | None:
        index = self.picked
        if index is None:
            return None
        entry = self.entries[index]
        return None if entry.state == "problem" else entry.row

    def _on_test(self, _button: w.Button | None = None) -> None:
        row = self._picked_row()
        if self.batch is None or row is None:
            self.status.value = error_line(
                "There is no message to test yet.", "Pick a message without a problem first."
            )
            return
        try:
            result = self.batch.send_test(row)
        except DocmailError as exc:
            self.status.value = problem_line(exc)
            return
        self.status.value = success_line(
            f"Test message of row {row} ({result.key}) sent to {', '.join(result.to)}."
        )

    def _on_send(self, _button: w.Button | None = None) -> None:
        self._ask(SendOptions())

    def _offer(self, **resend: bool) -> None:
        self._ask(SendOptions(**resend))

    def _ask(self, options: SendOptions) -> None:
        if self.sending:
            return
        if self.check() is None or self.batch is None:
            return
        self.batch.options = options
        try:
            waiting = self.batch.pending()
        except DocmailError as exc:
            self.status.value = problem_line(exc)
            return
        counts = count_states(self.entries)
        if not waiting.ask:
            self.status.value = note_line(
                "Nothing to send: "
                + ", ".join(f"{n:,} {STATE_WORDS[s]}" for s, n in counts.items() if s != "ready")
                + "."
            )
            return
        already = [
            f"{counts[s]:,} {STATE_WORDS[s]}"
            for s in ("sent", "unknown", "changed", "bounced")
            if s in counts
        ]
        text = f"<b>{html.escape(waiting.question)}</b>"
        if already and not (
            options.resend_unknown or options.resend_changed or options.resend_bounced
        ):
            text += note_line("Not sent again: " + ", ".join(already) + ".")
        if options.resend_unknown:
            text += error_line("This sends again the messages whose fate is unknown.", UNKNOWN_RISK)
        if options.resend_changed:
            text += error_line("This sends the changed messages again.", CHANGED_RISK)
        if options.resend_bounced:
            text += error_line("This sends the bounced messages again as they were.", BOUNCED_RISK)
        self.confirm_text.value = text
        self.status.value = ""
        self.offer_box.layout.display = "none"
        self.confirm_box.layout.display = "flex"

    def _on_cancel(self, _button: w.Button | None = None) -> None:
        self.confirm_box.layout.display = "none"
        self.status.value = note_line("Nothing was sent.")
        self._show_offers()

    def _on_yes(self, _button: w.Button | None = None) -> None:
        self.confirm_box.layout.display = "none"
        batch = self.batch
        if batch is None or self.sending:
            return
        try:
            profile = batch.profile
            total = len(batch.pending().drafts)
        except DocmailError as exc:
            self.status.value = problem_line(exc)
            return
        self.progress.max = max(total, 1)
        self.progress.value = 0
        self.progress.bar_style = ""
        self.progress_text.value = note_line(f"0 / {total:,} · connecting to {profile.host} …")
        self.progress_box.layout.display = "flex"
        self.status.value = self.download.value = ""
        self.failed_box.layout.display = "none"
        self.send_button.disabled = self.test_button.disabled = self.check_button.disabled = True
        self.stop_button.disabled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(batch, total), daemon=True,
            name="docmail-panel-send",
        )  # fmt: skip
        self._thread.start()

    def _on_stop(self, _button: w.Button | None = None) -> None:
        if self.sending:
            self._stop.set()
            self.stop_button.disabled = True
            self.progress_text.value += note_line("Stopping after the message being sent …")

    def _run(self, batch: Batch, total: int) -> None:
        started = time.monotonic()
        keys = {entry.key: index for index, entry in enumerate(self.entries)}
        limit = rate(batch.options.rate_per_minute, batch.profile)
        attempted = 0

        def advance(done: int, _total: int, result: MessageResult) -> None:
            nonlocal attempted
            index = keys.get(result.key)
            if index is not None:
                self.entries[index] = self.entries[index].after(result)
            if result.state in ("skipped", "planned"):
                return
            attempted += 1
            self.progress.value = min(attempted, self.progress.max)
            rows = ", ".join(str(r) for r in result.rows)
            self.progress_text.value = note_line(
                progress_text(
                    attempted,
                    total,
                    time.monotonic() - started,
                    limit,
                    f"row {rows} ({result.key}) {result.state}",
                )
            )
            if time.monotonic() - self._last_table_refresh > 1.0:
                self._last_table_refresh = time.monotonic()
                self._fill_table()

        try:
            report = batch.send(advance, stop=self._stop)
        except DocmailError as exc:
            self._after_crash(exc.message, exc.hint)
            return
        except Exception as exc:  # the panel must always say how the run ended
            self._after_crash(
                f"The run ended unexpectedly ({type(exc).__name__}).",
                "The table shows what the ledger knows about each message.",
            )
            return
        finally:
            self.send_button.disabled = self.test_button.disabled = False
            self.check_button.disabled = False
            self.stop_button.disabled = True
        self._after_run(report, stopped=self._stop.is_set())

    def _after_crash(self, message: str, hint: str) -> None:
        if self.batch is not None:
            self.entries = self.batch.outbox()
        self._fill_table()
        if self.batch is not None:
            self.summary.value = self._summary_line()
        self.progress.bar_style = "danger"
        self.status.value = error_line(message, hint) + self._account()
        self._show_offers()

    def _after_run(self, report: Report, *, stopped: bool) -> None:
        self.report = report
        self._fill_table()
        self.summary.value = self._summary_line()  # the counts above the table follow
        ok = report.ok
        self.progress.bar_style = "warning" if stopped else ("success" if ok else "danger")
        head = "Stopped after the message being sent. " if stopped else ""
        hint = ""
        if report.fatal is not None:
            hint = report.fatal.hint
        elif stopped:
            hint = "Press Send to go on: what went is recorded and is not sent again."
        said = head + report.summary()
        line = success_line(said) if ok and not stopped else error_line(said, hint)
        self.status.value = line + self._account()
        self.download.value = download_link(report)
        self.failed_box.layout.display = "none" if ok else "flex"
        self._show_offers()

    def _account(self) -> str:
        """What went, what did not and what is unknown, from the table's states."""
        counts = count_states(self.entries)
        if not counts:
            return ""
        return note_line(
            "Now: " + ", ".join(f"{n:,} {STATE_WORDS[s]}" for s, n in counts.items()) + "."
        )

    def _show_offers(self) -> None:
        counts = count_states(self.entries)
        unknown, changed = counts.get("unknown", 0), counts.get("changed", 0)
        bounced = counts.get("bounced", 0)
        texts = []
        if unknown:
            texts.append(f"<b>{unknown:,} message(s) with an unknown fate</b>: {UNKNOWN_RISK}")
        if changed:
            texts.append(f"<b>{changed:,} message(s) changed since sent</b>: {CHANGED_RISK}")
        if bounced:
            texts.append(f"<b>{bounced:,} message(s) bounced</b>: {BOUNCED_RISK}")
        self.offer_text.value = "".join(f"<div style='{LINE}'>{t}</div>" for t in texts)
        self.resend_unknown_button.description = f"Resend {unknown:,} unknown…"
        self.resend_changed_button.description = f"Resend {changed:,} changed…"
        self.resend_unknown_button.layout.display = "flex" if unknown else "none"
        self.resend_changed_button.layout.display = "flex" if changed else "none"
        self.resend_bounced_button.description = f"Resend {bounced:,} bounced…"
        self.resend_bounced_button.layout.display = "flex" if bounced else "none"
        self.offer_box.layout.display = "flex" if texts else "none"

    def _on_save_failed(self, _button: w.Button | None = None) -> None:
        if self.report is None or self.batch is None:
            return
        try:
            path = self.batch.save_failed_rows(self.report, self.failed_path.value.strip())
        except DocmailError as exc:
            self.status.value = problem_line(exc)
            return
        self.status.value = success_line(
            f"Saved the rows that need attention to {path}."
            if path is not None
            else "No row needs attention: nothing was saved."
        )
