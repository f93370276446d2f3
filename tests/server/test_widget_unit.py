"""Unit tests of the website widget: its JavaScript logic and the routes that serve it.

The JavaScript runs where it runs for real, in headless Chromium (no Node.js needed):
a page on a made-up origin loads bot/widget/static/tms-widget.js, and the tests call
`TMSWidget._internals` through page.evaluate. Requests to the REST channel are answered
by Playwright routes, so no Rasa server is involved; the widget's files and its crisis link
come from bot/server/channels/widget.py's own functions (the same ones its routes use). The Python
part checks bot/server/channels/widget.py's file lookup and route handlers directly.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.server.channels import widget as widget_channel
from tests.browser import wait_for
from tests.conftest import PROJECT_ROOT, load_yaml

ORIGIN = "http://widget.test"
WEBHOOK = f"{ORIGIN}/webhooks/rest/webhook"
CRISIS_LINK = f"{ORIGIN}/widget/crisis-link"
HARNESS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>harness</title>
<link rel="icon" href="data:,"></head><body><main><h1>Harness</h1></main>
<script src="/widget/tms-widget.js" data-title="Test chat"{locale} defer></script>
</body></html>"""


def link_variations() -> Dict[Any, Dict[str, str]]:
    """utter_crisis_link by region (None: the default), as {text, href}."""
    links = {}
    for variation in load_yaml(PROJECT_ROOT / "domain.yml")["responses"]["utter_crisis_link"]:
        region = next((c["value"] for c in variation.get("condition") or []), None)
        links[region] = {"text": variation["text"], "href": variation["metadata"]["href"]}
    return links


LINKS = link_variations()


def serve_widget(context: Any, crisis_requests: List[str] | None = None) -> None:
    """The harness pages, the widget's files and its crisis link on ORIGIN, without a server."""

    def handle(route: Any) -> None:
        url = urlsplit(route.request.url)
        if url.path in ("/page.html", "/browser-locale.html"):
            locale = ' data-locale="en-GB"' if url.path == "/page.html" else ""
            route.fulfill(status=200, content_type="text/html", body=HARNESS.format(locale=locale))
            return
        if url.path == "/widget/crisis-link":
            locale = parse_qs(url.query).get("locale", [None])[0]
            if crisis_requests is not None:
                crisis_requests.append(locale)
            body = json.dumps(widget_channel.crisis_link(locale))
            route.fulfill(status=200, content_type="application/json", body=body)
            return
        name = url.path[len("/widget/"):] if url.path.startswith("/widget/") else ""
        file = widget_channel.static_file(name) if name else None
        if file is None:
            route.fulfill(status=404, body="not found")
            return
        body = widget_channel.widget_script(file) if name == widget_channel.WIDGET_SCRIPT else file.read_bytes()
        route.fulfill(status=200, content_type=widget_channel.CONTENT_TYPES[file.suffix], body=body)

    context.route(f"{ORIGIN}/page.html", handle)
    context.route(f"{ORIGIN}/browser-locale.html", handle)
    context.route(f"{ORIGIN}/widget/**", handle)
    # No privacy API unless a test adds one (tests/server/privacy/test_widget_privacy.py):
    # the widget then keeps its own id, as on a server without it.
    context.route(f"{ORIGIN}/privacy/api/**", lambda route: route.fulfill(status=404, body="not found"))


@pytest.fixture(scope="module")
def logic_page(chromium) -> Iterator[Any]:
    """One page with the widget loaded, for the pure functions."""
    context = chromium.new_context()
    serve_widget(context)
    page = context.new_page()
    page.goto(f"{ORIGIN}/page.html")
    wait_for(page, "window.TMSWidget && window.TMSWidget.ready", timeout=30)
    yield page
    context.close()


@pytest.fixture
def widget_page(chromium) -> Iterator[Callable[..., Any]]:
    """A fresh browser profile per test; returns open_page(webhook_handler, config)."""
    contexts: List[Any] = []

    def open_page(
        webhook: Callable[[Any], None],
        config: Dict[str, Any] | None = None,
        crisis_link: Callable[[Any], None] | None = None,
        crisis_requests: List[str] | None = None,
        page_name: str = "page.html",
        browser_locale: str | None = None,
    ) -> Any:
        context = chromium.new_context(**({"locale": browser_locale} if browser_locale else {}))
        contexts.append(context)
        serve_widget(context, crisis_requests)
        context.route(WEBHOOK, webhook)
        if crisis_link is not None:
            context.route(f"{CRISIS_LINK}**", crisis_link)  # the latest route wins
        if config:
            context.add_init_script(f"window.TMSWidgetConfig = {json.dumps(config)};")
        page = context.new_page()
        page.goto(f"{ORIGIN}/{page_name}")
        wait_for(page, "window.TMSWidget && window.TMSWidget.ready", timeout=30)
        return page

    yield open_page
    for context in contexts:
        context.close()


