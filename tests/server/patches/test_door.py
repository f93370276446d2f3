"""bot/server/patches: one door, which installs every patch or, on other versions, none."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import urllib.request

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event

from bot.server import patches
from bot.server.patches.speedups import SPEEDUPS
from tests.conftest import PROJECT_ROOT, load_yaml

PATCHED = [
    (MessageProcessor, "_should_handle_message"),
    (MessageProcessor, "handle_message"),
    (RemoteAction, "_validate_action_result"),
    (Event, "resolve_by_type"),
    (DaskGraphRunner, "run"),
    (Domain, "states_for_tracker_history"),
]


def rasas_own_everywhere() -> bool:
    return all(vars(owner)[name] is patches.original(owner, name) for owner, name in PATCHED)


@pytest.fixture(autouse=True)
def clean_rasa():
    patches.uninstall_all()
    assert rasas_own_everywhere()
    yield
    patches.uninstall_all()


def pretend(monkeypatch, **versions):
    real = patches.installed_version
    monkeypatch.setattr(patches, "installed_version", lambda name: versions.get(name, real(name)))


def test_the_versions_written_for_are_the_locked_ones():
    # Upgrading a pin in requirements.lock fails here first: recheck the patches, then update.
    locked = dict(
        line.split("==", 1) for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    locked = {name.lower(): version.split(";")[0].strip() for name, version in locked.items()}
    for distribution, version in patches.WRITTEN_FOR.items():
        assert locked[distribution.lower()] == version, distribution


def test_with_the_versions_written_for_everything_is_installed():
    installed = patches.install({})
    assert installed.active is True
    assert installed.names == ["crisis_during_takeover", "retry_check", *SPEEDUPS]
    assert all(vars(owner)[name] is not patches.original(owner, name) for owner, name in PATCHED)
    assert patches.install({}) is installed  # once per process


def test_tms_speedups_0_keeps_the_features_only():
    installed = patches.install({"TMS_SPEEDUPS": "0"})
    assert installed.names == ["crisis_during_takeover", "retry_check"]
    assert all(vars(owner)[name] is not patches.original(owner, name) for owner, name in PATCHED[:2])
    assert all(vars(owner)[name] is patches.original(owner, name) for owner, name in PATCHED[2:])


@pytest.mark.parametrize("package", sorted(patches.WRITTEN_FOR))
def test_another_version_of_any_patched_package_leaves_rasa_unpatched(package, monkeypatch, caplog):
    pretend(monkeypatch, **{package: "99.0.0"})
    with caplog.at_level(logging.WARNING, logger="bot.server.patches"):
        installed = patches.install({})
    assert installed.active is False and installed.names == []
    assert rasas_own_everywhere()
    [record] = [r for r in caplog.records if r.name == "bot.server.patches"]
    expected = f"{package} 99.0.0 (written for {patches.WRITTEN_FOR[package]})"
    assert record.levelno == logging.WARNING and expected in record.getMessage()
    assert record.getMessage().startswith("Rasa runs unpatched")


def test_the_tracker_store_uses_rasas_own_code_on_another_version(monkeypatch, tmp_path):
    from bot.server.stores import EnvironmentTrackerStore

    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))
    assert EnvironmentTrackerStore()._use_core is True
    pretend(monkeypatch, SQLAlchemy="2.0.0")
    assert EnvironmentTrackerStore()._use_core is False


def test_the_action_fallback_waits_as_long_as_the_readme_says():
    import inspect

    from bot.server.resilience import install_remote_action_fallback

    default = inspect.signature(install_remote_action_fallback).parameters["timeout_seconds"].default
    readme = (PROJECT_ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `ACTION_TIMEOUT_SECONDS`"))
    assert f"| {default:g} |" in row.replace(" s |", " |")


# The server started as `python -m bot.server.rasa_server`, with the one change that the
# patches believe they were written for another Rasa.
ANOTHER_RASA = (
    "import sys\n"
    "from bot.server import patches\n"
    "patches.WRITTEN_FOR['rasa'] = '3.5.0'\n"
    "from bot.server.rasa_server import main\n"
    "main()\n"
)


@pytest.mark.slow
def test_on_another_rasa_the_server_starts_unpatched_and_answers(trained_model, tmp_path):
    from bot.server.processes import AssistantServers, free_port, wait_until_healthy

    # No action server: the answer's referral then comes from the fallback, which stays on.
    servers = AssistantServers(model=trained_model, rasa_port=free_port(), action_port=free_port(),
                               env={"TRACKER_DB_PATH": str(tmp_path / "tracker.db")})
    log = tmp_path / "rasa.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", ANOTHER_RASA, "run", "--model", str(trained_model),
             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
             "--interface", servers.host, "--port", str(servers.rasa_port)],
            cwd=PROJECT_ROOT, env=servers.environment(), stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(servers.rasa_url, 180, process)
        request = urllib.request.Request(
            f"{servers.rasa_url}/webhooks/rest/webhook",
            data=json.dumps({"sender": "unpatched", "message": "how long is a TMS session?"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            replies = [message["text"] for message in json.loads(response.read())]
    finally:
        servers.stop_process(process)
    domain = load_yaml(PROJECT_ROOT / "domain.yml")["responses"]
    answers = load_yaml(PROJECT_ROOT / "data" / "responses" / "faq.yml")["responses"]
    assert replies == [answers["utter_faq/session_length"][0]["text"], domain["utter_referral_offline"][0]["text"]]
    lines = log.read_text(errors="replace").splitlines()
    unpatched = [line for line in lines if "Rasa runs unpatched" in line]
    assert len(unpatched) == 1 and re.search(r"rasa 3\.6\.21 \(written for 3\.5\.0\)", unpatched[0])
