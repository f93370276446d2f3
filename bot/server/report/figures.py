"""The report's tables, computed from conversation summaries and the optional tables.

Each table is a `Table` (a CSV file and an HTML table alike). Days and weeks are calendar
days in the report's time zone (UTC unless --timezone says otherwise); a week starts on
Monday. Every day and week of the period has a row, zero or not, so gaps show as zeros.

Definitions (docs/report.md says the same for the reader):
- a conversation counts on the day of its first message in the period; a message (a user
  message, including button presses) on the day it was sent;
- containment: the share of conversations with no second-stage fallback and no handoff;
- clarify / fallback / out-of-scope rate: the share of messages whose turn ended that way;
- a crisis detection is a message read as crisis language (outcomes.CRISIS_INTENT);
- time to claim: from a staff-inbox entry's opening to the first time a professional
  claimed it (the audit trail's first "claim"), for entries claimed at all.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bot.server.report import outcomes
from bot.server.report.conversations import Conversation
from bot.server.report.source import Feedback, HandoffRecord

# The staff inbox's reasons (bot/server/staff/store.py REASONS), in the order shown.
ESCALATION_REASONS = ("asked_for_person", "repeated_misses", "crisis")
ALL = "all"


@dataclass(frozen=True)
class Table:
    name: str  # the CSV file's name, without .csv
    title: str
    columns: Tuple[str, ...]
    rows: List[Tuple[Any, ...]] = field(default_factory=list)

    def column(self, name: str) -> List[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def as_dicts(self) -> List[Dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Period:
    since: float  # epoch seconds (UTC): the first moment included
    until: float  # epoch seconds (UTC): when the report was made
    timezone: dt.tzinfo

    def day(self, timestamp: float) -> dt.date:
        return dt.datetime.fromtimestamp(timestamp, self.timezone).date()

    def days(self) -> List[dt.date]:
        first, last = self.day(self.since), self.day(max(self.until, self.since))
        return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]

    def weeks(self) -> List[dt.date]:
        return sorted({week_start(day) for day in self.days()})


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def rate(part: int, whole: int) -> Optional[float]:
    """part / whole rounded to 4 places, or None (an empty cell) when there is no whole."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Figures:
    summary: Table
    per_day_channel: Table
    outcomes_per_day: Table
    topics: Table
    feedback_available: bool
    escalations: Table
    escalations_available: bool
    crisis_per_week: Table


def compute(
    conversations: Sequence[Conversation],
    feedback: Optional[Sequence[Feedback]],
    handoffs: Optional[Sequence[HandoffRecord]],
    period: Period,
) -> Figures:
    return Figures(
        summary=summary_table(conversations, handoffs),
        per_day_channel=per_day_channel(conversations, period),
        outcomes_per_day=outcomes_per_day(conversations, period),
        topics=topics_table(conversations, feedback or []),
        feedback_available=feedback is not None,
        escalations=escalations_table(handoffs or []),
        escalations_available=handoffs is not None,
        crisis_per_week=crisis_per_week(conversations, period),
    )


def summary_table(conversations: Sequence[Conversation], handoffs: Optional[Sequence[HandoffRecord]]) -> Table:
    turns = [turn for conversation in conversations for turn in conversation.turns]
    by_outcome = Counter(turn.outcome for turn in turns)
    total = len(conversations)
    contained = sum(conversation.contained for conversation in conversations)
    rows: List[Tuple[Any, ...]] = [
        ("conversations", total),
        ("messages", len(turns)),
        ("contained conversations", contained),
        ("containment rate", rate(contained, total)),
        ("clarify rate", rate(by_outcome[outcomes.CLARIFY], len(turns))),
        ("fallback rate", rate(by_outcome[outcomes.FALLBACK], len(turns))),
        ("out-of-scope rate", rate(by_outcome[outcomes.OUT_OF_SCOPE], len(turns))),
        ("handoff requests", by_outcome[outcomes.HANDOFF]),
        ("crisis detections", sum(conversation.crisis_detections for conversation in conversations)),
        ("staff inbox entries", None if handoffs is None else len(handoffs)),
    ]
    return Table("summary", "Summary", ("figure", "value"), rows)


def per_day_channel(conversations: Sequence[Conversation], period: Period) -> Table:
    started: Counter = Counter()
    messages: Counter = Counter()
    for conversation in conversations:
        started[(period.day(conversation.started_at), conversation.channel)] += 1
        for turn in conversation.turns:
            messages[(period.day(turn.at), conversation.channel)] += 1
    channels = sorted({channel for _, channel in (*started, *messages)})
    rows = [
        (day.isoformat(), channel, started[(day, channel)], messages[(day, channel)])
        for day in period.days()
        for channel in channels
    ]
    return Table(
        "conversations_per_day",
        "Conversations and messages per day and channel",
        ("date", "channel", "conversations", "messages"),
        rows,
    )


