"""Telegram and Twilio connectors end to end, against local fakes of their APIs.

The real action server and Rasa server run with the real connectors from credentials.yml.
Small HTTP servers on 127.0.0.1 stand in for the Telegram Bot API and the Twilio REST API:
they check credentials like the real ones, record every call and answer with the real
response shapes. The tests post real-shaped inbound webhooks (Telegram update JSON with
the secret-token header; Twilio form bodies signed with RequestValidator) and check what
the connectors sent out. Nothing leaves the machine.
"""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List
from urllib.parse import parse_qs, urlencode

import pytest
import requests
from twilio.request_validator import RequestValidator

from bot.server.channels.inbound import MAX_JSON_DEPTH
from bot.server.processes import AssistantServers, free_port
from tests.conftest import PROJECT_ROOT, load_yaml, wait_until

pytestmark = pytest.mark.slow

TELEGRAM_TOKEN = "123456789:AAFakeTokenForLocalTestsOnly_abcdefg"
TELEGRAM_SECRET = "local-test-secret_123"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "TMS info", "username": "TmsInfoTestBot"}
TWILIO_SID = "AC" + "f" * 32
TWILIO_TOKEN = "fake-twilio-auth-token-0123456789"
TWILIO_NUMBER = "+15005550006"
TWILIO_WHATSAPP = "whatsapp:+14155238886"
CRISIS_LINE = "call or text 988"
STAFF_PASSWORD = "a long staff password 42"
PROFESSIONAL = ("professional", "doctor")
BLANK_SERVER_ENV = {
    name: ""
    for name in (
        "TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_API_BASE_URL",
        "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_NUMBER", "TWILIO_WHATSAPP_NUMBER",
        "TWILIO_WEBHOOK_URL", "TWILIO_API_BASE_URL",
    )
}


# --- Fake APIs ------------------------------------------------------------------------


class FakeApi:
    """A threaded HTTP server on loopback that records requests; subclasses answer them."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = api.handle(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, call: Dict[str, Any]) -> None:
        with self.lock:
            self.calls.append(call)

    def snapshot(self) -> List[Dict[str, Any]]:
        with self.lock:
            return list(self.calls)

    def handle(self, path: str, headers: Dict[str, str], body: bytes):
        raise NotImplementedError


def parse_body(headers: Dict[str, str], body: bytes) -> Dict[str, Any]:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type:
        return json.loads(body or b"{}")
    return {key: values[0] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}


class FakeTelegram(FakeApi):
    """POST /bot<token>/<method> like api.telegram.org (form or JSON parameters)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.message_ids = iter(range(1000, 100000))

    def handle(self, path: str, headers: Dict[str, str], body: bytes):
        prefix, _, method = path.lstrip("/").partition("/")
        if prefix != f"bot{self.token}":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = parse_body(headers, body)
        if "reply_markup" in params and isinstance(params["reply_markup"], str):
            params["reply_markup"] = json.loads(params["reply_markup"])
        self.record({"method": method, "params": params})
        if method == "sendMessage":
            text = params.get("text", "")
            if not text or len(text) > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty or too long"}
            result = {
                "message_id": next(self.message_ids),
                "from": BOT_USER,
                "chat": {"id": int(params["chat_id"]), "type": "private", "first_name": "Test"},
                "date": int(time.time()),
                "text": text,
            }
            if params.get("reply_markup"):
                result["reply_markup"] = params["reply_markup"]
            return 200, {"ok": True, "result": result}
        if method in ("answerCallbackQuery", "deleteWebhook"):
            return 200, {"ok": True, "result": True}
        if method == "setWebhook":
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def sent_to(self, chat_id: int, calls: List[Dict[str, Any]] | None = None) -> List[Dict[str, Any]]:
        return [
            c["params"] for c in (calls if calls is not None else self.snapshot())
            if c["method"] == "sendMessage" and str(c["params"].get("chat_id")) == str(chat_id)
        ]


class FakeTwilio(FakeApi):
    """POST /2010-04-01/Accounts/<sid>/Messages.json like api.twilio.com (Basic auth, form body)."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        expected = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.expected_auth = f"Basic {expected}"

    def handle(self, path: str, headers: Dict[str, str], body: bytes):
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if auth != self.expected_auth:
            return 401, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
        if path.split("?")[0] != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        params = parse_body(headers, body)
        self.record({"path": path, "params": params})
        body_text = params.get("Body", "")
        if len(body_text) > 1600:
            return 400, {"code": 21617, "message": "The concatenated message body exceeds the 1600 character limit", "status": 400}
        if not params.get("To") or not params.get("From"):
            return 400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        return 201, {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body_text,
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": params["From"], "messaging_service_sid": None,
            "num_media": "0", "num_segments": str(max(1, -(-len(body_text) // 153))), "price": None,
            "price_unit": "USD", "sid": sid, "status": "queued", "to": params["To"],
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def sent_to(self, number: str, calls: List[Dict[str, Any]] | None = None) -> List[Dict[str, Any]]:
        return [c["params"] for c in (calls if calls is not None else self.snapshot()) if c["params"].get("To") == number]


# --- Servers --------------------------------------------------------------------------


class FakeClinicWebhook(FakeApi):
    """The clinic's notification webhook: takes everything (signatures are tested elsewhere)."""

    def handle(self, path: str, headers: Dict[str, str], body: bytes):
        self.record({"path": path, "body": json.loads(body or b"{}")})
        return 200, {"ok": True}


