"""What a policy that gives a fixed reply predicts for a conversation (tests of bot/policies)."""

from __future__ import annotations

from typing import List, Optional

from rasa.core.policies.policy import Policy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker


def predicted(policy: Policy, domain: Domain, events: List[Event]) -> Optional[str]:
    """The action the policy is sure of, or None when it predicts nothing."""
    tracker = DialogueStateTracker.from_events("someone", events, domain.slots)
    probabilities = policy.predict_action_probabilities(tracker, domain).probabilities
    if max(probabilities) == 0.0:
        return None
    assert max(probabilities) == 1.0 and probabilities.count(1.0) == 1
    return domain.action_names_or_texts[probabilities.index(1.0)]
