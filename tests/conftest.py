"""Shared fixtures: the real domain, a tracker builder, a dispatcher, the trained model."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

PROJECT_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The assistant's settings (README, "Operations"): a developer's shell must not change what
# a test sees. Every test starts without them and sets what it needs itself.
# $TMS_MODEL (a model file to test, bot/server/training.py) chooses what is tested rather
# than how it behaves: it is read here, before it is cleared, by the trained_model fixture.
MODEL_OVERRIDE = os.environ.get("TMS_MODEL")
SETTING_PREFIXES = (
    "TMS_", "CLINIC_", "TELEGRAM_", "TWILIO_", "RASA_", "WIDGET_", "NOTIFY_", "STAFF_",
    "HANDOFF_", "RETENTION_", "PRIVACY_", "TRACKER_", "REDIS_",
)


def assistant_settings(environ: Mapping[str, str]) -> List[str]:
    """The names in `environ` that configure the assistant."""
    return sorted(name for name in environ if name.startswith(SETTING_PREFIXES))


@pytest.fixture(scope="session", autouse=True)
def _no_assistant_settings_for_the_session() -> Iterator[None]:
    """Also for session- and module-scoped fixtures (the servers inherit this environment)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in assistant_settings(os.environ):
            patch.delenv(name)
        yield


@pytest.fixture(autouse=True)
def no_assistant_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with none of the assistant's settings in the environment."""
    for name in assistant_settings(os.environ):
        monkeypatch.delenv(name)


def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """The condition's first truthy value, or its last value once `timeout` seconds have
    passed (for what servers do in the background after they have answered)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def load_yaml(path: Path) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        return yaml.safe_load(file) or {}


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """domain.yml merged with the FAQ responses in data/responses, as Rasa sends it to actions."""
    merged = load_yaml(PROJECT_ROOT / "domain.yml")
    for path in sorted((PROJECT_ROOT / "data" / "responses").glob("*.yml")):
        merged.setdefault("responses", {}).update(load_yaml(path).get("responses", {}))
    return merged


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


TrackerBuilder = Callable[..., Tracker]


@pytest.fixture
def tracker_builder() -> TrackerBuilder:
    def build(
        slots: Optional[Dict[str, Any]] = None,
        latest_message: Optional[Dict[str, Any]] = None,
        events: Optional[List[Dict[str, Any]]] = None,
        sender_id: str = "test-user",
    ) -> Tracker:
        return Tracker(
            sender_id=sender_id,
            slots={"crisis_flagged": False, "referral_count": 0.0, "handoff_requested": False, **(slots or {})},
            latest_message=latest_message or {"text": "hello", "intent": {"name": "greet"}},
            events=events or [],
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )

    return build


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model for the current config and data (trained once, cached by content hash),
    or the one $TMS_MODEL named when the tests started."""
    from bot.server.training import ensure_model

    return Path(MODEL_OVERRIDE) if MODEL_OVERRIDE else ensure_model(quiet=True)


# --- How long the whole suite took (bench/run.py shows it beside the other figures) -------
SUITE_TIME = Path(__file__).resolve().parent.parent / "test-artifacts" / "suite-time.json"


_started_key = pytest.StashKey[float]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_started_key] = time.monotonic()


def _whole_suite(config: pytest.Config) -> bool:
    """No file, -k or -m selection: the run `make test` does."""
    whole = {Path(config.rootpath).resolve(), *(Path(config.rootpath, p).resolve() for p in config.getini("testpaths"))}
    chosen = [arg for arg in config.args if Path(arg).resolve() not in whole]
    return not chosen and not config.getoption("keyword") and not config.getoption("markexpr")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or not _whole_suite(session.config):
        return  # an xdist worker, or part of the suite
    started = session.config.stash.get(_started_key, None)
    if started is None:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    counts = {key: len(reporter.stats.get(key, [])) for key in ("passed", "failed", "error", "skipped")} if reporter else {}
    SUITE_TIME.parent.mkdir(parents=True, exist_ok=True)
    SUITE_TIME.write_text(json.dumps({
        "seconds": round(time.monotonic() - started, 1),
        "exit_status": int(exitstatus),
        "workers": getattr(session.config.option, "numprocesses", None),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **counts,
    }, default=str) + "\n")
