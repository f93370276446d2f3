"""No request body gives a 5xx, on any channel's route: a clear 4xx, and nothing lost.

Every channel of credentials.yml except the staff inbox (tests/server/staff/test_web.py) is
mounted with Rasa's own `register` on a real Sanic server on a free local port; the agent is
a fake that echoes each message, and the platforms' outbound calls are recorded instead of
sent. Each route gets the same hostile bodies: nested 5,000 levels deep, a megabyte long,
not UTF-8, UTF-16 with its byte-order mark, NUL bytes, lone surrogates, the wrong content
type, nothing at all. After them, a valid message on the same route is still answered.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic
from twilio.request_validator import RequestValidator

from bot.server.channels import telegram as tg
from bot.server.channels import twilio as tw
from bot.server.channels.inbound import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_WEBHOOK_BYTES
from bot.server.channels.rest import RestChannel
from bot.server.channels.socketio import SocketIOChannel
from bot.server.channels.widget import WidgetChannel, crisis_link
from bot.server.processes import free_port

TELEGRAM_SECRET = "s3cret-Token_for-tests"
TELEGRAM = tg.TelegramSettings(token="123456:TEST-token_abcdefghij", secret_token=TELEGRAM_SECRET)
TWILIO = tw.TwilioSettings(
    account_sid="AC" + "0" * 32, auth_token="twilio-auth-token", sms_number="+15550001111",
    webhook_url="https://bot.example.org/webhooks/twilio/webhook", api_base_url="http://127.0.0.1:9",
)
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

NOT_JSON = "The request body is not valid JSON."
NOT_UTF8 = "The request body is not UTF-8 text."
TOO_DEEP = f"The request body is nested more than {MAX_JSON_DEPTH} levels deep."
REST_TOO_LARGE = f"The request is larger than {MAX_BODY_BYTES // 1024} KB."
WEBHOOK_TOO_LARGE = f"The request is larger than {MAX_WEBHOOK_BYTES // 1024} KB."
MULTIPART_TYPE = "multipart/form-data; boundary=b0undary"
MULTIPART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="sender"\r\n\r\nu1\r\n'
    b'--b0undary\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--b0undary--\r\n'
)
DEEP = b'{"sender": "u1", "message": "hi", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"
HUGE = b'{"sender": "u1", "message": "' + b"x" * 1_000_000 + b'"}'
# The same hostile bodies for every route: (name, body, Content-Type).
HOSTILE = [
    ("deep-nesting", DEEP, JSON_TYPE),
    ("huge-json", HUGE, JSON_TYPE),
    ("invalid-utf8", b'{"sender": "u1", "message": "\xff\xfe"}', JSON_TYPE),
    ("utf16-with-bom", '{"sender": "u1", "message": "hi"}'.encode("utf-16"), JSON_TYPE),
    ("raw-nul", b'{"sender": "u1", "message": "h\x00i"}', JSON_TYPE),
    ("empty", b"", JSON_TYPE),
    ("form-encoded", b"sender=u1&message=hi", FORM_TYPE),
    ("multipart", MULTIPART, MULTIPART_TYPE),
]
HOSTILE_IDS = [name for name, _, _ in HOSTILE]


@dataclass
class EchoAgent:
    """Answers every message with "echo: <text>", as the real agent answers through its channel."""

    handled: List[UserMessage] = field(default_factory=list)

    async def handle_message(self, message: UserMessage) -> None:
        self.handled.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@dataclass
class Server:
    url: str
    agent: EchoAgent
    http: aiohttp.ClientSession
    telegram_sent: List[Tuple[Any, str]]
    twilio_sent: List[Dict[str, Any]]

    async def post(
        self, path: str, body: bytes, content_type: Optional[str], headers: Optional[Dict[str, str]] = None
    ) -> Tuple[int, str]:
        headers = dict(headers or {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        # Without this, aiohttp labels bytes application/octet-stream.
        skip = ["Content-Type"] if content_type is None else []
        async with self.http.post(self.url + path, data=body, headers=headers, skip_auto_headers=skip) as answer:
            return answer.status, await answer.text()

    async def get(self, path: str, body: bytes = b"") -> Tuple[int, str]:
        async with self.http.get(self.url + path, data=body or None) as answer:
            return answer.status, await answer.text()



@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    telegram_sent: List[Tuple[Any, str]] = []
    twilio_sent: List[Dict[str, Any]] = []

    async def telegram_send(self: Any, chat_id: Any, text: str, **kwargs: Any) -> None:
        telegram_sent.append((chat_id, text))

    async def twilio_send(self: Any, message_data: Dict[str, Any]) -> None:
        twilio_sent.append(message_data)

    monkeypatch.setattr(tg.TelegramBotOutput, "send_message", telegram_send)
    monkeypatch.setattr(tw.TwilioMessagingOutput, "_send_message", twilio_send)
    Sanic.test_mode = True  # several apps in one process (see tests/server/staff/test_web.py)
    app = Sanic(f"bad_bodies_{uuid.uuid4().hex}")
    agent = EchoAgent()
    app.ctx.agent = agent
    channels = [
        RestChannel(), tg.TelegramChannel(settings=TELEGRAM), tw.TwilioChannel(settings=TWILIO),
        WidgetChannel(), SocketIOChannel(),
    ]
    register(channels, app, "/webhooks/")
    port = free_port()
    running = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await running.startup()
    async with aiohttp.ClientSession() as http:
        yield Server(f"http://127.0.0.1:{port}", agent, http, telegram_sent, twilio_sent)
    running.close()
    await running.wait_closed()


# --- REST -----------------------------------------------------------------------------------

REST = "/webhooks/rest/webhook"
REST_REFUSED = {
    "deep-nesting": (400, TOO_DEEP),
    "huge-json": (413, REST_TOO_LARGE),
    "invalid-utf8": (400, NOT_UTF8),
    "utf16-with-bom": (400, NOT_UTF8),
    "raw-nul": (400, NOT_JSON),
    "empty": (400, NOT_JSON),
    "form-encoded": (400, NOT_JSON),
    "multipart": (400, NOT_JSON),
}


async def rest_answers_hi(server: Server) -> None:
    status, text = await server.post(REST, b'{"sender": "u1", "message": "hi"}', JSON_TYPE)
    assert (status, json.loads(text)) == (200, [{"recipient_id": "u1", "text": "echo: hi"}])


@pytest.mark.parametrize(("case", "body", "content_type"), HOSTILE, ids=HOSTILE_IDS)
async def test_rest_refuses_hostile_bodies_with_a_clear_4xx(server, case, body, content_type):
    status, text = await server.post(REST, body, content_type)
    assert (status, json.loads(text)) == (REST_REFUSED[case][0], {"error": REST_REFUSED[case][1]})
    assert server.agent.handled == []
    await rest_answers_hi(server)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'\xef\xbb\xbf{"sender": "u1", "message": "hi"}', JSON_TYPE),  # a UTF-8 byte-order mark
        (b'{"sender": "u1", "message": "h\\u0000i"}', JSON_TYPE),  # NUL, escaped
        (b'{"sender": "u1", "message": "hi\\ud800"}', JSON_TYPE),  # a lone surrogate, escaped
        (b'{"sender": "u1", "message": "hi"}', "text/plain"),  # what browsers send without a preflight
        (b'{"sender": "u1", "message": "hi"}', FORM_TYPE),  # what `curl -d` says it sends
        (b'{"sender": "u1", "message": "hi"}', None),
    ],
    ids=["utf8-bom", "escaped-nul", "lone-surrogate", "text-plain", "json-labelled-form", "no-content-type"],
)
async def test_rest_answers_readable_odd_bodies(server, body, content_type):
    status, text = await server.post(REST, body, content_type)
    assert (status, json.loads(text)) == (200, [{"recipient_id": "u1", "text": "echo: hi"}])


# --- Telegram -------------------------------------------------------------------------------

TELEGRAM_PATH = "/webhooks/telegram/webhook"
SECRET = {tg.SECRET_HEADER: TELEGRAM_SECRET}
TELEGRAM_REFUSED = {
    **REST_REFUSED,
    "huge-json": (413, WEBHOOK_TOO_LARGE),
}


def update(text: str, update_id: int) -> Dict[str, Any]:
    chat = {"id": 42, "type": "private", "first_name": "Sam"}
    return {
        "update_id": update_id,
        "message": {"message_id": 7, "date": 1700000000, "chat": chat, "from": {"id": 42, "is_bot": False,
                                                                                 "first_name": "Sam"}, "text": text},
    }


def update_bytes(text: str, update_id: int) -> bytes:
    return json.dumps(update(text, update_id)).encode()


@pytest.mark.parametrize(("case", "body", "content_type"), HOSTILE, ids=HOSTILE_IDS)
async def test_telegram_refuses_hostile_bodies_with_a_clear_4xx(server, case, body, content_type):
    status, text = await server.post(TELEGRAM_PATH, body, content_type, SECRET)
    assert (status, json.loads(text)) == (TELEGRAM_REFUSED[case][0], {"error": TELEGRAM_REFUSED[case][1]})
    assert server.agent.handled == [] and server.telegram_sent == []
    status, text = await server.post(TELEGRAM_PATH, update_bytes("hi", 1), JSON_TYPE, SECRET)
    assert (status, text) == (200, "success")
    assert server.telegram_sent == [("42", "echo: hi")]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"sender": "u1", "message": "hi"}', JSON_TYPE),
        (b'{"update_id": "1"}', JSON_TYPE),
        (b'{"update_id": 1, "message": "not a message"}', JSON_TYPE),
        (b"[1, 2]", JSON_TYPE),
        (json.dumps(json.dumps({"hello": "world"})).encode(), JSON_TYPE),
        (json.dumps(json.dumps({"update_id": 1, "message": [[[[[[]]]]]]})).encode(), JSON_TYPE),
    ],
    ids=["rest-body", "string-update-id", "message-not-an-object", "array", "json-in-a-string", "deep-in-a-string"],
)
async def test_telegram_refuses_json_that_is_not_an_update(server, body, content_type):
    status, text = await server.post(TELEGRAM_PATH, body, content_type, SECRET)
    assert (status, json.loads(text)) == (400, {"error": "Not a Telegram update."})
    assert server.agent.handled == []


async def test_telegram_checks_the_secret_before_reading_the_body(server):
    status, text = await server.post(TELEGRAM_PATH, DEEP, JSON_TYPE)
    assert (status, json.loads(text)) == (401, {"error": "Missing secret token."})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xef\xbb\xbf" + update_bytes("hi", 2), JSON_TYPE),
        (update_bytes("h\x00i", 3), JSON_TYPE),  # json.dumps escapes the NUL
        (update_bytes("hi\ud800", 4), JSON_TYPE),  # and the lone surrogate
        (update_bytes("hi", 5), "text/plain"),
        (update_bytes("hi", 6), None),
    ],
    ids=["utf8-bom", "escaped-nul", "lone-surrogate", "text-plain", "no-content-type"],
)
async def test_telegram_answers_readable_odd_bodies(server, body, content_type):
    status, text = await server.post(TELEGRAM_PATH, body, content_type, SECRET)
    assert (status, text) == (200, "success")
    assert server.telegram_sent == [("42", "echo: hi")]


# --- Twilio ---------------------------------------------------------------------------------

TWILIO_PATH = "/webhooks/twilio/webhook"
NOT_A_FORM = (415, f"Twilio webhooks are form posts ({FORM_TYPE}).")
TWILIO_REFUSED = {
    "deep-nesting": NOT_A_FORM,
    "huge-json": NOT_A_FORM,
    "invalid-utf8": NOT_A_FORM,
    "utf16-with-bom": NOT_A_FORM,
    "raw-nul": NOT_A_FORM,
    "empty": NOT_A_FORM,
    "form-encoded": (403, "Invalid Twilio signature."),
    "multipart": NOT_A_FORM,
}


def twilio_form(body: str = "hi", sender: str = "+15557654321", **extra: str) -> Dict[str, str]:
    return {"From": sender, "To": TWILIO.sms_number, "Body": body, "NumMedia": "0", "FromCountry": "US",
            "MessageSid": "SM" + "1" * 32, **extra}


def signed(form: Dict[str, str]) -> Dict[str, str]:
    return {tw.SIGNATURE_HEADER: RequestValidator(TWILIO.auth_token).compute_signature(TWILIO.webhook_url, form)}


async def twilio_answers_hi(server: Server) -> None:
    form = twilio_form()
    status, text = await server.post(TWILIO_PATH, urlencode(form).encode(), FORM_TYPE, signed(form))
    assert (status, text) == (200, tw.EMPTY_TWIML)
    assert [m["body"] for m in server.twilio_sent] == ["echo: hi"]


@pytest.mark.parametrize(("case", "body", "content_type"), HOSTILE, ids=HOSTILE_IDS)
async def test_twilio_refuses_hostile_bodies_with_a_clear_4xx(server, case, body, content_type):
    status, text = await server.post(TWILIO_PATH, body, content_type, signed(twilio_form()))
    assert (status, json.loads(text)) == (TWILIO_REFUSED[case][0], {"error": TWILIO_REFUSED[case][1]})
    assert server.agent.handled == [] and server.twilio_sent == []
    await twilio_answers_hi(server)


@pytest.mark.parametrize("content_type", ["text/plain", JSON_TYPE, MULTIPART_TYPE, "application/octet-stream"])
async def test_twilio_refuses_a_signed_form_labelled_as_something_else(server, content_type):
    form = twilio_form()
    status, text = await server.post(TWILIO_PATH, urlencode(form).encode(), content_type, signed(form))
    assert (status, json.loads(text)) == (415, {"error": NOT_A_FORM[1]})
    assert server.agent.handled == []
    await twilio_answers_hi(server)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (DEEP, 403, "Invalid Twilio signature."),  # a form field named like JSON: not what Twilio signed
        (HUGE, 413, WEBHOOK_TOO_LARGE),
        (b"Body=\xff\xfe&From=%2B15557654321", 400, NOT_UTF8),
        ("Body=hi&From=%2B15557654321".encode("utf-16"), 400, NOT_UTF8),
        (b"&".join(b"f%d=1" % n for n in range(tw.MAX_FORM_FIELDS + 1)), 400,
         f"The form has more than {tw.MAX_FORM_FIELDS} fields."),
        (b"", 403, "Invalid Twilio signature."),
    ],
    ids=["deep-nesting", "huge", "invalid-utf8", "utf16-with-bom", "too-many-fields", "empty-unsigned"],
)
async def test_twilio_refuses_unreadable_forms_with_a_clear_4xx(server, body, status, error):
    answer = await server.post(TWILIO_PATH, body, FORM_TYPE, signed(twilio_form()))
    assert (answer[0], json.loads(answer[1])) == (status, {"error": error})
    assert server.agent.handled == [] and server.twilio_sent == []
    await twilio_answers_hi(server)


@pytest.mark.parametrize(
    ("form", "prefix", "content_type", "replies"),
    [
        (twilio_form("h\x00i"), b"", FORM_TYPE, ["echo: hi"]),  # NUL: signed as sent, cleaned before Rasa
        (twilio_form("hi"), b"\xef\xbb\xbf", FORM_TYPE, ["echo: hi"]),
        (twilio_form("hi"), b"", FORM_TYPE + "; charset=UTF-8", ["echo: hi"]),
        (twilio_form("hi"), b"", None, ["echo: hi"]),
        (twilio_form("", NumMedia="lots"), b"", FORM_TYPE, []),  # was a 500: int("lots")
        (twilio_form("", NumMedia="1"), b"", FORM_TYPE, ["Sorry, I can only read text messages. Please type your question."]),
        ({}, b"", FORM_TYPE, []),  # signed but empty: no sender to answer
    ],
    ids=["nul", "utf8-bom", "charset", "no-content-type", "num-media-not-a-number", "photo", "empty-signed"],
)
async def test_twilio_answers_readable_odd_forms(server, form, prefix, content_type, replies):
    status, text = await server.post(TWILIO_PATH, prefix + urlencode(form).encode(), content_type, signed(form))
    assert (status, text) == (200, tw.EMPTY_TWIML)
    assert [m["body"] for m in server.twilio_sent] == replies


# --- socket.io ------------------------------------------------------------------------------

POLLING = "/socket.io/?EIO=4&transport=polling"
NOT_ENGINE_IO = "The request body is not an engine.io payload."
SOCKETIO_REFUSED = {
    "deep-nesting": (400, TOO_DEEP),
    "huge-json": (413, WEBHOOK_TOO_LARGE),
    "invalid-utf8": (400, NOT_UTF8),
    "utf16-with-bom": (400, NOT_UTF8),
    "raw-nul": (400, NOT_ENGINE_IO),
    "empty": None,  # an empty payload is a valid one: nothing to do
    "form-encoded": (400, NOT_ENGINE_IO),
    "multipart": (400, NOT_ENGINE_IO),
}


async def open_socket(server: Server) -> str:
    """An engine.io session joined to socket.io's default namespace; its sid."""
    status, text = await server.get(POLLING)
    assert status == 200 and text.startswith("0")
    sid = json.loads(text[1:])["sid"]
    assert await server.post(f"{POLLING}&sid={sid}", b"40", "text/plain") == (200, "OK")
    status, text = await server.get(f"{POLLING}&sid={sid}")
    assert status == 200 and text.startswith("40")
    return sid


