"""Checks and cleans what people send, the same way on every channel.

Messages are health data and arrive from anywhere: they are size-limited, cleaned of
characters that break storage or display (NUL, control and zero-width characters), and
never logged.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, Optional, Text, Tuple

MAX_BODY_BYTES = 16 * 1024
MAX_SENDER_LENGTH = 128
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_SENDER = re.compile(rf"^[A-Za-z0-9._:@+\-]{{1,{MAX_SENDER_LENGTH}}}$")


class InvalidMessage(ValueError):
    """A request that cannot be a user message; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: Text) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def clean_text(text: Text) -> Text:
    """NFC-normalised text without control or zero-width characters (keeps newlines, tabs)."""
    text = unicodedata.normalize("NFC", text)
    return "".join(
        char
        for char in text
        if char in "\n\t" or (unicodedata.category(char) != "Cc" and char not in _ZERO_WIDTH)
    ).strip()


def parse_rest_body(body: bytes) -> Tuple[Text, Text, Optional[Dict[Text, Any]]]:
    """(sender, message, metadata) from a REST request body, or InvalidMessage."""
    import json

    if len(body) > MAX_BODY_BYTES:
        raise InvalidMessage(413, f"The request is larger than {MAX_BODY_BYTES // 1024} KB.")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidMessage(400, "The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidMessage(400, "The request body must be a JSON object.")
    sender, message, metadata = payload.get("sender"), payload.get("message"), payload.get("metadata")
    if not isinstance(sender, str) or not _SENDER.match(sender):
        raise InvalidMessage(
            400,
            f"'sender' must be a string of 1-{MAX_SENDER_LENGTH} letters, digits or ._:@+- "
            "that identifies one person's conversation.",
        )
    if not isinstance(message, str):
        raise InvalidMessage(400, "'message' must be a string.")
    message = clean_text(message)
    if not message:
        raise InvalidMessage(400, "'message' is empty.")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidMessage(400, "'metadata' must be a JSON object.")
    return sender, message, metadata
