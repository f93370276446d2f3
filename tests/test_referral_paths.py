"""Every turn that answers, fails to answer or lists topics ends with a referral (read from the rules).

The rules are the whole dialogue here (config.yml: RulePolicy only), so reading them shows
what each kind of message gets. The dialogue tests in tests/test_stories.yml check the
same paths with a trained model; tests/actions/ checks what each custom action sends.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import pytest

from tests.conftest import PROJECT_ROOT, load_yaml

# Custom actions that end what they send with a referral (tests/actions/, and
# bot/server/resilience.py when the action server is down).
REFERRING_ACTIONS = {
    "action_refer_to_professional",
    "action_offer_topics",
    "action_list_topics",
    "action_handoff_to_human",
}
REFERRING_RESPONSES = {"utter_referral_short"}
CRISIS_LINE = "utter_crisis_reminder"
# Not answers: the greeting carries the disclaimer and a crisis line; crisis turns give
# crisis lines; "you misunderstood me" ends with a crisis line.
NOT_ANSWERS = {"greet", "crisis", "crisis_retracted"}
# Answered from the domain by rules, with one short referral line (and a crisis line
# for the rest of a session with a crisis in it).
SHORT_LINE = {"thank", "goodbye", "bot_challenge"}


def rules() -> List[Tuple[str, Optional[bool], List[str]]]:
    """(intent, crisis_flagged condition or None, actions) for each one-turn rule."""
    found = []
    for path in sorted((PROJECT_ROOT / "data" / "rules").glob("*.yml")):
        for rule in load_yaml(path).get("rules", []):
            condition: Optional[bool] = None
            for step in rule.get("condition") or []:
                for slot in step.get("slot_was_set") or []:
                    if "crisis_flagged" in slot:
                        condition = slot["crisis_flagged"]
            steps = rule["steps"]
            intents = [s["intent"] for s in steps if "intent" in s]
            assert len(intents) == 1, rule["rule"]
            found.append((intents[0], condition, [s["action"] for s in steps if "action" in s]))
    return found


def by_intent() -> Dict[str, List[Tuple[Optional[bool], List[str]]]]:
    table: Dict[str, List[Tuple[Optional[bool], List[str]]]] = {}
    for intent, condition, actions in rules():
        table.setdefault(intent, []).append((condition, actions))
    return table


def test_every_intent_has_a_rule():
    intents = set(load_yaml(PROJECT_ROOT / "domain.yml")["intents"]) | {"nlu_fallback"}
    assert intents <= set(by_intent())


@pytest.mark.parametrize("intent", sorted(set(by_intent()) - NOT_ANSWERS))
def test_every_answer_ends_with_a_referral(intent):
    for _condition, actions in by_intent()[intent]:
        if actions == ["utter_crisis"]:
            continue  # a crisis turn, not an answer (test_a_plea_for_help_after_a_crisis_...)
        # After a crisis, a crisis line (or, after the handoff, the crisis reply) follows.
        last = actions[:-1] if actions[-1] in (CRISIS_LINE, "utter_crisis") else actions
        assert last and (last[-1] in REFERRING_ACTIONS or last[-1] in REFERRING_RESPONSES), (intent, actions)


@pytest.mark.parametrize("intent", sorted(SHORT_LINE))
def test_thanks_goodbye_and_bot_question_get_one_short_line_and_a_crisis_line_after_a_crisis(intent):
    assert sorted(by_intent()[intent], key=lambda rule: rule[0]) == [
        (False, [f"utter_{intent}", "utter_referral_short"]),
        (True, [f"utter_{intent}", "utter_referral_short", CRISIS_LINE]),
    ]


def test_ok_gets_one_short_line_and_after_a_crisis_the_crisis_reply_again():
    # "k", "whatever" right after a crisis reply may be the crisis going on.
    assert sorted(by_intent()["acknowledge"], key=lambda rule: rule[0]) == [
        (False, ["utter_acknowledge", "utter_referral_short"]),
        (True, ["utter_crisis_acknowledged", "utter_crisis", "utter_referral_short"]),
    ]


def test_the_acknowledgement_before_the_crisis_reply_names_no_crisis_line_of_its_own(domain):
    [line] = domain["responses"]["utter_crisis_acknowledged"]
    assert "condition" not in line and not any(ch.isdigit() for ch in line["text"])
    assert line["text"].startswith("Okay.") and line["text"].endswith(":")


def test_questions_about_ones_data_get_the_privacy_answer_and_a_crisis_line_after_a_crisis():
    # "I have to delete this" after "he checks my phone" must get how to delete it.
    assert sorted(by_intent()["ask_privacy"], key=lambda rule: rule[0]) == [
        (False, ["utter_privacy", "utter_referral_short"]),
        (True, ["utter_privacy", "utter_referral_short", CRISIS_LINE]),
    ]


def test_greeting_keeps_the_disclaimer_without_an_extra_referral():
    assert by_intent()["greet"] == [(None, ["utter_greet", "utter_ask_question"])]


def test_the_short_referral_needs_no_action_server(domain):
    text = domain["responses"]["utter_referral_short"][0]["text"]
    assert "{" not in text
    assert "licensed mental health professional" in text


def test_a_plea_for_help_after_a_crisis_gets_the_crisis_reply_and_otherwise_a_crisis_line():
    assert sorted(by_intent()["ask_for_help"], key=lambda rule: rule[0]) == [
        (False, ["utter_help_offer", "action_list_topics", CRISIS_LINE]),
        (True, ["utter_crisis"]),
    ]
    # Only that plea skips the referral for a crisis reply.
    crisis_only = sorted(intent for intent, _condition, actions in rules() if actions == ["utter_crisis"])
    assert crisis_only == ["ask_for_help", "crisis"]


def test_a_message_it_cannot_place_gets_the_crisis_reply_again_after_a_crisis():
    # Before a crisis: the likeliest topics (and a referral, from the action). After one:
    # "ask it another way", the crisis reply for the session's case, and the short referral,
    # all domain responses, so they need no action server.
    assert sorted(by_intent()["nlu_fallback"], key=lambda rule: rule[0]) == [
        (False, ["action_offer_topics"]),
        (True, ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"]),
    ]


def test_the_check_in_names_no_crisis_line_of_its_own(domain):
    # The numbers come from utter_crisis, which has a variation per region and case.
    [check_in] = domain["responses"]["utter_crisis_checkin"]
    assert "condition" not in check_in
    assert not any(ch.isdigit() for ch in check_in["text"])
    assert "another way" in check_in["text"] and check_in["text"].endswith(":")

