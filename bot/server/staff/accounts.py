"""Staff accounts: argon2id password hashes and the login rate limits.

Accounts are made on the command line only (`python -m bot staff add`); no web route makes
one. A login is slowed down twice over:
- per account, in the database (shared by every worker): MAX_FAILED_LOGINS wrong passwords
  in a row lock it for LOCKOUT_SECONDS;
- per client address, in memory (per process): IpLoginLimiter.
"""

from __future__ import annotations

import enum
import re
import time
import unicodedata
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Deque, List, Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from bot.server.channels.inbound import clean_text
from bot.server.staff.store import Clock, create_tables, staff_accounts

MIN_PASSWORD_LENGTH = 12
# Hashing a huge "password" costs memory and time for nothing: refuse it before hashing.
MAX_PASSWORD_LENGTH = 1024
MAX_DISPLAY_NAME_LENGTH = 80
MAX_FAILED_LOGINS = 5
LOCKOUT_SECONDS = 15 * 60
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """An account that cannot be made as asked; the message says why, for the person."""


class LoginResult(enum.Enum):
    OK = "ok"
    WRONG = "wrong"  # unknown user or wrong password: the same answer for both
    LOCKED = "locked"


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    created_at: float
    failed_logins: int
    locked_until: Optional[float]


@dataclass(frozen=True)
class LoginOutcome:
    result: LoginResult
    account: Optional[Account] = None


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username or "").strip().lower()


def check_username(username: str) -> str:
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            "A username has 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return username


def check_display_name(display_name: str) -> str:
    name = " ".join(clean_text(display_name or "").split())
    if not name or len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise AccountError(f"A display name has 1-{MAX_DISPLAY_NAME_LENGTH} characters.")
    return name


def check_password(password: str) -> str:
    # NFC, so the same password typed on two keyboards hashes the same way.
    password = unicodedata.normalize("NFC", password or "")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
    return password


def _account(row: sa.engine.Row) -> Account:
    return Account(
        row.username, row.display_name, row.created_at, row.failed_logins, row.locked_until
    )


class StaffAccounts:
    """The staff_accounts table. `hasher` defaults to argon2-cffi's recommended argon2id."""

    def __init__(
        self, engine: Engine, clock: Clock = time.time, hasher: Optional[PasswordHasher] = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: Optional[str] = None
        create_tables(engine)

    def add(self, username: str, display_name: str, password: str) -> Account:
        username = check_username(username)
        display_name = check_display_name(display_name)
        password_hash = self.hasher.hash(check_password(password))
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    staff_accounts.insert().values(
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        created_at=self.clock(),
                        failed_logins=0,
                        locked_until=None,
                    )
                )
        except sa.exc.IntegrityError:
            raise AccountError(f"There is already an account called {username!r}.") from None
        account = self.get(username)
        assert account is not None
        return account

    def any_exist(self) -> bool:
        with self.engine.connect() as connection:
            return (
                connection.execute(sa.select(staff_accounts.c.username).limit(1)).first()
                is not None
            )

    def get(self, username: str) -> Optional[Account]:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(staff_accounts).where(
                    staff_accounts.c.username == normalise_username(username)
                )
            ).first()
        return _account(row) if row is not None else None

    def list(self) -> List[Account]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(staff_accounts).order_by(staff_accounts.c.username))
            return [_account(row) for row in rows]

    def verify(self, username: str, password: str) -> LoginOutcome:
        """Checks a login. Slow on purpose (argon2): call it off the event loop."""
        username = normalise_username(username)
        password = unicodedata.normalize("NFC", password or "")[: MAX_PASSWORD_LENGTH + 1]
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(staff_accounts).where(staff_accounts.c.username == username)
            ).first()
        if row is None:
            # Same work as for a real account, so timing does not tell which names exist.
            self._verify_hash(self._dummy(), password)
            return LoginOutcome(LoginResult.WRONG)
        now = self.clock()
        if row.locked_until is not None and row.locked_until > now:
            return LoginOutcome(LoginResult.LOCKED)
        if not self._verify_hash(row.password_hash, password):
            return LoginOutcome(self._record_failure(username, now))
        values = {"failed_logins": 0, "locked_until": None}
        if self.hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = self.hasher.hash(password)  # stronger parameters since
        with self.engine.begin() as connection:
            connection.execute(
                staff_accounts.update()
                .where(staff_accounts.c.username == username)
                .values(**values)
            )
        return LoginOutcome(LoginResult.OK, self.get(username))

    def _record_failure(self, username: str, now: float) -> LoginResult:
        column = staff_accounts.c.failed_logins
        with self.engine.begin() as connection:
            # Incremented in SQL, so failures at the same time in two workers all count.
            connection.execute(
                staff_accounts.update()
                .where(staff_accounts.c.username == username)
                .values(failed_logins=column + 1)
            )
            failures = connection.execute(
                sa.select(column).where(staff_accounts.c.username == username)
            ).scalar_one()
            if failures < MAX_FAILED_LOGINS:
                return LoginResult.WRONG
            connection.execute(
                staff_accounts.update()
                .where(staff_accounts.c.username == username)
                .values(failed_logins=0, locked_until=now + LOCKOUT_SECONDS)
            )
        return LoginResult.LOCKED

    def _verify_hash(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not a real password, only for equal timing")
        return self._dummy_hash


class IpLoginLimiter:
    """Failed logins per client address in a sliding window, in this process's memory.

    Stops one address from trying many accounts (the per-account lock does not). Keeps at
    most `max_addresses` addresses, forgetting the least recently failed first.
    """

    def __init__(
        self,
        max_failures: int = 20,
        window_seconds: float = 15 * 60,
        max_addresses: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, Deque[float]] = OrderedDict()

    def blocked(self, address: str) -> bool:
        failures = self._failures.get(address)
        if failures is None:
            return False
        self._expire(failures)
        return len(failures) >= self.max_failures

    def record_failure(self, address: str) -> None:
        failures = self._failures.pop(address, None) or deque()
        self._expire(failures)
        failures.append(self.clock())
        self._failures[address] = failures
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)

    def _expire(self, failures: Deque[float]) -> None:
        cutoff = self.clock() - self.window_seconds
        while failures and failures[0] <= cutoff:
            failures.popleft()
