"""Telegram's /forget, /export and 👍/👎, and SMS/WhatsApp's FORGET, on a real SQLite store.

The connectors hand these functions the update and their output channel; here the output
channel is a recorder, the updates are real aiogram objects built from Telegram's JSON.
"""

from __future__ import annotations

import asyncio
from typing import Any, List, Optional, Tuple

import pytest
from aiogram.types import Update

from bot.server.privacy import erase, messaging
from tests.server.privacy.conftest import FAQ_TURN, GREETING_TURN, START, Stores, conversation
from tests.server.privacy.test_feedback import CRISIS_TURN

CHAT = 123456789
SENDER = str(CHAT)
FAQ_ANSWER_TS = START + 4.5
AGENT = object()  # a Rasa agent took the turn (its parts are not used here)


class Recorder:
    """What a connector's output channel was asked to do."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, Any, Any, dict]] = []

    async def send_text_message(self, recipient: str, text: str, **kwargs: Any) -> None:
        self.calls.append(("text", recipient, text, kwargs))

    async def send_message(self, recipient: str, text: str, **kwargs: Any) -> None:
        self.calls.append(("message", recipient, text, kwargs))

    async def send_text_parts(self, recipient: str, text: str) -> None:
        self.calls.append(("text", recipient, text, {}))

    async def answer_callback_query(self, query_id: str, text: Optional[str] = None) -> None:
        self.calls.append(("answer", query_id, text, {}))

    async def edit_message_reply_markup(self, chat: str, message_id: int, reply_markup: Any = None) -> None:
        self.calls.append(("edit", chat, message_id, {"reply_markup": reply_markup}))

    def texts(self) -> List[str]:
        return [call[2] for call in self.calls if call[0] in ("text", "message")]


@pytest.fixture
def stores(sqlite_stores: Stores, monkeypatch: pytest.MonkeyPatch) -> Stores:
    monkeypatch.setattr(erase._Default, "eraser", sqlite_stores.eraser)  # the process's eraser
    return sqlite_stores


def message_update(text: str, update_id: int = 1) -> Update:
    return Update(
        update_id=update_id,
        message={"message_id": 7, "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": text},
    )


def callback_update(data: str) -> Update:
    return Update(
        update_id=2,
        callback_query={
            "id": "cb-1", "chat_instance": "x", "data": data,
            "from": {"id": CHAT, "is_bot": False, "first_name": "P"},
            "message": {"message_id": 9, "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": "?"},
        },
    )


def handle(update: Update, out: Recorder, bot_name: str = "TmsBot") -> bool:
    return asyncio.run(messaging.handle_telegram(update, CHAT, out, None, bot_name))


def keyboard_data(markup: Any) -> List[List[Tuple[str, str]]]:
    return [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard]


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/forget", "ask"), ("/FORGET", "ask"), ("/forget@TmsBot", "ask"), ("/forget confirm", "forget"),
        ("/forget@TmsBot  CONFIRM", "forget"), ("/export", "export"), ("/export@tmsbot", "export"),
        ("/forget@OtherBot", None), ("/forget now", None), ("/export all", None), ("forget", None),
        ("/forgetful", None), ("please /forget", None), ("", None), (None, None),
    ],
)
def test_telegram_commands(text: Optional[str], command: Optional[str]) -> None:
    assert messaging.telegram_command(text, "TmsBot") == command


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("FORGET", "ask"), ("forget", "ask"), (" Forget. ", "ask"), ("FORGET YES", "forget"),
        ("forget  yes!", "forget"), ("STOP", None), ("forget me", None), ("FORGET NO", None), ("", None), (None, None),
    ],
)
def test_sms_keywords(body: Optional[str], command: Optional[str]) -> None:
    assert messaging.sms_command(body) == command


def test_forget_asks_then_deletes_on_the_button(stores: Stores) -> None:
    stores.save(SENDER, conversation(START, [GREETING_TURN, FAQ_TURN]))
    out = Recorder()
    assert handle(message_update("/forget"), out)
    (kind, recipient, text, kwargs), = out.calls
    assert (kind, recipient, text) == ("message", SENDER, messaging.FORGET_ASK_TELEGRAM)
    assert keyboard_data(kwargs["reply_markup"]) == [
        [("Yes, delete it", "privacy:forget"), ("No, keep it", "privacy:keep")]
    ]
    assert stores.count("events", "sender_id = :s", s=SENDER) > 0, "nothing deleted before the answer"

    out = Recorder()
    assert handle(callback_update("privacy:keep"), out)
    assert out.calls == [("answer", "cb-1", None, {}), ("text", SENDER, messaging.FORGET_KEPT, {})]
    assert stores.count("events", "sender_id = :s", s=SENDER) > 0

    out = Recorder()
    assert handle(callback_update("privacy:forget"), out)
    assert out.texts() == [messaging.FORGET_DONE]
    assert stores.held(SENDER) == {"events": 0, "handoffs": 0, "answer_feedback": 0}
    out = Recorder()
    assert handle(message_update("/forget confirm"), out)
    assert out.texts() == [messaging.FORGET_NOTHING]


def test_export_sends_the_transcript(stores: Stores) -> None:
    out = Recorder()
    assert handle(message_update("/export"), out)
    assert out.texts() == [messaging.EXPORT_NOTHING]
    stores.save(SENDER, conversation(START, [GREETING_TURN, FAQ_TURN]))
    out = Recorder()
    assert handle(message_update("/export"), out)
    (text,) = out.texts()
    assert text.startswith("Conversation with the TMS assistant") and "You\nhow long is a session?" in text


def test_no_rating_is_offered_without_a_turn_by_rasa(stores: Stores) -> None:
    stores.save(SENDER, conversation(START, [GREETING_TURN, FAQ_TURN]))
    out = Recorder()
    asyncio.run(messaging.offer_feedback_telegram(CHAT, out, None))
    assert out.calls == []


def test_other_messages_and_buttons_go_to_rasa(stores: Stores) -> None:
    out = Recorder()
    for update in (message_update("how long is a session?"), callback_update("What is TMS?"), message_update("/start")):
        assert not handle(update, out)
    assert out.calls == []


def test_a_rating_is_offered_after_an_faq_answer_only(stores: Stores) -> None:
    stores.save(SENDER, conversation(START, [GREETING_TURN, FAQ_TURN]))
    out = Recorder()
    asyncio.run(messaging.offer_feedback_telegram(CHAT, out, AGENT))
    (kind, recipient, text, kwargs), = out.calls
    assert (kind, recipient, text) == ("message", SENDER, "Was this helpful?")
    assert keyboard_data(kwargs["reply_markup"]) == [[("\U0001f44d", f"fb:1:{FAQ_ANSWER_TS!r}"), ("\U0001f44e", f"fb:0:{FAQ_ANSWER_TS!r}")]]
    for turns in ([GREETING_TURN], [FAQ_TURN, CRISIS_TURN], [("q", [("utter_advice_medication", "I can't advise.", [])])]):
        stores.eraser.erase(SENDER)
        stores.save(SENDER, conversation(START, turns))
        out = Recorder()
        asyncio.run(messaging.offer_feedback_telegram(CHAT, out, AGENT))
        assert out.calls == [], turns


def test_pressing_a_thumb_stores_and_marks_the_rating(stores: Stores) -> None:
    stores.save(SENDER, conversation(START, [GREETING_TURN, FAQ_TURN]))
    out = Recorder()
    assert handle(callback_update(f"fb:1:{FAQ_ANSWER_TS!r}"), out)
    assert out.calls[0] == ("answer", "cb-1", "Thank you for your feedback.", {})
    kind, chat, message_id, kwargs = out.calls[1]
    assert (kind, chat, message_id) == ("edit", SENDER, 9)
    assert [text for text, _ in keyboard_data(kwargs["reply_markup"])[0]] == ["\U0001f44d \u2713", "\U0001f44e"]
    assert stores.feedback.ratings(SENDER) == {FAQ_ANSWER_TS: True}
    assert handle(callback_update(f"fb:0:{FAQ_ANSWER_TS!r}"), Recorder())
    assert stores.feedback.ratings(SENDER) == {FAQ_ANSWER_TS: False}, "changed, one row"
    out = Recorder()
    assert handle(callback_update(f"fb:1:{START + 5.5!r}"), out)  # the referral: not rated
    assert out.calls == [("answer", "cb-1", messaging.FEEDBACK_GONE, {})]


def test_sms_forget(stores: Stores) -> None:
    phone = "+447700900123"
    stores.save(phone, conversation(START, [GREETING_TURN, FAQ_TURN]))
    out = Recorder()
    assert asyncio.run(messaging.handle_sms("FORGET", phone, out, None))
    assert out.texts() == [messaging.FORGET_ASK_SMS]
    assert stores.count("events", "sender_id = :s", s=phone) > 0
    assert asyncio.run(messaging.handle_sms("Forget yes", phone, out, None))
    assert out.texts()[-1] == messaging.FORGET_DONE
    assert stores.count("events", "sender_id = :s", s=phone) == 0
    assert not asyncio.run(messaging.handle_sms("STOP", phone, out, None))
