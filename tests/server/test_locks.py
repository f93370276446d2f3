"""The Redis lock store: a retry waiting behind a dead instance's ticket gets the lock."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlparse

import pytest
from rasa.core.lock_store import RedisLockStore

from bot.server.stores import WaiterKeepingRedisLockStore
from tests.services import redis_url  # noqa: F401 - fixture

LIFETIME = 2.0


def store_at(url: str, kind=WaiterKeepingRedisLockStore):
    parsed = urlparse(url)
    return kind(host=parsed.hostname, port=parsed.port, db=3)


async def wait_for_lock(store, conversation: str, within: float) -> float | None:
    """Seconds until the lock was acquired, or None if not within `within` seconds."""
    started = time.monotonic()

    async def take() -> float:
        async with store.lock(conversation, lock_lifetime=LIFETIME, wait_time_in_seconds=0.2):
            return time.monotonic() - started

    try:
        return await asyncio.wait_for(take(), within)
    except asyncio.TimeoutError:
        return None


async def test_a_retry_right_after_an_instance_died_gets_the_lock_when_its_ticket_expires(redis_url):  # noqa: F811
    store = store_at(redis_url)
    conversation = f"c-{uuid.uuid4().hex}"
    store.issue_ticket(conversation, LIFETIME)  # the dead instance's: never cleaned up
    waited = await wait_for_lock(store, conversation, within=4 * LIFETIME)
    assert waited is not None and LIFETIME - 0.3 <= waited <= LIFETIME + 1.0


async def test_in_rasas_own_store_that_retry_waits_for_ever(redis_url):  # noqa: F811
    # Why the subclass exists: both tickets expire in the same check, the waiter's included.
    store = store_at(redis_url, RedisLockStore)
    conversation = f"c-{uuid.uuid4().hex}"
    store.issue_ticket(conversation, LIFETIME)
    assert await wait_for_lock(store, conversation, within=3 * LIFETIME) is None


async def test_waiters_are_served_in_order_and_each_alone(redis_url):  # noqa: F811
    store = store_at(redis_url)
    conversation = f"c-{uuid.uuid4().hex}"
    order, inside = [], []

    async def turn(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with store.lock(conversation, lock_lifetime=LIFETIME, wait_time_in_seconds=0.05):
            inside.append(name)
            assert len(inside) == 1, inside  # nobody else in the turn
            await asyncio.sleep(0.3)
            order.append(name)
            inside.remove(name)

    await asyncio.wait_for(asyncio.gather(turn("first", 0), turn("second", 0.05), turn("third", 0.1)), 10)
    assert order == ["first", "second", "third"]


@pytest.mark.parametrize("mismatch", [False, True])
def test_the_environment_store_is_the_waiter_keeping_one_on_checked_versions(redis_url, monkeypatch, mismatch):  # noqa: F811
    from bot.server import patches
    from bot.server.stores import EnvironmentLockStore

    monkeypatch.setenv("REDIS_URL", redis_url)
    if mismatch:
        monkeypatch.setattr(patches, "versions_checked", lambda: False)
    store = EnvironmentLockStore()
    assert type(store) is (RedisLockStore if mismatch else WaiterKeepingRedisLockStore)