@pytest.fixture(scope="module")
def fakes():
    telegram = FakeTelegram(TELEGRAM_TOKEN).start()
    twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN).start()
    yield telegram, twilio
    telegram.stop()
    twilio.stop()


@pytest.fixture(scope="module")
def clinic_webhook():
    clinic = FakeClinicWebhook().start()
    yield clinic
    clinic.stop()


@pytest.fixture(scope="module")
def servers(trained_model, fakes, clinic_webhook, tmp_path_factory):
    telegram, twilio = fakes
    rasa_port = free_port()
    rasa_url = f"http://127.0.0.1:{rasa_port}"
    db = tmp_path_factory.mktemp("channels-store") / "tracker.db"
    staff_env = {  # the clinic's staff can be reached: asking for a person connects
        "NOTIFY_WEBHOOK_URL": f"{clinic_webhook.url}/hook", "STAFF_INBOX_URL": f"{rasa_url}/staff",
    }
    add_staff_account(db)
    servers = AssistantServers(
        model=trained_model,
        rasa_port=rasa_port,
        action_port=free_port(),
        env={
            **staff_env,
            "TRACKER_DB_PATH": str(db), "CLINIC_NAME": "", "CLINIC_PHONE": "", "CLINIC_BOOKING_URL": "",
            "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
            "TELEGRAM_BOT_NAME": BOT_USER["username"],
            "TELEGRAM_WEBHOOK_URL": f"{rasa_url}/webhooks/telegram/webhook",
            "TELEGRAM_API_BASE_URL": telegram.url,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_NUMBER": TWILIO_NUMBER,
            "TWILIO_WHATSAPP_NUMBER": TWILIO_WHATSAPP,
            "TWILIO_WEBHOOK_URL": f"{rasa_url}/webhooks/twilio/webhook",
            "TWILIO_API_BASE_URL": twilio.url,
        },
        log_dir=PROJECT_ROOT / "test-artifacts" / "logs",
    )
    servers.start()
    servers.db = db
    yield servers
    servers.stop()


def refers_to_professional(text: str) -> bool:
    return any(word in text.lower() for word in PROFESSIONAL)


