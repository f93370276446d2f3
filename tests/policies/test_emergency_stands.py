"""EmergencyStandsPolicy: after an overdose or injury, "I'm fine now", "jk" or "bye" gets the
emergency reply again (bot/policies/emergency_stands.py)."""

from __future__ import annotations

from typing import List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered

from bot.policies.emergency_stands import EmergencyStandsPolicy
from tests.conftest import PROJECT_ROOT
from tests.policies.predictions import predicted

START = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def crisis_turn(kind: str) -> List[Event]:
    return [ActionExecuted("action_listen"), UserUttered("(text)", {"name": "crisis", "confidence": 1.0}),
            SlotSet("crisis_kind", kind), SlotSet("crisis_flagged", True), ActionExecuted("utter_crisis")]


def message(intent: str) -> List[Event]:
    return [ActionExecuted("action_listen"), UserUttered("(text)", {"name": intent, "confidence": 0.9})]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def policy(tmp_path) -> EmergencyStandsPolicy:
    context = ExecutionContext(GraphSchema({}), "test")
    return EmergencyStandsPolicy.create(
        EmergencyStandsPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("emergency"), context
    )


@pytest.mark.parametrize("intent", ["crisis_retracted", "goodbye", "thank"])
def test_after_an_overdose_a_retraction_goodbye_or_thanks_gets_the_emergency_reply_again(policy, domain, intent):
    events = [*START, *crisis_turn("medical"), *message(intent)]
    for expected in ["utter_emergency_still", "utter_crisis", "action_listen"]:
        assert predicted(policy, domain, events) == expected
        events.append(ActionExecuted(expected))


def test_other_cases_other_intents_and_other_sessions_are_left_to_the_rules(policy, domain):
    assert predicted(policy, domain, [*START, *crisis_turn("self"), *message("crisis_retracted")]) is None
    assert predicted(policy, domain, [*START, *crisis_turn("unsafe"), *message("goodbye")]) is None
    assert predicted(policy, domain, [*START, *crisis_turn("self"), *message("thank")]) is None
    assert predicted(policy, domain, [*START, *crisis_turn("medical"), *message("faq")]) is None
    assert predicted(policy, domain, [*START, *message("crisis_retracted")]) is None
    # An overdose in an earlier session does not count (crisis_flagged starts again at false).
    new_session = [*START, *crisis_turn("medical"), *START, SlotSet("crisis_flagged", False),
                   *message("crisis_retracted")]
    assert predicted(policy, domain, new_session) is None


def test_a_turn_that_took_another_path_is_left_to_the_other_policies(policy, domain):
    events = [*START, *crisis_turn("medical"), *message("goodbye"), ActionExecuted("utter_goodbye")]
    assert predicted(policy, domain, events) is None


def test_the_reply_is_in_the_domain_and_its_first_line_has_no_phone_number(domain):
    for action in EmergencyStandsPolicy.get_default_config()["reply"]:
        assert action in domain.action_names_or_texts
    [still] = domain.responses["utter_emergency_still"]
    assert "even if you feel okay" in still["text"]
    assert not any(character.isdigit() for character in still["text"])


def test_its_priority_is_above_the_rule_policy_and_the_unsure_out_of_scope_policy():
    from rasa.core.constants import RULE_POLICY_PRIORITY

    from bot.policies.unsure_out_of_scope import UnsureOutOfScopeAfterCrisisPolicy

    priority = EmergencyStandsPolicy.get_default_config()["priority"]
    assert priority > RULE_POLICY_PRIORITY
    assert priority > UnsureOutOfScopeAfterCrisisPolicy.get_default_config()["priority"]
