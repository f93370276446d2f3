"""The base of the policies that give a fixed reply on some turns of a crisis session."""

from __future__ import annotations

from typing import Any, List, Optional, Text

from rasa.core.policies.policy import PolicyPrediction
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies.untrained import UntrainedPolicy

CRISIS_FLAG_SLOT = "crisis_flagged"


def actions_since_latest_message(tracker: DialogueStateTracker) -> Optional[List[Text]]:
    """The actions run since the latest user message (None if there is none)."""
    actions: List[Text] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return list(reversed(actions))
        if isinstance(event, ActionExecuted) and event.action_name:
            actions.append(event.action_name)
    return None


class SessionReplyPolicy(UntrainedPolicy):
    """Gives the actions of this turn's `reply`, one at a time, on a turn it applies to.

    By default the reply is `config["reply"]` on a turn where `applies`; a policy with more
    than one reply overrides `reply` and reads the message once.

    A rule cannot say when (rules see the intent, neither its confidence nor slots that do
    not shape the conversation), so these are policies: they need no action server and
    predict nothing on other turns.
    """

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Any] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.next_action(tracker)
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)

    def applies(self, tracker: DialogueStateTracker) -> bool:
        raise NotImplementedError

    def reply(self, tracker: DialogueStateTracker) -> Optional[List[Text]]:
        """The actions of this turn's reply, or None when the policy does not apply."""
        return list(self.config["reply"]) if self.applies(tracker) else None

    def next_action(self, tracker: DialogueStateTracker) -> Optional[Text]:
        """The reply's next action, `action_listen` after its last, or None (another
        policy decides) when it does not apply or the turn took another path."""
        reply = self.reply(tracker)
        if reply is None:
            return None
        done = [name for name in actions_since_latest_message(tracker) or [] if name != ACTION_LISTEN_NAME]
        if done != reply[: len(done)]:
            return None
        return reply[len(done)] if len(done) < len(reply) else ACTION_LISTEN_NAME
