"""Tracker and lock stores chosen by environment variables: the same code embedded or at scale.

Tracker store (Rasa's SQLTrackerStore either way, same table and rows; reads and writes go
through SQLAlchemy Core instead of its ORM, see EnvironmentTrackerStore):
- default: SQLite file at $TRACKER_DB_PATH (default var/tracker.db); a restart keeps
  conversations. Write-ahead log, synced at checkpoints rather than at every message
  ($SQLITE_SYNCHRONOUS, default NORMAL): a crash of the server loses nothing, a power
  cut may lose the last messages; FULL syncs every commit (about 8 ms a message here).
- $TRACKER_STORE_URL (e.g. postgresql://user:pass@host:5432/rasa): that database.
Lock store:
- default: in memory (one Rasa process).
- $REDIS_URL (redis://:pass@host:6379/1) or $REDIS_HOST (+ REDIS_PORT, REDIS_PASSWORD,
  REDIS_DB): Rasa's RedisLockStore, required when several Rasa instances share conversations,
  and for $SANIC_WORKERS > 1 (several worker processes in one Rasa server): without Redis
  that setting stops the start with an error.

A configured server that cannot be reached within $STORE_CONNECT_TIMEOUT seconds (default
30) stops the start with an error: Rasa would otherwise wait forever (SQL) or quietly fall
back to memory, losing conversations.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import (
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.server import patches
from bot.server.database import create_tables_once

DEFAULT_SQLITE_PATH = "var/tracker.db"
# Conversations whose tracker stays in memory between messages (embedded store only).
RECENT_TRACKERS = 1000


class StoreUnavailable(RuntimeError):
    """A configured tracker or lock store could not be reached at start-up."""


SQLITE_SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def sqlite_path() -> Path:
    return Path(os.environ.get("TRACKER_DB_PATH") or DEFAULT_SQLITE_PATH)


def _connect_timeout() -> float:
    return float(os.environ.get("STORE_CONNECT_TIMEOUT", "30"))


def _wait_for(check: Callable[[], Any], what: Text) -> None:
    deadline = time.monotonic() + _connect_timeout()
    while True:
        try:
            check()
            return
        except Exception as error:  # noqa: BLE001 - any failure means "not reachable yet"
            if time.monotonic() >= deadline:
                raise StoreUnavailable(f"{what} is not reachable: {error}") from error
            time.sleep(1)


def sqlite_engine(url: Any) -> Any:
    """An engine that keeps its SQLite connections open, in WAL mode, synced per $SQLITE_SYNCHRONOUS.

    Rasa's own engine opens and closes a connection for every read and write of a tracker;
    in WAL mode each close of the last connection checkpoints the log (an fsync), so the
    connections are pooled instead. WAL lets readers (other Sanic workers) go on while one
    connection writes.
    """
    import sqlalchemy
    from sqlalchemy.pool import QueuePool

    synchronous = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").strip().upper() or "NORMAL"
    if synchronous not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}")
    # Pooled connections may be handed from one thread to another; the pool never shares one.
    engine = sqlalchemy.create_engine(url, poolclass=QueuePool, connect_args={"check_same_thread": False})

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    sqlalchemy.event.listen(engine, "connect", on_connect)
    return engine


class EnvironmentTrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore, pointed at SQLite or a server database by environment.

    Same table, same rows, same queries as Rasa's: a tracker is the events since the
    latest session start, in id order, and a save appends the events not stored yet.
    Only the way they run differs: Rasa builds each query through the ORM and saves each
    event as an ORM object, which cost about 4.5 ms of CPU per message here (most of
    the store's time); the same statements through SQLAlchemy Core, built once, and one
    multi-row insert cost a fraction of that. With $POSTGRESQL_SCHEMA set (a
    PostgreSQL schema Rasa checks on every access), or on versions of Rasa and SQLAlchemy
    other than bot.server.patches.WRITTEN_FOR, Rasa's own code runs unchanged.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        url = os.environ.get("TRACKER_STORE_URL", "").strip()
        if url:
            import sqlalchemy
            from sqlalchemy.engine.url import make_url

            parsed = make_url(url)

            def connect() -> None:
                engine = sqlalchemy.create_engine(parsed.set(database=parsed.database or "rasa"), pool_pre_ping=True)
                try:
                    with engine.connect():
                        pass
                    if not os.environ.get("POSTGRESQL_SCHEMA"):
                        # Before Rasa's own create_all, which logs an error when another
                        # instance starting at the same moment creates the table first.
                        create_tables_once(engine, SQLTrackerStore.Base.metadata)
                finally:
                    engine.dispose()

            _wait_for(connect, f"The tracker store database at {parsed.host}:{parsed.port}")
            super().__init__(
                domain=domain,
                dialect=parsed.drivername,
                host=parsed.host,
                port=parsed.port,
                db=parsed.database or "rasa",
                username=parsed.username,
                password=parsed.password,
                event_broker=event_broker,
                **kwargs,
            )
        else:
            path = sqlite_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            super().__init__(
                domain=domain, dialect="sqlite", db=str(path), event_broker=event_broker, **kwargs
            )
            import sqlalchemy.orm

            self.engine.dispose()
            self.engine = sqlite_engine(self.engine.url)
            self.sessionmaker = sqlalchemy.orm.sessionmaker(bind=self.engine)
        # Rasa's own ORM code when a PostgreSQL schema is set (Rasa checks it on every access)
        # or when Rasa/SQLAlchemy are not the versions these statements were checked against.
        self._use_core = not os.environ.get("POSTGRESQL_SCHEMA") and patches.versions_checked()
        self._statements = self._build_statements()
        # Only this process writes an embedded SQLite store (several processes need Redis
        # and a server database), so the trackers it saved are what it would read back.
        self._recent: Optional[OrderedDict[Text, DialogueStateTracker]] = None
        if (
            not url
            and self._use_core
            and redis_settings() is None
            and sanic_workers() == 1
            and os.environ.get("TRACKER_CACHE", "1").strip() != "0"
        ):
            self._recent = OrderedDict()

    def _build_statements(self) -> Dict[Text, Any]:
        import sqlalchemy as sa

        table = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        session_start = (
            sa.select(sa.func.max(table.c.timestamp))
            .where(table.c.sender_id == sender, table.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        since_session_start = sa.or_(table.c.timestamp >= session_start, session_start.is_(None))
        return {
            "latest_session": sa.select(table.c.data)
            .where(table.c.sender_id == sender, since_session_start)
            .order_by(table.c.id),
            "all_sessions": sa.select(table.c.data).where(table.c.sender_id == sender).order_by(table.c.id),
            "count_latest_session": sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.sender_id == sender, since_session_start),
            "insert": table.insert(),
        }

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        if self._recent is not None and not fetch_events_from_all_sessions:
            # Handed out, not shared: whoever takes it saves it back (or it is read anew).
            kept = self._recent.pop(sender_id, None)
            if kept is not None:
                return kept
        if not self._use_core:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        statement = self._statements["all_sessions" if fetch_events_from_all_sessions else "latest_session"]
        with self.engine.connect() as connection:
            rows = connection.execute(statement, {"sender_id": sender_id}).fetchall()
        if not self.domain or not rows:
            return None
        return DialogueStateTracker.from_dict(sender_id, [json.loads(data) for (data,) in rows], self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if not self._use_core:
            return await super().save(tracker)
        with self.engine.begin() as connection:
            stored = connection.execute(
                self._statements["count_latest_session"], {"sender_id": tracker.sender_id}
            ).scalar_one()
            rows: List[Dict[Text, Any]] = []
            new_events = list(itertools.islice(tracker.events, stored, len(tracker.events)))
            for event in new_events:
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                connection.execute(self._statements["insert"], rows)
        self._keep(tracker)
        self._publish(tracker.sender_id, new_events)

    def _publish(self, sender_id: Text, events: List[Any]) -> None:
        """Hands the events just stored to the event broker (bot/server/escalation/broker.py), as
        Rasa's own stream_events does, without reading the conversation back to diff it."""
        if self.event_broker is None:
            return
        for event in events:
            self.event_broker.publish({"sender_id": sender_id, **event.as_dict()})

    def _keep(self, tracker: DialogueStateTracker) -> None:
        """Keeps a saved tracker for its next message, if it is what a read would return.

        A read returns the events from the latest session start on, rebuilt from the
        database; a tracker holding anything else (the events before a session start, an
        event stamped earlier) is not kept, and the next message reads it.
        """
        if self._recent is None:
            return
        self._recent.pop(tracker.sender_id, None)
        events = tracker.events
        if not events or not isinstance(events[0], SessionStarted) or tracker.is_rule_tracker:
            return
        started = events[0].timestamp
        for index, event in enumerate(events):
            if event.timestamp < started or (index and isinstance(event, SessionStarted)):
                return
        self._recent[tracker.sender_id] = tracker
        while len(self._recent) > RECENT_TRACKERS:
            self._recent.popitem(last=False)


