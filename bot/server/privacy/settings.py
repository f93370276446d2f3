"""Privacy settings, read from the environment in this one place and checked when read.

- RETENTION_DAYS (default 30, 1-3650): conversations whose last event is older than this
  are deleted by the daily retention job (retention.py) and `python -m bot retention`.
- PRIVACY_SECRET (32+ characters): signs the tokens that prove a widget owns its
  conversation (tokens.py). Unset: a random secret is made once and kept, mode 0600, in
  `privacy-secret` next to the SQLite tracker file ($TRACKER_DB_PATH's folder, `var/` by
  default, which git ignores). Several instances must share one: set it there.

The database is the tracker store's ($TRACKER_STORE_URL, else SQLite at $TRACKER_DB_PATH),
and Redis is the lock store's ($REDIS_URL / $REDIS_HOST): bot/server/stores.py decides both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650
MIN_SECRET_LENGTH = 32
SECRET_FILE_NAME = "privacy-secret"
DEFAULT_SQLITE_PATH = "var/tracker.db"  # as bot/server/stores.py

# The retention job: how often a server checks whether a run is due, and how long after the
# last run (by any instance) the next one is due. Checking hourly means a run at most an
# hour late, whichever instance was up.
RETENTION_CHECK_SECONDS = 60 * 60
RETENTION_INTERVAL_SECONDS = 24 * 60 * 60
# The first check waits until the server has settled (the model is loaded by then).
RETENTION_FIRST_CHECK_SECONDS = 5 * 60

# The person's API (web.py): requests per address and window, per process. Generous for a
# person clicking, tight for someone guessing tokens.
RATE_LIMIT_REQUESTS = 30
RATE_LIMIT_WINDOW_SECONDS = 60.0
RATE_LIMIT_ADDRESSES = 10_000  # addresses remembered; the oldest are forgotten first


@dataclass(frozen=True)
class PrivacySettings:
    retention_days: int = DEFAULT_RETENTION_DAYS
    secret: Optional[str] = field(default=None, repr=False)
    secret_file: Path = Path("var") / SECRET_FILE_NAME
    # Several instances share conversations: a secret made on one host is unknown to others.
    shared_database: bool = False

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> PrivacySettings:
        """Reads and checks the variables; ValueError names the one that is wrong."""
        env = os.environ if environ is None else environ
        return cls(
            retention_days=retention_days(env.get("RETENTION_DAYS")),
            secret=_secret(env.get("PRIVACY_SECRET")),
            secret_file=Path(env.get("TRACKER_DB_PATH") or DEFAULT_SQLITE_PATH).parent
            / SECRET_FILE_NAME,
            shared_database=bool((env.get("TRACKER_STORE_URL") or "").strip()),
        )


def retention_days(raw: Optional[str]) -> int:
    text = (raw or "").strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    if not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"RETENTION_DAYS must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, got {text!r}."
        )
    return int(text)


def _secret(raw: Optional[str]) -> Optional[str]:
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) < MIN_SECRET_LENGTH:
        # The value itself is never repeated: it is a secret.
        raise ValueError(f"PRIVACY_SECRET must be at least {MIN_SECRET_LENGTH} characters long.")
    return text