def rest_say(servers: AssistantServers, text: str) -> List[Dict[str, Any]]:
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        json={"sender": f"rest-{uuid.uuid4().hex[:10]}", "message": text},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def stored_user_events(servers: AssistantServers, sender: str) -> List[Dict[str, Any]]:
    with sqlite3.connect(servers.db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


# --- Both off ---------------------------------------------------------------------------


def test_connectors_are_off_without_variables_and_the_server_still_starts(trained_model, tmp_path):
    """Runs first, before the module's servers start, so only one Rasa server runs at a time."""
    logs = tmp_path / "logs"
    servers = AssistantServers(
        model=trained_model, rasa_port=free_port(), action_port=free_port(),
        env={**BLANK_SERVER_ENV, "TRACKER_DB_PATH": str(tmp_path / "tracker.db")}, log_dir=logs,
    )
    try:
        servers.start_rasa_server()
        for name in ("telegram", "twilio"):
            assert requests.get(f"{servers.rasa_url}/webhooks/{name}/", timeout=10).json() == {"status": "off"}
            response = requests.post(f"{servers.rasa_url}/webhooks/{name}/webhook", data="{}", timeout=10)
            assert response.status_code == 503
        rest = requests.post(
            f"{servers.rasa_url}/webhooks/rest/webhook", json={"sender": "off-test", "message": "I want to end my life"}, timeout=60
        )
        assert CRISIS_LINE in "\n".join(m.get("text", "") for m in rest.json())
    finally:
        servers.stop()
    log = (logs / "rasa.log").read_text(errors="replace")
    assert log.count("Telegram connector is off: TELEGRAM_TOKEN is not set.") == 1
    assert log.count("Twilio connector is off: TWILIO_* variables are not set.") == 1


# --- Telegram -------------------------------------------------------------------------

update_ids = iter(range(10_000, 1_000_000))


def new_chat() -> int:
    return random.randint(10_000_000, 99_999_999)


def telegram_message(chat_id: int, text: str) -> Dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": "en"}
    return {
        "update_id": next(update_ids),
        "message": {
            "message_id": random.randint(1, 10_000), "from": user,
            "chat": {"id": chat_id, "first_name": "Test", "type": "private"},
            "date": int(time.time()), "text": text,
        },
    }


def telegram_button_press(chat_id: int, data: str, keyboard: Dict[str, Any]) -> Dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Test", "language_code": "en"}
    return {
        "update_id": next(update_ids),
        "callback_query": {
            "id": str(random.randint(10**17, 10**18)), "from": user, "chat_instance": "-1234567890", "data": data,
            "message": {
                "message_id": 1001, "from": BOT_USER, "chat": {"id": chat_id, "first_name": "Test", "type": "private"},
                "date": int(time.time()), "text": "Pick a topic", "reply_markup": keyboard,
            },
        },
    }


def post_telegram(servers: AssistantServers, update: Dict[str, Any], secret: str | None = TELEGRAM_SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return requests.post(f"{servers.rasa_url}/webhooks/telegram/webhook", json=update, headers=headers, timeout=120)


def telegram_say(servers, telegram: FakeTelegram, chat_id: int, text: str) -> List[Dict[str, Any]]:
    before = len(telegram.snapshot())
    response = post_telegram(servers, telegram_message(chat_id, text))
    assert response.status_code == 200, response.text
    return telegram.sent_to(chat_id, telegram.snapshot()[before:])


def test_telegram_webhook_is_registered_with_the_secret_at_start(servers, fakes):
    telegram, _ = fakes
    # Registered by a server-start listener, which may still be running when the server
    # already answers (the suite once saw no call yet on a loaded machine).
    calls = wait_until(lambda: [c["params"] for c in telegram.snapshot() if c["method"] == "setWebhook"], timeout=30)
    assert calls, "setWebhook was not called"
    assert calls[0]["url"] == f"{servers.rasa_url}/webhooks/telegram/webhook"
    assert calls[0]["secret_token"] == TELEGRAM_SECRET
    assert json.loads(calls[0]["allowed_updates"]) == ["message", "edited_message", "callback_query"]


def test_telegram_start_command_greets_with_the_disclaimer(servers, fakes):
    telegram, _ = fakes
    sent = telegram_say(servers, telegram, new_chat(), "/start")
    text = "\n".join(m["text"] for m in sent)
    assert "not medical advice" in text and "988" in text


def test_telegram_answer_carries_the_fact_and_a_referral(servers, fakes):
    telegram, _ = fakes
    sent = telegram_say(servers, telegram, new_chat(), "How long is a TMS session?")
    text = "\n".join(m["text"] for m in sent)
    assert "20" in text and "minutes" in text
    assert refers_to_professional(text)
    assert all("parse_mode" not in m for m in sent)


def test_telegram_asking_to_delete_the_chat_is_told_the_telegram_commands(servers, fakes, domain):
    telegram, _ = fakes
    sent = telegram_say(servers, telegram, new_chat(), "how do i delete everything i wrote here?")
    [telegram_answer] = [v["text"] for v in domain["responses"]["utter_privacy"] if v.get("channel") == "telegram"]
    assert sent[0]["text"] == telegram_answer  # "/forget", "/export", not the website's menu
    assert refers_to_professional(sent[-1]["text"])


def test_telegram_topics_are_an_inline_keyboard_and_a_press_answers_that_topic(servers, fakes):
    telegram, _ = fakes
    chat = new_chat()
    sent = telegram_say(servers, telegram, chat, "what can I ask?")
    with_keyboard = [m for m in sent if m.get("reply_markup")]
    assert len(with_keyboard) == 1
    keyboard = with_keyboard[0]["reply_markup"]
    buttons = [button for row in keyboard["inline_keyboard"] for button in row]
    assert len(buttons) >= 5
    assert all(b["text"] and 0 < len(b["callback_data"].encode()) <= 64 for b in buttons)

    session_button = next(b for b in buttons if "session" in b["text"].lower() and "length" in b["text"].lower())
    before = len(telegram.snapshot())
    response = post_telegram(servers, telegram_button_press(chat, session_button["callback_data"], keyboard))
    assert response.status_code == 200
    calls = telegram.snapshot()[before:]
    assert any(c["method"] == "answerCallbackQuery" for c in calls)
    text = "\n".join(m["text"] for m in telegram.sent_to(chat, calls))
    assert "20" in text and refers_to_professional(text)


def test_telegram_crisis_message_gets_crisis_resources_first(servers, fakes):
    telegram, _ = fakes
    sent = telegram_say(servers, telegram, new_chat(), "I want to end my life")
    assert sent and CRISIS_LINE in sent[0]["text"].splitlines()[0]
    text = "\n".join(m["text"] for m in sent)
    assert "988" in text and "741741" in text and "911" in text


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("wrong-secret", 403)])
def test_telegram_rejects_missing_or_wrong_secret_without_processing(servers, fakes, secret, status):
    telegram, _ = fakes
    chat = new_chat()
    before = len(telegram.snapshot())
    response = post_telegram(servers, telegram_message(chat, "I want to end my life"), secret=secret)
    assert response.status_code == status
    time.sleep(1)
    assert telegram.snapshot()[before:] == []
    assert stored_user_events(servers, str(chat)) == []


# --- Twilio ---------------------------------------------------------------------------


def new_number() -> str:
    return "+1555" + str(random.randint(1_000_000, 9_999_999))


