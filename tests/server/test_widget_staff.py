"""A clinic professional's live replies in the website widget (the staff inbox's person side).

When the REST reply carries {"custom": {"handoff": "waiting"}}, the widget fetches
GET /staff/api/updates?sender=...&after=... until the handoff is resolved, and shows each
reply once, as a "clinic team" bubble. Headless Chromium runs the real widget against a
small fake server (http.server on a free port, in a thread): the demo page with its real
Content-Security-Policy, the widget's files, a fake REST webhook and a fake staff endpoint
whose answers each test controls and whose requests it records. No Rasa, no model.

The pure helpers (`TMSWidget._internals`) are checked on the same page.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.server.channels import widget as widget_channel
from bot.server.staff.web import WIDGET_SENDER
from tests.browser import wait_for

READY = "window.TMSWidget && window.TMSWidget.ready === true"
POLL_MS = 200
GREETING = "\n".join(
    ["Hi! I share general information about TMS, not medical advice."]
    + [f"Line {n} of a long greeting, so that the conversation scrolls." for n in range(1, 25)]
)
HANDOFF_TEXT = "You asked to talk with a person. A professional from the clinic will answer here."
STAFF_NAME = "Dr Alice Smith"
STAFF_TEXT = "Hello, I can help. <b>bold</b> **not bold** https://example.org\nSecond line"
CLOSING = "The professional has closed this conversation. The assistant is here again."


# --- the fake server --------------------------------------------------------------------------


class FakeClinic:
    """What the fake server answers, and what it was asked (shared with its threads)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.webhook_bodies: List[Dict[str, Any]] = []
        self.webhook_headers: List[Dict[str, str]] = []
        self.updates: List[Dict[str, Any]] = []  # {at, sender, after, cookie}
        self.status = "waiting"
        self.replies: List[Dict[str, Any]] = []
        self.closing: str | None = None
        self.ignore_after = False  # answer every reply again, whatever `after` says
        self.scripted: List[Tuple[int, str]] = []  # answered first, one per request
        self.never_handoff = False

    def webhook(self, body: Dict[str, Any]) -> List[Dict[str, Any]]:
        sender, message = body.get("sender"), body.get("message")
        if message == "/greet":
            return [{"recipient_id": sender, "text": GREETING}]
        if message == "/talk_to_human":
            reply = [{"recipient_id": sender, "text": HANDOFF_TEXT}]
            if not self.never_handoff:
                reply.append({"recipient_id": sender, "custom": {"handoff": "waiting"}})
            return reply
        return []  # during a handoff the server keeps the message for the professional

    def answer_updates(self, sender: str, after: str) -> Tuple[int, str]:
        if not WIDGET_SENDER.match(sender) or not after.isdigit():
            return 400, json.dumps({"error": "bad request"})  # as bot/server/staff/web.py does
        if self.scripted:
            return self.scripted.pop(0)
        replies = [r for r in self.replies if self.ignore_after or r["id"] > int(after)]
        body: Dict[str, Any] = {"status": self.status, "replies": replies}
        if self.status == "resolved":
            body["closing"] = self.closing
        return 200, json.dumps(body)

    def update_count(self) -> int:
        with self.lock:
            return len(self.updates)


def make_handler(clinic: FakeClinic) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes | str, content_type: str, headers: Dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/chat":
                self.send(200, widget_channel.DEMO_PAGE.read_bytes(), "text/html; charset=utf-8",
                          {"Content-Security-Policy": widget_channel.DEMO_CSP})
            elif url.path == "/widget/crisis-link":
                link = widget_channel.crisis_link(query.get("locale", [None])[0])
                self.send(200, json.dumps(link), "application/json")
            elif url.path.startswith("/widget/"):
                name = url.path[len("/widget/"):]
                file = widget_channel.static_file(name)
                if file is None:
                    self.send(404, "not found", "text/plain")
                    return
                body = widget_channel.widget_script(file) if name == widget_channel.WIDGET_SCRIPT else file.read_bytes()
                self.send(200, body, widget_channel.CONTENT_TYPES[file.suffix])
            elif url.path == "/staff/api/updates":
                sender, after = query.get("sender", [""])[0], query.get("after", [""])[0]
                with clinic.lock:
                    clinic.updates.append({"at": time.monotonic(), "sender": sender, "after": after,
                                           "cookie": self.headers.get("Cookie")})
                    status, body = clinic.answer_updates(sender, after)
                self.send(status, body, "application/json")
            else:
                self.send(404, "not found", "text/plain")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if urlsplit(self.path).path != "/webhooks/rest/webhook":
                self.send(404, "not found", "text/plain")
                return
            with clinic.lock:
                clinic.webhook_bodies.append(body)
                clinic.webhook_headers.append(dict(self.headers))
                reply = clinic.webhook(body)
            self.send(200, json.dumps(reply), "application/json")

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[Tuple[str, FakeClinic]]:
    clinic = FakeClinic()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(clinic))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", clinic
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def clinic(server) -> FakeClinic:
    server[1].reset()
    return server[1]


