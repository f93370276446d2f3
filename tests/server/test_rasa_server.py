"""Timeouts the Rasa server starts with (bot/server/rasa_server.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.server.rasa_server import crash_safe_timeouts
from tests.conftest import PROJECT_ROOT


@pytest.mark.parametrize(
    ("given", "lock", "response"),
    [
        ({}, "20", "45"),  # action timeout 10 s: lock 20 s, response 20 + 10 + 15
        ({"ACTION_TIMEOUT_SECONDS": "5"}, "15", "35"),
        ({"ACTION_TIMEOUT_SECONDS": "", "TICKET_LOCK_LIFETIME": "30"}, "30", "55"),
        ({"SANIC_RESPONSE_TIMEOUT": "90"}, "20", "90"),  # an operator's own choice is kept
    ],
)
def test_the_lock_outlives_a_turn_and_a_response_outlives_the_lock(given, lock, response):
    environ = dict(given)
    crash_safe_timeouts(environ)
    assert (environ["TICKET_LOCK_LIFETIME"], environ["SANIC_RESPONSE_TIMEOUT"]) == (lock, response)


def test_rasa_reads_the_lock_lifetime_that_was_set_before_it_was_imported():
    # Rasa reads TICKET_LOCK_LIFETIME once, when rasa.core.lock_store is imported: the server
    # module must set it before anything imports Rasa.
    code = (
        "import os, sys\n"
        "import bot.server.rasa_server as server\n"
        "assert 'rasa.core.lock_store' not in sys.modules, 'Rasa was imported before the timeouts were set'\n"
        "server.crash_safe_timeouts(os.environ)\n"
        "from rasa.core import lock_store\n"
        "print(lock_store.LOCK_LIFETIME)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("TICKET_LOCK_LIFETIME", "ACTION_TIMEOUT_SECONDS")}
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=environ, capture_output=True,
                            text=True, check=True, timeout=120)
    assert result.stdout.strip() == "20"


def test_matrix_products_use_one_thread_unless_told_otherwise():
    from bot.server.rasa_server import one_blas_thread

    environ = {}
    one_blas_thread(environ)
    assert environ == {"OPENBLAS_NUM_THREADS": "1"}
    chosen = {"OPENBLAS_NUM_THREADS": "2"}
    one_blas_thread(chosen)
    assert chosen == {"OPENBLAS_NUM_THREADS": "2"}
