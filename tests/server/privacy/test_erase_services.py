"""Deletion on PostgreSQL and Redis (real servers from tests/services.py; skipped where not
installed): the rows are gone from PostgreSQL and the lock keys from Redis, read directly."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest
import redis

from bot.server.privacy.erase import DeletionCounts, delete_conversation
from bot.server.privacy.retention import RetentionJob
from bot.server.stores import EnvironmentLockStore
from tests.server.privacy.conftest import (
    FAQ_TURN,
    GREETING_TURN,
    START,
    Stores,
    conversation,
    drop_everything,
    make_stores,
)
from tests.services import postgres_url, redis_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow  # starts a PostgreSQL and a Redis server

PERSON, OTHER = "web-0123456789abcdef0123456789abcdef", "+447700900123"
DAY = 24 * 60 * 60


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:  # noqa: F811
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def pg_stores(postgres_url: str, redis_url: str, redis_client: Any, monkeypatch: pytest.MonkeyPatch, clock: Any) -> Iterator[Stores]:  # noqa: F811
    drop_everything(postgres_url)
    stores = make_stores(
        monkeypatch, {"TRACKER_STORE_URL": postgres_url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": "tms"}, clock
    )
    yield stores
    stores.engine.dispose()
    stores.tracker_store.engine.dispose()


def stale_lock(sender_id: str) -> None:
    """What an instance that died mid-turn leaves in Redis: the conversation's lock, its
    ticket expired."""
    lock_store = EnvironmentLockStore()
    lock = lock_store.create_lock(sender_id)
    lock.issue_ticket(-1)
    lock_store.save_lock(lock)


def test_postgres_rows_and_redis_keys_are_gone(pg_stores: Stores, redis_client: Any) -> None:
    stores = pg_stores
    assert stores.engine.dialect.name == "postgresql"
    tracker = stores.converse(PERSON)
    ref = stores.escalate(PERSON)
    stores.feedback.upsert(PERSON, START + 3.5, "utter_faq/session_length", True)
    stores.converse(OTHER)
    other_ref = stores.escalate(OTHER)
    stale_lock(PERSON)
    stale_lock(OTHER)
    assert sorted(redis_client.keys("*")) == sorted([f"tms:lock:{PERSON}".encode(), f"tms:lock:{OTHER}".encode()])

    counts = asyncio.run(delete_conversation(PERSON, eraser=stores.eraser))

    assert counts == DeletionCounts(
        events=len(tracker.events), handoffs=1, staff_replies=1, escalation_claims=1, feedback=1, redis_keys=1
    )
    assert stores.held(PERSON, ref) == {
        "events": 0, "handoffs": 0, "answer_feedback": 0, "staff_replies": 0, "escalation_notifications": 0,
    }
    assert stores.held(OTHER, other_ref)["events"] == len(tracker.events)
    assert redis_client.keys("*") == [f"tms:lock:{OTHER}".encode()]
    # The next message starts a new conversation.
    assert asyncio.run(stores.tracker_store.retrieve(PERSON)) is None
    stores.converse(PERSON, start=START + 500)
    assert stores.count("events", "sender_id = :s", s=PERSON) == len(tracker.events)


def test_retention_on_postgres_and_redis(pg_stores: Stores, redis_client: Any, clock: Any) -> None:
    stores = pg_stores
    senders = [f"web-{n:032x}" for n in range(12)]
    for number, sender in enumerate(senders):
        stores.converse(sender, start=START - (40 if number < 9 else 10) * DAY)
        stale_lock(sender)
    stores.escalate(senders[0])
    job = RetentionJob(stores.engine, 30, eraser=stores.eraser, clock=clock)

    result = asyncio.run(job.run())

    each = len(conversation(START, (GREETING_TURN, FAQ_TURN)))
    assert (result.conversations, result.events, result.counts.redis_keys) == (9, 9 * each, 9)
    assert stores.count("events") == 3 * each and stores.count("handoffs") == 0
    assert sorted(redis_client.keys("*")) == sorted(f"tms:lock:{s}".encode() for s in senders[9:])
    assert stores.count("privacy_retention_runs", "conversations = 9 AND events = :e", e=9 * each) == 1
