"""The test harness itself: no setting leaks in from the shell, and a missing Chromium,
PostgreSQL or Redis skips the tests that need it, except in CI, where it fails them."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Callable, Tuple

import pytest

from tests import browser, services
from tests.conftest import PROJECT_ROOT, assistant_settings
from tests.services import missing

SHELL_SETTINGS = {
    "TMS_SPEEDUPS": "0", "CLINIC_NAME": "Shell Clinic", "TELEGRAM_BOT_TOKEN": "1:x", "TWILIO_AUTH_TOKEN": "x",
    "RASA_ENABLE_API": "1", "WIDGET_ALLOWED_ORIGINS": "https://shell.example", "NOTIFY_WEBHOOK_URL": "https://hook.example",
    "STAFF_INBOX_URL": "https://shell.example/staff", "HANDOFF_EXPECTED_WAIT": "5 minutes", "RETENTION_DAYS": "1",
    "PRIVACY_SECRET": "x", "TRACKER_DB_PATH": "/nonexistent/tracker.db", "REDIS_URL": "redis://shell.example",
}


def test_the_assistants_settings_are_recognised_by_prefix():
    environ = {**SHELL_SETTINGS, "PATH": "/usr/bin", "HOME": "/root", "CI": "true", "SANIC_WORKERS": "2", "TMS": "x"}
    assert assistant_settings(environ) == sorted(SHELL_SETTINGS)


def test_no_setting_reaches_a_test():
    assert assistant_settings(os.environ) == []


def test_settings_in_the_shell_do_not_reach_the_tests():
    """Runs the test above in a pytest whose shell has every kind of setting."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::test_no_setting_reaches_a_test"],
        cwd=PROJECT_ROOT, env={**os.environ, **SHELL_SETTINGS}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout

WHAT = "PostgreSQL is not installed (scripts/install-system-deps.sh installs it)"
IN_CI = f"{WHAT}, and CI must run every test (CI=true)"


def outcome(call: Callable[[], object]) -> Tuple[str, str]:
    """("skip" or "fail", message) for what `call` did: caught here, so that a skip where a
    failure is expected fails this test instead of skipping it."""
    try:
        call()
    except pytest.skip.Exception as skipped:
        return "skip", str(skipped)
    except pytest.fail.Exception as failed:
        return "fail", str(failed)
    return "returned", ""


def test_on_a_developers_machine_a_missing_service_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert outcome(lambda: missing(WHAT)) == ("skip", WHAT)


@pytest.mark.parametrize("value", ["false", "0", "", "TRUE "])
def test_ci_other_than_true_still_skips(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert outcome(lambda: missing(WHAT)) == ("skip", WHAT)


def test_in_ci_a_missing_service_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert outcome(lambda: missing(WHAT)) == ("fail", IN_CI)


def test_the_chromium_fixture_fails_in_ci_without_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    fixture = browser.chromium.__wrapped__()  # the generator behind the fixture
    assert outcome(lambda: next(fixture)) == (
        "fail", "Chromium is not installed (scripts/install-system-deps.sh installs it), and CI must run every test (CI=true)"
    )


def test_the_redis_fixture_skips_without_redis_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(services.shutil, "which", lambda name: None)
    fixture = services.redis_url.__wrapped__(tmp_path_factory)
    assert outcome(lambda: next(fixture)) == ("skip", "redis-server is not installed (scripts/install-system-deps.sh installs it)")


def test_the_redis_fixture_fails_in_ci_without_redis(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(services.shutil, "which", lambda name: None)
    fixture = services.redis_url.__wrapped__(tmp_path_factory)
    assert outcome(lambda: next(fixture))[0] == "fail"


def test_the_postgres_fixture_fails_in_ci_without_postgres(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(services, "postgres_bin", lambda: None)
    fixture = services.postgres_url.__wrapped__(tmp_path_factory)
    assert outcome(lambda: next(fixture)) == ("fail", IN_CI)
