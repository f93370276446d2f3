"""Which answers are rated, and one row per (person, answer) in answer_feedback."""

from __future__ import annotations

import pytest

from bot.server.privacy.feedback import NoSuchAnswer, NotRated, find_answer, latest_answer
from tests.server.privacy.conftest import (
    FAQ_TURN,
    GREETING_TURN,
    START,
    FakeClock,
    Stores,
    conversation,
)

PERSON = "web-0123456789abcdef0123456789abcdef"
CRISIS_TURN = (
    "I don't want to be here anymore",
    [("utter_crisis", "Please reach out for help right now.", []), ("utter_faq/what_is_tms", "TMS is...", [])],
)
REMINDER_TURN = (
    "what are the side effects?",
    [
        ("utter_faq/side_effects", "Mild headaches are common.", []),
        ("utter_referral_short", "Please talk with your doctor.", []),
        ("utter_crisis_reminder", "If you are in crisis, call a crisis line.", []),
    ],
)


def as_dicts(events: list) -> list:
    return [event.as_dict() for event in events]


def test_the_latest_turns_answer_is_the_faq_answer_not_the_referral() -> None:
    events = as_dicts(conversation(START, [GREETING_TURN, FAQ_TURN]))
    answer = latest_answer(events)
    assert answer is not None and (answer.index, answer.topic) == (0, "utter_faq/session_length")
    assert answer.ts == START + 4.5  # greeting: user +1, bot +2.5; FAQ: user +3, bot +4.5


@pytest.mark.parametrize(
    "turn",
    [
        GREETING_TURN,
        CRISIS_TURN,
        REMINDER_TURN,
        ("hi", [("utter_clarify", "Did you mean...?", ["What is TMS?"])]),
        ("thanks", [("utter_thank", "You're welcome.", [])]),
        ("hello?", []),  # paused for a professional: no reply
    ],
)
def test_greetings_crisis_turns_clarifications_and_silence_are_not_rated(turn) -> None:
    assert latest_answer(as_dicts(conversation(START, [turn]))) is None


@pytest.mark.parametrize("name", ["utter_advice_medication", "utter_out_of_scope", "utter_no_information", "utter_default"])
def test_advice_and_not_covered_answers_are_rated(name: str) -> None:
    answer = latest_answer(as_dicts(conversation(START, [("q", [(name, "text", [])])])))
    assert answer is not None and answer.topic == name


def test_a_professionals_reply_is_not_counted_among_the_messages() -> None:
    events = as_dicts(conversation(START, [("q", [("utter_faq/x", "A", [])])]))
    events.insert(-1, {"event": "bot", "text": "Alice here", "timestamp": START + 1.2, "metadata": {"staff_reply_id": 1}})
    assert latest_answer(events).index == 0


def test_find_answer() -> None:
    events = as_dicts(conversation(START, [FAQ_TURN, CRISIS_TURN, FAQ_TURN]))
    assert find_answer(events, START + 2.5).topic == "utter_faq/session_length"
    with pytest.raises(NotRated):
        find_answer(events, START + 3.5)  # the referral after it
    with pytest.raises(NotRated):
        find_answer(events, START + 6.5)  # the FAQ answer in the crisis turn
    with pytest.raises(NoSuchAnswer):
        find_answer(events, START + 2.25)


def test_a_rating_is_one_row_per_answer_changed_in_place(sqlite_stores: Stores, clock: FakeClock) -> None:
    stores = sqlite_stores
    stores.save(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN, REMINDER_TURN[:1] + ([REMINDER_TURN[1][0]],)]))
    first = stores.feedback.record(PERSON, START + 4.5, True)
    assert first.topic == "utter_faq/session_length"
    clock.now += 60
    stores.feedback.record(PERSON, START + 4.5, False)
    stores.feedback.record(PERSON, START + 7.5, True)
    with stores.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT sender_id, answer_ts, topic, helpful, updated_at FROM answer_feedback ORDER BY answer_ts"
        ).fetchall()
    assert [tuple(row) for row in rows] == [
        (PERSON, START + 4.5, "utter_faq/session_length", 0, START + 60),
        (PERSON, START + 7.5, "utter_faq/side_effects", 1, START + 60),
    ]
    assert stores.feedback.ratings(PERSON) == {START + 4.5: False, START + 7.5: True}
    with pytest.raises(NotRated):
        stores.feedback.record(PERSON, START + 5.5, True)
    with pytest.raises(NoSuchAnswer):
        stores.feedback.record("web-ffffffffffffffffffffffffffffffff", START + 4.5, True)
