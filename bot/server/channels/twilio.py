"""Twilio connector for SMS and WhatsApp: Rasa's TwilioInput/TwilioOutput, configured from the environment.

Enable it in credentials.yml with an empty block::

    bot.server.channels.twilio.TwilioChannel:

Environment variables (see docs/messaging.md):

- TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN  from the Twilio console. Unset: the connector is off.
- TWILIO_NUMBER           the SMS number replies come from, E.164 (+15551234567).
- TWILIO_WHATSAPP_NUMBER  the WhatsApp sender (whatsapp:+14155238886 for the sandbox).
                          At least one of the two numbers is needed.
- TWILIO_WEBHOOK_URL      the exact public URL set in the Twilio console
                          (https://your-host/webhooks/twilio/webhook); the X-Twilio-Signature
                          of every inbound request is checked against it.
- TWILIO_API_BASE_URL     another REST API base (a fake in tests); default https://api.twilio.com.

Behaviour:

- Inbound requests without a valid X-Twilio-Signature get 403 and are not processed. The
  form body is parsed keeping blank fields, because Twilio signs them too (Sanic's
  request.form drops them, which would reject genuine requests). A body declared as anything
  but a form gets 415, one that cannot be read 400 or 413 (bot/server/channels/inbound.py).
- All bot messages of one turn are joined into one text and split into messages of at
  most 1600 characters (Twilio's limit for SMS and WhatsApp bodies), sent in order. A crisis
  reply (utter_crisis) is always put first, so the phone line is the first line received.
- Quick-reply buttons become numbered options ("Reply with a number: 1) ... 2) ...").
  A reply of just a number picks that option of the most recent message with buttons.
  The options are read back from the conversation tracker (the BotUttered event keeps
  the buttons), so this works after a restart and across several Rasa instances that
  share a tracker store; an offer expires after OPTIONS_MAX_AGE seconds.
- FORGET asks to confirm, FORGET YES deletes the conversation (bot/server/privacy/messaging.py);
  STOP and the other opt-out words stay Twilio's and are never processed.
- The sender's country (FromCountry on SMS, the calling code on WhatsApp) is passed as
  metadata.locale (e.g. "en-GB"), so utter_crisis names that country's crisis lines.
- Outbound calls use twilio's asynchronous HTTP client, so sending does not block the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterable, List, Mapping

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.nlu.locale import region_of
from bot.server.channels.configured import (
    ConfiguredChannel,
    EnvironmentSettings,
    OnNewMessage,
    TextPlatformOutput,
    from_environment,
)
from bot.server.channels.inbound import (
    FORM_TYPE,
    MAX_WEBHOOK_BYTES,
    InvalidMessage,
    clean_text,
    media_type,
    read_form,
)
from bot.server.channels.replies import not_text_reply
from bot.server.channels.text import as_plain_text, split_text
from bot.server.privacy import messaging as privacy

logger = logging.getLogger(__name__)
# twilio's HTTP client logs every request's headers at INFO; keep that to warnings.
_http_logger = logging.getLogger(f"{__name__}.http")
_http_logger.setLevel(logging.WARNING)

SIGNATURE_HEADER = "X-Twilio-Signature"
# A WhatsApp message with ten photos has about 60 fields.
MAX_FORM_FIELDS = 200
# A text of just one of these asks for a person (documented in docs/messaging.md).
HUMAN_KEYWORDS = frozenset({"HUMAN", "PERSON", "AGENT"})
MAX_MESSAGE_LENGTH = 1600  # Twilio's maximum Body length, for SMS and for WhatsApp.
WHATSAPP_PREFIX = "whatsapp:"
OPTIONS_MAX_AGE = 60 * 60  # seconds a numbered menu stays answerable by number
SEND_TIMEOUT = 20  # seconds per outbound API call
CRISIS_RESPONSE = "utter_crisis"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Twilio's default SMS opt-out words: Twilio blocks replies after them, so don't process.
OPT_OUT_WORDS = {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPTION_REPLY = re.compile(r"^\s*(?:#|no\.?\s*|number\s*|option\s*)?(\d{1,2})\s*[.)!]?\s*$", re.IGNORECASE)
# Characters that would switch an SMS from GSM-7 (160 per segment) to UCS-2 (70 per segment).
SMS_FRIENDLY = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
     "\u2026": "...", "\u00a0": " "}
)


@dataclass(frozen=True)
class TwilioSettings(EnvironmentSettings):
    account_sid: str = from_environment("TWILIO_ACCOUNT_SID")
    auth_token: str = from_environment("TWILIO_AUTH_TOKEN")
    sms_number: str = from_environment("TWILIO_NUMBER")
    whatsapp_number: str = from_environment("TWILIO_WHATSAPP_NUMBER")
    webhook_url: str = from_environment("TWILIO_WEBHOOK_URL")
    api_base_url: str = from_environment("TWILIO_API_BASE_URL")

    def missing(self) -> List[str]:
        """Variables still needed; empty when the connector can run."""
        needed = [
            name
            for name, present in (
                ("TWILIO_ACCOUNT_SID", self.account_sid),
                ("TWILIO_AUTH_TOKEN", self.auth_token),
                ("TWILIO_NUMBER or TWILIO_WHATSAPP_NUMBER", self.sms_number or self.whatsapp_number),
                ("TWILIO_WEBHOOK_URL", self.webhook_url),
            )
            if not present
        ]
        return needed

    def problems(self) -> List[str]:
        missing = self.missing()
        return [f"{', '.join(missing)} not set"] if missing else []

    UNSET_REASON: ClassVar[str] = "TWILIO_* variables are not set"

    def is_unset(self) -> bool:
        return not any((self.account_sid, self.auth_token, self.sms_number, self.whatsapp_number, self.webhook_url))

    def sender_for(self, recipient: str) -> str:
        """The From address for a recipient: the WhatsApp sender for whatsapp: recipients."""
        if recipient.startswith(WHATSAPP_PREFIX):
            number = self.whatsapp_number or self.sms_number
            return number if number.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + number
        return self.sms_number or self.whatsapp_number[len(WHATSAPP_PREFIX):]


# --- Pure helpers (unit-tested) -------------------------------------------------------


class FormParams(dict):
    """Form fields as lists, with the getlist() RequestValidator uses for repeated fields."""

    def getlist(self, name: str) -> List[str]:
        return self[name]

    def first(self, name: str, default: str | None = None) -> str | None:
        values = self.get(name)
        return values[0] if values else default


def parse_form(body: bytes) -> FormParams:
    """The form Twilio posted, or InvalidMessage (413 too large, 400 not UTF-8 or too many fields)."""
    return FormParams(read_form(body, MAX_WEBHOOK_BYTES, MAX_FORM_FIELDS))


def media_count(form: FormParams) -> int:
    """NumMedia, the number of photos or other files attached; 0 when it is not a number."""
    value = form.first("NumMedia") or ""
    return int(value) if value.isascii() and value.isdigit() else 0


def signed_url(configured_url: str, query_string: str = "") -> str:
    """The URL Twilio signed: the configured public URL plus the request's query string."""
    if query_string and "?" not in configured_url:
        return f"{configured_url}?{query_string}"
    return configured_url


