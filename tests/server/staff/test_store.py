"""HandoffRepository on SQLite: opening, ordering, the one-claimer rule, the outbox, the audit."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, List, TypeVar

import pytest
import sqlalchemy as sa

from bot.server.staff.store import (
    MAX_AUDIT_DETAIL_CHARS,
    MAX_REPLY_CHARS,
    REF_PATTERN,
    HandoffRepository,
    NotClaimedError,
    create_tables,
    engine_from_env,
    handoffs,
    staff_audit,
)
from tests.server.staff.conftest import FakeClock

T = TypeVar("T")
PHONE = "+447700900123"


def race(first: Callable[[], T], second: Callable[[], T]) -> List[T]:
    """Runs two calls as close to the same moment as two threads allow."""
    start = threading.Barrier(2)

    def at_once(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(at_once, first), pool.submit(at_once, second)]
        return [future.result() for future in futures]


def test_a_handoff_gets_an_opaque_ref_not_the_sender_id(repository: HandoffRepository) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "asked_for_person", urgent=False)
    assert REF_PATTERN.match(handoff.ref)
    assert PHONE not in handoff.ref and "447700900123" not in handoff.ref
    other = repository.open_handoff("+447700900999", "twilio", "asked_for_person", urgent=False)
    assert other.ref != handoff.ref
    assert (handoff.status, handoff.claimed_by, handoff.urgent) == ("waiting", None, False)
    assert repository.get(handoff.ref) == handoff


def test_opening_again_returns_the_open_handoff_and_upgrades_urgency(
    repository: HandoffRepository,
) -> None:
    first = repository.open_handoff(PHONE, "twilio", "asked_for_person", urgent=False)
    again = repository.open_handoff(PHONE, "twilio", "crisis", urgent=True)
    assert again.ref == first.ref and again.urgent
    still = repository.open_handoff(PHONE, "twilio", "repeated_misses", urgent=False)
    assert still.ref == first.ref and still.urgent, "urgency is never downgraded"
    assert repository.claim(first.ref, "alice")
    assert repository.open_handoff(PHONE, "twilio", "crisis", urgent=True).ref == first.ref
    assert repository.resolve(first.ref, "alice")
    assert repository.open_for_sender(PHONE) is None
    new = repository.open_handoff(PHONE, "twilio", "crisis", urgent=True)
    assert new.ref != first.ref and new.status == "waiting"


def test_two_processes_opening_at_once_share_one_handoff(db_path: Path) -> None:
    engines = [engine_from_env({"TRACKER_DB_PATH": str(db_path)}) for _ in range(2)]
    first, second = (HandoffRepository(engine) for engine in engines)
    for attempt in range(10):
        sender = f"web-{attempt}"
        refs = race(
            lambda s=sender: first.open_handoff(s, "rest", "crisis", True).ref,
            lambda s=sender: second.open_handoff(s, "rest", "crisis", True).ref,
        )
        assert refs[0] == refs[1]
    with engines[0].connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(handoffs)).scalar_one() == 10
        )


def test_the_database_refuses_a_second_open_handoff_for_one_person(
    repository: HandoffRepository,
) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "crisis", urgent=True)
    with pytest.raises(sa.exc.IntegrityError), repository.engine.begin() as connection:
        row = {**repository.get(handoff.ref).__dict__, "ref": "x" * 24}
        connection.execute(handoffs.insert().values(**row))


@pytest.mark.parametrize("reason", ["", "bored", "CRISIS", None])
def test_unknown_reasons_are_refused(repository: HandoffRepository, reason: object) -> None:
    with pytest.raises(ValueError):
        repository.open_handoff(PHONE, "twilio", reason, urgent=False)  # type: ignore[arg-type]


def test_list_puts_urgent_first_then_the_longest_waiting(
    repository: HandoffRepository, clock: FakeClock
) -> None:
    opened = {}
    for name, urgent in [
        ("old", False),
        ("old-urgent", True),
        ("new", False),
        ("new-urgent", True),
    ]:
        opened[name] = repository.open_handoff(
            name, "rest", "crisis" if urgent else "asked_for_person", urgent
        )
        clock.advance(60)
    taken = repository.open_handoff("taken", "rest", "asked_for_person", False)
    repository.claim(taken.ref, "alice")
    order = [handoff.sender_id for handoff in repository.list(["waiting"])]
    assert order == ["old-urgent", "new-urgent", "old", "new"]
    assert [h.sender_id for h in repository.list(["claimed"])] == ["taken"]
    assert len(repository.list(["waiting", "claimed", "resolved"])) == 5
    with pytest.raises(ValueError):
        repository.list(["open"])


def test_the_later_urgent_one_still_comes_before_older_ones(
    repository: HandoffRepository, clock: FakeClock
) -> None:
    calm = repository.open_handoff("calm", "rest", "asked_for_person", False)
    clock.advance(600)
    repository.open_handoff("later", "rest", "asked_for_person", False)
    repository.mark_urgent(repository.open_for_sender("later").ref)
    assert [h.sender_id for h in repository.list()] == ["later", "calm"]
    assert repository.get(calm.ref).urgent is False


def test_one_professional_at_a_time(repository: HandoffRepository) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "crisis", urgent=True)
    assert repository.claim(handoff.ref, "alice")
    assert repository.claim(handoff.ref, "alice"), "claiming again is harmless"
    assert not repository.claim(handoff.ref, "bob")
    assert not repository.release(handoff.ref, "bob")
    assert not repository.resolve(handoff.ref, "bob")
    assert repository.get(handoff.ref).claimed_by == "alice"
    assert repository.release(handoff.ref, "alice")
    released = repository.get(handoff.ref)
    assert (released.status, released.claimed_by) == ("waiting", None)
    assert repository.claim(handoff.ref, "bob")
    assert repository.resolve(handoff.ref, "bob")
    assert not repository.claim(handoff.ref, "bob"), "a resolved handoff stays resolved"
    assert not repository.claim("no-such-ref-000000000000", "bob")


def test_claim_race_between_two_professionals_has_one_winner(db_path: Path) -> None:
    """Two servers (two engines, two threads) claim the same handoffs at the same moment."""
    alice_side, bob_side = (
        HandoffRepository(engine_from_env({"TRACKER_DB_PATH": str(db_path)})) for _ in range(2)
    )
    for attempt in range(20):
        ref = alice_side.open_handoff(f"person-{attempt}", "rest", "crisis", True).ref
        results = race(
            lambda r=ref: alice_side.claim(r, "alice"), lambda r=ref: bob_side.claim(r, "bob")
        )
        assert sorted(results) == [False, True], results
        winner = "alice" if results[0] else "bob"
        assert bob_side.get(ref).claimed_by == winner


def test_anyone_may_resolve_a_waiting_handoff(repository: HandoffRepository) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "repeated_misses", urgent=False)
    assert repository.resolve(handoff.ref, "carol")
    resolved = repository.get(handoff.ref)
    assert (resolved.status, resolved.claimed_by) == ("resolved", "carol")
    assert repository.recently_resolved()[0].ref == handoff.ref


def test_only_the_claimer_adds_replies(repository: HandoffRepository) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "asked_for_person", urgent=False)
    with pytest.raises(NotClaimedError):
        repository.add_reply(handoff.ref, "alice", "Alice", "Hello")
    repository.claim(handoff.ref, "alice")
    with pytest.raises(NotClaimedError):
        repository.add_reply(handoff.ref, "bob", "Bob", "Hello")
    first = repository.add_reply(handoff.ref, "alice", "Dr Alice", "Hello, I am a nurse.")
    second = repository.add_reply(handoff.ref, "alice", "Dr Alice", "Are you safe right now?")
    assert second.id > first.id
    assert [r.text for r in repository.replies_since(handoff.ref, 0)] == [first.text, second.text]
    assert repository.replies_since(handoff.ref, first.id) == [second]
    assert repository.replies_since(handoff.ref, second.id) == []
    repository.resolve(handoff.ref, "alice")
    with pytest.raises(NotClaimedError):
        repository.add_reply(handoff.ref, "alice", "Dr Alice", "Too late")


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_REPLY_CHARS + 1)])
def test_empty_or_long_replies_are_refused(repository: HandoffRepository, text: str) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "asked_for_person", urgent=False)
    repository.claim(handoff.ref, "alice")
    with pytest.raises(ValueError):
        repository.add_reply(handoff.ref, "alice", "Alice", text)
    assert repository.replies_since(handoff.ref) == []


def test_waiting_too_long_and_the_persons_last_message(
    repository: HandoffRepository, clock: FakeClock
) -> None:
    old = repository.open_handoff("old", "rest", "asked_for_person", False)
    clock.advance(300)
    repository.open_handoff("new", "rest", "asked_for_person", False)
    assert [h.ref for h in repository.unclaimed_older_than(240)] == [old.ref]
    repository.claim(old.ref, "alice")
    assert repository.unclaimed_older_than(240) == []
    clock.advance(30)
    assert repository.touch_person_message(old.ref)
    assert repository.get(old.ref).last_person_message_at == clock.now


def test_audit_entries_are_short_notes_newest_first(
    repository: HandoffRepository, clock: FakeClock
) -> None:
    repository.audit("alice", "login")
    clock.advance(1)
    repository.audit("alice", "claim", "r" * 24, "note\nwith\x00control " + "x" * 500)
    entries = repository.audit_log(10)
    assert [e.action for e in entries] == ["claim", "login"]
    assert entries[0].handoff_ref == "r" * 24
    assert len(entries[0].detail) == MAX_AUDIT_DETAIL_CHARS
    assert "\n" not in entries[0].detail and "\x00" not in entries[0].detail
    with pytest.raises(ValueError):
        repository.audit("alice", "Drop table; --")
    assert len(repository.audit_log(1)) == 1


def test_replies_never_reach_the_audit_table(repository: HandoffRepository) -> None:
    handoff = repository.open_handoff(PHONE, "twilio", "asked_for_person", urgent=False)
    repository.claim(handoff.ref, "alice")
    repository.add_reply(handoff.ref, "alice", "Alice", "secret words")
    with repository.engine.connect() as connection:
        rows = connection.execute(sa.select(staff_audit)).fetchall()
    assert all("secret" not in str(tuple(row)) for row in rows)


def test_tables_are_created_once_even_by_concurrent_creators(db_path: Path) -> None:
    engines = [engine_from_env({"TRACKER_DB_PATH": str(db_path)}) for _ in range(2)]
    race(lambda: create_tables(engines[0]), lambda: create_tables(engines[1]))
    create_tables(engines[0])  # again: nothing to do
    names = set(sa.inspect(engines[1]).get_table_names())
    assert {"handoffs", "staff_replies", "staff_accounts", "staff_sessions", "staff_audit"} <= names


def test_engine_follows_the_tracker_store_settings(tmp_path: Path) -> None:
    sqlite = engine_from_env({"TRACKER_DB_PATH": str(tmp_path / "a" / "b.db")})
    assert sqlite.dialect.name == "sqlite" and sqlite.url.database == str(tmp_path / "a" / "b.db")
    with sqlite.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    postgres = engine_from_env({"TRACKER_STORE_URL": "postgresql://u:p@db.internal:5432"})
    assert postgres.dialect.name == "postgresql"
    assert (postgres.url.host, postgres.url.database) == ("db.internal", "rasa")
    named = engine_from_env(
        {"TRACKER_STORE_URL": " postgresql://u:p@db:5432/tracker ", "TRACKER_DB_PATH": "x"}
    )
    assert named.url.database == "tracker"


def test_handoffs_survive_a_new_repository(engine: sa.engine.Engine, clock: FakeClock) -> None:
    ref = HandoffRepository(engine, clock).open_handoff(PHONE, "twilio", "crisis", True).ref
    assert HandoffRepository(engine, clock).get(ref).urgent
    assert HandoffRepository(engine, clock).get("../../etc/passwd") is None
