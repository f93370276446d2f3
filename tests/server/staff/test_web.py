"""The staff inbox over HTTP: a real Sanic server on a free local port, an aiohttp client.

The channel is mounted with Rasa's own `register` (as `rasa run` does), on a fresh SQLite
database; transcripts come from a fake TranscriptSource and the takeover hooks are recorded.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
import sqlalchemy as sa
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.server.processes import free_port
from bot.server.staff import takeover as takeover_module
from bot.server.staff.accounts import MAX_FAILED_LOGINS, IpLoginLimiter
from bot.server.staff.sessions import IDLE_SECONDS
from bot.server.staff.store import (
    MAX_REPLY_CHARS,
    Handoff,
    HandoffRepository,
    StaffReply,
    staff_audit,
)
from bot.server.staff.takeover import TrackerStoreTranscripts, TranscriptUnavailable
from bot.server.staff.web import SESSION_COOKIE, StaffInboxChannel, StaffStores
from tests.server.staff.conftest import CHEAP_HASHER, PASSWORD, FakeClock

PERSON = "+447700900123"
SCRIPT = "<script>alert(1)</script>"


class FakeTranscripts:
    """Rasa event dicts by sender id, as the tracker store would give them."""

    def __init__(self) -> None:
        self.by_sender: Dict[str, List[Dict[str, Any]]] = {}

    def say(self, sender_id: str, who: str, text: str, timestamp: float) -> None:
        self.by_sender.setdefault(sender_id, []).append(
            {"event": who, "text": text, "timestamp": timestamp}
        )

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        return list(self.by_sender.get(sender_id, []))


@dataclass
class RecordingTakeover:
    calls: List[Tuple[str, str, Optional[str]]] = field(default_factory=list)
    failing: set = field(default_factory=set)

    async def _record(
        self, hook: str, handoff: Handoff, reply: Optional[StaffReply] = None
    ) -> None:
        if hook in self.failing:
            raise RuntimeError("the channel is down")
        self.calls.append((hook, handoff.ref, reply.text if reply else None))

    async def on_claim(self, handoff: Handoff) -> None:
        await self._record("on_claim", handoff)

    async def on_reply(self, handoff: Handoff, reply: StaffReply) -> None:
        await self._record("on_reply", handoff, reply)

    async def on_release(self, handoff: Handoff) -> None:
        await self._record("on_release", handoff)

    async def on_resolve(self, handoff: Handoff) -> None:
        await self._record("on_resolve", handoff)


@dataclass
class Answer:
    status: int
    headers: Any
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def set_cookies(self) -> List[str]:
        return self.headers.getall("Set-Cookie", [])


class Browser:
    """One person's browser: its own cookies, same-origin requests like a real form post."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True)
        )  # unsafe: cookies for an IP

    async def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        kwargs.setdefault("allow_redirects", False)
        async with self.http.request(method, self.base_url + path, **kwargs) as answer:
            return Answer(answer.status, answer.headers, await answer.text())

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, form: Optional[Dict[str, str]] = None, **kwargs: Any) -> Answer:
        headers = {"Origin": self.base_url, **kwargs.pop("headers", {})}
        return await self.request("POST", path, data=form, headers=headers, **kwargs)

    async def csrf(self, path: str = "/staff") -> str:
        return csrf_of((await self.get(path)).text)

    async def login(self, username: str, password: str = PASSWORD) -> Answer:
        token = csrf_of((await self.get("/staff/login")).text)
        return await self.post(
            "/staff/login", {"csrf_token": token, "username": username, "password": password}
        )

    async def act(self, ref: str, action: str, **form: str) -> Answer:
        token = await self.csrf(f"/staff/conversations/{ref}")
        return await self.post(
            f"/staff/conversations/{ref}/{action}", {"csrf_token": token, **form}
        )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)



@dataclass
class Inbox:
    url: str
    stores: StaffStores
    transcripts: FakeTranscripts
    takeover: RecordingTakeover
    app: Sanic
    browsers: List[Browser] = field(default_factory=list)

    @property
    def handoffs(self) -> HandoffRepository:
        return self.stores.handoffs

    def browser(self) -> Browser:
        browser = Browser(self.url)
        self.browsers.append(browser)
        return browser

    async def signed_in(self, username: str) -> Browser:
        browser = self.browser()
        answer = await browser.login(username)
        assert answer.status == 303, answer.text
        return browser

    def audit_actions(self) -> List[Tuple[Optional[str], str]]:
        return [(entry.username, entry.action) for entry in reversed(self.handoffs.audit_log(1000))]


StartInbox = Callable[..., Awaitable[Inbox]]


@pytest.fixture
def stores(engine: sa.engine.Engine, clock: FakeClock) -> StaffStores:
    return StaffStores.from_engine(engine, clock, CHEAP_HASHER)


