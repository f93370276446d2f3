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
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, List

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.server.origins import configured_origins, is_allowed

logger = logging.getLogger(__name__)


def own_origins(request: Request) -> List[str]:
    """The origins of pages this server serves itself, for the host a request came to.

    Both schemes: behind a TLS-terminating proxy Sanic sees http for an https page.
    """
    return [f"http://{request.host}", f"https://{request.host}"]


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
            return await handle_request(request, *args, **kwargs)

        engine.handle_request = checked_handle_request
        return blueprint
