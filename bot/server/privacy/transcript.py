"""A conversation as plain text, for the person who had it: `export_conversation(sender_id)`.

What the person and the assistant wrote, and what professionals replied, in order, with
the time (UTC) and the buttons the assistant offered; nothing internal (no intents,
confidences, slots, actions or ids). Commands the widget and the messaging connectors
send for a button ("/greet", "/talk_to_human") are not the person's words and are left out.

    Conversation with the TMS assistant, downloaded 2024-05-01 12:34 UTC.
    Times are in UTC.

    2024-05-01 12:00 UTC - You
    How long is a session?

    2024-05-01 12:00 UTC - Assistant
    Each TMS session usually lasts about 20 to 40 minutes.
    Buttons:
    - What are the side effects?

    2024-05-01 12:05 UTC - Professional: Dr Alice Smith
    Hello, I'm Alice.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.server.channels.inbound import clean_text
from bot.server.privacy.tables import existing_tables, tracker_events

# User-facing words of the export (English, like the widget's own labels).
EXPORT_TITLE = "Conversation with the TMS assistant, downloaded {when}."
EXPORT_TIMES_NOTE = "Times are in UTC."
EXPORT_EMPTY = "Nothing is stored for this conversation."
SPEAKER_PERSON = "You"
SPEAKER_ASSISTANT = "Assistant"
SPEAKER_PROFESSIONAL = "Professional: {name}"
SPEAKER_PROFESSIONAL_UNNAMED = "Professional"
BUTTONS_HEADING = "Buttons:"

_COMMAND = re.compile(r"^/[A-Za-z_]+$")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^()\s]+)\)")
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")

Clock = Callable[[], float]


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def _plain(text: str) -> str:
    """The assistant's light markup as plain text: **bold** -> bold, [text](url) -> text (url)."""
    return _BOLD.sub(r"\1", _LINK.sub(r"\1 (\2)", text))


def _entry(event: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """(speaker, text, buttons, time) of a user or bot event worth showing, else None."""
    kind = event.get("event")
    if kind not in ("user", "bot"):
        return None
    raw = event.get("text")
    text = clean_text(raw) if isinstance(raw, str) else ""
    stamp = event.get("timestamp")
    at = float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else 0.0
    if kind == "user":
        if not text or _COMMAND.match(text):
            return None
        return {"speaker": SPEAKER_PERSON, "text": text, "buttons": [], "at": at}
    metadata = event.get("metadata") if isinstance(event.get("metadata"), Mapping) else {}
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    buttons = [
        clean_text(button["title"])
        for button in data.get("buttons") or []
        if isinstance(button, Mapping) and isinstance(button.get("title"), str) and clean_text(button["title"])
    ]
    if not text and not buttons:
        return None
    if "staff_reply_id" in metadata:
        name = metadata.get("staff_name")
        speaker = (
            SPEAKER_PROFESSIONAL.format(name=clean_text(name))
            if isinstance(name, str) and clean_text(name)
            else SPEAKER_PROFESSIONAL_UNNAMED
        )
        return {"speaker": speaker, "text": text, "buttons": buttons, "at": at}
    return {"speaker": SPEAKER_ASSISTANT, "text": _plain(text), "buttons": buttons, "at": at}


def format_transcript(events: Iterable[Mapping[str, Any]], now: float) -> str:
    """The transcript of these Rasa event dicts (oldest first), downloaded at `now`."""
    lines: List[str] = [EXPORT_TITLE.format(when=_when(now)), EXPORT_TIMES_NOTE]
    entries = [entry for entry in (_entry(event) for event in events if isinstance(event, Mapping)) if entry]
    if not entries:
        lines += ["", EXPORT_EMPTY]
    for entry in entries:
        lines += ["", f"{_when(entry['at'])} - {entry['speaker']}"]
        if entry["text"]:
            lines += entry["text"].splitlines()
        if entry["buttons"]:
            lines.append(BUTTONS_HEADING)
            lines += [f"- {title}" for title in entry["buttons"]]
    return "\n".join(lines) + "\n"


def conversation_events(engine: Engine, sender_id: str) -> List[Dict[str, Any]]:
    """Every stored event of the conversation (all sessions), oldest first, as Rasa dicts."""
    if "events" not in existing_tables(engine):
        return []
    statement = (
        sa.select(tracker_events.c.data)
        .where(tracker_events.c.sender_id == sender_id)
        .order_by(tracker_events.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).fetchall()
    events = []
    for (data,) in rows:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            continue  # a damaged row is left out rather than failing the whole export
        if isinstance(event, dict):
            events.append(event)
    return events


def export_conversation(
    sender_id: str, *, engine: Optional[Engine] = None, clock: Clock = time.time
) -> Optional[str]:
    """The conversation as plain text, or None when nothing of it is stored."""
    if engine is None:
        from bot.server.privacy.erase import default_eraser

        engine = default_eraser().engine
    events = conversation_events(engine, sender_id)
    if not events:
        return None
    return format_transcript(events, clock())
