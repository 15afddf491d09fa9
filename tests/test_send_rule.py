"""The one send rule, as a pure function: no database, only records and answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from docmail_nb._store.records import Entry, rule


def entry(state: str, owner: str | None = None, content: str = "h1") -> Entry:
    return Entry(
        campaign="invoices",
        key="R-1",
        state=state,  # type: ignore[arg-type]
        content_hash=content,
        message_id="<R-1@example>",
        rows=(2,),
        account="anna@example.ch",
        recipients=("a@x.example",),
        accepted=(),
        refused={},
        reply="",
        error="",
        attempts=0,
        owner_run=owner,
        created_at=0.0,
        updated_at=0.0,
        attempted_at=None,
        sent_at=None,
    )


def never(_: str = "") -> str:
    raise AssertionError("not asked for")


def alive(*runs: str) -> Callable[[str], bool]:
    return lambda run: run in runs


def decide(current: Entry | None, content: Callable[[], str] = never, **kw: object) -> object:
    kw.setdefault("run_id", "me")
    kw.setdefault("owner_alive", alive())
    return rule(current, content, **kw)  # type: ignore[arg-type]


def test_a_new_message_is_claimed_without_hashing_it() -> None:
    assert decide(None) == ("claimed", False)


@pytest.mark.parametrize("state", ["failed", "deferred", "planned"])
def test_failed_deferred_and_released_messages_are_claimed_again(state: str) -> None:
    assert decide(entry(state)) == ("claimed", False)


def test_sent_with_the_same_content_is_sent_and_with_other_content_changed() -> None:
    assert decide(entry("sent"), lambda: "h1") == ("sent", False)
    assert decide(entry("sent"), lambda: "h2") == ("changed", False)
    assert decide(entry("sent"), lambda: "h2", resend_changed=True) == ("claimed", False)
    assert decide(entry("sent"), lambda: "h1", resend_changed=True) == ("sent", False)


def test_unknown_is_never_resent_unless_asked() -> None:
    assert decide(entry("unknown")) == ("unknown", False)
    assert decide(entry("unknown"), resend_unknown=True) == ("claimed", False)


@pytest.mark.parametrize("state", ["planned", "sending"])
def test_held_by_another_live_run_is_busy(state: str) -> None:
    assert decide(entry(state, owner="other"), owner_alive=alive("other")) == ("busy", False)


def test_sending_by_a_dead_run_is_unknown_and_reported_as_crashed() -> None:
    held = entry("sending", owner="dead")
    assert decide(held) == ("unknown", True)
    assert decide(held, resend_unknown=True) == ("claimed", True)


def test_planned_by_a_dead_run_is_claimed_without_crash() -> None:
    assert decide(entry("planned", owner="dead")) == ("claimed", False)


def test_a_run_asking_again_for_its_own_claim_gets_it() -> None:
    asked: list[str] = []

    def owner_alive(run: str) -> bool:
        asked.append(run)
        return True

    assert decide(entry("planned", owner="me"), owner_alive=owner_alive) == ("claimed", False)
    assert asked == []  # its own run is never looked up


def test_a_read_only_question_has_no_run() -> None:
    held = dataclasses.replace(entry("sending"), owner_run="other")
    assert decide(held, run_id=None, owner_alive=alive("other")) == ("busy", False)
    assert decide(held, run_id=None) == ("unknown", True)
