"""Webhook against local aiohttp receivers that check the signature on their own."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from bot.server.escalation import Notifier
from tests.server.escalation.conftest import (
    FAST,
    STAFF_INBOX,
    WEBHOOK_SECRET,
    ReceiverFactory,
    assert_no_content,
    caller_conversation,
    escalation_from,
    settings_for,
)


def hook_env(url: str, secret: str = WEBHOOK_SECRET, **extra: str) -> dict:
    return {"NOTIFY_WEBHOOK_URL": url, "NOTIFY_WEBHOOK_SECRET": secret, **extra}


async def test_signed_json_with_text_and_link(webhook_receiver: ReceiverFactory) -> None:
    receiver = await webhook_receiver()
    notifier = Notifier(settings_for(**hook_env(receiver.url)), **FAST)
    escalation = escalation_from(caller_conversation(), "crisis", channel="telegram")
    await notifier.notify(escalation)
    await notifier.drain()
    await notifier.close()

    assert receiver.rejected_signatures == 0
    assert len(receiver.attempt_times) == 1
    (payload,) = receiver.delivered
    link = f"{STAFF_INBOX}/conversations/{escalation.conversation_ref}"
    assert payload["text"].startswith("URGENT: Someone using the assistant on Telegram may be in crisis.")
    assert f"Open the conversation: {link}" in payload["text"]
    assert payload["escalation"] == {
        "id": escalation.id,
        "reason": "crisis",
        "urgent": True,
        "channel": "telegram",
        "created_at": "2024-05-01T12:34:56Z",
        "link": link,
    }
    headers = receiver.raw_headers[0]
    assert headers["Content-Type"] == "application/json"
    assert abs(int(headers["X-TMS-Timestamp"]) - time.time()) < 60
    assert headers["X-TMS-Signature"].startswith("sha256=")
    assert_no_content(receiver.raw_bodies[0], json.dumps(headers))


async def test_wrong_secret_is_refused_by_the_receiver(webhook_receiver: ReceiverFactory) -> None:
    receiver = await webhook_receiver()
    settings = settings_for(**hook_env(receiver.url, secret="not-the-receivers-secret"), NOTIFY_MAX_ATTEMPTS="2")
    notifier = Notifier(settings, **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "asked_for_person"))
    await notifier.drain()
    await notifier.close()
    assert receiver.rejected_signatures == 2
    assert receiver.delivered == []


async def test_unsigned_when_no_secret(webhook_receiver: ReceiverFactory) -> None:
    # Slack and Teams incoming webhooks: the URL is the credential.
    receiver = await webhook_receiver(secret=None)
    notifier = Notifier(settings_for(NOTIFY_WEBHOOK_URL=receiver.url), **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "asked_for_person"))
    await notifier.drain()
    await notifier.close()
    assert len(receiver.delivered) == 1
    assert "X-TMS-Signature" not in receiver.raw_headers[0]


async def test_fails_twice_then_succeeds_with_backoff(
    webhook_receiver: ReceiverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.server.escalation")
    receiver = await webhook_receiver(fail_first=2)
    base = 0.05
    notifier = Notifier(settings_for(**hook_env(receiver.url)), base_delay=base, max_delay=1.0, timeout=3.0)
    await notifier.notify(escalation_from(caller_conversation(), "repeated_misses"))
    await notifier.drain()
    await notifier.close()

    assert len(receiver.attempt_times) == 3
    assert len(receiver.delivered) == 1
    assert receiver.rejected_signatures == 0  # each retry signed with a fresh timestamp
    first_wait = receiver.attempt_times[1] - receiver.attempt_times[0]
    second_wait = receiver.attempt_times[2] - receiver.attempt_times[1]
    assert first_wait >= base * 0.9
    assert second_wait >= 2 * base * 0.9  # doubled
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.server.escalation.notify"]
    assert sum("failed, retrying" in m for m in messages) == 2
    assert any("sent" in m and "via=webhook attempt=3/5" in m for m in messages)
    assert any("WebhookRejected(503)" in m for m in messages)


async def test_always_failing_gives_up_quietly_and_without_content(
    webhook_receiver: ReceiverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = await webhook_receiver(fail_first=10_000, fail_status=500)
    notifier = Notifier(settings_for(**hook_env(receiver.url), NOTIFY_MAX_ATTEMPTS="4"), **FAST)
    escalation = escalation_from(caller_conversation(), "crisis")
    await notifier.notify(escalation)  # must not raise
    await notifier.drain()  # must not raise either
    await notifier.close()

    assert len(receiver.attempt_times) == 4
    assert receiver.delivered == []
    ours = [r for r in caplog.records if r.name == "bot.server.escalation.notify"]
    assert [r.levelname for r in ours] == ["WARNING"] * 3 + ["ERROR"]
    final = ours[-1].getMessage()
    assert "gave up" in final
    assert f"escalation={escalation.id}" in final
    assert "reason=crisis" in final and "channel=website" in final
    assert "attempt=4/4" in final and "WebhookRejected(500)" in final
    assert_no_content(caplog.text, *(r.getMessage() for r in caplog.records))
    # Neither the link nor the webhook URL is logged either.
    assert escalation.conversation_ref not in caplog.text
    assert receiver.url not in caplog.text


async def test_notify_returns_before_a_slow_receiver_answers(webhook_receiver: ReceiverFactory) -> None:
    receiver = await webhook_receiver(delay=0.5)
    notifier = Notifier(settings_for(**hook_env(receiver.url)), **FAST)
    started = time.monotonic()
    await notifier.notify(escalation_from(caller_conversation(), "crisis"))
    assert time.monotonic() - started < 0.05
    assert notifier.pending == 1
    assert receiver.delivered == []
    await notifier.drain()
    assert notifier.pending == 0
    assert len(receiver.delivered) == 1
    await notifier.close()


async def test_redirects_are_not_followed(webhook_receiver: ReceiverFactory) -> None:
    target = await webhook_receiver()
    redirecting = await webhook_receiver(fail_first=10_000, fail_status=307)
    settings = settings_for(**hook_env(redirecting.url), NOTIFY_MAX_ATTEMPTS="1")
    notifier = Notifier(settings, **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "crisis"))
    await notifier.drain()
    await notifier.close()
    assert len(redirecting.attempt_times) == 1
    assert target.attempt_times == []


async def test_close_cancels_what_is_still_retrying(
    webhook_receiver: ReceiverFactory, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = await webhook_receiver(fail_first=10_000)
    notifier = Notifier(settings_for(**hook_env(receiver.url)), base_delay=10.0, timeout=3.0)
    escalation = escalation_from(caller_conversation(), "asked_for_person")
    await notifier.notify(escalation)
    while not receiver.attempt_times:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await notifier.close(timeout=0.1)
    assert time.monotonic() - started < 2
    assert notifier.pending == 0
    assert "cancelled at shutdown" in caplog.text
    # After close, new escalations are dropped (logged), not raised.
    await notifier.notify(escalation_from(caller_conversation(), "crisis"))
    assert notifier.pending == 0
    assert "notifier closed" in caplog.text


async def test_no_channel_configured_sends_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.server.escalation")
    notifier = Notifier(settings_for(), **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "crisis"))
    assert notifier.pending == 0
    assert "not notified" in caplog.text
    await notifier.close()


async def test_email_and_webhook_retry_independently(
    webhook_receiver: ReceiverFactory, smtp_server, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = await webhook_receiver(fail_first=1)
    env = {
        **hook_env(receiver.url),
        "NOTIFY_SMTP_HOST": smtp_server.host,
        "NOTIFY_SMTP_PORT": str(smtp_server.port),
        "NOTIFY_SMTP_SECURITY": "none",
        "NOTIFY_EMAIL_FROM": "assistant@example-clinic.org",
        "NOTIFY_EMAIL_TO": "desk@example-clinic.org",
    }
    notifier = Notifier(settings_for(**env), **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "crisis"))
    await notifier.drain()
    await notifier.close()
    assert len(receiver.attempt_times) == 2 and len(receiver.delivered) == 1
    assert smtp_server.inbox.attempts == 1 and len(smtp_server.inbox.envelopes) == 1