def redis_settings() -> Optional[Dict[Text, Any]]:
    """RedisLockStore arguments from the environment, or None for the in-memory store."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        from urllib.parse import urlparse

        parsed = urlparse(url)
        return {
            "host": parsed.hostname or "localhost",
            "port": parsed.port or 6379,
            "db": int((parsed.path or "/1").lstrip("/") or 1),
            "password": parsed.password,
            "use_ssl": parsed.scheme == "rediss",
        }
    host = os.environ.get("REDIS_HOST", "").strip()
    if host:
        return {
            "host": host,
            "port": int(os.environ.get("REDIS_PORT", "6379")),
            "db": int(os.environ.get("REDIS_DB", "1")),
            "password": os.environ.get("REDIS_PASSWORD") or None,
        }
    return None


def sanic_workers() -> int:
    try:
        return int(os.environ.get("SANIC_WORKERS", "1"))
    except ValueError:
        return 1


class WaiterKeepingRedisLockStore(RedisLockStore):
    """Rasa's RedisLockStore, where a turn waiting for the lock keeps its own ticket alive.

    Every ticket expires after the lock lifetime, so that a dead instance's ticket does not
    block its conversation forever. In Rasa the tickets of those still waiting expire too:
    a message retried on another instance right after the first instance died got a ticket
    expiring with the dead one's, both were dropped together, and the retry then waited for
    a ticket that no longer existed, for ever (found by tests/test_fault.py). Here each
    waiter renews its ticket each time it checks the lock, so only the tickets of instances
    that stopped checking expire. Rasa 3.6.21's `_acquire_lock` otherwise; used only on the
    versions bot.server.patches was checked against.
    """

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        ticket = super().issue_ticket(conversation_id, lock_lifetime)
        self._lifetimes[(conversation_id, ticket)] = lock_lifetime
        return ticket

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self._lifetimes.pop((conversation_id, ticket_number), None)
        super().cleanup(conversation_id, ticket_number)

    @property
    def _lifetimes(self) -> Dict[Any, float]:
        if "_ticket_lifetimes" not in self.__dict__:
            self.__dict__["_ticket_lifetimes"] = {}
        return self.__dict__["_ticket_lifetimes"]

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                break
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            self.keep_waiting(conversation_id, ticket)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")

    def keep_waiting(self, conversation_id: Text, ticket: int) -> None:
        """Drops expired tickets but renews (or puts back) this waiter's own, in its place."""
        lock = self.get_lock(conversation_id)
        if lock is None:
            return
        lifetime = self._lifetimes.get((conversation_id, ticket), LOCK_LIFETIME)
        lock.tickets = [t for t in lock.tickets if t.number != ticket and not t.has_expired()]
        lock.tickets.append(Ticket(ticket, time.time() + lifetime))
        lock.tickets.sort(key=lambda t: t.number)
        self.save_lock(lock)


