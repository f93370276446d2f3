"""Report build time for 10,000 synthetic conversations in SQLite (target: well under a minute).

The figure goes to test-artifacts/report-build-time.txt."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from bot.server.report.build import build_report
from bot.server.report.source import open_engine
from tests.conftest import PROJECT_ROOT
from tooling.report_conversations import insert_directly, synthetic

pytestmark = pytest.mark.slow  # a minute of CPU on the 2-core build machine

CONVERSATIONS = 10_000
LIMIT_SECONDS = 60


def test_ten_thousand_conversations_build_well_within_a_minute(tmp_path):
    now = time.time()
    db = tmp_path / "tracker.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    made = synthetic(CONVERSATIONS, days=30, now=now)
    insert_directly(engine, made)
    engine.dispose()
    events = sum(len(events) for _, events in made)

    engine = open_engine({"TRACKER_DB_PATH": str(db)})
    try:
        cpu = time.process_time()
        report = build_report(engine, tmp_path / "out", now - 31 * 86400, now=now)
        cpu = time.process_time() - cpu
    finally:
        engine.dispose()
    assert report.conversations == CONVERSATIONS
    assert len(report.grouping.groups) == 10
    line = (
        f"{CONVERSATIONS} conversations ({events} events, {db.stat().st_size / 1e6:.0f} MB SQLite): "
        f"report built in {report.seconds:.1f} s wall clock, {cpu:.1f} s CPU\n"
    )
    artifact = PROJECT_ROOT / "test-artifacts" / "report-build-time.txt"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text(line, encoding="utf-8")
    print(line)
    assert report.seconds < LIMIT_SECONDS, line
