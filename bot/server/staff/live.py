"""The live takeover: what claiming, replying, releasing and resolving do to the conversation.

- claim: the conversation is paused (Rasa's `ConversationPaused`): the assistant stops
  answering, the person's messages are still read and stored (and reach the inbox), and
  crisis language is still answered at once (bot/server/patches/takeover.py).
- reply: recorded in the conversation as a bot message labelled with the professional's
  name (metadata `staff_reply_id`, `staff_name`), then delivered on the person's channel:
  Telegram and SMS/WhatsApp through their connectors' send APIs; the website widget fetches
  it from the outbox (`GET /staff/api/updates`, bot/server/staff/web.py).
- release: the conversation goes back to the waiting list and the assistant answers again.
- resolve: the assistant answers again and says so (utter_staff_resolved, then the crisis
  line for the person's region).

Every change to a conversation is made under the lock store's lock for it, as a message
would be, so it cannot interleave with a turn on this or another instance.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed, Event

from bot.server.staff.store import Handoff, StaffReply

logger = logging.getLogger(__name__)

RESOLVED_RESPONSES = ("utter_staff_resolved", "utter_crisis_reminder")
TIMEOUT_RESPONSES = ("utter_handoff_timeout", "utter_crisis_reminder")
# Recorded as who closed a handoff nobody claimed in time (not a valid staff username).
TIMED_OUT = "(nobody in time)"
DEFAULT_CLAIM_TIMEOUT_MINUTES = 30.0


class DeliveryFailed(RuntimeError):
    """The reply is stored, but the person's messaging platform did not take it."""


def staff_label(reply: StaffReply) -> str:
    """How a professional's message starts on channels that show plain text only."""
    return f"{reply.display_name} (clinic team): {reply.text}"


def platform_output(channel: str) -> Optional[OutputChannel]:
    """The send API of a messaging platform, configured from the environment; None for the
    website (the widget fetches replies) or a platform that is off."""
    if channel == "telegram":
        from bot.server.channels.telegram import TelegramChannel

        return TelegramChannel.from_credentials(None).get_output_channel()
    if channel == "twilio":
        from bot.server.channels.twilio import TwilioChannel

        return TwilioChannel.from_credentials(None).get_output_channel()
    return None


class RasaTakeover:
    """TakeoverControl (bot/server/staff/takeover.py) on the running Rasa server's agent."""

    def __init__(self, app: Any = None, outputs: Any = platform_output) -> None:
        self._app = app  # the Rasa server's Sanic app; bound when the server starts
        self._outputs = outputs  # channel name -> OutputChannel or None (replaceable in tests)

    def bind(self, app: Any) -> None:
        self._app = app

    @property
    def _agent(self) -> Any:
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        if agent is None or agent.processor is None:
            raise RuntimeError("the assistant is still loading")
        return agent

    async def _append(self, sender_id: str, *events: Event) -> None:
        agent = self._agent
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.processor.get_tracker(sender_id)
            for event in events:
                tracker.update(event)
            await agent.processor.save_tracker(tracker)

    async def on_claim(self, handoff: Handoff) -> None:
        await self._append(handoff.sender_id, ConversationPaused())

    async def on_reply(self, handoff: Handoff, reply: StaffReply) -> None:
        metadata = {"staff_reply_id": reply.id, "staff_name": reply.display_name}
        await self._append(handoff.sender_id, BotUttered(reply.text, metadata=metadata))
        output = self._outputs(handoff.channel)
        if output is None:
            if handoff.channel in ("telegram", "twilio"):
                raise DeliveryFailed(f"the {handoff.channel} connector is off")
            return  # the website widget fetches it from the outbox
        try:
            await output.send_text_message(handoff.sender_id, staff_label(reply))
        except Exception as error:  # noqa: BLE001 - any platform failure; reported to staff
            raise DeliveryFailed(
                f"{handoff.channel} did not accept the reply ({type(error).__name__})"
            ) from None

    async def on_release(self, handoff: Handoff) -> None:
        await self._append(handoff.sender_id, ConversationResumed())

    async def on_resolve(self, handoff: Handoff) -> None:
        await self._append(handoff.sender_id, ConversationResumed())
        await self._say(handoff, RESOLVED_RESPONSES)

    async def on_timeout(self, handoff: Handoff) -> None:
        """Nobody claimed it in time: the person is told (the assistant never stopped)."""
        await self._say(handoff, TIMEOUT_RESPONSES)

    async def _say(self, handoff: Handoff, responses: Any) -> None:
        """Domain responses, recorded in the conversation and sent on a messaging platform
        (the widget shows the closing text from /staff/api/updates)."""
        agent = self._agent
        output = self._outputs(handoff.channel) or CollectingOutputChannel()
        async with agent.lock_store.lock(handoff.sender_id):
            # Then listen, as after any turn: the rules expect the next message after it.
            for response in (*responses, "action_listen"):
                await agent.execute_action(handoff.sender_id, response, output, None, None)


def claim_timeout_seconds(environ: Any) -> float:
    """HANDOFF_CLAIM_TIMEOUT_MINUTES (default 30): how long a person waits for a professional."""
    value = (environ.get("HANDOFF_CLAIM_TIMEOUT_MINUTES") or "").strip()
    minutes = float(value) if value else DEFAULT_CLAIM_TIMEOUT_MINUTES
    if not 0 < minutes <= 24 * 60:
        raise ValueError("HANDOFF_CLAIM_TIMEOUT_MINUTES must be between 0 and 1440")
    return minutes * 60


async def close_unclaimed(handoffs: Any, takeover: RasaTakeover, timeout_seconds: float) -> int:
    """Closes requests for a person that nobody claimed in time and tells those people.

    Only requests the person made (crisis alerts open entries too, but promised nothing).
    The close is a conditional update, so with several instances only one tells the person.
    """
    told = 0
    for handoff in handoffs.unclaimed_older_than(timeout_seconds):
        if handoff.reason != "asked_for_person" or not handoffs.resolve(handoff.ref, TIMED_OUT):
            continue
        handoffs.audit(None, "timed_out", handoff.ref)
        try:
            await takeover.on_timeout(handoff)
            told += 1
        except Exception as error:  # noqa: BLE001 - the next entry must still be handled
            logger.error("Telling handoff %s it timed out failed: %s", handoff.ref, type(error).__name__)
    return told

