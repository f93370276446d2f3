"""The widget's privacy controls in headless Chromium, against a real server without a model.

A Sanic app in a thread serves the demo page and the widget (the real WidgetChannel), the
person's API (the real PrivacyChannel) on a real SQLite tracker store, and a stand-in for
Rasa's REST webhook that answers from a script and stores each turn in that tracker store
as Rasa would (user and bot events, `metadata.utter_action`). So what the tests check in
the database is what the widget really did: rated, downloaded, cleared.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import pytest
from rasa.core.channels.channel import register
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Sanic, response
from sanic.request import Request

from bot.server.channels.widget import WidgetChannel
from bot.server.privacy.limiter import RateLimiter
from bot.server.privacy.tokens import token_for
from bot.server.privacy.transcript import export_conversation
from bot.server.privacy.web import PrivacyChannel
from tests.browser import wait_for
from tests.server.privacy.conftest import Stores, make_stores

SECRET = b"w" * 32
READY = "window.TMSWidget && window.TMSWidget.ready === true"
GREETING = "Hi! I answer general questions about TMS, not medical advice."
QUESTION = "How long is a session?"
ANSWER = "Each TMS session usually lasts about 20 to 40 minutes."
REFERRAL = "Please talk with your doctor about what's right for you."
CRISIS_REPLY = "Please reach out to someone right now. You don't have to face this alone."
SCRIPT: Dict[str, Sequence[Tuple[str, str, Sequence[str]]]] = {
    "/greet": [("utter_greet", GREETING, ["What is TMS?"])],
    QUESTION: [("utter_faq/session_length", ANSWER, []), ("utter_referral_short", REFERRAL, [])],
    "I can't go on": [("utter_crisis", CRISIS_REPLY, [])],
}


class ServedAssistant:
    """The widget, the privacy API and a scripted REST webhook on a free port, served by their
    own event loop in a thread (Playwright's sync API keeps this thread's loop busy)."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        Sanic.test_mode = True  # see tests/server/staff/test_web.py
        self.app = Sanic(f"privacy_widget_test_{uuid.uuid4().hex}")
        privacy = PrivacyChannel(
            eraser=stores.eraser, secret=SECRET, limiter=RateLimiter(limit=10_000), environ={}
        )
        register([WidgetChannel(), privacy], self.app, "/webhooks/")
        self.app.blueprint(self.rest())
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self._call(self._start())

    def rest(self) -> Blueprint:
        store = self.stores.tracker_store
        rest = Blueprint("scripted_rest", url_prefix="/webhooks/rest")

        @rest.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> Any:
            sender, message = request.json["sender"], request.json["message"]
            tracker = await store.retrieve(sender) or DialogueStateTracker.from_events(
                sender, [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
            )
            tracker.update(UserUttered(message, intent={"name": "scripted", "confidence": 1.0}))
            replies = []
            for name, text, buttons in SCRIPT.get(message, [("utter_out_of_scope", "Sorry, I can't say.", [])]):
                data = {"buttons": [{"title": b, "payload": b} for b in buttons]} if buttons else {}
                tracker.update(ActionExecuted(name))
                tracker.update(BotUttered(text, data=data, metadata={"utter_action": name}))
                replies.append({"recipient_id": sender, "text": text, **data})
            tracker.update(ActionExecuted("action_listen"))
            await store.save(tracker)
            return response.json(replies)

        return rest

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


@pytest.fixture
def served(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedAssistant]:
    stores = make_stores(monkeypatch, {"TRACKER_DB_PATH": str(tmp_path / "var" / "tracker.db")}, time.time)
    assistant = ServedAssistant(stores)
    yield assistant
    assistant.stop()
    stores.engine.dispose()


@pytest.fixture
def page(chromium: Any, served: ServedAssistant) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.problems: List[str] = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("dialog", lambda dialog: (page.problems.append("dialog: " + dialog.message), dialog.dismiss()))
    page.goto(f"{served.url}/chat")
    wait_for(page, READY, timeout=30)
    yield page
    assert page.problems == [], "no script errors, no browser dialogs"
    context.close()


def stored_state(page: Any) -> Dict[str, Any]:
    return page.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('tms-widget:'))))"
    )