async def socket_answers_hi(server: Server, sid: str) -> None:
    packet = "42" + json.dumps(["user_uttered", {"message": "hi"}])
    assert await server.post(f"{POLLING}&sid={sid}", packet.encode(), "text/plain") == (200, "OK")
    status, text = await server.get(f"{POLLING}&sid={sid}")
    assert status == 200
    assert text.startswith("42") and json.loads(text[2:]) == ["bot_uttered", {"text": "echo: hi"}]


@pytest.mark.parametrize(("case", "body", "content_type"), HOSTILE, ids=HOSTILE_IDS)
async def test_socketio_refuses_hostile_polling_bodies_with_a_clear_4xx(server, case, body, content_type):
    sid = await open_socket(server)
    status, text = await server.post(f"{POLLING}&sid={sid}", body, content_type)
    if SOCKETIO_REFUSED[case] is None:
        assert (status, text) == (200, "OK")
    else:
        assert (status, json.loads(text)) == (SOCKETIO_REFUSED[case][0], {"error": SOCKETIO_REFUSED[case][1]})
    assert server.agent.handled == []
    await socket_answers_hi(server, sid)


@pytest.mark.parametrize(("case", "body", "content_type"), HOSTILE, ids=HOSTILE_IDS)
async def test_socketio_posts_without_a_session_get_400_not_500(server, case, body, content_type):
    status, text = await server.post(POLLING, body, content_type)
    assert (status, json.loads(text)) == (400, {"error": "A socket.io POST needs the sid of an open session."})


async def test_socketio_deep_nesting_inside_a_message_packet_is_refused(server):
    sid = await open_socket(server)
    packet = '42["user_uttered", {"message": "hi", "customData": ' + "[" * 5000 + "]" * 5000 + "}]"
    status, text = await server.post(f"{POLLING}&sid={sid}", packet.encode(), "text/plain")
    assert (status, json.loads(text)) == (400, {"error": TOO_DEEP})
    assert server.agent.handled == []
    await socket_answers_hi(server, sid)


# --- The widget's routes take no body -------------------------------------------------------

WIDGET_ROUTES = ["/chat", "/widget/crisis-link", "/widget/tms-widget.js"]


@pytest.mark.parametrize(("case", "body", "content_type"), HOSTILE, ids=HOSTILE_IDS)
async def test_widget_routes_refuse_posts_and_ignore_bodies(server, case, body, content_type):
    for path in WIDGET_ROUTES:
        status, _ = await server.post(path, body, content_type)
        assert status == 405, path
    status, text = await server.get("/widget/crisis-link?locale=en-GB", body)
    assert (status, json.loads(text)) == (200, crisis_link("en-GB"))
    status, text = await server.get("/chat", body)
    assert status == 200 and "<html" in text.lower()
