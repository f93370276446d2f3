"""UnsureOutOfScopeAfterCrisisPolicy: after a crisis, an unsure out-of-scope reading gets the
crisis reply again (bot/policies/unsure_out_of_scope.py)."""

from __future__ import annotations

from typing import List

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered

from bot.policies.unsure_out_of_scope import UnsureOutOfScopeAfterCrisisPolicy, cannot_call
from tests.conftest import PROJECT_ROOT
from tests.policies.predictions import predicted
from tooling.evaluation import tms_question_keeps_reply, unsure_answer_bar, unsure_out_of_scope_bar

REPLY = ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"]
START = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
CRISIS_TURN = [ActionExecuted("action_listen"), UserUttered("(text)", {"name": "crisis", "confidence": 1.0}),
               SlotSet("crisis_flagged", True), ActionExecuted("utter_crisis")]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path) -> UnsureOutOfScopeAfterCrisisPolicy:
    config = {**UnsureOutOfScopeAfterCrisisPolicy.get_default_config(), "confidence_below": 0.95,
              "answer_confidence_below": 0.43, "tms_question_keeps_reply": True}
    context = ExecutionContext(GraphSchema({}), "test")
    return UnsureOutOfScopeAfterCrisisPolicy.create(config, LocalModelStorage(tmp_path), Resource("unsure"), context)


def message(intent: str, confidence: float, text: str = "(text)") -> List[Event]:
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": intent, "confidence": confidence})]


def test_after_a_crisis_an_unsure_out_of_scope_reading_gets_the_reply_one_action_at_a_time(policy, domain):
    events = [*START, *CRISIS_TURN, *message("out_of_scope", 0.6)]
    for expected in [*REPLY, "action_listen"]:
        assert predicted(policy, domain, events) == expected
        events.append(ActionExecuted(expected))


def test_a_sure_out_of_scope_reading_another_intent_or_no_crisis_gets_no_prediction(policy, domain):
    assert predicted(policy, domain, [*START, *CRISIS_TURN, *message("out_of_scope", 0.95)]) is None
    assert predicted(policy, domain, [*START, *CRISIS_TURN, *message("faq", 0.43)]) is None
    assert predicted(policy, domain, [*START, *message("faq", 0.38)]) is None
    assert predicted(policy, domain, [*START, *CRISIS_TURN, *message("nlu_fallback", 0.4)]) is None
    assert predicted(policy, domain, [*START, *message("out_of_scope", 0.6)]) is None
    # A crisis in an earlier session does not count (crisis_flagged starts again at false).
    new_session = [*START, *CRISIS_TURN, *START, SlotSet("crisis_flagged", False), *message("out_of_scope", 0.6)]
    assert predicted(policy, domain, new_session) is None


def test_after_a_crisis_a_barely_sure_faq_answer_gets_the_reply_too(policy, domain):
    # "dizzy" after an overdose, read as the side-effects answer with 0.38.
    events = [*START, *CRISIS_TURN, *message("faq", 0.38)]
    for expected in [*REPLY, "action_listen"]:
        assert predicted(policy, domain, events) == expected
        events.append(ActionExecuted(expected))


@pytest.mark.parametrize("text", ["nah im fine now. how much does tms cost",
                                  "is the TMS clinic open on saturdays?",
                                  "does the magnet thing get loud", "ok. is my rTMS session still on friday",
                                  "sesh tmrw still on?", "do they put the coil right on your head"])
def test_after_a_crisis_an_unsure_out_of_scope_reading_that_names_tms_keeps_its_own_reply(policy, domain, text):
    assert predicted(policy, domain, [*START, *CRISIS_TURN, *message("out_of_scope", 0.6, text)]) is None


@pytest.mark.parametrize("text", ["do i need treatment for this", "will insurance pay for the ambulance",
                                  "my appointment is tomorrow, can it wait", "the stems are all over the floor",
                                  "towel is soaked through"])
def test_after_a_crisis_words_that_do_not_name_tms_still_get_the_crisis_reply_again(policy, domain, text):
    # "treatment", "insurance", "appointment" can be about the emergency; "stems" only
    # contains the letters of "tms".
    assert predicted(policy, domain, [*START, *CRISIS_TURN, *message("out_of_scope", 0.6, text)]) == REPLY[0]


def test_a_barely_sure_faq_answer_that_names_tms_still_gets_the_reply(policy, domain):
    # Only the out-of-scope reading keeps its own reply: "dizzy after tms?" after an overdose,
    # read as the side-effects answer with 0.38, may be about the overdose.
    assert predicted(policy, domain, [*START, *CRISIS_TURN, *message("faq", 0.38, "dizzy after tms?")]) == REPLY[0]


