"""Throwaway PostgreSQL and Redis servers on 127.0.0.1 for tests (Debian packages).

Without them the tests that need them are skipped on a developer's machine, but fail in
CI ($CI is "true"), where `make test` installs them: a CI run must not pass by skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, NoReturn, Optional

import pytest

from bot.server.processes import free_port


def missing(what: str) -> NoReturn:
    """Skips the test that needs `what` (a sentence saying what is missing), or fails it in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}, and CI must run every test (CI=true)", pytrace=False)
    pytest.skip(what)


def postgres_bin() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres_user(command: List[str]) -> List[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _wait_for_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory) -> Iterator[str]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL is not installed (scripts/install-system-deps.sh installs it)")
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix="tms-test-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "rasa", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres_user([
        str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log"),
        "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        "start",
    ]), check=True, capture_output=True)
    try:
        subprocess.run(_as_postgres_user([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "rasa", "rasa"]),
                       check=True, capture_output=True)
        yield f"postgresql://rasa@127.0.0.1:{port}/rasa"
    finally:
        subprocess.run(_as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        missing("redis-server is not installed (scripts/install-system-deps.sh installs it)")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/1"
    finally:
        process.terminate()
        process.wait(10)
