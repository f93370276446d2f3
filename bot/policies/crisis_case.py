"""Within one session, a crisis reply keeps to the case the session is about.

The crisis detector (bot/nlu/crisis.py) reads one message at a time, so a follow-up to a
crisis is read without its context: after "my husband hits me", "I can't leave, we have
kids together" reads as the writer's own despair, and "he has guns in the house", written
about a suicidal brother, as danger from another person. Each reading sets `crisis_kind`,
which picks the crisis reply (`utter_crisis`, one variation per case), so the person would
lose the domestic violence hotline, or be told the danger is theirs.

This policy sees the conversation: when a message in a session that already had a crisis
reads as a different case, it puts the session's case back unless the new reading is an
overdose or injury (the emergency reply always wins) or the kind model is sure of it
(`switch_probability`: a second, different crisis, such as someone who wrote about their
own despair now saying their partner hurts them). An overdose or injury earlier in the
session is kept whatever the reading: it is still the emergency. It only sets the slot, before the rule's
`utter_crisis` runs; it never chooses an action. It is a policy because only the dialogue
knows what came before; it needs no action server, and it runs during a staff takeover too,
where crisis turns still get their reply. The bar was chosen on the dev split of
tests/data/crisis_followups against the crisis corpus's fresh messages (config.yml).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.crisis import PARSE_KEY
from bot.policies.untrained import UntrainedPolicy

KIND_SLOT = "crisis_kind"
CRISIS_INTENT = "crisis"
# The overdose or injury reply (emergency services now, even if the person feels okay) is
# never replaced, and stays for the rest of the session.
EMERGENCY = "medical"


def session_case(previous: Optional[Text], reading: Text, probability: float, switch_probability: float) -> Text:
    """The case a crisis reply should answer: the session's earlier case, unless this
    message is an emergency or the kind model is sure of a different case. An emergency
    earlier in the session stays: after "I took 20 pills", "I don't want an ambulance" reads
    as the writer's despair, but it is the same emergency."""
    if previous is None or reading in (previous, EMERGENCY):
        return reading
    if previous == EMERGENCY or probability < switch_probability:
        return previous
    return reading


def earlier_case(tracker: DialogueStateTracker, initial: Optional[Text]) -> Optional[Text]:
    """The crisis case of this session before the latest message: None if no earlier message
    of the session was crisis language, else the slot's last value set before the latest
    message (`initial`, the slot's initial value, when the case read then was that value,
    which Rasa does not set again)."""
    seen_latest_message = False
    case: Optional[Text] = None
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            if seen_latest_message and (event.intent or {}).get("name") == CRISIS_INTENT:
                return case or initial
            seen_latest_message = True
        elif seen_latest_message and case is None and isinstance(event, SlotSet) and event.key == KIND_SLOT and event.value:
            case = str(event.value)
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class CrisisCasePolicy(UntrainedPolicy):
    """Predicts no action; on a crisis turn it may set `crisis_kind` back (above)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 1, "switch_probability": 0.8}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        # All zeros: this policy never wins. Its events are applied whichever policy wins,
        # before the chosen action runs (Rasa's MessageProcessor._run_action).
        return self._prediction(self._default_predictions(domain), events=self.case_events(tracker, domain))

    def case_events(self, tracker: DialogueStateTracker, domain: Domain) -> List[SlotSet]:
        message = tracker.latest_message
        if tracker.latest_action_name != ACTION_LISTEN_NAME or message is None:
            return []
        if (message.intent or {}).get("name") != CRISIS_INTENT:
            return []
        reading = tracker.get_slot(KIND_SLOT)
        initial = next((slot.initial_value for slot in domain.slots if slot.name == KIND_SLOT), None)
        previous = earlier_case(tracker, initial)
        if not reading or previous is None:
            return []
        probability = float((message.parse_data.get(PARSE_KEY) or {}).get("kind_probability", 1.0))
        case = session_case(previous, str(reading), probability, self.config["switch_probability"])
        return [] if case == reading else [SlotSet(KIND_SLOT, case)]
