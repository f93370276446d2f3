"""The staff store on a real PostgreSQL server (tests/services.py; skipped where not installed).

What differs from SQLite is checked here: concurrent table creation, row-level races between
two servers, the partial unique index, boolean ordering, autoincrement ids, and the counter
of failed logins.
"""

from __future__ import annotations

from typing import Dict, Iterator

import pytest
import sqlalchemy as sa

from bot.server.staff.accounts import MAX_FAILED_LOGINS, LoginResult, StaffAccounts
from bot.server.staff.sessions import SessionStore
from bot.server.staff.store import (
    HandoffRepository,
    create_tables,
    engine_from_env,
    handoffs,
    metadata,
)
from tests.server.staff.conftest import CHEAP_HASHER, PASSWORD
from tests.server.staff.test_store import race
from tests.services import postgres_url  # noqa: F401 - fixture


@pytest.fixture
def environ(postgres_url: str) -> Iterator[Dict[str, str]]:  # noqa: F811
    engine = engine_from_env({"TRACKER_STORE_URL": postgres_url})
    metadata.drop_all(engine)
    engine.dispose()
    yield {"TRACKER_STORE_URL": postgres_url}


@pytest.fixture
def two_servers(environ: Dict[str, str]) -> Iterator[tuple]:
    engines = [engine_from_env(environ) for _ in range(2)]
    yield tuple(HandoffRepository(engine) for engine in engines)
    for engine in engines:
        engine.dispose()


def test_two_servers_create_the_tables_at_once(environ: Dict[str, str]) -> None:
    engines = [engine_from_env(environ) for _ in range(2)]
    for _ in range(3):
        metadata.drop_all(engines[0])
        race(lambda: create_tables(engines[0]), lambda: create_tables(engines[1]))
        assert {"handoffs", "staff_audit", "staff_sessions"} <= set(
            sa.inspect(engines[1]).get_table_names()
        )
    for engine in engines:
        engine.dispose()


def test_one_claim_wins_and_one_handoff_opens(two_servers: tuple) -> None:
    first, second = two_servers
    for attempt in range(15):
        sender = f"+4477009001{attempt:02d}"
        refs = race(
            lambda s=sender: first.open_handoff(s, "twilio", "crisis", True).ref,
            lambda s=sender: second.open_handoff(s, "twilio", "asked_for_person", False).ref,
        )
        assert refs[0] == refs[1]
        claims = race(
            lambda r=refs[0]: first.claim(r, "alice"), lambda r=refs[0]: second.claim(r, "bob")
        )
        assert sorted(claims) == [False, True]
    with first.engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(handoffs)).scalar_one() == 15
        )


def test_order_outbox_and_audit(two_servers: tuple) -> None:
    repository, _ = two_servers
    calm = repository.open_handoff("calm", "rest", "asked_for_person", False)
    urgent = repository.open_handoff("urgent", "rest", "crisis", True)
    assert [h.ref for h in repository.list()] == [urgent.ref, calm.ref]
    with pytest.raises(sa.exc.IntegrityError), repository.engine.begin() as connection:
        connection.execute(handoffs.insert().values(**{**urgent.__dict__, "ref": "y" * 24}))
    assert repository.claim(urgent.ref, "alice")
    first = repository.add_reply(urgent.ref, "alice", "Alice", "Hello")
    second = repository.add_reply(urgent.ref, "alice", "Alice", "Still there?")
    assert repository.replies_since(urgent.ref, first.id) == [second]
    repository.audit("alice", "reply", urgent.ref, f"reply {second.id}")
    assert repository.audit_log(1)[0].detail == f"reply {second.id}"
    assert repository.resolve(urgent.ref, "alice") and repository.open_for_sender("urgent") is None


def test_accounts_and_sessions(environ: Dict[str, str]) -> None:
    engine = engine_from_env(environ)
    accounts = StaffAccounts(engine, hasher=CHEAP_HASHER)
    accounts.add("alice", "Alice", PASSWORD)
    results = [accounts.verify("alice", "wrong password!").result for _ in range(MAX_FAILED_LOGINS)]
    assert (
        results[-1] is LoginResult.LOCKED
        and accounts.verify("alice", PASSWORD).result is LoginResult.LOCKED
    )
    sessions = SessionStore(engine)
    session = sessions.create("alice")
    assert sessions.get(session.token) == session
    sessions.delete(session.token)
    assert sessions.get(session.token) is None
    engine.dispose()
