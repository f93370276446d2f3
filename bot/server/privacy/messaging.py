"""Deleting, exporting and rating on the messaging platforms (the connectors call these).

Telegram (bot/server/channels/telegram.py):
- `/forget` asks first, with two inline buttons (or `/forget confirm`), then deletes the
  conversation (erase.py); `/export` sends the transcript (transcript.py), split under
  Telegram's length limit by the output channel;
- after a turn whose answer is an FAQ answer (feedback.py decides, so never in a crisis
  turn), "Was this helpful?" with 👍 and 👎; pressing one stores the rating and marks it.
SMS and WhatsApp (bot/server/channels/twilio.py):
- `FORGET` asks to confirm with `FORGET YES`, which deletes. `STOP` stays Twilio's own
  opt-out: the connector never hands it here.

None of this reaches Rasa: the commands and button presses are answered here and are not
stored in the conversation. The chat on the person's own phone or app is theirs: the
replies say that deleting here does not remove it there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Optional

from bot.server.privacy.erase import default_eraser, delete_conversation
from bot.server.privacy.feedback import FeedbackStore, NoSuchAnswer, NotRated, latest_answer
from bot.server.privacy.transcript import conversation_events, export_conversation

logger = logging.getLogger(__name__)

# What people are told (plain words, like the domain's responses; kept here because the
# connectors send them without Rasa).
FORGET_ASK_TELEGRAM = (
    "Delete this conversation? Everything you and the assistant wrote here is removed from "
    "the clinic's assistant for good. Choose below, or send /forget confirm."
)
FORGET_YES = "Yes, delete it"
FORGET_NO = "No, keep it"
FORGET_ASK_SMS = (
    "To delete this conversation from the clinic's assistant for good, reply FORGET YES. "
    "Messages already on your phone stay there."
)
FORGET_DONE = (
    "Your conversation has been deleted from the clinic's assistant. If you write again, a new "
    "conversation starts. Messages already in this chat stay on your device."
)
FORGET_NOTHING = "Nothing was stored for this conversation, so there was nothing to delete."
FORGET_KEPT = "Nothing was deleted."
FORGET_FAILED = "Sorry, the conversation could not be deleted right now. Please try again later."
EXPORT_NOTHING = "Nothing is stored for this conversation."
EXPORT_FAILED = "Sorry, the conversation could not be exported right now. Please try again later."
FEEDBACK_QUESTION = "Was this helpful?"
FEEDBACK_THANKS = "Thank you for your feedback."
FEEDBACK_GONE = "This answer can no longer be rated."
THUMBS = {True: "\U0001f44d", False: "\U0001f44e"}
CHOSEN = " \u2713"

CALLBACK_FORGET, CALLBACK_KEEP = "privacy:forget", "privacy:keep"
CALLBACK_FEEDBACK = re.compile(r"^fb:([01]):(\d{1,11}(?:\.\d{1,9})?)$")
TELEGRAM_COMMAND = re.compile(r"^/(forget|export)(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(\S.*))?$", re.IGNORECASE | re.DOTALL)
SMS_FORGET = re.compile(r"^forget(?:\s+(yes))?$", re.IGNORECASE)
FAQ_PREFIX = "utter_faq/"


# ---- what both platforms do ------------------------------------------------------------


def agent_of(request: Any) -> Any:
    """The running Rasa agent a webhook request belongs to (None while it loads, or in tests)."""
    return getattr(getattr(getattr(request, "app", None), "ctx", None), "agent", None)


async def forget(sender_id: str, agent: Any) -> str:
    """Deletes the conversation; what to tell the person. Failures are logged without ids."""
    try:
        counts = await delete_conversation(sender_id, agent=agent)
    except Exception as error:  # noqa: BLE001 - the person is told, the server goes on
        logger.error("Deleting a conversation on request failed: %s", type(error).__name__)
        return FORGET_FAILED
    logger.info("Privacy: a conversation was deleted by its owner (%d events).", counts.events)
    return FORGET_DONE if counts.found else FORGET_NOTHING


async def transcript(sender_id: str) -> str:
    try:
        text = await asyncio.to_thread(lambda: export_conversation(sender_id, engine=default_eraser().engine))
    except Exception as error:  # noqa: BLE001 - the person is told, the server goes on
        logger.error("Exporting a conversation failed: %s", type(error).__name__)
        return EXPORT_FAILED
    return text or EXPORT_NOTHING


# ---- Telegram ---------------------------------------------------------------------------


def telegram_command(text: Optional[str], bot_name: str = "") -> Optional[str]:
    """"ask", "forget" or "export" for /forget, /forget confirm and /export (also
    /forget@ThisBot); None for anything else."""
    match = TELEGRAM_COMMAND.match((text or "").strip())
    if not match:
        return None
    command, addressed_to, rest = match.group(1).lower(), match.group(2), (match.group(3) or "").strip().lower()
    if addressed_to and bot_name and addressed_to.lower() != bot_name.lower():
        return None  # a command for another bot in a group
    if command == "export":
        return "export" if not rest else None
    if not rest:
        return "ask"
    return "forget" if rest == "confirm" else None


def forget_keyboard() -> Any:
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    markup = InlineKeyboardMarkup(row_width=2)
    markup.row(
        InlineKeyboardButton(FORGET_YES, callback_data=CALLBACK_FORGET),
        InlineKeyboardButton(FORGET_NO, callback_data=CALLBACK_KEEP),
    )
    return markup


def feedback_keyboard(answer_ts: float, chosen: Optional[bool] = None) -> Any:
    """👍 and 👎 for one answer (its bot event's timestamp in the callback data); the chosen
    one is marked, and both stay pressable, so the rating can be changed."""
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    markup = InlineKeyboardMarkup(row_width=2)
    markup.row(
        *[
            InlineKeyboardButton(
                THUMBS[helpful] + (CHOSEN if chosen is helpful else ""),
                callback_data=f"fb:{int(helpful)}:{answer_ts!r}",
            )
            for helpful in (True, False)
        ]
    )
    return markup


async def handle_telegram(update: Any, chat_id: Any, out: Any, agent: Any, bot_name: str = "") -> bool:
    """Answers a privacy command or button press; False for anything else (Rasa's then)."""
    if chat_id is None:
        return False
    sender = str(chat_id)
    query = update.callback_query
    if query is not None:
        data = query.data or ""
        if data in (CALLBACK_FORGET, CALLBACK_KEEP):
            await out.answer_callback_query(query.id)
            reply = await forget(sender, agent) if data == CALLBACK_FORGET else FORGET_KEPT
            await out.send_text_message(sender, reply)
            return True
        match = CALLBACK_FEEDBACK.match(data)
        if match:
            await _rate_on_telegram(query, sender, match.group(1) == "1", float(match.group(2)), out)
            return True
        return False
    message = update.message
    command = telegram_command(message.text if message is not None else None, bot_name)
    if command == "ask":
        await out.send_message(sender, FORGET_ASK_TELEGRAM, reply_markup=forget_keyboard())
    elif command == "forget":
        await out.send_text_message(sender, await forget(sender, agent))
    elif command == "export":
        await out.send_text_message(sender, await transcript(sender))
    return command is not None


async def _rate_on_telegram(query: Any, sender: str, helpful: bool, answer_ts: float, out: Any) -> None:
    def record() -> None:  # in a thread: the database calls block
        FeedbackStore(default_eraser().engine).record(sender, answer_ts, helpful)

    try:
        await asyncio.to_thread(record)
    except (NoSuchAnswer, NotRated):
        await out.answer_callback_query(query.id, text=FEEDBACK_GONE)
        return
    await out.answer_callback_query(query.id, text=FEEDBACK_THANKS)
    message = query.message
    if message is not None:
        try:
            await out.edit_message_reply_markup(
                sender, message.message_id, reply_markup=feedback_keyboard(answer_ts, helpful)
            )
        except Exception as error:  # noqa: BLE001 - the rating is stored; the mark is a nicety
            logger.warning("Could not mark the rating on Telegram: %s", type(error).__name__)


async def offer_feedback_telegram(chat_id: Any, out: Any, agent: Any) -> None:
    """After a turn: 👍/👎 under its answer if that was an FAQ answer (never after a crisis reply).
    Without a Rasa agent no turn was taken in this process: nothing to offer."""
    if chat_id is None or agent is None:
        return
    sender = str(chat_id)
    try:
        events = await asyncio.to_thread(conversation_events, default_eraser().engine, sender)
    except Exception as error:  # noqa: BLE001 - no rating offered; the answer stands
        logger.warning("Could not read the conversation to offer a rating: %s", type(error).__name__)
        return
    answer = latest_answer(events)
    if answer is not None and answer.topic.startswith(FAQ_PREFIX):
        await out.send_message(sender, FEEDBACK_QUESTION, reply_markup=feedback_keyboard(answer.ts))


# ---- SMS and WhatsApp ---------------------------------------------------------------------


def sms_command(body: Optional[str]) -> Optional[str]:
    """"ask" for FORGET, "forget" for FORGET YES (any case, trailing punctuation ignored)."""
    match = SMS_FORGET.match((body or "").strip().strip(".!").strip())
    if not match:
        return None
    return "forget" if match.group(1) else "ask"


async def handle_sms(body: Optional[str], sender: str, out: Any, agent: Any) -> bool:
    """Answers FORGET / FORGET YES; False for anything else (Rasa's then)."""
    command = sms_command(body)
    if command is None:
        return False
    reply = FORGET_ASK_SMS if command == "ask" else await forget(sender, agent)
    await out.send_text_parts(sender, reply)
    return True