def assert_axe_clean(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert len(results.response["passes"]) > 20, "axe-core did not run"
    assert [(v["id"], v["impact"]) for v in results.response["violations"]] == []


def live_text(page: Any) -> str:
    return page.inner_text(".tms-panel > [aria-live='polite']")


def ask(page: Any, text: str, replies: int) -> None:
    before = page.locator(".tms-log .tms-bot").count()
    page.fill(".tms-input", text)
    page.press(".tms-input", "Enter")
    wait_for(page, f"document.querySelectorAll('.tms-log .tms-bot:not(.tms-typing)').length >= {before + replies}")


def test_rate_download_and_clear(page: Any, served: ServedAssistant) -> None:
    stores = served.stores
    page.click(".tms-launcher")
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    state = stored_state(page)
    sender = state["senderId"]
    assert state["token"] == token_for(SECRET, sender), "the server's id and its token"
    assert page.is_visible(".tms-options")
    assert page.locator(".tms-rate").count() == 0, "the greeting is not rated"

    # "Was this helpful?" under the answer only: not the referral, the greeting or the question.
    ask(page, QUESTION, 2)
    page.wait_for_selector(".tms-rate")
    assert page.locator(".tms-rate").count() == 1
    assert page.evaluate(
        "() => document.querySelector('.tms-rate').previousElementSibling.textContent"
    ) == f"Assistant: {ANSWER}"
    thumbs_up, thumbs_down = page.locator(".tms-rate-btn").nth(0), page.locator(".tms-rate-btn").nth(1)
    assert (thumbs_up.get_attribute("aria-label"), thumbs_down.get_attribute("aria-label")) == (
        "Yes, helpful", "No, not helpful",
    )
    assert page.get_attribute(".tms-rate", "aria-label") == "Was this helpful?"
    assert [thumbs_up.get_attribute("aria-pressed"), thumbs_down.get_attribute("aria-pressed")] == ["false", "false"]
    # Keyboard only: Tab from the message box back to the thumbs, Enter, then Space on the other.
    page.focus(".tms-input")
    while page.evaluate("document.activeElement.className") != "tms-rate-btn":
        page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "No, not helpful"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    wait_for(page, "document.querySelector('.tms-panel > [aria-live]').textContent.includes('feedback was saved')")
    assert thumbs_up.get_attribute("aria-pressed") == "true"
    rows = lambda: [tuple(r) for r in stores.engine.connect().exec_driver_sql(  # noqa: E731
        "SELECT sender_id, topic, helpful FROM answer_feedback").fetchall()]
    assert rows() == [(sender, "utter_faq/session_length", 1)]
    page.evaluate("document.querySelector('.tms-panel > [aria-live]').textContent = ''")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    wait_for(page, "document.querySelector('.tms-panel > [aria-live]').textContent.includes('feedback was saved')")
    assert [thumbs_up.get_attribute("aria-pressed"), thumbs_down.get_attribute("aria-pressed")] == ["false", "true"]
    assert rows() == [(sender, "utter_faq/session_length", 0)], "changed, still one row"
    assert_axe_clean(page)

    # After a reload the rating is still shown.
    page.reload()
    wait_for(page, READY, timeout=30)
    assert page.get_attribute(".tms-rate-btn >> nth=1", "aria-pressed") == "true"

    # Download: the transcript from the server, as a text file.
    page.click(".tms-options")
    assert page.get_attribute(".tms-options", "aria-expanded") == "true"
    assert page.evaluate("document.activeElement.textContent") == "Download conversation"
    assert_axe_clean(page)
    with page.expect_download() as downloading:
        page.keyboard.press("Enter")
    download = downloading.value
    assert download.suggested_filename == time.strftime("tms-conversation-%Y-%m-%d.txt")
    with open(download.path(), encoding="utf-8") as file:
        text = file.read()
    expected = export_conversation(sender, engine=stores.engine)
    assert text.splitlines()[1:] == expected.splitlines()[1:]  # the first line has the time
    assert f"You\n{QUESTION}\n" in text and ANSWER in text and "/greet" not in text
    wait_for(page, "document.querySelector('.tms-panel > [aria-live]').textContent.includes('downloaded')")

    # Clear: a confirm step first; Cancel keeps everything.
    page.click(".tms-clear")
    assert page.is_visible(".tms-confirm") and page.is_hidden(".tms-menu")
    assert page.evaluate("document.activeElement.textContent") == "Cancel", "the safe choice has the focus"
    assert_axe_clean(page)
    page.keyboard.press("Enter")
    assert page.is_hidden(".tms-confirm")
    assert stores.count("events", "sender_id = :s", s=sender) > 0
    page.click(".tms-options")
    page.click(".tms-clear")
    page.click(".tms-confirm-yes")
    wait_for(page, "document.querySelector('.tms-panel > [aria-live]').textContent.includes('deleted')")
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    # Gone from the server: every row, read directly.
    assert stores.held(sender) == {"events": 0, "handoffs": 0, "answer_feedback": 0}
    # And from the browser: a new conversation, with its own id and token, and a fresh greeting.
    new_state = stored_state(page)
    assert new_state["senderId"] != sender and new_state["token"] == token_for(SECRET, new_state["senderId"])
    assert [m["text"] for m in new_state["history"]] == [GREETING]
    assert page.locator(".tms-log .tms-msg").all_text_contents() == [f"Assistant: {GREETING}"]
    assert QUESTION not in json.dumps(new_state)
    assert stores.count("events", "sender_id = :s", s=new_state["senderId"]) > 0


def test_no_rating_under_a_crisis_reply(page: Any) -> None:
    page.click(".tms-launcher")
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    ask(page, "I can't go on", 1)
    ask(page, QUESTION, 2)
    page.wait_for_selector(".tms-rate")
    assert page.locator(".tms-rate").count() == 1, "only the later FAQ answer"
    assert page.evaluate("document.querySelector('.tms-rate').previousElementSibling.textContent") == f"Assistant: {ANSWER}"


def test_a_rating_lookup_answered_after_the_next_message_is_not_put_under_its_turn(page: Any) -> None:
    """The server names the conversation's latest answer; a lookup for the crisis turn that is
    answered only after the next question (the FAQ answer) must not rate the crisis reply."""
    held: list = []

    def hold_the_first(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/privacy/api/answer", hold_the_first)
    page.click(".tms-launcher")
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    with page.expect_request("**/privacy/api/answer"):  # the crisis turn's lookup, held
        ask(page, "I can't go on", 1)
    ask(page, QUESTION, 2)
    page.wait_for_selector(".tms-rate")
    assert len(held) == 1, "the crisis turn's lookup was held"
    with page.expect_response("**/privacy/api/answer"):
        held[0].continue_()
    page.wait_for_timeout(300)  # the late answer's handler runs after its body is read
    assert page.locator(".tms-rate").count() == 1, "only under the FAQ answer"
    assert page.evaluate("document.querySelector('.tms-rate').previousElementSibling.textContent") == f"Assistant: {ANSWER}"


def test_escape_closes_the_options_then_the_panel(page: Any) -> None:
    page.click(".tms-launcher")
    page.wait_for_selector(".tms-options")
    page.click(".tms-options")
    page.keyboard.press("Escape")
    assert page.is_hidden(".tms-menu") and page.is_visible(".tms-panel")
    assert page.evaluate("document.activeElement.className") == "tms-options"
    page.keyboard.press("Escape")
    assert page.is_hidden(".tms-panel")


def test_a_failed_delete_keeps_the_conversation_and_says_so(page: Any, served: ServedAssistant) -> None:
    page.click(".tms-launcher")
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    sender = stored_state(page)["senderId"]
    page.route("**/privacy/api/delete", lambda route: route.fulfill(status=503, body="{}"))
    page.click(".tms-options")
    page.click(".tms-clear")
    page.click(".tms-confirm-yes")
    page.wait_for_selector(".tms-confirm-error:not([hidden])")
    assert page.inner_text(".tms-confirm-error") == "The conversation could not be deleted. Please try again."
    assert stored_state(page)["senderId"] == sender
    assert served.stores.count("events", "sender_id = :s", s=sender) > 0
    assert page.locator(".tms-log .tms-bot").count() == 1


def test_a_conversation_kept_from_before_tokens_starts_again(page: Any, served: ServedAssistant) -> None:
    """An old widget's conversation has an id but no token; it is never given one (anyone who
    learnt the id could claim it): the widget starts a new conversation under a new id."""
    old = {"senderId": "web-0123456789abcdef0123456789abcdef", "greeted": True, "open": True,
           "history": [{"from": "user", "text": "an old question"}, {"from": "bot", "text": "an old answer", "buttons": []}]}
    page.evaluate(
        "(old) => localStorage.setItem(Object.keys(localStorage).find((k) => k.startsWith('tms-widget:')), JSON.stringify(old))",
        old,
    )
    page.reload()
    wait_for(page, READY, timeout=30)
    state = stored_state(page)
    assert state["senderId"] != old["senderId"] and state["token"] == token_for(SECRET, state["senderId"])
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    assert "an old" not in page.inner_text(".tms-log")


def test_without_a_privacy_api_the_widget_works_without_the_controls(page: Any, served: ServedAssistant) -> None:
    page.context.route("**/privacy/api/**", lambda route: route.fulfill(status=404, body="not found"))
    page.evaluate("localStorage.clear()")
    page.reload()
    wait_for(page, READY, timeout=30)
    page.click(".tms-launcher")
    page.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
    ask(page, QUESTION, 2)
    state = stored_state(page)
    assert "token" not in state and state["senderId"].startswith("web-")
    assert page.is_hidden(".tms-options") and page.locator(".tms-rate").count() == 0


def test_the_controls_fit_and_pass_axe_on_a_phone(chromium: Any, served: ServedAssistant) -> None:
    context = chromium.new_context(viewport={"width": 360, "height": 740})
    try:
        phone = context.new_page()
        phone.goto(f"{served.url}/chat")
        wait_for(phone, READY, timeout=30)
        phone.click(".tms-launcher")
        phone.wait_for_selector(f".tms-log .tms-bot >> text={GREETING}")
        ask(phone, QUESTION, 2)
        phone.wait_for_selector(".tms-rate")
        phone.click(".tms-options")
        assert_axe_clean(phone)
        phone.click(".tms-clear")
        assert_axe_clean(phone)
        for selector in (".tms-options", ".tms-close", ".tms-confirm-yes", ".tms-confirm-no", ".tms-rate-btn"):
            box = phone.locator(selector).first.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, selector
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, "nothing scrolls sideways"
    finally:
        context.close()
