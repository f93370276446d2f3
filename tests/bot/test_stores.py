import socket

import pytest
from rasa.core.lock_store import InMemoryLockStore

from bot.stores import (
    EnvironmentLockStore,
    EnvironmentTrackerStore,
    StoreUnavailable,
    redis_settings,
)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def no_store_env(monkeypatch):
    for name in ("TRACKER_STORE_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORE_CONNECT_TIMEOUT", "1")


def test_default_stores_are_sqlite_and_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "sub" / "tracker.db"))
    store = EnvironmentTrackerStore()
    assert store.engine.dialect.name == "sqlite"
    assert (tmp_path / "sub" / "tracker.db").exists()
    assert isinstance(EnvironmentLockStore(), InMemoryLockStore)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REDIS_URL": "redis://:s3cret@cache:6380/2"}, {"host": "cache", "port": 6380, "db": 2, "password": "s3cret", "use_ssl": False}),
        ({"REDIS_URL": "rediss://cache"}, {"host": "cache", "port": 6379, "db": 1, "password": None, "use_ssl": True}),
        ({"REDIS_HOST": "cache", "REDIS_PORT": "7000"}, {"host": "cache", "port": 7000, "db": 1, "password": None}),
        ({}, None),
    ],
)
def test_redis_settings_come_from_the_environment(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert redis_settings() == expected


def test_unreachable_redis_stops_the_start(monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/1")
    with pytest.raises(StoreUnavailable, match="Redis lock store"):
        EnvironmentLockStore()


def test_unreachable_database_stops_the_start(monkeypatch):
    monkeypatch.setenv("TRACKER_STORE_URL", f"postgresql://rasa:x@127.0.0.1:{closed_port()}/rasa")
    with pytest.raises(StoreUnavailable, match="tracker store database"):
        EnvironmentTrackerStore()


def test_sqlite_store_keeps_its_connection_in_wal_mode(tmp_path, monkeypatch):
    import asyncio

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))
    store = EnvironmentTrackerStore(domain=Domain.empty())
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    tracker = DialogueStateTracker.from_events("someone", [ActionExecuted("action_listen"), UserUttered("hi")])
    asyncio.run(store.save(tracker))
    # A second store on the same file, as another Rasa process would open it, reads it back.
    again = asyncio.run(EnvironmentTrackerStore(domain=Domain.empty()).retrieve("someone"))
    assert [e.type_name for e in again.events] == ["action", "user"]


def test_sqlite_synchronous_can_be_full_and_must_be_valid(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "full")
    with EnvironmentTrackerStore().engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    monkeypatch.setenv("SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(ValueError, match="SQLITE_SYNCHRONOUS"):
        EnvironmentTrackerStore()


def test_several_sanic_workers_need_redis(monkeypatch):
    monkeypatch.setenv("SANIC_WORKERS", "2")
    with pytest.raises(StoreUnavailable, match="SANIC_WORKERS"):
        EnvironmentLockStore()
    monkeypatch.setenv("SANIC_WORKERS", "1")
    assert isinstance(EnvironmentLockStore(), InMemoryLockStore)
