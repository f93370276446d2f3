"""`python -m bot retention [--days N] [--dry-run]`: delete conversations idle for too long.

The same job the Rasa server runs by itself once a day (retention.py), for production
schedulers (systemd timer, cron: docs/privacy.md). Run it with the server's environment:
the database is $TRACKER_STORE_URL or the SQLite file at $TRACKER_DB_PATH, and with
$REDIS_URL each conversation is deleted under the lock the servers use. If another
instance is running it, this run does nothing and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Mapping, Optional, TextIO

from bot.server.privacy.settings import MAX_RETENTION_DAYS, PrivacySettings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    retention = subparsers.add_parser(
        "retention", help="delete conversations older than RETENTION_DAYS (default 30)"
    )
    retention.add_argument(
        "--days",
        type=int,
        default=None,
        help=f"delete conversations whose last message is older than this (1-{MAX_RETENTION_DAYS}; "
        "default: $RETENTION_DAYS or 30)",
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )


def run(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None, out: Optional[TextIO] = None) -> int:
    """The handler of `python -m bot retention`; 0 when done (or another instance is on it)."""
    from bot.server.privacy.erase import ConversationEraser
    from bot.server.privacy.retention import RetentionJob

    env = os.environ if environ is None else environ
    out = out or sys.stdout
    try:
        days = args.days if args.days is not None else PrivacySettings.from_env(env).retention_days
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise ValueError(f"--days must be from 1 to {MAX_RETENTION_DAYS}, got {days}.")
    except ValueError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    eraser = ConversationEraser.from_env(env)
    try:
        job = RetentionJob(eraser.engine, days, eraser=eraser)
        result = asyncio.run(job.run(dry_run=args.dry_run, trigger="command"))
    finally:
        eraser.engine.dispose()
    if not result.ran:
        print("Another instance is running retention right now; nothing was done here.", file=out)
        return 0
    verb = "Would delete" if result.dry_run else "Deleted"
    print(
        f"{verb} {result.conversations} conversations ({result.events} events) whose last message "
        f"is older than {days} days, in {result.seconds:.1f} s.",
        file=out,
    )
    return 0