def twilio_form(sender: str, body: str, to: str = TWILIO_NUMBER, **extra: str) -> Dict[str, str]:
    sid = "SM" + uuid.uuid4().hex
    form = {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
        "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received", "FromCity": "",
        "Body": body, "FromCountry": "US", "To": to, "MessagingServiceSid": "", "ToZip": "",
        "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": TWILIO_SID,
        "From": sender, "ApiVersion": "2010-04-01",
    }
    if sender.startswith("whatsapp:"):
        form.update({"ProfileName": "Test", "WaId": sender.split("+")[-1], "SmsStatus": "received"})
        for key in ("ToCountry", "ToState", "ToCity", "FromZip", "FromState", "FromCity", "FromCountry", "ToZip"):
            form.pop(key)
    form.update(extra)
    return form


def post_twilio(servers: AssistantServers, form: Dict[str, str], signature: str | None = "valid"):
    url = f"{servers.rasa_url}/webhooks/twilio/webhook"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return requests.post(url, data=urlencode(form), headers=headers, timeout=120)


def twilio_say(servers, twilio: FakeTwilio, sender: str, text: str, **extra: str) -> List[Dict[str, Any]]:
    before = len(twilio.snapshot())
    to = TWILIO_WHATSAPP if sender.startswith("whatsapp:") else TWILIO_NUMBER
    response = post_twilio(servers, twilio_form(sender, text, to=to, **extra))
    assert response.status_code == 200, response.text
    assert "<Response>" in response.text
    return twilio.sent_to(sender, twilio.snapshot()[before:])


def test_sms_answer_carries_the_fact_and_a_referral(servers, fakes):
    _, twilio = fakes
    sender = new_number()
    sent = twilio_say(servers, twilio, sender, "How long is a TMS session?")
    assert len(sent) == 1  # the whole turn in one SMS
    body = sent[0]["Body"]
    assert "20" in body and "minutes" in body and refers_to_professional(body)
    assert sent[0]["From"] == TWILIO_NUMBER and len(body) <= 1600


def test_sms_asking_to_delete_the_chat_is_told_to_reply_forget(servers, fakes, domain):
    _, twilio = fakes
    sent = twilio_say(servers, twilio, new_number(), "how do i delete everything i wrote here?")
    [sms_answer] = [v["text"] for v in domain["responses"]["utter_privacy"] if v.get("channel") == "twilio"]
    assert len(sent) == 1 and sent[0]["Body"].startswith(sms_answer)
    assert refers_to_professional(sent[0]["Body"][len(sms_answer):])


def test_sms_topics_are_numbered_and_a_number_reply_picks_that_option(servers, fakes):
    _, twilio = fakes
    sender = new_number()
    sent = twilio_say(servers, twilio, sender, "what can I ask?")
    body = "\n".join(m["Body"] for m in sent)
    assert "Reply with a number:" in body
    menu = rest_say(servers, "what can I ask?")
    buttons = [b for m in menu for b in m.get("buttons", [])]
    assert len(buttons) >= 5
    for number, button in enumerate(buttons, 1):
        assert f"{number}) {button['title']}" in body

    answer = twilio_say(servers, twilio, sender, "1")
    expected = rest_say(servers, buttons[0]["payload"])[0]["text"]
    answer_text = "\n".join(m["Body"] for m in answer)
    assert expected in answer_text and refers_to_professional(answer_text)
    # The payload was handed to Rasa as the person's message; the typed "1" is kept as metadata.
    last = stored_user_events(servers, sender)[-1]
    assert last["text"] == buttons[0]["payload"]
    assert last["metadata"]["twilio_body"] == "1"

    # The menu is still answerable: "3" picks option 3.
    third = "\n".join(m["Body"] for m in twilio_say(servers, twilio, sender, "3"))
    assert rest_say(servers, buttons[2]["payload"])[0]["text"] in third


def test_sms_crisis_reply_has_the_phone_line_first(servers, fakes):
    _, twilio = fakes
    sent = twilio_say(servers, twilio, new_number(), "I want to end my life")
    assert sent
    assert CRISIS_LINE in sent[0]["Body"].splitlines()[0]
    body = "\n".join(m["Body"] for m in sent)
    assert "741741" in body and "911" in body
    assert all(len(m["Body"]) <= 1600 for m in sent)


@pytest.mark.parametrize(
    ("sender", "extra"),
    [("+447700900" + str(random.randint(100, 999)), {"FromCountry": "GB"}), ("whatsapp:+447700900123", {})],
    ids=["sms-gb", "whatsapp-gb"],  # a random number, but the same test id in every worker
)
def test_crisis_reply_names_the_senders_country_line_first(servers, fakes, sender, extra):
    _, twilio = fakes
    sent = twilio_say(servers, twilio, sender, "I want to kill myself", **extra)
    assert sent and "116 123" in sent[0]["Body"].splitlines()[0]


def test_whatsapp_answer_comes_from_the_whatsapp_sender(servers, fakes):
    _, twilio = fakes
    sender = "whatsapp:" + new_number()
    sent = twilio_say(servers, twilio, sender, "How long is a TMS session?")
    assert sent and all(m["From"] == TWILIO_WHATSAPP for m in sent)
    body = "\n".join(m["Body"] for m in sent)
    assert "20" in body and refers_to_professional(body)