@pytest.fixture
def new_page(chromium, server) -> Iterator[Callable[..., Any]]:
    """new_page(width, height, storage_state, config): the demo page in a fresh browser profile."""
    url, _ = server
    contexts: List[Any] = []

    def make(width: int = 1280, height: int = 700, storage_state: Any = None,
             config: Dict[str, Any] | None = None) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height}, storage_state=storage_state)
        context.set_default_timeout(20_000)
        contexts.append(context)
        context.add_init_script(f"window.TMSWidgetConfig = {json.dumps({'staffPollMs': POLL_MS, **(config or {})})};")
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(f"{url}/chat")
        wait_for(page, READY, timeout=30)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def logic_page(chromium, server) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{server[0]}/chat")
    wait_for(page, READY, timeout=30)
    yield page
    context.close()


# --- helpers ---------------------------------------------------------------------------------------


def call(page: Any, function: str, *args: Any) -> Any:
    return page.evaluate(f"(args) => TMSWidget._internals.{function}(...args)", list(args))


def stored_state(page: Any) -> Dict[str, Any]:
    return page.evaluate(
        """() => { const key = Object.keys(localStorage).find((k) => k.startsWith('tms-widget:'));
                   return key ? JSON.parse(localStorage.getItem(key)) : null; }"""
    )


def until(page: Any, condition: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout:.0f} s: {what}")
        page.wait_for_timeout(50)


def staff_bubbles(page: Any) -> List[Dict[str, Any]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.tms-log .tms-staff')).map((b) => {
            const label = b.querySelector('.tms-staff-name');
            return {label: label ? label.textContent : null, labelVisible: !!label && label.offsetHeight > 0,
                    text: b.textContent, breaks: b.querySelectorAll('br').length, elements: Array.from(b.querySelectorAll('*')).map((n) => n.tagName.toLowerCase())};
        })"""
    )


def bot_texts(page: Any) -> List[str]:
    return page.locator(".tms-log .tms-bot:not(.tms-typing)").all_text_contents()


def log_at_bottom(page: Any) -> bool:
    return page.evaluate(
        "(() => { const l = document.querySelector('.tms-log'); return l.scrollTop + l.clientHeight >= l.scrollHeight - 2; })()"
    )


def assert_axe_clean(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert len(results.response["passes"]) > 20, "axe-core did not run"
    assert results.violations_count == 0, results.generate_report()


def start_handoff(page: Any, clinic: FakeClinic) -> None:
    page.click(".tms-launcher")
    page.wait_for_selector(".tms-log .tms-bot:not(.tms-typing)")
    page.click(".tms-pro")
    page.wait_for_selector(f".tms-log .tms-bot >> text={HANDOFF_TEXT[:30]}")


REPLY = {"id": 7, "name": STAFF_NAME, "text": STAFF_TEXT}


# --- pure helpers --------------------------------------------------------------------------------


def test_handoff_signal_is_found_among_the_replies(logic_page) -> None:
    signal = lambda data: call(logic_page, "handoffSignal", data)  # noqa: E731
    assert signal([{"recipient_id": "web-1", "text": "A professional will answer."},
                   {"recipient_id": "web-1", "custom": {"handoff": "waiting"}}]) == "waiting"
    assert signal([{"custom": {"handoff": "waiting"}}, {"text": "x"}]) == "waiting"
    for nothing in ([], [{"text": "Hi"}], [{"custom": {"x": 1}}], [{"custom": {"handoff": "nonsense"}}],
                    [{"custom": "handoff"}], [{"custom": None}], [None, 3, "handoff"], {"custom": {"handoff": "waiting"}},
                    None, [{"text": "handoff waiting"}], [{"handoff": "waiting"}]):
        assert signal(nothing) is None, nothing
    # The signal never becomes a bubble.
    assert call(logic_page, "normalizeReplies", [{"custom": {"handoff": "waiting"}}]) == []


def test_merge_adds_each_reply_once_by_id(logic_page) -> None:
    result = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals;
            const state = {senderId: 'web-1', history: [{from: 'user', text: 'I want to talk to a professional'}]};
            w.startHandoff(state);
            const steps = [];
            const step = (data) => { const r = w.mergeStaffUpdate(state, data);
                                     steps.push(r && r.added.map((m) => m.id)); };
            step({status: 'waiting', replies: []});
            step({status: 'claimed', replies: [{id: 9, name: ' Dr Alice Smith ', text: 'second'},
                                               {id: 7, name: 'Dr Alice Smith', text: 'first'}]});
            step({status: 'claimed', replies: [{id: 7, name: 'Dr Alice Smith', text: 'first'},
                                               {id: 9, name: 'Dr Alice Smith', text: 'second'}]});  // again
            step({status: 'claimed', replies: [{id: 9, name: 'x', text: 'second'}, {id: 9, name: 'x', text: 'dup'},
                                               {id: 12, text: 'no name'}]});
            // Replies already in the history are not added again even if `after` was lost.
            state.staff.after = 0;
            step({status: 'claimed', replies: [{id: 7, name: 'Dr Alice Smith', text: 'first'}]});
            return {steps, state};
        }"""
    )
    assert result["steps"] == [[], [7, 9], [], [12], []]
    state = result["state"]
    assert state["history"][1:] == [
        {"from": "staff", "id": 7, "name": STAFF_NAME, "text": "first"},
        {"from": "staff", "id": 9, "name": STAFF_NAME, "text": "second"},
        {"from": "staff", "id": 12, "name": "", "text": "no name"},
    ]
    assert state["staff"] == {"active": True, "after": 7}  # reset to 0 above, then 7 seen again


