"""After a crisis, a message read as out of scope without certainty gets the crisis reply again.

A follow-up to a crisis reply is read without its context, and distress said in everyday
words often reads as out of scope: "towel is soaked through" after self-harm, "vision going
blurry" after an overdose, "hes home in 20 min" after danger at home. The out-of-scope reply
("my information doesn't cover that", with the one-line crisis reminder) would leave that
person without the reply for their case. After a crisis in the session, a message the
assistant cannot place already gets the crisis reply again (data/rules/crisis.yml: "I'm not
sure I understood. If you meant a question about TMS, you can ask it another way. If you or
someone else may still be in danger, please reach out now:", the crisis reply for the
session's case, the short referral). This policy gives that same reply to an out-of-scope
reading the intent classifier is less than `confidence_below` sure of.

The same goes for an FAQ answer the classifier is barely sure of (below
`answer_confidence_below`): after an overdose, "dizzy" read as the side-effects answer
(0.38) or "shes asleep now. is that ok?" as what happens in a session (0.36) would tell the
person about TMS while the emergency may be going on.

An out-of-scope reading of a message that names TMS or its sessions ("nah im good. tms cost
tho?", "monday session still on?") keeps the out-of-scope reply, which after a crisis ends
with the crisis line (actions/referral.py): that person has moved on to a question about
the treatment, and the crisis reply again would not answer it. Distress said in everyday
words rarely names the treatment. Chosen on the dev split of tests/data/crisis_followups
(config.yml).

After a crisis, a message that says the person cannot call ("i cant call, he checks my
phone", "no credit on my phone", "I cannot call") gets the crisis reply for the session's
case again, whatever it is read as (except crisis language, which its own rules answer),
led by a line that points to the text options and to someone who can call for them
(`cannot_call_reply`). Read alone such a message is ordinary ("no phone. only this laptop"
as out of scope), but after a crisis reply it says the help offered is out of reach.

An ordinary question read as out of scope loses nothing by it: the out-of-scope reply holds
no answer. Plain out-of-scope questions ("cost?", "medicare cover tms?") are read with
near certainty and keep the out-of-scope reply. The bar was chosen on the dev split of
tests/data/crisis_followups (config.yml). A rule cannot say this (rules see the intent, not
its confidence), so it is a policy: it needs no action server, predicts nothing outside a
crisis session, and wins over the rule policy's out-of-scope rule by its priority.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Pattern, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.session_reply import CRISIS_FLAG_SLOT, SessionReplyPolicy

OUT_OF_SCOPE_INTENT = "out_of_scope"
FAQ_INTENT = "faq"

# Words that name the treatment itself. Not "treatment", "appointment", "cost" or
# "insurance": after an overdose, "do I need treatment?" or "will insurance cover the ER?"
# are about the emergency.
NAMES_TMS: Pattern[Text] = re.compile(r"\b(?:r?tms|magnet\w*|coils?|sessions?|sesh)\b", re.IGNORECASE)


# The person cannot call: not allowed, not able, not safe (someone would hear), no phone or
# credit. Only read after a crisis reply in the session. Matched in every follow-up of the
# dev split of tests/data/crisis_followups that says so (4 distressed) and in none of its
# ordinary ones.
CANNOT_CALL: Pattern[Text] = re.compile(
    r"\b(?:(?:can'?t|cant|cannot|can not|couldn'?t|couldnt|unable to|not able to|won'?t be able to|"
    r"(?:too )?scared to|afraid to)\s+(?:\w+\s+)?(?:call|phone|ring|text|talk|speak|dial|make (?:a )?calls?)\b"
    r"|(?:no|don'?t have (?:a|any)|dont have (?:a|any)|haven'?t got (?:a|any)|without (?:a|any)|lost my|ran out of)\s+"
    r"(?:phone|cell|cellphone|mobile|signal|reception|credit|minutes|data)\b"
    r"|(?:he|she|they|someone|somebody|people)(?:'?ll|'d| will| would| might| could| can)\s+hear\b"
    r"|(?:phone|mobile|cell)(?: is| was|'s|s)?\s+(?:dead|broken|off|gone|smashed|taken|out of (?:battery|credit))"
    r"|(?:took|taken|has|smashed|broke|hid|hidden)\s+my\s+(?:phone|mobile|cell))",
    re.IGNORECASE,
)
CRISIS_INTENT = "crisis"


def cannot_call(text: Optional[Text]) -> bool:
    """True for a message saying the person cannot call for help (see CANNOT_CALL)."""
    return bool(CANNOT_CALL.search(text or ""))


def unsure_reading(
    intent: Optional[Text],
    confidence: float,
    out_of_scope_below: float,
    answer_below: float,
    text: Optional[Text] = None,
    tms_question_keeps_reply: bool = False,
) -> bool:
    """True for an out-of-scope reading below `out_of_scope_below` (unless
    `tms_question_keeps_reply` and `text` names TMS) or an FAQ answer below `answer_below`:
    after a crisis, a message the assistant cannot place (also used by the follow-up
    report, tooling/evaluation.py)."""
    if intent == FAQ_INTENT:
        return confidence < answer_below
    if intent != OUT_OF_SCOPE_INTENT:
        return False
    if tms_question_keeps_reply and NAMES_TMS.search(text or ""):
        return False
    return confidence < out_of_scope_below


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class UnsureOutOfScopeAfterCrisisPolicy(SessionReplyPolicy):
    """After a crisis, an unsure out-of-scope reading gets `reply`, one action at a time."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Above the rule policy's (4, rasa.core.constants): both are sure of their next
            # action, and the higher priority wins.
            "priority": 5,
            # An out-of-scope reading below this confidence counts as a message the
            # assistant cannot place.
            "confidence_below": 0.95,
            # An FAQ answer below this confidence counts the same (0: never).
            "answer_confidence_below": 0.0,
            # An out-of-scope reading of a message that names TMS keeps its own reply.
            "tms_question_keeps_reply": False,
            # The reply to a message it cannot place after a crisis: the actions of that
            # rule in data/rules/crisis.yml (tests/policies/test_unsure_out_of_scope.py
            # checks they are the same).
            "reply": ["utter_crisis_checkin", "utter_crisis", "utter_referral_short"],
            # The reply after a crisis to a message saying the person cannot call.
            "cannot_call_reply": ["utter_crisis_cannot_call", "utter_crisis", "utter_referral_short"],
        }

    def applies(self, tracker: DialogueStateTracker) -> bool:
        return self.reply(tracker) is not None

    def reply(self, tracker: DialogueStateTracker) -> Optional[List[Text]]:
        """After a crisis earlier in the session: `cannot_call_reply` when the latest message
        says the person cannot call (unless read as crisis language); `reply` when it was
        read as out of scope with less than `confidence_below` confidence, or as an FAQ
        answer with less than `answer_confidence_below`; otherwise None."""
        message = tracker.latest_message
        if message is None or tracker.get_slot(CRISIS_FLAG_SLOT) is not True:
            return None
        intent = message.intent or {}
        if intent.get("name") != CRISIS_INTENT and cannot_call(message.text):
            return list(self.config["cannot_call_reply"])
        if unsure_reading(intent.get("name"), float(intent.get("confidence") or 0.0),
                          self.config["confidence_below"], self.config["answer_confidence_below"],
                          message.text, self.config["tms_question_keeps_reply"]):
            return list(self.config["reply"])
        return None
