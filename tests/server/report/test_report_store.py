"""The report on scripted conversations stored through Rasa's SQLTrackerStore in SQLite: exact
figures, worked out by hand in scenario.py. test_report_postgres.py runs the same on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bot.server.report.build import Report, build_report, parse_since
from bot.server.report.source import open_engine
from tests.server.report import scenario


def make_sqlite_store(directory: Path) -> Path:
    from rasa.core.tracker_store import SQLTrackerStore

    db = directory / "tracker.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(db))
    made = asyncio.run(scenario.store_conversations(store))
    store.engine.dispose()
    engine = open_engine({"TRACKER_DB_PATH": str(db)})
    scenario.store_feedback(engine, made)
    scenario.store_handoffs(engine)
    engine.dispose()
    return db


def run_report(environ: Dict[str, str], out: Path) -> Report:
    engine = open_engine(environ)
    try:
        since = parse_since(scenario.SINCE_TEXT, scenario.NOW, scenario.UTC)
        assert since == scenario.SINCE
        return build_report(engine, out, since, scenario.UTC, now=scenario.NOW)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_report(tmp_path_factory) -> Report:
    directory = tmp_path_factory.mktemp("report-sqlite")
    db = make_sqlite_store(directory)
    return run_report({"TRACKER_DB_PATH": str(db)}, directory / "out")


def read_csv(report: Report, name: str) -> List[Dict[str, str]]:
    path = next(p for p in report.files if p.name == f"{name}.csv")
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def check_all_figures(report: Report) -> None:
    """Every figure of scenario.py, read back from the CSV files the report wrote."""
    assert report.conversations == scenario.EXPECTED_CONVERSATIONS

    summary = {row["figure"]: row["value"] for row in read_csv(report, "summary")}
    assert summary["conversations"] == str(scenario.EXPECTED_CONVERSATIONS)
    assert summary["messages"] == str(scenario.EXPECTED_MESSAGES)
    assert summary["contained conversations"] == str(scenario.EXPECTED_CONTAINED)
    assert float(summary["containment rate"]) == round(6 / 8, 4)
    assert float(summary["clarify rate"]) == round(3 / 21, 4)
    assert float(summary["fallback rate"]) == round(1 / 21, 4)
    assert float(summary["out-of-scope rate"]) == round(2 / 21, 4)
    assert summary["handoff requests"] == str(scenario.EXPECTED_HANDOFF)
    assert summary["crisis detections"] == str(scenario.EXPECTED_CRISIS)
    assert summary["staff inbox entries"] == "5"

    per_day = read_csv(report, "conversations_per_day")
    assert sorted({row["date"] for row in per_day}) == scenario.EXPECTED_DAYS
    assert sorted({row["channel"] for row in per_day}) == scenario.EXPECTED_CHANNELS
    assert len(per_day) == len(scenario.EXPECTED_DAYS) * len(scenario.EXPECTED_CHANNELS)
    for row in per_day:
        expected = scenario.EXPECTED_PER_DAY_CHANNEL.get((row["date"], row["channel"]), (0, 0))
        assert (int(row["conversations"]), int(row["messages"])) == expected, row

    outcomes = read_csv(report, "outcomes_per_day")
    assert [row["date"] for row in outcomes] == scenario.EXPECTED_DAYS
    for row in outcomes:
        expected = scenario.EXPECTED_OUTCOMES_PER_DAY.get(row["date"], (0, 0, 0, 0, 0, 0, 0))
        got = tuple(int(row[c]) for c in ("conversations", "contained", "messages", "clarified", "fallback",
                                          "out_of_scope", "handoff"))
        assert got == expected, row
        if expected[0]:
            assert float(row["containment_rate"]) == round(expected[1] / expected[0], 4)
        else:
            assert row["containment_rate"] == ""  # no conversation that day: no rate, not 0%
    day = next(row for row in outcomes if row["date"] == "2024-05-03")
    assert float(day["clarify_rate"]) == round(1 / 7, 4)
    assert float(day["out_of_scope_rate"]) == round(2 / 7, 4)

    topics = read_csv(report, "topics")
    assert [(r["topic"], int(r["answered"]), int(r["helpful"]), int(r["not_helpful"])) for r in topics] == (
        scenario.EXPECTED_TOPICS
    )
    assert topics[0]["title"] == "What is TMS?"  # from data/responses/faq.yml
    assert float(topics[0]["helpful_rate"]) == round(2 / 3, 4)

    escalations = {row["reason"]: row for row in read_csv(report, "escalations")}
    assert set(escalations) == set(scenario.EXPECTED_ESCALATIONS)
    for reason, (count, claimed, median, p90) in scenario.EXPECTED_ESCALATIONS.items():
        row = escalations[reason]
        assert (int(row["escalations"]), int(row["claimed"])) == (count, claimed), reason
        assert float(row["median_minutes_to_claim"]) == pytest.approx(median), reason
        assert float(row["p90_minutes_to_claim"]) == pytest.approx(p90), reason

    crisis = read_csv(report, "crisis_per_week")
    assert {r["week_starting"]: (int(r["detections"]), int(r["conversations"])) for r in crisis} == (
        scenario.EXPECTED_CRISIS_PER_WEEK
    )

    groups = read_csv(report, "unanswered_groups")
    got_groups = [(int(g["messages"]), int(g["conversations"]), set(g["examples"].split(" | "))) for g in groups]
    assert got_groups == scenario.EXPECTED_UNANSWERED_GROUPS
    assert report.grouping.messages == 5
    assert "insurance" in groups[0]["keywords"]


def check_nothing_private_written(report: Report) -> None:
    for path in report.files:
        text = path.read_text(encoding="utf-8")
        for secret in (scenario.CRISIS_MARKER, scenario.NAME_MARKER, scenario.PHONE_MARKER, scenario.DAVE_QUESTION,
                       "Sarah", "I want to end it"):
            assert secret not in text, (path.name, secret)


def test_sqlite_figures_are_exact(sqlite_report):
    check_all_figures(sqlite_report)


def test_nothing_private_is_written(sqlite_report):
    check_nothing_private_written(sqlite_report)


def test_writes_one_page_and_a_csv_per_table(sqlite_report):
    names = sorted(path.name for path in sqlite_report.files)
    assert names == sorted([
        "report.html", "summary.csv", "conversations_per_day.csv", "outcomes_per_day.csv", "topics.csv",
        "unanswered_groups.csv", "escalations.csv", "crisis_per_week.csv",
    ])
    assert all(path.parent == sqlite_report.files[0].parent for path in sqlite_report.files)


def test_no_optional_tables_means_none_yet(tmp_path):
    """Only Rasa's events table: no feedback and no staff inbox yet, and the report still works."""
    from rasa.core.tracker_store import SQLTrackerStore

    db = tmp_path / "tracker.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(db))
    asyncio.run(scenario.store_conversations(store))
    store.engine.dispose()
    report = run_report({"TRACKER_DB_PATH": str(db)}, tmp_path / "out")
    assert not report.figures.feedback_available
    assert not report.figures.escalations_available
    page = report.files[0].read_text(encoding="utf-8")
    assert "No feedback yet" in page
    assert "staff inbox's tables do not exist" in page
    assert report.conversations == scenario.EXPECTED_CONVERSATIONS
    topics = read_csv(report, "topics")
    assert all(row["helpful"] == "0" and row["not_helpful"] == "0" for row in topics)


