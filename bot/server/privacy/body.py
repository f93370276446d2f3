"""Reading the person's API requests strictly: small, flat JSON objects with known fields.

Anything else is refused with a clear 4xx and a reason, before any work is done: a body over
MAX_BODY_BYTES (413), not declared as JSON (415), not valid UTF-8 JSON, nested too deep for
the parser, not an object, with nested values, or with fields of the wrong type (400).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from bot.server.privacy.tokens import WIDGET_SENDER

MAX_BODY_BYTES = 2048
JSON_TYPE = "application/json"


class BadRequest(ValueError):
    """A request refused before any work; `status` and `reason` go back to the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_body(content_type: Optional[str], body: Optional[bytes], allow_empty: bool = False) -> Dict[str, Any]:
    """The request's JSON object (its values all plain: text, numbers, true/false, null)."""
    body = body or b""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, f"The request is larger than {MAX_BODY_BYTES} bytes.")
    if allow_empty and not body.strip():
        return {}
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != JSON_TYPE:
        raise BadRequest(415, "The request must be JSON (Content-Type: application/json).")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest(400, "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise BadRequest(400, "The request body must be a JSON object.")
    if any(isinstance(value, (dict, list)) for value in payload.values()):
        raise BadRequest(400, "The request body must be a flat JSON object (no nested objects or lists).")
    return payload


def sender_of(payload: Dict[str, Any]) -> str:
    sender = payload.get("sender")
    if not isinstance(sender, str) or not WIDGET_SENDER.match(sender):
        raise BadRequest(400, "'sender' must be the widget's conversation id (web-...).")
    return sender


def token_of(payload: Dict[str, Any]) -> str:
    token = payload.get("token")
    if token is None or token == "":
        raise BadRequest(401, "'token' is required: the one given with this conversation id.")
    if not isinstance(token, str):
        raise BadRequest(400, "'token' must be a string.")
    return token
