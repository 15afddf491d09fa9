"""The ledger and the mailbox: copies owed to Sent, unknowns settled, limits across runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import FakeClock
from imap_server import PASSWORD, DovecotServer
from mailboxes import imap_profile, invoice

from docmail_nb._mailbox.imap import open_mailbox, sent_copy
from docmail_nb._mailbox.reconcile import append_due, sync_mailbox
from docmail_nb._store.ledger import Ledger
from docmail_nb._store.presets import PRESETS
from docmail_nb._store.profiles import profile_from_preset
from docmail_nb.errors import MailboxError

ACCOUNT = "anna@example.ch@127.0.0.1"


def sent(
    ledger: Ledger,
    run: str,
    key: str,
    *,
    copy: bytes | None = None,
    recipients: tuple[str, ...] = ("kunde@example.org",),
    account: str = ACCOUNT,
    windows: tuple[tuple[float, int | None, int | None], ...] = (),
) -> str:
    """Claim and record one message as sent; returns the claim's decision."""
    decision = ledger.claim(
        run,
        "invoices",
        key,
        content_hash="h",
        message_id=f"<{key}@example.ch>",
        rows=(2,),
        recipients=recipients,
        account=account,
        windows=windows,
    ).decision
    if decision == "claimed":
        ledger.mark_sending(run, "invoices", key)
        ledger.mark_sent(run, "invoices", key, accepted=recipients, copy=copy)
    return decision


def lost_after_data(ledger: Ledger, run: str, key: str) -> None:
    ledger.claim(
        run,
        "invoices",
        key,
        content_hash="h",
        message_id=f"<{key}@example.ch>",
        rows=(3,),
        recipients=("kunde@example.org",),
        account=ACCOUNT,
    )
    ledger.mark_sending(run, "invoices", key)
    ledger.mark_outcome(run, "invoices", key, "unknown", error="Connection lost after DATA.")


def copy_of(key: str) -> bytes:
    msg = invoice()
    msg.replace_header("Message-ID", f"<{key}@example.ch>")
    return sent_copy(msg, ["archiv@example.ch"])


