"""`python -m bot staff add <username> --name "Display Name"` and `python -m bot staff list`.

The only way to make a staff account: the inbox has no sign-up page. The account goes into
the tracker store's database ($TRACKER_STORE_URL, or SQLite at $TRACKER_DB_PATH), the one
the Rasa server reads, so run this with the server's environment.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from typing import Callable, Mapping, Optional, TextIO

from bot.server.staff.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    StaffAccounts,
    check_password,
)
from bot.server.staff.store import engine_from_env


def add_parser(commands: argparse._SubParsersAction) -> None:
    staff = commands.add_parser("staff", help="manage staff inbox accounts")
    actions = staff.add_subparsers(dest="staff_command", required=True)
    add = actions.add_parser("add", help="add a staff account (asks for its password)")
    add.add_argument("username", help="2-64 lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--name", required=True, help="the name people and colleagues see")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )
    actions.add_parser("list", help="list staff accounts")


def run(
    args: argparse.Namespace,
    environ: Mapping[str, str] = os.environ,
    stdin: Optional[TextIO] = None,
    ask: Optional[Callable[[str], str]] = None,
) -> int:
    accounts = StaffAccounts(engine_from_env(environ))
    if args.staff_command == "list":
        return list_accounts(accounts)
    password = read_password(args.password_stdin, stdin or sys.stdin, ask or getpass.getpass)
    if password is None:
        return 2
    try:
        account = accounts.add(args.username, args.name, password)
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Added {account.username} ({account.display_name}). The staff inbox is at /staff.")
    return 0


def read_password(from_stdin: bool, stdin: TextIO, ask: Callable[[str], str]) -> Optional[str]:
    """The new password, checked; None (after saying why) if it will not do."""
    if from_stdin:
        password = stdin.readline().rstrip("\r\n")
    else:
        password = ask(f"Password (at least {MIN_PASSWORD_LENGTH} characters): ")
        if ask("The same password again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return None
    try:
        check_password(password)
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    return password


def list_accounts(accounts: StaffAccounts) -> int:
    listed = accounts.list()
    if not listed:
        print("No staff accounts: the staff inbox is off. Add one with: python -m bot staff add")
        return 0
    now = time.time()
    for account in listed:
        created = time.strftime("%Y-%m-%d", time.gmtime(account.created_at))
        locked = " (locked)" if account.locked_until and account.locked_until > now else ""
        print(f"{account.username}\t{account.display_name}\tsince {created}{locked}")
    return 0