def call(page: Any, function: str, *args: Any) -> Any:
    return page.evaluate(f"(args) => TMSWidget._internals.{function}(...args)", list(args))


# --- links: only http(s), mailto: and tel: -----------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://example.org", "http://example.org/a?b=1#c", "HTTPS://Example.org/x", "mailto:care@example.org",
     "tel:988", "tel:+1-800-273-8255", "  https://example.org  "],
)
def test_safe_href_accepts_web_mail_and_phone_links(logic_page, url: str) -> None:
    assert call(logic_page, "safeHref", url) == url.strip()


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\nscript:alert(1)",
     "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
     "//evil.example/x", "/relative", "https://", 'https://example.org" onmouseover="alert(1)',
     "https://exa mple.org", "tel:", "tel:javascript:alert(1)", "ftp://example.org", "", None],
)
def test_safe_href_rejects_everything_else(logic_page, url: Any) -> None:
    assert call(logic_page, "safeHref", url) is None


# --- text: bold, line breaks and links; HTML stays text -------------------------------------


@pytest.mark.parametrize(
    "text, plain, expected",
    [
        ("**Important:** see below", False,
         [{"type": "strong", "children": [{"type": "text", "text": "Important:"}]},
          {"type": "text", "text": " see below"}]),
        ("line one\nline two\r\nthree", False,
         [{"type": "text", "text": "line one"}, {"type": "br"}, {"type": "text", "text": "line two"},
          {"type": "br"}, {"type": "text", "text": "three"}]),
        ("Read [our page](https://example.org/tms).", False,
         [{"type": "text", "text": "Read "},
          {"type": "link", "href": "https://example.org/tms", "text": "our page"},
          {"type": "text", "text": "."}]),
        ("Call tel:988 or see https://988lifeline.org.", False,
         [{"type": "text", "text": "Call "}, {"type": "link", "href": "tel:988", "text": "tel:988"},
          {"type": "text", "text": " or see "},
          {"type": "link", "href": "https://988lifeline.org", "text": "https://988lifeline.org"},
          {"type": "text", "text": "."}]),
        ("[click](javascript:alert(1))", False, [{"type": "text", "text": "[click](javascript:alert(1))"}]),
        ("[click](javascript:alert)", False, [{"type": "text", "text": "[click](javascript:alert)"}]),
        ("javascript:alert(1)", False, [{"type": "text", "text": "javascript:alert(1)"}]),
        ("<img src=x onerror=alert(1)>", False, [{"type": "text", "text": "<img src=x onerror=alert(1)>"}]),
        ("<b>not bold</b> &amp;", False, [{"type": "text", "text": "<b>not bold</b> &amp;"}]),
        # The person's own text: line breaks only, no formatting, no links.
        ("**x** https://example.org\nok", True,
         [{"type": "text", "text": "**x** https://example.org"}, {"type": "br"}, {"type": "text", "text": "ok"}]),
    ],
)
def test_parse_text(logic_page, text: str, plain: bool, expected: List[Dict[str, Any]]) -> None:
    assert call(logic_page, "parseText", text, plain) == expected


@pytest.mark.parametrize(
    "text",
    ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "**<img src=x onerror=alert(1)>**",
     "[<img src=x>](https://example.org)", "<a href=javascript:alert(1)>x</a>",
     "[click](javascript:alert(1)) javascript:alert(1)"],
)
def test_rendered_text_is_never_markup(logic_page, text: str) -> None:
    result = logic_page.evaluate(
        """(text) => {
            const box = document.createElement('div');
            box.appendChild(TMSWidget._internals.renderText(document, text, false));
            return {
                text: box.textContent,
                elements: Array.from(box.querySelectorAll('*')).map((n) => n.tagName.toLowerCase()),
                hrefs: Array.from(box.querySelectorAll('a')).map((a) => a.getAttribute('href')),
            };
        }""",
        text,
    )
    assert set(result["elements"]) <= {"strong", "a", "br"}
    assert all(href.startswith(("https:", "http:", "mailto:", "tel:")) for href in result["hrefs"])
    assert "<" not in text or "<" in result["text"]  # the angle brackets are shown as text


def test_links_open_in_a_new_tab_without_opener(logic_page) -> None:
    links = logic_page.evaluate(
        """() => {
            const box = document.createElement('div');
            box.appendChild(TMSWidget._internals.renderText(
                document, 'See https://example.org, mail mailto:a@example.org or call tel:988', false));
            return Array.from(box.querySelectorAll('a')).map((a) => ({
                href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel'),
            }));
        }"""
    )
    assert links == [
        {"href": "https://example.org", "target": "_blank", "rel": "noopener noreferrer"},
        {"href": "mailto:a@example.org", "target": None, "rel": "noopener noreferrer"},
        {"href": "tel:988", "target": None, "rel": "noopener noreferrer"},
    ]


