"""Makes sure that asking to talk to a person always reaches the handoff.

"Can I talk to a real person?" sits close to "are you a real person?" (bot_challenge),
and a classifier can mix them up. A request for a human is the one thing this assistant
must never get wrong short of a crisis, so an explicit phrase ("talk/speak/chat to/with a
person, human, someone, professional, doctor...") sets `talk_to_human` whatever was
predicted, except crisis (the crisis detector runs after this and takes precedence).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Pattern, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.code_version import PackageFingerprinted
from bot.nlu.intents import override_intent

HANDOFF_INTENT = "talk_to_human"
NEVER_OVERRIDDEN = {HANDOFF_INTENT, "crisis"}

ASKS_FOR_A_PERSON: Pattern[Text] = re.compile(
    r"\b(?:talk|speak|chat|get through|connect me|put me through|transfer me)\s+(?:to|with)\s+"
    r"(?:a|an|the|some|your|one of your)?\s*(?:real|actual|live|human|qualified|licensed)?\s*"
    r"(?:person|human|human being|someone|somebody|professional|therapist|counsell?or|"
    r"doctor|nurse|psychiatrist|psychologist|clinician|staff|agent|operator|people)\b"
)


# Talking to someone alongside TMS or during a session is a question about therapy or the
# session ("is it good to do TMS and also speak with a psychologist, both at the same time?",
# "can I talk to the nurse during it?"), not a request to be put through now.
ALONGSIDE: Pattern[Text] = re.compile(
    r"^[^.?!]*?\b(?:same time|alongside|as well as (?:tms|treatment|the sessions)|"
    r"(?:during|throughout|in|while (?:i'?m |im |i am )?(?:having|doing|getting|on)) "
    r"(?:it|tms|(?:the |a |each |my )?(?:sessions?|treatments?|tms|course|procedure)))\b"
    # "someone in my treatment team" is a person to be put through to.
    r"(?! (?:team|staff|centre|center|clinic|office|department|unit|programm?e?|service|provider|coordinator))"
)


def asks_for_a_person(text: Text) -> bool:
    """True when the message asks to talk to a person rather than to the bot."""
    lowered = re.sub(r"\s+", " ", text.lower())
    return any(not ALONGSIDE.match(lowered[match.end():]) for match in ASKS_FOR_A_PERSON.finditer(lowered))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class HumanRequestGuard(PackageFingerprinted, GraphComponent):
    """Sets `talk_to_human` when a message explicitly asks for a person."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> HumanRequestGuard:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            predicted = (message.get(INTENT) or {}).get("name")
            if predicted in NEVER_OVERRIDDEN or not asks_for_a_person(message.get(TEXT) or ""):
                continue
            override_intent(message, HANDOFF_INTENT)
        return messages
