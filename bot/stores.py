"""Tracker store chosen by environment variables, so the same code runs embedded or at scale.

- default: SQLite file at $TRACKER_DB_PATH (default var/tracker.db); a restart keeps
  conversations.
- $TRACKER_STORE_URL set (e.g. postgresql://user:pass@host:5432/rasa): Rasa's own
  SQLTrackerStore on that database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

DEFAULT_SQLITE_PATH = "var/tracker.db"


def sqlite_path() -> Path:
    return Path(os.environ.get("TRACKER_DB_PATH") or DEFAULT_SQLITE_PATH)


class EnvironmentTrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore, pointed at SQLite or a server database by environment."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        url = os.environ.get("TRACKER_STORE_URL", "").strip()
        if url:
            from sqlalchemy.engine.url import make_url

            parsed = make_url(url)
            super().__init__(
                domain=domain,
                dialect=parsed.drivername,
                host=parsed.host,
                port=parsed.port,
                db=parsed.database or "rasa",
                username=parsed.username,
                password=parsed.password,
                event_broker=event_broker,
                **kwargs,
            )
        else:
            path = sqlite_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            super().__init__(
                domain=domain,
                dialect="sqlite",
                db=str(path),
                event_broker=event_broker,
                **kwargs,
            )