@pytest.fixture
async def start_inbox(stores: StaffStores, clock: FakeClock) -> AsyncIterator[StartInbox]:
    """Starts the inbox; `accounts=False` leaves it without accounts (off)."""
    # Sanic 21.12 rewrites some of its own methods when an app starts, which fails for the
    # second app in a process unless in test mode. Left on: turning it off again would break
    # any later in-process server the same way.
    Sanic.test_mode = True
    running: List[Tuple[Any, Inbox]] = []

    async def start(
        accounts: bool = True, environ: Optional[Dict[str, str]] = None, **channel: Any
    ) -> Inbox:
        if accounts:
            stores.accounts.add("alice", "Dr Alice Smith", PASSWORD)
            stores.accounts.add("bob", "Bob <b>Jones</b>", PASSWORD)
        transcripts, takeover = FakeTranscripts(), RecordingTakeover()
        channel.setdefault("transcripts", transcripts)
        channel.setdefault("takeover", takeover)
        inbox_channel = StaffInboxChannel(
            stores=stores, environ=environ or {}, clock=clock, **channel
        )
        app = Sanic(f"staff_inbox_test_{uuid.uuid4().hex}")
        register([inbox_channel], app, "/webhooks/")
        port = free_port()
        server = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        inbox = Inbox(f"http://127.0.0.1:{port}", stores, transcripts, takeover, app)
        running.append((server, inbox))
        return inbox

    yield start
    for server, inbox in running:
        for browser in inbox.browsers:
            await browser.http.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
async def inbox(start_inbox: StartInbox) -> Inbox:
    return await start_inbox()


@pytest.fixture
def handoff(inbox: Inbox, clock: FakeClock) -> Handoff:
    opened = inbox.handoffs.open_handoff(PERSON, "twilio", "crisis", urgent=True)
    inbox.transcripts.say(PERSON, "user", "I want to talk to someone", clock.now - 30)
    inbox.transcripts.say(
        PERSON, "bot", "A member of the clinic team will answer here.", clock.now - 29
    )
    return opened


# Which routes need what --------------------------------------------------------------------

SESSION_ROUTES = [
    ("GET", "/staff", "page"),
    ("GET", "/staff/", "page"),
    ("GET", "/staff/audit", "page"),
    ("GET", "/staff/conversations/{ref}", "page"),
    ("GET", "/staff/conversations/{ref}/events?after=0", "json"),
    ("POST", "/staff/conversations/{ref}/claim", "page"),
    ("POST", "/staff/conversations/{ref}/release", "page"),
    ("POST", "/staff/conversations/{ref}/resolve", "page"),
    ("POST", "/staff/conversations/{ref}/reply", "page"),
    ("POST", "/staff/conversations/{ref}/delete", "page"),  # tests/server/privacy/test_staff_delete.py
    ("POST", "/staff/logout", "page"),
]
LOGIN_ROUTES = [("GET", "/staff/login", "page"), ("POST", "/staff/login", "page")]
# Called by the person's own widget, with its secret sender id instead of a staff session.
PERSON_ROUTES = [("GET", "/staff/api/updates?sender=web-0123456789abcdef0123&after=0", "json")]
ACTIONS = ["claim", "release", "resolve", "reply"]


async def test_the_route_lists_cover_every_route(inbox: Inbox) -> None:
    served = {(method, route.path) for route in inbox.app.router.routes for method in route.methods}
    listed = {
        (method, path.split("?")[0].strip("/").replace("{ref}", "<ref:str>"))
        for method, path, _ in SESSION_ROUTES + LOGIN_ROUTES + PERSON_ROUTES
    }
    assert served == listed


async def test_the_inbox_is_at_slash_staff_not_under_webhooks(inbox: Inbox) -> None:
    browser = inbox.browser()
    assert (await browser.get("/staff/login")).status == 200
    assert (await browser.get("/webhooks/staff/login")).status == 404


@pytest.mark.parametrize(("method", "path", "kind"), SESSION_ROUTES + LOGIN_ROUTES + PERSON_ROUTES)
async def test_without_accounts_every_route_is_not_found(
    start_inbox: StartInbox, method: str, path: str, kind: str
) -> None:
    inbox = await start_inbox(accounts=False)
    ref = inbox.handoffs.open_handoff(PERSON, "rest", "crisis", True).ref
    answer = await inbox.browser().request(method, path.format(ref=ref), data={"csrf_token": "x"})
    assert answer.status == 404
    assert "staff" not in answer.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(("method", "path", "kind"), SESSION_ROUTES)
async def test_every_route_needs_a_session(
    inbox: Inbox, handoff: Handoff, method: str, path: str, kind: str
) -> None:
    for cookie in (None, "forged-token", "x" * 500):
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
        form = {"csrf_token": "anything", "text": "hello"} if method == "POST" else None
        answer = await inbox.browser().request(
            method, path.format(ref=handoff.ref), data=form, headers=headers
        )
        if kind == "json":
            assert answer.status == 401, cookie
            assert json.loads(answer.text) == {"error": "Sign in first."}
        else:
            assert answer.status == 303, cookie
            assert answer.location == "/staff/login"
        assert SCRIPT not in answer.text and "talk to someone" not in answer.text
    assert inbox.handoffs.get(handoff.ref) == handoff, "nothing changed"
    assert inbox.handoffs.replies_since(handoff.ref) == []
    assert inbox.takeover.calls == []


