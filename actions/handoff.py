"""Handles "I want to talk to a person": explains how, and flags the conversation."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.config import load_clinic_contact


class ActionHandoffToHuman(Action):
    def name(self) -> Text:
        return "action_handoff_to_human"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        contact = load_clinic_contact(domain=domain)
        values = contact.template_values()
        # utter_handoff is itself the referral: it names the professional to contact.
        dispatcher.utter_message(response="utter_handoff", **values)
        if contact.contact_response:
            dispatcher.utter_message(response=contact.contact_response, **values)
        if tracker.get_slot("crisis_flagged"):
            dispatcher.utter_message(response="utter_crisis_reminder")
        # It counts as the full referral (it gives the clinic's contacts), so the next
        # answer gets a short reminder rather than the same contacts again.
        count = int(tracker.get_slot("referral_count") or 0)
        # A human-agent integration reads handoff_requested to pick the conversation up.
        return [SlotSet("handoff_requested", True), SlotSet("referral_count", float(count + 1))]
