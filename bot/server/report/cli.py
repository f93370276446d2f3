"""`python -m bot report [--since 30d] [--out var/report] [--timezone UTC]`.

Run it with the Rasa server's environment ($TRACKER_STORE_URL, or $TRACKER_DB_PATH for
SQLite): it reads that database, loads no model, and writes report.html and the CSV files
into --out. The default folder is under var/, which git ignores: the page shows people's
questions (redacted), which must not end up in the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Mapping

DEFAULT_OUT = Path("var") / "report"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the content owner's report (HTML page and CSV files) from the stores",
        description="Reads the tracker store and writes one self-contained HTML page and CSV files.",
    )
    parser.add_argument(
        "--since", default="30d", help="period: 30d, 12w, 48h, a date (2024-05-01) or 'all' (default 30d)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder to write into (default {DEFAULT_OUT}/)")
    parser.add_argument(
        "--timezone", default="UTC", help="time zone of the days and weeks, e.g. America/New_York (default UTC)"
    )


def run(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> int:
    import time
    import warnings
    import zoneinfo

    from bot.server.report.build import build_report, parse_since
    from bot.server.report.source import StoreNotFound, open_engine

    try:
        timezone = zoneinfo.ZoneInfo(args.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r}", file=sys.stderr)
        return 2
    now = time.time()
    try:
        since = parse_since(args.since, now, timezone)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        # Deprecation notices of libraries (Rasa's SQLAlchemy 1.x API, matplotlib's use of
        # pyparsing) are for their maintainers, not for whoever runs the report.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            engine = open_engine(environ)
        except StoreNotFound as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        try:
            report = build_report(engine, args.out, since, timezone, now)
        finally:
            engine.dispose()
    # Counts and paths only: never anything people wrote.
    print(f"Report of {report.conversations} conversations written in {report.seconds:.1f} s:")
    for path in report.files:
        print(f"  {path}")
    return 0
