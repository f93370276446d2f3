"""Starts the action server and the Rasa server as child processes.

Used by `python -m bot run` (the README's run command) and by the end-to-end tests,
so both run the assistant exactly the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

from bot.server.training import PROJECT_ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class AssistantServers:
    """An action server plus a Rasa server on loopback, started and stopped together."""

    model: Path
    rasa_port: int = 5005
    action_port: int = 5055
    host: str = "127.0.0.1"
    env: Dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    processes: List[subprocess.Popen] = field(default_factory=list)
    # The log files the processes write to: this process's copies are closed by stop().
    log_files: List[Any] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}"

    def environment(self) -> Dict[str, str]:
        env = {**os.environ, **self.env}
        env.setdefault("ACTION_ENDPOINT_URL", f"{self.action_url}/webhook")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # Sanic's own cap on any request body; the REST channel caps messages at 16 KB.
        env.setdefault("SANIC_REQUEST_MAX_SIZE", str(64 * 1024))
        return env

    def api_args(self) -> List[str]:
        """Rasa's HTTP API stays off unless RASA_ENABLE_API=1, and then needs a token."""
        env = self.environment()
        if env.get("RASA_ENABLE_API") != "1":
            return []
        token = env.get("RASA_AUTH_TOKEN", "")
        jwt_secret = env.get("RASA_JWT_SECRET", "")
        if jwt_secret:
            return ["--enable-api", "--jwt-secret", jwt_secret, "--jwt-method", env.get("RASA_JWT_METHOD", "HS256")]
        if len(token) < 16:
            raise RuntimeError("RASA_ENABLE_API=1 needs RASA_AUTH_TOKEN (16+ characters) or RASA_JWT_SECRET")
        return ["--enable-api", "--auth-token", token]

    def _output(self, name: str):
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        output = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed by stop()
        self.log_files.append(output)
        return output

    def _popen(self, command: List[str], env: Dict[str, str], name: str) -> subprocess.Popen:
        """Starts `command` with its output appended to log_dir/<name>.log (if log_dir is set)."""
        output = self._output(name)
        try:
            return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        finally:
            if output is not None:
                output.close()  # the child has its own copy; keeping ours open leaks one per start

    def start_action_server(self, timeout: float = 60) -> subprocess.Popen:
        env = self.environment()
        env.setdefault("SANIC_HOST", self.host)
        # Rasa posts the whole conversation to the action server on every call, so a long
        # conversation outgrows the 64 KB cap meant for public requests (it answered 413
        # and every referral fell back to the domain). It listens on loopback only.
        env["SANIC_REQUEST_MAX_SIZE"] = self.env.get("ACTION_SERVER_MAX_REQUEST_BYTES", str(16 * 1024 * 1024))
        process = self._popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.action_port)], env, "actions"
        )
        self.processes.append(process)
        wait_until_healthy(f"{self.action_url}/health", timeout, process)
        return process

    def start_rasa_server(self, timeout: float = 180, extra_args: List[str] | None = None) -> subprocess.Popen:
        # bot.server.rasa_server sets --cors from $WIDGET_ALLOWED_ORIGINS (default: this server's origin).
        process = self._popen(
            [
                sys.executable, "-m", "bot.server.rasa_server", "run",
                "--model", str(self.model),
                "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
                "--interface", self.host, "--port", str(self.rasa_port),
                *self.api_args(),
                *(extra_args or []),
            ],
            self.environment(), "rasa",
        )
        self.processes.append(process)
        wait_until_healthy(self.rasa_url, timeout, process)
        return process

    def start(self) -> AssistantServers:
        self.start_action_server()
        self.start_rasa_server()
        return self

    @staticmethod
    def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for process in reversed(self.processes):
            self.stop_process(process)
        self.processes.clear()
        for output in self.log_files:
            output.close()
        self.log_files.clear()
