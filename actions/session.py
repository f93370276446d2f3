"""action_session_start: a new session, with the disclaimer again for someone back after a week.

Rasa starts a new session after `session_expiration_time` (60 minutes) without a message, and
carries nothing over. Someone who comes back after 7 days or more may not remember that
this is an automated assistant that gives no medical advice: the new session opens with
that reminder (`utter_disclaimer_returning`). A first visit gets it in the greeting instead.

With the action server down, Rasa's own session start runs (bot/server/resilience.py).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

# Away at least this long: the disclaimer is shown again.
RETURNING_AFTER_SECONDS = 7 * 24 * 3600


def last_message_time(events: List[Dict[Text, Any]]) -> Optional[float]:
    """When the person last wrote, from the events of the session that is ending."""
    for event in reversed(events):
        if event.get("event") == "user" and event.get("timestamp") is not None:
            return float(event["timestamp"])
    return None


class ActionSessionStart(Action):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        last = last_message_time(tracker.events)
        if last is not None and self.clock() - last >= RETURNING_AFTER_SECONDS:
            dispatcher.utter_message(response="utter_disclaimer_returning")
        # As Rasa's own session start: nothing is carried over (domain.yml session_config).
        return [SessionStarted(), ActionExecuted("action_listen")]