async def test_login_sets_a_strict_session_cookie_and_logout_ends_it(inbox: Inbox) -> None:
    browser = inbox.browser()
    page = await browser.get("/staff/login")
    assert page.status == 200 and 'autocomplete="current-password"' in page.text
    login_cookie = next(c for c in page.set_cookies() if c.startswith("staff_login="))
    assert (
        "HttpOnly" in login_cookie
        and "SameSite=Strict" in login_cookie
        and "Secure" not in login_cookie
    )
    answer = await browser.post(
        "/staff/login",
        {"csrf_token": csrf_of(page.text), "username": " Alice ", "password": PASSWORD},
    )
    assert (answer.status, answer.location) == (303, "/staff")
    session_cookie = next(c for c in answer.set_cookies() if c.startswith(f"{SESSION_COOKIE}="))
    assert re.match(rf"{SESSION_COOKIE}=[A-Za-z0-9_-]{{40,}};", session_cookie)
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/staff"):
        assert flag in session_cookie
    assert "Secure" not in session_cookie, "plain http in this test"
    page = await browser.get("/staff")
    assert page.status == 200 and "Signed in as Dr Alice Smith" in page.text
    assert (await browser.get("/staff/login")).location == "/staff", "already signed in"
    answer = await browser.post("/staff/logout", {"csrf_token": csrf_of(page.text)})
    assert (answer.status, answer.location) == (303, "/staff/login")
    assert (await browser.get("/staff")).location == "/staff/login"
    stolen = session_cookie.split(";")[0]
    assert (await inbox.browser().get("/staff", headers={"Cookie": stolen})).status == 303, (
        "the token is dead"
    )
    assert inbox.audit_actions() == [("alice", "login"), ("alice", "logout")]


@pytest.mark.parametrize(
    ("environ", "headers"),
    [
        ({"STAFF_COOKIE_SECURE": "1"}, {}),
        ({}, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}),
    ],
    ids=["by-setting", "by-request"],
)
async def test_cookies_are_secure_over_https(
    start_inbox: StartInbox, environ: Dict[str, str], headers: Dict[str, str]
) -> None:
    inbox = await start_inbox(environ=environ)
    if headers:
        inbox.app.config.PROXIES_COUNT = (
            1  # trust the one proxy in front, as behind TLS termination
        )
    browser = inbox.browser()
    page = await browser.get("/staff/login", headers=headers)
    assert all("Secure" in cookie for cookie in page.set_cookies())


async def test_a_session_ends_after_eight_idle_hours(inbox: Inbox, clock: FakeClock) -> None:
    browser = await inbox.signed_in("alice")
    clock.advance(IDLE_SECONDS - 120)
    assert (await browser.get("/staff")).status == 200, "use keeps it alive"
    clock.advance(IDLE_SECONDS - 1)
    assert (await browser.get("/staff")).status == 200
    clock.advance(IDLE_SECONDS + 1)
    assert (await browser.get("/staff")).location == "/staff/login"


async def test_wrong_passwords_lock_the_account(inbox: Inbox) -> None:
    browser = inbox.browser()
    for attempt in range(MAX_FAILED_LOGINS - 1):
        answer = await browser.login("alice", "not the password")
        assert answer.status == 401, attempt
        assert "The username or password is not right." in answer.text
        assert SESSION_COOKIE not in answer.headers.get("Set-Cookie", "")
    answer = await browser.login("alice", "not the password")
    assert answer.status == 429 and "locked for 15 minutes" in answer.text
    answer = await browser.login("alice", PASSWORD)
    assert answer.status == 429, "locked even for the right password"
    assert (await browser.get("/staff")).location == "/staff/login"
    assert (await inbox.browser().login("nobody", PASSWORD)).status == 401
    actions = inbox.audit_actions()
    assert actions.count(("alice", "login_failed")) == MAX_FAILED_LOGINS - 1
    assert actions.count(("alice", "login_locked")) == 2
    assert ("nobody", "login_failed") in actions
    assert (await inbox.browser().login("bob")).status == 303, "other accounts are not affected"


async def test_one_address_cannot_keep_guessing(start_inbox: StartInbox) -> None:
    inbox = await start_inbox(ip_limiter=IpLoginLimiter(max_failures=3))
    browser = inbox.browser()
    for username in ("alice", "bob", "carol"):
        assert (await browser.login(username, "guess guess guess")).status == 401
    answer = await browser.login("bob", PASSWORD)
    assert answer.status == 429 and "from this network" in answer.text


@pytest.mark.parametrize(
    ("form", "cookie", "headers"),
    [
        ({"username": "alice", "password": PASSWORD}, True, {}),
        ({"csrf_token": "forged", "username": "alice", "password": PASSWORD}, True, {}),
        ({"csrf_token": "from-page", "username": "alice", "password": PASSWORD}, False, {}),
        (
            {"csrf_token": "from-page", "username": "alice", "password": PASSWORD},
            True,
            {"Origin": "https://evil.example"},
        ),
        (
            {"csrf_token": "from-page", "username": "alice", "password": PASSWORD},
            True,
            {"Origin": "null"},
        ),
        (
            {"csrf_token": "from-page", "username": "alice", "password": PASSWORD},
            True,
            {"Sec-Fetch-Site": "cross-site"},
        ),
    ],
    ids=["missing-token", "forged-token", "no-cookie", "other-origin", "null-origin", "cross-site"],
)
async def test_a_forged_login_is_refused(
    inbox: Inbox, form: Dict[str, str], cookie: bool, headers: Dict[str, str]
) -> None:
    browser = inbox.browser()
    page = await browser.get("/staff/login")
    if not cookie:
        browser.http.cookie_jar.clear()
    form = (
        {**form, "csrf_token": csrf_of(page.text)}
        if form.get("csrf_token") == "from-page"
        else form
    )
    answer = await browser.post("/staff/login", form, headers=headers)
    assert answer.status == 403
    assert (await browser.get("/staff")).location == "/staff/login"
    assert inbox.audit_actions() == []


