"""Handles "I want to talk to a person": connects them to the clinic's staff when someone can
answer, and otherwise says honestly that it cannot and how to reach a professional."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.config import HandoffSettings, load_clinic_contact, load_handoff_settings


class ActionHandoffToHuman(Action):
    def __init__(self, now: Optional[Any] = None) -> None:
        # The clock is injectable so that opening hours can be tested.
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

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
        handoff: HandoffSettings = load_handoff_settings()
        count = int(tracker.get_slot("referral_count") or 0)
        # After crisis language in the session the rule that runs this action gives the
        # crisis reply itself, next (data/rules/crisis.yml): nothing about crisis here then.
        after_a_crisis = bool(tracker.get_slot("crisis_flagged"))
        if handoff.reachable_at(self._now()):
            # The Rasa server's escalation broker (bot/server/escalation/broker.py) sees the slot,
            # opens the conversation in the staff inbox and notifies the clinic.
            dispatcher.utter_message(response="utter_handoff_connected", handoff_wait=handoff.wait_phrase, **values)
            if not after_a_crisis:
                # Not an emergency service: a crisis line is always in view while they wait.
                dispatcher.utter_message(response="utter_crisis_reminder")
            return [SlotSet("handoff_requested", True), SlotSet("referral_count", float(count + 1))]
        if handoff.staff_notified and handoff.hours is not None:
            dispatcher.utter_message(response="utter_handoff_closed", clinic_hours=handoff.hours.text, **values)
        else:
            # utter_handoff is itself the referral: it names the professional to contact.
            dispatcher.utter_message(response="utter_handoff", **values)
        if contact.contact_response:
            dispatcher.utter_message(response=contact.contact_response, **values)
        # It counts as the full referral (it gives the clinic's contacts), so the next
        # answer gets a short reminder rather than the same contacts again.
        return [SlotSet("referral_count", float(count + 1))]
