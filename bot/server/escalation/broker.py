"""Turns what happens in a conversation into an escalation: Rasa's event broker seam.

Rasa hands every stored event to the configured event broker (endpoints.yml). This broker
watches for two things and nothing else:
- `handoff_requested` set to true: the person asked for someone and was told the clinic's
  team has been let know (actions/handoff.py says so only when staff can be reached);
- a user message read as crisis language (intent `crisis`): the crisis reply has already
  gone out from a rule; besides it, the clinic gets an **urgent** alert.
Either opens (or reuses) the conversation's entry in the staff inbox (bot/server/staff/store.py),
under an opaque reference, never the sender id (a phone number on SMS), and hands the
notification to bot/server/escalation/notify.py, which sends it in the background. Nothing here
waits on the network or reads what was written: the person's reply is never delayed.

It runs in the Rasa server, not the action server, so crisis alerts work with the action
server down.
"""

from __future__ import annotations

import asyncio
import logging
import os
from asyncio import AbstractEventLoop
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Set, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.server.escalation.ledger import SqlClaimLedger
from bot.server.escalation.notify import (
    ASKED_FOR_PERSON,
    CRISIS,
    URGENT_REASONS,
    Escalation,
    Notifier,
)
from bot.server.escalation.settings import NotificationSettings

logger = logging.getLogger(__name__)

HANDOFF_SLOT = "handoff_requested"
CRISIS_INTENT = "crisis"
# Rasa's input channel names, as the inbox and notifications name them.
CHANNEL_NAMES = {"rest": "website", "socketio": "website", "telegram": "telegram", "twilio": "twilio"}
# Conversations whose channel is remembered between a user message and the action after it.
REMEMBERED_SENDERS = 10_000


def escalation_reason(event: Dict[Text, Any]) -> Optional[Text]:
    """The reason an event calls for a person, or None."""
    kind = event.get("event")
    if kind == "slot" and event.get("name") == HANDOFF_SLOT and event.get("value") is True:
        return ASKED_FOR_PERSON
    if kind == "user":
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == CRISIS_INTENT:
            return CRISIS
    return None


class EscalationBroker(EventBroker):
    """Opens staff-inbox entries and notifies the clinic when a conversation needs a person."""

    def __init__(
        self, handoffs: Any, notifier: Optional[Notifier] = None, inbox_in_use: Callable[[], bool] = lambda: True
    ) -> None:
        self._handoffs = handoffs  # bot.server.staff.store.HandoffRepository
        self._notifier = notifier
        # Whether the staff inbox has accounts: with no inbox and no notifications nobody
        # would ever read a crisis entry, so none is stored (it would only be health data kept).
        self._inbox_in_use = inbox_in_use
        self._channels: OrderedDict[Text, Text] = OrderedDict()
        self._tasks: Set[asyncio.Task[None]] = set()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[AbstractEventLoop] = None
    ) -> EscalationBroker:
        from bot.server.staff.accounts import StaffAccounts
        from bot.server.staff.store import HandoffRepository, create_tables, engine_from_env

        settings = NotificationSettings.from_env()  # a wrong setting stops the start, loudly
        engine = engine_from_env(os.environ)
        await asyncio.to_thread(create_tables, engine)
        notifier = Notifier(settings, SqlClaimLedger(engine)) if settings.enabled else None
        logger.info("Escalations: staff inbox on; clinic notifications %s.", "on" if notifier else "off")
        return cls(HandoffRepository(engine), notifier, StaffAccounts(engine).any_exist)

    def publish(self, event: Dict[Text, Any]) -> None:
        sender_id = event.get("sender_id")
        if not isinstance(sender_id, str):
            return
        if event.get("event") == "user" and event.get("input_channel"):
            self._remember_channel(sender_id, str(event["input_channel"]))
        reason = escalation_reason(event)
        if reason is None:
            return
        channel = CHANNEL_NAMES.get(self._channels.get(sender_id, ""), "website")
        task = asyncio.get_running_loop().create_task(self.escalate(sender_id, channel, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _remember_channel(self, sender_id: Text, channel: Text) -> None:
        self._channels[sender_id] = channel
        self._channels.move_to_end(sender_id)
        while len(self._channels) > REMEMBERED_SENDERS:
            self._channels.popitem(last=False)

    async def escalate(self, sender_id: Text, channel: Text, reason: Text) -> None:
        """Opens the inbox entry and notifies; failures are logged (no content), never raised."""
        try:
            if self._notifier is None and not await asyncio.to_thread(self._inbox_in_use):
                return
            handoff = await asyncio.to_thread(
                self._handoffs.open_handoff, sender_id, channel, reason, reason in URGENT_REASONS
            )
            if self._notifier is not None:
                # One notification per conversation entry and reason, whichever instance sees it.
                await self._notifier.notify(
                    Escalation(id=f"{handoff.ref}.{reason}", reason=reason, channel=channel,
                               conversation_ref=handoff.ref)
                )
        except Exception as error:  # noqa: BLE001 - an escalation must never break a turn
            logger.error("Escalation (%s, %s) failed: %s.", reason, channel, type(error).__name__)

    def is_ready(self) -> bool:
        return True

    async def drain(self) -> None:
        """Waits for escalations in flight (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._notifier is not None:
            await self._notifier.drain()

    async def close(self) -> None:
        await self.drain()
        if self._notifier is not None:
            await self._notifier.close()