def test_merge_ignores_malformed_replies_and_answers(logic_page) -> None:
    result = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals, state = {senderId: 'web-1', history: []};
            w.startHandoff(state);
            const bad = [null, 'x', [], {status: 5}, {replies: []}];
            const rejected = bad.map((data) => w.mergeStaffUpdate(state, data));
            const r = w.mergeStaffUpdate(state, {status: 'claimed', replies: [
                null, 'text', {id: '3', text: 'string id'}, {id: 0, text: 'zero'}, {id: -1, text: 'negative'},
                {id: 1.5, text: 'fraction'}, {id: 4, text: ''}, {id: 5, text: '   '}, {id: 6, text: 7},
                {id: 8, name: 42, text: 'name not text'}, {id: 10, name: 'N'.repeat(300), text: 'long name'}]});
            return {rejected, added: r.added, staff: state.staff, history: state.history.length};
        }"""
    )
    assert result["rejected"] == [None] * 5
    assert [(m["id"], m["name"], m["text"]) for m in result["added"]] == [(8, "", "name not text"), (10, "N" * 80, "long name")]
    assert result["staff"] == {"active": True, "after": 10} and result["history"] == 2


def test_resolved_shows_the_closing_text_and_ends_the_handoff(logic_page) -> None:
    result = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals, out = {};
            for (const [label, data] of [
                ['resolved', {status: 'resolved', replies: [{id: 3, name: 'Dr B', text: 'last words'}], closing: 'Closed.'}],
                ['resolved-no-closing', {status: 'resolved', replies: [], closing: null}],
                ['none', {status: 'none', replies: []}],
                ['waiting', {status: 'waiting', replies: []}],
                ['claimed', {status: 'claimed', replies: []}]]) {
                const state = {senderId: 'web-1', history: [], staff: {active: true, after: 2}};
                const r = w.mergeStaffUpdate(state, data);
                out[label] = {stopped: r.stopped, closing: r.closing, staff: state.staff,
                              history: state.history.map((m) => m.from + ':' + m.text)};
            }
            return out;
        }"""
    )
    assert result["resolved"] == {
        "stopped": True, "closing": {"from": "bot", "text": "Closed.", "buttons": []},
        "staff": {"active": False, "after": 3}, "history": ["staff:last words", "bot:Closed."],
    }
    assert result["resolved-no-closing"] == {"stopped": True, "closing": None,
                                             "staff": {"active": False, "after": 2}, "history": []}
    assert result["none"]["stopped"] is True and result["none"]["staff"]["active"] is False
    for status in ("waiting", "claimed"):
        assert result[status]["stopped"] is False and result[status]["staff"] == {"active": True, "after": 2}