def signature_is_valid(auth_token: str, url: str, params: Mapping[str, Any], signature: str | None) -> bool:
    if not signature or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


def render_options(text: str | None, buttons: List[Dict[str, Any]]) -> str:
    """A message with its buttons as numbered options a person can answer by number."""
    lines = [f"{number}) {button.get('title') or button.get('payload')}" for number, button in enumerate(buttons, 1)]
    parts = [(text or "").strip(), "Reply with a number:\n" + "\n".join(lines)]
    return "\n\n".join(part for part in parts if part)


def chosen_option(text: str | None, options: List[Dict[str, Any]]) -> Dict[str, Any] | None:
    """The option a reply like "2" (or "#2", "2.", "option 2") picks, if it is in range."""
    match = OPTION_REPLY.match(text or "")
    if not match or not options:
        return None
    number = int(match.group(1))
    return options[number - 1] if 1 <= number <= len(options) else None


def offered_options(
    events: Iterable[Mapping[str, Any]], now: float | None = None, max_age: float = OPTIONS_MAX_AGE
) -> List[Dict[str, Any]]:
    """Buttons of the latest bot message that had any, in the current session, if recent."""
    now = time.time() if now is None else now
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "session_started":
            return []
        if kind == "bot":
            buttons = (event.get("data") or {}).get("buttons") or []
            if buttons:
                timestamp = event.get("timestamp")
                if timestamp is not None and now - float(timestamp) > max_age:
                    return []
                return list(buttons)
    return []


def turn_text(messages: List[Dict[str, Any]]) -> str:
    """One turn's bot messages as one text: crisis resources first, buttons as options."""
    ordered = sorted(messages, key=lambda message: message.get("utter_action") != CRISIS_RESPONSE)
    blocks = []
    for message in ordered:
        if message.get("buttons"):
            blocks.append(render_options(message.get("text"), message["buttons"]))
        elif (message.get("text") or "").strip():
            blocks.append(message["text"].strip())
    return "\n\n".join(blocks)


