"""Once per escalation: the claim ledger, in memory and in a shared SQLite file."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from bot.server.escalation import (
    ClaimLedger,
    InMemoryClaimLedger,
    Notifier,
    SqlClaimLedger,
    ledger_from_env,
)
from tests.server.escalation.conftest import (
    FAST,
    ReceiverFactory,
    SmtpServer,
    assert_no_content,
    caller_conversation,
    escalation_from,
    settings_for,
)

WHEN = dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=dt.timezone.utc)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


async def test_in_memory_claims_once() -> None:
    ledger = InMemoryClaimLedger()
    assert isinstance(ledger, ClaimLedger)
    assert await ledger.claim("esc-1", "crisis", WHEN) is True
    assert await ledger.claim("esc-1", "crisis", WHEN) is False
    assert await ledger.claim("esc-2", "crisis", WHEN) is True


async def test_sql_claims_once_across_ledgers_and_stores_no_content(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "claims.db")
    first, second = SqlClaimLedger(url), SqlClaimLedger(url)
    assert isinstance(first, ClaimLedger)
    assert await first.claim("esc-1", "crisis", WHEN) is True
    assert await second.claim("esc-1", "crisis", WHEN) is False
    assert await second.claim("esc-2", "asked_for_person", WHEN) is True
    first.dispose()
    second.dispose()

    engine = create_engine(url)
    columns = {column["name"] for column in inspect(engine).get_columns("escalation_notifications")}
    assert columns == {"id", "reason", "created_at"}
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, reason, created_at FROM escalation_notifications ORDER BY id")
        ).all()
    engine.dispose()
    assert [(row[0], row[1]) for row in rows] == [("esc-1", "crisis"), ("esc-2", "asked_for_person")]
    assert str(rows[0][2]).startswith("2024-05-01 12:34:56")


def test_concurrent_first_claims_on_a_new_file(tmp_path: Path) -> None:
    """Eight instances start at once on a file with no table: one creates it (the others
    tolerate that), and exactly one claim wins."""
    url = sqlite_url(tmp_path / "claims.db")
    ledgers = [SqlClaimLedger(url) for _ in range(8)]
    barrier = threading.Barrier(len(ledgers))

    def claim(ledger: SqlClaimLedger) -> bool:
        barrier.wait()
        return ledger.claim_sync("esc-race", "crisis", WHEN)

    with ThreadPoolExecutor(len(ledgers)) as pool:
        results: List[bool] = list(pool.map(claim, ledgers))
    for ledger in ledgers:
        ledger.dispose()
    assert results.count(True) == 1


def test_table_created_by_someone_else_is_fine(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "claims.db")
    SqlClaimLedger(url).ensure_table()
    late = SqlClaimLedger(url)
    late.ensure_table()  # checkfirst: nothing to do
    assert late.claim_sync("esc-1", "crisis", WHEN) is True
    late.dispose()


def test_losing_the_create_table_race_is_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance creates the table between our check and our CREATE TABLE."""
    url = sqlite_url(tmp_path / "claims.db")
    SqlClaimLedger(url).ensure_table()
    loser = SqlClaimLedger(url)
    metadata = loser._table.metadata
    create_all = metadata.create_all
    creates: List[bool] = []

    def create_without_check(bind: object, checkfirst: bool = True) -> None:
        creates.append(checkfirst)
        create_all(bind, checkfirst=False)  # as if the check had said "missing"

    monkeypatch.setattr(metadata, "create_all", create_without_check)
    assert loser.claim_sync("esc-1", "crisis", WHEN) is True
    assert creates == [True]  # the CREATE ran, failed on the existing table, was tolerated
    loser.dispose()


def test_other_table_errors_are_raised(tmp_path: Path) -> None:
    ledger = SqlClaimLedger(sqlite_url(tmp_path / "missing-dir" / "claims.db"))
    with pytest.raises(OperationalError):
        ledger.claim_sync("esc-1", "crisis", WHEN)
    ledger.dispose()


