"""What the assistant's actions and responses mean for the report: the one place it is written.

Every figure that says "clarified", "fallback", "out of scope", "handoff", "crisis" or
"answered" reads these sets. They follow domain.yml and data/rules/*.yml; when a rule or a
response changes there, change it here (tests/server/report/test_outcomes.py checks that
every name below exists in the domain).

A turn is one user message and what the assistant did until the next one. Its outcome is
the first that applies, in the order of OUTCOME_ORDER: a crisis reply outranks everything
(it is what the person got first), then a handoff, the second fallback stage, the first
stage, out of scope, an answer.
"""

from __future__ import annotations

from typing import Iterable, Optional

# --- Crisis ---------------------------------------------------------------------------
# data/rules/crisis.yml: intent `crisis` (set by the NLU's last step, bot/nlu/crisis.py) ->
# `utter_crisis`. A detection is a user message read as crisis language; this is the
# figure a crisis protocol reports, as a count only.
CRISIS_INTENT = "crisis"
# The crisis reply itself (one variation per region and kind, all under this name).
CRISIS_RESPONSES = frozenset({"utter_crisis"})
# These replies mark a person whose words are never shown in the report, not even
# redacted: the crisis reply and the reply to "I was joking" after it (data/rules/crisis.yml).
# utter_crisis_reminder is not one: it also follows every handoff (actions/handoff.py);
# after a crisis, the crisis turn itself already marks the person.
CRISIS_RELATED_RESPONSES = frozenset({"utter_crisis", "utter_crisis_followup"})
# bot/nlu/crisis.py sets this entity on crisis turns, and (value "caution") on a calm mention
# of crisis long past, which gets an ordinary answer with a crisis line under it: not a
# detection, but that person's words are not shown.
CRISIS_KIND_ENTITY = "crisis_kind"
# bot/nlu/crisis.py also stores its decision in the parse data under this key: a kind other
# than "none", any crisis phrase it matched, or DIET's `crisis` guess it overruled is a
# crisis signal (below the decision's thresholds too), and that person's words are not shown.
CRISIS_PARSE_KEY = "crisis"
CRISIS_NONE_KIND = "none"

# --- Handoff (the person asked for a person) ----------------------------------------------
# data/rules/advice.yml: intent `talk_to_human` -> action_handoff_to_human
# (actions/handoff.py), which says one of the utter_handoff* responses; when the action
# server is down, bot/server/resilience.py sends utter_handoff_offline instead. After a
# crisis in the session, data/rules/crisis.yml follows it with the crisis reply, so that
# turn's outcome is the crisis reply (OUTCOME_ORDER).
HANDOFF_ACTIONS = frozenset({"action_handoff_to_human"})
HANDOFF_RESPONSES = frozenset(
    {
        "utter_handoff",  # nobody can be reached here: the clinic's contacts instead
        "utter_handoff_connected",  # staff can answer: the inbox was told
        "utter_handoff_closed",  # outside CLINIC_HOURS: the hours and contacts
        "utter_handoff_offline",  # action server down: domain text from resilience.py
    }
)

# --- Fallback, second stage ("I don't have information on that") --------------------------
# data/rules/faq.yml: nlu_fallback -> action_offer_topics (after a crisis in the session,
# data/rules/crisis.yml gives the crisis reply again instead: a crisis turn, above, whose
# words are never shown); on a second miss in a row (or with no likely topic to offer) it
# says utter_no_information (actions/topics.py), as does resilience.py when the action
# server is down. utter_default is Rasa's own default fallback action's response (a
# message no rule or policy could handle).
FALLBACK_RESPONSES = frozenset({"utter_no_information", "utter_default"})

# --- Clarify, first stage ("I'm not sure I understood. Did you mean...?") -----------------
# action_offer_topics's first stage (actions/topics.py): the likeliest topics as buttons.
CLARIFY_RESPONSES = frozenset({"utter_clarify"})

# --- Out of scope ("my information doesn't cover that") -----------------------------------
# data/rules/out_of_scope.yml: intent `out_of_scope` -> utter_out_of_scope. An honest
# answer, but a question the documents do not cover: it goes to "unanswered questions".
# After a crisis in the session, an unsure out-of-scope reading gets the crisis reply again
# instead (bot/policies/unsure_out_of_scope.py): a crisis turn, above.
OUT_OF_SCOPE_RESPONSES = frozenset({"utter_out_of_scope"})

# --- Answers ---------------------------------------------------------------------------
# data/rules/faq.yml: intent `faq` -> utter_faq, Rasa's retrieval action; the bot event's
# metadata `utter_action` is the full response name, e.g. `utter_faq/session_length`.
FAQ_PREFIX = "utter_faq/"
# data/rules/advice.yml: questions about the person's own care get the general facts and
# "only a professional can decide".
ADVICE_PREFIX = "utter_advice_"

# --- Not a reply to the person's question ---------------------------------------------------
# A professional's reply during a live takeover is a bot event with this metadata key
# (bot/server/staff/live.py); it says nothing about how the assistant did.
STAFF_REPLY_KEY = "staff_reply_id"
# Button and widget commands ("/talk_to_human", "/greet") are not the person's own words.
COMMAND_PREFIX = "/"

CRISIS = "crisis"
HANDOFF = "handoff"
FALLBACK = "fallback"
CLARIFY = "clarify"
OUT_OF_SCOPE = "out_of_scope"
ANSWERED = "answered"
OTHER = "other"
OUTCOME_ORDER = (CRISIS, HANDOFF, FALLBACK, CLARIFY, OUT_OF_SCOPE, ANSWERED, OTHER)
# The turns whose user message goes to "unanswered questions".
UNANSWERED_OUTCOMES = frozenset({CLARIFY, FALLBACK, OUT_OF_SCOPE})


def is_crisis_related(response: str) -> bool:
    return response in CRISIS_RELATED_RESPONSES


def is_answer(response: str) -> bool:
    return response.startswith((FAQ_PREFIX, ADVICE_PREFIX))


def faq_topic(response: str) -> Optional[str]:
    """`utter_faq/session_length` -> `session_length`; None for any other response."""
    if response.startswith(FAQ_PREFIX) and len(response) > len(FAQ_PREFIX):
        return response[len(FAQ_PREFIX) :]
    return None


def turn_outcome(intent: Optional[str], actions: Iterable[str], responses: Iterable[str]) -> str:
    """The outcome of one turn: the user message's intent, the actions run and responses sent."""
    actions = set(actions)
    responses = set(responses)
    if intent == CRISIS_INTENT or responses & CRISIS_RESPONSES:
        return CRISIS
    if actions & HANDOFF_ACTIONS or responses & HANDOFF_RESPONSES:
        return HANDOFF
    if responses & FALLBACK_RESPONSES:
        return FALLBACK
    if responses & CLARIFY_RESPONSES:
        return CLARIFY
    if responses & OUT_OF_SCOPE_RESPONSES:
        return OUT_OF_SCOPE
    if any(is_answer(response) for response in responses):
        return ANSWERED
    return OTHER