def test_without_the_setting_a_message_that_names_tms_gets_the_reply_too(tmp_path, domain):
    config = {**UnsureOutOfScopeAfterCrisisPolicy.get_default_config(), "confidence_below": 0.95}
    context = ExecutionContext(GraphSchema({}), "test")
    off = UnsureOutOfScopeAfterCrisisPolicy.create(config, LocalModelStorage(tmp_path), Resource("off"), context)
    events = [*START, *CRISIS_TURN, *message("out_of_scope", 0.6, "tms cost tho?")]
    assert predicted(off, domain, events) == REPLY[0]


def test_a_turn_that_took_another_path_is_left_to_the_other_policies(policy, domain):
    events = [*START, *CRISIS_TURN, *message("out_of_scope", 0.6), ActionExecuted("utter_out_of_scope")]
    assert predicted(policy, domain, events) is None


def test_the_reply_is_the_one_for_a_message_it_cannot_place_after_a_crisis():
    rules = yaml.safe_load((PROJECT_ROOT / "data" / "rules" / "crisis.yml").read_text(encoding="utf-8"))["rules"]
    [rule] = [r for r in rules if any(step.get("intent") == "nlu_fallback" for step in r["steps"])]
    assert {"slot_was_set": [{"crisis_flagged": True}]} in rule["condition"]
    assert [step["action"] for step in rule["steps"] if "action" in step] == REPLY
    assert UnsureOutOfScopeAfterCrisisPolicy.get_default_config()["reply"] == REPLY


def test_config_sets_the_bar_and_a_priority_above_the_rule_policy():
    from rasa.core.constants import RULE_POLICY_PRIORITY

    assert unsure_out_of_scope_bar() == 0.95
    assert unsure_answer_bar() == 0.43
    assert tms_question_keeps_reply() is True
    assert UnsureOutOfScopeAfterCrisisPolicy.get_default_config()["priority"] > RULE_POLICY_PRIORITY


CANNOT_CALL_REPLY = ["utter_crisis_cannot_call", "utter_crisis", "utter_referral_short"]


@pytest.mark.parametrize("intent, confidence, text", [
    ("out_of_scope", 0.99, "no phone here, just my work laptop"),
    ("ask_privacy", 0.9, "We don't speak of such things in my family. I cannot call anyone."),
    ("acknowledge", 0.97, "ok but i cant call, she'd hear me"),
    ("faq", 0.99, "he took my phone. is tms safe"),
])
def test_after_a_crisis_a_message_saying_the_person_cannot_call_gets_its_reply(policy, domain, intent, confidence, text):
    events = [*START, *CRISIS_TURN, *message(intent, confidence, text)]
    for expected in [*CANNOT_CALL_REPLY, "action_listen"]:
        assert predicted(policy, domain, events) == expected
        events.append(ActionExecuted(expected))


def test_cannot_call_needs_a_crisis_in_the_session_and_leaves_crisis_language_to_its_rules(policy, domain):
    assert predicted(policy, domain, [*START, *message("out_of_scope", 0.99, "no phone, only a laptop")]) is None
    crisis_again = [*START, *CRISIS_TURN, *message("crisis", 1.0, "i cant call anyone, i want to die")]
    assert predicted(policy, domain, crisis_again) is None


@pytest.mark.parametrize("text", [
    "i cant call them", "I cannot call.", "can't really talk, he's in the next room", "too scared to phone",
    "no credit on my phone", "dont have a phone", "she'll hear me", "they would hear", "my phone's dead",
    "phone is broken", "he took my phone", "not able to make calls from here", "lost my phone last week",
])
def test_ways_of_saying_one_cannot_call(text):
    assert cannot_call(text)


@pytest.mark.parametrize("text", [
    "can I call the clinic to move my session?", "I called 988 and talked for a while", "can you call me back",
    "i can talk to my doctor monday", "the phone number for the clinic?", "my phone is fine now", "heard of tms?",
])
def test_calls_that_are_possible_are_not_read_as_cannot_call(text):
    assert not cannot_call(text)


def test_the_cannot_call_reply_has_no_numbers_of_its_own_and_is_followed_by_the_crisis_reply(domain):
    texts = [r["text"] for r in domain.responses["utter_crisis_cannot_call"]]
    assert texts and not any(ch.isdigit() for text in texts for ch in text)
    config = UnsureOutOfScopeAfterCrisisPolicy.get_default_config()
    assert config["cannot_call_reply"][1:] == config["reply"][1:] == ["utter_crisis", "utter_referral_short"]