def outcomes_per_day(conversations: Sequence[Conversation], period: Period) -> Table:
    started: Counter = Counter()
    contained: Counter = Counter()
    turns: Dict[dt.date, Counter] = defaultdict(Counter)
    for conversation in conversations:
        day = period.day(conversation.started_at)
        started[day] += 1
        contained[day] += conversation.contained
        for turn in conversation.turns:
            turns[period.day(turn.at)][turn.outcome] += 1
    rows = []
    for day in period.days():
        counts = turns[day]
        messages = sum(counts.values())
        rows.append(
            (
                day.isoformat(),
                started[day],
                contained[day],
                rate(contained[day], started[day]),
                messages,
                counts[outcomes.CLARIFY],
                counts[outcomes.FALLBACK],
                counts[outcomes.OUT_OF_SCOPE],
                counts[outcomes.HANDOFF],
                rate(counts[outcomes.CLARIFY], messages),
                rate(counts[outcomes.FALLBACK], messages),
                rate(counts[outcomes.OUT_OF_SCOPE], messages),
            )
        )
    return Table(
        "outcomes_per_day",
        "Containment, clarify, fallback and out-of-scope rates per day",
        (
            "date", "conversations", "contained", "containment_rate", "messages", "clarified",
            "fallback", "out_of_scope", "handoff", "clarify_rate", "fallback_rate", "out_of_scope_rate",
        ),
        rows,
    )


@lru_cache(maxsize=1)
def topic_titles() -> Mapping[str, str]:
    """FAQ topics' titles from data/responses/*.yml ("utter_faq/session_length" -> "Session length")."""
    import yaml

    from bot.server.training import PROJECT_ROOT

    titles: Dict[str, str] = {}
    for path in sorted((PROJECT_ROOT / "data" / "responses").glob("*.yml")):
        try:
            responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
        except (OSError, yaml.YAMLError):
            continue  # no titles: the page shows the topics' names instead
        for name, variations in responses.items():
            metadata = (variations[0].get("metadata") or {}) if variations else {}
            if isinstance(metadata, dict) and isinstance(metadata.get("title"), str):
                titles[name] = metadata["title"]
    return titles


def topic_label(response: str) -> str:
    """What the page calls an answer: the FAQ topic's key ("session_length"), or the
    response's name without its prefix ("advice_medication", "out_of_scope")."""
    return outcomes.faq_topic(response) or response.removeprefix("utter_")


def topics_table(conversations: Sequence[Conversation], feedback: Iterable[Feedback]) -> Table:
    """Answers given per topic (FAQ and advice) and their ratings; a topic rated but not
    answered in the period (an answer from before it) is listed too."""
    answered: Counter = Counter(
        answer for conversation in conversations for turn in conversation.turns for answer in turn.answers
    )
    helpful: Counter = Counter()
    unhelpful: Counter = Counter()
    for rating in feedback:
        (helpful if rating.helpful else unhelpful)[rating.topic] += 1
    titles = topic_titles()
    names = sorted(set(answered) | set(helpful) | set(unhelpful), key=lambda name: (-answered[name], name))
    rows = [
        (
            topic_label(name),
            titles.get(name, ""),
            answered[name],
            helpful[name],
            unhelpful[name],
            rate(helpful[name], helpful[name] + unhelpful[name]),
        )
        for name in names
    ]
    return Table(
        "topics",
        "Topics answered and answer feedback",
        ("topic", "title", "answered", "helpful", "not_helpful", "helpful_rate"),
        rows,
    )


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile with linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        return None
    import numpy

    return float(numpy.percentile(numpy.asarray(values, dtype=float), q))


def _minutes(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds / 60.0, 1)


def escalations_table(handoffs: Sequence[HandoffRecord]) -> Table:
    reasons = [*ESCALATION_REASONS, *sorted({h.reason for h in handoffs} - set(ESCALATION_REASONS))]
    rows = []
    for reason in [*reasons, ALL]:
        chosen = [h for h in handoffs if reason in (ALL, h.reason)]
        waits = [
            max(0.0, h.first_claimed_at - h.created_at) for h in chosen if h.first_claimed_at is not None
        ]
        rows.append(
            (
                reason,
                len(chosen),
                len(waits),
                _minutes(percentile(waits, 50)),
                _minutes(percentile(waits, 90)),
            )
        )
    return Table(
        "escalations",
        "Escalations to the staff inbox by reason, and time to claim",
        ("reason", "escalations", "claimed", "median_minutes_to_claim", "p90_minutes_to_claim"),
        rows,
    )


def crisis_per_week(conversations: Sequence[Conversation], period: Period) -> Table:
    detections: Counter = Counter()
    with_crisis: Counter = Counter()
    for conversation in conversations:
        weeks = set()
        for turn in conversation.turns:
            if turn.crisis:
                week = week_start(period.day(turn.at))
                detections[week] += 1
                weeks.add(week)
        for week in weeks:
            with_crisis[week] += 1
    rows = [(week.isoformat(), detections[week], with_crisis[week]) for week in period.weeks()]
    return Table(
        "crisis_per_week",
        "Crisis detections per week (counts only)",
        ("week_starting", "detections", "conversations"),
        rows,
    )