def test_sms_picture_gets_a_text_only_note_and_stop_gets_nothing(servers, fakes):
    _, twilio = fakes
    sender = new_number()
    sent = twilio_say(servers, twilio, sender, "", NumMedia="1", MediaContentType0="image/jpeg",
                      MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/x/Messages/y/Media/z")
    assert [m["Body"] for m in sent] == ["Sorry, I can only read text messages. Please type your question."]
    assert twilio_say(servers, twilio, sender, "STOP", OptOutType="STOP") == []
    assert stored_user_events(servers, sender) == []


@pytest.mark.parametrize(
    "signature",
    [None, "forged", "valid-for-another-body", "valid-for-another-token"],
)
def test_twilio_rejects_unsigned_and_forged_requests_without_processing(servers, fakes, signature):
    _, twilio = fakes
    sender = new_number()
    form = twilio_form(sender, "I want to end my life")
    url = f"{servers.rasa_url}/webhooks/twilio/webhook"
    header = {
        None: None,
        "forged": base64.b64encode(b"0" * 20).decode(),
        "valid-for-another-body": RequestValidator(TWILIO_TOKEN).compute_signature(url, {**form, "Body": "hi"}),
        "valid-for-another-token": RequestValidator("another-token").compute_signature(url, form),
    }[signature]
    before = len(twilio.snapshot())
    response = post_twilio(servers, form, signature=header)
    assert response.status_code == 403
    time.sleep(1)
    assert twilio.snapshot()[before:] == []
    assert stored_user_events(servers, sender) == []


# --- Bad-input corpus, every channel ------------------------------------------------------
# Each case: what a broken client, a fuzzer or an odd keyboard sends, and the status we
# promise. No case may produce a 5xx; the ones that must be answered get a real answer.

REST = "/webhooks/rest/webhook"
TELEGRAM = "/webhooks/telegram/webhook"
TWILIO = "/webhooks/twilio/webhook"
JSON_HEADERS = {"Content-Type": "application/json"}
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data; boundary=b0undary"
MULTIPART = b'--b0undary\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--b0undary--\r\n'
DEEP = b"[" * 5000 + b"]" * 5000
SERVER_MAX_BYTES = 64 * 1024  # SANIC_REQUEST_MAX_SIZE, set by AssistantServers
# After any case, the same conversation is still answered: "what is tms" gets this fact.
WHAT_IS_TMS = "TMS is short for transcranial magnetic stimulation."
TECHNICAL_PROBLEM = {v["text"] for v in load_yaml(PROJECT_ROOT / "domain.yml")["responses"]["utter_technical_problem"]}
# What Sanic itself answers to a body over that cap, before any channel sees it.
SANIC_TOO_LARGE = {"description": "Request Entity Too Large", "status": 413, "message": "Request body exceeds the size limit"}
# The Content-Type a case is sent with, when it is not the channel's usual one.
CONTENT_TYPES = {
    "text-plain-content-type": "text/plain",
    "form-encoded-body": FORM_TYPE,
    "json-labelled-as-a-form": FORM_TYPE,
    "multipart-body": MULTIPART_TYPE,
    "json-content-type": "application/json",
    "deep-nesting-json": "application/json",
}


def rest_json(message: Any, sender: Any = "bad-input-{n}", **extra: Any) -> bytes:
    body: Dict[str, Any] = {"sender": sender, "message": message, **extra}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def rest_nested(levels: int) -> bytes:
    """A valid REST body whose metadata makes the whole body `levels` deep."""
    lists = levels - 2  # inside the body's object and the metadata's
    return b'{"sender": "bad-input-{n}", "message": "what is tms", "metadata": {"deep": ' + b"[" * lists + b"]" * lists + b"}}"


BAD_REST_CASES = [
    # (case id, raw body, expected status, the reply must answer)
    ("malformed-json", b'{"sender": "x", "message": ', 400, False),
    ("empty-body", b"", 400, False),
    ("json-array", b'["hello"]', 400, False),
    ("json-string", b'"how long is a session"', 400, False),
    ("json-null", b"null", 400, False),
    ("json-number", b"42", 400, False),
    ("invalid-utf8", b'{"sender": "x", "message": "\xff\xfe"}', 400, False),
    ("missing-sender", rest_json("hello", sender=...), 400, False),
    ("sender-number", rest_json("hello", sender=12345), 400, False),
    ("sender-empty", rest_json("hello", sender=""), 400, False),
    ("sender-too-long", rest_json("hello", sender="s" * 129), 400, False),
    ("sender-path", rest_json("hello", sender="../../etc/passwd"), 400, False),
    ("sender-html", rest_json("hello", sender="<script>x</script>"), 400, False),
    ("sender-unicode", rest_json("hello", sender="héllo wörld"), 400, False),
    ("missing-message", rest_json(..., sender="bad-input-{n}"), 400, False),
    ("message-null", rest_json(None), 400, False),
    ("message-number", rest_json(7), 400, False),
    ("message-list", rest_json(["how", "long"]), 400, False),
    ("message-object", rest_json({"text": "hi"}), 400, False),
    ("message-empty", rest_json(""), 400, False),
    ("message-whitespace", rest_json("   \n\t  "), 400, False),
    ("message-zero-width-only", rest_json("\u200b\u200c\ufeff"), 400, False),
    ("message-control-only", rest_json("\x00\x01\x07\x1b"), 400, False),
    ("metadata-string", rest_json("hello", metadata="en-US"), 400, False),
    ("body-over-16kb", rest_json("tms " * 4200), 413, False),
    ("long-message-under-limit", rest_json("how long is a tms session " * 500), 200, True),
    ("single-huge-word", rest_json("a" * 12000), 200, True),
    ("emoji", rest_json("🙂🙂 how long is one TMS session? 🧠⚡"), 200, True),
    ("emoji-only", rest_json("😀😀😀"), 200, True),
    ("right-to-left-arabic", rest_json("ما هو العلاج بالتحفيز المغناطيسي"), 200, True),
    ("right-to-left-marks", rest_json("\u202ehow long is a session\u202c"), 200, True),
    ("zero-width-inside", rest_json("how\u200b long\u200d is a tms\ufeff session"), 200, True),
    ("control-inside", rest_json("how long\x07 is a\x00 session"), 200, True),
    ("combining-accents", rest_json("what is TMS and is it safe? re\u0301sume\u0301"), 200, True),
    ("html-img", rest_json("<img src=x onerror=alert(1)>"), 200, True),
    ("html-script", rest_json("<script>alert('x')</script> what is tms"), 200, True),
    ("sql-injection", rest_json("'; DROP TABLE events; --"), 200, True),
    ("typed-intent-command", rest_json('/crisis{"crisis_region": "GB"}'), 200, True),
    ("typed-slot-command", rest_json('/faq{"handoff_requested": true}'), 200, True),
    ("typed-restart", rest_json("/restart"), 200, True),
    ("many-newlines", rest_json("\n".join(["what are the side effects"] * 200)), 200, True),
    ("duplicate-keys", b'{"sender": "bad-input-{n}", "message": "x", "message": "what is tms"}', 200, True),
    ("metadata-odd-values", rest_json("what is tms", metadata={"locale": 5, "page_url": ["x"]}), 200, True),
    ("text-plain-content-type", rest_json("what is tms"), 200, True),
    ("deep-nesting-5000-levels", b'{"sender": "bad-input-{n}", "message": "hi", "metadata": ' + DEEP + b"}", 400, False),
    ("nested-one-level-too-deep", rest_nested(MAX_JSON_DEPTH + 1), 400, False),
    ("metadata-as-deep-as-allowed", rest_nested(MAX_JSON_DEPTH), 200, True),
    ("huge-json-under-server-cap", rest_json("what is tms " * 5000), 413, False),
    ("huge-json-over-server-cap", rest_json("what is tms " * 90_000), 413, False),
    ("utf16-with-bom", rest_json("what is tms").decode().encode("utf-16"), 400, False),
    ("utf8-bom", b"\xef\xbb\xbf" + rest_json("what is tms"), 200, True),
    ("raw-nul-in-string", b'{"sender": "bad-input-{n}", "message": "what is\x00 tms"}', 400, False),
    ("escaped-nul", rest_json("what is\x00 tms"), 200, True),
    ("lone-surrogate-escaped", rest_json("what is tms \ud800"), 200, True),
    ("lone-surrogates-in-metadata", rest_json("what is tms", metadata={"locale": "\ud800", "page": "\udfff"}), 200, True),
    ("form-encoded-body", b"sender=bad-input-{n}&message=what+is+tms", 400, False),
    ("multipart-body", MULTIPART, 400, False),
    ("json-labelled-as-a-form", rest_json("what is tms"), 200, True),  # what `curl -d` sends
]


@pytest.mark.parametrize(("case", "body", "status", "answers"), BAD_REST_CASES, ids=[c[0] for c in BAD_REST_CASES])
def test_rest_bad_input_corpus(servers, case, body, status, answers):
    sender = f"bad-input-{uuid.uuid4().hex[:10]}"
    body = body.replace(b"bad-input-{n}", sender.encode())
    headers = {"Content-Type": CONTENT_TYPES.get(case, "application/json")}
    response = requests.post(f"{servers.rasa_url}{REST}", data=body, headers=headers, timeout=120)
    assert response.status_code == status, response.text
    payload = response.json()
    if len(body) > SERVER_MAX_BYTES:
        assert payload == SANIC_TOO_LARGE
    elif status >= 400:
        assert isinstance(payload.get("error"), str) and payload["error"], payload
    else:
        texts = [m.get("text", "") for m in payload]
        assert any(texts) is answers, payload
        assert not any("<img" in t or "<script" in t for t in texts), texts
        assert not TECHNICAL_PROBLEM & set(texts), "the message was lost"
    # Nothing lost: the same conversation is still answered.
    after = requests.post(f"{servers.rasa_url}{REST}", json={"sender": sender, "message": "what is tms"}, timeout=120)
    assert after.status_code == 200, after.text
    assert WHAT_IS_TMS in "\n".join(m.get("text", "") for m in after.json())


def test_rest_rejects_other_methods_without_a_server_error(servers):
    assert requests.get(f"{servers.rasa_url}{REST}", timeout=30).status_code == 405
    assert requests.put(f"{servers.rasa_url}{REST}", data=b"{}", timeout=30).status_code == 405


def test_sql_text_is_stored_as_text_and_the_store_still_works(servers):
    sender = f"sql-{uuid.uuid4().hex[:8]}"
    requests.post(f"{servers.rasa_url}{REST}", json={"sender": sender, "message": "'; DROP TABLE events; --"}, timeout=60)
    assert [e["text"] for e in stored_user_events(servers, sender)] == ["'; DROP TABLE events; --"]


BAD_TELEGRAM_CASES = [
    # (case id, body: raw bytes, the text of a real update, or a function of a real update's bytes; status)
    ("malformed-json", b'{"update_id": ', 400),
    ("json-array", b"[1, 2]", 400),
    ("not-an-update", b'{"hello": "world"}', 400),
    ("update-without-message", b'{"update_id": 990001}', 200),
    ("message-without-text", None, 200),  # a sticker: gets the text-only note
    ("empty-text", "", 200),
    ("emoji-and-rtl", "🙂 ما هو TMS \u202e", 200),
    ("html", "<img src=x onerror=alert(1)>", 200),
    ("typed-command", '/crisis{"crisis_region": "GB"}', 200),
    ("huge-text", "how long is a session " * 600, 200),
    ("deep-nesting-5000-levels", b'{"update_id": 990002, "message": ' + DEEP + b"}", 400),
    ("message-not-an-object", b'{"update_id": 990003, "message": "what is tms"}', 400),
    ("body-over-server-cap", lambda update: update.replace(b'"text": "', b'"text": "' + b"x" * 100_000), 413),
    ("invalid-utf8", lambda update: update.replace(b'"text": "', b'"text": "\xff\xfe'), 400),
    ("utf16-with-bom", lambda update: update.decode().encode("utf-16"), 400),
    ("raw-nul-in-string", lambda update: update.replace(b'"text": "', b'"text": "\x00'), 400),
    ("utf8-bom", lambda update: b"\xef\xbb\xbf" + update, 200),
    ("escaped-nul", "what is\x00 tms", 200),
    ("lone-surrogate-escaped", "what is tms \ud800", 200),
    ("empty-body", b"", 400),
    ("form-encoded-body", b"update_id=990004&message=hi", 400),
    ("multipart-body", MULTIPART, 400),
    ("text-plain-content-type", lambda update: update, 200),
]


@pytest.mark.parametrize(("case", "body", "status"), BAD_TELEGRAM_CASES, ids=[c[0] for c in BAD_TELEGRAM_CASES])
def test_telegram_bad_input_corpus(servers, fakes, case, body, status):
    telegram, _ = fakes
    url = f"{servers.rasa_url}{TELEGRAM}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": CONTENT_TYPES.get(case, "application/json")}
    chat = new_chat()
    if isinstance(body, bytes):
        response = requests.post(url, data=body, headers=headers, timeout=120)
    elif callable(body):
        raw: Callable[[bytes], bytes] = body
        update = json.dumps(telegram_message(chat, "what is tms")).encode()
        response = requests.post(url, data=raw(update), headers=headers, timeout=120)
    else:
        update = telegram_message(chat, body or "")
        if body is None:
            update["message"].pop("text")
            update["message"]["sticker"] = {"file_id": "x", "file_unique_id": "y", "width": 512, "height": 512,
                                            "is_animated": False, "is_video": False, "type": "regular"}
        response = requests.post(url, json=update, headers=headers, timeout=120)
    assert response.status_code == status, response.text
    # Nothing lost: the same chat is still answered.
    assert WHAT_IS_TMS in "\n".join(m["text"] for m in telegram_say(servers, telegram, chat, "what is tms"))