async def test_two_instances_sharing_one_sqlite_file_send_once(
    tmp_path: Path, webhook_receiver: ReceiverFactory, smtp_server: SmtpServer
) -> None:
    receiver = await webhook_receiver()
    env = {
        "NOTIFY_WEBHOOK_URL": receiver.url,
        "NOTIFY_WEBHOOK_SECRET": receiver.secret or "",
        "NOTIFY_SMTP_HOST": smtp_server.host,
        "NOTIFY_SMTP_PORT": str(smtp_server.port),
        "NOTIFY_SMTP_SECURITY": "none",
        "NOTIFY_EMAIL_FROM": "assistant@example-clinic.org",
        "NOTIFY_EMAIL_TO": "desk@example-clinic.org",
    }
    url = sqlite_url(tmp_path / "shared.db")
    # Two instances: own settings object, own ledger engine, one database file.
    instances = [Notifier(settings_for(**env), SqlClaimLedger(url), **FAST) for _ in range(2)]
    conversation = caller_conversation()

    # Both see the same escalation (each builds its own, equal, Escalation) at the same time.
    await asyncio.gather(*(n.notify(escalation_from(conversation, "crisis")) for n in instances))
    await asyncio.gather(*(n.drain() for n in instances))
    assert len(receiver.delivered) == 1
    assert len(smtp_server.inbox.envelopes) == 1

    # Again later (a retry by the caller, another worker): still once.
    await instances[1].notify(escalation_from(conversation, "crisis"))
    await instances[0].notify(escalation_from(conversation, "crisis"))
    await asyncio.gather(*(n.drain() for n in instances))
    assert len(receiver.delivered) == 1

    # A different escalation of the same conversation is its own notification.
    await instances[1].notify(escalation_from(conversation, "asked_for_person"))
    await asyncio.gather(*(n.drain() for n in instances))
    assert len(receiver.delivered) == 2
    assert len(smtp_server.inbox.envelopes) == 2
    assert [p["escalation"]["reason"] for p in receiver.delivered] == ["crisis", "asked_for_person"]

    for notifier in instances:
        await notifier.close()
        assert isinstance(notifier.ledger, SqlClaimLedger)
        notifier.ledger.dispose()


async def test_shared_in_memory_ledger_sends_once(webhook_receiver: ReceiverFactory) -> None:
    receiver = await webhook_receiver()
    settings = settings_for(NOTIFY_WEBHOOK_URL=receiver.url, NOTIFY_WEBHOOK_SECRET=receiver.secret or "")
    ledger = InMemoryClaimLedger()
    instances = [Notifier(settings, ledger, **FAST) for _ in range(3)]
    escalation = escalation_from(caller_conversation(), "asked_for_person")
    for notifier in instances:
        await notifier.notify(escalation)
    await asyncio.gather(*(n.drain() for n in instances))
    assert len(receiver.delivered) == 1
    for notifier in instances:
        await notifier.close()


class BrokenLedger:
    def __init__(self) -> None:
        self.calls = 0

    async def claim(self, escalation_id: str, reason: str, created_at: dt.datetime) -> bool:
        self.calls += 1
        raise ConnectionError("database is down: " + escalation_id)


async def test_unreachable_ledger_still_notifies(
    webhook_receiver: ReceiverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = await webhook_receiver()
    settings = settings_for(
        NOTIFY_WEBHOOK_URL=receiver.url, NOTIFY_WEBHOOK_SECRET=receiver.secret or "", NOTIFY_MAX_ATTEMPTS="3"
    )
    ledger = BrokenLedger()
    notifier = Notifier(settings, ledger, **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "crisis"))
    await notifier.drain()
    await notifier.close()
    assert ledger.calls == 3
    assert len(receiver.delivered) == 1
    assert "notifying without a claim" in caplog.text
    assert "ConnectionError" in caplog.text
    assert "database is down" not in caplog.text  # error messages are never logged
    assert_no_content(caplog.text)


def test_ledger_from_env(tmp_path: Path) -> None:
    ledger = ledger_from_env({"TRACKER_DB_PATH": str(tmp_path / "tracker.db")})
    assert ledger.engine.url.database == str(tmp_path / "tracker.db")
    ledger.dispose()
    ledger = ledger_from_env({"TRACKER_STORE_URL": "postgresql://rasa:pw@db:5432/rasa"})
    assert ledger.engine.url.drivername.startswith("postgresql")
    assert ledger.engine.url.database == "rasa"
    ledger.dispose()  # never connected
