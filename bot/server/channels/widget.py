"""Serves the website chat widget and its demo page from the Rasa server.

Registered in credentials.yml as `bot.server.channels.widget.WidgetChannel`. It adds three
read-only routes to the Rasa server:

- `GET /chat`: a demo clinic page with the widget on it (strict Content-Security-Policy);
- `GET /widget/<file>`: the widget's static files from `bot/widget/static/`;
- `GET /widget/crisis-link?locale=en-GB`: the crisis link for the visitor's region,
  `{"text": ..., "href": ..., "region": "GB"}`, from domain.yml's `utter_crisis_link`
  (the same region and number as the crisis reply the visitor would get).

tms-widget.js is sent with the default crisis link written into it (see
`widget_script`), so the widget still shows one if the crisis-link request fails.

It handles no messages itself: the widget posts to Rasa's REST channel
(`POST /webhooks/rest/webhook`), so several Rasa workers can sit behind a load balancer.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.nlu.locale import region_of
from bot.safety_text import safety_texts
from bot.server.channels.replies import require_safety_texts

WIDGET_DIR = Path(__file__).resolve().parents[2] / "widget"
STATIC_DIR = WIDGET_DIR / "static"
DEMO_PAGE = WIDGET_DIR / "demo.html"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
WIDGET_SCRIPT = "tms-widget.js"
# In tms-widget.js, replaced by the default crisis link (JSON) when the file is served.
CRISIS_DEFAULT_MARKER = b"null /* default crisis link: written in by bot/server/channels/widget.py */"

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


def crisis_link(locale: Any) -> Dict[str, Any]:
    """The crisis link for a visitor's locale: its region's utter_crisis_link, else the default.

    `region` is what the crisis_region slot gets from the same locale (bot/nlu/locale.py), so
    the link and the crisis reply always name the same line. Anything odd gets the default.
    """
    region = region_of(locale)
    link = safety_texts().crisis_link_for(region)
    return {"text": link.text, "href": link.href, "region": region}


def widget_script(path: Path) -> bytes:
    """tms-widget.js with the default crisis link written in (its fallback if the request fails)."""
    link = safety_texts().crisis_link_for(None)
    default = json.dumps({"text": link.text, "href": link.href, "region": None}, ensure_ascii=True)
    return path.read_bytes().replace(CRISIS_DEFAULT_MARKER, default.encode("ascii"), 1)


def _query_locale(request: Request) -> Any:
    try:
        return request.args.get("locale")
    except Exception:  # noqa: BLE001 - a malformed query string gets the default link
        return None


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
        require_safety_texts()
        widget = Blueprint("tms_widget", __name__)

        @widget.route("/chat", methods=["GET"])
        async def demo_page(request: Request) -> HTTPResponse:
            return _cached(
                request,
                DEMO_PAGE.read_bytes(),
                {"Content-Security-Policy": DEMO_CSP, "X-Frame-Options": "DENY"},
                "text/html; charset=utf-8",
            )

        @widget.route("/widget/crisis-link", methods=["GET"])
        async def crisis_link_route(request: Request) -> HTTPResponse:
            headers = {**COMMON_HEADERS, "Cache-Control": "no-cache", "Cross-Origin-Resource-Policy": "cross-origin"}
            return response.json(crisis_link(_query_locale(request)), headers=headers)

        @widget.route("/widget/<name:str>", methods=["GET"])
        async def widget_file(request: Request, name: str) -> HTTPResponse:
            path = static_file(name)
            if path is None:
                return response.text("not found", status=404, headers=COMMON_HEADERS)
            # Any site may embed the widget with a <script> tag.
            headers = {"Cross-Origin-Resource-Policy": "cross-origin"}
            body = widget_script(path) if name == WIDGET_SCRIPT else path.read_bytes()
            return _cached(request, body, headers, CONTENT_TYPES[path.suffix])

        return widget
