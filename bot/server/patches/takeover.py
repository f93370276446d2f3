"""While a professional has the conversation, crisis language still gets the crisis reply.

A professional takes a conversation over by pausing it (Rasa's `ConversationPaused`): Rasa
then still reads each message (NLU, with the crisis detector) and stores it, but predicts
no action, so the assistant stays quiet while staff answer. Crisis language must not wait
for a busy professional: `install_crisis_during_takeover` lets a paused conversation run
its rules for a message read as crisis (the crisis reply, its slots), and for nothing else;
the conversation stays paused. The escalation broker marks it urgent in the inbox.

It replaces one static method of Rasa's MessageProcessor, written against Rasa 3.6.21; it is
installed through bot.server.patches.install(), which leaves Rasa as it is on other versions.
"""

from __future__ import annotations

from typing import Any

from bot.server.patches import replace

CRISIS_INTENT = "crisis"


def is_crisis_turn(tracker: Any) -> bool:
    latest = tracker.latest_message
    return latest is not None and (latest.intent or {}).get("name") == CRISIS_INTENT


def install_crisis_during_takeover() -> None:
    """Idempotent. Call it through bot.server.patches.install(), which checks versions."""
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor._should_handle_message
    if getattr(original, "_answers_crisis_while_paused", False):
        return

    def should_handle_message(tracker: Any) -> bool:
        return original(tracker) or (tracker.is_paused() and is_crisis_turn(tracker))

    should_handle_message._answers_crisis_while_paused = True  # type: ignore[attr-defined]
    replace(MessageProcessor, "_should_handle_message", staticmethod(should_handle_message))