# Calling codes that name one country (+1 is shared by the US and Canada: left to FromCountry).
COUNTRY_CALLING_CODES = {"+44": "GB", "+353": "IE", "+61": "AU"}


def sender_locale(form: FormParams) -> str | None:
    """A locale like "en-GB" for the sender's country, for the crisis-line choice.

    SMS requests carry FromCountry (the number's country); WhatsApp requests do not, so
    the calling code is used there. Unknown: None, and the default crisis reply is used.
    """
    country = (form.first("FromCountry") or "").strip().upper()
    if not country:
        number = (form.first("From") or "").removeprefix(WHATSAPP_PREFIX)
        country = next((c for code, c in COUNTRY_CALLING_CODES.items() if number.startswith(code)), "")
    return f"en-{country}" if re.fullmatch(r"[A-Z]{2}", country) else None


def is_opt_out(form: FormParams) -> bool:
    if (form.first("OptOutType") or "").upper() == "STOP":
        return True
    sender = form.first("From") or ""
    body = (form.first("Body") or "").strip().upper()
    return not sender.startswith(WHATSAPP_PREFIX) and body in OPT_OUT_WORDS


def masked(address: str) -> str:
    """A phone address for logs: channel prefix and last 4 digits only."""
    prefix = WHATSAPP_PREFIX if address.startswith(WHATSAPP_PREFIX) else ""
    return f"{prefix}...{address[-4:]}" if address else "?"


# --- Output ---------------------------------------------------------------------------


class TwilioMessagingOutput(TextPlatformOutput, TwilioOutput):
    """Rasa's TwilioOutput with a configurable API base URL, async sends and turn batching.

    Inside a webhook call the channel collects the turn's messages (`collect_turn()`) and
    `flush()` sends them; outside one (e.g. messages triggered over Rasa's HTTP API) each
    message is sent at once.
    """

    def __init__(self, settings: TwilioSettings) -> None:
        # Bypass TwilioOutput.__init__ to hand the client an asynchronous HTTP client.
        Client.__init__(
            self,
            settings.account_sid,
            settings.auth_token,
            http_client=AsyncTwilioHttpClient(pool_connections=False, logger=_http_logger),
        )
        if settings.api_base_url:
            # All messaging calls go through the "api" domain (Messages resource, v2010).
            self.api.base_url = settings.api_base_url.rstrip("/")
        self.settings = settings
        self.twilio_number = settings.sms_number
        self.send_retry = 0
        self.max_retry = 1
        self._turn: Dict[str, List[Dict[str, Any]]] | None = None

    def collect_turn(self) -> None:
        self._turn = {}

    async def flush(self) -> None:
        turn, self._turn = self._turn or {}, None
        for recipient, messages in turn.items():
            await self.send_text_parts(recipient, turn_text(messages))

    async def _queue(self, recipient_id: str, message: Dict[str, Any]) -> None:
        if self._turn is not None:
            self._turn.setdefault(recipient_id, []).append(message)
        else:
            await self.send_text_parts(recipient_id, turn_text([message]))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._queue(recipient_id, {"text": text, "utter_action": kwargs.get("utter_action")})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._queue(
            recipient_id, {"text": text, "buttons": buttons, "utter_action": kwargs.get("utter_action")}
        )

    async def send_text_parts(self, recipient_id: str, text: str) -> None:
        if not recipient_id.startswith(WHATSAPP_PREFIX):
            text = text.translate(SMS_FRIENDLY)
        for part in split_text(text, MAX_MESSAGE_LENGTH):
            await self._send_message({"to": recipient_id, "from_": self.settings.sender_for(recipient_id), "body": part})

    async def _send_message(self, message_data: Dict[str, Any]) -> Any:
        """One Messages API call (used by Rasa's send_image_url/send_custom_json too)."""
        message_data = dict(message_data)
        recipient = str(message_data.get("to", ""))
        if not message_data.get("from_") and not message_data.get("messaging_service_sid"):
            message_data["from_"] = self.settings.sender_for(recipient)
        try:
            return await asyncio.wait_for(self.messages.create_async(**message_data), SEND_TIMEOUT)
        except (TwilioException, asyncio.TimeoutError, OSError) as error:
            logger.error("Could not send a Twilio message to %s: %r", masked(recipient), error)
            return None