def test_normalize_replies(logic_page) -> None:
    replies = call(
        logic_page,
        "normalizeReplies",
        [
            {"recipient_id": "x", "text": "Hello"},
            {"text": "Pick one", "buttons": [
                {"title": "Session length", "payload": "How long is a session?"},
                {"title": "No payload"}, {"payload": "no title"}, None, {"title": 3},
            ]},
            {"image": "javascript:alert(1)"},
            {"image": "https://example.org/a.png"},
            {"custom": {"x": 1}}, None, "text", {"text": 5},
        ],
    )
    assert replies == [
        {"from": "bot", "text": "Hello", "buttons": []},
        {"from": "bot", "text": "Pick one", "buttons": [
            {"title": "Session length", "payload": "How long is a session?"},
            {"title": "No payload", "payload": "No payload"},
        ]},
        {"from": "bot", "text": "https://example.org/a.png", "buttons": []},
    ]
    assert call(logic_page, "normalizeReplies", {"text": "not a list"}) == []


# --- storage -------------------------------------------------------------------------------


def test_store_round_trip(logic_page) -> None:
    result = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals, storage = w.memoryStorage();
            const state = {senderId: 'web-1', greeted: true, draft: 'half a question',
                           history: [{from: 'user', text: 'Hi'}, {from: 'bot', text: 'Hello', buttons: []}]};
            const saved = w.createStore(storage, 'k').save(state);
            return {saved, loaded: w.createStore(storage, 'k').load(), raw: storage.getItem('k')};
        }"""
    )
    assert result["saved"] is True
    assert result["loaded"] == {
        "senderId": "web-1", "greeted": True, "draft": "half a question",
        "history": [{"from": "user", "text": "Hi"}, {"from": "bot", "text": "Hello", "buttons": []}],
    }
    assert json.loads(result["raw"])["senderId"] == "web-1"


@pytest.mark.parametrize(
    "stored",
    ["{not json", "null", "42", '"text"', "[]", '{"history": []}', '{"senderId": "", "history": []}',
     '{"senderId": "web-1", "history": "x"}', '{"senderId": 7, "history": []}'],
)
def test_corrupted_storage_starts_a_new_conversation(logic_page, stored: str) -> None:
    result = logic_page.evaluate(
        """(stored) => {
            const w = TMSWidget._internals, storage = w.memoryStorage();
            storage.setItem('k', stored);
            const store = w.createStore(storage, 'k');
            const loaded = store.load();
            const conv = w.createConversation({store, post: () => Promise.resolve([]), newId: () => 'web-new'});
            return {loaded, senderId: conv.state.senderId, history: conv.state.history,
                    rewritten: JSON.parse(storage.getItem('k')).senderId};
        }""",
        stored,
    )
    assert result == {"loaded": None, "senderId": "web-new", "history": [], "rewritten": "web-new"}


def test_unavailable_or_full_storage_is_not_an_error(logic_page) -> None:
    result = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals;
            const broken = {getItem() { throw new Error('denied'); }, setItem() { throw new Error('quota'); },
                            removeItem() { throw new Error('denied'); }};
            const store = w.createStore(broken, 'k');
            const conv = w.createConversation({store, post: () => Promise.resolve([{text: 'ok'}])});
            return conv.send({message: 'hi', display: 'hi'}).then((sent) => ({
                load: store.load(), save: store.save({senderId: 'a', history: []}), sent,
                history: conv.state.history}));
        }"""
    )
    assert result["load"] is None and result["save"] is False and result["sent"] is True
    assert result["history"] == [{"from": "user", "text": "hi"}, {"from": "bot", "text": "ok", "buttons": []}]


def test_history_is_capped_to_the_newest_messages(logic_page) -> None:
    result = logic_page.evaluate(
        """async () => {
            const w = TMSWidget._internals, storage = w.memoryStorage();
            const small = w.createStore(storage, 'small', 5);
            small.save({senderId: 'a', history: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => ({from: 'bot', text: 'm' + i}))});
            const store = w.createStore(storage, 'k');  // the default cap
            const conv = w.createConversation({store, post: (body) => Promise.resolve([{text: 're ' + body.message}])});
            for (let i = 0; i < 70; i++) await conv.send({message: 'q' + i, display: 'q' + i});
            const history = store.load().history;
            return {small: small.load().history.map((m) => m.text), length: history.length,
                    first: history[0].text, last: history[history.length - 1].text};
        }"""
    )
    assert result["small"] == ["m4", "m5", "m6", "m7", "m8"]
    assert (result["length"], result["first"], result["last"]) == (100, "q20", "re q69")


# --- conversation: one request at a time, retry keeps the text ------------------------------


