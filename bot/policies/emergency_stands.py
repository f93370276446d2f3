"""After an overdose or injury, "I'm fine now" or "just kidding" gets the emergency reply again.

After "i took all my pills like 20 min ago" (the emergency reply: emergency services now,
even if you feel okay), "im fine now just feel sleepy" and "jk lol" read as taking the
crisis back, and the reply to that (`utter_crisis_followup`: the crisis line "if those
feelings come back", then "I'm still here if you have questions about TMS") would let the
person believe the danger is over. Feeling fine soon after an overdose proves nothing (some
harm shows hours later), and a joke may be shame speaking. So in a session whose crisis is an
overdose or injury (`crisis_kind` medical, which bot/policies/crisis_case.py keeps for the
rest of the session), a retraction, a goodbye or thanks gets "please still get checked now" and the
emergency reply for the person's region again. A rule cannot say this: `crisis_kind` does
not shape the conversation, so rules cannot read it. It needs no action server.
"""

from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.crisis_case import EMERGENCY, KIND_SLOT
from bot.policies.session_reply import CRISIS_FLAG_SLOT, SessionReplyPolicy


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class EmergencyStandsPolicy(SessionReplyPolicy):
    """After an overdose or injury in the session, `intents` get `reply`, one action at a time."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Above the rule policy's (4, rasa.core.constants) and the unsure out-of-scope
            # policy's (5), which never apply to the same message.
            "priority": 6,
            # "thanks" too: after "i took all my pills", "thanks" may be the person leaving.
            "intents": ["crisis_retracted", "goodbye", "thank"],
            "reply": ["utter_emergency_still", "utter_crisis"],
        }

    def applies(self, tracker: DialogueStateTracker) -> bool:
        message = tracker.latest_message
        if message is None or tracker.get_slot(CRISIS_FLAG_SLOT) is not True:
            return False
        if tracker.get_slot(KIND_SLOT) != EMERGENCY:
            return False
        return (message.intent or {}).get("name") in self.config["intents"]
