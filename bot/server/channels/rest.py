"""Rasa's REST channel with input checks, no logging of message text, and a health route.

Registered in credentials.yml in place of `rest:` and keeps its URL:
POST /webhooks/rest/webhook  {"sender": "...", "message": "...", "metadata": {...}}
GET  /webhooks/rest/health   which tracker and lock stores this instance uses
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable, Mapping, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.nlu.locale import region_of
from bot.server.channels.inbound import InvalidMessage, parse_rest_body
from bot.server.channels.replies import require_safety_texts, technical_problem_messages
from bot.server.stores import describe_stores

logger = logging.getLogger(__name__)


def turn_deadline(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds a turn may take: 5 s less than the response timeout the server runs with
    (bot/server/rasa_server.py sets it), so the reply is ours, never Sanic's 503."""
    try:
        response_timeout = float(environ.get("SANIC_RESPONSE_TIMEOUT") or 60)
    except ValueError:
        response_timeout = 60.0
    return max(response_timeout - 5, 1.0)


class RestChannel(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        require_safety_texts()
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
                sender, text, metadata, message_id = parse_rest_body(request.body or b"")
            except InvalidMessage as invalid:
                return invalid.as_response()
            collector = CollectingOutputChannel()
            try:
                # Answered before Sanic's own response timeout would give the person a bare 503
                # (a conversation lock left by a dead instance can hold a turn that long).
                await asyncio.wait_for(
                    on_new_message(
                        UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata,
                                    message_id=message_id)
                    ),
                    turn_deadline(),
                )
            except Exception:
                # The text is health data: log what failed, never what was said.
                logger.exception("Handling a REST message failed (conversation %s).", sender)
                region = region_of((metadata or {}).get("locale"))
                return response.json(technical_problem_messages(sender, region))
            return response.json(collector.messages)

        return webhook
