"""Handoffs, staff replies and the audit trail, in the same database as the tracker store.

The engine comes from the same environment variables as bot/server/stores.py ($TRACKER_STORE_URL
for a server database, else SQLite at $TRACKER_DB_PATH), so one backup and one retention
policy cover the conversations and what staff did with them. SQLAlchemy Core only: the same
statements run on SQLite and PostgreSQL.

Every change that must not race (opening a handoff, claiming, replying) is a single
conditional UPDATE or is guarded by a unique index, so two professionals, two Rasa workers
or two servers cannot both win.

Times are seconds since the epoch (UTC) as floats, like Rasa's event timestamps: they
compare the same way on every database, with no time-zone handling in SQL.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, List, Mapping, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

from bot.server.channels.inbound import clean_text
from bot.server.database import create_tables_once

DEFAULT_SQLITE_PATH = "var/tracker.db"

REASONS = ("asked_for_person", "repeated_misses", "crisis")
STATUSES = ("waiting", "claimed", "resolved")
OPEN_STATUSES = ("waiting", "claimed")
MAX_REPLY_CHARS = 2000
MAX_AUDIT_DETAIL_CHARS = 200
# Opaque, unguessable, URL-safe: a ref ends up in links, e-mails and browser history,
# where the sender id (possibly a phone number) must never appear.
REF_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_ACTION = re.compile(r"^[a-z][a-z_]{0,31}$")

Clock = Callable[[], float]

metadata = sa.MetaData()

handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("ref", sa.String(64), primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("urgent", sa.Boolean(), nullable=False, default=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("last_person_message_at", sa.Float(), nullable=True),
    sa.CheckConstraint(f"reason IN {REASONS!r}", name="ck_handoffs_reason"),
    sa.CheckConstraint(f"status IN {STATUSES!r}", name="ck_handoffs_status"),
)
# At most one open handoff per person: the database, not a read-then-write, decides.
sa.Index(
    "uq_handoffs_open_sender",
    handoffs.c.sender_id,
    unique=True,
    sqlite_where=handoffs.c.status.in_(OPEN_STATUSES),
    postgresql_where=handoffs.c.status.in_(OPEN_STATUSES),
)
sa.Index("ix_handoffs_status", handoffs.c.status, handoffs.c.created_at)

staff_replies = sa.Table(
    "staff_replies",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("handoff_ref", sa.String(64), sa.ForeignKey("handoffs.ref"), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
)
sa.Index("ix_staff_replies_handoff", staff_replies.c.handoff_ref, staff_replies.c.id)

staff_accounts = sa.Table(
    "staff_accounts",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("failed_logins", sa.Integer(), nullable=False, default=0),
    sa.Column("locked_until", sa.Float(), nullable=True),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    # A hash of the cookie's token: a copy of the database does not log anyone in.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("last_seen_at", sa.Float(), nullable=False),
)

staff_audit = sa.Table(
    "staff_audit",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float(), nullable=False),
    sa.Column("username", sa.String(64), nullable=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("handoff_ref", sa.String(64), nullable=True),
    sa.Column("detail", sa.String(MAX_AUDIT_DETAIL_CHARS), nullable=False, default=""),
)
sa.Index("ix_staff_audit_at", staff_audit.c.at)


def engine_from_env(environ: Mapping[str, str]) -> Engine:
    """The tracker store's database, chosen as bot/server/stores.py chooses it."""
    url = (environ.get("TRACKER_STORE_URL") or "").strip()
    if url:
        parsed = make_url(url)
        if not parsed.database:
            parsed = parsed.set(database="rasa")  # the database Rasa's SQLTrackerStore uses then
        return sa.create_engine(parsed, pool_pre_ping=True)
    from bot.server.stores import (
        sqlite_engine,  # WAL and pooled connections, like the tracker store
    )

    path = Path(environ.get("TRACKER_DB_PATH") or DEFAULT_SQLITE_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite_engine(make_url(f"sqlite:///{path}"))


def create_tables(engine: Engine) -> None:
    """Creates the staff tables that are missing (once, with several instances starting)."""
    create_tables_once(engine, metadata)


def new_ref() -> str:
    return secrets.token_urlsafe(18)  # 144 random bits, 24 characters


@dataclass(frozen=True)
class Handoff:
    """A conversation handed to the clinic's professionals."""

    ref: str
    sender_id: str
    channel: str
    reason: str
    urgent: bool
    status: str
    claimed_by: Optional[str]
    created_at: float
    updated_at: float
    last_person_message_at: Optional[float]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class StaffReply:
    """A professional's message to the person, waiting in the outbox for the takeover code."""

    id: int
    handoff_ref: str
    username: str
    display_name: str
    text: str
    created_at: float


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    username: Optional[str]
    action: str
    handoff_ref: Optional[str]
    detail: str


class NotClaimedError(PermissionError):
    """Only the professional who claimed a handoff may reply in it."""


def _handoff(row: Any) -> Handoff:
    return Handoff(
        ref=row.ref,
        sender_id=row.sender_id,
        channel=row.channel,
        reason=row.reason,
        urgent=bool(row.urgent),
        status=row.status,
        claimed_by=row.claimed_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_person_message_at=row.last_person_message_at,
    )


def _reply(row: Any) -> StaffReply:
    return StaffReply(
        id=row.id,
        handoff_ref=row.handoff_ref,
        username=row.username,
        display_name=row.display_name,
        text=row.text,
        created_at=row.created_at,
    )


def _check_choice(value: str, choices: Iterable[str], what: str) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, got {value!r}")


class HandoffRepository:
    """Handoffs, the staff outbox and the audit trail. Creates its tables if missing."""

    def __init__(self, engine: Engine, clock: Clock = time.time) -> None:
        self.engine = engine
        self.clock = clock
        create_tables(engine)

    # Handoffs ----------------------------------------------------------------------------

    def open_handoff(self, sender_id: str, channel: str, reason: str, urgent: bool) -> Handoff:
        """A new waiting handoff, or the person's open one (made urgent if this one is)."""
        _check_choice(reason, REASONS, "reason")
        if not sender_id or not channel:
            raise ValueError("sender_id and channel must not be empty")
        for _ in range(3):
            existing = self.open_for_sender(sender_id)
            if existing is not None:
                if urgent and not existing.urgent:
                    self.mark_urgent(existing.ref)
                    return self.get(existing.ref) or existing
                return existing
            now = self.clock()
            try:
                with self.engine.begin() as connection:
                    ref = new_ref()
                    connection.execute(
                        handoffs.insert().values(
                            ref=ref,
                            sender_id=sender_id,
                            channel=channel,
                            reason=reason,
                            urgent=bool(urgent),
                            status="waiting",
                            claimed_by=None,
                            created_at=now,
                            updated_at=now,
                            last_person_message_at=now,
                        )
                    )
            except sa.exc.IntegrityError:
                continue  # another process opened one for this person first: use theirs
            return self._require(ref)
        raise RuntimeError("could not open a handoff: the open one kept changing")

    def mark_urgent(self, ref: str) -> bool:
        return self._update(handoffs.c.ref == ref, urgent=True)

    def get(self, ref: str) -> Optional[Handoff]:
        if not isinstance(ref, str) or not REF_PATTERN.match(ref):
            return None
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(handoffs).where(handoffs.c.ref == ref)).first()
        return _handoff(row) if row is not None else None

    def open_for_sender(self, sender_id: str) -> Optional[Handoff]:
        statement = sa.select(handoffs).where(
            handoffs.c.sender_id == sender_id, handoffs.c.status.in_(OPEN_STATUSES)
        )
        with self.engine.connect() as connection:
            row = connection.execute(statement).first()
        return _handoff(row) if row is not None else None

    def latest_for_sender(self, sender_id: str) -> Optional[Handoff]:
        """The person's open handoff, else their most recently changed one."""
        statement = (
            sa.select(handoffs)
            .where(handoffs.c.sender_id == sender_id)
            .order_by(handoffs.c.status.in_(OPEN_STATUSES).desc(), handoffs.c.updated_at.desc())
            .limit(1)
        )
        with self.engine.connect() as connection:
            row = connection.execute(statement).first()
        return _handoff(row) if row is not None else None

    def list(
        self, statuses: Iterable[str] = OPEN_STATUSES, limit: Optional[int] = None
    ) -> List[Handoff]:
        """Handoffs in these states: urgent first, then those waiting longest."""
        statuses = tuple(statuses)
        for status in statuses:
            _check_choice(status, STATUSES, "status")
        statement = (
            sa.select(handoffs)
            .where(handoffs.c.status.in_(statuses))
            .order_by(handoffs.c.urgent.desc(), handoffs.c.created_at, handoffs.c.ref)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return self._handoffs(statement)

    def recently_resolved(self, limit: int = 50) -> List[Handoff]:
        """The latest resolved handoffs, newest first (the inbox shows a few, not all)."""
        statement = (
            sa.select(handoffs)
            .where(handoffs.c.status == "resolved")
            .order_by(handoffs.c.updated_at.desc())
            .limit(limit)
        )
        return self._handoffs(statement)

    def claim(self, ref: str, username: str) -> bool:
        """Takes a waiting handoff for `username`; False if someone else has it or it is closed.

        One UPDATE with the condition in its WHERE clause: of two professionals claiming at
        once, the database lets exactly one change the row.
        """
        return self._update(
            sa.and_(
                handoffs.c.ref == ref,
                sa.or_(
                    handoffs.c.status == "waiting",
                    sa.and_(handoffs.c.status == "claimed", handoffs.c.claimed_by == username),
                ),
            ),
            status="claimed",
            claimed_by=username,
        )

    def release(self, ref: str, username: str) -> bool:
        """Gives a claimed handoff back to the waiting list (only its claimer can)."""
        return self._update(
            sa.and_(
                handoffs.c.ref == ref,
                handoffs.c.status == "claimed",
                handoffs.c.claimed_by == username,
            ),
            status="waiting",
            claimed_by=None,
        )

    def resolve(self, ref: str, username: str) -> bool:
        """Closes a handoff: its claimer can, and anyone can close one nobody has claimed."""
        return self._update(
            sa.and_(
                handoffs.c.ref == ref,
                sa.or_(
                    handoffs.c.status == "waiting",
                    sa.and_(handoffs.c.status == "claimed", handoffs.c.claimed_by == username),
                ),
            ),
            status="resolved",
            claimed_by=username,  # who closed it
        )

    def touch_person_message(self, ref: str) -> bool:
        now = self.clock()
        return self._update(handoffs.c.ref == ref, last_person_message_at=now)

    def unclaimed_older_than(self, seconds: float) -> List[Handoff]:
        """Handoffs still waiting for a professional after `seconds` (for reminders)."""
        cutoff = self.clock() - seconds
        statement = (
            sa.select(handoffs)
            .where(handoffs.c.status == "waiting", handoffs.c.created_at <= cutoff)
            .order_by(handoffs.c.urgent.desc(), handoffs.c.created_at)
        )
        return self._handoffs(statement)

    # Staff replies (the outbox) ----------------------------------------------------------

    def add_reply(self, ref: str, username: str, display_name: str, text: str) -> StaffReply:
        """Stores a reply for delivery; NotClaimedError unless `username` holds the handoff."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a reply needs some text")
        if len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"a reply has at most {MAX_REPLY_CHARS} characters")
        now = self.clock()
        with self.engine.begin() as connection:
            # The UPDATE first: it takes the row's write lock, so the claim cannot be
            # released between the check and the insert.
            held = connection.execute(
                handoffs.update()
                .where(
                    handoffs.c.ref == ref,
                    handoffs.c.status == "claimed",
                    handoffs.c.claimed_by == username,
                )
                .values(updated_at=now)
            )
            if held.rowcount != 1:
                raise NotClaimedError(f"{username} has not claimed this handoff")
            result = connection.execute(
                staff_replies.insert().values(
                    handoff_ref=ref,
                    username=username,
                    display_name=display_name,
                    text=text,
                    created_at=now,
                )
            )
            reply_id = int(result.inserted_primary_key[0])
        return StaffReply(reply_id, ref, username, display_name, text, now)

    def replies_since(self, ref: str, after_id: int = 0) -> List[StaffReply]:
        statement = (
            sa.select(staff_replies)
            .where(staff_replies.c.handoff_ref == ref, staff_replies.c.id > after_id)
            .order_by(staff_replies.c.id)
        )
        with self.engine.connect() as connection:
            return [_reply(row) for row in connection.execute(statement)]

    # Audit trail -------------------------------------------------------------------------

    def audit(
        self, username: Optional[str], action: str, ref: Optional[str] = None, detail: str = ""
    ) -> None:
        """Records what a professional did. `detail` is a short note, never message text."""
        if not _ACTION.match(action):
            raise ValueError(f"audit action must match {_ACTION.pattern}, got {action!r}")
        detail = clean_text(detail or "").replace("\n", " ")[:MAX_AUDIT_DETAIL_CHARS]
        with self.engine.begin() as connection:
            connection.execute(
                staff_audit.insert().values(
                    at=self.clock(),
                    username=username,
                    action=action,
                    handoff_ref=ref,
                    detail=detail,
                )
            )

    def audit_log(self, limit: int = 200) -> List[AuditEntry]:
        """The latest audit entries, newest first."""
        statement = sa.select(staff_audit).order_by(staff_audit.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [
                AuditEntry(row.id, row.at, row.username, row.action, row.handoff_ref, row.detail)
                for row in connection.execute(statement)
            ]

    # Helpers -----------------------------------------------------------------------------

    def _update(self, condition: Any, **values: Any) -> bool:
        values.setdefault("updated_at", self.clock())
        with self.engine.begin() as connection:
            result = connection.execute(handoffs.update().where(condition).values(**values))
        return result.rowcount == 1

    def _handoffs(self, statement: Any) -> List[Handoff]:
        with self.engine.connect() as connection:
            return [_handoff(row) for row in connection.execute(statement)]

    def _require(self, ref: str) -> Handoff:
        handoff = self.get(ref)
        if handoff is None:
            raise LookupError(ref)
        return handoff