BAD_TWILIO_CASES = [
    # (case id, changes to a real signed form, or a function of its urlencoded bytes posted as is; status)
    ("no-from", {"From": ""}, 200),
    ("no-body-field", {"Body": None}, 200),
    ("empty-body", {"Body": ""}, 200),
    ("whitespace-body", {"Body": "   \n "}, 200),
    ("emoji-and-rtl", {"Body": "🙂 ما هو TMS"}, 200),
    ("html", {"Body": "<img src=x onerror=alert(1)>"}, 200),
    ("typed-command", {"Body": '/crisis{"crisis_region": "GB"}'}, 200),
    ("number-out-of-range", {"Body": "99"}, 200),
    ("num-media-not-a-number", {"NumMedia": "lots"}, 200),
    ("huge-body", {"Body": "side effects? " * 1200}, 200),
    ("num-media-not-a-number-and-no-text", {"Body": "", "NumMedia": "lots"}, 200),
    ("nul-in-body", {"Body": "what is\x00 tms"}, 200),
    ("utf8-bom", lambda form: b"\xef\xbb\xbf" + form, 200),
    ("invalid-utf8", lambda form: form + b"&Note=\xff\xfe", 400),
    ("utf16-with-bom", lambda form: form.decode().encode("utf-16"), 400),
    ("too-many-fields", lambda form: form + b"".join(b"&f%d=1" % n for n in range(300)), 400),
    ("body-over-server-cap", lambda form: form + b"&Note=" + b"x" * 100_000, 413),
    ("deep-nesting-json", lambda form: b'{"Body": ' + DEEP + b"}", 415),
    ("json-content-type", lambda form: json.dumps(dict(parse_qs(form.decode()))).encode(), 415),
    ("text-plain-content-type", lambda form: form, 415),
    ("multipart-body", lambda form: MULTIPART, 415),
    ("empty-body", lambda form: b"", 403),  # the signature was for the real form
]


