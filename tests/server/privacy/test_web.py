"""The person's API over HTTP: a real Sanic server on a free port (the channel mounted with
Rasa's own `register`, as `rasa run` does), a real SQLite tracker store, an aiohttp client."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.server.privacy.body import MAX_BODY_BYTES
from bot.server.privacy.limiter import RateLimiter
from bot.server.privacy.tokens import token_for
from bot.server.privacy.transcript import export_conversation
from bot.server.privacy.web import PrivacyChannel
from bot.server.processes import free_port
from tests.server.privacy.conftest import (
    FAQ_TURN,
    GREETING_TURN,
    START,
    FakeClock,
    Stores,
    conversation,
)
from tests.server.privacy.test_feedback import CRISIS_TURN

SECRET = b"k" * 32
PERSON = "web-0123456789abcdef0123456789abcdef"
STRANGER = "web-fedcba9876543210fedcba9876543210"
OWNER_ROUTES = ["delete", "export", "answer", "feedback"]
FAQ_ANSWER_TS = START + 4.5  # GREETING_TURN then FAQ_TURN: the FAQ answer



@dataclass
class Answer:
    status: int
    headers: Any
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Api:
    url: str
    stores: Stores
    http: aiohttp.ClientSession
    limiter_clock: List[float] = field(default_factory=lambda: [0.0])

    async def post(
        self, route: str, body: Any = None, *, raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None
    ) -> Answer:
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        async with self.http.post(f"{self.url}/privacy/api/{route}", data=data, headers=sent_headers) as answer:
            return Answer(answer.status, answer.headers, await answer.text())

    async def owned(self, route: str, sender: str = PERSON, **fields: Any) -> Answer:
        return await self.post(route, {"sender": sender, "token": token_for(SECRET, sender), **fields})


@pytest.fixture
async def api(sqlite_stores: Stores, clock: FakeClock) -> AsyncIterator[Api]:
    Sanic.test_mode = True  # see tests/server/staff/test_web.py
    limiter_clock = [0.0]
    channel = PrivacyChannel(
        eraser=sqlite_stores.eraser,
        secret=SECRET,
        limiter=RateLimiter(limit=20, window=60, clock=lambda: limiter_clock[0]),
        environ={},
        clock=clock,
    )
    app = Sanic(f"privacy_test_{uuid.uuid4().hex}")
    register([channel], app, "/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    http = aiohttp.ClientSession()
    yield Api(f"http://127.0.0.1:{port}", sqlite_stores, http, limiter_clock)
    await http.close()
    server.close()
    await server.wait_closed()


async def test_the_routes_are_at_slash_privacy(api: Api) -> None:
    async with api.http.get(f"{api.url}/privacy/api/session") as answer:
        assert answer.status == 405
    async with api.http.post(f"{api.url}/webhooks/privacy/api/session") as answer:
        assert answer.status == 404


async def test_a_session_gives_a_new_sender_and_its_token(api: Api) -> None:
    first = await api.post("session", raw=b"", headers={"Content-Type": ""})
    second = await api.post("session", {})
    assert first.status == second.status == 200
    body = first.json()
    assert body["token"] == token_for(SECRET, body["sender"]) and body["sender"].startswith("web-")
    assert body["sender"] != second.json()["sender"]
    assert first.headers["Cache-Control"] == "no-store"
    assert (await api.post("session", raw=b"x=1", headers={"Content-Type": "application/x-www-form-urlencoded"})).status == 415


@pytest.mark.parametrize("route", OWNER_ROUTES)
async def test_without_or_with_a_wrong_token_nothing_is_done(api: Api, route: str) -> None:
    await api.stores.save_async(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN]))
    extra = {"answer_ts": FAQ_ANSWER_TS, "helpful": True} if route == "feedback" else {}
    cases = [
        ({"sender": PERSON, **extra}, 401),
        ({"sender": PERSON, "token": "", **extra}, 401),
        ({"sender": PERSON, "token": None, **extra}, 401),
        ({"sender": PERSON, "token": "0" * 64, **extra}, 403),
        ({"sender": PERSON, "token": token_for(SECRET, STRANGER), **extra}, 403),
        ({"sender": PERSON, "token": token_for(b"x" * 32, PERSON), **extra}, 403),
        ({"sender": PERSON, "token": 12345, **extra}, 400),
    ]
    for body, status in cases:
        answer = await api.post(route, body)
        assert answer.status == status, body
        assert set(answer.json()) == {"error"}
    assert api.stores.count("events") == len(conversation(START, [GREETING_TURN, FAQ_TURN]))
    assert api.stores.count("answer_feedback") == 0


@pytest.mark.parametrize("route", ["session", *OWNER_ROUTES])
async def test_bad_bodies_get_exact_statuses(api: Api, route: str) -> None:
    token = token_for(SECRET, PERSON)
    cases = [
        (b"x" * (MAX_BODY_BYTES + 1), "application/json", 413),
        (json.dumps({"sender": PERSON, "token": token, "pad": "x" * MAX_BODY_BYTES}).encode(), "application/json", 413),
        (b"sender=web-1&token=2", "application/x-www-form-urlencoded", 415),
        (b'{"sender": "web-1"}', "text/plain", 415),
        (b"{not json", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[" * 1020 + b"]" * 1020, "application/json", 400),
        (b'["a", "b"]', "application/json", 400),
        (b'"text"', "application/json", 400),
        (json.dumps({"sender": {"id": PERSON}, "token": token}).encode(), "application/json", 400),
        (json.dumps({"sender": PERSON, "token": [token]}).encode(), "application/json", 400),
        (json.dumps({"a": {"b": {"c": {"d": [1, [2, [3]]]}}}}).encode(), "application/json", 400),
    ]
    if route != "session":
        cases += [
            (b"", "application/json", 400),
            (b"{}", "application/json", 400),
            (json.dumps({"sender": 42, "token": token}).encode(), "application/json", 400),
            (json.dumps({"sender": "web-short", "token": token}).encode(), "application/json", 400),
            (json.dumps({"sender": "+447700900123", "token": token}).encode(), "application/json", 400),
        ]
    for raw, content_type, status in cases:
        answer = await api.post(route, raw=raw, headers={"Content-Type": content_type})
        assert answer.status == status, (raw[:60], content_type)
        assert set(answer.json()) == {"error"} and answer.json()["error"]


async def test_feedback_fields_are_checked(api: Api) -> None:
    await api.stores.save_async(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN]))
    for fields, status in [
        ({"helpful": True}, 400),
        ({"answer_ts": "1750000004.5", "helpful": True}, 400),
        ({"answer_ts": True, "helpful": True}, 400),
        ({"answer_ts": -1, "helpful": True}, 400),
        ({"answer_ts": FAQ_ANSWER_TS}, 400),
        ({"answer_ts": FAQ_ANSWER_TS, "helpful": "yes"}, 400),
        ({"answer_ts": FAQ_ANSWER_TS, "helpful": 1}, 400),
        ({"answer_ts": FAQ_ANSWER_TS + 0.25, "helpful": True}, 404),
        ({"answer_ts": FAQ_ANSWER_TS + 1, "helpful": True}, 409),  # the referral after it
        ({"answer_ts": START + 2.5, "helpful": True}, 409),  # the greeting
    ]:
        answer = await api.owned("feedback", **fields)
        assert answer.status == status, fields
    assert api.stores.count("answer_feedback") == 0


async def test_rating_an_answer_and_changing_the_rating(api: Api, clock: FakeClock) -> None:
    await api.stores.save_async(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN]))
    latest = await api.owned("answer")
    assert latest.status == 200 and latest.json() == {"answer": {"ts": FAQ_ANSWER_TS, "index": 0}}
    answer = await api.owned("feedback", answer_ts=FAQ_ANSWER_TS, helpful=True)
    assert answer.status == 200
    assert answer.json() == {"stored": True, "answer_ts": FAQ_ANSWER_TS, "helpful": True}
    clock.now += 5
    assert (await api.owned("feedback", answer_ts=FAQ_ANSWER_TS, helpful=False)).status == 200
    with api.stores.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT sender_id, answer_ts, topic, helpful, updated_at FROM answer_feedback").fetchall()
    assert [tuple(row) for row in rows] == [(PERSON, FAQ_ANSWER_TS, "utter_faq/session_length", 0, START + 5)]
    # Nobody else's conversation has that answer.
    assert (await api.owned("feedback", sender=STRANGER, answer_ts=FAQ_ANSWER_TS, helpful=True)).status == 404


async def test_a_crisis_turn_offers_nothing_to_rate(api: Api) -> None:
    await api.stores.save_async(PERSON, conversation(START, [FAQ_TURN, CRISIS_TURN]))
    assert (await api.owned("answer")).json() == {"answer": None}
    assert (await api.owned("answer", sender=STRANGER)).json() == {"answer": None}


async def test_delete_removes_the_conversation_and_says_so(api: Api, caplog) -> None:
    tracker = await api.stores.save_async(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN]))
    await api.stores.save_async(STRANGER, conversation(START, [FAQ_TURN]))
    api.stores.escalate(PERSON)
    assert (await api.owned("feedback", answer_ts=FAQ_ANSWER_TS, helpful=True)).status == 200
    with caplog.at_level(logging.INFO):
        answer = await api.owned("delete")
    assert answer.status == 200
    assert answer.json() == {"deleted": True, "found": True, "events": len(tracker.events)}
    assert api.stores.held(PERSON) == {"events": 0, "handoffs": 0, "answer_feedback": 0}
    assert api.stores.count("events", "sender_id = :s", s=STRANGER) > 0
    assert "deleted by its owner" in caplog.text and PERSON not in caplog.text
    again = await api.owned("delete")
    assert again.status == 200 and again.json() == {"deleted": True, "found": False, "events": 0}
    assert (await api.owned("export")).status == 404


async def test_export_is_the_transcript_as_a_text_file(api: Api, clock: FakeClock) -> None:
    assert (await api.owned("export")).status == 404
    await api.stores.save_async(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN]))
    answer = await api.owned("export")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="tms-conversation.txt"'
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.text == export_conversation(PERSON, engine=api.stores.engine, clock=clock)
    assert "how long is a session?" in answer.text


async def test_other_sites_are_refused(api: Api) -> None:
    for origin in ("https://evil.example", "null", "http://127.0.0.1:1"):
        answer = await api.post("session", {}, headers={"Origin": origin})
        assert answer.status == 403, origin
    assert (await api.post("session", {}, headers={"Origin": api.url})).status == 200


async def test_requests_are_rate_limited_per_address(api: Api) -> None:
    for _ in range(20):
        assert (await api.post("answer", {"sender": PERSON})).status == 401  # bad ones count too
    limited = await api.post("session", {})
    assert limited.status == 429 and limited.headers["Retry-After"] == "60"
    assert limited.json() == {"error": "Too many requests. Wait a minute and try again."}
    assert (await api.owned("delete")).status == 429
    api.limiter_clock[0] += 61
    assert (await api.post("session", {})).status == 200


async def test_the_server_starts_and_stops_the_daily_retention(sqlite_stores: Stores) -> None:
    """On the Rasa server the channel starts the retention task with the server and stops it
    with it (the first check waits 5 minutes: nothing runs during this test)."""
    Sanic.test_mode = True
    channel = PrivacyChannel(eraser=sqlite_stores.eraser, secret=SECRET, environ={}, schedule_retention=True)
    app = Sanic(f"privacy_retention_test_{uuid.uuid4().hex}")
    register([channel], app, "/webhooks/")
    server = await app.create_server(
        host="127.0.0.1", port=free_port(), return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.after_start()
    task = app.ctx.privacy_retention
    assert not task.done()
    assert channel.retention_job(app).days == 30
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0)
    assert task.cancelled()
    assert sqlite_stores.count("privacy_retention_runs") == 0


def test_a_wrong_setting_stops_the_start() -> None:
    with pytest.raises(ValueError, match="RETENTION_DAYS"):
        PrivacyChannel(environ={"RETENTION_DAYS": "forever"}).blueprint(lambda message: None)


async def test_the_short_privacy_page_says_how_long_and_how_to_delete(sqlite_stores: Stores, clock: FakeClock) -> None:
    Sanic.test_mode = True
    channel = PrivacyChannel(eraser=sqlite_stores.eraser, secret=SECRET, environ={"RETENTION_DAYS": "14"}, clock=clock)
    app = Sanic(f"privacy_page_{uuid.uuid4().hex}")
    register([channel], app, "/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/privacy") as answer:
            status, headers, page = answer.status, answer.headers, await answer.text()
    finally:
        server.close()
        await server.wait_closed()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "deleted automatically 14 days after the last message" in page
    for how in ('"Clear conversation"', "/forget", "/export", "FORGET", "not an emergency service"):
        assert how in page, how
    assert "${" not in page and "<script" not in page
