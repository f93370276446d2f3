"""Rasa's socket.io channel, limited to the origin allow-list.

Rasa 3.6 creates its socket.io server with `cors_allowed_origins=[]`, which switches
python-engineio's origin check off: any web page could open a WebSocket to it (browsers
apply no CORS to WebSockets). This channel is the same channel (same name, URL and
settings in credentials.yml) with the check back on: a request or WebSocket upgrade
whose Origin header is neither the server's own origin nor in $WIDGET_ALLOWED_ORIGINS
(bot/server/origins.py) gets 403. CORS headers on the polling transport stay Sanic-CORS's job
(Rasa's `--cors`, set from the same list), so they are not sent twice.

The website widget itself uses the REST channel (docs/widget.md says why); this keeps
socket.io-based clients such as Rasa Webchat working without opening them to every site.

Long-polling POST bodies are checked before engine.io reads them (`refused_post`), as every
channel's bodies are (bot/server/channels/inbound.py): engine.io answers 500 to a POST
without a session id, and answers 200 to a body it cannot read, dropping it silently.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, List, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.channels.inbound import MAX_WEBHOOK_BYTES, InvalidMessage, check_nesting, read_text
from bot.server.origins import configured_origins, is_allowed

logger = logging.getLogger(__name__)
PACKET_START = re.compile(r"[0-6b]")


def own_origins(request: Request) -> List[str]:
    """The origins of pages this server serves itself, for the host a request came to.

    Both schemes: behind a TLS-terminating proxy Sanic sees http for an https page.
    """
    return [f"http://{request.host}", f"https://{request.host}"]


def is_engine_io_payload(text: str) -> bool:
    """Whether a polling body is engine.io v4 packets: each a type digit 0-6 or "b" (base64),
    separated by \x1e; "d=..." is the older JSONP form, which engine.io reads itself."""
    return not text or text.startswith("d=") or all(PACKET_START.match(packet) for packet in text.split("\x1e"))


def refused_post(request: Request) -> Optional[HTTPResponse]:
    """A 4xx answer for a long-polling POST engine.io could not read; None when it can."""
    if not request.args.get("sid"):
        return response.json({"error": "A socket.io POST needs the sid of an open session."}, status=400)
    try:
        text = read_text(request.body or b"", MAX_WEBHOOK_BYTES)
        check_nesting(text)
    except InvalidMessage as invalid:
        return invalid.as_response()
    if not is_engine_io_payload(text):
        return response.json({"error": "The request body is not an engine.io payload."}, status=400)
    return None


class SocketIOChannel(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        allowed = configured_origins()
        engine = self.sio.eio  # the route is attached to engine.handle_request on registration
        handle_request = engine.handle_request

        async def checked_handle_request(request: Request, *args: Any, **kwargs: Any) -> Any:
            origin = request.headers.get("origin")
            if not is_allowed(origin, allowed, own=own_origins(request)):
                logger.warning("Refused a socket.io request from origin %r (not allowed).", origin)
                return response.text("origin not allowed", status=403)
            refusal = refused_post(request) if request.method == "POST" else None
            if refusal is not None:
                return refusal
            return await handle_request(request, *args, **kwargs)

        engine.handle_request = checked_handle_request
        return blueprint