FORGERIES = {
    "missing": (None, {}),
    "forged": ("forged", {}),
    "another session's": ("bob's", {}),
    "other origin": ("alice's", {"Origin": "https://evil.example"}),
    "cross-site fetch": ("alice's", {"Sec-Fetch-Site": "cross-site"}),
}


@pytest.mark.parametrize("action", ACTIONS + ["logout"])
async def test_posts_without_the_sessions_csrf_token_are_refused(
    inbox: Inbox, handoff: Handoff, action: str
) -> None:
    alice = await inbox.signed_in("alice")
    bob = await inbox.signed_in("bob")
    if action != "claim":
        assert inbox.handoffs.claim(handoff.ref, "alice")
    before = inbox.handoffs.get(handoff.ref)
    tokens = {
        "alice's": await alice.csrf(),
        "bob's": await bob.csrf(),
        "forged": "A" * 43,
        None: None,
    }
    path = "/staff/logout" if action == "logout" else f"/staff/conversations/{handoff.ref}/{action}"
    for forgery, (token, headers) in FORGERIES.items():
        form = {"text": "Hello from the clinic"}
        if tokens[token] is not None:
            form["csrf_token"] = tokens[token]
        answer = await alice.post(path, form, headers=headers)
        assert answer.status == 403 and "nothing was done" in answer.text, forgery
    assert inbox.handoffs.get(handoff.ref) == before
    assert inbox.handoffs.replies_since(handoff.ref) == []
    assert inbox.takeover.calls == []
    assert (await alice.get("/staff")).status == 200, "still signed in"
    answer = await alice.post(path, {"csrf_token": tokens["alice's"], "text": "Hello"})
    assert answer.status == 303, "the same post with the right token works"


async def test_the_inbox_lists_urgent_first_with_reason_channel_and_wait(
    inbox: Inbox, clock: FakeClock
) -> None:
    calm = inbox.handoffs.open_handoff("web-1", "website", "asked_for_person", False)
    clock.advance(25 * 60)
    urgent = inbox.handoffs.open_handoff("tg-1", "telegram", "crisis", True)
    taken = inbox.handoffs.open_handoff("web-2", "rest", "repeated_misses", False)
    inbox.handoffs.claim(taken.ref, "bob")
    done = inbox.handoffs.open_handoff("web-3", "rest", "asked_for_person", False)
    inbox.handoffs.resolve(done.ref, "alice")
    page = (await (await inbox.signed_in("alice")).get("/staff")).text
    waiting = page[page.index('id="waiting-heading"') : page.index('id="claimed-heading"')]
    assert "Waiting for a professional (2)" in waiting
    assert waiting.index(urgent.ref) < waiting.index(calm.ref)
    assert "Possible crisis" in waiting and "Telegram" in waiting and "Urgent" in waiting
    assert "Asked for a person" in waiting and "Website" in waiting and "25 min" in waiting
    claimed = page[page.index('id="claimed-heading"') : page.index('id="resolved-heading"')]
    assert taken.ref in claimed and "Bob &lt;b&gt;Jones&lt;/b&gt;" in claimed
    assert done.ref in page[page.index('id="resolved-heading"') :]
    for sender in ("web-1", "tg-1", "web-2", "web-3"):
        assert sender not in page, "sender ids (phone numbers) are not shown"


async def test_the_transcript_escapes_what_people_write(
    inbox: Inbox, handoff: Handoff, clock: FakeClock
) -> None:
    inbox.transcripts.say(
        PERSON, "user", f"hello {SCRIPT} <img src=x onerror=alert(2)> & bye", clock.now
    )
    inbox.transcripts.say(PERSON, "user", "\u200b\x07", clock.now)  # nothing visible: not shown
    browser = await inbox.signed_in("alice")
    page = await browser.get(f"/staff/conversations/{handoff.ref}")
    assert page.status == 200
    assert (
        "hello &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; &amp; bye"
        in page.text
    )
    assert SCRIPT not in page.text and "<img" not in page.text
    assert page.text.count('class="msg ') == 3
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert (
        page.headers["Cache-Control"] == "no-store"
        and page.headers["Referrer-Policy"] == "same-origin"
    )
    events = await browser.get(f"/staff/conversations/{handoff.ref}/events?after=2")
    assert events.headers["Content-Type"].startswith("application/json")
    assert "<" not in events.text
    assert json.loads(events.text)["messages"][0]["text"].startswith(f"hello {SCRIPT}")
    assert ("alice", "view_transcript") in inbox.audit_actions()


