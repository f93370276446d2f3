"""Tells the clinic that a conversation needs a person, by email and/or webhook.

What a notification says: why (a person was asked for, the assistant kept missing, or a
possible crisis, which is urgent), on which channel, when, and a link to the conversation
in the staff inbox. Never what was written, who wrote it, or a phone number: notifications
travel through mail servers and chat tools that are not meant for health data, so staff
read the conversation itself in the inbox.

Sending never holds up the reply: `Notifier.notify` schedules a background task and returns.
Each channel is retried with exponential back-off up to NOTIFY_MAX_ATTEMPTS; failures are
logged with ids, counts and error classes only, and never raised to the caller. Before
sending, the escalation id is claimed in a ClaimLedger shared by every instance, so that
an escalation seen by several Rasa instances is notified once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Awaitable, Callable, Dict, Optional, Set
from urllib.parse import quote

import aiohttp

from bot.server.escalation.ledger import ClaimLedger, InMemoryClaimLedger
from bot.server.escalation.settings import NotificationSettings

logger = logging.getLogger(__name__)

ASKED_FOR_PERSON = "asked_for_person"
REPEATED_MISSES = "repeated_misses"
CRISIS = "crisis"
REASONS = (ASKED_FOR_PERSON, REPEATED_MISSES, CRISIS)
URGENT_REASONS = frozenset({CRISIS})

TIMESTAMP_HEADER = "X-TMS-Timestamp"
SIGNATURE_HEADER = "X-TMS-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300

# Ids and references end up in links, logs and a database key: no spaces, no free text.
_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_REF_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
_CHANNEL_PATTERN = re.compile(r"[a-z0-9_.-]{1,40}")

# "Someone using the assistant <phrase> ..."
CHANNEL_PHRASES: Dict[str, str] = {
    "website": "on the website",
    "rest": "on the website",
    "socketio": "on the website",
    "telegram": "on Telegram",
    "twilio": "by text message (Twilio)",
}

SUBJECTS: Dict[str, str] = {
    ASKED_FOR_PERSON: "Someone asked to talk with a person",
    REPEATED_MISSES: "The assistant could not help someone",
    CRISIS: "URGENT: someone may be in crisis",
}
OPENINGS: Dict[str, str] = {
    ASKED_FOR_PERSON: "Someone using the assistant {where} asked to talk with a person.",
    REPEATED_MISSES: (
        "Someone using the assistant {where} was not understood several times in a row "
        "and may need a person."
    ),
    CRISIS: (
        "URGENT: Someone using the assistant {where} may be in crisis. "
        "Please look at the conversation now."
    ),
}


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Escalation:
    """One moment a conversation needed a person; holds ids only, never what was written.

    `id` identifies the escalation for every instance (the same id means the same
    escalation, notified once): derive it from the conversation and the event, through a
    keyed hash if it involves the sender id, never the raw sender id or phone number.
    `conversation_ref` is the staff inbox's opaque reference to the conversation.
    """

    id: str
    reason: str
    channel: str
    conversation_ref: str
    created_at: datetime = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"Escalation reason must be one of {', '.join(REASONS)}.")
        if not isinstance(self.id, str) or not _ID_PATTERN.fullmatch(self.id):
            raise ValueError("Escalation id must be 1-128 characters from A-Z a-z 0-9 . _ : -")
        if not isinstance(self.conversation_ref, str) or not _REF_PATTERN.fullmatch(
            self.conversation_ref
        ):
            raise ValueError("conversation_ref must be 1-128 characters from A-Z a-z 0-9 . _ -")
        if not isinstance(self.channel, str) or not _CHANNEL_PATTERN.fullmatch(self.channel):
            raise ValueError("channel must be a channel name such as website, telegram, twilio.")
        if not isinstance(self.created_at, datetime) or self.created_at.tzinfo is None:
            raise ValueError("created_at must be a timezone-aware datetime.")
        object.__setattr__(self, "created_at", self.created_at.astimezone(timezone.utc))

    @property
    def urgent(self) -> bool:
        return self.reason in URGENT_REASONS

    @property
    def created_at_iso(self) -> str:
        """UTC, ISO 8601, to the second: 2024-05-01T12:34:56Z."""
        return self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Message:
    """What every channel sends: subject (email), text (both), and the link on its own."""

    subject: str
    text: str
    link: str
    urgent: bool


def conversation_link(escalation: Escalation, settings: NotificationSettings) -> str:
    if not settings.staff_inbox_url:
        raise ValueError("STAFF_INBOX_URL is not set: a notification needs a link.")
    return f"{settings.staff_inbox_url}/conversations/{quote(escalation.conversation_ref, safe='')}"


def message_for(escalation: Escalation, settings: NotificationSettings) -> Message:
    """The wording of a notification, built only from the escalation's ids and labels."""
    link = conversation_link(escalation, settings)
    where = CHANNEL_PHRASES.get(escalation.channel, f"on the {escalation.channel} channel")
    subject = f"{SUBJECTS[escalation.reason]} ({escalation.channel})"
    text = "\n".join(
        [
            OPENINGS[escalation.reason].format(where=where),
            f"Open the conversation: {link}",
            "",
            f"Channel: {escalation.channel}",
            f"Time: {escalation.created_at_iso} (UTC)",
            f"Reference: {escalation.id}",
            "",
            "What was written is not included here; read it in the staff inbox.",
        ]
    )
    return Message(subject=subject, text=text, link=link, urgent=escalation.urgent)


