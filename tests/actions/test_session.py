"""action_session_start: the disclaimer again after 7 days away (actions/session.py)."""

from __future__ import annotations

import pytest

from actions.session import RETURNING_AFTER_SECONDS, ActionSessionStart, last_message_time

NOW = 1_800_000_000.0
DAY = 24 * 3600.0
SESSION_START = [
    {"event": "session_started", "timestamp": None},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": None},
]


def earlier_session(last_message_at):
    return [
        {"event": "action", "name": "action_session_start", "timestamp": last_message_at - 60},
        {"event": "session_started", "timestamp": last_message_at - 60},
        {"event": "user", "text": "what is tms", "timestamp": last_message_at},
        {"event": "bot", "text": "TMS is ...", "timestamp": last_message_at + 1},
    ]


@pytest.mark.parametrize(
    ("events", "disclaimer"),
    [
        ([], False),  # a first visit: the greeting has the disclaimer
        (earlier_session(NOW - 2 * 3600), False),  # back after two hours
        (earlier_session(NOW - 6.9 * DAY), False),
        (earlier_session(NOW - 7 * DAY), True),
        (earlier_session(NOW - 90 * DAY), True),
    ],
)
async def test_the_disclaimer_comes_back_after_seven_days_away(events, disclaimer, dispatcher, tracker_builder, domain):
    tracker = tracker_builder(events=events)
    result = await ActionSessionStart(clock=lambda: NOW).run(dispatcher, tracker, domain)
    assert result == SESSION_START
    assert [m["response"] for m in dispatcher.messages] == (["utter_disclaimer_returning"] if disclaimer else [])


def test_the_last_message_is_the_persons_not_the_assistants():
    events = [*earlier_session(NOW - 10 * DAY), {"event": "bot", "text": "reminder", "timestamp": NOW - DAY}]
    assert last_message_time(events) == NOW - 10 * DAY
    assert last_message_time([{"event": "bot", "timestamp": NOW}]) is None


def test_seven_days_is_a_week():
    assert RETURNING_AFTER_SECONDS == 604_800


def test_the_returning_disclaimer_says_what_this_is_and_where_crisis_help_is(domain):
    [variation] = domain["responses"]["utter_disclaimer_returning"]
    text = variation["text"]
    assert "automated assistant" in text and "not medical advice" in text
    assert "can't help in an emergency" in text and "crisis line" in text