@pytest.mark.parametrize(("case", "changes", "status"), BAD_TWILIO_CASES, ids=[c[0] for c in BAD_TWILIO_CASES])
def test_twilio_bad_input_corpus(servers, fakes, case, changes, status):
    _, twilio = fakes
    sender = new_number()
    form = twilio_form(sender, "hello")
    if callable(changes):
        url = f"{servers.rasa_url}{TWILIO}"
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        headers = {"Content-Type": CONTENT_TYPES.get(case, FORM_TYPE), "X-Twilio-Signature": signature}
        raw: Callable[[bytes], bytes] = changes
        response = requests.post(url, data=raw(urlencode(form).encode()), headers=headers, timeout=120)
    else:
        for key, value in changes.items():
            if value is None:
                form.pop(key)
            else:
                form[key] = value
        response = post_twilio(servers, form)
    assert response.status_code == status, response.text
    # Nothing lost: the same number is still answered.
    assert WHAT_IS_TMS in "\n".join(m["Body"] for m in twilio_say(servers, twilio, sender, "what is tms"))


# --- A professional takes over on Telegram and SMS ------------------------------------


def add_staff_account(db) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "alice", "--name", "Dr Alice Smith", "--password-stdin"],
        input=STAFF_PASSWORD + "\n", text=True, check=True, cwd=PROJECT_ROOT, capture_output=True,
        env={"PATH": "/usr/bin:/bin", "TRACKER_DB_PATH": str(db)},
    )


