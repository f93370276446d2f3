"""Creating the project's tables once, even when several instances start at the same moment.

Every table lives in the tracker store's database (SQLite file, or PostgreSQL with several
instances). Two instances starting together on an empty PostgreSQL database both saw a
table missing, both created it, and the loser logged `Could not create tables:
DuplicateTable` (Rasa) or failed. Here creation runs under a PostgreSQL advisory lock held
for the transaction: the second instance waits, then finds the tables and creates nothing.
SQLite has one writer at a time already; a racing creator there gets an error and checks
again.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# Any fixed 64-bit number, the same in every instance: the advisory lock's name.
TABLE_CREATION_LOCK = 0x746D735F7461626C  # "tms_tabl"


def create_tables_once(engine: Engine, metadata: sa.MetaData, attempts: int = 3) -> None:
    """Creates the tables of `metadata` that are missing, one instance at a time."""
    for attempt in range(attempts):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": TABLE_CREATION_LOCK})
                metadata.create_all(connection, checkfirst=True)
            return
        except sa.exc.DBAPIError:
            # Lost a race (SQLite: "already exists"): fine if the tables are there now.
            if all_exist(engine, metadata):
                return
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def all_exist(engine: Engine, metadata: sa.MetaData) -> bool:
    inspector = sa.inspect(engine)
    return all(inspector.has_table(table.name, schema=table.schema) for table in metadata.sorted_tables)
