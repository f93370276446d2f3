"""A retried message is not handled twice, on any instance.

A client whose request failed sends the message again, maybe to another instance: the
widget after a timeout or a lost connection (with the same message id), Telegram and
Twilio when a webhook did not answer in time (same `update_id`, same `MessageSid`). If the
first instance had already stored the turn before it died or before its answer reached the
client, Rasa handled it again: the person's message was stored twice and answered twice.

Every channel passes the client's id as the UserMessage's `message_id`, which Rasa keeps on
the stored user event. Here, under the conversation's lock (shared through Redis with
several instances), a message whose id is already in the conversation is not handled
again: a channel that collects replies (REST, the widget) gets the replies that turn
produced, and the messaging platforms get nothing more (the person already has, or will
not want twice, the answer), never a second copy of the turn.

It replaces MessageProcessor.handle_message with the same steps plus that check (Rasa
3.6.21's body; tests/server/patches/test_retries.py compares it with Rasa's source).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from bot.server.patches import replace

logger = logging.getLogger(__name__)


def replies_already_produced(tracker: Any, message_id: Optional[Text]) -> Optional[List[Dict[Text, Any]]]:
    """The replies of the turn that handled `message_id`, or None if no turn did."""
    from rasa.shared.core.events import BotUttered, UserUttered

    if not message_id:
        return None
    replies: Optional[List[Dict[Text, Any]]] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break  # the next turn
            if event.message_id == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            replies.append({"text": event.text, **{key: value for key, value in event.data.items() if value}})
    return replies


def install_retry_check() -> None:
    """Idempotent. Call it through bot.server.patches.install(), which checks versions."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.processor import MessageProcessor
    from rasa.shared.constants import DOCS_URL_POLICIES
    from rasa.shared.data import TrainingType
    from rasa.shared.utils.io import raise_warning

    if getattr(MessageProcessor.handle_message, "_checks_retries", False):
        return

    async def handle_message(self: MessageProcessor, message: Any) -> Optional[List[Dict[Text, Any]]]:
        tracker = await self.fetch_tracker_and_update_session(
            message.sender_id, message.output_channel, message.metadata
        )
        earlier = replies_already_produced(tracker, message.message_id)
        if earlier is not None:
            logger.info("A retried message was handled before: its turn is not run again.")
            if isinstance(message.output_channel, CollectingOutputChannel):
                for reply in earlier:
                    await message.output_channel.send_response(message.sender_id, dict(reply))
                return message.output_channel.messages
            return None
        # From here on, Rasa 3.6.21's handle_message, whose log_message() is the fetch above
        # and this call.
        await self._handle_message_with_tracker(message, tracker)

        if self.model_metadata.training_type == TrainingType.NLU:
            await self.save_tracker(tracker)
            raise_warning("No core model. Skipping action prediction and execution.", docs=DOCS_URL_POLICIES)
            return None

        tracker = await self.run_action_extract_slots(message.output_channel, tracker)

        await self._run_prediction_loop(message.output_channel, tracker)

        await self.run_anonymization_pipeline(tracker)

        await self.save_tracker(tracker)

        if isinstance(message.output_channel, CollectingOutputChannel):
            return message.output_channel.messages

        return None

    handle_message._checks_retries = True  # type: ignore[attr-defined]
    replace(MessageProcessor, "handle_message", handle_message)
