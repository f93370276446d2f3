"""HTML pages of the staff inbox: Jinja2 templates (bot/server/staff/templates/), always autoescaped.

Jinja2 is already installed with the project (pinned in requirements.lock). Every text from a
person or a professional goes through autoescaping; nothing is marked safe except the
inbox's own stylesheet and script, which are inlined so that the Content-Security-Policy can
allow exactly them by hash and the pages need no other request, not even before sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from bot.server.channels.inbound import clean_text
from bot.server.staff.store import StaffReply

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

REASON_LABELS = {
    "crisis": "Possible crisis",
    "asked_for_person": "Asked for a person",
    "repeated_misses": "Not understood several times",
}
# Both Rasa's channel names and the escalation broker's ("website"): either may be stored.
CHANNEL_LABELS = {
    "website": "Website",
    "rest": "Website",
    "socketio": "Website",
    "telegram": "Telegram",
    "twilio": "SMS or WhatsApp (Twilio)",
}
STATUS_LABELS = {"waiting": "Waiting", "claimed": "Claimed", "resolved": "Resolved"}
AUTHOR_NAMES = {"person": "Person", "assistant": "Assistant"}


@dataclass(frozen=True)
class TranscriptMessage:
    author: str  # "person", "assistant" or "staff"
    name: str
    text: str
    at: float

    def as_json(self) -> Dict[str, Any]:
        return {
            "author": self.author,
            "name": self.name,
            "text": self.text,
            "at": iso_time(self.at),
            "at_text": clock_time(self.at),
        }


def build_transcript(
    events: Iterable[Any], replies: Iterable[StaffReply]
) -> List[TranscriptMessage]:
    """The person's and the assistant's messages (Rasa events) and the staff replies, by time.

    A bot event that records a staff reply (metadata "staff_reply_id") is left out: the
    reply is shown once, from the outbox.
    """
    messages: List[TranscriptMessage] = []
    for event in events:
        if not isinstance(event, Mapping) or event.get("event") not in ("user", "bot"):
            continue
        text = event.get("text")
        if not isinstance(text, str) or not clean_text(text):
            continue
        metadata = event.get("metadata")
        if (
            event["event"] == "bot"
            and isinstance(metadata, Mapping)
            and "staff_reply_id" in metadata
        ):
            continue
        timestamp = event.get("timestamp")
        at = float(timestamp) if isinstance(timestamp, (int, float)) else 0.0
        author = "person" if event["event"] == "user" else "assistant"
        messages.append(TranscriptMessage(author, AUTHOR_NAMES[author], clean_text(text), at))
    for reply in replies:
        messages.append(
            TranscriptMessage("staff", reply.display_name, reply.text, reply.created_at)
        )
    messages.sort(key=lambda message: message.at)  # stable: equal times keep their order
    return messages


def iso_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def clock_time(timestamp: float) -> str:
    return time.strftime("%d %b %H:%M UTC", time.gmtime(timestamp))


def duration(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


def _inline(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def _csp_hash(source: str) -> str:
    return (
        "'sha256-"
        + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
        + "'"
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(iso=iso_time, clock=clock_time, duration=duration)
    env.globals.update(
        reasons=REASON_LABELS,
        channels=CHANNEL_LABELS,
        statuses=STATUS_LABELS,
        stylesheet=Markup(_inline("staff.css")),
        script=Markup(_inline("staff.js")),
    )
    return env


@lru_cache(maxsize=1)
def content_security_policy() -> str:
    """Only the inbox's own inline stylesheet and script, and requests to this server."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src {_csp_hash(_inline('staff.css'))}",
            f"script-src {_csp_hash(_inline('staff.js'))}",
            "connect-src 'self'",
            "img-src 'self' data:",  # data: only for the empty icon: no favicon request
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
