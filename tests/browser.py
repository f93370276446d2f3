"""Headless Chromium for the browser tests (Debian's `chromium`, driven by Playwright): import the fixture.

Playwright's own browser download is never used: `scripts/install-system-deps.sh`
installs the distribution's package and the tests launch it by path ($CHROMIUM_PATH to
use another one). Without it the browser tests are skipped, as the script says, except in
CI ($CI is "true"), where they fail (tests/services.py, `missing`).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Iterator

import pytest

from tests.services import missing


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium browser for one test module.

    Module scope on purpose: Playwright's sync API keeps an asyncio loop running in this
    thread while it is open, which would break async tests in later modules.
    """
    path = chromium_path()
    if path is None:
        missing("Chromium is not installed (scripts/install-system-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


def wait_for(page: Any, expression: str, timeout: float = 60, arg: Any = None) -> Any:
    """Polls a JavaScript expression until it is truthy and returns its value.

    The demo page's Content-Security-Policy forbids eval, which Playwright's
    wait_for_function needs; page.evaluate goes through DevTools and is not affected.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout:.0f} s: {expression}")
        page.wait_for_timeout(100)