def test_the_handoff_signal_starts_the_handoff_in_the_stored_state(logic_page) -> None:
    result = logic_page.evaluate(
        """async () => {
            const w = TMSWidget._internals, storage = w.memoryStorage(), events = [];
            const answers = [[{text: 'Hi'}], [{text: 'A person will answer.'}, {custom: {handoff: 'waiting'}}], []];
            const conv = w.createConversation({store: w.createStore(storage, 'k'), newId: () => 'web-1',
                on: (type, ev) => { if (type === 'sent') events.push(ev.handoff); },
                post: () => Promise.resolve(answers.shift())});
            await conv.send({message: '/greet', initial: true});
            const before = JSON.parse(storage.getItem('k')).staff;
            await conv.send({message: '/talk_to_human', display: 'I want to talk to a professional'});
            const started = JSON.parse(storage.getItem('k')).staff;
            conv.state.staff.after = 5; conv.state.staff.active = false;  // an earlier handoff, resolved
            answers.push([{custom: {handoff: 'waiting'}}]);
            await conv.send({message: 'Are you there?', display: 'Are you there?'});
            await conv.send({message: '/talk_to_human', display: 'again'});
            return {before, started, again: JSON.parse(storage.getItem('k')).staff, events,
                    history: conv.state.history.map((m) => m.from + ':' + m.text)};
        }"""
    )
    assert result["before"] is None
    assert result["started"] == {"active": True, "after": 0}
    assert result["again"] == {"active": True, "after": 5}  # ids already seen stay seen
    assert result["events"] == [None, "waiting", None, "waiting"]
    # An empty REST reply (the professional has the conversation) adds nothing but the message.
    assert result["history"] == ["bot:Hi", "user:I want to talk to a professional", "bot:A person will answer.",
                                 "user:Are you there?", "user:again"]


def test_retry_delay_doubles_from_the_poll_interval_up_to_a_minute(logic_page) -> None:
    delays = [call(logic_page, "staffRetryDelay", n, 4000) for n in range(1, 8)]
    assert delays == [4000, 8000, 16000, 32000, 60000, 60000, 60000]
    assert call(logic_page, "staffRetryDelay", 2, 200) == 400


def test_updates_url_and_poll_interval_setting(logic_page) -> None:
    url = call(logic_page, "staffUpdatesUrl", {"server": "https://bot.example.org"}, "web-ab&c=1", 42)
    assert url == "https://bot.example.org/staff/api/updates?sender=web-ab%26c%3D1&after=42"
    assert call(logic_page, "staffUpdatesUrl", {"server": ""}, "web-1", None).endswith("?sender=web-1&after=0")
    config = lambda attr, glob: logic_page.evaluate(  # noqa: E731
        """([attr, glob]) => { const s = document.createElement('script');
               s.src = 'https://bot.example.org/widget/tms-widget.js';
               if (attr !== null) s.dataset.staffPollMs = attr;
               return TMSWidget._internals.readConfig(s, glob, 'https://clinic.example/').staffPollMs; }""",
        [attr, glob],
    )
    assert call(logic_page, "readConfig", None, {}, "https://c.example/")["staffPollMs"] == 4000
    assert config("2500", {"staffPollMs": 9000}) == 2500
    assert config(None, {"staffPollMs": 9000}) == 9000
    assert config("soon", {}) == 4000 and config("0", {}) == 4000
    assert config("-5", {}) == 100 and config("1", {}) == 100  # never a busy loop


def test_labels_and_announcements(logic_page) -> None:
    assert call(logic_page, "staffLabel", STAFF_NAME) == "Dr Alice Smith \u00b7 clinic team"
    assert call(logic_page, "staffLabel", "") == "Clinic team"
    assert call(logic_page, "staffAnnouncement", {"name": STAFF_NAME, "text": "Hi"}) == "Dr Alice Smith, clinic team: Hi"
    assert call(logic_page, "staffAnnouncement", {"name": "", "text": "Hi"}) == "Clinic team: Hi"


