"""Keeps answering when the action server is down or slow.

Rasa runs custom actions on the action server; when that fails it logs an error and the
action's messages are simply lost, so a person would get an answer with no referral.
`install_remote_action_fallback` wraps Rasa's RemoteAction so that a failed or slow call
(after $ACTION_TIMEOUT_SECONDS, default 10) sends domain responses instead: the referral,
the handoff text, the topic list. Crisis replies never depend on it: they are domain
responses chosen by rules.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Text

from rasa.core.actions.action import (
    ActionBotResponse,
    ActionExecutionRejection,
    ActionSessionStart,
    RemoteAction,
)
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import Event

from bot.server.rasa_server import DEFAULT_ACTION_TIMEOUT

logger = logging.getLogger(__name__)

# Each ends with a referral to a professional, as the action would have (utter_handoff_offline
# is itself one); after a crisis, a crisis line follows (KEEPS_CRISIS_HELP_IN_VIEW), except
# after the handoff, whose rule gives the crisis reply next.
OFFLINE_RESPONSES: Dict[Text, List[Text]] = {
    "action_refer_to_professional": ["utter_referral_offline"],
    "action_offer_topics": ["utter_no_information", "utter_referral_offline"],
    "action_list_topics": ["utter_topics_offline", "utter_referral_offline"],
    "action_handoff_to_human": ["utter_handoff_offline"],
}
DEFAULT_OFFLINE_RESPONSES = ["utter_referral_offline"]
KEEPS_CRISIS_HELP_IN_VIEW = {
    "action_refer_to_professional", "action_offer_topics", "action_list_topics", "action_handoff_to_human",
}


def _crisis_help_in_view(tracker: Any) -> bool:
    """As actions.referral.keeps_crisis_help_in_view, on Rasa's own tracker."""
    if tracker.get_slot("crisis_flagged"):
        return True
    latest = getattr(tracker, "latest_message", None)
    entities = getattr(latest, "entities", None) or []
    return any(e.get("entity") == "crisis_kind" and e.get("value") == "caution" for e in entities)


async def offline_events(action_name: Text, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
    """What the action would have said, from domain responses only."""
    names = list(OFFLINE_RESPONSES.get(action_name, DEFAULT_OFFLINE_RESPONSES))
    # As actions/handoff.py: after a crisis, the handoff's rule gives the crisis reply next
    # (data/rules/crisis.yml), so no reminder before it.
    crisis_reply_follows = action_name == "action_handoff_to_human" and tracker.get_slot("crisis_flagged")
    if action_name in KEEPS_CRISIS_HELP_IN_VIEW and _crisis_help_in_view(tracker) and not crisis_reply_follows:
        # As actions.referral.emergency_in_session: after an overdose or injury, "please
        # still get checked now" before the crisis line.
        if tracker.get_slot("crisis_flagged") and tracker.get_slot("crisis_kind") == "medical":
            names.append("utter_emergency_reminder")
        names.append("utter_crisis_reminder")
    events: List[Event] = []
    for name in names:
        events += await ActionBotResponse(name, silent_fail=True).run(output_channel, nlg, tracker, domain)
    # handoff_requested stays unset: utter_handoff_offline says no one can be reached here.
    return events


def install_remote_action_fallback(timeout_seconds: float = DEFAULT_ACTION_TIMEOUT) -> None:
    """Wraps RemoteAction.run once per process (idempotent).

    Always on, whatever the Rasa version: it wraps the public `run` every action has, not
    Rasa's internals (those patches are behind bot.server.patches.install()).
    """
    original = RemoteAction.run
    if getattr(original, "_with_offline_fallback", False):
        return

    async def run_with_fallback(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        try:
            return await asyncio.wait_for(original(self, output_channel, nlg, tracker, domain), timeout_seconds)
        except ActionExecutionRejection:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of the action server
            logger.error(
                "Action server failed on '%s' (%s); answering from domain responses.",
                self.name(), type(error).__name__,
            )
            if self.name() == ACTION_SESSION_START_NAME:
                # Rasa's own session start: the session must start, without a referral.
                return await ActionSessionStart().run(output_channel, nlg, tracker, domain)
            return await offline_events(self.name(), output_channel, nlg, tracker, domain)

    run_with_fallback._with_offline_fallback = True  # type: ignore[attr-defined]
    RemoteAction.run = run_with_fallback  # type: ignore[method-assign]
