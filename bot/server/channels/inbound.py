"""Checks and cleans what people send, the same way on every channel.

Messages are health data and arrive from anywhere: they are size-limited, cleaned of
characters that break storage or display (NUL, control, zero-width characters and lone
surrogates), and never logged.

Request bodies are read here, for every route that takes one, so that no body can make a
route fail with a 5xx: `read_text`, `read_json` and `read_form` answer anything they cannot
read with InvalidMessage and a 4xx status (413 too large, 400 not UTF-8, not JSON or a form,
nested too deeply). Nesting is limited before any parser sees the text: a JSON body of a
few thousand `[` would otherwise raise RecursionError inside json.loads, and five hundred
would pass it and fail later, in Rasa, which deep-copies a message's events to log them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Text
from urllib.parse import parse_qs

from sanic import response
from sanic.response import HTTPResponse

MAX_BODY_BYTES = 16 * 1024
# Telegram updates, Twilio forms and socket.io polls: the same cap as Sanic's own
# (SANIC_REQUEST_MAX_SIZE, bot/server/processes.py), kept here for servers started otherwise.
MAX_WEBHOOK_BYTES = 64 * 1024
# Real payloads are a few levels deep (a Telegram update with a reply in it: about eight).
MAX_JSON_DEPTH = 32
MAX_SENDER_LENGTH = 128
FORM_TYPE = "application/x-www-form-urlencoded"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_SENDER = re.compile(rf"[A-Za-z0-9._:@+\-]{{1,{MAX_SENDER_LENGTH}}}")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class InvalidMessage(ValueError):
    """A request that cannot be a user message; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: Text) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def as_response(self) -> HTTPResponse:
        return response.json({"error": self.reason}, status=self.status)


def clean_text(text: Text) -> Text:
    """NFC-normalised text without control or zero-width characters (keeps newlines, tabs).

    Lone surrogates go too: JSON may carry them escaped ("\\ud800", e.g. from a browser that
    cut a message in the middle of an emoji), but no UTF-8 store or platform can take them.
    """
    text = "".join(char for char in text if unicodedata.category(char) != "Cs")
    text = unicodedata.normalize("NFC", text)
    return "".join(
        char
        for char in text
        if char in "\n\t" or (unicodedata.category(char) != "Cc" and char not in _ZERO_WIDTH)
    ).strip()


# --- Request bodies -------------------------------------------------------------------


def read_text(body: bytes, max_bytes: int) -> Text:
    """A request body as text: at most `max_bytes`, UTF-8 (a leading byte-order mark is dropped)."""
    if len(body) > max_bytes:
        raise InvalidMessage(413, f"The request is larger than {max_bytes // 1024} KB.")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidMessage(400, "The request body is not UTF-8 text.") from None


def nested_deeper_than(text: Text, limit: int) -> bool:
    """Whether `[` and `{` nest more than `limit` levels in a JSON text, outside its strings.

    A count, not a parse: no recursion, and it stops at the first level too many.
    """
    depth = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > limit:
            return True
    return False


def check_nesting(text: Text) -> None:
    if nested_deeper_than(text, MAX_JSON_DEPTH):
        raise InvalidMessage(400, f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")


def parse_json_text(text: Text) -> Any:
    check_nesting(text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: only if the depth check were wrong
        raise InvalidMessage(400, "The request body is not valid JSON.") from None


def read_json(body: bytes, max_bytes: int) -> Any:
    """A JSON body, whatever its Content-Type says.

    The body decides, not the header: browsers post JSON as text/plain to avoid a CORS
    preflight, and `curl -d` labels it a form. Anything that is not JSON gets 400.
    """
    return parse_json_text(read_text(body, max_bytes))


def read_form(body: bytes, max_bytes: int, max_fields: int) -> Dict[Text, List[Text]]:
    """An urlencoded form body, blank fields kept, each field's values in order."""
    text = read_text(body, max_bytes)
    try:
        return parse_qs(text, keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:
        raise InvalidMessage(400, f"The form has more than {max_fields} fields.") from None


def media_type(headers: Mapping[str, str]) -> Optional[Text]:
    """The Content-Type header without parameters, lower case; None when there is none."""
    value = headers.get("content-type")
    return value.split(";")[0].strip().lower() if value else None


# --- The REST channel's message -------------------------------------------------------


class RestMessage(NamedTuple):
    sender: Text
    text: Text
    metadata: Optional[Dict[Text, Any]]
    # The client's id for this message, the same when it sends the message again after a
    # failure: a retried message is then not handled twice (bot/server/patches/retries.py).
    message_id: Optional[Text] = None


def parse_rest_body(body: bytes) -> RestMessage:
    """(sender, message, metadata, message_id) from a REST request body, or InvalidMessage."""
    payload = read_json(body, MAX_BODY_BYTES)
    if not isinstance(payload, dict):
        raise InvalidMessage(400, "The request body must be a JSON object.")
    sender, message, metadata = payload.get("sender"), payload.get("message"), payload.get("metadata")
    message_id = payload.get("message_id")
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
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
    if message_id is not None and (not isinstance(message_id, str) or not _SENDER.fullmatch(message_id)):
        raise InvalidMessage(
            400, f"'message_id' must be a string of 1-{MAX_SENDER_LENGTH} letters, digits or ._:@+-."
        )
    return RestMessage(sender, message, metadata, message_id)
