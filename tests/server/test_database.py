"""Tables are created once, with no error, when several instances start at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.server.database import all_exist, create_tables_once
from tests.conftest import PROJECT_ROOT
from tests.services import postgres_url  # noqa: F401 - fixture


def test_sqlite_tables_are_created_once_and_again_is_a_no_op(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata = sa.MetaData()
    sa.Table("one", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("two", metadata, sa.Column("id", sa.Integer, primary_key=True))
    assert not all_exist(engine, metadata)
    create_tables_once(engine, metadata)
    create_tables_once(engine, metadata)
    assert sorted(sa.inspect(engine).get_table_names()) == ["one", "two"]


def test_an_error_that_leaves_a_table_missing_is_raised(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite'}")
    metadata = sa.MetaData()
    sa.Table("one", metadata, sa.Column("id", sa.Integer, primary_key=True))
    with pytest.raises(sa.exc.OperationalError):
        create_tables_once(engine, metadata, attempts=2)


@pytest.mark.slow
def test_on_postgres_a_second_creator_waits_for_the_first_and_then_creates_nothing(postgres_url: str) -> None:  # noqa: F811
    import threading

    from bot.server.database import TABLE_CREATION_LOCK

    engine = sa.create_engine(postgres_url)
    metadata = sa.MetaData()
    name = f"race_{uuid.uuid4().hex[:8]}"
    sa.Table(name, metadata, sa.Column("id", sa.Integer, primary_key=True))
    errors: list = []
    second = threading.Thread(target=lambda: _capture(errors, create_tables_once, engine, metadata))
    with engine.begin() as first:  # the first instance, holding the lock while it creates
        first.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": TABLE_CREATION_LOCK})
        second.start()
        second.join(1.0)
        assert second.is_alive()  # waiting for the lock, not racing to CREATE TABLE
        metadata.create_all(first, checkfirst=True)
    second.join(30)
    assert not second.is_alive() and errors == []
    assert sa.inspect(engine).has_table(name)
    engine.dispose()


def _capture(errors: list, function, *args) -> None:
    try:
        function(*args)
    except Exception as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


# One Rasa instance's start-up, as far as the database goes: the tracker store (Rasa's own
# table creation included), the staff inbox's tables and the escalation ledger's.
START_UP = """
import logging, os, sys, time
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
from bot.server.stores import EnvironmentTrackerStore
from bot.server.staff.store import create_tables, engine_from_env
from bot.server.escalation.ledger import ledger_from_env
while time.time() < float(sys.argv[1]):
    time.sleep(0.005)
EnvironmentTrackerStore()
create_tables(engine_from_env(os.environ))
ledger_from_env(os.environ).ensure_table()
print("started")
"""


@pytest.mark.slow
def test_four_instances_starting_together_on_an_empty_postgres_log_no_error(postgres_url: str) -> None:  # noqa: F811
    fresh = f"empty_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {fresh}"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{fresh}"
    env = {**os.environ, "TRACKER_STORE_URL": url, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    start_at = time.time() + 15  # after every process has imported Rasa
    processes = [
        subprocess.Popen([sys.executable, "-c", START_UP, str(start_at)], cwd=PROJECT_ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
        assert output.strip().splitlines()[-1] == "started", output
        for error in ("Could not create tables", "DuplicateTable", "ERROR", "Traceback"):
            assert error not in output, output
    engine = sa.create_engine(url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"events", "escalation_notifications", "handoffs", "staff_replies", "staff_accounts", "staff_sessions",
            "staff_audit"} <= tables
