"""`python -m bot run`: the person starting it sees the assistant's own lines, not a wall of warnings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bot.server.processes import free_port
from tests.conftest import PROJECT_ROOT


def run_until_ready(extra_args, env, timeout=240.0):
    """Starts `python -m bot run`, reads its output until it says it is running, stops it."""
    rasa_port, action_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--port", str(rasa_port), "--action-port", str(action_port), *extra_args],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    lines = []
    deadline = time.monotonic() + timeout
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "rasa shell --model" in line or time.monotonic() > deadline:  # the last line it prints
                break
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    return lines + rest.splitlines(), process.returncode


@pytest.mark.slow
def test_run_shows_only_the_assistants_own_lines(trained_model, tmp_path):
    env = {**os.environ, "TMS_MODEL": str(trained_model), "TRACKER_DB_PATH": str(tmp_path / "tracker.db")}
    lines, code = run_until_ready([], env)
    text = "\n".join(lines)
    assert code == 0, text
    assert any("The TMS assistant is running on http://" in line for line in lines), text
    assert "/chat" in text and lines[-1] == "Stopping..."
    # Rasa's, TensorFlow's and Sanic's own output went to the log files instead.
    for noise in ("Warning", "WARNING", "DEBUG", "INFO", "tensorflow", "Sanic", "Traceback"):
        assert noise not in text, noise
    assert (PROJECT_ROOT / "var" / "log" / "rasa.log").stat().st_size > 0
