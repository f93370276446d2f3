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
        contact = load_clinic_contact()
        values = contact.template_values()
        dispatcher.utter_message(response="utter_handoff", **values)
        if contact.contact_response:
            dispatcher.utter_message(response=contact.contact_response, **values)
        if tracker.get_slot("crisis_flagged"):
            dispatcher.utter_message(response="utter_crisis_reminder")
        # A human-agent integration reads this slot to pick the conversation up.
        return [SlotSet("handoff_requested", True)]
