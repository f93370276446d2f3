"""Fixtures for the staff inbox: a fresh SQLite database, a settable clock, cheap hashing.

Argon2 with its default cost takes tens of milliseconds and 64 MiB per hash; the tests use
the same algorithm with tiny parameters (CHEAP_HASHER) except where the cost is the point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from bot.server.staff.accounts import StaffAccounts
from bot.server.staff.sessions import SessionStore
from bot.server.staff.store import HandoffRepository, engine_from_env

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "a long enough passphrase"


class FakeClock:
    """time.time() that only moves when a test says so."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "var" / "tracker.db"


@pytest.fixture
def engine(db_path: Path) -> Any:
    engine: Engine = engine_from_env({"TRACKER_DB_PATH": str(db_path)})
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repository(engine: Engine, clock: FakeClock) -> HandoffRepository:
    return HandoffRepository(engine, clock)


@pytest.fixture
def accounts(engine: Engine, clock: FakeClock) -> StaffAccounts:
    return StaffAccounts(engine, clock, CHEAP_HASHER)


@pytest.fixture
def sessions(engine: Engine, clock: FakeClock) -> SessionStore:
    return SessionStore(engine, clock)
