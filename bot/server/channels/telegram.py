"""Telegram connector: Rasa's TelegramInput/TelegramOutput, configured from the environment.

Enable it in credentials.yml with an empty block::

    bot.server.channels.telegram.TelegramChannel:

Environment variables (see docs/messaging.md):

- TELEGRAM_TOKEN          bot token from @BotFather. Unset: the connector is off.
- TELEGRAM_SECRET_TOKEN   secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token
                          (1-256 chars of A-Z a-z 0-9 _ -). Required when the token is set.
- TELEGRAM_WEBHOOK_URL    public https URL of /webhooks/telegram/webhook. When set, the
                          webhook (with the secret) is registered when the server starts.
- TELEGRAM_BOT_NAME       the bot's username (for "/start@name" commands in groups).
- TELEGRAM_API_BASE_URL   another Bot API server (self-hosted, or a fake in tests).
- TELEGRAM_SET_WEBHOOK    "false" to skip the setWebhook call at start.

Differences from Rasa's connector: the webhook is authenticated by the secret-token
header (constant-time compare; 401 without it, 403 when wrong) instead of a getMe call
per update; no network call happens while the server is being built; quick replies
become an inline keyboard, one button per row; long texts are split under Telegram's
4096-character limit; links stay plain text (no Markdown/HTML parse mode); a body that is
not an update gets 400 or 413 (bot/server/channels/inbound.py), never a 500. /forget and
/export, and 👍/👎 after FAQ answers, are handled by bot/server/privacy/messaging.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Tuple

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer, check_token
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update
from aiogram.utils.exceptions import TelegramAPIError, ValidationError
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.channels.configured import (
    ConfiguredChannel,
    EnvironmentSettings,
    OnNewMessage,
    TextPlatformOutput,
    from_environment,
    switched_on,
)
from bot.server.channels.inbound import (
    MAX_WEBHOOK_BYTES,
    InvalidMessage,
    clean_text,
    parse_json_text,
    read_json,
)
from bot.server.channels.replies import not_text_reply
from bot.server.channels.text import (
    as_plain_text,
    secrets_match,
    split_text,
    utf16_len,
)
from bot.server.privacy import messaging as privacy

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
LONG_PAYLOAD_PREFIX = "q:"
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
NOT_AN_UPDATE = "Not a Telegram update."
# Telegram commands mapped to what a person would type.
# /human is the same command as the widget's "Talk to a professional" button (allowed by
# bot/nlu/command_guard.py), so it never depends on the language model.
COMMANDS = {"start": "hello", "help": "what can I ask?", "topics": "what can I ask?", "human": "/talk_to_human"}


@dataclass(frozen=True)
class TelegramSettings(EnvironmentSettings):
    token: str = from_environment("TELEGRAM_TOKEN")
    secret_token: str = from_environment("TELEGRAM_SECRET_TOKEN")
    webhook_url: str = from_environment("TELEGRAM_WEBHOOK_URL")
    bot_name: str = from_environment("TELEGRAM_BOT_NAME", lambda name: name.lstrip("@"))
    api_base_url: str = from_environment("TELEGRAM_API_BASE_URL")
    set_webhook: bool = from_environment("TELEGRAM_SET_WEBHOOK", switched_on, default=True)

    UNSET_REASON: ClassVar[str] = "TELEGRAM_TOKEN is not set"

    def is_unset(self) -> bool:
        return not self.token

    def problems(self) -> List[str]:
        """Why the connector cannot run; empty when it can."""
        if not self.token:
            return ["TELEGRAM_TOKEN is not set"]
        found = []
        try:
            check_token(self.token)
        except ValidationError:
            found.append("TELEGRAM_TOKEN does not look like a BotFather token (digits:letters)")
        if not self.secret_token:
            found.append("TELEGRAM_SECRET_TOKEN is not set (needed to verify webhook calls)")
        elif not SECRET_PATTERN.match(self.secret_token):
            found.append("TELEGRAM_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return found

    @property
    def server(self) -> TelegramAPIServer:
        if self.api_base_url:
            return TelegramAPIServer.from_base(self.api_base_url)
        return TELEGRAM_PRODUCTION


class _PayloadStore:
    """Button payloads too long for Telegram's 64-byte callback_data, by short key.

    In-memory and per process: after a restart (or on another instance) an old key is
    unknown, and the pressed button's title is used as the message instead.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def key_for(self, payload: str) -> str:
        if len(payload.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            return payload
        key = LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self.size:
            self._payloads.popitem(last=False)
        return key

    def payload_for(self, key: str) -> str | None:
        return self._payloads.get(key)


LONG_PAYLOADS = _PayloadStore()


def inline_keyboard(buttons: List[Dict[str, Any]], store: _PayloadStore = LONG_PAYLOADS) -> InlineKeyboardMarkup:
    """One button per row (titles are short questions; a single row would be cramped)."""
    markup = InlineKeyboardMarkup(row_width=1)
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")
        if button.get("url"):
            markup.row(InlineKeyboardButton(title, url=button["url"]))
        else:
            payload = str(button.get("payload") or title)
            markup.row(InlineKeyboardButton(title, callback_data=store.key_for(payload)))
    return markup


class TelegramBotOutput(TextPlatformOutput, TelegramOutput):
    """Rasa's TelegramOutput (an aiogram Bot) pointed at a configurable Bot API server."""

    def __init__(self, access_token: str | None, server: TelegramAPIServer = TELEGRAM_PRODUCTION) -> None:
        # TelegramOutput.__init__ cannot pass a server; call aiogram's Bot directly.
        Bot.__init__(self, access_token, server=server)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in split_text(text, MAX_MESSAGE_LENGTH, utf16_len):
            await self.send_message(recipient_id, part, disable_web_page_preview=True)

    async def send_text_with_buttons(
        self,
        recipient_id: str,
        text: str,
        buttons: List[Dict[str, Any]],
        button_type: str | None = "inline",
        **kwargs: Any,
    ) -> None:
        parts = split_text(text, MAX_MESSAGE_LENGTH, utf16_len) or ["Please choose:"]
        for part in parts[:-1]:
            await self.send_message(recipient_id, part, disable_web_page_preview=True)
        await self.send_message(
            recipient_id, parts[-1], reply_markup=inline_keyboard(buttons), disable_web_page_preview=True
        )

    async def register_webhook(self, url: str, secret_token: str) -> bool:
        """setWebhook with the secret token (aiogram 2.15's set_webhook cannot pass one)."""
        return await self.request(
            "setWebhook",
            {"url": url, "secret_token": secret_token, "allowed_updates": json.dumps(ALLOWED_UPDATES)},
        )


def update_of(body: bytes) -> Update:
    """The Telegram update a webhook call carries, or InvalidMessage (413 too large, else 400)."""
    payload = read_json(body, MAX_WEBHOOK_BYTES)
    if isinstance(payload, str):  # an update sent as a JSON string, which Rasa's connector reads too
        payload = parse_json_text(payload)
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        raise InvalidMessage(400, NOT_AN_UPDATE)
    try:
        update = Update(**payload)
        # aiogram builds fields lazily and keeps ones of the wrong shape ("message": "x"):
        # reading what the webhook will read makes them fail here, as a 400, not later as a 500.
        text_of_update(update)
    except Exception:  # aiogram raises many kinds of error for fields of the wrong shape
        raise InvalidMessage(400, NOT_AN_UPDATE) from None
    return update


def text_of_update(update: Update, bot_name: str = "") -> Tuple[Any | None, str | None, bool]:
    """(chat id, text to hand to Rasa, whether the update carried something we cannot read).

    Button presses give their payload (looked up when it was too long for callback_data).
    Typed text never reaches Rasa with a leading '/', except mapped commands.
    """
    if update.callback_query is not None:
        query = update.callback_query
        data = query.data or ""
        text = LONG_PAYLOADS.payload_for(data) if data.startswith(LONG_PAYLOAD_PREFIX) else data
        if text is None:
            text = _pressed_button_title(query, data)
        chat = query.message.chat.id if query.message else query.from_user.id
        return chat, text or None, False

    message = update.message or update.edited_message
    if message is None:
        return None, None, False
    if message.text is None:
        return message.chat.id, None, True
    return message.chat.id, command_text(clean_text(message.text), bot_name) or None, False


def _pressed_button_title(query: Any, data: str) -> str | None:
    markup = getattr(query.message, "reply_markup", None) if query.message else None
    for row in getattr(markup, "inline_keyboard", None) or []:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


def command_text(text: str, bot_name: str = "") -> str:
    """'/start' (or '/start@BotName') becomes 'hello'; other text loses any leading '/'."""
    stripped = text.strip()
    if stripped.startswith("/"):
        command, _, rest = stripped[1:].partition(" ")
        name, _, addressed_to = command.partition("@")
        if (not addressed_to or not bot_name or addressed_to.lower() == bot_name.lower()) and name.lower() in COMMANDS:
            return COMMANDS[name.lower()] if not rest.strip() else rest.strip()
    return as_plain_text(stripped)


class _RecentIds:
    """Update ids already handled (Telegram re-delivers an update when a reply is slow)."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._seen: OrderedDict[int, None] = OrderedDict()

    def seen(self, update_id: int | None) -> bool:
        if update_id is None:
            return False
        if update_id in self._seen:
            return True
        self._seen[update_id] = None
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return False


class TelegramChannel(ConfiguredChannel, TelegramInput):
    """Telegram webhook at /webhooks/telegram/webhook, configured by environment variables."""

    settings_type = TelegramSettings
    label = "Telegram"
    settings: TelegramSettings

    def __init__(self, settings: TelegramSettings | None = None, debug_mode: bool = False) -> None:
        super().__init__(settings, debug_mode)
        self._output: TelegramBotOutput | None = None
        self._recent = _RecentIds()

    def describe_when_on(self) -> str:
        return f"(webhook {self.webhook_path}, API {self.settings.api_base_url or 'https://api.telegram.org'})"

    def get_output_channel(self) -> TelegramBotOutput | None:
        """The shared Bot (one aiohttp session, created on first use inside the server loop).

        Unlike Rasa's connector, this never calls setWebhook: that happens once at start.
        """
        if not self.enabled:
            return None
        if self._output is None:
            self._output = TelegramBotOutput(self.settings.token, self.settings.server)
        return self._output

    async def register_webhook(self) -> None:
        if not (self.enabled and self.settings.webhook_url and self.settings.set_webhook):
            return
        try:
            await self.get_output_channel().register_webhook(
                self.settings.webhook_url, self.settings.secret_token
            )
            logger.info("Telegram webhook set to %s.", self.settings.webhook_url)
        except Exception as error:  # The REST and other channels must keep working.
            logger.error("Could not set the Telegram webhook (%s); set it by hand, see docs/messaging.md.", error)

    async def close(self) -> None:
        if self._output is not None and self._output._session is not None:
            await self._output._session.close()

    async def on_server_start(self) -> None:
        await self.register_webhook()

    async def on_server_stop(self) -> None:
        await self.close()

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        secret = request.headers.get(SECRET_HEADER)
        if secret is None:
            return response.json({"error": "Missing secret token."}, status=401)
        if not secrets_match(secret, self.settings.secret_token):
            logger.warning("Rejected a Telegram webhook call with a wrong secret token.")
            return response.json({"error": "Wrong secret token."}, status=403)
        try:
            update = update_of(request.body or b"")
        except InvalidMessage as invalid:
            return invalid.as_response()

        if self._recent.seen(update.update_id):
            return response.text("duplicate")
        out_channel = self.get_output_channel()
        chat_id, text, unreadable = text_of_update(update, self.settings.bot_name)
        # Answered 200 even when the turn fails: an error status makes Telegram re-deliver it.
        async with self.failure_told(out_channel, chat_id, who=f"chat {chat_id}"):
            try:
                # /forget, /export and the rating buttons: answered here, never sent to Rasa.
                agent = privacy.agent_of(request)
                if await privacy.handle_telegram(update, chat_id, out_channel, agent, self.settings.bot_name):
                    return response.text("success")
                if update.callback_query is not None:
                    await out_channel.answer_callback_query(update.callback_query.id)
                if unreadable:
                    await out_channel.send_message(chat_id, not_text_reply())
                if chat_id is not None and text:
                    await on_new_message(
                        UserMessage(
                            text,
                            out_channel,
                            str(chat_id),
                            input_channel=self.name(),
                            metadata={"telegram_update_id": update.update_id},
                            # Telegram re-delivers an update it got no answer for, maybe to
                            # another instance: the same id is not handled twice.
                            message_id=f"telegram-{update.update_id}",
                        )
                    )
                    await privacy.offer_feedback_telegram(chat_id, out_channel, agent)  # 👍/👎 after an FAQ answer
            except TelegramAPIError as error:
                logger.error("Telegram API call failed: %s", error)
        return response.text("success")
