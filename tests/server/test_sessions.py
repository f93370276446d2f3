"""A conversation session ends after domain.yml's session_expiration_time, and nothing is carried over.

These run Rasa's own MessageProcessor session handling (expiry check, slot carry-over per
domain.yml) on the project's SQLite tracker store, with the action server down, so the
session starts as bot/server/resilience.py makes it start then: with Rasa's built-in
action_session_start. Only the model is left out: session handling does
not use it.
"""

from __future__ import annotations

import itertools
import socket
import time
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.referral import ActionReferToProfessional
from bot.server.stores import EnvironmentTrackerStore
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


class ProcessorWithoutModel(MessageProcessor):
    """Rasa's MessageProcessor with the project's domain in place of a trained model."""

    def __init__(self, domain: Domain, **kwargs) -> None:
        self._domain_for_test = domain
        super().__init__(model_path="no-model", **kwargs)

    def _load_model(self, model_path):  # type: ignore[override]
        metadata = SimpleNamespace(domain=self._domain_for_test, assistant_id="tms-assistant", model_id="test")
        return "no-model", metadata, None


@pytest.fixture
def store(tmp_path, monkeypatch, rasa_domain):
    for name in ("TRACKER_STORE_URL", "REDIS_URL", "REDIS_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))
    return EnvironmentTrackerStore(domain=rasa_domain)


@pytest.fixture
def processor(store, rasa_domain, monkeypatch):
    from rasa.core.actions.action import RemoteAction

    from bot.server.resilience import install_remote_action_fallback

    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)  # restored after each test
    install_remote_action_fallback(timeout_seconds=3)
    with socket.socket() as sock:  # nothing listens there: the action server is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return ProcessorWithoutModel(
        rasa_domain,
        tracker_store=store,
        lock_store=InMemoryLockStore(),
        generator=TemplatedNaturalLanguageGenerator(rasa_domain.responses),
        action_endpoint=EndpointConfig(f"http://127.0.0.1:{port}/webhook"),
    )


def user(text, intent, at):
    return UserUttered(text, {"name": intent, "confidence": 1.0}, timestamp=at,
                       parse_data={"text": text, "intent": {"name": intent, "confidence": 1.0}})


def crisis_session(started_at: float):
    """A session as Rasa records it: crisis, "just kidding", an answer with its referral, a handoff."""
    seconds = itertools.count()

    def t() -> float:  # one second per event
        return started_at + next(seconds)

    return [
        ActionExecuted("action_session_start", timestamp=t()), SessionStarted(timestamp=t()),
        SlotSet("crisis_region", "GB", timestamp=t()),
        ActionExecuted("action_listen", timestamp=t()),
        user("i want to die", "crisis", t()), SlotSet("crisis_flagged", True, timestamp=t()),
        ActionExecuted("utter_crisis", timestamp=t()), BotUttered("Please reach out...", timestamp=t()),
        ActionExecuted("action_listen", timestamp=t()),
        user("lol just kidding", "crisis_retracted", t()),
        ActionExecuted("utter_crisis_followup", timestamp=t()), BotUttered("Thank you for telling me...", timestamp=t()),
        ActionExecuted("action_listen", timestamp=t()),
        user("what is tms", "faq", t()),
        ActionExecuted("utter_faq", timestamp=t()),
        ActionExecuted("action_refer_to_professional", timestamp=t()), SlotSet("referral_count", 1.0, timestamp=t()),
        ActionExecuted("action_listen", timestamp=t()),
        user("can I talk to a person", "talk_to_human", t()),
        ActionExecuted("action_handoff_to_human", timestamp=t()), SlotSet("handoff_requested", True, timestamp=t()),
        SlotSet("referral_count", 2.0, timestamp=t()),
        ActionExecuted("action_listen", timestamp=t()),
    ]


async def store_conversation(store, rasa_domain, sender, events):
    from rasa.shared.core.trackers import DialogueStateTracker

    await store.save(DialogueStateTracker.from_events(sender, events, slots=rasa_domain.slots))


async def referral_for(tracker, domain_dict):
    """What the real referral action sends on the next answer of this tracker."""
    dispatcher = CollectingDispatcher()
    await ActionReferToProfessional().run(
        dispatcher, Tracker.from_dict(tracker.current_state(EventVerbosity.AFTER_RESTART)), domain_dict
    )
    return [m["response"] for m in dispatcher.messages]


def test_sessions_expire_after_an_hour_and_carry_nothing_over(rasa_domain):
    assert rasa_domain.session_config.session_expiration_time == 60
    assert rasa_domain.session_config.carry_over_slots is False


async def test_within_the_session_the_crisis_flag_stays_through_the_retraction(store, processor, rasa_domain, domain, monkeypatch):
    monkeypatch.delenv("CLINIC_NAME", raising=False)
    ten_minutes_ago = time.time() - 10 * 60
    await store_conversation(store, rasa_domain, "same-session", crisis_session(ten_minutes_ago))

    tracker = await processor.fetch_tracker_and_update_session("same-session", CollectingOutputChannel())

    assert sum(isinstance(e, SessionStarted) for e in tracker.events) == 1  # no new session
    assert tracker.get_slot("crisis_flagged") is True
    assert tracker.get_slot("referral_count") == 2.0
    assert await referral_for(tracker, domain) == ["utter_referral_reminder_2", "utter_crisis_reminder"]


async def test_a_returning_person_after_expiry_starts_clean_with_the_full_referral(store, processor, rasa_domain, domain, monkeypatch):
    monkeypatch.delenv("CLINIC_NAME", raising=False)
    two_hours_ago = time.time() - 2 * 60 * 60
    await store_conversation(store, rasa_domain, "returning", crisis_session(two_hours_ago))

    output = CollectingOutputChannel()
    tracker = await processor.fetch_tracker_and_update_session("returning", output)

    # Rasa's own action_session_start ran (the action server is down) and set no slot
    # (with carry-over, SlotSet events would come between session_started and action_listen).
    new_session = list(tracker.events)[-3:]
    assert [e.type_name for e in new_session] == ["action", "session_started", "action"]
    assert [new_session[0].action_name, new_session[2].action_name] == ["action_session_start", "action_listen"]
    assert output.messages == []
    assert tracker.get_slot("crisis_flagged") is False
    assert tracker.get_slot("referral_count") == 0.0
    assert tracker.get_slot("handoff_requested") is False
    assert tracker.get_slot("crisis_region") is None  # filled again from the next message's locale
    assert await referral_for(tracker, domain) == ["utter_referral_first"]

    # Saved: the next read is the new session only, and the old one is still stored.
    await processor.save_tracker(tracker)
    latest = await store.retrieve("returning")
    assert sum(isinstance(e, SessionStarted) for e in latest.events) == 1
    assert not [e for e in latest.events if isinstance(e, UserUttered)]
    assert latest.get_slot("crisis_flagged") is False
    assert latest.get_slot("referral_count") == 0.0
    everything = await store.retrieve_full_tracker("returning")
    assert sum(isinstance(e, SessionStarted) for e in everything.events) == 2


async def test_a_returning_person_gets_the_clinic_contacts_again(store, processor, rasa_domain, domain, monkeypatch):
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.delenv("CLINIC_BOOKING_URL", raising=False)
    await store_conversation(store, rasa_domain, "back-later", crisis_session(time.time() - 61 * 60))
    tracker = await processor.fetch_tracker_and_update_session("back-later", CollectingOutputChannel())
    assert await referral_for(tracker, domain) == ["utter_referral_first", "utter_clinic_contact_phone"]
