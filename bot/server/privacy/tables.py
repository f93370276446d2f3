"""The privacy tables, and the other tables a conversation lives in, for SQLAlchemy Core.

All in the tracker store's database (SQLite or PostgreSQL), so one backup and one
deletion cover everything. Times are epoch seconds (UTC) as floats, like Rasa's events.

Ours (created when first needed):
- answer_feedback(sender_id, answer_ts, topic, helpful, updated_at): one row per person and
  answer, "Was this helpful?"; answer_ts is the bot event's timestamp, topic the response
  that produced it (`utter_faq/<topic>` for FAQ answers). Read by the content owner's report:
  the names are a contract.
- privacy_retention_runs: one row per retention run (when, cutoff, how many conversations
  and events); never content, never sender ids.
- privacy_job_locks: a lease per job name, so that one instance runs a job at a time.

Others' (never created here): Rasa's `events`, the staff inbox's `handoffs` and
`staff_replies` (bot/server/staff/store.py), the escalation ledger's
`escalation_notifications` (bot/server/escalation/ledger.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.server.database import create_tables_once
from bot.server.escalation.ledger import ID_LENGTH
from bot.server.escalation.ledger import TABLE_NAME as LEDGER_TABLE

metadata = sa.MetaData()

answer_feedback = sa.Table(
    "answer_feedback",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("answer_ts", sa.Float(), primary_key=True),
    sa.Column("topic", sa.String(255), nullable=True),
    sa.Column("helpful", sa.Boolean(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
)

retention_runs = sa.Table(
    "privacy_retention_runs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.Float(), nullable=False),
    sa.Column("finished_at", sa.Float(), nullable=False),
    sa.Column("retention_days", sa.Integer(), nullable=False),
    sa.Column("cutoff", sa.Float(), nullable=False),
    sa.Column("conversations", sa.Integer(), nullable=False),
    sa.Column("events", sa.Integer(), nullable=False),
    sa.Column("dry_run", sa.Boolean(), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
)
sa.Index("ix_privacy_retention_runs_finished", retention_runs.c.finished_at)

job_locks = sa.Table(
    "privacy_job_locks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float(), nullable=False),
)

# Tables of other modules, described only as far as deleting from them needs.
_others = sa.MetaData()
tracker_events = sa.Table(
    "events",  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent
    _others,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float()),
    sa.Column("data", sa.Text()),
)
escalation_claims = sa.Table(
    LEDGER_TABLE,
    _others,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
)


def create_tables(engine: Engine) -> None:
    """Creates the privacy tables that are missing (once, with several instances starting)."""
    create_tables_once(engine, metadata)


def existing_tables(engine: Engine) -> set:
    """Names of the tables in the database (others' tables may not exist yet)."""
    return set(sa.inspect(engine).get_table_names())
