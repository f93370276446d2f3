"""Server-side login sessions for the staff inbox.

The cookie holds only a random token; the database keeps its SHA-256 with the username,
the session's CSRF token and when it was last used. A session ends after IDLE_SECONDS
without a request, or at logout. Stored server-side (not a signed cookie) so that logout
really ends it and every worker sees the same sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.server.staff.store import Clock, create_tables, staff_sessions

IDLE_SECONDS = 8 * 60 * 60
# last_seen_at is written at most this often, not on every poll of a conversation.
TOUCH_EVERY_SECONDS = 60
MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True)
class Session:
    token: str
    username: str
    csrf_token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(
        self, engine: Engine, clock: Clock = time.time, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.idle_seconds = idle_seconds
        create_tables(engine)

    def create(self, username: str) -> Session:
        session = Session(secrets.token_urlsafe(32), username, secrets.token_urlsafe(32))
        now = self.clock()
        with self.engine.begin() as connection:
            # Expired sessions are cleared at each login: logins are rare, sessions few.
            connection.execute(
                staff_sessions.delete().where(
                    staff_sessions.c.last_seen_at < now - self.idle_seconds
                )
            )
            connection.execute(
                staff_sessions.insert().values(
                    token_hash=_hash(session.token),
                    username=username,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return session

    def get(self, token: Optional[str]) -> Optional[Session]:
        """The live session for a cookie's token, or None (unknown, malformed or idle too long)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        token_hash = _hash(token)
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(staff_sessions).where(staff_sessions.c.token_hash == token_hash)
            ).first()
        if row is None:
            return None
        now = self.clock()
        if row.last_seen_at < now - self.idle_seconds:
            self.delete(token)
            return None
        if row.last_seen_at < now - TOUCH_EVERY_SECONDS:
            with self.engine.begin() as connection:
                connection.execute(
                    staff_sessions.update()
                    .where(staff_sessions.c.token_hash == token_hash)
                    .values(last_seen_at=now)
                )
        return Session(token, row.username, row.csrf_token)

    def delete(self, token: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                staff_sessions.delete().where(staff_sessions.c.token_hash == _hash(token))
            )
