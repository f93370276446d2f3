"""Deleting one conversation everywhere it is held: `await delete_conversation(sender_id)`.

Where a conversation lives, and what is deleted:
- the tracker store's `events` rows for the sender (every session);
- its staff inbox entries (`handoffs`), the professionals' replies in them (`staff_replies`)
  and the escalation ledger's claims for those entries (`escalation_notifications`, ids
  `<handoff ref>.<reason>`). The staff audit trail (`staff_audit`) is kept: it holds who
  did what to which opaque entry reference, never content or sender ids;
- its answer feedback (`answer_feedback`);
- in this process: the tracker kept in memory by bot.server.stores.EnvironmentTrackerStore
  and the channel the escalation broker remembers for the sender;
- in Redis (when configured): Rasa's lock key for the conversation, `lock:<sender>` (or
  `<REDIS_KEY_PREFIX>:lock:<sender>`).

The database rows go in one transaction. It runs under the conversation's lock (the
running server's lock store, or Redis from the environment for the command line), as a
message does: no turn can be half-way through the conversation, holding a copy that it
would save back. The lock store removes its own key when the lock is released, unless a
new message is already waiting, whose conversation then starts from nothing.

A deleted conversation's next message starts a new one: nothing is left to read back.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Iterator, List, Mapping, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.server.privacy.tables import (
    answer_feedback,
    escalation_claims,
    existing_tables,
    tracker_events,
)
from bot.server.staff.store import handoffs, staff_replies

logger = logging.getLogger(__name__)


@dataclass
class DeletionCounts:
    """What was removed for one conversation (or, added up, for several)."""

    events: int = 0
    handoffs: int = 0
    staff_replies: int = 0
    escalation_claims: int = 0
    feedback: int = 0
    redis_keys: int = 0
    cached_trackers: int = 0

    @property
    def found(self) -> bool:
        """Whether anything of the conversation was stored."""
        return any(getattr(self, item.name) for item in fields(self))

    def as_dict(self) -> Dict[str, int]:
        return asdict(self)

    def __add__(self, other: DeletionCounts) -> DeletionCounts:
        return DeletionCounts(
            **{item.name: getattr(self, item.name) + getattr(other, item.name) for item in fields(self)}
        )


class ConversationEraser:
    """Deletes conversations from the database (synchronous: run it in a thread)."""

    def __init__(self, engine: Engine) -> None:
        # No tables are made here: deleting only touches the tables that exist, and readers
        # (export, the rating offer) must not write to the database.
        self.engine = engine
        self._tables: set = set()

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> ConversationEraser:
        from bot.server.staff.store import engine_from_env  # the tracker store's database

        return cls(engine_from_env(os.environ if environ is None else environ))

    def tables(self) -> set:
        """The tables that exist; looked up again while some are still missing (the
        tracker store and the staff inbox create theirs when they first need them)."""
        wanted = {"events", handoffs.name, staff_replies.name, escalation_claims.name, answer_feedback.name}
        if not wanted <= self._tables:
            self._tables = existing_tables(self.engine)
        return self._tables

    def erase(self, sender_id: str, idle_before: Optional[float] = None) -> Optional[DeletionCounts]:
        """Deletes the conversation's rows in one transaction.

        With `idle_before` (retention), only if its last event is older than that; None
        (nothing deleted) if a newer event arrived meanwhile.
        """
        if not isinstance(sender_id, str) or not sender_id:
            raise ValueError("sender_id must be a non-empty string")
        tables = self.tables()
        with self.engine.begin() as connection:
            if idle_before is not None and "events" in tables:
                last = connection.execute(
                    sa.select(sa.func.max(tracker_events.c.timestamp)).where(
                        tracker_events.c.sender_id == sender_id
                    )
                ).scalar()
                if last is not None and last >= idle_before:
                    return None
            return self._erase(connection, sender_id, tables)

    def _erase(self, connection: Connection, sender_id: str, tables: set) -> DeletionCounts:
        counts = DeletionCounts()
        if "events" in tables:
            counts.events = _deleted(
                connection, tracker_events.delete().where(tracker_events.c.sender_id == sender_id)
            )
        if handoffs.name in tables:
            refs = [
                ref
                for (ref,) in connection.execute(
                    sa.select(handoffs.c.ref).where(handoffs.c.sender_id == sender_id)
                )
            ]
            for chunk in _chunks(refs, 200):
                if staff_replies.name in tables:
                    counts.staff_replies += _deleted(
                        connection, staff_replies.delete().where(staff_replies.c.handoff_ref.in_(chunk))
                    )
                if escalation_claims.name in tables:
                    # Ledger ids are "<ref>.<reason>"; refs may hold "_", a LIKE wildcard.
                    claimed = sa.or_(
                        *[escalation_claims.c.id.startswith(f"{ref}.", autoescape=True) for ref in chunk]
                    )
                    counts.escalation_claims += _deleted(connection, escalation_claims.delete().where(claimed))
            counts.handoffs = _deleted(connection, handoffs.delete().where(handoffs.c.sender_id == sender_id))
        if answer_feedback.name in tables:
            counts.feedback = _deleted(
                connection, answer_feedback.delete().where(answer_feedback.c.sender_id == sender_id)
            )
        return counts

    def has_events(self, sender_id: str) -> bool:
        """Whether any event of the conversation is stored."""
        if "events" not in self.tables():
            return False
        with self.engine.connect() as connection:
            return (
                connection.execute(
                    sa.select(tracker_events.c.id).where(tracker_events.c.sender_id == sender_id).limit(1)
                ).first()
                is not None
            )


def _deleted(connection: Connection, statement: Any) -> int:
    result = connection.execute(statement)
    return max(0, result.rowcount or 0)


def _chunks(items: List[str], size: int) -> Iterator[List[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---- this process's copies ----------------------------------------------------------------


def _wrapped_stores(store: Any) -> Iterator[Any]:
    """A tracker store and the stores it wraps (Rasa's FailSafe and Awaitable wrappers)."""
    seen = set()
    while store is not None and id(store) not in seen:
        seen.add(id(store))
        yield store
        store = getattr(store, "_tracker_store", None)


def forget_in_process(agent: Any, sender_id: str) -> int:
    """Drops this process's in-memory copies of a conversation; the number of trackers dropped.

    EnvironmentTrackerStore keeps recently saved trackers (`_recent`), which it would hand
    out again instead of reading the database; the escalation broker remembers each
    sender's channel (`_channels`) to name it in the inbox.
    """
    dropped = 0
    store = getattr(agent, "tracker_store", None)
    for layer in _wrapped_stores(store):
        recent = getattr(layer, "_recent", None)
        if isinstance(recent, dict) and recent.pop(sender_id, None) is not None:
            dropped += 1
        channels = getattr(getattr(layer, "event_broker", None), "_channels", None)
        if isinstance(channels, dict):
            channels.pop(sender_id, None)
    return dropped


# ---- Redis --------------------------------------------------------------------------------


def redis_lock_key(lock_store: Any, sender_id: str) -> Optional[str]:
    """Rasa's RedisLockStore key for the conversation, or None for another lock store."""
    prefix = getattr(lock_store, "key_prefix", None)
    return f"{prefix}{sender_id}" if isinstance(prefix, str) and hasattr(lock_store, "red") else None


def _redis_key_exists(lock_store: Any, sender_id: str) -> bool:
    key = redis_lock_key(lock_store, sender_id)
    return bool(key and lock_store.red.exists(key))


def lock_store_from_env() -> Any:
    """Rasa's RedisLockStore when Redis is configured (the one the servers share), else None:
    an in-memory lock in this process would not keep a server's turns out."""
    from bot.server.stores import EnvironmentLockStore, redis_settings

    return EnvironmentLockStore() if redis_settings() is not None else None


# ---- the one entry point ------------------------------------------------------------------


class _Default:
    eraser: Optional[ConversationEraser] = None


def default_eraser() -> ConversationEraser:
    """The process's eraser on the tracker store's database, made on first use."""
    if _Default.eraser is None:
        _Default.eraser = ConversationEraser.from_env()
    return _Default.eraser


async def resolve_lock_store(agent: Any = None) -> Any:
    """The lock to delete under: the running server's lock store, else Redis from the
    environment (shared with the servers), else None (nothing to share a lock with)."""
    lock_store = getattr(agent, "lock_store", None)
    if lock_store is None:
        lock_store = await asyncio.to_thread(lock_store_from_env)
    return lock_store


async def erase_locked(
    sender_id: str,
    eraser: ConversationEraser,
    lock_store: Any,
    agent: Any = None,
    idle_before: Optional[float] = None,
) -> Optional[DeletionCounts]:
    """Deletes under the conversation's lock (if any); see delete_conversation."""
    if lock_store is None:
        counts = await asyncio.to_thread(eraser.erase, sender_id, idle_before)
        if counts is not None:
            counts.cached_trackers = forget_in_process(agent, sender_id)
        return counts
    stale_key = await asyncio.to_thread(_redis_key_exists, lock_store, sender_id)
    async with lock_store.lock(sender_id):
        counts = await asyncio.to_thread(eraser.erase, sender_id, idle_before)
        if counts is not None:
            counts.cached_trackers = forget_in_process(agent, sender_id)
    # Leaving the lock removed its key, unless a new message is waiting for it.
    if counts is not None and stale_key and not await asyncio.to_thread(_redis_key_exists, lock_store, sender_id):
        counts.redis_keys = 1
    return counts


async def delete_conversation(
    sender_id: str,
    *,
    agent: Any = None,
    eraser: Optional[ConversationEraser] = None,
) -> DeletionCounts:
    """Deletes a conversation everywhere and says what was removed (all zero: nothing was
    stored). `agent`: the running Rasa agent (request.app.ctx.agent), whose lock store and
    in-memory copies are used; without one, Redis from the environment is the lock."""
    eraser = eraser or await asyncio.to_thread(default_eraser)
    counts = await erase_locked(sender_id, eraser, await resolve_lock_store(agent), agent)
    assert counts is not None  # only a retention cutoff skips a conversation
    return counts
