"""The report's meaning of actions and responses (outcomes.py) matches the domain and rules."""

from __future__ import annotations

from typing import Any, List

import pytest

from bot.server.report import outcomes
from tests.conftest import PROJECT_ROOT
from tests.test_referral_paths import rules


def rule_actions_after(intent: str, crisis_flagged: Any = None) -> List[str]:
    """The actions of the rule for `intent`: the unconditional one, or the one for a session
    with (True) or without (False) a crisis in it (rules as tests/test_referral_paths.py reads them)."""
    for rule_intent, condition, actions in rules():
        if rule_intent == intent and condition == crisis_flagged:
            return actions
    raise AssertionError(f"no rule for {intent} with crisis_flagged {crisis_flagged}")


def test_every_response_named_exists_in_the_domain(domain):
    responses = set(domain["responses"])
    named = (
        outcomes.CRISIS_RESPONSES | outcomes.CRISIS_RELATED_RESPONSES | outcomes.HANDOFF_RESPONSES
        | outcomes.FALLBACK_RESPONSES | outcomes.CLARIFY_RESPONSES | outcomes.OUT_OF_SCOPE_RESPONSES
    )
    # utter_default is Rasa's own default fallback response; the domain overrides its text.
    assert named <= responses, named - responses
    assert any(name.startswith(outcomes.FAQ_PREFIX) for name in responses)
    assert any(name.startswith(outcomes.ADVICE_PREFIX) for name in responses)


def test_every_action_and_intent_named_exists_in_the_domain(domain):
    assert set(domain["actions"]) >= outcomes.HANDOFF_ACTIONS
    assert outcomes.CRISIS_INTENT in domain["intents"]


def test_the_rules_still_say_what_the_mapping_assumes():
    assert rule_actions_after("crisis") == ["utter_crisis"]
    assert rule_actions_after("talk_to_human", crisis_flagged=False) == ["action_handoff_to_human"]
    # After a crisis, the crisis reply follows the handoff: the turn counts as a crisis turn (below).
    assert rule_actions_after("talk_to_human", crisis_flagged=True) == ["action_handoff_to_human", "utter_crisis"]
    assert rule_actions_after("nlu_fallback", crisis_flagged=False) == ["action_offer_topics"]
    # After a crisis, the crisis reply again: the turn counts as a crisis turn (below).
    assert "utter_crisis" in rule_actions_after("nlu_fallback", crisis_flagged=True)
    assert rule_actions_after("out_of_scope")[0] == "utter_out_of_scope"
    assert rule_actions_after("faq")[0] == "utter_faq"


def test_the_two_fallback_stages_are_the_actions_responses():
    """actions/topics.py says utter_clarify first, utter_no_information on a second miss."""
    source = (PROJECT_ROOT / "actions" / "topics.py").read_text(encoding="utf-8")
    assert 'response="utter_clarify"' in source
    assert 'response="utter_no_information"' in source
    handoff = (PROJECT_ROOT / "actions" / "handoff.py").read_text(encoding="utf-8")
    for name in ("utter_handoff_connected", "utter_handoff_closed", "utter_handoff"):
        assert f'response="{name}"' in handoff
        assert name in outcomes.HANDOFF_RESPONSES


@pytest.mark.parametrize(
    ("intent", "actions", "responses", "expected"),
    [
        ("faq", ["utter_faq", "action_refer_to_professional"], ["utter_faq/session_length", "utter_referral_first"],
         outcomes.ANSWERED),
        ("advice_medication", [], ["utter_advice_medication"], outcomes.ANSWERED),
        ("nlu_fallback", ["action_offer_topics"], ["utter_clarify", "utter_referral_short"], outcomes.CLARIFY),
        ("nlu_fallback", ["action_offer_topics"], ["utter_no_information"], outcomes.FALLBACK),
        (None, ["action_default_fallback"], ["utter_default"], outcomes.FALLBACK),
        ("out_of_scope", [], ["utter_out_of_scope"], outcomes.OUT_OF_SCOPE),
        ("talk_to_human", ["action_handoff_to_human"], ["utter_handoff_connected", "utter_crisis_reminder"],
         outcomes.HANDOFF),
        ("talk_to_human", ["action_handoff_to_human"], ["utter_handoff_offline"], outcomes.HANDOFF),
        # A crisis outranks everything else in the turn.
        ("crisis", ["utter_crisis"], ["utter_crisis"], outcomes.CRISIS),
        ("crisis", [], [], outcomes.CRISIS),
        ("greet", ["utter_greet"], ["utter_greet", "utter_ask_question"], outcomes.OTHER),
        ("crisis_retracted", [], ["utter_crisis_followup"], outcomes.OTHER),
        # After a crisis, a message it cannot place gets the crisis reply again.
        ("nlu_fallback", ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"],
         ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"], outcomes.CRISIS),
        # After a crisis, an unsure out-of-scope reading gets it too (bot/policies/unsure_out_of_scope.py).
        ("out_of_scope", ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"],
         ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"], outcomes.CRISIS),
        # After a crisis, asking for a person gets the handoff and the crisis reply.
        ("talk_to_human", ["action_handoff_to_human", "utter_crisis"], ["utter_handoff", "utter_crisis"],
         outcomes.CRISIS),
    ],
)
def test_turn_outcome(intent, actions, responses, expected):
    assert outcomes.turn_outcome(intent, actions, responses) == expected


def test_faq_topic():
    assert outcomes.faq_topic("utter_faq/session_length") == "session_length"
    assert outcomes.faq_topic("utter_faq/") is None
    assert outcomes.faq_topic("utter_advice_medication") is None
