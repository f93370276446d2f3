"""Deleting one conversation on SQLite: every table it was in, read back with plain SQL."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.server.privacy.erase import DeletionCounts, delete_conversation, forget_in_process
from tests.server.privacy.conftest import FAQ_TURN, START, Stores, conversation

PERSON, OTHER = "web-0123456789abcdef0123456789abcdef", "web-fedcba9876543210fedcba9876543210"


def test_everything_of_the_conversation_is_deleted_and_nothing_else(sqlite_stores: Stores) -> None:
    stores = sqlite_stores
    tracker = stores.converse(PERSON)
    ref = stores.escalate(PERSON)
    answer_ts = tracker.events[-2].timestamp  # the referral; rated below through upsert
    stores.feedback.upsert(PERSON, answer_ts, "utter_faq/session_length", True)
    stores.converse(OTHER)
    other_ref = stores.escalate(OTHER)
    stores.feedback.upsert(OTHER, answer_ts, "utter_faq/session_length", False)
    events = len(tracker.events)
    assert stores.held(PERSON, ref) == {
        "events": events, "handoffs": 1, "answer_feedback": 1, "staff_replies": 1, "escalation_notifications": 1,
    }

    counts = asyncio.run(delete_conversation(PERSON, eraser=stores.eraser))

    assert counts == DeletionCounts(events=events, handoffs=1, staff_replies=1, escalation_claims=1, feedback=1)
    assert stores.held(PERSON, ref) == {
        "events": 0, "handoffs": 0, "answer_feedback": 0, "staff_replies": 0, "escalation_notifications": 0,
    }
    assert stores.held(OTHER, other_ref) == {
        "events": events, "handoffs": 1, "answer_feedback": 1, "staff_replies": 1, "escalation_notifications": 1,
    }
    # The audit trail keeps who did what to which opaque entry: no content, no sender id.
    assert stores.count("staff_audit", "handoff_ref = :r", r=ref) == 1
    assert asyncio.run(stores.tracker_store.retrieve_full_tracker(PERSON)) is None


def test_deleting_an_unknown_conversation_finds_nothing(sqlite_stores: Stores) -> None:
    counts = asyncio.run(delete_conversation(PERSON, eraser=sqlite_stores.eraser))
    assert counts == DeletionCounts() and not counts.found


def test_a_claim_of_another_entry_is_not_taken_for_this_one(sqlite_stores: Stores) -> None:
    """Ledger ids start with the entry's reference, which may hold "_" (a LIKE wildcard)."""
    import datetime as dt

    import sqlalchemy as sa

    from bot.server.staff.store import handoffs

    stores = sqlite_stores
    stores.converse(PERSON)
    ref = stores.escalate(PERSON)
    with stores.engine.begin() as connection:
        connection.execute(handoffs.update().where(handoffs.c.ref == ref).values(ref="ab_cdefghijklmnopqrstu"))
    when = dt.datetime(2025, 6, 15)
    stores.ledger.claim_sync("ab_cdefghijklmnopqrstu.crisis", "crisis", when)
    stores.ledger.claim_sync("abXcdefghijklmnopqrstu.crisis", "crisis", when)  # matches "ab_c..." as LIKE
    asyncio.run(delete_conversation(PERSON, eraser=stores.eraser))
    with stores.engine.connect() as connection:
        left = connection.execute(sa.text("SELECT id FROM escalation_notifications ORDER BY id")).scalars().all()
    assert "abXcdefghijklmnopqrstu.crisis" in left and "ab_cdefghijklmnopqrstu.crisis" not in left


def test_a_deleted_conversation_is_not_served_from_memory_and_starts_fresh(sqlite_stores: Stores) -> None:
    """The embedded store keeps saved trackers in memory; deleting must drop that copy, or the
    next message would get (and save back) the deleted conversation."""
    stores = sqlite_stores
    store = stores.tracker_store
    assert store._recent is not None, "the in-memory copies are on for one SQLite process"
    said = conversation(START, [("hello", [("utter_greet", "Hi!", [])])], session_first=True)
    stores.save(PERSON, said)
    assert PERSON in store._recent
    broker = SimpleNamespace(_channels={PERSON: "rest", OTHER: "rest"}, publish=lambda event: None)
    store.event_broker = broker
    agent = SimpleNamespace(
        tracker_store=FailSafeTrackerStore(AwaitableTrackerStore(store)), lock_store=InMemoryLockStore()
    )

    counts = asyncio.run(delete_conversation(PERSON, agent=agent, eraser=stores.eraser))

    assert counts.cached_trackers == 1 and counts.events == len(said)
    assert PERSON not in store._recent and broker._channels == {OTHER: "rest"}
    assert asyncio.run(store.retrieve(PERSON)) is None
    # The next message: a new conversation, holding only what is said from now on.
    fresh = conversation(START + 100, [("what is tms?", [])], session_first=True)
    stores.save(PERSON, fresh)
    assert stores.count("events", "sender_id = :s", s=PERSON) == len(fresh)
    texts = [e.text for e in asyncio.run(store.retrieve_full_tracker(PERSON)).events if isinstance(e, UserUttered)]
    assert texts == ["what is tms?"]
    assert not agent.lock_store.conversation_locks, "the lock was released and removed"


def test_deletion_waits_for_a_turn_in_progress(sqlite_stores: Stores) -> None:
    """A turn holds the conversation's lock while it reads and saves the tracker; the deletion
    runs after it, so the turn cannot save the deleted conversation back."""
    stores = sqlite_stores
    lock_store = InMemoryLockStore()
    agent = SimpleNamespace(tracker_store=stores.tracker_store, lock_store=lock_store)
    order = []

    async def scenario() -> DeletionCounts:
        turn_has_lock, turn_may_finish = asyncio.Event(), asyncio.Event()

        async def turn() -> None:
            async with lock_store.lock(PERSON, wait_time_in_seconds=0.01):
                turn_has_lock.set()
                await turn_may_finish.wait()
                tracker = DialogueStateTracker.from_events(PERSON, conversation(START, [FAQ_TURN]))
                await stores.tracker_store.save(tracker)
                order.append("turn saved")

        turn_task = asyncio.create_task(turn())
        await turn_has_lock.wait()
        deletion = asyncio.create_task(delete_conversation(PERSON, agent=agent, eraser=stores.eraser))
        await asyncio.sleep(0)  # the deletion is waiting for the lock now
        assert not deletion.done()
        turn_may_finish.set()
        await turn_task
        counts = await deletion
        order.append("deleted")
        return counts

    counts = asyncio.run(scenario())
    assert order == ["turn saved", "deleted"]
    assert counts.events > 0 and stores.count("events", "sender_id = :s", s=PERSON) == 0


def test_forget_in_process_without_an_agent_or_cache_is_harmless() -> None:
    assert forget_in_process(None, PERSON) == 0
    assert forget_in_process(SimpleNamespace(tracker_store=SimpleNamespace(_recent=None)), PERSON) == 0


def test_an_empty_sender_id_is_refused(sqlite_stores: Stores) -> None:
    with pytest.raises(ValueError):
        sqlite_stores.eraser.erase("")


def test_counts_add_up() -> None:
    total = DeletionCounts(events=3, handoffs=1) + DeletionCounts(events=2, feedback=1)
    assert total == DeletionCounts(events=5, handoffs=1, feedback=1)
    assert total.as_dict()["events"] == 5