async def test_polling_returns_only_new_messages(
    inbox: Inbox, handoff: Handoff, clock: FakeClock
) -> None:
    browser = await inbox.signed_in("alice")
    first = json.loads(
        (await browser.get(f"/staff/conversations/{handoff.ref}/events?after=0")).text
    )
    assert [m["author"] for m in first["messages"]] == ["person", "assistant"]
    assert (first["next"], first["reset"], first["state"]) == (2, False, "waiting:")
    inbox.transcripts.say(PERSON, "user", "are you there?", clock.now + 1)
    inbox.handoffs.claim(handoff.ref, "bob")
    later = json.loads(
        (await browser.get(f"/staff/conversations/{handoff.ref}/events?after=2")).text
    )
    assert [m["text"] for m in later["messages"]] == ["are you there?"]
    assert later["next"] == 3 and later["state_text"] == "claimed by Bob <b>Jones</b>"
    reset = json.loads(
        (await browser.get(f"/staff/conversations/{handoff.ref}/events?after=99")).text
    )
    assert reset["reset"] and len(reset["messages"]) == 3
    for bad in ("-1", "abc", "1.5", "%EF%BC%91", "99999999999"):
        answer = await browser.get(f"/staff/conversations/{handoff.ref}/events?after={bad}")
        assert answer.status == 400, bad
    missing = await browser.get("/staff/conversations/AAAAAAAAAAAAAAAAAAAAAAAA/events?after=0")
    assert missing.status == 404


async def test_a_claim_by_one_professional_blocks_another(inbox: Inbox, handoff: Handoff) -> None:
    alice = await inbox.signed_in("alice")
    bob = await inbox.signed_in("bob")
    answer = await alice.act(handoff.ref, "claim")
    assert (answer.status, answer.location) == (
        303,
        f"/staff/conversations/{handoff.ref}?done=claimed",
    )
    page = await alice.get(answer.location)
    assert "You are looking after this conversation now" in page.text and 'name="text"' in page.text
    bob_page = await bob.get(f"/staff/conversations/{handoff.ref}")
    assert 'name="text"' not in bob_page.text and "/claim" not in bob_page.text
    assert "Dr Alice Smith is looking after this conversation." in bob_page.text
    for action in ACTIONS:
        token = await bob.csrf()
        answer = await bob.post(
            f"/staff/conversations/{handoff.ref}/{action}", {"csrf_token": token, "text": "hi"}
        )
        assert answer.status == 409, action
    assert inbox.handoffs.get(handoff.ref).claimed_by == "alice"
    assert inbox.handoffs.replies_since(handoff.ref) == []
    assert inbox.takeover.calls == [("on_claim", handoff.ref, None)]
    assert ("bob", "claim_refused") in inbox.audit_actions()


async def test_a_reply_is_stored_and_handed_to_the_takeover(inbox: Inbox, handoff: Handoff) -> None:
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    text = "Hello, I'm Alice, a nurse at the clinic.\nAre you safe right now? <b>yes</b>"
    answer = await alice.act(handoff.ref, "reply", text="  " + text + "\u200b\x00 ")
    assert (answer.status, answer.location) == (
        303,
        f"/staff/conversations/{handoff.ref}?done=sent",
    )
    [reply] = inbox.handoffs.replies_since(handoff.ref)
    assert (reply.text, reply.username, reply.display_name) == (text, "alice", "Dr Alice Smith")
    assert inbox.takeover.calls[-1] == ("on_reply", handoff.ref, text)
    page = await alice.get(answer.location)
    assert "Your reply was sent." in page.text
    assert "Are you safe right now? &lt;b&gt;yes&lt;/b&gt;" in page.text
    assert page.text.index("A member of the clinic team") < page.text.index(
        "Are you safe right now?"
    )
    with inbox.handoffs.engine.connect() as connection:
        audit_rows = [str(tuple(row)) for row in connection.execute(sa.select(staff_audit))]
    assert not any("nurse" in row or "safe" in row for row in audit_rows), (
        "no message text in the audit"
    )
    assert ("alice", "reply") in inbox.audit_actions()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("text=", "application/x-www-form-urlencoded", 400, "Write a reply before sending it."),
        (
            "text=%E2%80%8B%00%20",
            "application/x-www-form-urlencoded",
            400,
            "Write a reply before sending it.",
        ),
        (
            "text=" + "a" * (MAX_REPLY_CHARS + 1),
            "application/x-www-form-urlencoded",
            400,
            "the most is 2,000",
        ),
        ("text=%FF%FE", "application/x-www-form-urlencoded", 400, "not valid UTF-8"),
        ("text=a&text=b", "application/x-www-form-urlencoded", 400, "more than once"),
        ("", "application/x-www-form-urlencoded", 400, "no text field"),
        ('{"text": "hi"}', "application/json", 415, "must be a form post"),
        ("text=" + "a" * 40_000, "application/x-www-form-urlencoded", 413, "larger than 32 KB"),
    ],
    ids=["empty", "invisible", "too-long", "bad-utf8", "twice", "no-field", "json", "huge"],
)
async def test_bad_replies_get_a_clear_4xx(
    inbox: Inbox, handoff: Handoff, body: str, content_type: str, status: int, message: str
) -> None:
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    token = await alice.csrf()
    raw = f"csrf_token={token}&{body}" if content_type.endswith("urlencoded") else body
    answer = await alice.request(
        "POST",
        f"/staff/conversations/{handoff.ref}/reply",
        data=raw.rstrip("&").encode(),
        headers={"Content-Type": content_type, "Origin": inbox.url},
    )
    assert answer.status == status
    assert message in answer.text
    assert inbox.handoffs.replies_since(handoff.ref) == []
    assert [call[0] for call in inbox.takeover.calls] == ["on_claim"]