def test_new_ids_are_accepted_by_the_staff_inbox(logic_page) -> None:
    """bot/server/staff/web.py only answers for web-[a-z0-9]{16,64}, with or without randomUUID."""
    ids = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals, real = window.crypto, out = [w.newId(), w.newId()];
            const swap = (value) => Object.defineProperty(window, 'crypto', {value, configurable: true});
            try {
                swap({getRandomValues: real.getRandomValues.bind(real)});  // no randomUUID (plain http)
                out.push(w.newId());
                swap(undefined);  // no crypto at all
                for (let i = 0; i < 20; i++) out.push(w.newId());
            } finally { swap(real); }
            return {out, restored: window.crypto === real && typeof window.crypto.randomUUID === 'function'};
        }"""
    )
    assert ids["restored"]
    ids = ids["out"]
    assert len(ids) == 23 and len(set(ids)) == 23
    for sender in ids:
        assert WIDGET_SENDER.match(sender), sender


# --- in the browser ------------------------------------------------------------------------------


def test_a_professionals_replies_arrive_once_and_stop_when_resolved(new_page, server, clinic) -> None:
    url, _ = server
    page = new_page()
    page.context.add_cookies([{"name": "session", "value": "secret", "url": url}])
    start_handoff(page, clinic)
    state = stored_state(page)
    sender = state["senderId"]
    assert state["staff"] == {"active": True, "after": 0}
    assert len(bot_texts(page)) == 2  # greeting and the handoff text: the signal is no bubble

    # Waiting: the widget asks, nothing to show yet.
    until(page, lambda: clinic.update_count() >= 2, what="polling while waiting")
    assert staff_bubbles(page) == []

    # The person keeps writing; the server keeps it for the professional and answers [].
    page.fill(".tms-input", "Are you there?")
    page.press(".tms-input", "Enter")
    until(page, lambda: clinic.webhook_bodies and clinic.webhook_bodies[-1]["message"] == "Are you there?")
    page.wait_for_selector(".tms-log .tms-user:not(.tms-pending) >> text=Are you there?")
    page.wait_for_selector(".tms-log .tms-typing", state="detached")
    assert page.is_hidden(".tms-error")
    assert len(bot_texts(page)) == 2 and "" not in bot_texts(page)

    # A professional answers: a bubble of its own, the text exactly as written, announced.
    page.evaluate("document.querySelector('.tms-log').scrollTop = 0")
    assert not log_at_bottom(page), "the conversation should be long enough to scroll"
    with clinic.lock:
        clinic.status, clinic.replies = "claimed", [REPLY]
    page.wait_for_selector(".tms-log .tms-staff")
    [bubble] = staff_bubbles(page)
    assert bubble["label"] == "Dr Alice Smith \u00b7 clinic team" and bubble["labelVisible"]
    # The name line, ": " for screen readers, then the text exactly as written (one line break).
    assert bubble["text"] == f"Dr Alice Smith \u00b7 clinic team: {STAFF_TEXT.replace(chr(10), '')}"
    assert bubble["breaks"] == 1
    assert set(bubble["elements"]) == {"span", "br"}  # no <b>, <strong> or <a> from the reply
    assert page.locator(".tms-staff").evaluate("(b) => getComputedStyle(b).alignSelf") == "flex-start"
    assert page.text_content(".tms-w [aria-live]") == f"{STAFF_NAME}, clinic team: {STAFF_TEXT}"
    assert log_at_bottom(page)
    state = stored_state(page)
    assert state["history"][-1] == {"from": "staff", "id": 7, "name": STAFF_NAME, "text": STAFF_TEXT}
    assert state["staff"] == {"active": True, "after": 7}
    until(page, lambda: clinic.updates[-1]["after"] == "7", what="asking for replies after 7")
    assert_axe_clean(page)

    # A reload: the bubble once, from the history, and polling goes on (even if the server
    # sent every reply again, none is shown twice).
    with clinic.lock:
        clinic.ignore_after = True
    page.reload()
    wait_for(page, READY, timeout=30)
    assert len(staff_bubbles(page)) == 1 and staff_bubbles(page)[0]["label"].startswith(STAFF_NAME)
    seen = clinic.update_count()
    until(page, lambda: clinic.update_count() >= seen + 3, what="polling after the reload")
    assert len(staff_bubbles(page)) == 1
    assert [m for m in stored_state(page)["history"] if m["from"] == "staff"] == [state["history"][-1]]

    # Resolved: the closing text, then no more requests.
    with clinic.lock:
        clinic.status, clinic.closing = "resolved", CLOSING
    page.wait_for_selector(f".tms-log .tms-bot >> text={CLOSING}")
    stopped_at = clinic.update_count()
    page.wait_for_timeout(POLL_MS * 6)
    assert clinic.update_count() == stopped_at, "still polling after resolved"
    assert bot_texts(page).count(f"Assistant: {CLOSING}") == 1
    assert page.text_content(".tms-w [aria-live]") == CLOSING
    assert stored_state(page)["staff"]["active"] is False

    # Reloaded after the end: everything once, and no polling.
    page.reload()
    wait_for(page, READY, timeout=30)
    page.wait_for_timeout(POLL_MS * 4)
    assert clinic.update_count() == stopped_at
    assert len(staff_bubbles(page)) == 1 and bot_texts(page).count(f"Assistant: {CLOSING}") == 1

    # Every request: this widget's id, no cookies.
    assert {u["sender"] for u in clinic.updates} == {sender} and WIDGET_SENDER.match(sender)
    assert all(u["cookie"] is None for u in clinic.updates)
    assert all(b["sender"] == sender for b in clinic.webhook_bodies)
    assert page.errors == []

    # The same conversation on a 360-px phone: the staff bubble fits and passes axe.
    phone = new_page(360, 740, storage_state=page.context.storage_state())
    assert phone.is_visible(".tms-panel") and phone.is_visible(".tms-staff")
    box = phone.locator(".tms-staff").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.locator(".tms-staff").scroll_into_view_if_needed()
    assert_axe_clean(phone)
    assert clinic.update_count() == stopped_at


def test_without_a_staff_inbox_polling_stops_quietly(new_page, clinic) -> None:
    clinic.scripted = [(404, "not found")] * 5
    page = new_page()
    start_handoff(page, clinic)
    until(page, lambda: clinic.update_count() >= 1, what="the first request")
    page.wait_for_timeout(POLL_MS * 6)
    assert clinic.update_count() == 1
    assert page.is_hidden(".tms-error") and staff_bubbles(page) == []
    assert stored_state(page)["staff"]["active"] is False
    assert page.errors == []


def test_errors_back_off_and_the_reply_still_arrives(new_page, clinic) -> None:
    clinic.scripted = [(500, "oops"), (200, "not json"), (503, "busy")]
    clinic.status, clinic.replies = "claimed", [REPLY]
    page = new_page()
    start_handoff(page, clinic)
    page.wait_for_selector(".tms-log .tms-staff", timeout=20_000)
    times = [u["at"] for u in clinic.updates]
    gaps = [times[i + 1] - times[i] for i in range(len(times) - 1)]
    # After 1, 2 and 3 failures: 200, 400 and 800 ms (never sooner).
    assert len(gaps) >= 3 and gaps[1] >= 0.35 and gaps[2] >= 0.7, gaps
    assert page.is_hidden(".tms-error") and len(staff_bubbles(page)) == 1
    # Back to the normal interval once it works.
    count = clinic.update_count()
    until(page, lambda: clinic.update_count() >= count + 2, timeout=5, what="normal polling again")
    assert page.errors == []


def test_no_polling_without_the_signal(new_page, clinic) -> None:
    clinic.never_handoff = True  # the staff cannot answer (inbox off or closed)
    page = new_page()
    start_handoff(page, clinic)
    page.wait_for_timeout(POLL_MS * 5)
    assert clinic.update_count() == 0
    assert stored_state(page).get("staff") is None


def test_a_reply_while_the_chat_is_closed_is_flagged_on_the_launcher(new_page, clinic) -> None:
    page = new_page()
    start_handoff(page, clinic)
    page.click(".tms-close")
    with clinic.lock:
        clinic.status, clinic.replies = "claimed", [REPLY]
    until(page, lambda: page.text_content(".tms-launcher") == "New reply from the clinic team", what="launcher")
    page.click(".tms-launcher")
    assert page.text_content(".tms-launcher") == "Close chat"
    assert len(staff_bubbles(page)) == 1
