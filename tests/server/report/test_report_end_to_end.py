"""Scripted conversations sent through the real servers over REST into SQLite, then the
report on that file: exact figures, worked out from what the servers answered.

Needs the trained model for the current data (it is never trained here: without it the
test is skipped, `make train` makes it)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Dict, List

import pytest
import requests

from bot.server.processes import AssistantServers, free_port
from bot.server.report.build import build_report
from bot.server.report.source import open_engine
from tests.conftest import PROJECT_ROOT, wait_until
from tests.test_end_to_end import UNPLACEABLE, said

pytestmark = pytest.mark.slow  # starts the action server and the Rasa server

STAFF_PASSWORD = "a long staff password 42"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    from bot.server.staff.accounts import StaffAccounts
    from bot.server.staff.store import engine_from_env
    from bot.server.training import model_path

    model = model_path()
    if not model.exists():
        pytest.skip(f"no trained model {model.name} for the current data (make train)")
    db = tmp_path_factory.mktemp("report-e2e") / "tracker.db"
    # A staff account: asking for a person connects, and the inbox records escalations.
    engine = engine_from_env({"TRACKER_DB_PATH": str(db)})
    StaffAccounts(engine).add("alice", "Dr Alice Smith", STAFF_PASSWORD)
    engine.dispose()
    servers = AssistantServers(
        model=model,
        rasa_port=free_port(),
        action_port=free_port(),
        env={"TRACKER_DB_PATH": str(db), "CLINIC_NAME": "", "CLINIC_PHONE": "", "CLINIC_BOOKING_URL": ""},
        log_dir=PROJECT_ROOT / "test-artifacts" / "logs" / "report",
    )
    servers.start()
    servers.db = db
    yield servers
    servers.stop()


def say(servers: AssistantServers, sender: str, text: str) -> List[Dict]:
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def inbox_entries(db) -> int:
    import sqlite3

    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM handoffs").fetchone()[0]


def test_the_report_counts_what_the_servers_answered(servers, tmp_path):
    run = uuid.uuid4().hex[:8]
    started = time.time()
    # What each reply was (from the servers' answers, not from the report):
    alice, bob, carol, dave, erin = (f"{name}-{run}" for name in ("alice", "bob", "carol", "dave", "erin"))
    assert said(say(servers, alice, "hi")) == ["utter_greet", "utter_ask_question"]
    assert said(say(servers, alice, "How long does one TMS session take?"))[0] == "utter_faq/session_length"
    assert said(say(servers, bob, "how much does TMS cost?"))[0] == "utter_out_of_scope"
    assert said(say(servers, carol, UNPLACEABLE))[0] == "utter_clarify"  # first miss
    assert said(say(servers, carol, UNPLACEABLE))[0] == "utter_no_information"  # second miss
    assert "utter_crisis_reminder" in said(say(servers, dave, "/talk_to_human"))  # connected, crisis line in view
    assert said(say(servers, erin, "i want to die")) == ["utter_crisis"]
    # The escalation broker opens inbox entries in the background, after the reply.
    wait_until(lambda: inbox_entries(servers.db) >= 2, timeout=20)
    assert inbox_entries(servers.db) == 2

    engine = open_engine({"TRACKER_DB_PATH": str(servers.db)})
    try:
        now = time.time()
        report = build_report(engine, tmp_path / "out", started - 60, now=now)
    finally:
        engine.dispose()
    today = dt.datetime.fromtimestamp(started, dt.timezone.utc).date().isoformat()
    figures = report.figures

    assert report.conversations == 5
    per_day = [row for row in figures.per_day_channel.as_dicts() if row["conversations"] or row["messages"]]
    assert per_day == [{"date": today, "channel": "rest", "conversations": 5, "messages": 7}]

    (day,) = [row for row in figures.outcomes_per_day.as_dicts() if row["date"] == today]
    assert (day["conversations"], day["contained"], day["messages"]) == (5, 3, 7)  # not carol, not dave
    assert (day["clarified"], day["fallback"], day["out_of_scope"], day["handoff"]) == (1, 1, 1, 1)
    assert day["containment_rate"] == 0.6

    topics = {row["topic"]: row["answered"] for row in figures.topics.as_dicts()}
    assert topics == {"session_length": 1}

    escalations = {row["reason"]: (row["escalations"], row["claimed"]) for row in figures.escalations.as_dicts()}
    assert escalations == {"asked_for_person": (1, 0), "repeated_misses": (0, 0), "crisis": (1, 0), "all": (2, 0)}

    weeks = {row["week_starting"]: row["detections"] for row in figures.crisis_per_week.as_dicts()}
    assert sum(weeks.values()) == 1

    # The questions it could not answer are shown, carol's twice; erin's words (crisis) are not.
    groups = [(g.messages, g.conversations, g.examples) for g in report.grouping.groups]
    assert groups == [(2, 1, (UNPLACEABLE,)), (1, 1, ("how much does TMS cost?",))]
    for path in report.files:
        text = path.read_text(encoding="utf-8")
        assert "want to die" not in text