# --- Input ----------------------------------------------------------------------------


def message_id_of(form: FormParams) -> str | None:
    """Twilio re-sends a webhook it got no answer for, maybe to another instance, with the
    same MessageSid: as the message's id, it is not handled twice."""
    sid = form.first("MessageSid") or ""
    return f"twilio-{sid}" if re.fullmatch(r"[A-Za-z0-9]{10,64}", sid) else None


class TwilioChannel(ConfiguredChannel, TwilioInput):
    """Twilio SMS/WhatsApp webhook at /webhooks/twilio/webhook, configured by environment."""

    settings_type = TwilioSettings
    label = "Twilio"
    settings: TwilioSettings

    def describe_when_on(self) -> str:
        numbers = (("SMS", self.settings.sms_number), ("WhatsApp", self.settings.whatsapp_number))
        channels = " and ".join(name for name, number in numbers if number)
        return f"for {channels} (webhook {self.webhook_path}, signatures checked against {self.settings.webhook_url})"

    def get_output_channel(self) -> TwilioMessagingOutput | None:
        return TwilioMessagingOutput(self.settings) if self.enabled else None

    async def _offered_options(self, request: Request, sender: str) -> List[Dict[str, Any]]:
        agent = getattr(request.app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return []
        try:
            tracker = await store.retrieve(sender)
        except Exception:
            logger.exception("Could not read the conversation to resolve a numbered reply.")
            return []
        if tracker is None:
            return []
        return offered_options(event.as_dict() for event in tracker.events)

    async def user_text(self, request: Request, form: FormParams, sender: str) -> str | None:
        """The text to hand to Rasa: a chosen option's payload, a WhatsApp button payload, or the body."""
        text = form.first("ButtonPayload") or form.first("Body") or ""
        text = clean_text(text.replace("¡", "@"))  # some carriers turn @ into ¡
        if text.upper().strip(" .!") in HUMAN_KEYWORDS:
            return "/talk_to_human"  # the widget button's command (bot/nlu/command_guard.py)
        if OPTION_REPLY.match(text):
            option = chosen_option(text, await self._offered_options(request, sender))
            if option is not None:
                return str(option.get("payload") or option.get("title"))
        return as_plain_text(text) or None

    @staticmethod
    def metadata_of(form: FormParams) -> dict[str, Any]:
        metadata = {"twilio_message_sid": form.first("MessageSid"), "twilio_body": form.first("Body")}
        locale = sender_locale(form)
        if locale:
            metadata["locale"] = locale  # read by bot.nlu.locale to pick regional crisis lines
        return metadata

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        # Twilio always posts a form; anything declared otherwise is not from Twilio.
        if media_type(request.headers) not in (None, FORM_TYPE):
            return response.json({"error": f"Twilio webhooks are form posts ({FORM_TYPE})."}, status=415)
        try:
            form = parse_form(request.body or b"")
        except InvalidMessage as invalid:
            return invalid.as_response()
        url = signed_url(self.settings.webhook_url, request.query_string)
        if not signature_is_valid(self.settings.auth_token, url, form, request.headers.get(SIGNATURE_HEADER)):
            logger.warning("Rejected a Twilio webhook call with a missing or wrong signature.")
            return response.json({"error": "Invalid Twilio signature."}, status=403)

        sender = form.first("From")
        if not sender or is_opt_out(form):
            return response.text(EMPTY_TWIML, content_type="text/xml")
        out_channel = TwilioMessagingOutput(self.settings)
        region = region_of(sender_locale(form))
        # FORGET (then FORGET YES) deletes the conversation: answered here, never sent to Rasa.
        agent = privacy.agent_of(request)
        if await privacy.handle_sms(form.first("Body"), sender, out_channel, agent):
            return response.text(EMPTY_TWIML, content_type="text/xml")
        text = await self.user_text(request, form, sender)
        if text is None:
            if media_count(form) > 0 or form.first("Latitude"):
                await out_channel.send_text_parts(sender, not_text_reply(region))
            return response.text(EMPTY_TWIML, content_type="text/xml")

        out_channel.collect_turn()
        try:
            async with self.failure_told(out_channel, sender, region, who=masked(sender)):
                await on_new_message(
                    UserMessage(text, out_channel, sender, input_channel=self.name(), metadata=self.metadata_of(form),
                                message_id=message_id_of(form))
                )
        finally:
            # Whatever was produced (a crisis reply comes first) is still sent.
            await out_channel.flush()
        return response.text(EMPTY_TWIML, content_type="text/xml")
