"""CrisisCasePolicy: a crisis reply keeps to the session's case (bot/policies/crisis_case.py)."""

from __future__ import annotations

from typing import Any, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.crisis_case import CrisisCasePolicy, earlier_case, session_case
from tests.conftest import PROJECT_ROOT

SURE = 0.8  # config.yml's switch_probability


@pytest.mark.parametrize(
    ("previous", "reading", "probability", "expected"),
    [
        (None, "unsafe", 0.1, "unsafe"),  # the session's first crisis: its own reading
        ("unsafe", "unsafe", 0.1, "unsafe"),
        ("unsafe", "self", 0.79, "unsafe"),  # a follow-up read as another case, unsure
        ("unsafe", "self", 0.8, "self"),  # sure of a different, second crisis
        ("someone_else", "unsafe", 0.5, "someone_else"),
        ("self", "medical", 0.2, "medical"),  # the emergency reply always wins
        ("medical", "self", 0.5, "medical"),
        ("medical", "self", 0.99, "medical"),  # "I don't want an ambulance": the same emergency
        ("medical", "unsafe", 0.99, "medical"),
    ],
)
def test_the_case_a_crisis_reply_answers(previous, reading, probability, expected):
    assert session_case(previous, reading, probability, SURE) == expected


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path) -> CrisisCasePolicy:
    config = {**CrisisCasePolicy.get_default_config(), "switch_probability": SURE}
    context = ExecutionContext(GraphSchema({}), "test")
    return CrisisCasePolicy.create(config, LocalModelStorage(tmp_path), Resource("case"), context)


def said(intent: str, kind_probability: float = 1.0) -> UserUttered:
    parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": [],
             "crisis": {"kind_probability": kind_probability}}
    return UserUttered("(text)", parse["intent"], [], parse)


def crisis_turn(kind: Any, probability: float = 1.0) -> List[Event]:
    """A crisis message and its reply; `kind` None when Rasa sets no slot (the slot's
    initial value, self, was read)."""
    slot = [SlotSet("crisis_kind", kind)] if kind else []
    return [ActionExecuted("action_listen"), said("crisis", probability), *slot,
            SlotSet("crisis_flagged", True), ActionExecuted("utter_crisis")]


def tracker_after(domain: Domain, events: List[Event]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("someone", events, domain.slots)


def new_message(intent: str, kind: Any, probability: float) -> List[Event]:
    slot = [SlotSet("crisis_kind", kind)] if kind else []
    return [ActionExecuted("action_listen"), said(intent, probability), *slot]


START = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def test_a_follow_up_read_as_another_case_keeps_the_sessions_case(policy, domain):
    tracker = tracker_after(domain, [*START, *crisis_turn("unsafe"), *new_message("crisis", "self", 0.6)])
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert prediction.events == [SlotSet("crisis_kind", "unsafe")]
    assert max(prediction.probabilities) == 0.0  # it never chooses the action


def test_a_sure_reading_of_another_case_or_an_emergency_is_kept(policy, domain):
    for kind, probability in (("self", 0.95), ("medical", 0.3)):
        tracker = tracker_after(domain, [*START, *crisis_turn("unsafe"), *new_message("crisis", kind, probability)])
        assert policy.predict_action_probabilities(tracker, domain).events == []


def test_an_earlier_case_equal_to_the_slots_initial_value_counts(policy, domain):
    # Rasa logs no SlotSet when the reading equals the slot's value (self, its initial value).
    tracker = tracker_after(domain, [*START, *crisis_turn(None), *new_message("crisis", "someone_else", 0.4)])
    assert earlier_case(tracker, "self") == "self"
    assert policy.predict_action_probabilities(tracker, domain).events == [SlotSet("crisis_kind", "self")]


def test_the_latest_case_of_the_session_is_the_one_kept(policy, domain):
    events = [*START, *crisis_turn("unsafe"), *crisis_turn("medical"), *new_message("crisis", "self", 0.5)]
    assert policy.predict_action_probabilities(tracker_after(domain, events), domain).events == [
        SlotSet("crisis_kind", "medical")
    ]


def test_nothing_changes_for_a_first_crisis_a_new_session_or_another_intent(policy, domain):
    first = [*START, *new_message("crisis", "unsafe", 0.3)]
    earlier_session = [*START, *crisis_turn("unsafe"), *START, *new_message("crisis", "self", 0.3)]
    not_crisis = [*START, *crisis_turn("unsafe"), *new_message("faq", None, 0.3)]
    for events in (first, earlier_session, not_crisis):
        assert policy.predict_action_probabilities(tracker_after(domain, events), domain).events == []


def test_nothing_changes_once_the_reply_is_sent(policy, domain):
    events = [*START, *crisis_turn("unsafe"), *new_message("crisis", "self", 0.6), SlotSet("crisis_kind", "unsafe"),
              ActionExecuted("utter_crisis")]
    assert policy.predict_action_probabilities(tracker_after(domain, events), domain).events == []
