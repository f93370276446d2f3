"""Unit tests of the messaging connectors' pure parts and webhook guards (no server, no network)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Dict, List
from urllib.parse import urlencode

import pytest
from aiogram.types import Update
from twilio.request_validator import RequestValidator

from bot.server.channels import telegram as tg
from bot.server.channels import twilio as tw
from bot.server.channels.text import as_plain_text, secrets_match, split_text, utf16_len
from tests.conftest import PROJECT_ROOT, load_yaml

# The default crisis reply (the variation without a region condition).
CRISIS_TEXT = next(
    variation["text"]
    for variation in load_yaml(PROJECT_ROOT / "domain.yml")["responses"]["utter_crisis"]
    if not variation.get("condition")
)
TOKEN = "123456:TEST-token_abcdefghij"
SECRET = "s3cret-Token_for-tests"
TELEGRAM_ENV = {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": SECRET}
TWILIO_SETTINGS = tw.TwilioSettings(
    account_sid="AC" + "0" * 32,
    auth_token="twilio-auth-token",
    sms_number="+15550001111",
    whatsapp_number="whatsapp:+14155238886",
    webhook_url="https://bot.example.org/webhooks/twilio/webhook",
    api_base_url="http://127.0.0.1:9",
)
MENU = [
    {"title": "What is TMS?", "payload": "What is TMS?"},
    {"title": "Session length", "payload": "How long is one TMS session?"},
    {"title": "Side effects", "payload": "What are the side effects of TMS?"},
]


# --- Message splitting ----------------------------------------------------------------


def test_short_text_is_one_message():
    assert split_text("  Hello there.  ", 1600) == ["Hello there."]
    assert split_text("", 10) == [] and split_text(None, 10) == []


@pytest.mark.parametrize("limit", [40, 160, 1600, 4096])
def test_long_text_is_split_within_the_limit_keeping_every_word_in_order(limit):
    paragraph = " ".join(f"Sentence number {i} says something about TMS." for i in range(60))
    text = "\n\n".join([paragraph, "Short line.\nAnother line.", paragraph])
    chunks = split_text(text, limit)
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert " ".join(chunks).split() == text.split()


def test_split_prefers_paragraph_boundaries():
    text = "A" * 50 + "\n\n" + "B" * 50 + "\n\n" + "C" * 50
    assert split_text(text, 110) == ["A" * 50 + "\n\n" + "B" * 50, "C" * 50]


def test_unbroken_token_longer_than_the_limit_is_cut():
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_telegram_length_counts_utf16_units():
    assert utf16_len("ab") == 2 and utf16_len("\U0001F600") == 2
    chunks = split_text("\U0001F600" * 3000, tg.MAX_MESSAGE_LENGTH, utf16_len)
    assert [utf16_len(c) for c in chunks] == [4096, 1904]


@pytest.mark.parametrize("limit", [100, 160, 1600])
def test_crisis_reply_keeps_the_phone_line_first_when_split(limit):
    # Any limit at least as long as the phone line keeps that line whole and first.
    first_line = CRISIS_TEXT.splitlines()[0]
    assert "call or text 988" in first_line and len(first_line) <= limit
    chunks = split_text(CRISIS_TEXT, limit)
    assert chunks[0].splitlines()[0] == first_line
    assert " ".join(chunks).split() == CRISIS_TEXT.split()


def test_typed_text_never_reaches_rasa_as_an_intent():
    assert as_plain_text("/crisis") == "crisis"
    assert as_plain_text("  //restart ") == "restart"
    assert as_plain_text("what is TMS?") == "what is TMS?"


def test_secret_comparison():
    assert secrets_match("abc", "abc")
    assert not secrets_match("abd", "abc")
    assert not secrets_match(None, "abc")
    assert not secrets_match("", "")


# --- Telegram -------------------------------------------------------------------------


def telegram_channel(env: Dict[str, str]) -> tg.TelegramChannel:
    return tg.TelegramChannel(settings=tg.TelegramSettings.from_env(env))


def route(blueprint, uri: str):
    return next(r.handler for r in blueprint._future_routes if r.uri == uri)


class Recorder:
    def __init__(self) -> None:
        self.messages: List[Any] = []

    async def __call__(self, message) -> None:
        self.messages.append(message)


def telegram_request(body: Dict[str, Any], secret: str | None) -> SimpleNamespace:
    headers = {tg.SECRET_HEADER: secret} if secret is not None else {}
    return SimpleNamespace(headers=headers, json=body, body=json.dumps(body).encode())


def text_update(text: str, update_id: int = 1, chat_id: int = 42) -> Dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 7,
            "date": 1700000000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
            "text": text,
        },
    }


def test_telegram_is_off_without_a_token(caplog):
    caplog.set_level("INFO", logger=tg.__name__)
    channel = telegram_channel({})
    channel.log_state()
    assert not channel.enabled
    assert channel.get_output_channel() is None
    assert [r.getMessage() for r in caplog.records] == ["Telegram connector is off: TELEGRAM_TOKEN is not set."]


def test_telegram_from_credentials_reads_the_environment(monkeypatch):
    for name in ("TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert not tg.TelegramChannel.from_credentials(None).enabled
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9")
    channel = tg.TelegramChannel.from_credentials(None)
    assert channel.enabled
    assert channel.settings.server.api_url(TOKEN, "sendMessage") == f"http://127.0.0.1:9/bot{TOKEN}/sendMessage"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"TELEGRAM_TOKEN": TOKEN}, "TELEGRAM_SECRET_TOKEN is not set"),
        ({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": "has spaces!"}, "TELEGRAM_SECRET_TOKEN must be"),
        ({"TELEGRAM_TOKEN": "not-a-token", "TELEGRAM_SECRET_TOKEN": SECRET}, "does not look like"),
    ],
)
def test_telegram_stays_off_when_misconfigured(env, problem):
    channel = telegram_channel(env)
    assert not channel.enabled
    assert any(problem in p for p in channel.problems)


async def test_telegram_webhook_answers_503_when_off():
    recorder = Recorder()
    handler = route(telegram_channel({}).blueprint(recorder), "/webhook")
    result = await handler(telegram_request(text_update("hi"), SECRET))
    assert result.status == 503 and not recorder.messages


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("wrong-secret", 403), (SECRET + "x", 403), ("", 403)])
async def test_telegram_webhook_rejects_missing_or_wrong_secret(secret, status):
    recorder = Recorder()
    channel = telegram_channel(TELEGRAM_ENV)
    handler = route(channel.blueprint(recorder), "/webhook")
    result = await handler(telegram_request(text_update("I want to end my life"), secret))
    assert result.status == status
    assert not recorder.messages
    assert channel._output is None  # no output channel was even created


async def test_telegram_webhook_with_the_secret_hands_the_text_to_rasa_once():
    recorder = Recorder()
    channel = telegram_channel(TELEGRAM_ENV)
    handler = route(channel.blueprint(recorder), "/webhook")
    update = text_update("How long is a TMS session?", update_id=5, chat_id=99)
    assert (await handler(telegram_request(update, SECRET))).status == 200
    assert (await handler(telegram_request(update, SECRET))).status == 200  # re-delivery
    assert len(recorder.messages) == 1
    message = recorder.messages[0]
    assert (message.text, message.sender_id, message.input_channel) == ("How long is a TMS session?", "99", "telegram")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("/start", "hello"), ("/start@TmsBot", "hello"), ("/help", "what can I ask?"), ("/crisis", "crisis"), ("hi", "hi"),
     ("/human", "/talk_to_human"), ("/human@TmsBot", "/talk_to_human")],
)
def test_telegram_commands(typed, expected):
    assert tg.command_text(typed, "TmsBot") == expected


def test_inline_keyboard_keeps_payloads_and_shortens_long_ones():
    long_payload = "Can you tell me in detail what the research says about TMS for depression?"
    markup = tg.inline_keyboard(MENU + [{"title": "Research", "payload": long_payload}])
    rows = markup.inline_keyboard
    assert [row[0].text for row in rows] == ["What is TMS?", "Session length", "Side effects", "Research"]
    assert rows[1][0].callback_data == "How long is one TMS session?"
    key = rows[3][0].callback_data
    assert len(key.encode()) <= tg.MAX_CALLBACK_DATA_BYTES and key != long_payload

    def press(data: str) -> Update:
        return Update(
            **{
                "update_id": 9,
                "callback_query": {
                    "id": "cb1",
                    "from": {"id": 42, "is_bot": False, "first_name": "Sam"},
                    "chat_instance": "1",
                    "data": data,
                    "message": {
                        "message_id": 3, "date": 1700000000, "chat": {"id": 42, "type": "private"},
                        "text": "Pick a topic", "reply_markup": json.loads(markup.as_json()),
                    },
                },
            }
        )

    assert tg.text_of_update(press(key)) == (42, long_payload, False)
    assert tg.text_of_update(press(rows[1][0].callback_data))[1] == "How long is one TMS session?"
    # A key this process does not know (e.g. after a restart) falls back to the button title.
    unknown = "q:" + "0" * 32
    markup.inline_keyboard[3][0].callback_data = unknown
    assert tg.text_of_update(press(unknown))[1] == "Research"


def test_non_text_telegram_messages_are_flagged():
    update = text_update("x")
    del update["message"]["text"]
    update["message"]["sticker"] = {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1, "is_animated": False}
    assert tg.text_of_update(Update(**update)) == (42, None, True)


class SentMessages(list):
    async def __call__(self, chat_id, text, **kwargs):
        self.append({"chat_id": chat_id, "text": text, **kwargs})


async def test_telegram_output_splits_long_text_and_puts_the_keyboard_on_the_last_part():
    output = tg.TelegramBotOutput(TOKEN)
    output.send_message = sent = SentMessages()
    long_text = "TMS facts. " * 500  # 5500 characters
    await output.send_text_with_buttons("42", long_text, MENU)
    assert len(sent) == 2 and all(len(m["text"]) <= 4096 for m in sent)
    assert "reply_markup" not in sent[0] and isinstance(sent[1]["reply_markup"], tg.InlineKeyboardMarkup)
    assert all(m["disable_web_page_preview"] and "parse_mode" not in m for m in sent)
    sent.clear()
    await output.send_text_message("42", "See https://988lifeline.org for chat.")
    assert sent[0]["text"] == "See https://988lifeline.org for chat."


# --- Twilio ---------------------------------------------------------------------------


def test_twilio_is_off_when_variables_are_unset(caplog):
    caplog.set_level("INFO", logger=tw.__name__)
    channel = tw.TwilioChannel(settings=tw.TwilioSettings.from_env({}))
    channel.log_state()
    assert not channel.enabled and channel.get_output_channel() is None
    assert [r.getMessage() for r in caplog.records] == ["Twilio connector is off: TWILIO_* variables are not set."]


def test_twilio_names_what_is_missing():
    settings = tw.TwilioSettings.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_NUMBER": "+1555"})
    assert settings.missing() == ["TWILIO_WEBHOOK_URL"]
    whatsapp_only = tw.TwilioSettings(account_sid="AC1", auth_token="t", whatsapp_number="whatsapp:+1415", webhook_url="https://x")
    assert whatsapp_only.missing() == []


def test_twilio_replies_come_from_the_right_sender():
    assert TWILIO_SETTINGS.sender_for("+15557654321") == "+15550001111"
    assert TWILIO_SETTINGS.sender_for("whatsapp:+15557654321") == "whatsapp:+14155238886"
    sms_only = tw.TwilioSettings(sms_number="+15550001111")
    assert sms_only.sender_for("whatsapp:+1555") == "whatsapp:+15550001111"


def test_twilio_client_goes_to_the_configured_base_url():
    output = tw.TwilioMessagingOutput(TWILIO_SETTINGS)
    assert output.messages._version.domain.absolute_url("/2010-04-01/x") == "http://127.0.0.1:9/2010-04-01/x"
    assert output.http_client.is_async


def inbound_form(body: str, sender: str = "+15557654321") -> Dict[str, str]:
    # Real inbound SMS carry blank fields (e.g. FromCity); Twilio signs them too.
    return {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": "SM" + "1" * 32, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": "SM" + "1" * 32, "FromState": "NY", "SmsStatus": "received",
        "FromCity": "", "Body": body, "FromCountry": "US", "To": TWILIO_SETTINGS.sms_number, "ToZip": "",
        "NumSegments": "1", "MessageSid": "SM" + "1" * 32, "AccountSid": TWILIO_SETTINGS.account_sid,
        "From": sender, "ApiVersion": "2010-04-01",
    }


def sign(form: Dict[str, str], url: str = TWILIO_SETTINGS.webhook_url, token: str = TWILIO_SETTINGS.auth_token) -> str:
    return RequestValidator(token).compute_signature(url, form)


def test_twilio_signature_check_keeps_blank_fields():
    form = inbound_form("What is TMS?")
    body = urlencode(form).encode()
    signature = sign(form)
    parsed = tw.parse_form(body)
    assert parsed.first("FromCity") == ""
    assert tw.signature_is_valid(TWILIO_SETTINGS.auth_token, TWILIO_SETTINGS.webhook_url, parsed, signature)
    # Dropping blank fields (what Sanic's request.form does) would reject a genuine request.
    without_blanks = tw.FormParams({k: [v] for k, v in form.items() if v})
    assert not tw.signature_is_valid(TWILIO_SETTINGS.auth_token, TWILIO_SETTINGS.webhook_url, without_blanks, signature)


@pytest.mark.parametrize(
    "case", ["missing", "other-token", "tampered-body", "other-url"]
)
def test_twilio_signature_check_rejects_forgeries(case):
    form = inbound_form("What is TMS?")
    signature = {
        "missing": None,
        "other-token": sign(form, token="someone-elses-token"),
        "tampered-body": sign({**form, "Body": "hello"}),
        "other-url": sign(form, url="https://evil.example.org/webhooks/twilio/webhook"),
    }[case]
    params = tw.parse_form(urlencode(form).encode())
    assert not tw.signature_is_valid(TWILIO_SETTINGS.auth_token, TWILIO_SETTINGS.webhook_url, params, signature)


def test_signed_url_adds_the_query_string():
    assert tw.signed_url("https://h/webhooks/twilio/webhook", "a=1") == "https://h/webhooks/twilio/webhook?a=1"
    assert tw.signed_url("https://h/w?a=1", "a=1") == "https://h/w?a=1"


def test_buttons_become_numbered_options():
    text = tw.render_options("Pick a topic or type your own question:", MENU)
    assert text == (
        "Pick a topic or type your own question:\n\n"
        "Reply with a number:\n1) What is TMS?\n2) Session length\n3) Side effects"
    )


@pytest.mark.parametrize(
    ("reply", "payload"),
    [
        ("2", "How long is one TMS session?"),
        (" 2 ", "How long is one TMS session?"),
        ("2.", "How long is one TMS session?"),
        ("#3", "What are the side effects of TMS?"),
        ("Option 1", "What is TMS?"),
        ("0", None),
        ("4", None),
        ("20", None),
        ("2 weeks", None),
        ("what is tms", None),
    ],
)
def test_a_number_reply_picks_that_option(reply, payload):
    option = tw.chosen_option(reply, MENU)
    assert (option or {}).get("payload") == payload


def bot_event(text: str, buttons=None, timestamp: float = 1000.0) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "data": {"buttons": buttons}, "timestamp": timestamp}


def test_offered_options_come_from_the_latest_bot_message_with_buttons():
    other_menu = [{"title": "Benefits", "payload": "What are the benefits of TMS?"}]
    events = [
        {"event": "session_started"},
        {"event": "user", "text": "what can I ask"},
        bot_event("old menu", other_menu),
        {"event": "user", "text": "what can I ask"},
        bot_event("Pick a topic", MENU),
        {"event": "user", "text": "1"},
        bot_event("TMS is ..."),
        bot_event("Talk with your doctor."),
    ]
    assert tw.offered_options(events, now=1100) == MENU
    # Expired offers, and offers from an earlier session, are not used.
    assert tw.offered_options(events, now=1000 + tw.OPTIONS_MAX_AGE + 1) == []
    assert tw.offered_options([bot_event("Pick", MENU), {"event": "session_started"}], now=1000) == []
    assert tw.offered_options([], now=1000) == []


def test_a_turn_puts_the_crisis_reply_first_and_renders_buttons():
    text = tw.turn_text(
        [
            {"text": "Hi! I share general information only.", "utter_action": "utter_greet"},
            {"text": CRISIS_TEXT, "utter_action": "utter_crisis"},
            {"text": "Pick a topic:", "buttons": MENU[:2]},
        ]
    )
    assert text.splitlines()[0] == CRISIS_TEXT.splitlines()[0]
    assert "call or text 988" in text.splitlines()[0]
    assert text.endswith("Reply with a number:\n1) What is TMS?\n2) Session length")


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"From": ["+1555"], "Body": ["STOP"]}, True),
        ({"From": ["+1555"], "Body": [" unsubscribe "]}, True),
        ({"From": ["+1555"], "Body": ["Stop taking my meds?"]}, False),
        ({"From": ["+1555"], "Body": ["help"]}, False),
        ({"From": ["whatsapp:+1555"], "Body": ["STOP"]}, False),
        ({"From": ["+1555"], "Body": ["x"], "OptOutType": ["STOP"]}, True),
    ],
)
def test_sms_opt_out_words_are_not_processed(form, expected):
    assert tw.is_opt_out(tw.FormParams(form)) is expected


class RecordingTwilioOutput(tw.TwilioMessagingOutput):
    def __init__(self, settings):
        super().__init__(settings)
        self.sent: List[Dict[str, Any]] = []

    async def _send_message(self, message_data):
        self.sent.append(message_data)


async def test_twilio_output_batches_a_turn_and_splits_under_1600():
    output = RecordingTwilioOutput(TWILIO_SETTINGS)
    output.collect_turn()
    await output.send_text_message("+15557654321", "An answer \u2019quoted\u2019. " * 150)  # ~3000 chars
    await output.send_text_message("+15557654321", CRISIS_TEXT, utter_action="utter_crisis")
    assert output.sent == []
    await output.flush()
    bodies = [m["body"] for m in output.sent]
    assert len(bodies) >= 3 and all(len(b) <= tw.MAX_MESSAGE_LENGTH for b in bodies)
    assert "call or text 988" in bodies[0].splitlines()[0]
    assert "\u2019" not in "".join(bodies)  # SMS text kept in the GSM-7 alphabet
    assert {(m["to"], m["from_"]) for m in output.sent} == {("+15557654321", "+15550001111")}


async def test_twilio_output_sends_at_once_outside_a_webhook_turn_and_uses_whatsapp_sender():
    output = RecordingTwilioOutput(TWILIO_SETTINGS)
    await output.send_text_with_buttons("whatsapp:+15557654321", "Pick a topic:", MENU)
    assert output.sent == [
        {
            "to": "whatsapp:+15557654321",
            "from_": "whatsapp:+14155238886",
            "body": "Pick a topic:\n\nReply with a number:\n1) What is TMS?\n2) Session length\n3) Side effects",
        }
    ]


def twilio_request(form: Dict[str, str], signature: str | None) -> SimpleNamespace:
    headers = {tw.SIGNATURE_HEADER: signature} if signature is not None else {}
    return SimpleNamespace(
        headers=headers, body=urlencode(form).encode(), query_string="", app=SimpleNamespace(ctx=SimpleNamespace())
    )


async def test_twilio_webhook_answers_503_when_off():
    recorder = Recorder()
    handler = route(tw.TwilioChannel(settings=tw.TwilioSettings()).blueprint(recorder), "/webhook")
    form = inbound_form("hi")
    assert (await handler(twilio_request(form, sign(form)))).status == 503
    assert not recorder.messages


@pytest.mark.parametrize("case", ["missing", "forged"])
async def test_twilio_webhook_rejects_unsigned_and_forged_requests(case):
    recorder = Recorder()
    handler = route(tw.TwilioChannel(settings=TWILIO_SETTINGS).blueprint(recorder), "/webhook")
    form = inbound_form("I want to end my life")
    signature = None if case == "missing" else sign(form, token="forged")
    result = await handler(twilio_request(form, signature))
    assert result.status == 403
    assert not recorder.messages


async def test_twilio_webhook_with_a_valid_signature_hands_the_text_to_rasa(monkeypatch):
    sent: List[Dict[str, Any]] = []

    async def record(self, message_data):
        sent.append(message_data)

    monkeypatch.setattr(tw.TwilioMessagingOutput, "_send_message", record)

    async def reply(message):
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")

    handler = route(tw.TwilioChannel(settings=TWILIO_SETTINGS).blueprint(reply), "/webhook")
    form = inbound_form("/What is TMS?")
    result = await handler(twilio_request(form, sign(form)))
    assert result.status == 200 and b"<Response>" in result.body
    assert sent == [{"to": "+15557654321", "from_": "+15550001111", "body": "echo: What is TMS?"}]


async def failing_handler(message) -> None:
    raise RuntimeError("the model could not be loaded")


async def test_telegram_failure_tells_the_person_with_the_crisis_line():
    channel = telegram_channel(TELEGRAM_ENV)
    output = channel.get_output_channel()
    output.send_message = sent = SentMessages()
    handler = route(channel.blueprint(failing_handler), "/webhook")
    request = telegram_request(text_update("hello", update_id=77), SECRET)
    request.app = SimpleNamespace(ctx=SimpleNamespace())
    assert (await handler(request)).status == 200  # no re-delivery loop
    assert len(sent) == 1 and "988" in sent[0]["text"] and sent[0]["chat_id"] == "42"


async def test_twilio_failure_still_sends_what_was_produced_and_a_problem_note(monkeypatch):
    sent: List[Dict[str, Any]] = []

    async def record(self, message_data):
        sent.append(message_data)

    monkeypatch.setattr(tw.TwilioMessagingOutput, "_send_message", record)

    async def crisis_then_failure(message):
        await message.output_channel.send_text_message(message.sender_id, CRISIS_TEXT, utter_action="utter_crisis")
        raise RuntimeError("action server exploded")

    handler = route(tw.TwilioChannel(settings=TWILIO_SETTINGS).blueprint(crisis_then_failure), "/webhook")
    form = inbound_form("I want to end my life")
    assert (await handler(twilio_request(form, sign(form)))).status == 200
    assert len(sent) == 1
    assert sent[0]["body"].startswith(CRISIS_TEXT.splitlines()[0])
    assert sent[0]["body"].count("988") >= 2  # crisis reply, then the problem note with the line


@pytest.mark.parametrize(
    ("fields", "locale"),
    [
        ({"From": ["+447700900123"], "FromCountry": ["GB"]}, "en-GB"),
        ({"From": ["+15551234567"], "FromCountry": ["CA"]}, "en-CA"),
        ({"From": ["whatsapp:+61412345678"]}, "en-AU"),
        ({"From": ["whatsapp:+353851234567"]}, "en-IE"),
        ({"From": ["whatsapp:+15551234567"]}, None),  # +1: US or Canada, unknown
        ({"From": ["+4915112345678"], "FromCountry": [""]}, None),
    ],
)
def test_sender_country_becomes_the_locale_for_crisis_lines(fields, locale):
    form = tw.FormParams(fields)
    assert tw.sender_locale(form) == locale
    assert tw.TwilioChannel.metadata_of(form).get("locale") == locale


# --- Widget-only signals --------------------------------------------------------------


async def test_messaging_platforms_skip_the_widgets_handoff_signal():
    telegram = tg.TelegramBotOutput(TOKEN)
    telegram.send_message = sent = SentMessages()
    await telegram.send_custom_json("42", {"handoff": "waiting"})
    await telegram.send_custom_json("42", {"text": "a real custom message"})
    assert [m["text"] for m in sent] == ["a real custom message"]

    twilio = tw.TwilioMessagingOutput(TWILIO_SETTINGS)
    calls = []

    async def record(message_data):
        calls.append(message_data)

    twilio._send_message = record
    await twilio.send_custom_json("+15557654321", {"handoff": "waiting"})
    assert calls == []
    await twilio.send_custom_json("+15557654321", {"media_url": "https://example.org/x.png"})
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [("HUMAN", "/talk_to_human"), ("person", "/talk_to_human"), (" Agent! ", "/talk_to_human"),
     ("human being?", "human being?"), ("/talk_to_human", "talk_to_human"), ("a person said hi", "a person said hi")],
)
async def test_a_one_word_sms_asks_for_a_person(body, expected):
    channel = tw.TwilioChannel(settings=TWILIO_SETTINGS)
    form = tw.FormParams({"Body": [body], "From": ["+15557654321"]})
    assert await channel.user_text(None, form, "+15557654321") == expected