def test_failed_message_waits_for_retry_and_is_sent_once(logic_page) -> None:
    result = logic_page.evaluate(
        """async () => {
            const w = TMSWidget._internals, storage = w.memoryStorage(), bodies = [], events = [];
            let online = false;
            const conv = w.createConversation({
                store: w.createStore(storage, 'k'),
                newId: () => 'web-42',
                metadata: () => ({locale: 'en-GB', page_url: 'http://widget.test/page.html'}),
                on: (type) => events.push(type),
                post: (body) => { bodies.push(body); return online ? Promise.resolve([{text: 'answer'}])
                                                                  : Promise.reject(new TypeError('Failed to fetch')); },
            });
            const item = {message: 'How long is a session?', display: 'How long is a session?', typed: true};
            const first = await conv.send(item);
            const afterFailure = {unsent: conv.state.unsent, history: conv.state.history.length,
                                  stored: JSON.parse(storage.getItem('k')).unsent};
            const busyWhileSending = [];
            online = true;
            const pending = conv.retry();
            busyWhileSending.push(conv.isBusy(), await conv.send({message: 'other'}));
            const second = await pending;
            const again = await conv.retry();
            return {first, afterFailure, busyWhileSending, second, again, events, bodies,
                    unsent: conv.state.unsent, history: conv.state.history};
        }"""
    )
    assert result["first"] is False
    unsent = {"message": "How long is a session?", "display": "How long is a session?", "typed": True, "id": "m-42"}
    assert result["afterFailure"] == {"unsent": unsent, "history": 0, "stored": unsent}
    assert result["busyWhileSending"] == [True, False]  # one request at a time
    assert result["second"] is True and result["again"] is False  # nothing left to retry
    assert result["events"] == ["sending", "failed", "sending", "sent"]
    assert result["unsent"] is None
    assert result["history"] == [
        {"from": "user", "text": "How long is a session?"}, {"from": "bot", "text": "answer", "buttons": []},
    ]
    assert [body["message"] for body in result["bodies"]] == ["How long is a session?"] * 2
    # The retry is the same message: same id, so the server never handles it twice.
    assert [body["message_id"] for body in result["bodies"]] == ["m-42", "m-42"]
    assert result["bodies"][0] == {
        "sender": "web-42", "message": "How long is a session?",
        "metadata": {"locale": "en-GB", "page_url": "http://widget.test/page.html"}, "message_id": "m-42",
    }


def test_retry_in_the_widget_keeps_the_typed_text(widget_page) -> None:
    state = {"online": False, "bodies": []}

    def webhook(route: Any) -> None:
        state["bodies"].append(route.request.post_data_json)
        if not state["online"]:
            route.abort("connectionrefused")
        else:
            route.fulfill(status=200, content_type="application/json", body=json.dumps([{"text": "Hello!"}]))

    page = widget_page(webhook, {"initialPayload": ""})
    page.click(".tms-launcher")
    page.fill(".tms-input", "Does TMS hurt?")
    page.press(".tms-input", "Enter")
    page.wait_for_selector(".tms-error:not([hidden])")
    assert "couldn’t reach" in page.inner_text(".tms-error")
    assert page.input_value(".tms-input") == "Does TMS hurt?"
    assert page.locator(".tms-log .tms-user").count() == 0
    # A reload keeps the unsent text too.
    page.reload()
    wait_for(page, "window.TMSWidget && window.TMSWidget.ready", timeout=30)
    assert page.input_value(".tms-input") == "Does TMS hurt?"
    assert page.is_visible(".tms-retry")
    state["online"] = True
    page.click(".tms-retry")
    page.wait_for_selector(".tms-log .tms-bot >> text=Hello!")
    assert page.locator(".tms-log .tms-user").all_text_contents() == ["You: Does TMS hurt?"]
    assert page.input_value(".tms-input") == ""
    assert page.is_hidden(".tms-error")
    assert [body["message"] for body in state["bodies"]] == ["Does TMS hurt?"] * 2  # failed, retried


def test_greeting_only_on_the_very_first_open_with_metadata(widget_page) -> None:
    bodies: List[Dict[str, Any]] = []

    def webhook(route: Any) -> None:
        bodies.append(route.request.post_data_json)
        reply = [{"text": "Hi! General information only, not medical advice."}]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(reply))

    page = widget_page(webhook, {"userId": "patient-7"})
    assert page.is_hidden(".tms-panel") and bodies == []  # nothing is sent before the first open
    page.click(".tms-launcher")
    page.wait_for_selector(".tms-log .tms-bot")
    # Under the greeting, the short page on how messages are kept (GET /privacy on the server).
    note = ".tms-log .tms-bot + .tms-privacy-note a"
    # Waited for, not only counted: one CI run (7 December) counted it before it was drawn.
    page.wait_for_selector(note, timeout=10_000)
    assert page.locator(note).count() == 1
    assert page.get_attribute(note, "href").endswith("/privacy")
    assert page.inner_text(note) == "How your messages are kept, and how to delete them"
    page.click(".tms-close")
    page.click(".tms-launcher")
    page.reload()
    wait_for(page, "window.TMSWidget && window.TMSWidget.ready", timeout=30)
    if page.is_hidden(".tms-panel"):
        page.click(".tms-launcher")
    page.wait_for_selector(note, timeout=10_000)
    assert page.locator(note).count() == 1  # restored with the greeting after a reload
    assert [body["message"] for body in bodies] == ["/greet"]
    assert bodies[0]["metadata"] == {
        "locale": "en-GB", "page_url": f"{ORIGIN}/page.html", "user_id": "patient-7",
    }
    assert bodies[0]["sender"].startswith("web-")


