"""The same scripted conversations and exact figures as test_report_store.py, on PostgreSQL:
stored through Rasa's SQLTrackerStore, read by the report through $TRACKER_STORE_URL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine.url import make_url

from bot.server.report.source import open_engine
from tests.server.report import scenario
from tests.server.report.test_report_store import (
    check_all_figures,
    check_nothing_private_written,
    run_report,
)
from tests.services import postgres_url  # noqa: F401 - fixture

pytestmark = pytest.mark.slow  # starts a PostgreSQL server


@pytest.fixture(scope="module")
def report_database(postgres_url):  # noqa: F811
    """A database of its own on the shared test server: other tests' conversations stay out."""
    name = f"report_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(postgres_url).set(database=name))
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_postgresql_figures_are_exact(report_database, tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore

    url = make_url(report_database)
    store = SQLTrackerStore(dialect="postgresql", host=url.host, port=url.port, db=url.database,
                            username=url.username, password=url.password)
    made = asyncio.run(scenario.store_conversations(store))
    store.engine.dispose()
    environ = {"TRACKER_STORE_URL": report_database}
    engine = open_engine(environ)
    assert engine.dialect.name == "postgresql"
    scenario.store_feedback(engine, made)
    scenario.store_handoffs(engine)
    engine.dispose()

    report = run_report(environ, tmp_path / "out")
    check_all_figures(report)
    check_nothing_private_written(report)
    page = report.files[0].read_text(encoding="utf-8")
    assert f"database {url.database}" in page and "postgresql://" not in page
