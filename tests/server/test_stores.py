import socket

import pytest
from rasa.core.lock_store import InMemoryLockStore

from bot.server.stores import (
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


def _session_turns(session: int):
    """One conversation session as Rasa records it, in two turns."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        SessionStarted,
        SlotSet,
        UserUttered,
    )

    at = 100.0 * session
    text = f"what is tms {session}"
    return [
        [ActionExecuted("action_session_start", timestamp=at + 1), SessionStarted(timestamp=at + 2),
         ActionExecuted("action_listen", timestamp=at + 3)],
        [UserUttered(text, {"name": "faq", "confidence": 0.9}, timestamp=at + 4,
                     parse_data={"intent": {"name": "faq", "confidence": 0.9}, "text": text}),
         ActionExecuted("utter_faq", timestamp=at + 5),
         BotUttered("TMS is …", {"custom": {"x": "<b>é</b>"}}, timestamp=at + 6),
         SlotSet("region", "US", timestamp=at + 7), ActionExecuted("action_listen", timestamp=at + 8)],
    ]


def _rows(store):
    with store.engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.exec_driver_sql(
                "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"
            )
        ]


def _dicts(tracker):
    return [event.as_dict() for event in tracker.events]


@pytest.mark.parametrize("sessions", [1, 3])
def test_tracker_store_writes_and_reads_what_rasas_own_does(tmp_path, monkeypatch, sessions):
    """Our Core statements against Rasa's ORM code: same rows, same trackers back."""
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_yaml("slots:\n  region:\n    type: text\n    mappings: []\n")
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "ours.db"))
    ours = EnvironmentTrackerStore(domain=domain)
    rasas = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    turns = [turn for session in range(sessions) for turn in _session_turns(session)]
    for store in (ours, rasas):
        for turn in turns:  # as Rasa's processor does: fetch, add the turn's events, save
            tracker = asyncio.run(store.retrieve("person-1")) or DialogueStateTracker("person-1", domain.slots)
            for event in turn:
                tracker.update(event)
            asyncio.run(store.save(tracker))
        asyncio.run(store.save(tracker))  # saving an unchanged tracker adds nothing
    assert _rows(ours) == _rows(rasas)  # row for row, column for column
    assert len(_rows(ours)) == sum(len(turn) for turn in turns)

    rasa_on_our_file = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "ours.db"))
    for reader in (ours, rasa_on_our_file):
        latest = asyncio.run(reader.retrieve("person-1"))
        full = asyncio.run(reader.retrieve_full_tracker("person-1"))
        assert _dicts(latest) == _dicts(asyncio.run(rasas.retrieve("person-1")))
        assert _dicts(full) == _dicts(asyncio.run(rasas.retrieve_full_tracker("person-1")))
    latest = asyncio.run(ours.retrieve("person-1"))
    assert latest.events[0].type_name == "session_started"  # the latest session only
    assert len(latest.events) == len(turns[-2]) + len(turns[-1]) - 1
    assert latest.get_slot("region") == "US"
    assert asyncio.run(ours.retrieve("nobody")) is None


def test_tracker_store_uses_rasas_code_with_a_postgresql_schema(tmp_path, monkeypatch):
    import asyncio

    from rasa.shared.core.domain import Domain

    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "t.db"))
    monkeypatch.setenv("POSTGRESQL_SCHEMA", "clinic")
    store = EnvironmentTrackerStore(domain=Domain.empty())
    calls = []
    monkeypatch.setattr(
        "rasa.core.tracker_store.SQLTrackerStore._additional_events",
        lambda self, session, tracker: calls.append(tracker.sender_id) or iter(()),
    )
    monkeypatch.setattr("rasa.core.tracker_store.ensure_schema_exists", lambda session: None)
    from rasa.shared.core.trackers import DialogueStateTracker

    asyncio.run(store.save(DialogueStateTracker.from_events("p", _session_turns(0)[0])))
    assert calls == ["p"]


def _store_with_two_turns(tmp_path, monkeypatch, **env):
    import asyncio

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "t.db"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    domain = Domain.from_yaml("slots:\n  region:\n    type: text\n    mappings: []\n")
    store = EnvironmentTrackerStore(domain=domain)
    for turn in _session_turns(0):
        tracker = asyncio.run(store.retrieve("p")) or DialogueStateTracker("p", domain.slots)
        for event in turn:
            tracker.update(event)
        asyncio.run(store.save(tracker))
    return store, domain, tracker


def test_a_saved_tracker_is_handed_back_once_and_matches_the_database(tmp_path, monkeypatch):
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore

    store, domain, saved = _store_with_two_turns(tmp_path, monkeypatch)
    # The first turn began with "action_session_start": a read would not return that
    # event, so that tracker was not kept; the second turn's tracker came from a read.
    kept = asyncio.run(store.retrieve("p"))
    from_database = asyncio.run(SQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db")).retrieve("p"))
    assert kept is saved and kept.events[0].type_name == "session_started"
    assert _dicts(kept) == _dicts(from_database)
    assert kept.current_state() == from_database.current_state()
    # Handed out, not shared: a second read (e.g. through the HTTP API) reads the database.
    again = asyncio.run(store.retrieve("p"))
    assert again is not kept and _dicts(again) == _dicts(kept)


def test_unsaved_changes_are_never_handed_back(tmp_path, monkeypatch):
    import asyncio

    from rasa.shared.core.events import UserUttered

    store, _, _ = _store_with_two_turns(tmp_path, monkeypatch)
    taken = asyncio.run(store.retrieve("p"))
    taken.update(UserUttered("lost in a crash"))  # the message fails before the save
    fresh = asyncio.run(store.retrieve("p"))
    assert "lost in a crash" not in [getattr(e, "text", None) for e in fresh.events]


@pytest.mark.parametrize("env", [{"TRACKER_CACHE": "0"}, {"REDIS_URL": "redis://localhost:1/1"}])
def test_trackers_are_not_kept_when_turned_off_or_with_shared_locks(tmp_path, monkeypatch, env):
    import asyncio

    store, _, _ = _store_with_two_turns(tmp_path, monkeypatch, **env)
    first = asyncio.run(store.retrieve("p"))
    asyncio.run(store.save(first))
    assert asyncio.run(store.retrieve("p")) is not first
