"""Setting the intent from a rule-based component, the same way everywhere."""

from __future__ import annotations

from typing import Text

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

# Where the meaning vote (bot/nlu/meaning_vote.py) leaves its own probability for the likeliest
# ordinary reading (any label but crisis), before any guard overrides the intent; the crisis
# detector reads it as a third opinion. Not part of the parse result.
ORDINARY_READING_KEY = "ordinary_reading_probability"


def override_intent(message: Message, name: Text) -> None:
    """Makes `name` the intent (confidence 1.0, first in the ranking) and drops any FAQ
    answer, since the turn is now answered by that intent's own response."""
    intent = {"name": name, "confidence": 1.0}
    ranking = [e for e in message.get(INTENT_RANKING_KEY) or [] if e.get("name") != name]
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)
    message.set("response_selector", {}, add_to_output=True)


def demote_intent(message: Message, name: Text) -> None:
    """Drops `name` from the ranking and makes the next intent the prediction (the FAQ
    answer choice, computed for the "faq" intent anyway, stays as it was)."""
    ranking = [e for e in message.get(INTENT_RANKING_KEY) or [] if e.get("name") != name]
    intent = ranking[0] if ranking else {"name": "nlu_fallback", "confidence": 1.0}
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
