"""Reads what the report needs from the tracker store's database, and nothing else.

The database is the one the Rasa server uses ($TRACKER_STORE_URL, else SQLite at
$TRACKER_DB_PATH), opened by the staff inbox's `engine_from_env`, which chooses it as
bot/server/stores.py does. Only reads: no table is created, and a missing table of the
staff inbox or of answer feedback just means "none yet".

Events are read in one query, ordered by conversation, and handed out one sender at a time,
so the report holds one person's events in memory at once, not the whole store. Only
user and bot events carry their JSON (the rest is read from columns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# The event kinds the report reads (Rasa's type_name column): the rest (slots, loops,
# pauses...) says nothing the report shows.
USER = "user"
BOT = "bot"
ACTION = "action"
SESSION_STARTED = "session_started"
READ_KINDS = (USER, BOT, ACTION, SESSION_STARTED)
# Rows fetched from the database at a time (PostgreSQL streams them with a server cursor).
BATCH_ROWS = 5000

# bot/server/privacy/tables.py: "Read by the content owner's report: the names are a contract".
# Described here only as far as reading it needs, so the report does not depend on the
# privacy package (another part of the system, which may not be installed yet).
FEEDBACK_TABLE = "answer_feedback"
_feedback = sa.Table(
    FEEDBACK_TABLE,
    sa.MetaData(),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("answer_ts", sa.Float()),
    sa.Column("topic", sa.String(255)),
    sa.Column("helpful", sa.Boolean()),
    sa.Column("updated_at", sa.Float()),
)


class StoreNotFound(RuntimeError):
    """The SQLite file the report was pointed at does not exist."""


class EventRow(NamedTuple):
    """One stored event: its kind, time and name columns; the JSON for user and bot events.

    A named tuple, not a frozen dataclass: a report makes one per stored event, and frozen
    dataclasses cost several times more to create.
    """

    type_name: str
    timestamp: float
    action_name: Optional[str]
    intent_name: Optional[str]
    data: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class Feedback:
    topic: str
    helpful: bool
    answer_ts: float


@dataclass(frozen=True)
class HandoffRecord:
    reason: str
    created_at: float
    first_claimed_at: Optional[float]


def open_engine(environ: Mapping[str, str]) -> Engine:
    """The tracker store's database, chosen by the same settings as the Rasa server."""
    from bot.server.staff.store import engine_from_env

    engine = engine_from_env(environ)
    if engine.dialect.name == "sqlite" and engine.url.database:
        path = Path(engine.url.database)
        if not path.exists():
            engine.dispose()
            # Opening it would create an empty database: say where we looked instead.
            raise StoreNotFound(f"no tracker store at {path} (set TRACKER_DB_PATH or TRACKER_STORE_URL)")
    return engine


def describe(engine: Engine) -> str:
    """Which store was read, for the page: the kind and database name, never credentials."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        return f"SQLite ({Path(url.database or '').name})"
    return f"{engine.dialect.name} (database {url.database}, host {url.host})"


def existing_tables(engine: Engine) -> set:
    return set(sa.inspect(engine).get_table_names())


def _events_table() -> sa.Table:
    # Rasa's own table definition: the report reads the schema the server writes.
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore.SQLEvent.__table__


def events_by_sender(engine: Engine, since: float) -> Iterator[Tuple[str, List[EventRow]]]:
    """Each sender's events from `since` on, in stored order, one sender at a time."""
    if "events" not in existing_tables(engine):
        return
    table = _events_table()
    with_json = table.c.type_name.in_((USER, BOT))
    statement = (
        sa.select(
            table.c.sender_id,
            table.c.type_name,
            table.c.timestamp,
            table.c.action_name,
            table.c.intent_name,
            sa.case((with_json, table.c.data), else_=sa.null()).label("data"),
        )
        .where(table.c.type_name.in_(READ_KINDS), table.c.timestamp >= since)
        .order_by(table.c.sender_id, table.c.id)
    )
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, max_row_buffer=BATCH_ROWS).execute(statement)
        for sender_id, rows in groupby(result, key=lambda row: row.sender_id):
            yield sender_id, [
                EventRow(
                    type_name=row.type_name,
                    timestamp=float(row.timestamp or 0.0),
                    action_name=row.action_name,
                    intent_name=row.intent_name,
                    data=_json(row.data),
                )
                for row in rows
            ]


def _json(data: Optional[str]) -> Optional[Dict[str, Any]]:
    if not data:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def feedback(engine: Engine, since: float) -> Optional[List[Feedback]]:
    """Ratings of answers given from `since` on; None when the table does not exist (yet)."""
    if FEEDBACK_TABLE not in existing_tables(engine):
        return None
    statement = sa.select(_feedback.c.topic, _feedback.c.helpful, _feedback.c.answer_ts).where(
        _feedback.c.answer_ts >= since
    )
    with engine.connect() as connection:
        return [
            Feedback(topic=row.topic or "", helpful=bool(row.helpful), answer_ts=float(row.answer_ts))
            for row in connection.execute(statement)
        ]


def handoffs(engine: Engine, since: float) -> Optional[List[HandoffRecord]]:
    """Staff-inbox entries opened from `since` on, with the first time a professional claimed
    each (from the audit trail); None when the staff inbox's tables do not exist."""
    from bot.server.staff.store import handoffs as table
    from bot.server.staff.store import staff_audit as audit

    tables = existing_tables(engine)
    if table.name not in tables:
        return None
    columns = [table.c.reason, table.c.created_at]
    if audit.name in tables:
        first_claim = (
            sa.select(audit.c.handoff_ref, sa.func.min(audit.c.at).label("at"))
            .where(audit.c.action == "claim")
            .group_by(audit.c.handoff_ref)
            .subquery()
        )
        statement = sa.select(*columns, first_claim.c.at).select_from(
            table.outerjoin(first_claim, first_claim.c.handoff_ref == table.c.ref)
        )
    else:
        statement = sa.select(*columns, sa.null().label("at")).select_from(table)
    statement = statement.where(table.c.created_at >= since)
    with engine.connect() as connection:
        return [
            HandoffRecord(
                reason=row.reason,
                created_at=float(row.created_at),
                first_claimed_at=None if row.at is None else float(row.at),
            )
            for row in connection.execute(statement)
        ]