class EnvironmentLockStore(LockStore):
    """Builds Rasa's RedisLockStore when Redis is configured, its InMemoryLockStore otherwise."""

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        settings = redis_settings()
        if settings is None:
            if sanic_workers() > 1:
                # Rasa would start the workers anyway (this store is not "in_memory" by
                # name), each with its own locks: one conversation could run twice at once.
                raise StoreUnavailable(
                    "SANIC_WORKERS > 1 needs the Redis lock store: set REDIS_URL or REDIS_HOST"
                )
            return InMemoryLockStore()
        kind = WaiterKeepingRedisLockStore if patches.versions_checked() else RedisLockStore
        store = kind(**settings, key_prefix=os.environ.get("REDIS_KEY_PREFIX") or None)
        _wait_for(store.red.ping, f"The Redis lock store at {settings['host']}:{settings['port']}")
        return store


def describe_stores(agent: Any) -> Dict[Text, Any]:
    """Which stores a running Rasa agent uses, for health output (no secrets)."""
    if agent is None:
        return {"tracker_store": None, "lock_store": None}
    tracker_store = agent.tracker_store
    inner = getattr(tracker_store, "_tracker_store", tracker_store)  # unwrap FailSafeTrackerStore
    engine = getattr(inner, "engine", None)
    return {
        "tracker_store": type(inner).__name__,
        "tracker_store_dialect": engine.dialect.name if engine is not None else None,
        "lock_store": type(agent.lock_store).__name__,
    }
