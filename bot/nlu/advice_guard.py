"""Routes questions about the person's own care to the advice intents, never to an FAQ.

"Can I come off my antidepressants once I start?" or "I had a seizure once, would TMS be
risky for me?" read a lot like the FAQ questions on medications or seizure risk, and a
classifier can confidently pick the FAQ. But answering them as plain facts would be
personal medical advice. When a message asks about the person's *own* medicines,
condition or suitability, this component sets the matching `advice_*` intent, whose
answer gives the general facts, says that only a professional can decide, and refers.

The cues are explicit phrases (first person plus a decision), so the rule is easy to
review; messages about TMS in general ("can people keep taking their meds?") pass through.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Pattern, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.code_version import PackageFingerprinted
from bot.nlu.intents import override_intent

_MEDICINE = r"(?:meds?|medications?|medicines?|pills?|tablets?|antidepressants?|prescriptions?|dose|dosage|ssris?|[a-z]+(?:ine|am|ide|one|pram))"
_CHANGE = r"(?:stop|stopping|quit|quitting|come off|coming off|get off|go off|taper|tapering|cut down|cut back|reduce|lower|drop|skip|ditch|change|switch|wean)"
_CONDITION = (
    # "(?<!hair )": hair clips are taken out before a session, not a condition.
    r"(?:seizures?|epilepsy|epileptic|implants?|(?<!hair )clips?|pacemaker|stents?|shunts?|metal|plates?|"
    r"surgery|migraines?|head injury|head trauma|(?:hit|hurt|injured|banged) my head|heart|accident|injur\w*|concussion|stroke|tumou?r|pregnan\w*|"
    r"bipolar|heart condition|condition|disorder|illness|disease)"
)
_ME = r"(?:i|i'm|im|i've|ive|i'd|i'll|me|my|mine|myself)"

ADVICE_MEDICATION: Pattern[Text] = re.compile(
    rf"\b{_CHANGE}\b[^.?!]{{0,25}}\b(?:my|mine)\b[^.?!]{{0,20}}\b{_MEDICINE}\b"
    rf"|\b(?:do|should|must|can|could|will)\s+i\s+(?:still\s+)?(?:keep|have to keep|need to keep)\s+"
    rf"(?:taking|on)\s+my\b[^.?!]{{0,20}}\b{_MEDICINE}\b"
)
ADVICE_HEALTH_CONDITION: Pattern[Text] = re.compile(
    rf"\b(?:i|i've|ive|i'm|im)\s+(?:have|had|got|get|suffer|suffered|am|was|been|have had|'ve had)?\s*"
    rf"(?:\w+\s+){{0,6}}?{_CONDITION}\b"
    rf"|\bmy\s+(?:\w+\s+){{0,2}}{_CONDITION}\b"
)
PERSONAL_DECISION: Pattern[Text] = re.compile(
    r"\b(?:for me|on me|to me|in my case|my case)\b"
    # Not "will I be asleep / awake?": what a session is like, which the FAQ answers, even
    # after "I've had surgery before and hated going under".
    r"|\b(?:can|could|may|should|would|will|do|am)\s+i\b"
    r"(?!\s+(?:be|stay|remain)\s+(?:asleep|awake|conscious|unconscious|knocked out|put under|sedated)\b)"
    r"|\bam i\b|\bis it (?:ok|okay|safe|fine|possible) for me\b"
    r"|\b(?:make|makes) (?:mine|my)\b"
    r"|\b(?:does|would|will|could) (?:that|this|it) (?:stop|rule out|prevent|exclude) me\b"
)
ADVICE_SUITABILITY: Pattern[Text] = re.compile(
    r"\b(?:am i|would i|could i|will i|do i|i'd|i would)\b[^.?!]{0,25}"
    r"\b(?:a candidate|a good candidate|eligible|qualify|suitable|a good fit|the right person)\b"
    r"|\b(?:right|good|suitable|safe|worth it|a good idea|an option|the answer|appropriate)\s+for\s+me\b"
    # "should I try TMS?", "should I have the treatment?"; not "what should I do if I miss a
    # session?", "should I have breakfast before it?" or "should I get a ride home after?"
    # (session logistics, which the FAQ answers).
    r"|\bshould i\s+(?:try|get|have|do|start|go for|go ahead with|go through with|consider|choose|pick)\s+"
    r"(?:\w+\s+){0,2}?(?:tms|rtms|it|this|that|treatment|therapy|magnetic|procedure|ect)\b"
    r"(?!\s+(?:before|after|first|during|between))"
    r"|\bwill (?:tms|it|this|the treatment) (?:help|work for|fix|cure) me\b"
)

# Only an FAQ answer or "did you mean...?" is turned into advice. When the classifier already
# chose an advice reply it keeps its choice: it was trained on hundreds of advice questions,
# and these phrases cannot tell "is it safe for me to continue with my amitriptyline" (the
# medicines advice) from a question about suitability as well as it can (on the dev and
# test splits of tests/data/nlu_eval, switching between advice replies by these phrases got
# two right answers wrong and none wrong answers right).
GUARDED_INTENTS = {"faq", DEFAULT_NLU_FALLBACK_INTENT_NAME}


def personal_advice_intent(text: Text) -> Optional[Text]:
    """The advice intent a message about the person's own care needs, or None."""
    text = re.sub(r"[’‘`]", "'", text.lower())
    if not re.search(rf"\b{_ME}\b", text):
        return None
    if ADVICE_MEDICATION.search(text):
        return "advice_medication"
    if ADVICE_HEALTH_CONDITION.search(text) and PERSONAL_DECISION.search(text):
        return "advice_health_condition"
    if ADVICE_SUITABILITY.search(text):
        return "advice_suitability"
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class PersonalAdviceGuard(PackageFingerprinted, GraphComponent):
    """Sets an `advice_*` intent when an FAQ-looking message asks about the person's own care."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PersonalAdviceGuard:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            predicted = (message.get(INTENT) or {}).get("name")
            if predicted not in GUARDED_INTENTS:
                continue
            advice = personal_advice_intent(message.get(TEXT) or "")
            if advice and advice != predicted:
                override_intent(message, advice)
        return messages
