"""Staff accounts: argon2id hashes, wrong passwords, the lockout, the per-address limit, the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from bot.__main__ import main
from bot.server.staff.accounts import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    AccountError,
    IpLoginLimiter,
    LoginResult,
    StaffAccounts,
)
from bot.server.staff.store import engine_from_env, staff_accounts
from tests.conftest import PROJECT_ROOT
from tests.server.staff.conftest import CHEAP_HASHER, PASSWORD, FakeClock


def stored_hash(accounts: StaffAccounts, username: str) -> str:
    with accounts.engine.connect() as connection:
        return connection.execute(
            sa.select(staff_accounts.c.password_hash).where(staff_accounts.c.username == username)
        ).scalar_one()


def test_passwords_are_stored_as_argon2id_hashes(accounts: StaffAccounts) -> None:
    account = accounts.add("Alice", "  Dr  Alice\u200b Smith ", PASSWORD)
    assert (account.username, account.display_name) == ("alice", "Dr Alice Smith")
    password_hash = stored_hash(accounts, "alice")
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash
    assert accounts.any_exist()
    assert [a.username for a in accounts.list()] == ["alice"]


def test_the_right_password_signs_in_and_a_wrong_one_does_not(accounts: StaffAccounts) -> None:
    accounts.add("alice", "Alice", PASSWORD)
    ok = accounts.verify("ALICE ", PASSWORD)
    assert ok.result is LoginResult.OK and ok.account.username == "alice"
    assert accounts.verify("alice", PASSWORD + "x").result is LoginResult.WRONG
    assert accounts.verify("alice", "").result is LoginResult.WRONG
    assert accounts.verify("alice", PASSWORD * 100).result is LoginResult.WRONG
    assert accounts.verify("nobody", PASSWORD).result is LoginResult.WRONG


def test_an_account_locks_after_the_limit_and_unlocks_after_the_lockout(
    accounts: StaffAccounts, clock: FakeClock
) -> None:
    accounts.add("alice", "Alice", PASSWORD)
    results = [accounts.verify("alice", "wrong password!").result for _ in range(MAX_FAILED_LOGINS)]
    assert results == [LoginResult.WRONG] * (MAX_FAILED_LOGINS - 1) + [LoginResult.LOCKED]
    assert accounts.verify("alice", PASSWORD).result is LoginResult.LOCKED, (
        "even the right password"
    )
    clock.advance(LOCKOUT_SECONDS - 1)
    assert accounts.verify("alice", PASSWORD).result is LoginResult.LOCKED
    clock.advance(2)
    assert accounts.verify("alice", PASSWORD).result is LoginResult.OK


def test_a_success_resets_the_count_of_failures(accounts: StaffAccounts) -> None:
    accounts.add("alice", "Alice", PASSWORD)
    for _ in range(MAX_FAILED_LOGINS - 1):
        accounts.verify("alice", "wrong password!")
    assert accounts.verify("alice", PASSWORD).result is LoginResult.OK
    assert accounts.verify("alice", "wrong password!").result is LoginResult.WRONG
    assert accounts.get("alice").failed_logins == 1


def test_a_hash_with_old_parameters_is_replaced_at_login(
    engine: sa.engine.Engine, clock: FakeClock
) -> None:
    StaffAccounts(engine, clock, CHEAP_HASHER).add("alice", "Alice", PASSWORD)
    stronger = StaffAccounts(
        engine, clock, PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    )
    old = stored_hash(stronger, "alice")
    assert stronger.verify("alice", PASSWORD).result is LoginResult.OK
    new = stored_hash(stronger, "alice")
    assert new != old and "m=2048,t=2,p=1" in new
    assert stronger.verify("alice", PASSWORD).result is LoginResult.OK


@pytest.mark.parametrize(
    ("username", "name", "password"),
    [
        ("alice", "Alice", "short"),
        ("alice", "Alice", "x" * 1025),
        ("a", "Alice", PASSWORD),
        ("al ice", "Alice", PASSWORD),
        ("<script>", "Alice", PASSWORD),
        ("alice", "", PASSWORD),
        ("alice", "\u200b\x00", PASSWORD),
        ("alice", "A" * 81, PASSWORD),
    ],
    ids=[
        "short-password",
        "huge-password",
        "short-name",
        "space",
        "markup",
        "no-display-name",
        "invisible-display-name",
        "long-display-name",
    ],
)
def test_bad_accounts_are_refused(
    accounts: StaffAccounts, username: str, name: str, password: str
) -> None:
    with pytest.raises(AccountError):
        accounts.add(username, name, password)
    assert not accounts.any_exist()


def test_usernames_are_unique(accounts: StaffAccounts) -> None:
    accounts.add("alice", "Alice", PASSWORD)
    with pytest.raises(AccountError, match="already"):
        accounts.add("Alice", "Another Alice", PASSWORD)


def test_the_address_limit_counts_failures_in_a_window() -> None:
    clock = FakeClock(0)
    limiter = IpLoginLimiter(max_failures=3, window_seconds=60, max_addresses=2, clock=clock)
    for _ in range(3):
        assert not limiter.blocked("10.0.0.1")
        limiter.record_failure("10.0.0.1")
    assert limiter.blocked("10.0.0.1") and not limiter.blocked("10.0.0.2")
    clock.advance(61)
    assert not limiter.blocked("10.0.0.1")
    for address in ("a", "b", "c"):
        limiter.record_failure(address)
    assert len(limiter._failures) == 2, "memory stays bounded"


# The command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_db(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRACKER_DB_PATH", str(db_path))
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    return db_path


def cli_accounts(db_path: Path) -> StaffAccounts:
    return StaffAccounts(engine_from_env({"TRACKER_DB_PATH": str(db_path)}))


def test_cli_adds_an_account_from_stdin(
    cli_db: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["staff", "add", "carol", "--name", "Carol Jones", "--password-stdin"]) == 0
    assert "Added carol (Carol Jones)" in capsys.readouterr().out
    accounts = cli_accounts(cli_db)
    assert accounts.verify("carol", PASSWORD).result is LoginResult.OK
    assert stored_hash(accounts, "carol").startswith("$argon2id$")
    assert main(["staff", "list"]) == 0
    assert "carol\tCarol Jones" in capsys.readouterr().out


def test_cli_refuses_a_short_password(
    cli_db: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("elevenchars\n"))
    assert main(["staff", "add", "carol", "--name", "Carol", "--password-stdin"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert not cli_accounts(cli_db).any_exist()


def test_cli_asks_twice_and_refuses_two_different_passwords(
    cli_db: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert main(["staff", "add", "carol", "--name", "Carol"]) == 2
    assert "differ" in capsys.readouterr().err
    answers = iter([PASSWORD] * 4)
    assert main(["staff", "add", "carol", "--name", "Carol"]) == 0
    assert main(["staff", "add", "carol", "--name", "Carol"]) == 1, "the name is taken"
    assert "already" in capsys.readouterr().err


def test_cli_list_says_when_the_inbox_is_off(cli_db: Path, capsys) -> None:
    assert main(["staff", "list"]) == 0
    assert "inbox is off" in capsys.readouterr().out


def test_python_dash_m_bot_staff_add(tmp_path: Path) -> None:
    """The real entry point, in its own process, as an administrator would run it."""
    env = {**os.environ, "TRACKER_DB_PATH": str(tmp_path / "tracker.db")}
    env.pop("TRACKER_STORE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "dave", "--name", "Dave", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert cli_accounts(tmp_path / "tracker.db").verify("dave", PASSWORD).result is LoginResult.OK
