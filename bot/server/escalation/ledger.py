"""Claims an escalation id before it is notified, so that it is notified once.

Several Rasa instances (or workers) may see the same escalation; each asks the ledger to
claim its id and only the one whose claim succeeds sends. The shared ledger is a table,
`escalation_notifications` (id primary key, reason, created_at; never any content), where
a claim is an INSERT that fails on the duplicate key: atomic on SQLite and PostgreSQL alike,
with no lock or transaction isolation to get right.

The claim is taken before sending, so an instance that dies between the claim and the
send loses that notification rather than letting two instances send it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import datetime, timezone
from typing import Dict, Mapping, Optional, Protocol, Union, runtime_checkable

from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.server.database import create_tables_once

TABLE_NAME = "escalation_notifications"
ID_LENGTH = 128
DEFAULT_SQLITE_PATH = "var/tracker.db"


@runtime_checkable
class ClaimLedger(Protocol):
    """Shared record of which escalations have been claimed for notification."""

    async def claim(self, escalation_id: str, reason: str, created_at: datetime) -> bool:
        """True for the first claim of `escalation_id` across every user of the ledger."""
        ...


class InMemoryClaimLedger:
    """Claims within one process (one Rasa instance, or tests)."""

    def __init__(self) -> None:
        self._claimed: Dict[str, str] = {}
        self._lock = threading.Lock()

    async def claim(self, escalation_id: str, reason: str, created_at: datetime) -> bool:
        with self._lock:
            if escalation_id in self._claimed:
                return False
            self._claimed[escalation_id] = reason
            return True


class SqlClaimLedger:
    """Claims in a database table shared by every instance (SQLite file or PostgreSQL).

    The engine is created here but not connected; the table is created on the first claim
    if missing (tolerating another instance creating it at the same moment).
    """

    def __init__(self, url_or_engine: Union[str, Engine]) -> None:
        if isinstance(url_or_engine, Engine):
            self._engine = url_or_engine
            self._owns_engine = False
        else:
            connect_args = {"timeout": 30} if url_or_engine.startswith("sqlite") else {}
            self._engine = create_engine(
                url_or_engine, pool_pre_ping=True, connect_args=connect_args
            )
            self._owns_engine = True
        self._table = Table(
            TABLE_NAME,
            MetaData(),
            Column("id", String(ID_LENGTH), primary_key=True),
            Column("reason", String(32), nullable=False),
            # UTC, stored without a zone so that SQLite and PostgreSQL hold the same value.
            Column("created_at", DateTime(timezone=False), nullable=False),
        )
        self._table_ready = False
        self._table_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine

    async def claim(self, escalation_id: str, reason: str, created_at: datetime) -> bool:
        # SQLAlchemy 1.4 here is synchronous: keep the event loop free while it waits.
        return await asyncio.to_thread(self.claim_sync, escalation_id, reason, created_at)

    def claim_sync(self, escalation_id: str, reason: str, created_at: datetime) -> bool:
        """The blocking claim; database errors other than the duplicate key propagate."""
        self.ensure_table()
        if created_at.tzinfo is not None:
            created_at = created_at.astimezone(timezone.utc).replace(tzinfo=None)
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    self._table.insert().values(
                        id=escalation_id, reason=reason, created_at=created_at
                    )
                )
        except IntegrityError:
            return False
        return True

    def ensure_table(self) -> None:
        """Creates the table if missing (once, with several instances starting)."""
        if self._table_ready:
            return
        with self._table_lock:
            if self._table_ready:
                return
            create_tables_once(self._engine, self._table.metadata)
            self._table_ready = True

    def dispose(self) -> None:
        """Closes the connection pool if this ledger created the engine."""
        if self._owns_engine:
            self._engine.dispose()


def ledger_from_env(environ: Optional[Mapping[str, str]] = None) -> SqlClaimLedger:
    """The ledger in the tracker store's database: $TRACKER_STORE_URL or the SQLite file.

    Every instance that shares conversations shares that database, so it is the natural
    place for the claims (same defaults as bot/server/stores.py).
    """
    env = os.environ if environ is None else environ
    url = (env.get("TRACKER_STORE_URL") or "").strip()
    if url:
        return SqlClaimLedger(url)
    path = (env.get("TRACKER_DB_PATH") or "").strip() or DEFAULT_SQLITE_PATH
    return SqlClaimLedger(f"sqlite:///{path}")
