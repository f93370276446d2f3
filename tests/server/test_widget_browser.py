"""The website widget in a real headless Chromium against the real Rasa and action servers.

The demo page `/chat` is opened as a visitor would: keyboard only to open the chat, a
TMS question, a quick reply, a reload and a new browser session, attempts to inject
markup or `javascript:` links, the server going away and coming back, Escape to close,
axe-core on the open widget with a conversation in it, and the phone and desktop
layouts. Screenshots and the measured page weight and time to ready go to
`test-artifacts/widget/`. The origin allow-list is checked from pages on other origins.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import statistics
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.server.processes import AssistantServers, free_port
from tests.browser import wait_for
from tests.conftest import PROJECT_ROOT, wait_until

pytestmark = pytest.mark.slow

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "widget"
ALLOWED_ORIGIN = "https://clinic.example"
FOREIGN_ORIGIN = "https://evil.example"
USER_ID = "patient-e2e-1"
# The widget's own request timeout is 30 s; a 2-core CI machine under load can be slower.
TEST_CONFIG = {"userId": USER_ID, "timeoutMs": 90000}
ANSWER_TIMEOUT = 90
PROFESSIONAL = ("professional", "doctor")
READY = "window.TMSWidget && window.TMSWidget.ready === true"
REPLY_DONE = """(n) => !document.querySelector('.tms-log .tms-typing')
    && document.querySelectorAll('.tms-log .tms-bot:not(.tms-typing)').length > n"""


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory) -> Iterator[AssistantServers]:
    db = tmp_path_factory.mktemp("widget-store") / "tracker.db"
    servers = AssistantServers(
        model=trained_model,
        rasa_port=free_port(),
        action_port=free_port(),
        env={
            "TRACKER_DB_PATH": str(db), "CLINIC_NAME": "", "CLINIC_PHONE": "", "CLINIC_BOOKING_URL": "",
            "WIDGET_ALLOWED_ORIGINS": ALLOWED_ORIGIN, "CORS_ORIGINS": "",
        },
        log_dir=PROJECT_ROOT / "test-artifacts" / "logs",
    )
    try:
        servers.start()
        # The first turn loads everything lazily; do it before any browser is waiting.
        requests.post(
            f"{servers.rasa_url}/webhooks/rest/webhook",
            json={"sender": "widget-warm-up", "message": "hello"},
            timeout=180,
        ).raise_for_status()
        servers.db = db
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def new_page(chromium, servers) -> Iterator[Any]:
    """new_page(viewport=..., storage_state=...): a page in a fresh browser profile."""
    contexts: List[Any] = []

    def make(width: int = 1280, height: int = 800, storage_state: Any = None) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height}, storage_state=storage_state)
        context.set_default_timeout(ANSWER_TIMEOUT * 1000)
        context.add_init_script(f"window.TMSWidgetConfig = {json.dumps(TEST_CONFIG)};")
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []
        page.errors = []

        def on_dialog(dialog: Any) -> None:
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


# --- helpers ------------------------------------------------------------------------------


def open_demo(page: Any, servers: AssistantServers) -> None:
    page.goto(f"{servers.rasa_url}/chat")
    wait_for(page, READY, timeout=30)


def bot_count(page: Any) -> int:
    return page.locator(".tms-log .tms-bot:not(.tms-typing)").count()


def bubbles(page: Any) -> List[str]:
    return page.locator(".tms-log .tms-msg:not(.tms-typing)").all_text_contents()


def wait_for_reply(page: Any, bots_before: int) -> str:
    """Waits for the answer to the message just sent; returns the new bot text."""
    wait_for(page, REPLY_DONE, timeout=ANSWER_TIMEOUT, arg=bots_before)
    texts = page.locator(".tms-log .tms-bot:not(.tms-typing)").all_text_contents()
    return "\n".join(texts[bots_before:])


def type_and_send(page: Any, text: str) -> str:
    before = bot_count(page)
    page.focus(".tms-input")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    return wait_for_reply(page, before)


def open_and_greet(page: Any) -> str:
    page.click(".tms-launcher")
    return wait_for_reply(page, 0)


def stored_state(page: Any) -> Dict[str, Any]:
    return page.evaluate(
        """() => { const key = Object.keys(localStorage).find((k) => k.startsWith('tms-widget:'));
                   return key ? JSON.parse(localStorage.getItem(key)) : null; }"""
    )


def recorder(into: List[Any]) -> Any:
    def record(item: Any) -> None:
        into.append(item)

    return record


def refers_to_professional(text: str) -> bool:
    return any(word in text.lower() for word in PROFESSIONAL)


def assert_axe_clean(page: Any, label: str) -> Dict[str, Any]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{label}.json").write_text(json.dumps(results.response, indent=2))
    print(f"axe-core ({label}): {results.violations_count} violations, {len(results.response['passes'])} rules passed")
    assert len(results.response["passes"]) > 20, "axe-core did not run"
    assert results.violations_count == 0, results.generate_report()
    return results.response


# --- origin allow-list ------------------------------------------------------------------------


def test_cors_allows_only_the_allow_list(servers) -> None:
    webhook = f"{servers.rasa_url}/webhooks/rest/webhook"
    body = {"sender": "cors-check", "message": "hello"}
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}

    allowed = requests.options(webhook, headers={"Origin": ALLOWED_ORIGIN, **preflight}, timeout=30)
    assert allowed.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    allowed_post = requests.post(webhook, json=body, headers={"Origin": ALLOWED_ORIGIN}, timeout=60)
    assert allowed_post.status_code == 200
    assert allowed_post.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN

    foreign = requests.options(webhook, headers={"Origin": FOREIGN_ORIGIN, **preflight}, timeout=30)
    assert "Access-Control-Allow-Origin" not in foreign.headers
    foreign_post = requests.post(webhook, json=body, headers={"Origin": FOREIGN_ORIGIN}, timeout=60)
    assert "Access-Control-Allow-Origin" not in foreign_post.headers

    # socket.io: other origins are refused outright, allowed ones get one CORS header.
    polling = f"{servers.rasa_url}/socket.io/?EIO=4&transport=polling"
    assert requests.get(polling, headers={"Origin": FOREIGN_ORIGIN}, timeout=30).status_code == 403
    allowed_socket = requests.get(polling, headers={"Origin": ALLOWED_ORIGIN}, timeout=30)
    assert allowed_socket.status_code == 200
    assert allowed_socket.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert requests.get(polling, headers={"Origin": servers.rasa_url}, timeout=30).status_code == 200


def test_browser_pages_on_other_origins(new_page, servers) -> None:
    """A page on an allowed site can use the assistant; a page anywhere else cannot."""
    page = new_page()
    # Chromium asks before a public page reaches a loopback server (Local Network Access).
    page.context.grant_permissions(["local-network-access"])
    for origin in (ALLOWED_ORIGIN, FOREIGN_ORIGIN):
        page.context.route(
            f"{origin}/**", lambda route: route.fulfill(status=200, content_type="text/html", body="<p>site</p>")
        )
    probe = """async (server) => {
        const out = {};
        try {
            const r = await fetch(server + '/webhooks/rest/webhook', {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({sender: 'origin-check-' + location.hostname.split('.')[0], message: 'hello'})});
            out.rest = r.ok ? 'answered' : 'status ' + r.status;
        } catch (e) { out.rest = 'blocked'; }
        out.socket = await new Promise((resolve) => {
            const ws = new WebSocket(server.replace('http', 'ws') + '/socket.io/?EIO=4&transport=websocket');
            ws.onmessage = () => { ws.close(); resolve('open'); };
            ws.onerror = () => resolve('refused');
            setTimeout(() => resolve('timeout'), 20000);
        });
        return out;
    }"""
    page.goto(f"{ALLOWED_ORIGIN}/clinic.html")
    assert page.evaluate(probe, servers.rasa_url) == {"rest": "answered", "socket": "open"}
    page.goto(f"{FOREIGN_ORIGIN}/page.html")
    assert page.evaluate(probe, servers.rasa_url) == {"rest": "blocked", "socket": "refused"}


# --- the conversation ------------------------------------------------------------------------


def test_keyboard_conversation_quick_reply_and_history(new_page, servers) -> None:
    page = new_page()
    sent: List[Dict[str, Any]] = []
    page.on(
        "request",
        lambda request: sent.append(request.post_data_json)
        if request.url.endswith("/webhooks/rest/webhook") and request.method == "POST" else None,
    )
    open_demo(page, servers)
    assert page.is_hidden(".tms-panel")

    # Keyboard only: Tab to the launcher, Enter opens, focus lands in the input.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('tms-launcher')"):
            break
    else:
        pytest.fail("Tab never reached the launcher button")
    assert page.get_attribute(".tms-launcher", "aria-expanded") == "false"
    page.keyboard.press("Enter")
    assert page.is_visible(".tms-panel")
    assert page.get_attribute(".tms-launcher", "aria-expanded") == "true"
    assert page.evaluate("document.activeElement.classList.contains('tms-input')")

    # The bot speaks first: greeting with the disclaimer, announced to screen readers.
    greeting = wait_for_reply(page, 0)
    assert "not medical advice" in greeting and "988" in greeting
    assert "not medical advice" in page.text_content(".tms-w [aria-live]")
    assert page.is_visible(".tms-pro") and page.is_visible(".tms-crisis")
    assert page.get_attribute(".tms-crisis", "href") == "tel:988"

    # A TMS question: the facts and a pointer to a professional.
    answer = type_and_send(page, "How long is a TMS session?")
    assert "20" in answer and "40" in answer and "minutes" in answer, answer
    assert refers_to_professional(answer), answer
    assert page.locator(".tms-log .tms-user").all_text_contents()[-1] == "You: How long is a TMS session?"

    # Metadata travels with every message and reaches the tracker.
    state = stored_state(page)
    sender = state["senderId"]
    assert sender.startswith("web-")
    assert [body["message"] for body in sent[:2]] == ["/greet", "How long is a TMS session?"]
    for body in sent:
        assert body["sender"] == sender
        assert body["metadata"] == {"locale": "en-US", "page_url": f"{servers.rasa_url}/chat", "user_id": USER_ID}
    with sqlite3.connect(servers.db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    stored_metadata = [json.loads(row[0]).get("metadata", {}) for row in rows]
    assert stored_metadata and all(m.get("page_url") == f"{servers.rasa_url}/chat" for m in stored_metadata)
    assert all(m.get("user_id") == USER_ID and m.get("locale") == "en-US" for m in stored_metadata)

    # Quick replies: clicking one sends its payload and shows its title.
    topics = type_and_send(page, "what can I ask?")
    assert topics, "no answer to 'what can I ask?'"
    titles = page.locator(".tms-log .tms-qr").all_text_contents()
    assert "TMS vs ECT" in titles, titles
    before = bot_count(page)
    page.click(".tms-log .tms-qr >> text=TMS vs ECT")
    answer = wait_for_reply(page, before)
    user_bubbles = page.locator(".tms-log .tms-user").all_text_contents()
    assert user_bubbles[-1] == "You: TMS vs ECT"
    assert sent[-1]["message"] == "How is TMS different from ECT?"
    assert "anesthesia" in answer.lower() and "ECT" in answer, answer
    assert "TMS vs ECT" not in page.locator(".tms-log .tms-qr").all_text_contents()  # used up

    # Reload: the same conversation (sender id and history) is shown again, still open.
    history = bubbles(page)
    page.reload()
    wait_for(page, READY, timeout=30)
    assert page.is_visible(".tms-panel")
    assert bubbles(page) == history
    assert stored_state(page)["senderId"] == sender

    # Browser restart: a new browser session with the same profile data.
    saved_profile = page.context.storage_state()
    restarted = new_page(storage_state=saved_profile)
    open_demo(restarted, servers)
    if restarted.is_hidden(".tms-panel"):
        restarted.click(".tms-launcher")
    assert bubbles(restarted) == history
    assert stored_state(restarted)["senderId"] == sender

    # Escape closes and gives focus back to the launcher; opening again does not re-greet.
    page.focus(".tms-input")
    page.keyboard.press("Escape")
    assert page.is_hidden(".tms-panel")
    assert page.evaluate("document.activeElement.classList.contains('tms-launcher')")
    page.keyboard.press("Enter")
    assert page.is_visible(".tms-panel")
    assert page.evaluate("document.activeElement.classList.contains('tms-input')")
    assert [body["message"] for body in sent].count("/greet") == 1
    assert page.dialogs == [] and page.errors == []


def test_nothing_typed_or_received_can_run_script(new_page, servers) -> None:
    page = new_page()
    open_demo(page, servers)
    open_and_greet(page)
    attempts = [
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "javascript:alert(1)",
        '<a href="javascript:alert(1)">tms</a><script>alert(1)</script>',
    ]
    for text in attempts:
        type_and_send(page, text)
    shown = page.locator(".tms-log .tms-user").all_text_contents()
    assert shown == [f"You: {text}" for text in attempts]

    # A reply carrying markup (as if the bot or a proxy were compromised) stays text too.
    evil_reply = [{
        "text": "<img src=x onerror=alert(2)> [x](javascript:alert(3)) **bold** https://example.org",
        "buttons": [{"title": "<img src=x onerror=alert(4)>", "payload": "javascript:alert(5)"}],
    }]
    webhook = f"{servers.rasa_url}/webhooks/rest/webhook"
    page.route(webhook, lambda route: route.fulfill(status=200, content_type="application/json",
                                                    body=json.dumps(evil_reply)))
    type_and_send(page, "hello")
    page.unroute(webhook)

    assert page.locator(".tms-log img, .tms-log script, .tms-log iframe").count() == 0
    assert page.locator('a[href^="javascript" i], [onerror], [onclick]').count() == 0
    links = page.evaluate(
        """() => Array.from(document.querySelectorAll('.tms-w a')).map((a) => [a.getAttribute('href'),
                  a.getAttribute('target'), a.getAttribute('rel')])"""
    )
    assert ["https://example.org", "_blank", "noopener noreferrer"] in links
    assert all(href.startswith(("https:", "http:", "tel:", "mailto:")) for href, _, _ in links)
    assert page.locator(".tms-log .tms-bot strong").last.inner_text() == "bold"
    assert page.locator(".tms-log .tms-qr").all_text_contents() == ["<img src=x onerror=alert(4)>"]
    assert page.dialogs == [] and page.errors == []


def test_unreachable_server_keeps_the_text_and_retries(new_page, servers) -> None:
    page = new_page()
    open_demo(page, servers)
    open_and_greet(page)
    webhook = f"{servers.rasa_url}/webhooks/rest/webhook"
    page.route(webhook, lambda route: route.abort("connectionrefused"))
    question = "Can I drive home after a TMS session?"
    page.fill(".tms-input", question)
    page.press(".tms-input", "Enter")
    page.wait_for_selector(".tms-error:not([hidden])")
    error = page.text_content(".tms-error")
    assert "couldn’t reach the assistant" in error and "not sent" in error
    assert page.is_visible(".tms-retry")
    assert page.get_attribute(".tms-error", "role") == "alert"
    assert page.input_value(".tms-input") == question  # nothing typed is lost
    assert f"You: {question}" not in bubbles(page)

    page.unroute(webhook)
    before = bot_count(page)
    page.click(".tms-retry")
    answer = wait_for_reply(page, before)
    assert answer
    assert page.locator(".tms-log .tms-user").all_text_contents()[-1] == f"You: {question}"
    assert page.is_hidden(".tms-error")
    assert page.input_value(".tms-input") == ""
    assert page.dialogs == [] and page.errors == []


# --- accessibility and layout ------------------------------------------------------------------


def test_axe_and_screenshots_on_desktop_and_phone(new_page, servers) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = new_page(1280, 800)
    open_demo(page, servers)
    assert_axe_clean(page, "closed-1280x800")
    open_and_greet(page)
    type_and_send(page, "How long is a TMS session?")
    before = bot_count(page)
    page.click(".tms-pro")
    handoff = wait_for_reply(page, before)
    assert page.locator(".tms-log .tms-user").all_text_contents()[-1] == "You: I want to talk to a professional"
    # No staff inbox is configured for these servers: it says so, and who to contact instead.
    assert "can't connect you to a person" in handoff and refers_to_professional(handoff), handoff
    type_and_send(page, "what can I ask?")
    assert_axe_clean(page, "open-1280x800")
    page.screenshot(path=str(ARTIFACTS / "widget-1280x800.png"))

    # The same conversation on a 360-px phone (it was left open, so it opens again).
    phone = new_page(360, 740, storage_state=page.context.storage_state())
    open_demo(phone, servers)
    assert phone.is_visible(".tms-panel")
    assert phone.evaluate(
        "(() => { const l = document.querySelector('.tms-log'); return l.scrollTop + l.clientHeight >= l.scrollHeight - 2; })()"
    ), "the newest messages are not in view"
    assert_axe_clean(phone, "open-360x740")
    phone.screenshot(path=str(ARTIFACTS / "widget-360x740.png"))
    layout = phone.evaluate(
        """() => {
            const box = (s) => { const r = document.querySelector(s).getBoundingClientRect();
                                 return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
            return {panel: box('.tms-panel'), pro: box('.tms-pro'), crisis: box('.tms-crisis'),
                    input: box('.tms-input'), send: box('.tms-send'),
                    scrollWidth: document.documentElement.scrollWidth};
        }"""
    )
    assert layout["scrollWidth"] <= 360
    for name in ("panel", "pro", "crisis", "input", "send"):
        box = layout[name]
        assert box["left"] >= 0 and box["right"] <= 360 and box["top"] >= 0 and box["bottom"] <= 740, (name, box)
    for selector in (".tms-pro", ".tms-crisis", ".tms-input", ".tms-send", ".tms-close"):
        assert phone.is_visible(selector), selector

    closed = new_page(360, 740)
    open_demo(closed, servers)
    launcher = closed.locator(".tms-launcher").bounding_box()
    assert launcher["x"] >= 0 and launcher["x"] + launcher["width"] <= 360
    closed.screenshot(path=str(ARTIFACTS / "widget-closed-360x740.png"))
    for each in (page, phone, closed):
        assert each.dialogs == [] and each.errors == []


# --- page weight and time to ready ----------------------------------------------------------------


def test_page_weight_and_time_to_ready(new_page, servers) -> None:
    loads = []
    for _ in range(3):
        page = new_page()  # a fresh profile each time: nothing cached
        finished: List[Any] = []
        page.on("requestfinished", recorder(finished))
        open_demo(page, servers)
        page.wait_for_load_state("load")
        timing = page.evaluate(
            """() => { const nav = performance.getEntriesByType('navigation')[0];
                       return {ready: TMSWidget.readyAt, domContentLoaded: nav.domContentLoadedEventEnd,
                               load: nav.loadEventEnd}; }"""
        )
        widget_files = {}
        for request in finished:
            name = request.url.rsplit("/", 1)[-1]
            if name in ("tms-widget.js", "tms-widget.css"):
                sizes = request.sizes()
                widget_files[name] = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        assert set(widget_files) == {"tms-widget.js", "tms-widget.css"}, [r.url for r in finished]
        other_origins = {r.url.split("/")[2] for r in finished if not r.url.startswith((servers.rasa_url, "data:"))}
        assert other_origins == set(), other_origins  # no CDN, no third party
        loads.append({"timing": timing, "bytes": widget_files})

    static = PROJECT_ROOT / "bot" / "widget" / "static"
    raw = {name: (static / name).stat().st_size for name in ("tms-widget.js", "tms-widget.css")}
    gzipped = {name: len(gzip.compress((static / name).read_bytes(), 9)) for name in raw}
    transferred = loads[0]["bytes"]
    metrics = {
        "widget_bytes_transferred": transferred,
        "widget_kb_transferred": round(sum(transferred.values()) / 1024, 1),
        "widget_file_bytes": raw,
        "widget_kb_if_gzipped": round(sum(gzipped.values()) / 1024, 1),
        "time_to_ready_ms": {
            "median": round(statistics.median(load["timing"]["ready"] for load in loads)),
            "runs": [round(load["timing"]["ready"]) for load in loads],
            "measured_from": "navigation start (performance.now() when tms-widget-ready fired)",
        },
        "dom_content_loaded_ms_median": round(statistics.median(load["timing"]["domContentLoaded"] for load in loads)),
        "load_event_ms_median": round(statistics.median(load["timing"]["load"] for load in loads)),
        "requests_to_other_origins": 0,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Path(ARTIFACTS / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print("widget metrics:", json.dumps(metrics))
    assert metrics["widget_kb_transferred"] < 60
    assert metrics["time_to_ready_ms"]["median"] < 5000


# --- A professional answers in the widget (staff inbox in a second "browser") --------


def test_a_professional_answers_in_the_widget_and_crisis_replies_never_wait(new_page, servers, domain) -> None:
    import subprocess
    import sys

    from bot.server.staff.store import HandoffRepository, engine_from_env
    from tests.test_staff_takeover import PASSWORD, Professional

    # One staff account is all it takes (no email or webhook): the clinic watches the inbox.
    subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "alice", "--name", "Dr Alice Smith", "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, cwd=PROJECT_ROOT, capture_output=True,
        env={"PATH": "/usr/bin:/bin", "TRACKER_DB_PATH": str(servers.db)},
    )
    try:
        page = new_page(1280, 800)
        open_demo(page, servers)
        open_and_greet(page)
        before = bot_count(page)
        page.click(".tms-pro")
        connected = wait_for_reply(page, before)
        assert domain["responses"]["utter_handoff_connected"][0]["text"].format(
            handoff_wait="as soon as one is free") in connected
        sender = stored_state(page)["senderId"]
        handoffs = HandoffRepository(engine_from_env({"TRACKER_DB_PATH": str(servers.db)}))
        handoff = wait_until(lambda: handoffs.open_for_sender(sender))  # opened in the background

        alice = Professional(servers)
        alice.sign_in()
        alice.act(handoff.ref, "claim")
        alice.act(handoff.ref, "reply", text="Hi, I'm Alice from the clinic. <b>How</b> are you feeling?")
        wait_for(page, "() => document.querySelector('.tms-log .tms-staff') !== null", timeout=30)
        staff = page.locator(".tms-log .tms-staff").last
        assert "Dr Alice Smith" in staff.inner_text() and "clinic team" in staff.inner_text()
        assert "Hi, I'm Alice from the clinic. <b>How</b> are you feeling?" in staff.inner_text()
        assert page.locator(".tms-log .tms-staff b").count() == 0  # shown as text, never markup
        assert_axe_clean(page, "staff-reply-1280x800")

        crisis = type_and_send(page, "honestly i just want to die")
        assert "988" in crisis  # at once, while Alice has the conversation

        before = bot_count(page)
        alice.act(handoff.ref, "resolve")
        closing = domain["responses"]["utter_staff_resolved"][0]["text"]
        wait_for(page, "(text) => document.querySelector('.tms-log').innerText.includes(text)", timeout=30,
                 arg=closing)
        answer = type_and_send(page, "How long is a TMS session?")
        assert "20 to 40 minutes" in answer
    finally:
        with sqlite3.connect(servers.db) as db:  # the other tests here expect no staff
            db.execute("DELETE FROM staff_accounts")


def test_a_person_clears_the_conversation_and_it_is_gone_from_the_database(new_page, servers) -> None:
    """The real assistant and its SQLite store: chat, Clear conversation, no row left."""
    import sqlalchemy

    page = new_page()
    open_demo(page, servers)
    open_and_greet(page)
    wait_for(page, "(() => { const s = Object.keys(localStorage).find((k) => k.startsWith('tms-widget:'));"
                   " return s && JSON.parse(localStorage.getItem(s)).token; })()", timeout=30)
    type_and_send(page, "How long is a TMS session?")
    sender = stored_state(page)["senderId"]
    engine = sqlalchemy.create_engine(f"sqlite:///{servers.db}")

    def rows(who: str) -> int:
        with engine.connect() as connection:
            return connection.execute(sqlalchemy.text("SELECT COUNT(*) FROM events WHERE sender_id = :s"),
                                      {"s": who}).scalar_one()

    try:
        assert rows(sender) > 0
        page.click(".tms-options")
        page.click(".tms-clear")
        page.click(".tms-confirm-yes")
        wait_for(page, "document.querySelector('.tms-panel > [aria-live]').textContent.includes('deleted')", timeout=30)
        assert rows(sender) == 0
        fresh = stored_state(page)
        assert fresh["senderId"] != sender and "How long is a TMS session?" not in json.dumps(fresh)
    finally:
        engine.dispose()
