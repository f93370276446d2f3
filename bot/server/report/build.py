"""Builds the report for one period: read, summarise, compute, group, draw, write."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from sqlalchemy.engine import Engine

from bot.server.report import source
from bot.server.report.conversations import Conversation, summarize
from bot.server.report.figures import Figures, Period, compute
from bot.server.report.unanswered import Grouping, group_questions

_RELATIVE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.I)
_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}
ALL_TIME = "all"


@dataclass(frozen=True)
class Report:
    files: List[Path]  # the page first, then the CSV files
    conversations: int
    figures: Figures
    grouping: Grouping
    seconds: float  # how long building it took


def parse_since(text: str, now: float, timezone: dt.tzinfo) -> float:
    """"30d", "12w", "48h", "2024-05-01" (midnight in `timezone`) or "all" -> epoch seconds."""
    value = text.strip()
    if value.lower() == ALL_TIME:
        return 0.0
    relative = _RELATIVE.match(value)
    if relative:
        return now - int(relative.group(1)) * _UNIT_SECONDS[relative.group(2).lower()]
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since takes 30d, 12w, 48h, a date (2024-05-01) or 'all', not {text!r}") from None
    return dt.datetime.combine(day, dt.time(), timezone).timestamp()


def read_conversations(engine: Engine, since: float) -> Tuple[List[Conversation], List[Tuple[int, str]]]:
    """The period's conversations, and their unanswered questions (conversation number, text)."""
    conversations: List[Conversation] = []
    questions: List[Tuple[int, str]] = []
    for _sender, events in source.events_by_sender(engine, since):
        for conversation in summarize(events):
            questions += [(len(conversations), text) for text in conversation.unanswered]
            conversations.append(conversation)
    return conversations, questions


def build_report(
    engine: Engine,
    out: Path,
    since: float,
    timezone: dt.tzinfo = dt.timezone.utc,
    now: Optional[float] = None,
) -> Report:
    from bot.server.report import charts
    from bot.server.report.page import PeriodText, render, unanswered_table, write_all

    started = time.monotonic()
    now = time.time() if now is None else now
    conversations, questions = read_conversations(engine, since)
    feedback = source.feedback(engine, since)
    handoffs = source.handoffs(engine, since)
    if since <= 0.0:  # "all": the period starts with the first thing stored
        firsts = [c.started_at for c in conversations] + [h.created_at for h in handoffs or []]
        since = min(firsts, default=now)
    period = Period(since=since, until=now, timezone=timezone)
    figures = compute(conversations, feedback, handoffs, period)
    grouping = group_questions(questions)
    drawn: Dict[str, Optional[str]] = {
        "volume": charts.volume_chart(figures.per_day_channel),
        "rates": charts.rates_chart(figures.outcomes_per_day),
        "topics": charts.topics_chart(figures.topics),
        "feedback": charts.feedback_chart(figures.topics),
        "crisis": charts.crisis_chart(figures.crisis_per_week),
    }
    days = period.days()
    page = render(
        figures,
        grouping,
        drawn,
        PeriodText(days[0].isoformat(), days[-1].isoformat(), str(timezone)),
        dt.datetime.fromtimestamp(now, timezone).strftime("%Y-%m-%d %H:%M"),
        source.describe(engine),
    )
    tables = [
        figures.summary,
        figures.per_day_channel,
        figures.outcomes_per_day,
        figures.topics,
        unanswered_table(grouping),
        figures.escalations,
        figures.crisis_per_week,
    ]
    files = write_all(tables, page, out)
    return Report(files, len(conversations), figures, grouping, time.monotonic() - started)
