"""Offers FAQ topics as quick replies: on request, and when a question was unclear.

Titles and button texts come from each FAQ response's metadata in
data/responses/faq.yml, so a topic is described in one place only; they are read from the
file as it is now (bot/content.py), so an edited title shows without training. Like every turn that
answers or fails to answer, each of these ends with a referral to a professional.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.config import load_clinic_contact, load_handoff_settings
from actions.referral import refer_to_professional
from bot.content import live_responses, merged

FAQ_RESPONSE_PREFIX = "utter_faq/"
MAX_SUGGESTIONS = 3
# The same command as the widget's own "Talk to a professional" button (bot/nlu/command_guard.py).
TALK_TO_A_PERSON = {"title": "Talk to a professional", "payload": "/talk_to_human"}


def current_responses(domain: DomainDict) -> Dict[Text, Any]:
    """The trained domain's responses with the content files' current versions on top."""
    return merged(domain.get("responses") or {}, live_responses().responses())


def topic_button(domain: DomainDict, intent_response_key: Text) -> Optional[Dict[Text, Text]]:
    """A quick reply for one FAQ topic (e.g. "faq/session_length"), if it has metadata."""
    variations = current_responses(domain).get(f"utter_{intent_response_key}") or []
    metadata = (variations[0].get("metadata") or {}) if variations else {}
    if not metadata.get("title") or not metadata.get("question"):
        return None
    return {"title": metadata["title"], "payload": metadata["question"]}


def menu_buttons(domain: DomainDict) -> List[Dict[Text, Text]]:
    """The topics marked for the "what can I ask?" menu, in their menu order."""
    entries = []
    for name, variations in current_responses(domain).items():
        if not name.startswith(FAQ_RESPONSE_PREFIX) or not variations:
            continue
        order = (variations[0].get("metadata") or {}).get("menu_order")
        button = topic_button(domain, name[len("utter_") :])
        if order is not None and button:
            entries.append((order, button))
    return [button for _, button in sorted(entries, key=lambda entry: entry[0])]


def likeliest_topics(tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Text]]:
    """Buttons for the FAQ answers the response selector ranked highest."""
    ranking = (
        (tracker.latest_message.get("response_selector") or {})
        .get("faq", {})
        .get("ranking", [])
    )
    buttons = []
    for candidate in ranking:
        button = topic_button(domain, candidate.get("intent_response_key", ""))
        if button:
            buttons.append(button)
        if len(buttons) == MAX_SUGGESTIONS:
            break
    return buttons


def previous_bot_action(tracker: Tracker) -> Optional[Text]:
    """The last action the bot ran before the latest user message."""
    seen_latest_user_message = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest_user_message:
                return None
            seen_latest_user_message = True
        elif seen_latest_user_message and event.get("event") == "action":
            name = event.get("name")
            if name and name != "action_listen":
                return name
    return None


class ActionListTopics(Action):
    def name(self) -> Text:
        return "action_list_topics"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_topics_intro", buttons=menu_buttons(domain))
        return refer_to_professional(dispatcher, tracker, load_clinic_contact())


class ActionOfferTopics(Action):
    """Two-stage fallback: first offer the likeliest topics, then admit not knowing.

    Both stages end with a referral: a question the assistant did not understand may
    still be one for a professional.
    """

    def name(self) -> Text:
        return "action_offer_topics"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        buttons = likeliest_topics(tracker, domain)
        if previous_bot_action(tracker) == self.name() or not buttons:
            # Two misses in a row: offer a person, when one can answer here.
            offer = [TALK_TO_A_PERSON] if load_handoff_settings().reachable_at(dt.datetime.now(dt.timezone.utc)) else []
            dispatcher.utter_message(response="utter_no_information", buttons=offer)
            return refer_to_professional(dispatcher, tracker, load_clinic_contact())
        dispatcher.utter_message(response="utter_clarify", buttons=buttons)
        return refer_to_professional(dispatcher, tracker, load_clinic_contact())