def test_quick_reply_sends_the_payload_and_shows_the_title(widget_page) -> None:
    bodies: List[Dict[str, Any]] = []

    def webhook(route: Any) -> None:
        body = route.request.post_data_json
        bodies.append(body)
        if body["message"] == "/greet":
            reply = [{"text": "Pick a topic", "buttons": [{"title": "Session length",
                                                           "payload": "How long is a TMS session?"}]}]
        else:
            reply = [{"text": "About **20 to 40 minutes**.\nSee https://example.org"}]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(reply))

    page = widget_page(webhook)
    page.click(".tms-launcher")
    page.click(".tms-qr >> text=Session length")
    page.wait_for_selector(".tms-log .tms-bot strong")
    assert bodies[-1]["message"] == "How long is a TMS session?"
    assert page.locator(".tms-log .tms-user").all_text_contents() == ["You: Session length"]
    assert page.locator(".tms-qr").count() == 0  # used quick replies go away
    last = page.locator(".tms-log .tms-bot").last
    assert last.locator("strong").inner_text() == "20 to 40 minutes"
    assert last.locator("br").count() == 1
    link = last.locator("a")
    assert (link.get_attribute("href"), link.get_attribute("target"), link.get_attribute("rel")) == (
        "https://example.org", "_blank", "noopener noreferrer",
    )
    assert "20 to 40 minutes" in page.text_content(".tms-w [aria-live]")


# --- colours and configuration ---------------------------------------------------------------


@pytest.mark.parametrize("colour", ["#1d5b79", "#ffcc00", "#777777", "#767676", "#00ff00", "#000080", "#fff"])
def test_text_on_any_primary_colour_keeps_4_5_to_1(logic_page, colour: str) -> None:
    ratio = logic_page.evaluate(
        "(c) => { const w = TMSWidget._internals, bg = w.normalizeColor(c); return w.contrast(bg, w.textColorOn(bg)); }",
        colour,
    )
    assert ratio >= 4.5


