"""Retention on SQLite with an injected clock: what expires, the audit row, the lock, the
schedule and the command line."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import threading
import time
from typing import List

import pytest

from bot.server.privacy import cli
from bot.server.privacy.erase import ConversationEraser
from bot.server.privacy.retention import (
    DUE_AFTER_SECONDS,
    LEASE_SECONDS,
    JobLock,
    RetentionJob,
    run_forever,
)
from tests.server.privacy.conftest import (
    FAQ_TURN,
    GREETING_TURN,
    START,
    FakeClock,
    Stores,
    conversation,
)

DAY = 24 * 60 * 60
EACH = len(conversation(START, (GREETING_TURN, FAQ_TURN)))  # events of one test conversation


def sender(number: int) -> str:
    return f"web-{number:032x}"


def audit_rows(stores: Stores) -> List[tuple]:
    with stores.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.exec_driver_sql(
                "SELECT retention_days, conversations, events, dry_run, trigger FROM privacy_retention_runs ORDER BY id"
            )
        ]


def test_old_conversations_go_recent_ones_stay(sqlite_stores: Stores, clock: FakeClock, caplog) -> None:
    stores = sqlite_stores
    old = [sender(n) for n in range(5)]
    for number, person in enumerate(old):
        stores.converse(person, start=START - (31 + number) * DAY)
    stores.escalate(old[0])
    stores.converse(sender(10), start=START - 29 * DAY)  # inside the 30 days
    came_back = conversation(START - 31 * DAY, (GREETING_TURN, FAQ_TURN))
    stores.save(sender(11), came_back)
    stores.save(sender(11), came_back + conversation(START - DAY, [FAQ_TURN]))  # yesterday: stays
    # Leftovers of conversations deleted by hand: an inbox entry and a rating, both old.
    stores.handoffs.clock = FakeClock(START - 40 * DAY)
    stores.handoffs.open_handoff(sender(20), "telegram", "asked_for_person", False)
    stores.feedback.clock = FakeClock(START - 40 * DAY)
    stores.feedback.upsert(sender(21), START - 40 * DAY, "utter_faq/x", True)
    stores.feedback.clock = FakeClock(START - DAY)
    stores.feedback.upsert(sender(22), START - DAY, "utter_faq/x", True)  # recent: stays
    job = RetentionJob(stores.engine, 30, eraser=stores.eraser, clock=clock)

    with caplog.at_level(logging.INFO, logger="bot.server.privacy"):
        result = asyncio.run(job.run())

    assert (result.ran, result.conversations, result.events) == (True, 7, 5 * EACH)
    assert (result.counts.handoffs, result.counts.staff_replies, result.counts.feedback) == (2, 1, 1)
    assert stores.count("events", "sender_id IN (:a, :b)", a=sender(10), b=sender(11)) == stores.count("events")
    assert stores.count("handoffs") == 0
    assert stores.count("answer_feedback") == 1
    assert audit_rows(stores) == [(30, 7, 5 * EACH, 0, "command")]
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [f"Retention (30 days): removed 7 conversations ({5 * EACH} events) in 0.0 s."]
    assert not any(sender(n) in line for line in lines for n in range(30))


def test_a_dry_run_counts_and_deletes_nothing(sqlite_stores: Stores, clock: FakeClock) -> None:
    stores = sqlite_stores
    for number in range(3):
        stores.converse(sender(number), start=START - 60 * DAY)
    job = RetentionJob(stores.engine, 30, eraser=stores.eraser, clock=clock)
    result = asyncio.run(job.run(dry_run=True))
    assert (result.conversations, result.events, result.dry_run) == (3, 3 * EACH, True)
    assert stores.count("events") == 3 * EACH
    assert audit_rows(stores) == [(30, 3, 3 * EACH, 1, "command")]
    assert job.due(), "a dry run does not count as the day's run"


def test_a_conversation_that_got_a_new_message_meanwhile_is_kept(sqlite_stores: Stores, clock: FakeClock) -> None:
    stores = sqlite_stores
    old = stores.converse(sender(1), start=START - 40 * DAY).events
    cutoff = START - 30 * DAY
    stores.save(sender(1), list(old) + conversation(START, [FAQ_TURN]))  # after the listing, before the delete
    assert stores.eraser.erase(sender(1), idle_before=cutoff) is None
    assert stores.count("events") > 0


def test_two_runs_at_once_one_runs(sqlite_stores: Stores, clock: FakeClock) -> None:
    """The first run holds the lock while it deletes; the second, started meanwhile on
    another connection (as another instance would), does nothing."""
    stores = sqlite_stores
    for number in range(3):
        stores.converse(sender(number), start=START - 60 * DAY)
    started, may_go_on = threading.Event(), threading.Event()

    class SlowEraser(ConversationEraser):
        def erase(self, sender_id, idle_before=None):
            started.set()
            assert may_go_on.wait(30)
            return super().erase(sender_id, idle_before)

    from bot.server.staff.store import engine_from_env

    other_engine = engine_from_env(stores.environ)
    first = RetentionJob(stores.engine, 30, eraser=SlowEraser(stores.engine), clock=clock)
    second = RetentionJob(other_engine, 30, eraser=ConversationEraser(other_engine), clock=clock)

    async def both() -> tuple:
        running = asyncio.create_task(first.run())
        await asyncio.to_thread(started.wait, 30)
        refused = await second.run()
        may_go_on.set()
        return await running, refused

    done, refused = asyncio.run(both())
    other_engine.dispose()
    assert (done.ran, done.conversations) == (True, 3)
    assert (refused.ran, refused.reason) == (False, "locked")
    assert len(audit_rows(stores)) == 1
    assert stores.count("privacy_job_locks") == 0, "released"


def test_a_lease_left_by_a_dead_instance_expires(sqlite_stores: Stores, clock: FakeClock) -> None:
    dead = JobLock(sqlite_stores.engine, "retention", clock=clock)
    assert dead.acquire()
    alive = JobLock(sqlite_stores.engine, "retention", clock=clock)
    assert not alive.acquire()
    clock.now += LEASE_SECONDS + 1
    assert alive.acquire() and alive.renew()
    assert not dead.renew(), "the dead instance's lease is gone"
    dead.release()  # releases nothing of the new holder's
    assert sqlite_stores.count("privacy_job_locks") == 1
    alive.release()
    assert sqlite_stores.count("privacy_job_locks") == 0


def test_the_scheduled_run_is_once_a_day_across_instances(sqlite_stores: Stores, clock: FakeClock) -> None:
    stores = sqlite_stores
    job = RetentionJob(stores.engine, 30, eraser=stores.eraser, clock=clock)
    assert asyncio.run(job.run(trigger="schedule", only_if_due=True)).ran
    clock.now += 60 * 60
    other_instance = RetentionJob(stores.engine, 30, eraser=stores.eraser, clock=clock)
    assert asyncio.run(other_instance.run(trigger="schedule", only_if_due=True)).reason == "not_due"
    clock.now += DUE_AFTER_SECONDS
    assert asyncio.run(other_instance.run(trigger="schedule", only_if_due=True)).ran
    assert [row[-1] for row in audit_rows(stores)] == ["schedule", "schedule"]


def test_run_forever_checks_at_each_interval_and_survives_errors(caplog) -> None:
    sleeps: List[float] = []
    calls: List[str] = []

    class Job:
        async def run(self, **options):
            calls.append(options["trigger"])
            if len(calls) == 1:
                raise ConnectionError("database down")

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 4:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run_forever(Job, first_delay=300, every=3600, sleep=sleep))
    assert sleeps == [300, 3600, 3600, 3600] and calls == ["schedule"] * 3
    assert "Retention run failed: ConnectionError" in caplog.text


def test_the_command(sqlite_stores: Stores, capsys) -> None:
    stores = sqlite_stores
    now = time.time()
    stores.converse(sender(1), start=now - 10 * DAY)
    stores.converse(sender(2), start=now - 3 * DAY)
    out = io.StringIO()
    args = argparse.Namespace(days=None, dry_run=True)
    assert cli.run(args, {**stores.environ, "RETENTION_DAYS": "5"}, out) == 0
    assert out.getvalue().startswith(f"Would delete 1 conversations ({EACH} events) whose last message is older than 5 days")
    assert stores.count("events") == 2 * EACH
    out = io.StringIO()
    assert cli.run(argparse.Namespace(days=2, dry_run=False), stores.environ, out) == 0
    assert out.getvalue().startswith(f"Deleted 2 conversations ({2 * EACH} events)")
    assert stores.count("events") == 0
    assert [row[-1] for row in audit_rows(stores)] == ["command", "command"]
    assert cli.run(argparse.Namespace(days=0, dry_run=False), stores.environ, out) == 2
    assert cli.run(argparse.Namespace(days=None, dry_run=False), {**stores.environ, "RETENTION_DAYS": "x"}, out) == 2
    assert "RETENTION_DAYS must be" in capsys.readouterr().err


def test_the_command_is_wired_into_python_m_bot(monkeypatch) -> None:
    from bot import __main__ as main

    seen = []
    monkeypatch.setattr(main.privacy_cli, "run", lambda args: seen.append((args.days, args.dry_run)) or 0)
    assert main.main(["retention", "--days", "7", "--dry-run"]) == 0
    assert seen == [(7, True)]