async def test_a_reply_of_exactly_the_limit_with_odd_unicode_is_kept(
    inbox: Inbox, handoff: Handoff
) -> None:
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    text = ("e\u0301" + "😀" * 9 + "x")[:11] * (MAX_REPLY_CHARS // 11) + "ok"
    assert await alice.act(handoff.ref, "reply", text=text)
    [reply] = inbox.handoffs.replies_since(handoff.ref)
    assert reply.text.startswith("\u00e9😀") and len(reply.text) <= MAX_REPLY_CHARS, (
        "NFC-normalised"
    )


async def test_release_and_resolve_tell_the_takeover(inbox: Inbox, handoff: Handoff) -> None:
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    answer = await alice.act(handoff.ref, "release")
    assert answer.status == 303 and inbox.handoffs.get(handoff.ref).status == "waiting"
    bob = await inbox.signed_in("bob")
    await bob.act(handoff.ref, "claim")
    answer = await bob.act(handoff.ref, "resolve")
    assert (answer.status, answer.location) == (
        303,
        f"/staff/conversations/{handoff.ref}?done=resolved",
    )
    resolved = inbox.handoffs.get(handoff.ref)
    assert (resolved.status, resolved.claimed_by) == ("resolved", "bob")
    assert [call[0] for call in inbox.takeover.calls] == [
        "on_claim",
        "on_release",
        "on_claim",
        "on_resolve",
    ]
    page = await bob.get(answer.location)
    assert "This conversation is resolved by Bob &lt;b&gt;Jones&lt;/b&gt;" in page.text
    assert 'name="text"' not in page.text and "<script>" not in page.text, (
        "no polling once resolved"
    )
    assert (await bob.act(handoff.ref, "claim")).status == 409
    actions = inbox.audit_actions()
    for expected in [
        ("alice", "claim"),
        ("alice", "release"),
        ("bob", "claim"),
        ("bob", "resolve"),
    ]:
        assert expected in actions


async def test_a_failed_takeover_leaves_the_conversation_waiting(
    inbox: Inbox, handoff: Handoff
) -> None:
    inbox.takeover.failing.add("on_claim")
    alice = await inbox.signed_in("alice")
    answer = await alice.act(handoff.ref, "claim")
    assert answer.status == 502 and "still waiting" in answer.text
    assert inbox.handoffs.get(handoff.ref).status == "waiting"
    assert ("alice", "takeover_failed") in inbox.audit_actions()


async def test_unknown_conversations_are_not_found(inbox: Inbox) -> None:
    alice = await inbox.signed_in("alice")
    for ref in ("AAAAAAAAAAAAAAAAAAAAAAAA", "..%2F..%2Fetc", "%3Cscript%3E", "a" * 300):
        answer = await alice.get(f"/staff/conversations/{ref}")
        assert answer.status == 404 and "No such conversation" in answer.text
        assert "<script>" not in answer.text
        assert (await alice.act("AAAAAAAAAAAAAAAAAAAAAAAA", "claim")).status == 404


async def test_the_audit_page_shows_actions_escaped(inbox: Inbox, handoff: Handoff) -> None:
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    inbox.handoffs.audit("alice", "note", handoff.ref, SCRIPT)
    page = await alice.get("/staff/audit")
    assert page.status == 200
    assert "view_transcript" in page.text and ">claim<" in page.text
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text


async def test_transcripts_from_the_rasa_tracker_store(
    start_inbox: StartInbox, clock: FakeClock
) -> None:
    """The default TranscriptSource reads app.ctx.agent.tracker_store, all sessions."""
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    inbox = await start_inbox(transcripts=None)
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker(PERSON, [])
    for event in [
        UserUttered("first session", timestamp=clock.now - 90),
        SessionStarted(timestamp=clock.now - 60),
        UserUttered(f"second {SCRIPT}", timestamp=clock.now - 50),
        BotUttered("Someone will answer", timestamp=clock.now - 49),
        BotUttered("relayed staff reply", metadata={"staff_reply_id": 1}, timestamp=clock.now - 10),
    ]:
        tracker.update(event)
    await store.save(tracker)
    alice = await inbox.signed_in("alice")
    ref = inbox.handoffs.open_handoff(PERSON, "rest", "crisis", True).ref
    page = await alice.get(f"/staff/conversations/{ref}")
    assert "The conversation cannot be read yet" in page.text, "no agent loaded yet"
    inbox.app.ctx.agent = SimpleNamespace(tracker_store=store)
    page = await alice.get(f"/staff/conversations/{ref}")
    texts = re.findall(r'<p class="text">(.*?)</p>', page.text)
    assert texts == [
        "first session",
        "second &lt;script&gt;alert(1)&lt;/script&gt;",
        "Someone will answer",
    ]
    assert await TrackerStoreTranscripts(inbox.app).events("nobody") == []
    with pytest.raises(TranscriptUnavailable):
        await TrackerStoreTranscripts(SimpleNamespace(ctx=SimpleNamespace())).events(PERSON)


class _Structure(HTMLParser):
    """What the accessibility checks need from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: List[Tuple[str, Dict[str, Optional[str]]]] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        self.tags.append((tag, dict(attrs)))


def check_accessible_structure(html: str) -> None:
    parsed = _Structure()
    parsed.feed(html)
    tags = parsed.tags
    assert ("html", {"lang": "en"}) in tags
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in tags), "usable on a phone"
    assert [t for t, _ in tags].count("h1") == 1 and [t for t, _ in tags].count("main") == 1
    assert any(t == "a" and a.get("class") == "skip" for t, a in tags)
    labelled = {a.get("for") for t, a in tags if t == "label"}
    for tag, attrs in tags:
        if tag in ("input", "textarea", "select") and attrs.get("type") != "hidden":
            assert attrs.get("id") in labelled, f"{tag} {attrs} has no label"
        if tag in ("script", "link", "img"):
            assert not (attrs.get("src") or attrs.get("href") or "").startswith(("http", "//")), (
                "no external assets"
            )


async def test_pages_have_landmarks_headings_and_labels(inbox: Inbox, handoff: Handoff) -> None:
    check_accessible_structure((await inbox.browser().get("/staff/login")).text)
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    for path in ("/staff", "/staff/audit", f"/staff/conversations/{handoff.ref}"):
        page = await alice.get(path)
        check_accessible_structure(page.text)
        assert '<nav aria-label="Staff inbox">' in page.text


async def test_without_a_live_takeover_nobody_is_told_a_reply_was_sent(
    start_inbox: StartInbox,
) -> None:
    inbox = await start_inbox(takeover=None)
    ref = inbox.handoffs.open_handoff(PERSON, "twilio", "crisis", True).ref
    alice = await inbox.signed_in("alice")
    page = await alice.get(f"/staff/conversations/{ref}")
    assert "Live takeover is not set up on this server." in page.text
    await alice.act(ref, "claim")
    answer = await alice.act(ref, "reply", text="Are you safe?")
    page = await alice.get(answer.location)
    assert "NOT delivered" in page.text and "Your reply was sent." not in page.text
    assert len(inbox.handoffs.replies_since(ref)) == 1, "kept in the outbox for later delivery"


async def test_configure_sets_the_takeover_for_channels_without_their_own(
    start_inbox: StartInbox,
) -> None:
    configured = RecordingTakeover()
    takeover_module.configure(takeover=configured)
    try:
        inbox = await start_inbox(takeover=None)
        ref = inbox.handoffs.open_handoff(PERSON, "twilio", "crisis", True).ref
        alice = await inbox.signed_in("alice")
        page = await alice.get(f"/staff/conversations/{ref}")
        assert "Live takeover is not set up" not in page.text
        await alice.act(ref, "claim")
        assert configured.calls == [("on_claim", ref, None)]
    finally:
        takeover_module.configure(takeover=None)
    assert takeover_module.configured_takeover() is None


# --- The person's widget: replies from the professional ------------------------------

WIDGET_PERSON = "web-" + "5f" * 16


async def test_the_widget_gets_its_own_replies_and_the_end(inbox: Inbox) -> None:
    handoff = inbox.handoffs.open_handoff(WIDGET_PERSON, "website", "asked_for_person", urgent=False)
    person = inbox.browser()
    waiting = await person.get(f"/staff/api/updates?sender={WIDGET_PERSON}&after=0")
    assert waiting.status == 200 and json.loads(waiting.text) == {"status": "waiting", "replies": []}
    assert waiting.headers["Cache-Control"] == "no-store"
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    await alice.act(handoff.ref, "reply", text="Hello, I'm Alice. <b>How</b> can I help?")
    await alice.act(handoff.ref, "reply", text="Are you safe right now?")
    first, second = inbox.handoffs.replies_since(handoff.ref)
    answer = json.loads((await person.get(f"/staff/api/updates?sender={WIDGET_PERSON}&after=0")).text)
    assert answer == {"status": "claimed", "replies": [
        {"id": first.id, "name": "Dr Alice Smith", "text": "Hello, I'm Alice. <b>How</b> can I help?"},
        {"id": second.id, "name": "Dr Alice Smith", "text": "Are you safe right now?"},
    ]}
    later = json.loads((await person.get(f"/staff/api/updates?sender={WIDGET_PERSON}&after={first.id}")).text)
    assert [r["id"] for r in later["replies"]] == [second.id]
    await alice.act(handoff.ref, "resolve")
    done = json.loads((await person.get(f"/staff/api/updates?sender={WIDGET_PERSON}&after={second.id}")).text)
    assert done["status"] == "resolved" and done["replies"] == []


async def test_other_people_and_guessable_ids_get_nothing(inbox: Inbox, handoff: Handoff) -> None:
    person = inbox.browser()
    stranger = json.loads((await person.get("/staff/api/updates?sender=web-" + "a1" * 16 + "&after=0")).text)
    assert stranger == {"status": "none", "replies": []}
    # The handoff fixture is an SMS conversation: a phone number is not a widget id.
    for query in (f"sender={PERSON}&after=0", "sender=web-1&after=0", f"sender={WIDGET_PERSON}&after=-1",
                  f"sender={WIDGET_PERSON}&after=x", "after=0", "",
                  f"sender={WIDGET_PERSON}&after=" + "9" * 40, "sender=" + "w" * 5000 + "&after=0"):
        answer = await person.get(f"/staff/api/updates?{query}")
        assert answer.status == 400, query
        assert "Hello" not in answer.text


@pytest.mark.parametrize("path", ["/staff/signup", "/staff/register", "/staff/accounts", "/staff/users",
                                  "/staff/login/new", "/webhooks/staff/accounts"])
async def test_no_account_can_be_made_over_http(inbox: Inbox, path: str) -> None:
    before = sorted(a.username for a in inbox.stores.accounts.list())
    alice = await inbox.signed_in("alice")  # not even by a signed-in professional
    for browser in (inbox.browser(), alice):
        answer = await browser.request("POST", path, data={"username": "mallory", "password": "p" * 20,
                                                          "name": "Mallory", "csrf_token": "x"})
        assert answer.status in (404, 405), path
    assert sorted(a.username for a in inbox.stores.accounts.list()) == before


# --- Bad bodies: no post gives a 5xx, and the inbox still works after ------------------------

FORM = "application/x-www-form-urlencoded"
NOT_A_FORM = "The request must be a form post (application/x-www-form-urlencoded)."
UNREADABLE = "The form could not be read: it is not valid UTF-8 or has too many fields."
MULTIPART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--b0undary--\r\n'
)
# (case, body, Content-Type: None sends none, status, what the page says). A body that can be
# read but carries no valid CSRF token is a forged post: 403, nothing done.
BAD_POSTS = [
    ("deep-nesting-json", b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 415, NOT_A_FORM),
    ("deep-nesting-form", b"text=" + b"%5B" * 5000, FORM, 403, None),
    ("huge-form", b"text=" + b"a" * 1_000_000, FORM, 413, "The form is larger than 32 KB."),
    ("invalid-utf8", b"text=\xff\xfe", FORM, 400, UNREADABLE),
    ("utf16-with-bom", "text=hello".encode("utf-16"), FORM, 400, UNREADABLE),
    ("encoded-surrogate", b"text=%ED%A0%80", FORM, 400, UNREADABLE),
    ("too-many-fields", b"&".join(b"f%d=1" % n for n in range(11)), FORM, 400, UNREADABLE),
    ("raw-nul", b"text=he\x00llo", FORM, 403, None),
    ("text-plain", b"text=hello", "text/plain", 415, NOT_A_FORM),
    ("json", b'{"text": "hello"}', "application/json", 415, NOT_A_FORM),
    ("multipart", MULTIPART, "multipart/form-data; boundary=b0undary", 415, NOT_A_FORM),
    ("no-content-type", b"text=hello", None, 415, NOT_A_FORM),
    ("empty", b"", FORM, 403, None),
]
BAD_POST_IDS = [case[0] for case in BAD_POSTS]


async def post_raw(browser: Browser, path: str, body: bytes, content_type: Optional[str], base: str) -> Answer:
    headers = {"Origin": base}
    if content_type is not None:
        headers["Content-Type"] = content_type
    skip = ["Content-Type"] if content_type is None else []  # aiohttp would say octet-stream
    return await browser.request("POST", path, data=body, headers=headers, skip_auto_headers=skip)


@pytest.mark.parametrize(("case", "body", "content_type", "status", "message"), BAD_POSTS, ids=BAD_POST_IDS)
async def test_bad_login_posts_get_a_clear_4xx_and_signing_in_still_works(
    inbox: Inbox, case: str, body: bytes, content_type: Optional[str], status: int, message: Optional[str]
) -> None:
    browser = inbox.browser()
    await browser.get("/staff/login")  # the login form's cookie, as a real browser has it
    answer = await post_raw(browser, "/staff/login", body, content_type, inbox.url)
    assert answer.status == status
    assert (message or "The sign-in form had expired. Please try again.") in answer.text
    assert 'name="csrf_token"' in answer.text, "the login form again, to try once more"
    assert inbox.audit_actions() == []
    assert (await browser.login("alice")).status == 303


@pytest.mark.parametrize(("case", "body", "content_type", "status", "message"), BAD_POSTS, ids=BAD_POST_IDS)
async def test_bad_staff_posts_get_a_clear_4xx_and_nothing_is_done(
    inbox: Inbox, handoff: Handoff, case: str, body: bytes, content_type: Optional[str], status: int,
    message: Optional[str],
) -> None:
    alice = await inbox.signed_in("alice")
    await alice.act(handoff.ref, "claim")
    path = f"/staff/conversations/{handoff.ref}/reply"
    answer = await post_raw(alice, path, body, content_type, inbox.url)
    assert answer.status == status
    assert (message or "nothing was done") in answer.text
    assert inbox.handoffs.replies_since(handoff.ref) == []
    assert [call[0] for call in inbox.takeover.calls] == ["on_claim"]
    assert (await alice.act(handoff.ref, "reply", text="Still here.")).status == 303
    assert [reply.text for reply in inbox.handoffs.replies_since(handoff.ref)] == ["Still here."]


@pytest.mark.parametrize(("case", "body", "content_type", "status", "message"), BAD_POSTS, ids=BAD_POST_IDS)
async def test_the_widgets_update_route_ignores_bodies_and_refuses_posts(
    inbox: Inbox, case: str, body: bytes, content_type: Optional[str], status: int, message: Optional[str]
) -> None:
    person = inbox.browser()
    path = f"/staff/api/updates?sender={WIDGET_PERSON}&after=0"
    answer = await person.request("GET", path, data=body or None)
    assert (answer.status, json.loads(answer.text)) == (200, {"status": "none", "replies": []})
    assert (await post_raw(person, path, body, content_type, inbox.url)).status == 405