def test_an_empty_store_gives_an_empty_report(tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore

    db = tmp_path / "tracker.db"
    SQLTrackerStore(dialect="sqlite", db=str(db)).engine.dispose()
    report = run_report({"TRACKER_DB_PATH": str(db)}, tmp_path / "out")
    assert report.conversations == 0
    page = report.files[0].read_text(encoding="utf-8")
    assert "No unanswered questions in this period." in page
    assert "No question was answered from the FAQ in this period." in page


def test_a_missing_sqlite_file_is_an_error_not_a_new_database(tmp_path):
    from bot.server.report.source import StoreNotFound

    with pytest.raises(StoreNotFound):
        open_engine({"TRACKER_DB_PATH": str(tmp_path / "nothing.db")})
    assert not (tmp_path / "nothing.db").exists()


def test_days_follow_the_time_zone(tmp_path):
    """hank's conversation (05-10 23:30 UTC) is on 05-10 in New York, and alice's
    (05-02 10:00 UTC, 06:00 there) too: the days move with the zone, the counts do not."""
    import zoneinfo

    db = make_sqlite_store(tmp_path)
    engine = open_engine({"TRACKER_DB_PATH": str(db)})
    new_york = zoneinfo.ZoneInfo("America/New_York")
    try:
        report = build_report(engine, tmp_path / "out", scenario.SINCE, new_york, now=scenario.NOW)
    finally:
        engine.dispose()
    rows: List[Dict[str, Any]] = report.figures.per_day_channel.as_dicts()
    # The period starts at 05-01 00:00 UTC = 04-30 20:00 in New York.
    assert rows[0]["date"] == "2024-04-30"
    started = {(r["date"], r["channel"]): r["conversations"] for r in rows if r["conversations"]}
    assert started[("2024-05-10", "socketio")] == 1
    assert started[("2024-05-02", "rest")] == 1
    assert sum(started.values()) == scenario.EXPECTED_CONVERSATIONS


def test_people_s_words_are_escaped_on_the_page(tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore

    from tooling.report_conversations import Script, save_with_rasa

    db = tmp_path / "tracker.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(db))
    script = Script(1_715_000_000.0).session_start().out_of_scope('<img src="https://evil.example/x.png"> cost?')
    asyncio.run(save_with_rasa(store, "mallory", script.events))
    store.engine.dispose()
    engine = open_engine({"TRACKER_DB_PATH": str(db)})
    built = build_report(engine, tmp_path / "out", 0.0, now=1_715_100_000.0)
    engine.dispose()
    page = built.files[0].read_text(encoding="utf-8")
    assert "&lt;img src=&#34;https://evil.example/x.png&#34;&gt; cost?" in page
    assert '<img src="https://evil.example' not in page
