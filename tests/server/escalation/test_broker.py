"""The escalation broker, fed by the real tracker store as Rasa feeds it."""

from __future__ import annotations

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.server.escalation.broker import EscalationBroker, escalation_reason
from bot.server.escalation.ledger import SqlClaimLedger
from bot.server.escalation.notify import Notifier
from bot.server.staff.store import HandoffRepository, create_tables, engine_from_env
from bot.server.stores import EnvironmentTrackerStore
from tests.conftest import PROJECT_ROOT
from tests.server.escalation.conftest import (
    STAFF_INBOX,
    WEBHOOK_SECRET,
    assert_no_content,
    settings_for,
)

PLANTED = "my neighbour 555-0199 should never see this"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"event": "slot", "name": "handoff_requested", "value": True}, "asked_for_person"),
        ({"event": "slot", "name": "handoff_requested", "value": False}, None),
        ({"event": "slot", "name": "crisis_flagged", "value": True}, None),
        ({"event": "user", "parse_data": {"intent": {"name": "crisis"}}}, "crisis"),
        ({"event": "user", "parse_data": {"intent": {"name": "crisis_retracted"}}}, None),
        ({"event": "user", "parse_data": {"intent": {"name": "faq"}}}, None),
        ({"event": "user"}, None),
        ({"event": "action", "name": "action_handoff_to_human"}, None),
    ],
)
def test_escalation_reason(event, reason):
    assert escalation_reason(event) == reason


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))
    engine = engine_from_env({"TRACKER_DB_PATH": str(tmp_path / "tracker.db")})
    create_tables(engine)
    return engine


@pytest.fixture
def domain():
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


async def save_turn(store, sender, *events):
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, store.domain.slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


async def test_a_request_for_a_person_opens_the_inbox_entry_and_notifies_once(database, domain, webhook_receiver):
    receiver = await webhook_receiver()
    notifier = Notifier(settings_for(NOTIFY_WEBHOOK_URL=receiver.url, NOTIFY_WEBHOOK_SECRET=WEBHOOK_SECRET),
                        SqlClaimLedger(database), base_delay=0.01)
    broker = EscalationBroker(HandoffRepository(database), notifier)
    store = EnvironmentTrackerStore(domain, event_broker=broker)
    ask = UserUttered(PLANTED, {"name": "talk_to_human", "confidence": 1.0}, input_channel="telegram")
    await save_turn(store, "+15550199", ask, ActionExecuted("action_handoff_to_human"), SlotSet("handoff_requested", True))
    # Asking again while the entry is open is the same escalation: no second notification.
    await save_turn(store, "+15550199", ask, ActionExecuted("action_handoff_to_human"), SlotSet("handoff_requested", True))
    await broker.drain()

    [handoff] = HandoffRepository(database).list()
    assert (handoff.reason, handoff.channel, handoff.urgent, handoff.status) == ("asked_for_person", "telegram", False, "waiting")
    assert handoff.sender_id == "+15550199" and handoff.ref != handoff.sender_id
    [delivered] = receiver.delivered
    assert delivered["escalation"]["reason"] == "asked_for_person"
    assert f"{STAFF_INBOX}/conversations/{handoff.ref}" in delivered["text"]
    assert_no_content(receiver.raw_bodies, receiver.raw_headers)
    await broker.close()


async def test_crisis_language_marks_the_entry_urgent_and_sends_an_urgent_alert(database, domain, webhook_receiver):
    receiver = await webhook_receiver()
    notifier = Notifier(settings_for(NOTIFY_WEBHOOK_URL=receiver.url, NOTIFY_WEBHOOK_SECRET=WEBHOOK_SECRET),
                        SqlClaimLedger(database), base_delay=0.01)
    broker = EscalationBroker(HandoffRepository(database), notifier)
    store = EnvironmentTrackerStore(domain, event_broker=broker)
    await save_turn(store, "web-1", UserUttered(PLANTED, {"name": "crisis", "confidence": 1.0}, input_channel="rest"),
                    ActionExecuted("utter_crisis"))
    await broker.drain()
    [handoff] = HandoffRepository(database).list()
    assert (handoff.reason, handoff.channel, handoff.urgent) == ("crisis", "website", True)
    [delivered] = receiver.delivered
    assert delivered["text"].startswith("URGENT:")
    assert_no_content(receiver.raw_bodies)
    await broker.close()


async def test_ordinary_turns_escalate_nothing(database, domain):
    broker = EscalationBroker(HandoffRepository(database), None)
    store = EnvironmentTrackerStore(domain, event_broker=broker)
    await save_turn(store, "web-2", UserUttered("how long is a session", {"name": "faq", "confidence": 1.0}),
                    ActionExecuted("utter_faq"), SlotSet("referral_count", 1.0))
    await broker.drain()
    assert HandoffRepository(database).list() == []


async def test_an_unreachable_database_never_breaks_the_turn(domain, caplog):
    class BrokenRepository:
        def open_handoff(self, *args):
            raise OSError("database down")

    broker = EscalationBroker(BrokenRepository(), None)
    store = EnvironmentTrackerStore(domain, event_broker=broker)
    await save_turn(store, "web-3", UserUttered(PLANTED, {"name": "crisis", "confidence": 1.0}))
    await broker.drain()
    assert "Escalation (crisis, website) failed: OSError." in caplog.text
    assert PLANTED not in caplog.text
    assert (await store.retrieve("web-3")).latest_message.text == PLANTED


async def test_built_from_the_environment_with_notifications_off(database, monkeypatch):
    for name in ("NOTIFY_SMTP_HOST", "NOTIFY_WEBHOOK_URL", "STAFF_INBOX_URL"):
        monkeypatch.delenv(name, raising=False)
    broker = await EscalationBroker.from_endpoint_config(None)
    assert broker._notifier is None
    await broker.close()


async def test_a_half_configured_notification_stops_the_start(database, monkeypatch):
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.org/x")
    monkeypatch.delenv("STAFF_INBOX_URL", raising=False)
    with pytest.raises(ValueError, match="STAFF_INBOX_URL"):
        await EscalationBroker.from_endpoint_config(None)


async def test_with_no_inbox_and_no_notifications_no_crisis_entry_is_kept(database, domain):
    # Nobody would ever read it: storing who was in crisis would only keep health data.
    broker = EscalationBroker(HandoffRepository(database), None, inbox_in_use=lambda: False)
    store = EnvironmentTrackerStore(domain, event_broker=broker)
    await save_turn(store, "web-4", UserUttered(PLANTED, {"name": "crisis", "confidence": 1.0}))
    await broker.drain()
    assert HandoffRepository(database).list() == []
    watched = EscalationBroker(HandoffRepository(database), None, inbox_in_use=lambda: True)
    store = EnvironmentTrackerStore(domain, event_broker=watched)
    await save_turn(store, "web-5", UserUttered(PLANTED, {"name": "crisis", "confidence": 1.0}))
    await watched.drain()
    assert [h.sender_id for h in HandoffRepository(database).list()] == ["web-5"]
