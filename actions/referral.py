"""Ends every answering turn by pointing the person to a mental health professional."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.config import ClinicContact, load_clinic_contact

REMINDER_RESPONSES = (
    "utter_referral_reminder_1",
    "utter_referral_reminder_2",
    "utter_referral_reminder_3",
)


def refer_to_professional(
    dispatcher: CollectingDispatcher, tracker: Tracker, contact: ClinicContact
) -> List[Dict[Text, Any]]:
    """Sends the referral for this point of the conversation and counts it.

    The first referral is full (with the clinic's contact details when configured);
    later ones are short and rotate, so the same sentence does not follow every answer.
    """
    count = int(tracker.get_slot("referral_count") or 0)
    values = contact.template_values()
    if count == 0:
        dispatcher.utter_message(response="utter_referral_first", **values)
        if contact.contact_response:
            dispatcher.utter_message(response=contact.contact_response, **values)
    else:
        reminder = REMINDER_RESPONSES[(count - 1) % len(REMINDER_RESPONSES)]
        dispatcher.utter_message(response=reminder, **values)
    if keeps_crisis_help_in_view(tracker):
        if emergency_in_session(tracker):
            dispatcher.utter_message(response="utter_emergency_reminder")
        dispatcher.utter_message(response="utter_crisis_reminder")
    return [SlotSet("referral_count", float(count + 1))]


def emergency_in_session(tracker: Tracker) -> bool:
    """An overdose or injury earlier in this session (`crisis_kind` medical, which
    bot/policies/crisis_case.py keeps for the rest of the session): feeling fine soon after
    one proves nothing, so every answer also says to still get checked."""
    return bool(tracker.get_slot("crisis_flagged")) and tracker.get_slot("crisis_kind") == "medical"


def keeps_crisis_help_in_view(tracker: Tracker) -> bool:
    """After crisis language in this session, or when the latest message came near it
    (a calm mention of past crisis: `crisis_kind: caution` from bot/nlu/crisis.py)."""
    if tracker.get_slot("crisis_flagged"):
        return True
    entities = (tracker.latest_message or {}).get("entities") or []
    return any(e.get("entity") == "crisis_kind" and e.get("value") == "caution" for e in entities)


class ActionReferToProfessional(Action):
    def name(self) -> Text:
        return "action_refer_to_professional"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        return refer_to_professional(dispatcher, tracker, load_clinic_contact())
