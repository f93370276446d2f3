"""Retention: deleting every conversation idle for longer than $RETENTION_DAYS.

A conversation is expired when its last event is older than the cutoff (now minus the
retention days). Each one is deleted like a person's own deletion (erase.py: tracker rows,
Redis lock key, staff inbox entries and replies, escalation claims, feedback, in-process
copies), under the conversation's lock, and only if no newer event arrived meanwhile. Inbox
entries and feedback whose conversation is already gone expire the same way, by their own
last change.

One instance at a time: a run first takes a lease on the row `retention` of
`privacy_job_locks` (an INSERT, or an UPDATE of an expired lease: one statement the
database decides, on SQLite and PostgreSQL alike) and renews it as it goes; another
instance finding it held does nothing. The scheduled run inside the Rasa server
(web.py) also skips when any instance finished a run in the last day, so several
instances between them run it once a day.

Every run writes one row to `privacy_retention_runs` (when, cutoff, how many conversations
and events; never content, never sender ids) and one log line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.server.privacy.erase import (
    ConversationEraser,
    DeletionCounts,
    erase_locked,
    resolve_lock_store,
)
from bot.server.privacy.settings import RETENTION_INTERVAL_SECONDS
from bot.server.privacy.tables import (
    answer_feedback,
    create_tables,
    existing_tables,
    job_locks,
    retention_runs,
    tracker_events,
)
from bot.server.staff.store import handoffs

logger = logging.getLogger(__name__)

DAY = 24 * 60 * 60
LOCK_NAME = "retention"
LEASE_SECONDS = 15 * 60
RENEW_EVERY = 100  # conversations between lease renewals
# A scheduled run is due this long after the last one: an hour less than a day, because
# servers check hourly and the run should not drift a little later every day.
DUE_AFTER_SECONDS = RETENTION_INTERVAL_SECONDS - 60 * 60

Clock = Callable[[], float]


class JobLock:
    """A lease on one row of `privacy_job_locks`: held by one holder until released or expired."""

    def __init__(
        self, engine: Engine, name: str, lease_seconds: float = LEASE_SECONDS, clock: Clock = time.time
    ) -> None:
        self.engine = engine
        self.name = name
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.holder = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self) -> bool:
        now = self.clock()
        values = {"holder": self.holder, "expires_at": now + self.lease_seconds}
        try:
            with self.engine.begin() as connection:
                connection.execute(job_locks.insert().values(name=self.name, **values))
            return True
        except sa.exc.IntegrityError:
            pass
        with self.engine.begin() as connection:
            taken = connection.execute(
                job_locks.update()
                .where(job_locks.c.name == self.name, job_locks.c.expires_at < now)
                .values(**values)
            )
        return taken.rowcount == 1

    def renew(self) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(
                job_locks.update()
                .where(job_locks.c.name == self.name, job_locks.c.holder == self.holder)
                .values(expires_at=self.clock() + self.lease_seconds)
            )
        return result.rowcount == 1

    def release(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                job_locks.delete().where(job_locks.c.name == self.name, job_locks.c.holder == self.holder)
            )


@dataclass
class RetentionResult:
    """What a run did. `ran` is False when another instance held the lock or none was due."""

    ran: bool
    reason: str  # "done", "locked" or "not_due"
    retention_days: int
    cutoff: float
    dry_run: bool = False
    conversations: int = 0
    events: int = 0
    seconds: float = 0.0
    counts: DeletionCounts = field(default_factory=DeletionCounts)


class RetentionJob:
    """Deletes expired conversations from the tracker store's database (and Redis, caches)."""

    def __init__(
        self,
        engine: Engine,
        days: int,
        *,
        eraser: Optional[ConversationEraser] = None,
        agent: Any = None,
        clock: Clock = time.time,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        if days < 1:
            raise ValueError("retention needs at least one day")
        self.engine = engine
        self.days = days
        self.eraser = eraser or ConversationEraser(engine)
        self.agent = agent  # the running Rasa agent: its lock store and caches
        self.clock = clock
        self.lease_seconds = lease_seconds
        create_tables(engine)

    def cutoff(self) -> float:
        return self.clock() - self.days * DAY

    # What is expired -------------------------------------------------------------------

    def expired(self, cutoff: float) -> List[str]:
        """Sender ids whose conversation (or leftover inbox entry or feedback) is older than
        the cutoff. Only ever held in memory; never logged."""
        tables = existing_tables(self.engine)
        senders: List[str] = []
        with self.engine.connect() as connection:
            if "events" in tables:
                senders += connection.execute(
                    sa.select(tracker_events.c.sender_id)
                    .group_by(tracker_events.c.sender_id)
                    .having(sa.func.max(tracker_events.c.timestamp) < cutoff)
                ).scalars()
            # Every change of an inbox entry (a message from the person too) sets updated_at.
            for table, changed in (
                (handoffs, handoffs.c.updated_at),
                (answer_feedback, answer_feedback.c.updated_at),
            ):
                if table.name not in tables:
                    continue
                orphaned = sa.select(table.c.sender_id).where(
                    ~sa.exists().where(tracker_events.c.sender_id == table.c.sender_id)
                    if "events" in tables
                    else sa.true()
                )
                senders += connection.execute(
                    orphaned.group_by(table.c.sender_id).having(sa.func.max(changed) < cutoff)
                ).scalars()
        return list(dict.fromkeys(senders))

    def _count_events(self, senders: List[str]) -> int:
        if not senders or "events" not in existing_tables(self.engine):
            return 0
        total = 0
        with self.engine.connect() as connection:
            for start in range(0, len(senders), 500):
                chunk = senders[start : start + 500]
                total += connection.execute(
                    sa.select(sa.func.count()).select_from(tracker_events).where(tracker_events.c.sender_id.in_(chunk))
                ).scalar_one()
        return total

    # Running ---------------------------------------------------------------------------

    def last_run_at(self) -> Optional[float]:
        """When the last real (not dry) run finished, on any instance."""
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.max(retention_runs.c.finished_at)).where(retention_runs.c.dry_run == sa.false())
            ).scalar()

    def due(self) -> bool:
        last = self.last_run_at()
        return last is None or self.clock() - last >= DUE_AFTER_SECONDS

    async def run(self, *, dry_run: bool = False, trigger: str = "command", only_if_due: bool = False) -> RetentionResult:
        """One run, if this instance gets the lock (and, with only_if_due, one is due)."""
        started = self.clock()
        cutoff = started - self.days * DAY
        lock = JobLock(self.engine, LOCK_NAME, self.lease_seconds, self.clock)
        if not await asyncio.to_thread(lock.acquire):
            logger.info("Retention: another instance is running it; nothing done here.")
            return RetentionResult(False, "locked", self.days, cutoff, dry_run)
        try:
            if only_if_due and not await asyncio.to_thread(self.due):
                return RetentionResult(False, "not_due", self.days, cutoff, dry_run)
            result = await self._run_locked(lock, cutoff, dry_run)
            result.seconds = self.clock() - started
            await asyncio.to_thread(self._audit, started, result, trigger)
        finally:
            await asyncio.to_thread(lock.release)
        verb = "would remove" if dry_run else "removed"
        logger.info(
            "Retention (%d days): %s %d conversations (%d events) in %.1f s.",
            self.days, verb, result.conversations, result.events, result.seconds,
        )
        return result

    async def _run_locked(self, lock: JobLock, cutoff: float, dry_run: bool) -> RetentionResult:
        senders = await asyncio.to_thread(self.expired, cutoff)
        result = RetentionResult(True, "done", self.days, cutoff, dry_run)
        if dry_run:
            result.conversations = len(senders)
            result.events = await asyncio.to_thread(self._count_events, senders)
            return result
        lock_store = await resolve_lock_store(self.agent)
        for number, sender_id in enumerate(senders, start=1):
            counts = await erase_locked(sender_id, self.eraser, lock_store, self.agent, idle_before=cutoff)
            if counts is not None and counts.found:
                result.conversations += 1
                result.counts = result.counts + counts
            if number % RENEW_EVERY == 0:
                await asyncio.to_thread(lock.renew)
        result.events = result.counts.events
        return result

    def _audit(self, started: float, result: RetentionResult, trigger: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                retention_runs.insert().values(
                    started_at=started,
                    finished_at=self.clock(),
                    retention_days=result.retention_days,
                    cutoff=result.cutoff,
                    conversations=result.conversations,
                    events=result.events,
                    dry_run=result.dry_run,
                    trigger=trigger,
                )
            )


async def run_forever(
    make_job: Callable[[], RetentionJob],
    first_delay: float,
    every: float,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """The Rasa server's daily retention: checks every `every` seconds whether a run is due
    (on any instance) and runs it. Errors are logged (their class only) and tried again at
    the next check."""
    await sleep(first_delay)
    while True:
        try:
            job = await asyncio.to_thread(make_job)  # opens the database: not on the event loop
            await job.run(trigger="schedule", only_if_due=True)
        except Exception as error:  # noqa: BLE001 - the next check must still happen
            logger.error("Retention run failed: %s", type(error).__name__)
        await sleep(every)
