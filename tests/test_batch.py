"""The batch's rules on the in-memory transport: retries, refusals, drops, stops, exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from helpers import NO_BCC, TEMPLATE, crash_while_sending, write_orders

from docmail_nb import Batch, MemoryTransport
from docmail_nb._run.send import SendOptions
from docmail_nb._store import profiles
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.presets import Limits, Preset
from docmail_nb._store.profiles import Profile, save_profile

ME = "anna@example.ch"
#: the shared template without its Bcc, so a message to one customer has one recipient
PROFILE = Profile("office", host="smtp.example.ch", username=ME)


def make(
    folder: Path,
    count: int,
    transport: MemoryTransport,
    *,
    bad_rows: tuple[int, ...] = (),
    **options: object,
) -> Batch:
    orders = write_orders(folder, count, bad_rows=bad_rows)
    template = folder / "invoices.txt"
    template.write_text(NO_BCC, encoding="utf-8")
    return Batch.from_files(
        orders,
        template,
        documents=folder,
        profile=PROFILE,
        ledger=folder / "ledger.sqlite",
        options=SendOptions(retry_delay=0.0, **options),  # type: ignore[arg-type]
        transport=transport,
    )


def states(batch: Batch) -> dict[str, str]:
    return {result.key: result.state for result in batch.send().results}


def stored_keys(transport: MemoryTransport) -> list[str]:
    return sorted(str(s.msg["Subject"]).removeprefix("Rechnung ") for s in transport.stored)


def test_every_message_once_over_one_session_then_nothing_is_pending(tmp_path: Path) -> None:
    transport = MemoryTransport()
    batch = make(tmp_path, 5, transport)
    assert len(batch.pending().drafts) == 5
    assert set(states(batch).values()) == {"sent"}
    assert transport.sessions == 1
    assert stored_keys(transport) == [f"R-{1000 + n}" for n in range(5)]
    again = make(tmp_path, 5, transport)
    assert again.pending().drafts == []
    assert not again.pending().ask
    assert set(states(again).values()) == {"skipped"}
    assert len(transport.stored) == 5


def test_a_4xx_recipient_is_retried_and_then_sent(tmp_path: Path) -> None:
    transport = MemoryTransport({"kunde1@example.org": [(451, "4.3.0 try later"), "accept"]})
    report = make(tmp_path, 2, transport).send()
    second = report.results[1]
    assert (second.state, second.attempts) == ("sent", 2)
    assert stored_keys(transport) == ["R-1000", "R-1001"]


def test_a_4xx_that_lasts_is_deferred_and_tried_again_next_run(tmp_path: Path) -> None:
    transport = MemoryTransport({"kunde1@example.org": (450, "4.2.1 mailbox busy")})
    second = make(tmp_path, 2, transport, max_attempts=2).send().results[1]
    assert (second.state, second.attempts) == ("deferred", 2)
    assert stored_keys(transport) == ["R-1000"]
    later = MemoryTransport()
    assert states(make(tmp_path, 2, later)) == {"R-1000": "skipped", "R-1001": "sent"}


def test_a_5xx_for_the_only_recipient_fails_one_for_a_cc_is_reported_as_refused(
    tmp_path: Path,
) -> None:
    transport = MemoryTransport(
        {
            "kunde1@example.org": (550, "5.1.1 no such user"),
            "treuhand0@example.net": (550, "5.1.1 no such user"),
        }
    )
    report = make(tmp_path, 2, transport).send()
    first, second = report.results
    assert first.state == "sent"
    assert first.refused == {"treuhand0@example.net": (550, "5.1.1 no such user")}
    assert first.trouble
    assert "treuhand0@example.net" in str(first)
    assert (second.state, second.attempts) == ("failed", 1)
    assert "5.1.1" in second.reply
    assert stored_keys(transport) == ["R-1000"]
    assert not report.ok


def test_a_drop_after_data_is_unknown_and_never_resent_unless_asked(tmp_path: Path) -> None:
    transport = MemoryTransport({"kunde1@example.org": "drop"})
    assert states(make(tmp_path, 3, transport)) == {
        "R-1000": "sent",
        "R-1001": "unknown",
        "R-1002": "sent",
    }
    assert transport.sessions == 2  # the batch opened a new session after the drop
    assert stored_keys(transport) == ["R-1000", "R-1001", "R-1002"]

    again = make(tmp_path, 3, MemoryTransport())
    assert again.pending().drafts == []
    assert states(again)["R-1001"] == "unknown"

    resend = make(tmp_path, 3, transport := MemoryTransport(), resend_unknown=True)
    assert [d.key for d in resend.pending().drafts] == ["R-1001"]
    assert states(resend)["R-1001"] == "sent"
    assert stored_keys(transport) == ["R-1001"]


def test_a_refused_login_stops_the_batch_and_sends_nothing(tmp_path: Path) -> None:
    transport = MemoryTransport(login=(535, "5.7.8 Username and Password not accepted"))
    report = make(tmp_path, 4, transport, connections=3).send()
    assert report.fatal is not None
    assert report.fatal.kind == "auth_failed"
    assert {r.state for r in report.results} == {"planned"}
    assert transport.sessions == 1  # one failed login, never repeated by the other workers
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert {entry.state for entry in ledger.entries()} <= {"planned"}
    assert make(tmp_path, 4, MemoryTransport()).pending().drafts != []


def test_problem_rows_are_left_out_and_all_or_nothing_sends_nothing(tmp_path: Path) -> None:
    transport = MemoryTransport()
    strict = make(tmp_path, 4, transport, bad_rows=(3,), all_or_nothing=True)
    assert [p.label for p in strict.plan.problems] == ["Row 3 (R-1001)"]
    assert strict.pending().drafts == []
    assert {r.state for r in strict.send().results} == {"planned"}
    assert transport.stored == []

    batch = make(tmp_path, 4, transport, bad_rows=(3,))
    waiting = batch.pending()
    assert len(waiting.drafts) == 3
    assert "(1 row(s) with problems are left out.)" in waiting.question
    report = batch.send()
    assert [r.key for r in report.results] == ["R-1000", "R-1002", "R-1003"]
    failed = batch.failed_rows(report)
    assert list(failed["row"]) == [3]
    assert "To:" in failed["error"][0]


def test_changed_content_is_reported_not_resent_unless_asked(tmp_path: Path) -> None:
    make(tmp_path, 2, MemoryTransport()).send()
    (tmp_path / "invoices.txt").write_text(NO_BCC.replace("Guten Tag", "Hallo"), "utf-8")
    transport = MemoryTransport()
    changed = Batch.from_files(
        tmp_path / "orders.csv",
        tmp_path / "invoices.txt",
        documents=tmp_path,
        profile=PROFILE,
        ledger=tmp_path / "ledger.sqlite",
        transport=transport,
    )
    assert changed.pending().drafts == []
    assert set(states(changed).values()) == {"changed"}
    assert transport.stored == []


def test_limit_counts_the_same_in_pending_dry_run_and_send(tmp_path: Path) -> None:
    transport = MemoryTransport()
    batch = make(tmp_path, 5, transport, limit=2)
    assert len(batch.pending().drafts) == 2
    batch.options.dry_run = True
    dry = batch.send()
    assert [r.state for r in dry.results].count("dry-run") == 2
    assert not batch.pending().ask
    batch.options.dry_run = False
    assert [r.state for r in batch.send().results].count("sent") == 2
    assert len(transport.stored) == 2


@pytest.mark.parametrize("resend_unknown", [False, True])
def test_a_message_left_sending_by_a_dead_run_counts_the_same_everywhere(
    tmp_path: Path, resend_unknown: bool
) -> None:
    crash_while_sending(tmp_path / "ledger.sqlite", "invoices", "R-1001")
    transport = MemoryTransport()
    batch = make(tmp_path, 3, transport, resend_unknown=resend_unknown)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        decided = ledger.decide("invoices", "R-1001", lambda: "", resend_unknown=resend_unknown)
        assert ledger.get("invoices", "R-1001").state == "sending"  # type: ignore[union-attr]
    expected = "claimed" if resend_unknown else "unknown"
    assert decided == expected
    pending = [d.key for d in batch.pending().drafts]
    batch.options.dry_run = True
    dry = {r.key: r.state for r in batch.send().results}
    batch.options.dry_run = False
    real = states(batch)
    if resend_unknown:
        assert pending == ["R-1000", "R-1001", "R-1002"]
        assert dry["R-1001"] == "dry-run"
        assert real["R-1001"] == "sent"
    else:
        assert pending == ["R-1000", "R-1002"]
        assert dry["R-1001"] == real["R-1001"] == "unknown"
        assert "R-1001" not in stored_keys(transport)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert ledger.get("invoices", "R-1001").state == (  # type: ignore[union-attr]
            "sent" if resend_unknown else "unknown"
        )


def test_stop_ends_the_run_and_the_outbox_lists_what_went(tmp_path: Path) -> None:
    transport = MemoryTransport()
    batch = make(tmp_path, 3, transport)
    assert [e.state for e in batch.outbox()] == ["ready", "ready", "ready"]
    stop = threading.Event()

    def stop_after_the_first(done: int, _total: int, _result: object) -> None:
        stop.set()

    report = batch.send(stop_after_the_first, stop=stop)
    assert [r.state for r in report.results] == ["sent", "planned", "planned"]
    assert stored_keys(transport) == ["R-1000"]
    assert [e.state for e in batch.outbox()] == ["sent", "ready", "ready"]


def test_a_misspelt_setting_is_refused_not_ignored(tmp_path: Path) -> None:
    orders = write_orders(tmp_path, 1)
    template = tmp_path / "invoice.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    settings = {"documnets": str(tmp_path)}
    with pytest.raises(TypeError, match="documnets"):
        Batch.from_files(orders, template, **settings)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="documnets"):
        Batch.from_text(orders, TEMPLATE, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("given", ["profile", "name"])
def test_recipients_per_message_are_checked_for_a_profile_given_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    limits = Limits(recipients_per_message=1)
    monkeypatch.setitem(profiles.PRESETS, "one", Preset("one", "One", "", 587, "starttls", limits))
    profile = Profile("office", host="smtp.example.ch", username=ME, preset="one")
    save_profile(profile)
    orders = write_orders(tmp_path, 2)
    template = tmp_path / "invoices.txt"
    template.write_text(TEMPLATE, encoding="utf-8")  # To and Bcc: two recipients each
    batch = Batch.from_files(
        orders, template, profile=profile if given == "profile" else "office", ledger=tmp_path / "l"
    )
    assert batch.plan.drafts == []
    assert [(p.row, p.field) for p in batch.plan.problems] == [(2, "To"), (3, "To")]
    assert batch.profile == profile
