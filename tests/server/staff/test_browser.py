"""The staff inbox in headless Chromium at phone width: what the HTTP tests cannot see.

A browser decides for itself which Origin and cookies a form post carries, whether the
Content-Security-Policy lets the page's script run, and how the page lays out; axe checks
accessibility. Skipped where Chromium is not installed (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from typing import Any, Iterator, List

import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.server.staff.guard import StaffStores
from bot.server.staff.store import engine_from_env
from tests.server.staff.conftest import CHEAP_HASHER, PASSWORD
from tests.server.staff.test_web import SCRIPT, FakeTranscripts, RecordingTakeover

PERSON = "+447700900555"


class ServedInbox:
    """The inbox on a free port, served by its own event loop in a thread (Playwright's sync
    API keeps this thread's loop busy)."""

    def __init__(
        self, stores: StaffStores, transcripts: FakeTranscripts, takeover: RecordingTakeover
    ) -> None:
        from bot.server.staff.web import StaffInboxChannel

        self.stores, self.transcripts, self.takeover = stores, transcripts, takeover
        channel = StaffInboxChannel(
            stores=stores, transcripts=transcripts, takeover=takeover, environ={}, poll_seconds=0.25
        )
        Sanic.test_mode = True  # see test_web.start_inbox
        self.app = Sanic(f"staff_browser_test_{uuid.uuid4().hex}")
        register([channel], self.app, "/webhooks/")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self._call(self._start())

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    async def _start(self) -> Any:
        server = await self.app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        return server

    async def _stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    def stop(self) -> None:
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInbox]:
    engine = engine_from_env(
        {"TRACKER_DB_PATH": str(tmp_path_factory.mktemp("inbox") / "tracker.db")}
    )
    stores = StaffStores.from_engine(engine, hasher=CHEAP_HASHER)
    stores.accounts.add("alice", "Dr Alice Smith", PASSWORD)
    inbox = ServedInbox(stores, FakeTranscripts(), RecordingTakeover())
    yield inbox
    inbox.stop()
    engine.dispose()


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:  # noqa: F811
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(10_000)  # a failure shows in seconds, not Playwright's 30
    page.problems: List[str] = []
    page.on(
        "console",
        lambda message: page.problems.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "dialog",
        lambda dialog: (page.problems.append("dialog: " + dialog.message), dialog.dismiss()),
    )
    yield page
    context.close()


def no_violations(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert [(v["id"], v["impact"]) for v in violations] == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "nothing scrolls sideways"


def test_a_professional_signs_in_claims_replies_and_sees_new_messages(
    served: ServedInbox, phone: Any
) -> None:
    handoff = served.stores.handoffs.open_handoff(PERSON, "twilio", "crisis", urgent=True)
    served.transcripts.say(PERSON, "user", f"I need someone {SCRIPT}", time.time() - 60)
    phone.goto(f"{served.url}/staff/conversations/{handoff.ref}")
    assert phone.url.endswith("/staff/login")
    no_violations(phone)
    phone.fill("#username", "alice")
    phone.fill("#password", PASSWORD)
    phone.click("button:has-text('Sign in')")
    # The browser's own Origin header and cookies pass the checks (see Referrer-Policy).
    phone.wait_for_url(f"{served.url}/staff")
    phone.click(f"a[href$='{handoff.ref}']")
    assert phone.inner_text(".msg-person .text") == f"I need someone {SCRIPT}", (
        "shown as text, not run"
    )
    phone.click("button:has-text('Claim and reply')")
    phone.wait_for_selector("#reply-text")
    no_violations(phone)
    phone.fill("#reply-text", "Hello, I'm Alice, a nurse. Are you safe right now?")
    phone.click("button:has-text('Send reply')")
    phone.wait_for_selector("text=Your reply was sent.")
    assert [text for _, _, text in served.takeover.calls if text] == [
        "Hello, I'm Alice, a nurse. Are you safe right now?"
    ]
    served.transcripts.say(PERSON, "user", "yes, I'm safe <b>now</b>", time.time())
    phone.wait_for_selector(
        "text=yes, I'm safe <b>now</b>", timeout=5000
    )  # the page's script polled
    assert phone.locator(".msg").count() == 3
    phone.click("button:has-text('Sign out')")
    phone.wait_for_url(f"{served.url}/staff/login")
    assert phone.problems == []
