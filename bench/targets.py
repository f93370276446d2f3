"""The two assistants under test: how each is trained, started, probed and stopped.

- Ours: the project as `python -m bot run` runs it (bot.server.processes.AssistantServers: our
  action server plus `python -m bot.server.rasa_server`, SQLite tracker store in a temp file).
- Stock: `rasa init --no-prompt` (the moodbot, Rasa's default pipeline and policies) in a
  temporary folder, served by `rasa run` with its own credentials.yml (REST channel on)
  and its defaults: in-memory tracker and lock stores, no action server (it has no
  custom actions).

With --workers N (N > 1) ours runs N Sanic worker processes in its Rasa server, with a
throwaway local redis-server as the lock store they share (counted in its memory and CPU).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List

from bench import procinfo
from bot.server.processes import AssistantServers, free_port
from bot.server.training import PROJECT_ROOT

# Both sides: no usage telemetry over the network during a measurement.
COMMON_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def post_json(url: str, payload: Dict, timeout: float = 30) -> List[Dict] | None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status == 200:
                return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, OSError, ValueError):
        pass
    return None


def timed_subprocess(command: List[str], cwd: Path, env: Dict[str, str], log: Path) -> float:
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("wb") as output:
        subprocess.run(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - started


class Target:
    """One assistant: start() returns the cold start time, then it answers on base_url."""

    name = ""  # as reported: "ours", "ours_w2" (2 Sanic workers), "stock"
    kind = ""  # which messages it gets: "ours" or "stock"
    probe_text = "hello"

    def __init__(self, model: Path, log_dir: Path, env: Dict[str, str] | None = None) -> None:
        self.model = model
        self.log_dir = log_dir
        self.extra_env = dict(env or {})
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def root_pids(self) -> List[int]:
        raise NotImplementedError

    def rasa_pids(self) -> List[int]:
        """The Rasa server process (with its Sanic workers), without helpers such as an
        action server or Redis: what issue 15's memory target compares."""
        return self.root_pids()

    def usage(self) -> procinfo.TreeUsage:
        return procinfo.usage(self.root_pids())

    def answer_edit_seconds(self) -> float | None:
        """Seconds from editing an answer to serving it while running; None if it cannot
        (stock must retrain and restart: measured apart, Stock.retrain_after_answer_edit)."""
        return None

    def launch(self) -> None:
        raise NotImplementedError

    def ready_for_probe(self) -> bool:
        return True

    def start(self, timeout: float = 300) -> float:
        """Starts the processes; seconds from the first process start to the first answer."""
        self.port = free_port()
        started = time.monotonic()
        self.launch()
        url = f"{self.base_url}/webhooks/rest/webhook"
        deadline = started + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.ready_for_probe():
                reply = post_json(url, {"sender": f"bench-cold-{self.name}", "message": self.probe_text})
                if reply:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_dir}")

    def check_alive(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


def start_redis(port: int, log: Path) -> subprocess.Popen:
    """A throwaway Redis on loopback (no persistence), for the lock store of several workers."""
    redis = shutil.which("redis-server")
    if not redis:
        raise RuntimeError("--workers > 1 needs redis-server (apt-get install redis-server)")
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


class Ours(Target):
    kind = "ours"
    probe_text = "what is TMS"  # an FAQ answer: NLU, rules and the action server's referral

    def __init__(
        self, model: Path, log_dir: Path, env: Dict[str, str] | None = None, workers: int = 1
    ) -> None:
        super().__init__(model, log_dir, env)
        self.workers = workers
        self.name = "ours" if workers == 1 else f"ours_w{workers}"
        self.redis: subprocess.Popen | None = None
        self._state_dir = Path(tempfile.mkdtemp(prefix="bench-ours-"))
        self.servers: AssistantServers | None = None
        self._action_ready = threading.Event()
        self._errors: List[BaseException] = []

    def launch(self) -> None:
        # Answers are read from a copy, so that the edit benchmark leaves the project alone.
        self._content_dir = self._state_dir / "content"
        shutil.copytree(PROJECT_ROOT / "data" / "responses", self._content_dir / "data" / "responses",
                        dirs_exist_ok=True)
        shutil.copy2(PROJECT_ROOT / "domain.yml", self._content_dir / "domain.yml")
        env = {
            **COMMON_ENV,
            "TRACKER_DB_PATH": str(self._state_dir / "tracker.db"),
            "TMS_CONTENT_DIR": str(self._content_dir),
            **self.extra_env,
        }
        if self.workers > 1:
            # Rasa runs several Sanic workers only with a lock store they share.
            redis_port = free_port()
            self.redis = start_redis(redis_port, self.log_dir / "redis.log")
            env.update({"SANIC_WORKERS": str(self.workers), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1"})
        self.servers = AssistantServers(
            model=self.model, rasa_port=self.port, action_port=free_port(), env=env,
            log_dir=self.log_dir / self.name,
        )
        self._action_ready.clear()

        def start_actions() -> None:
            try:
                self.servers.start_action_server()
                self._action_ready.set()
            except BaseException as error:  # noqa: BLE001 - reported by check_alive
                self._errors.append(error)

        def start_rasa() -> None:
            try:
                self.servers.start_rasa_server(timeout=600)
            except BaseException as error:  # noqa: BLE001
                self._errors.append(error)

        # Both start at once, as separate services would in a deployment.
        for function in (start_actions, start_rasa):
            threading.Thread(target=function, daemon=True).start()

    def ready_for_probe(self) -> bool:
        # Before the action server is up, Rasa would answer from its offline fallback.
        return self._action_ready.is_set()

    def check_alive(self) -> None:
        if self._errors:
            raise RuntimeError(f"ours did not start: {self._errors[0]}; see {self.log_dir}")

    def root_pids(self) -> List[int]:
        pids = [p.pid for p in self.servers.processes] if self.servers else []
        return pids + ([self.redis.pid] if self.redis else [])

    def rasa_pids(self) -> List[int]:
        return [pid for pid in self.root_pids() if "bot.server.rasa_server" in procinfo.command_line(pid)]

    def answer_edit_seconds(self, timeout: float = 60) -> float:
        """Edits the text of one answer in this instance's content folder (a copy of the
        project's) and returns the seconds until the running assistant serves the new
        text: no training, no restart (bot/content.py)."""
        path = self._content_dir / "data" / "responses" / "faq.yml"
        marker = f"(edited {time.time_ns()})"
        text = path.read_text(encoding="utf-8")
        anchor = "  utter_faq/what_is_tms:\n  - text: \""
        if anchor not in text:
            raise RuntimeError(f"cannot find the answer to edit in {path}")
        started = time.monotonic()
        path.write_text(text.replace(anchor, anchor + marker + " ", 1), encoding="utf-8")
        url = f"{self.base_url}/webhooks/rest/webhook"
        while time.monotonic() - started < timeout:
            reply = post_json(url, {"sender": f"bench-edit-{time.time_ns()}", "message": self.probe_text}) or []
            if any(marker in (m.get("text") or "") for m in reply):
                return time.monotonic() - started
            time.sleep(0.2)
        raise TimeoutError(f"the edited answer was not served within {timeout:.0f} s")

    def stop(self) -> None:
        if self.servers:
            # Give the start threads time to register both processes.
            deadline = time.monotonic() + 30
            while len(self.servers.processes) < 2 and not self._errors and time.monotonic() < deadline:
                time.sleep(0.1)
            self.servers.stop()
        if self.redis is not None:
            AssistantServers.stop_process(self.redis)
        shutil.rmtree(self._state_dir, ignore_errors=True)

    @staticmethod
    def train(out_dir: Path, log: Path) -> Path:
        """Trains our model from scratch into out_dir (no Rasa training cache); returns it."""
        env = {**os.environ, **COMMON_ENV, "RASA_CACHE_DIRECTORY": str(out_dir / "cache")}
        seconds = timed_subprocess(
            [
                sys.executable, "-m", "rasa", "train", "--force",
                "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
                "--out", str(out_dir), "--fixed-model-name", "tms-bench",
            ],
            cwd=PROJECT_ROOT, env=env, log=log,
        )
        model = out_dir / "tms-bench.tar.gz"
        (out_dir / "training.json").write_text(json.dumps({"seconds": seconds}))
        return model


class Stock(Target):
    name = kind = "stock"
    probe_text = "hello"

    def __init__(self, project: Path, log_dir: Path, env: Dict[str, str] | None = None) -> None:
        super().__init__(stock_model(project), log_dir, env)
        self.project = project
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "rasa", "run",
                "--model", str(self.model),
                "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
                "--interface", "127.0.0.1", "--port", str(self.port),
            ],
            cwd=self.project,
            env={**os.environ, **COMMON_ENV, **self.extra_env},
            stdout=(self.log_dir / "stock-rasa.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"stock exited with code {self.process.returncode}; see {self.log_dir}")

    def root_pids(self) -> List[int]:
        return [self.process.pid] if self.process else []

    def stop(self) -> None:
        if self.process is not None:
            AssistantServers.stop_process(self.process)

    @staticmethod
    def create(project: Path, log: Path) -> float:
        """`rasa init --no-prompt` into project (which it trains); returns its seconds."""
        project.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **COMMON_ENV, "RASA_CACHE_DIRECTORY": str(project / ".rasa" / "cache")}
        seconds = timed_subprocess(
            [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(project)],
            cwd=project, env=env, log=log,
        )
        (project / "bench-training.json").write_text(json.dumps({"seconds": seconds}))
        return seconds


    @staticmethod
    def retrain_after_answer_edit(project: Path, work: Path, log: Path) -> float:
        """What a stock bot needs before an edited answer can be served: `rasa train` after
        one word of a response changes (in a copy of the project, with its training cache,
        as a developer would run it). Returns its seconds; a restart comes on top."""
        copy = work / "stock-edit"
        shutil.copytree(project, copy, dirs_exist_ok=True)
        domain = copy / "domain.yml"
        domain.write_text(domain.read_text(encoding="utf-8").replace("Hey! How are you?", "Hi! How are you?", 1),
                          encoding="utf-8")
        env = {**os.environ, **COMMON_ENV, "RASA_CACHE_DIRECTORY": str(copy / ".rasa" / "cache")}
        return timed_subprocess([sys.executable, "-m", "rasa", "train"], cwd=copy, env=env, log=log)


def stock_model(project: Path) -> Path:
    models = sorted((project / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise FileNotFoundError(f"no trained model in {project / 'models'}")
    return models[-1]


def stock_training_seconds(project: Path) -> float | None:
    try:
        return float(json.loads((project / "bench-training.json").read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return None

