"""Serves the website chat widget and its demo page from the Rasa server.

Registered in credentials.yml as `bot.channels.widget.WidgetChannel`. It adds two
read-only routes to the Rasa server:

- `GET /chat`: a demo clinic page with the widget on it (strict Content-Security-Policy);
- `GET /widget/<file>`: the widget's static files from `bot/widget/static/`.

It handles no messages itself: the widget posts to Rasa's REST channel
(`POST /webhooks/rest/webhook`), so several Rasa workers can sit behind a load balancer.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget"
STATIC_DIR = WIDGET_DIR / "static"
DEMO_PAGE = WIDGET_DIR / "demo.html"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# The demo page runs no inline script or style: only files from this server, and it
# may talk only to this server.
DEMO_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def static_file(name: str) -> Path | None:
    """The file in STATIC_DIR called `name`, or None (no paths, no hidden or unknown files)."""
    if not SAFE_NAME.match(name) or ".." in name:
        return None
    path = (STATIC_DIR / name).resolve()
    if path.parent != STATIC_DIR.resolve() or path.suffix not in CONTENT_TYPES or not path.is_file():
        return None
    return path


def _cached(request: Request, body: bytes, headers: Dict[str, str], content_type: str) -> HTTPResponse:
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {**COMMON_HEADERS, **headers, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return response.empty(status=304, headers=headers)
    return response.raw(body, headers=headers, content_type=content_type)


class WidgetChannel(InputChannel):
    """Static routes for the web chat widget; messages go through the REST channel."""

    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> WidgetChannel:
        return cls()

    def url_prefix(self) -> str:
        # Rasa mounts each channel at urljoin("/webhooks/", url_prefix()); an absolute
        # "/" puts these routes at the server root: /chat and /widget/<file>.
        return "/"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        widget = Blueprint("tms_widget", __name__)

        @widget.route("/chat", methods=["GET"])
        async def demo_page(request: Request) -> HTTPResponse:
            return _cached(
                request,
                DEMO_PAGE.read_bytes(),
                {"Content-Security-Policy": DEMO_CSP, "X-Frame-Options": "DENY"},
                "text/html; charset=utf-8",
            )

        @widget.route("/widget/<name:str>", methods=["GET"])
        async def widget_file(request: Request, name: str) -> HTTPResponse:
            path = static_file(name)
            if path is None:
                return response.text("not found", status=404, headers=COMMON_HEADERS)
            # Any site may embed the widget with a <script> tag.
            headers = {"Cross-Origin-Resource-Policy": "cross-origin"}
            return _cached(request, path.read_bytes(), headers, CONTENT_TYPES[path.suffix])

        return widget