def test_a_version_1_ledger_gains_the_copy_columns(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        run = ledger.begin_run()
        sent(ledger, run, "R-1")
        ledger.end_run(run)
    db = sqlite3.connect(path)  # as an older version wrote it
    db.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    db.execute("CREATE TABLE old AS SELECT campaign, key, state, content_hash, message_id, rows, "
               "account, recipients, accepted, refused, reply, error, attempts, owner_run, "
               "created_at, updated_at, attempted_at, sent_at FROM messages")  # fmt: skip
    db.execute("DROP TABLE messages")
    db.execute("ALTER TABLE old RENAME TO messages")
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        entry = ledger.get("invoices", "R-1")
        assert entry is not None
        assert (entry.state, entry.copy) == ("sent", "")
        run = ledger.begin_run()
        sent(ledger, run, "R-2", copy=b"x")
        assert [e.key for e, _ in ledger.copies_due(ACCOUNT)] == ["R-2"]


def test_copies_are_appended_once_and_a_rerun_appends_nothing(
    dovecot: Callable[..., DovecotServer], ca_file: Path, tmp_path: Path
) -> None:
    server = dovecot()
    profile = imap_profile(server, ca_file)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        sent(ledger, run, "R-1", copy=copy_of("R-1"))
        sent(ledger, run, "R-2", copy=copy_of("R-2"))
        sent(ledger, run, "R-3")  # a profile that does not append: owes nothing
        first = sync_mailbox(profile, ledger, password=PASSWORD)
        assert first.error is None
        assert (first.folder, first.appended, first.still_due) == ("Sent", ["R-1", "R-2"], 0)
        again = sync_mailbox(profile, ledger, password=PASSWORD)
        assert again.appended == []
        entry = ledger.get("invoices", "R-1")
        assert entry is not None
        assert (entry.copy, entry.copy_error) == ("appended", "")
    stored = server.stored("Sent")
    assert sorted(s.message_id for s in stored) == ["<R-1@example.ch>", "<R-2@example.ch>"]
    assert all("S" in s.flags for s in stored)


def test_failed_append_stays_owed_and_the_next_run_appends_it(
    dovecot: Callable[..., DovecotServer], ca_file: Path, tmp_path: Path
) -> None:
    server = dovecot(folders=("Sent", "Drafts"))
    profile = imap_profile(server, ca_file)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        sent(ledger, run, "R-1", copy=copy_of("R-1"))
        # the folder is deleted behind our back
        server.remove_folder("Sent")
        missing = sync_mailbox(profile, ledger, password=PASSWORD)
        assert missing.error is not None
        assert missing.still_due == 1, missing.error
        assert "Sent" in " ".join(missing.notes())
        # the server is gone altogether
        server.stop()
        gone = sync_mailbox(profile, ledger, password=PASSWORD)
        assert gone.error is not None
        assert gone.error.kind == "connection_refused"
        assert gone.still_due == 1
        entry = ledger.get("invoices", "R-1")
        assert entry is not None
        assert (entry.state, entry.copy) == ("sent", "due")  # never sent again
        # the next run, with the mailbox back
        back = dovecot(folders=("Sent",))
        profile = imap_profile(back, ca_file)
        later = sync_mailbox(profile, ledger, password=PASSWORD)
        assert (later.error, later.appended, later.still_due) == (None, ["R-1"], 0)
        assert [s.message_id for s in back.stored("Sent")] == ["<R-1@example.ch>"]


def test_append_refused_for_a_named_folder_records_the_error(
    dovecot: Callable[..., DovecotServer], ca_file: Path, tmp_path: Path
) -> None:
    server = dovecot(folders=("Sent", "Ausgang"), special_use={})
    profile = imap_profile(server, ca_file, sent_folder="Ausgang")
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        sent(ledger, run, "R-1", copy=copy_of("R-1"))
        with open_mailbox(profile, PASSWORD) as mailbox:
            mailbox.sent_folder()  # found, then deleted before the APPEND
            server.remove_folder("Ausgang")
            with pytest.raises(MailboxError) as caught:
                append_due(ledger, mailbox, ACCOUNT)
        assert "Ausgang" in caught.value.message
        entry = ledger.get("invoices", "R-1")
        assert entry is not None
        assert entry.copy == "due"
        assert "Ausgang" in entry.copy_error


def test_reconcile_settles_unknowns_both_ways(
    dovecot: Callable[..., DovecotServer], ca_file: Path, tmp_path: Path
) -> None:
    server = dovecot()
    profile = imap_profile(server, ca_file, copy_to_sent=False)  # the provider files Sent
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        lost_after_data(ledger, run, "R-7")  # the server had it and filed it in Sent
        lost_after_data(ledger, run, "R-8")  # it never arrived
        ledger.end_run(run)
        with open_mailbox(profile, PASSWORD) as mailbox:
            mailbox.append(copy_of("R-7"))
        result = sync_mailbox(profile, ledger, password=PASSWORD, campaign="invoices")
        assert result.error is None
        assert [(s.key, s.found) for s in result.settled] == [("R-7", True), ("R-8", False)]
        assert "1 unknown message(s) found" in " ".join(result.notes())
        found, missing = ledger.get("invoices", "R-7"), ledger.get("invoices", "R-8")
        assert found is not None
        assert missing is not None
        assert (found.state, found.copy) == ("sent", "found")
        assert missing.state == "deferred"
        assert "next run" in missing.error
        # the next run may send R-8 again, and must skip R-7
        run = ledger.begin_run()
        decide = {
            key: ledger.claim(
                run,
                "invoices",
                key,
                content_hash="h",
                message_id=f"<{key}@example.ch>",
                rows=(3,),
                recipients=("kunde@example.org",),
                account=ACCOUNT,
            ).decision
            for key in ("R-7", "R-8")
        }
        assert decide == {"R-7": "sent", "R-8": "claimed"}
        # nothing left to settle
        assert sync_mailbox(profile, ledger, password=PASSWORD).settled == []
    assert len(server.stored("Sent")) == 1  # reconciling appends nothing


def test_reconcile_only_touches_the_campaign_asked_for(
    dovecot: Callable[..., DovecotServer], ca_file: Path, tmp_path: Path
) -> None:
    server = dovecot()
    with Ledger(tmp_path / "l.sqlite") as ledger:
        run = ledger.begin_run()
        lost_after_data(ledger, run, "R-9")
        result = sync_mailbox(
            imap_profile(server, ca_file), ledger, password=PASSWORD, campaign="offers"
        )
        assert result.settled == []
        assert ledger.get("invoices", "R-9").state == "unknown"  # type: ignore[union-attr]


def test_hourly_limit_holds_across_two_runs(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    cyon = profile_from_preset("c", "cyon", username="anna@example.ch")
    windows = tuple(cyon.limits.windows())
    assert windows == ((3600.0, None, 100),)
    with Ledger(tmp_path / "l.sqlite", clock=clock) as ledger:
        first = ledger.begin_run()
        for n in range(60):  # the first run: 60 messages, 1 recipient each
            assert sent(ledger, first, f"A-{n}", account=cyon.account, windows=windows) == (
                "claimed"
            )
            clock.now += 10
        ledger.end_run(first)
        start_of_first = clock.now - 600
        clock.now += 1200  # 30 minutes after the first run began
        second = ledger.begin_run()
        outcomes = [
            sent(
                ledger,
                second,
                f"B-{n}",
                account=cyon.account,
                recipients=("kunde@example.org", "chef@example.org"),
                windows=windows,
            )
            for n in range(25)
        ]
        assert outcomes.count("claimed") == 20  # 60 + 2 × 20 = 100 recipients in the hour
        assert outcomes[20:] == ["capped"] * 5
        capped = ledger.claim(
            second,
            "invoices",
            "B-99",
            content_hash="h",
            message_id="<B-99@example.ch>",
            rows=(2,),
            recipients=("kunde@example.org", "chef@example.org"),
            account=cyon.account,
            windows=windows,
        )
        assert capped.decision == "capped"
        assert capped.window == 3600.0
        # two recipients fit again once the first two messages are an hour old
        assert capped.free_at == start_of_first + 10 + 3600
        ledger.end_run(second)
        clock.now = start_of_first + 3600 + 11
        third = ledger.begin_run()
        assert sent(ledger, third, "B-20", account=cyon.account, windows=windows) == "claimed"


def test_rolling_24_hours_hold_across_runs_and_count_every_recipient(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    infomaniak = profile_from_preset("i", "infomaniak", username="anna@example.ch")
    windows = tuple(infomaniak.limits.windows())
    assert windows == ((86400.0, None, 500),)
    with Ledger(tmp_path / "l.sqlite", clock=clock) as ledger:
        morning = ledger.begin_run()
        many = tuple(f"k{n}@example.org" for n in range(100))
        for n in range(4):  # 4 messages × 100 recipients
            assert sent(ledger, morning, f"M-{n}", recipients=many, account=infomaniak.account,
                        windows=windows) == "claimed"  # fmt: skip
        ledger.end_run(morning)
        clock.now += 20 * 3600  # the same rolling day, another run
        evening = ledger.begin_run()
        assert sent(ledger, evening, "E-1", recipients=many, account=infomaniak.account,
                    windows=windows) == "claimed"  # fmt: skip
        assert sent(ledger, evening, "E-2", account=infomaniak.account, windows=windows) == (
            "capped"
        )
        # another account is counted on its own
        assert sent(ledger, evening, "E-3", account="other@example.ch", windows=windows) == (
            "claimed"
        )
        clock.now += 4 * 3600 + 1  # the first message is 24 hours old: room again
        assert sent(ledger, evening, "E-2", account=infomaniak.account, windows=windows) == (
            "claimed"
        )


def test_presets_switch_copies_off_where_the_provider_files_sent_mail() -> None:
    for key in ("microsoft365", "gmail", "google_workspace"):
        profile = profile_from_preset("p", key, username="anna@example.ch")
        assert PRESETS[key].files_sent
        assert not profile.copy_to_sent
        assert not profile.appends_to_sent
        assert profile.imap_host == ""  # IMAP is opt-in there: reconcile only
    for key in ("infomaniak", "cyon", "hostpoint", "swisscom"):
        profile = profile_from_preset("p", key, username="anna@example.ch")
        assert profile.appends_to_sent, key
        assert profile.imap_host == PRESETS[key].imap_host != ""


def test_docmail_reconcile_settles_and_reports(
    dovecot: Callable[..., DovecotServer], ca_file: Path, tmp_path: Path, memory_keyring: object
) -> None:
    from click.testing import CliRunner

    from docmail_nb._store.profiles import save_profile
    from docmail_nb._store.secrets import set_password
    from docmail_nb.cli import main

    server = dovecot()
    profile = imap_profile(server, ca_file, copy_to_sent=False)  # the provider files Sent
    save_profile(profile)
    set_password(profile.name, PASSWORD)
    ledger_path = tmp_path / "l.sqlite"
    with Ledger(ledger_path) as ledger:
        run = ledger.begin_run()
        lost_after_data(ledger, run, "R-7")
        lost_after_data(ledger, run, "R-8")
        ledger.end_run(run)
    with open_mailbox(profile, PASSWORD) as mailbox:
        mailbox.append(copy_of("R-7"))
    args = ["reconcile", "--profile", "box", "--ledger", str(ledger_path)]
    result = CliRunner().invoke(main, [*args, "--campaign", "invoices"])
    assert result.exit_code == 0, result.output
    assert "invoices/R-7: found in Sent, recorded as sent" in result.output
    assert "invoices/R-8: not in Sent, will be sent by the next run" in result.output
    with Ledger(ledger_path) as ledger:
        assert ledger.get("invoices", "R-7").state == "sent"  # type: ignore[union-attr]
        assert ledger.get("invoices", "R-8").state == "deferred"  # type: ignore[union-attr]
    again = CliRunner().invoke(main, args)
    assert "No unknown messages to settle." in again.output
    server.stop()
    gone = CliRunner().invoke(main, args)
    assert gone.exit_code == 1
    assert "refused the connection" in gone.output
    save_profile(imap_profile(server, ca_file, imap_host=""))
    unset = CliRunner().invoke(main, args)
    assert unset.exit_code == 2
    assert "--imap-host" in unset.output