def open_handoff_of(servers: AssistantServers, sender: str):
    from bot.server.staff.store import HandoffRepository, engine_from_env

    return HandoffRepository(engine_from_env({"TRACKER_DB_PATH": str(servers.db)})).open_for_sender(sender)


@pytest.mark.parametrize("platform", ["telegram", "sms"])
def test_a_professional_takes_over_on_the_same_channel(servers, fakes, clinic_webhook, domain, platform):
    from tests.test_staff_takeover import Professional

    telegram, twilio = fakes
    if platform == "telegram":
        person = new_chat()
        sender = str(person)

        def say(text):
            return [m["text"] for m in telegram_say(servers, telegram, person, text)]

        def sent_since(before):
            return [m["text"] for m in telegram.sent_to(person, telegram.snapshot()[before:])]

        def calls():
            return len(telegram.snapshot())

        ask = "/human"
    else:
        sender = new_number()

        def say(text):
            return [m["Body"] for m in twilio_say(servers, twilio, sender, text)]

        def sent_since(before):
            return [m["Body"] for m in twilio.sent_to(sender, twilio.snapshot()[before:])]

        def calls():
            return len(twilio.snapshot())

        ask = "HUMAN"
    connected = domain["responses"]["utter_handoff_connected"][0]["text"].format(handoff_wait="as soon as one is free")
    first = say(ask)
    assert connected in "\n\n".join(first)
    handoff = wait_until(lambda: open_handoff_of(servers, sender))
    assert handoff.channel == ("telegram" if platform == "telegram" else "twilio")

    alice = Professional(servers)
    alice.http.headers["Origin"] = servers.rasa_url
    alice.sign_in()
    alice.act(handoff.ref, "claim")
    before = calls()
    alice.act(handoff.ref, "reply", text="Hi, this is Alice from the clinic.")
    assert sent_since(before) == ["Dr Alice Smith (clinic team): Hi, this is Alice from the clinic."]

    assert say("how long is a session?") == []  # Alice has the conversation
    crisis = say("i want to end my life tonight")
    assert crisis and CRISIS_LINE in crisis[0]
    assert wait_until(lambda: open_handoff_of(servers, sender).urgent)  # marked in the background

    before = calls()
    alice.act(handoff.ref, "resolve")
    closing = sent_since(before)
    assert closing[0] == domain["responses"]["utter_staff_resolved"][0]["text"]
    assert CRISIS_LINE in closing[-1]
    answer = say("how long is a session?")
    assert answer and "20 to 40 minutes" in answer[0]