def test_config_attributes_beat_the_global_and_unsafe_values_fall_back(logic_page) -> None:
    config = logic_page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.src = 'https://bot.example.org/widget/tms-widget.js';
            s.dataset.title = 'Ask us';
            s.dataset.primaryColor = 'red; background:url(x)';
            return TMSWidget._internals.readConfig(s, {title: 'ignored', locale: 'en-CA',
                crisisHref: 'javascript:alert(1)', timeoutMs: 'soon'}, 'https://clinic.example/page');
        }"""
    )
    assert config["title"] == "Ask us" and config["locale"] == "en-CA"
    assert config["server"] == "https://bot.example.org"
    assert config["cssUrl"] == "https://bot.example.org/widget/tms-widget.css"
    assert config["primaryColor"] == "#1d5b79"
    assert config["timeoutMs"] == 30000
    # The crisis link is not a setting: it comes from the server, for the visitor's region.
    assert "crisisHref" not in config and "crisisText" not in config


# --- the crisis link: from the server, for the same locale as the messages --------------------


def crisis_link_shown(page: Any) -> Dict[str, Any]:
    return page.evaluate(
        """() => { const a = document.querySelector('.tms-crisis');
                   return {text: a.textContent, href: a.getAttribute('href'), hidden: a.hidden}; }"""
    )


def greet_reply(bodies: List[Dict[str, Any]]) -> Callable[[Any], None]:
    def webhook(route: Any) -> None:
        bodies.append(route.request.post_data_json)
        route.fulfill(status=200, content_type="application/json", body=json.dumps([{"text": "Hi!"}]))

    return webhook


def test_the_crisis_link_is_the_visitors_regions_and_matches_the_locale_sent(widget_page) -> None:
    bodies: List[Dict[str, Any]] = []
    asked: List[str] = []
    page = widget_page(greet_reply(bodies), crisis_requests=asked)  # data-locale="en-GB"
    page.click(".tms-launcher")
    page.wait_for_selector(".tms-log .tms-bot")
    assert crisis_link_shown(page) == {**LINKS["GB"], "hidden": False}
    assert page.is_visible(".tms-crisis")
    # The link was asked for with the locale every message carries (so the reply names the same line).
    assert asked == ["en-GB"] and bodies[0]["metadata"]["locale"] == "en-GB"


def test_without_a_configured_locale_the_browsers_language_picks_the_link(widget_page) -> None:
    bodies: List[Dict[str, Any]] = []
    asked: List[str] = []
    page = widget_page(greet_reply(bodies), crisis_requests=asked, page_name="browser-locale.html", browser_locale="en-AU")
    page.click(".tms-launcher")
    page.wait_for_selector(".tms-log .tms-bot")
    assert crisis_link_shown(page) == {**LINKS["AU"], "hidden": False}
    assert asked == ["en-AU"] and bodies[0]["metadata"]["locale"] == "en-AU"


@pytest.mark.parametrize(
    "answer",
    [
        lambda route: route.abort("connectionrefused"),
        lambda route: route.fulfill(status=500, body="oops"),
        lambda route: route.fulfill(status=200, content_type="application/json", body="not json"),
        lambda route: route.fulfill(status=200, content_type="application/json",
                                    body=json.dumps({"text": "Click me", "href": "javascript:alert(1)"})),
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps({"text": ""})),
    ],
    ids=["unreachable", "error", "not-json", "unsafe-href", "empty"],
)
def test_when_the_link_cannot_be_had_the_default_written_in_by_the_server_shows(widget_page, answer) -> None:
    page = widget_page(greet_reply([]), crisis_link=answer)
    assert crisis_link_shown(page) == {**LINKS[None], "hidden": False}
    assert page.evaluate("TMSWidget._internals.crisisLinkDefault") == {**LINKS[None], "region": None}
    assert page.evaluate("TMSWidget.ready")


def test_crisis_link_from_keeps_only_safe_links(logic_page) -> None:
    check = lambda data: call(logic_page, "crisisLinkFrom", data)  # noqa: E731
    assert check({"text": " In crisis? ", "href": "tel:116123", "region": "GB"}) == {"text": "In crisis?", "href": "tel:116123"}
    for bad in [None, "tel:988", [], {"text": "x"}, {"href": "tel:988"}, {"text": 5, "href": "tel:988"},
                {"text": "x", "href": "javascript:alert(1)"}, {"text": "  ", "href": "tel:988"}]:
        assert check(bad) is None, bad


def test_crisis_link_url_encodes_the_locale_sent_with_messages(logic_page) -> None:
    url = call(logic_page, "crisisLinkUrl", {"server": "https://bot.example.org", "locale": " en-GB&x=<y> "})
    assert url == "https://bot.example.org/widget/crisis-link?locale=en-GB%26x%3D%3Cy%3E"
    assert call(logic_page, "localeOf", {"locale": "  en-GB  "}) == "en-GB"
    assert call(logic_page, "localeOf", {"locale": ""}) == logic_page.evaluate("navigator.language")


# --- bot/server/channels/widget.py -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["tms-widget.js", "tms-widget.css", "demo.css"])
def test_static_file_serves_the_widget_files(name: str) -> None:
    path = widget_channel.static_file(name)
    assert path is not None and path.parent == widget_channel.STATIC_DIR.resolve()


@pytest.mark.parametrize(
    "name",
    ["../demo.html", "..", "../../credentials.yml", "..%2fdemo.html", "%2e%2e/x.js", "/etc/passwd",
     "static/tms-widget.js", ".hidden.js", ".gitignore", "tms-widget.js.map", "demo.html", "x.py",
     "TMS-WIDGET.JS", "missing.js", "tms-widget.js\x00.css", "tms widget.js", "", "tms-widget..js"],
)
def test_static_file_refuses_paths_hidden_and_unknown_files(name: str) -> None:
    assert widget_channel.static_file(name) is None


def handlers() -> Dict[str, Callable[..., Any]]:
    blueprint = widget_channel.WidgetChannel().blueprint(lambda message: None)
    return {route.handler.__name__: route.handler for route in blueprint._future_routes}


def run(coroutine: Any) -> Any:
    """Runs a route handler in its own thread and loop (Playwright's loop may be running here)."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def fake_request(args: Dict[str, str] | None = None, **headers: str) -> Any:
    return SimpleNamespace(headers={key.replace("_", "-"): value for key, value in headers.items()}, args=args or {})


def test_demo_page_has_a_strict_content_security_policy() -> None:
    response = run(handlers()["demo_page"](fake_request()))
    assert response.status == 200 and response.content_type.startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert b'<script src="/widget/tms-widget.js"' in response.body


def test_widget_file_route() -> None:
    widget_file = handlers()["widget_file"]
    response = run(widget_file(fake_request(), "tms-widget.js"))
    assert response.status == 200 and response.content_type.startswith("text/javascript")
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    not_modified = run(widget_file(fake_request(if_none_match=response.headers["ETag"]), "tms-widget.js"))
    assert not_modified.status == 304
    for name in ("../demo.html", ".hidden.js", "x.exe"):
        assert run(widget_file(fake_request(), name)).status == 404


def test_the_widget_script_is_sent_with_the_default_crisis_link_written_in() -> None:
    raw = (widget_channel.STATIC_DIR / "tms-widget.js").read_bytes()
    assert raw.count(widget_channel.CRISIS_DEFAULT_MARKER) == 1
    served = run(handlers()["widget_file"](fake_request(), "tms-widget.js")).body
    assert widget_channel.CRISIS_DEFAULT_MARKER not in served
    default = json.dumps({**LINKS[None], "region": None}).encode()
    assert served == raw.replace(widget_channel.CRISIS_DEFAULT_MARKER, default)


@pytest.mark.parametrize(
    ("locale", "region"),
    [("en-GB", "GB"), ("en-UK", "GB"), ("en_gb", "GB"), ("en-IE", "IE"), ("fr-CA", "CA"), ("en-CA", "CA"),
     ("en-AU", "AU"), ("en-US", "US"), ("de-DE", None), (" en-GB ", "GB"), ("en-GB" + " " * 40, "GB")],
)
def test_crisis_link_route_gives_each_regions_link(locale: str, region: str | None) -> None:
    response = run(handlers()["crisis_link_route"](fake_request({"locale": locale})))
    assert response.status == 200 and response.content_type.startswith("application/json")
    assert json.loads(response.body) == {**LINKS.get(region, LINKS[None]), "region": region}
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


@pytest.mark.parametrize(
    "args",
    [{}, {"locale": ""}, {"locale": "x" * 100_000}, {"locale": "en-\uff27\uff22"},
     {"locale": "en-G\u0301B"}, {"locale": "\u202een-GB"}, {"locale": "en-GB\x00"}, {"locale": "\U0001F600"}, {"locale": "en-\ud800"},
     {"locale": "../../etc/passwd"}, {"locale": "<script>alert(1)</script>"}, {"other": "en-GB"}],
    ids=["missing", "empty", "huge", "fullwidth", "combining", "rtl-override", "nul", "emoji", "lone-surrogate", "path",
         "markup", "other-param"],
)
def test_crisis_link_route_gives_odd_locales_the_default(args: Dict[str, str]) -> None:
    response = run(handlers()["crisis_link_route"](fake_request(args)))
    assert response.status == 200
    body = json.loads(response.body)
    assert {"text": body["text"], "href": body["href"]} == LINKS[None] and body["region"] in (None, "US")


def test_crisis_link_route_with_real_query_strings() -> None:
    """Sanic's own parsing of odd query strings never makes the route fail."""
    from sanic import Sanic
    from sanic.compat import Header
    from sanic.request import Request

    app = Sanic("crisis_link_test")
    handler = handlers()["crisis_link_route"]
    cases = {
        b"locale=en-GB": "GB", b"locale=en-AU&locale=en-GB": "AU", b"": None, b"locale": None,
        b"locale=%ff%fe": None, b"locale=en-%EF%BC%A7B": None, b"a=%%%&&&=": None, b"locale=en-GB%00": None,
        b"locale=" + b"x" * 60_000: None, b"locale[]=en-GB": None,
    }
    for query, region in cases.items():
        request = Request(b"/widget/crisis-link?" + query, Header(), "1.1", "GET", None, app)
        response = run(handler(request))
        assert response.status == 200, query
        assert json.loads(response.body)["region"] == region, query


def test_crisis_link_route_is_not_taken_for_a_static_file() -> None:
    from sanic import Sanic

    app = Sanic("crisis_link_routing_test")
    app.blueprint(widget_channel.WidgetChannel().blueprint(lambda message: None), url_prefix="/")
    app.router.finalize()
    assert app.router.get("/widget/crisis-link", "GET", None)[1].__name__ == "crisis_link_route"
    assert app.router.get("/widget/tms-widget.js", "GET", None)[1].__name__ == "widget_file"


# --- the person's own data: the conversation's id and token, ratings, downloads -------------
# (the whole flow against a real server: tests/server/privacy/test_widget_privacy.py)

TOKEN = "ab" * 32


def test_the_server_gives_the_id_and_token_before_the_first_message(logic_page) -> None:
    result = logic_page.evaluate(
        """async (token) => {
            const w = TMSWidget._internals, storage = w.memoryStorage(), bodies = [], events = [];
            let answer;
            const asked = new Promise((resolve) => { answer = resolve; });
            const conv = w.createConversation({
                store: w.createStore(storage, 'k'), newId: () => 'web-local0000000000000',
                session: () => asked, on: (type, ev) => events.push([type, ev]),
                post: (body) => { bodies.push(body.sender); return Promise.resolve([{text: 'ok'}]); },
            });
            const sending = conv.send({message: 'hi', display: 'hi'});  // waits for the id
            await new Promise((r) => setTimeout(r, 20));
            const before = bodies.length;
            answer({sender: 'web-server000000000000000', token: token});
            await sending;
            return {before, bodies, owner: conv.owner(), stored: JSON.parse(storage.getItem('k')), events};
        }""",
        TOKEN,
    )
    assert result["before"] == 0 and result["bodies"] == ["web-server000000000000000"]
    assert result["owner"] == {"sender": "web-server000000000000000", "token": TOKEN}
    assert (result["stored"]["senderId"], result["stored"]["token"]) == ("web-server000000000000000", TOKEN)
    assert ["identity", {"restarted": False}] in result["events"]


@pytest.mark.parametrize("answer", ["reject404", "rejectNetwork", "nonsense"])
def test_without_a_session_the_widget_keeps_its_own_id(logic_page, answer: str) -> None:
    result = logic_page.evaluate(
        """async (answer) => {
            const w = TMSWidget._internals, bodies = [];
            const session = {
                reject404: () => Promise.reject(Object.assign(new Error('HTTP 404'), {status: 404})),
                rejectNetwork: () => Promise.reject(new TypeError('Failed to fetch')),
                nonsense: () => Promise.resolve({sender: 'not-an-id', token: 'x'}),
            }[answer];
            const conv = w.createConversation({
                store: w.createStore(w.memoryStorage(), 'k'), newId: () => 'web-local0000000000000', session,
                post: (body) => { bodies.push(body.sender); return Promise.resolve([{text: 'ok'}]); },
            });
            const sent = await conv.send({message: 'hi', display: 'hi'});
            return {sent, bodies, owner: conv.owner(), identity: await conv.identity()};
        }""",
        answer,
    )
    assert result == {"sent": True, "bodies": ["web-local0000000000000"], "owner": None, "identity": False}


def test_a_kept_conversation_without_a_token_starts_again(logic_page) -> None:
    result = logic_page.evaluate(
        """async (token) => {
            const w = TMSWidget._internals, storage = w.memoryStorage();
            storage.setItem('k', JSON.stringify({senderId: 'web-old00000000000000000', greeted: true, open: true,
                draft: 'half typed', history: [{from: 'user', text: 'old'}], staff: {active: true, after: 3}}));
            const conv = w.createConversation({
                store: w.createStore(storage, 'k'), post: () => Promise.resolve([]),
                session: () => Promise.resolve({sender: 'web-new00000000000000000', token: token}),
            });
            await conv.identity();
            return {state: conv.state, stored: JSON.parse(storage.getItem('k'))};
        }""",
        TOKEN,
    )
    expected = {"senderId": "web-new00000000000000000", "token": TOKEN, "history": [], "greeted": False,
                "draft": "half typed", "open": True}
    assert result["state"] == expected and result["stored"] == expected


def test_reset_forgets_everything_and_asks_for_a_new_id(logic_page) -> None:
    result = logic_page.evaluate(
        """async (token) => {
            const w = TMSWidget._internals, storage = w.memoryStorage();
            let n = 0;
            const conv = w.createConversation({
                store: w.createStore(storage, 'k'), post: () => Promise.resolve([{text: 'ok'}]),
                session: () => Promise.resolve({sender: 'web-server00000000000000' + (n++), token: token}),
            });
            await conv.send({message: 'hi', display: 'hi'});
            conv.state.open = true;
            const before = conv.owner().sender;
            await conv.reset();
            return {before, state: conv.state, stored: JSON.parse(storage.getItem('k'))};
        }""",
        TOKEN,
    )
    assert result["before"] == "web-server000000000000000"
    assert result["state"] == {"senderId": "web-server000000000000001", "token": TOKEN, "history": [],
                               "greeted": False, "open": True}
    assert result["stored"] == result["state"]


def test_answer_of_and_download_name(logic_page) -> None:
    result = logic_page.evaluate(
        """() => {
            const w = TMSWidget._internals, replies = [{}, {}];
            return {
                good: w.answerOf({answer: {ts: 1750000004.5, index: 1}}, replies),
                none: [null, {}, {answer: null}, {answer: {ts: '1', index: 0}}, {answer: {ts: 1, index: 2}},
                       {answer: {ts: 1, index: -1}}, {answer: {ts: 1, index: 0.5}}, {answer: {ts: -1, index: 0}},
                       {answer: {ts: Infinity, index: 0}}].map((d) => w.answerOf(d, replies)),
                name: w.downloadName(new Date(2025, 0, 5, 23, 59)),
                sessions: [w.validSession({sender: 'web-0123456789abcdef', token: 'ab'.repeat(32)}),
                           w.validSession({sender: 'web-0123456789abcdef', token: 'AB'.repeat(32)}),
                           w.validSession({sender: '+447700900123', token: 'ab'.repeat(32)}), w.validSession(null)],
            };
        }"""
    )
    assert result["good"] == {"ts": 1750000004.5, "index": 1}
    assert result["none"] == [None] * 9
    assert result["name"] == "tms-conversation-2025-01-05.txt"
    assert result["sessions"] == [True, False, False, False]
