"""Real stores for the privacy tests: conversations go in through Rasa's own tracker store
(bot.server.stores.EnvironmentTrackerStore), inbox entries through the staff store, claims
through the escalation ledger; the tests then read the tables back with plain SQL.

`make_stores(environ)` works on SQLite (a fresh file per test) and on PostgreSQL
(tests/services.py's throwaway server, in the slow tests).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine

from bot.server.escalation.ledger import SqlClaimLedger
from bot.server.privacy.erase import ConversationEraser
from bot.server.privacy.feedback import FeedbackStore
from bot.server.staff.store import HandoffRepository, engine_from_env
from bot.server.staff.store import metadata as staff_metadata
from bot.server.stores import EnvironmentTrackerStore

STORE_VARIABLES = ("TRACKER_STORE_URL", "TRACKER_DB_PATH", "REDIS_URL", "REDIS_HOST", "REDIS_KEY_PREFIX")
START = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC

# A reply: (response name, text, button titles).
Reply = Tuple[str, str, Sequence[str]]
Turn = Tuple[str, Sequence[Reply]]

FAQ_TURN: Turn = (
    "how long is a session?",
    [
        ("utter_faq/session_length", "Each TMS session usually lasts about 20 to 40 minutes.", []),
        ("utter_referral_short", "Please talk with your doctor about what's right for you.", []),
    ],
)
GREETING_TURN: Turn = ("/greet", [("utter_greet", "Hi! I'm a virtual assistant.", ["What is TMS?"])])


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def conversation(start: float, turns: Sequence[Turn], session_first: bool = False) -> List[Event]:
    """Rasa events of a conversation: a session start, then each user message and its replies,
    one second apart (bot messages half a second after their action)."""
    events: List[Event] = [] if session_first else [ActionExecuted("action_session_start", timestamp=start)]
    events += [SessionStarted(timestamp=start), ActionExecuted("action_listen", timestamp=start)]
    now = start
    for text, replies in turns:
        now += 1
        events.append(UserUttered(text, intent={"name": "faq", "confidence": 0.97}, timestamp=now))
        for name, reply, buttons in replies:
            now += 1
            events.append(ActionExecuted(name, timestamp=now))
            events.append(
                BotUttered(
                    reply,
                    data={"buttons": [{"title": b, "payload": b} for b in buttons]} if buttons else {},
                    metadata={"utter_action": name},
                    timestamp=now + 0.5,
                )
            )
        events.append(ActionExecuted("action_listen", timestamp=now + 0.75))
    return events


@dataclass
class Stores:
    """One database (and optionally Redis) with every store a conversation lives in."""

    environ: Dict[str, str]
    tracker_store: EnvironmentTrackerStore
    engine: Engine
    handoffs: HandoffRepository
    ledger: SqlClaimLedger
    eraser: ConversationEraser
    feedback: FeedbackStore

    def save(self, sender_id: str, events: List[Event]) -> DialogueStateTracker:
        tracker = DialogueStateTracker.from_events(sender_id, events)
        asyncio.run(self.tracker_store.save(tracker))
        return tracker

    async def save_async(self, sender_id: str, events: List[Event]) -> DialogueStateTracker:
        tracker = DialogueStateTracker.from_events(sender_id, events)
        await self.tracker_store.save(tracker)
        return tracker

    def converse(self, sender_id: str, start: float = START, turns: Sequence[Turn] = (GREETING_TURN, FAQ_TURN)) -> DialogueStateTracker:
        return self.save(sender_id, conversation(start, turns))

    def escalate(self, sender_id: str) -> str:
        """An inbox entry with a staff reply and a notification claim; its reference."""
        handoff = self.handoffs.open_handoff(sender_id, "website", "crisis", urgent=True)
        self.handoffs.claim(handoff.ref, "alice")
        self.handoffs.add_reply(handoff.ref, "alice", "Dr Alice Smith", "Are you safe right now?")
        self.handoffs.audit("alice", "claim", handoff.ref)
        when = dt.datetime(2025, 6, 15, tzinfo=dt.timezone.utc)
        assert self.ledger.claim_sync(f"{handoff.ref}.crisis", "crisis", when)
        return handoff.ref

    def count(self, table: str, where: str = "", **params: Any) -> int:
        """Rows in a table, read with plain SQL."""
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar_one()

    def held(self, sender_id: str, ref: Optional[str] = None) -> Dict[str, int]:
        """Where this conversation still is, table by table."""
        counts = {
            "events": self.count("events", "sender_id = :s", s=sender_id),
            "handoffs": self.count("handoffs", "sender_id = :s", s=sender_id),
            "answer_feedback": self.count("answer_feedback", "sender_id = :s", s=sender_id),
        }
        if ref is not None:
            counts["staff_replies"] = self.count("staff_replies", "handoff_ref = :r", r=ref)
            counts["escalation_notifications"] = self.count(
                "escalation_notifications", "id LIKE :p", p=f"{ref}.%"
            )
        return counts


def make_stores(monkeypatch: pytest.MonkeyPatch, environ: Dict[str, str], clock: Callable[[], float]) -> Stores:
    for name in STORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STORE_CONNECT_TIMEOUT", "5")
    with warnings.catch_warnings():
        # Rasa 3.6's SQLTrackerStore builds its URL with SQLAlchemy 1.4's deprecated URL();
        # Rasa's warning, not this project's.
        warnings.filterwarnings("ignore", category=sa.exc.SADeprecationWarning)
        tracker_store = EnvironmentTrackerStore(domain=Domain.empty())
    engine = engine_from_env(environ)
    ledger = SqlClaimLedger(engine)
    ledger.ensure_table()
    return Stores(
        environ=dict(environ),
        tracker_store=tracker_store,
        engine=engine,
        handoffs=HandoffRepository(engine, clock),
        ledger=ledger,
        eraser=ConversationEraser(engine),
        feedback=FeedbackStore(engine, clock),
    )


def drop_everything(url: str) -> None:
    """A clean PostgreSQL database for the next test (the server is shared by the session)."""
    from bot.server.privacy.tables import metadata as privacy_metadata

    engine = engine_from_env({"TRACKER_STORE_URL": url})
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS events, escalation_notifications CASCADE")
    staff_metadata.drop_all(engine)
    privacy_metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[Stores]:
    stores = make_stores(monkeypatch, {"TRACKER_DB_PATH": str(tmp_path / "var" / "tracker.db")}, clock)
    yield stores
    stores.engine.dispose()
    stores.tracker_store.engine.dispose()
