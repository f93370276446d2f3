"""Answer feedback ("Was this helpful?"): which answers may be rated, and storing a rating.

An answer is the bot message that answered a question: an FAQ answer (`utter_faq/<topic>`),
an advice reply (`utter_advice_*`), or an honest "not covered" (`utter_out_of_scope`,
`utter_no_information`, `utter_default`), so the report sees both what helps and what is
missing. Greetings, referrals, clarifying questions, handoff messages and professionals'
replies are not rated, and nothing in a turn that gave a crisis reply is (asking someone in
crisis to rate an answer is not what they need).

A rating is one row per person and answer in `answer_feedback` (tables.py), keyed by the
bot event's timestamp and updated when the person changes their mind; `topic` is the
response that produced the message (Rasa's `metadata.utter_action`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.server.privacy.tables import answer_feedback, create_tables
from bot.server.privacy.transcript import conversation_events

RATED_PREFIXES = ("utter_faq/", "utter_advice_")
RATED_RESPONSES = frozenset({"utter_out_of_scope", "utter_no_information", "utter_default"})
CRISIS_PREFIX = "utter_crisis"


class NoSuchAnswer(LookupError):
    """No bot message of this conversation has that timestamp."""


class NotRated(ValueError):
    """That message is not one people rate (see the module docstring)."""


@dataclass(frozen=True)
class Answer:
    """A rateable message of the latest turn: its timestamp and its place among the turn's
    messages that have text or buttons (what a chat window shows, in order)."""

    ts: float
    index: int
    topic: str


def _response_name(event: Mapping[str, Any]) -> Optional[str]:
    metadata = event.get("metadata")
    name = metadata.get("utter_action") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) and name else None


def _shown(event: Mapping[str, Any]) -> bool:
    """A bot message a chat window shows (text or buttons), not a professional's reply."""
    if event.get("event") != "bot":
        return False
    metadata = event.get("metadata")
    if isinstance(metadata, Mapping) and "staff_reply_id" in metadata:
        return False
    data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
    return bool((isinstance(event.get("text"), str) and event["text"].strip()) or data.get("buttons"))


def is_rated_response(name: Optional[str]) -> bool:
    return bool(name) and (name in RATED_RESPONSES or name.startswith(RATED_PREFIXES))


def _turns(events: Sequence[Mapping[str, Any]]) -> List[List[Mapping[str, Any]]]:
    """Bot messages grouped by the user message they answer (the first group: before any)."""
    turns: List[List[Mapping[str, Any]]] = [[]]
    for event in events:
        if event.get("event") == "user":
            turns.append([])
        elif _shown(event):
            turns[-1].append(event)
    return turns


def _answer_of(turn: List[Mapping[str, Any]]) -> Optional[Answer]:
    names = [_response_name(event) or "" for event in turn]
    if any(name.startswith(CRISIS_PREFIX) for name in names):
        return None
    for index, (event, name) in enumerate(zip(turn, names, strict=True)):
        stamp = event.get("timestamp")
        if is_rated_response(name) and isinstance(stamp, (int, float)):
            return Answer(float(stamp), index, name)
    return None


def latest_answer(events: Sequence[Mapping[str, Any]]) -> Optional[Answer]:
    """The rateable answer of the conversation's latest turn, if it has one."""
    return _answer_of(_turns(events)[-1])


def find_answer(events: Sequence[Mapping[str, Any]], answer_ts: float) -> Answer:
    """The rateable answer with this timestamp; NoSuchAnswer or NotRated otherwise."""
    for turn in _turns(events):
        if any(event.get("timestamp") == answer_ts for event in turn):
            answer = _answer_of(turn)
            if answer is None or answer.ts != answer_ts:
                raise NotRated("this message is not one that is rated")
            return answer
    raise NoSuchAnswer("no message of this conversation has that timestamp")


def valid_timestamp(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value < 1e11
    )


class FeedbackStore:
    """Ratings in `answer_feedback`, checked against the conversation's own events."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        create_tables(engine)

    def record(self, sender_id: str, answer_ts: float, helpful: bool) -> Answer:
        """Stores (or changes) the rating of one answer; NoSuchAnswer / NotRated if it is not
        an answer of this conversation that people rate."""
        answer = find_answer(conversation_events(self.engine, sender_id), answer_ts)
        self.upsert(sender_id, answer.ts, answer.topic, helpful)
        return answer

    def upsert(self, sender_id: str, answer_ts: float, topic: Optional[str], helpful: bool) -> None:
        """One row per (sender, answer): updated if there, else inserted (a race between two
        clicks ends with one row, holding whichever came last)."""
        values = {"topic": topic, "helpful": bool(helpful), "updated_at": self.clock()}
        key = sa.and_(answer_feedback.c.sender_id == sender_id, answer_feedback.c.answer_ts == answer_ts)
        for _ in range(3):
            with self.engine.begin() as connection:
                if connection.execute(answer_feedback.update().where(key).values(**values)).rowcount:
                    return
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        answer_feedback.insert().values(sender_id=sender_id, answer_ts=answer_ts, **values)
                    )
                return
            except sa.exc.IntegrityError:
                continue  # inserted by a concurrent click: update it
        raise RuntimeError("could not store the feedback")

    def ratings(self, sender_id: str) -> Dict[float, bool]:
        """The person's ratings by answer timestamp (tests, and the widget after a reload)."""
        statement = sa.select(answer_feedback.c.answer_ts, answer_feedback.c.helpful).where(
            answer_feedback.c.sender_id == sender_id
        )
        with self.engine.connect() as connection:
            return {float(ts): bool(helpful) for ts, helpful in connection.execute(statement)}
