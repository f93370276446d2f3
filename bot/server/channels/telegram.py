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
4096-character limit; links stay plain text (no Markdown/HTML parse mode).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Tuple

from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer, check_token
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update
from aiogram.utils.exceptions import TelegramAPIError, ValidationError
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.safety_text import safety_texts
from bot.server.channels.inbound import clean_text
from bot.server.channels.rest import technical_problem_messages
from bot.server.channels.text import (
    WIDGET_ONLY_KEYS,
    as_plain_text,
    secrets_match,
    split_text,
    utf16_len,
)

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_MESSAGE_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
LONG_PAYLOAD_PREFIX = "q:"
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Telegram commands mapped to what a person would type.
# /human is the same command as the widget's "Talk to a professional" button (allowed by
# bot/nlu/command_guard.py), so it never depends on the language model.
COMMANDS = {"start": "hello", "help": "what can I ask?", "topics": "what can I ask?", "human": "/talk_to_human"}


@dataclass(frozen=True)
class TelegramSettings:
    token: str = ""
    secret_token: str = ""
    webhook_url: str = ""
    bot_name: str = ""
    api_base_url: str = ""
    set_webhook: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TelegramSettings:
        env = os.environ if environ is None else environ

        def value(name: str) -> str:
            return (env.get(name) or "").strip()

        return cls(
            token=value("TELEGRAM_TOKEN"),
            secret_token=value("TELEGRAM_SECRET_TOKEN"),
            webhook_url=value("TELEGRAM_WEBHOOK_URL"),
            bot_name=value("TELEGRAM_BOT_NAME").lstrip("@"),
            api_base_url=value("TELEGRAM_API_BASE_URL"),
            set_webhook=value("TELEGRAM_SET_WEBHOOK").lower() not in ("0", "false", "no", "off"),
        )

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


class TelegramBotOutput(TelegramOutput):
    """Rasa's TelegramOutput (an aiogram Bot) pointed at a configurable Bot API server."""

    def __init__(self, access_token: str | None, server: TelegramAPIServer = TELEGRAM_PRODUCTION) -> None:
        # TelegramOutput.__init__ cannot pass a server; call aiogram's Bot directly.
        Bot.__init__(self, access_token, server=server)

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        # Signals meant for the website widget ({"handoff": "waiting"}) mean nothing here.
        if set(json_message) <= WIDGET_ONLY_KEYS:
            return
        await super().send_custom_json(recipient_id, json_message, **kwargs)

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


class TelegramChannel(TelegramInput):
    """Telegram webhook at /webhooks/telegram/webhook, configured by environment variables."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> TelegramChannel:
        # The credentials.yml block is empty on purpose: everything comes from the environment.
        channel = cls(settings=TelegramSettings.from_env())
        channel.log_state()
        return channel

    def __init__(
        self,
        access_token: str | None = None,
        verify: str | None = None,
        webhook_url: str | None = None,
        debug_mode: bool = False,
        settings: TelegramSettings | None = None,
    ) -> None:
        settings = settings or TelegramSettings(
            token=access_token or "", bot_name=verify or "", webhook_url=webhook_url or ""
        )
        super().__init__(settings.token, settings.bot_name, settings.webhook_url, debug_mode)
        self.settings = settings
        self.problems = settings.problems()
        self._output: TelegramBotOutput | None = None
        self._recent = _RecentIds()

    @property
    def enabled(self) -> bool:
        return not self.problems

    def log_state(self) -> None:
        if self.enabled:
            logger.info(
                "Telegram connector is on (webhook /webhooks/telegram/webhook, API %s).",
                self.settings.api_base_url or "https://api.telegram.org",
            )
        elif self.settings.token:
            logger.error("Telegram connector is off: %s.", "; ".join(self.problems))
        else:
            logger.info("Telegram connector is off: TELEGRAM_TOKEN is not set.")

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

    @staticmethod
    async def _send_technical_problem(out_channel: TelegramBotOutput, chat_id: Any) -> None:
        if chat_id is None:
            return
        try:
            for message in technical_problem_messages(str(chat_id)):
                await out_channel.send_text_message(str(chat_id), message["text"])
        except Exception as error:
            logger.error("Could not tell chat %s about the failure: %s", chat_id, error)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        safety_texts()  # read domain.yml now: without its safety texts the server must not start
        telegram_webhook = Blueprint("tms_telegram_webhook", __name__)

        @telegram_webhook.listener("after_server_start")
        async def set_webhook_on_start(*_: Any) -> None:
            await self.register_webhook()

        @telegram_webhook.listener("before_server_stop")
        async def close_session(*_: Any) -> None:
            await self.close()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "off"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": "The Telegram connector is off."}, status=503)
            secret = request.headers.get(SECRET_HEADER)
            if secret is None:
                return response.json({"error": "Missing secret token."}, status=401)
            if not secrets_match(secret, self.settings.secret_token):
                logger.warning("Rejected a Telegram webhook call with a wrong secret token.")
                return response.json({"error": "Wrong secret token."}, status=403)
            try:
                body = request.json
                if isinstance(body, str):
                    body = json.loads(body)
                if not isinstance(body.get("update_id"), int):
                    raise ValueError("an update has an integer update_id")
                update = Update(**body)
            except Exception:
                return response.json({"error": "Not a Telegram update."}, status=400)

            if self._recent.seen(update.update_id):
                return response.text("duplicate")
            out_channel = self.get_output_channel()
            chat_id, text, unreadable = text_of_update(update, self.settings.bot_name)
            try:
                if update.callback_query is not None:
                    await out_channel.answer_callback_query(update.callback_query.id)
                if unreadable:
                    await out_channel.send_message(chat_id, safety_texts().not_text_reply())
                if chat_id is not None and text:
                    await on_new_message(
                        UserMessage(
                            text,
                            out_channel,
                            str(chat_id),
                            input_channel=self.name(),
                            metadata={"telegram_update_id": update.update_id},
                        )
                    )
            except TelegramAPIError as error:
                logger.error("Telegram API call failed: %s", error)
            except Exception:
                # The text is health data: log what failed, never what was said. Answer 200
                # anyway (an error status makes Telegram re-deliver the update), and tell the
                # person something went wrong, with the crisis line, rather than nothing.
                logger.exception("Handling a Telegram update failed (chat %s).", chat_id)
                if self.debug_mode:
                    raise
                await self._send_technical_problem(out_channel, chat_id)
            return response.text("success")

        return telegram_webhook
