"""Rasa's REST channel with input checks, no logging of message text, and a health route.

Registered in credentials.yml in place of `rest:` and keeps its URL:
POST /webhooks/rest/webhook  {"sender": "...", "message": "...", "metadata": {...}}
GET  /webhooks/rest/health   which tracker and lock stores this instance uses
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.nlu.locale import region_of
from bot.safety_text import safety_texts
from bot.server.channels.inbound import InvalidMessage, parse_rest_body
from bot.server.stores import describe_stores

logger = logging.getLogger(__name__)


def technical_problem_messages(recipient_id: Text, region: Optional[Text] = None) -> List[Dict[Text, Any]]:
    """The domain's safe reply (utter_technical_problem) for when a message could not be handled at all."""
    return [{"recipient_id": recipient_id, "text": safety_texts().technical_problem_text(region)}]


class RestChannel(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        safety_texts()  # read domain.yml now: without its safety texts the server must not start
        webhook = Blueprint(f"hardened_rest_{id(self)}", __name__)

        @webhook.route("/", methods=["GET"])
        async def alive(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            return response.json({"status": "ok", **describe_stores(agent)})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = parse_rest_body(request.body or b"")
            except InvalidMessage as invalid:
                return response.json({"error": invalid.reason}, status=invalid.status)
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
                )
            except Exception:
                # The text is health data: log what failed, never what was said.
                logger.exception("Handling a REST message failed (conversation %s).", sender)
                region = region_of((metadata or {}).get("locale"))
                return response.json(technical_problem_messages(sender, region))
            return response.json(collector.messages)

        return webhook
