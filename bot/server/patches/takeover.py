"""While a professional has the conversation, crisis language still gets the crisis reply.

A professional takes a conversation over by pausing it (Rasa's `ConversationPaused`): Rasa
then still reads each message (NLU, with the crisis detector) and stores it, but predicts
no action, so the assistant stays quiet while staff answer. Crisis language must not wait
for a busy professional: `install_crisis_during_takeover` lets a paused conversation run
its rules for a message read as crisis (the crisis reply, its slots), and for nothing else;
the conversation stays paused. The escalation broker marks it urgent in the inbox.

It replaces one static method of Rasa's MessageProcessor, written against Rasa 3.6.21: on
another version it logs one line and leaves Rasa as it is.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

WRITTEN_FOR_RASA = "3.6.21"
CRISIS_INTENT = "crisis"


def is_crisis_turn(tracker: Any) -> bool:
    latest = tracker.latest_message
    return latest is not None and (latest.intent or {}).get("name") == CRISIS_INTENT


def install_crisis_during_takeover() -> bool:
    """Idempotent; False (and one log line) when the Rasa version is not the one checked."""
    import rasa
    from rasa.core.processor import MessageProcessor

    if rasa.__version__ != WRITTEN_FOR_RASA:
        logger.error(
            "Crisis replies during a staff takeover are written for Rasa %s, not %s: not installed.",
            WRITTEN_FOR_RASA, rasa.__version__,
        )
        return False
    original = MessageProcessor._should_handle_message
    if getattr(original, "_answers_crisis_while_paused", False):
        return True

    def should_handle_message(tracker: Any) -> bool:
        return original(tracker) or (tracker.is_paused() and is_crisis_turn(tracker))

    should_handle_message._answers_crisis_while_paused = True  # type: ignore[attr-defined]
    MessageProcessor._should_handle_message = staticmethod(should_handle_message)  # type: ignore[method-assign]
    return True
