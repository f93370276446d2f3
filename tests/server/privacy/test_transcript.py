"""The exported transcript: exactly what the person sees, nothing internal."""

from __future__ import annotations

from rasa.shared.core.events import BotUttered, SlotSet, UserUttered

from bot.server.privacy.transcript import export_conversation, format_transcript
from tests.server.privacy.conftest import (
    FAQ_TURN,
    GREETING_TURN,
    START,
    FakeClock,
    Stores,
    conversation,
)

PERSON = "web-0123456789abcdef0123456789abcdef"

EXPECTED = """Conversation with the TMS assistant, downloaded 2025-06-15 16:06 UTC.
Times are in UTC.

2025-06-15 15:06 UTC - Assistant
Hi! I'm a virtual assistant.
Buttons:
- What is TMS?

2025-06-15 15:06 UTC - You
how long is a session?

2025-06-15 15:06 UTC - Assistant
Each TMS session usually lasts about 20 to 40 minutes.

2025-06-15 15:06 UTC - Assistant
Please talk with your doctor about what's right for you.

2025-06-15 15:07 UTC - You
I'd like to talk to someone
please

2025-06-15 15:07 UTC - Professional: Dr Alice Smith
Hello, I'm Alice. Read more at https://example.org/tms (the clinic's page).

2025-06-15 15:07 UTC - Assistant
See the clinic's page (https://example.org/tms), it is important.
"""


def test_the_export_is_exactly_the_conversation(sqlite_stores: Stores) -> None:
    events = conversation(START, [GREETING_TURN, FAQ_TURN])
    events += [
        UserUttered(
            "I'd like to talk to someone\nplease\u200b",
            intent={"name": "talk_to_human", "confidence": 0.99},
            parse_data={"intent": {"name": "talk_to_human", "confidence": 0.99}, "entities": []},
            timestamp=START + 30,
        ),
        SlotSet("handoff_requested", True, timestamp=START + 31),
        BotUttered(
            "Hello, I'm Alice. Read more at https://example.org/tms (the clinic's page).",
            metadata={"staff_reply_id": 3, "staff_name": "Dr Alice Smith"},
            timestamp=START + 40,
        ),
        BotUttered(data={"custom": {"handoff": "waiting"}}, timestamp=START + 41),
        BotUttered(
            "See the [clinic's page](https://example.org/tms), it is important.",
            metadata={"utter_action": "utter_out_of_scope", "sources": [{"quote": "internal"}]},
            timestamp=START + 42,
        ),
    ]
    sqlite_stores.save(PERSON, events)

    text = export_conversation(PERSON, engine=sqlite_stores.engine, clock=FakeClock(START + 3600))

    assert text == EXPECTED
    for internal in ("talk_to_human", "0.99", "utter_", "handoff", "confidence", "/greet", "internal", PERSON):
        assert internal not in text


def test_nothing_stored_is_none_and_commands_alone_are_no_conversation(sqlite_stores: Stores) -> None:
    assert export_conversation(PERSON, engine=sqlite_stores.engine) is None
    assert "Nothing is stored" in format_transcript([{"event": "user", "text": "/greet", "timestamp": START}], START)


def test_bold_is_plain_and_odd_events_are_skipped() -> None:
    text = format_transcript(
        [
            {"event": "bot", "text": "**Short** answer", "timestamp": START},
            {"event": "bot", "timestamp": "yesterday", "text": "odd time"},
            {"event": "user", "text": None},
            "not an event",
        ],
        START,
    )
    assert "2025-06-15 15:06 UTC - Assistant\nShort answer\n" in text
    assert "1970-01-01 00:00 UTC - Assistant\nodd time\n" in text
