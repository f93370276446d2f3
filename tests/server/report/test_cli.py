"""`python -m bot report`: its options, its errors, and that it prints no one's words."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from bot.server.report import cli as report_cli
from bot.server.report.build import parse_since
from tests.server.report import scenario
from tests.server.report.test_report_store import make_sqlite_store


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    report_cli.add_commands(commands)
    return parser.parse_args(["report", *argv])


def test_defaults():
    args = parse()
    assert (args.since, args.out, args.timezone) == ("30d", report_cli.DEFAULT_OUT, "UTC")
    # Under var/, which git ignores: the page shows people's (redacted) questions.
    assert report_cli.DEFAULT_OUT.parts[0] == "var"


def test_writes_the_report_and_prints_only_counts_and_paths(tmp_path, capsys):
    db = make_sqlite_store(tmp_path)
    out = tmp_path / "out"
    code = report_cli.run(parse("--since", "all", "--out", str(out)), environ={"TRACKER_DB_PATH": str(db)})
    printed = capsys.readouterr()
    assert code == 0
    assert (out / "report.html").exists() and (out / "topics.csv").exists()
    assert "Report of 9 conversations" in printed.out  # "all" includes gina's, from before May
    for secret in (scenario.NAME_MARKER, scenario.PHONE_MARKER, scenario.CRISIS_MARKER, "insurance"):
        assert secret not in printed.out + printed.err


def test_through_python_m_bot(tmp_path, monkeypatch):
    from bot.__main__ import main

    db = make_sqlite_store(tmp_path)
    monkeypatch.setenv("TRACKER_DB_PATH", str(db))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    assert main(["report", "--since", "2024-05-01", "--out", str(tmp_path / "out"), "--timezone", "Europe/Paris"]) == 0
    assert (tmp_path / "out" / "report.html").exists()


def test_a_missing_store_is_an_error(tmp_path, capsys):
    code = report_cli.run(parse("--out", str(tmp_path / "out")), environ={"TRACKER_DB_PATH": str(tmp_path / "no.db")})
    assert code == 1
    assert "no tracker store" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "no.db").exists()


@pytest.mark.parametrize(("option", "value"), [("--since", "last month"), ("--timezone", "Mars/Olympus")])
def test_bad_options_are_errors(tmp_path, capsys, option, value):
    code = report_cli.run(parse(option, value, "--out", str(tmp_path / "out")), environ={"TRACKER_DB_PATH": "x"})
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_parse_since():
    now = 1_715_774_400.0  # 2024-05-15 12:00 UTC
    utc = dt.timezone.utc
    assert parse_since("30d", now, utc) == now - 30 * 86400
    assert parse_since("2w", now, utc) == now - 14 * 86400
    assert parse_since("48h", now, utc) == now - 48 * 3600
    assert parse_since("all", now, utc) == 0.0
    assert parse_since("2024-05-01", now, utc) == dt.datetime(2024, 5, 1, tzinfo=utc).timestamp()
    with pytest.raises(ValueError):
        parse_since("yesterday", now, utc)