def webhook_payload(escalation: Escalation, message: Message) -> Dict[str, Any]:
    """`text` for Slack and Teams incoming webhooks; `escalation` for receivers that parse it."""
    return {
        "text": message.text,
        "escalation": {
            "id": escalation.id,
            "reason": escalation.reason,
            "urgent": escalation.urgent,
            "channel": escalation.channel,
            "created_at": escalation.created_at_iso,
            "link": message.link,
        },
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-TMS-Signature value: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: Optional[str],
    signature: Optional[str],
    body: bytes,
    now: Optional[float] = None,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: a fresh timestamp and a matching signature (constant-time)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookRejected(Exception):
    """The webhook answered with a status other than 2xx (redirects are not followed)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _describe(error: BaseException) -> str:
    """Error class (and status code) only: messages may echo addresses or server replies."""
    if isinstance(error, WebhookRejected):
        return f"WebhookRejected({error.status})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__}({error.smtp_code})"
    return type(error).__name__


def build_email(message: Message, settings: NotificationSettings) -> EmailMessage:
    smtp = settings.email
    if smtp is None:
        raise ValueError("Email is not configured (NOTIFY_SMTP_HOST).")
    email = EmailMessage()
    email["From"] = smtp.sender
    email["To"] = ", ".join(smtp.recipients)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(_utc_now())
    # A domain from the sender: make_msgid() would otherwise look up this host's name.
    email["Message-ID"] = make_msgid(domain=parseaddr(smtp.sender)[1].rpartition("@")[2])
    # RFC 3834: no out-of-office replies to a notification.
    email["Auto-Submitted"] = "auto-generated"
    if message.urgent:
        email["Importance"] = "high"
        email["X-Priority"] = "1"
    email.set_content(message.text)
    return email


class Notifier:
    """Sends escalation notifications in the background, once per escalation id.

    `ledger` is shared by every instance that may see the same escalation (SqlClaimLedger);
    the default, in memory, only covers this process. Retries wait base_delay, 2x, 4x...
    (at most max_delay). `ssl_context` overrides the system CAs for SMTP (tests, private CAs).
    """

    def __init__(
        self,
        settings: NotificationSettings,
        ledger: Optional[ClaimLedger] = None,
        *,
        base_delay: float = 5.0,
        max_delay: float = 300.0,
        timeout: float = 10.0,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        if base_delay < 0 or max_delay < 0 or timeout <= 0:
            raise ValueError("base_delay and max_delay must be >= 0 and timeout > 0.")
        self.settings = settings
        self.ledger: ClaimLedger = ledger if ledger is not None else InMemoryClaimLedger()
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._tasks: Set[asyncio.Task[None]] = set()
        self._session: Optional[aiohttp.ClientSession] = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Notifications still being sent (or waiting to retry)."""
        return len(self._tasks)

    async def notify(self, escalation: Escalation) -> None:
        """Schedules the notification and returns at once; never raises, never waits to send."""
        try:
            if self._closed:
                logger.warning(
                    "Escalation notification dropped (notifier closed): escalation=%s reason=%s",
                    escalation.id, escalation.reason,
                )
                return
            if not self.settings.enabled:
                logger.info(
                    "Escalation not notified (no NOTIFY_SMTP_HOST or NOTIFY_WEBHOOK_URL): "
                    "escalation=%s reason=%s", escalation.id, escalation.reason,
                )
                return
            task = asyncio.get_running_loop().create_task(self._deliver(escalation))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        except Exception as error:  # noqa: BLE001 - the person's reply must go on regardless
            logger.error(
                "Escalation notification not scheduled: escalation=%s error=%s",
                getattr(escalation, "id", "?"), _describe(error),
            )

    async def drain(self) -> None:
        """Waits until every scheduled notification is sent or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, timeout: Optional[float] = 30.0) -> None:
        """For shutdown: refuses new notifications, waits up to `timeout` for pending ones
        (cancelling the rest, logged), and closes the HTTP session."""
        self._closed = True
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)

    async def _deliver(self, escalation: Escalation) -> None:
        try:
            if not await self._claim(escalation):
                logger.info(
                    "Escalation already claimed, not notified again: escalation=%s reason=%s",
                    escalation.id, escalation.reason,
                )
                return
            message = message_for(escalation, self.settings)
            sends = []
            if self.settings.email is not None:
                email = build_email(message, self.settings)
                sends.append(self._with_retries(escalation, "email", lambda: self._send_email(email)))
            if self.settings.webhook is not None:
                body = json.dumps(webhook_payload(escalation, message), separators=(",", ":")).encode()
                sends.append(self._with_retries(escalation, "webhook", lambda: self._post_webhook(body)))
            await asyncio.gather(*sends)
        except asyncio.CancelledError:
            logger.warning(
                "Escalation notification cancelled at shutdown: escalation=%s reason=%s channel=%s",
                escalation.id, escalation.reason, escalation.channel,
            )
            raise
        except Exception as error:  # noqa: BLE001 - a background task must not die silently
            logger.error(
                "Escalation notification failed: escalation=%s reason=%s channel=%s error=%s",
                escalation.id, escalation.reason, escalation.channel, _describe(error),
            )

    async def _claim(self, escalation: Escalation) -> bool:
        """Claims the id, retrying like a send. A ledger that stays unreachable does not stop
        the notification: a possible duplicate is better than a crisis nobody hears about."""
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self.ledger.claim(escalation.id, escalation.reason, escalation.created_at)
            except Exception as error:  # noqa: BLE001 - database down, locked, ...
                if attempt == attempts:
                    logger.error(
                        "Escalation ledger unavailable, notifying without a claim: escalation=%s "
                        "reason=%s attempt=%d/%d error=%s",
                        escalation.id, escalation.reason, attempt, attempts, _describe(error),
                    )
                    return True
                logger.warning(
                    "Escalation ledger claim failed: escalation=%s reason=%s attempt=%d/%d error=%s",
                    escalation.id, escalation.reason, attempt, attempts, _describe(error),
                )
                await asyncio.sleep(self.delay_before(attempt))
        return True  # pragma: no cover - max_attempts >= 1

    async def _with_retries(
        self, escalation: Escalation, via: str, send: Callable[[], Awaitable[None]]
    ) -> bool:
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                await send()
            except Exception as error:  # noqa: BLE001 - every failure is retried, then logged
                if attempt == attempts:
                    logger.error(
                        "Escalation notification gave up: escalation=%s reason=%s channel=%s "
                        "via=%s attempt=%d/%d error=%s",
                        escalation.id, escalation.reason, escalation.channel, via, attempt,
                        attempts, _describe(error),
                    )
                    return False
                delay = self.delay_before(attempt)
                logger.warning(
                    "Escalation notification failed, retrying in %.2fs: escalation=%s reason=%s "
                    "channel=%s via=%s attempt=%d/%d error=%s",
                    delay, escalation.id, escalation.reason, escalation.channel, via, attempt,
                    attempts, _describe(error),
                )
                await asyncio.sleep(delay)
            else:
                logger.info(
                    "Escalation notification sent: escalation=%s reason=%s channel=%s via=%s "
                    "attempt=%d/%d",
                    escalation.id, escalation.reason, escalation.channel, via, attempt, attempts,
                )
                return True
        return False  # pragma: no cover - max_attempts >= 1

    async def _send_email(self, email: EmailMessage) -> None:
        # smtplib blocks; a thread keeps the event loop (and everyone's replies) moving.
        await asyncio.to_thread(self._send_email_blocking, email)

    def _send_email_blocking(self, email: EmailMessage) -> None:
        smtp = self.settings.email
        assert smtp is not None
        context = self._ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if smtp.security == "starttls":
                # Fails (and is retried) if the server does not offer STARTTLS: never plain text.
                client.starttls(context=context)
                client.ehlo()
            if smtp.user is not None and smtp.password is not None:
                client.login(smtp.user, smtp.password)
            refused = client.send_message(email, from_addr=smtp.sender, to_addrs=list(smtp.recipients))
        if refused:
            logger.warning("Escalation email refused for %d of %d recipients.", len(refused), len(smtp.recipients))

    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._session

    async def _post_webhook(self, body: bytes) -> None:
        webhook = self.settings.webhook
        assert webhook is not None
        headers = {"Content-Type": "application/json"}
        if webhook.secret:
            # A fresh timestamp on each attempt, so that a retry is not refused as stale.
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(webhook.secret, timestamp, body)
        async with self._http_session().post(
            webhook.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            if not 200 <= response.status < 300:
                raise WebhookRejected(response.status)
