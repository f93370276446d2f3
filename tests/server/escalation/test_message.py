"""What a notification says, what it can never carry, and the webhook signature."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from bot.server.escalation import (
    Escalation,
    NotificationSettings,
    message_for,
    sign,
    verify_signature,
)
from bot.server.escalation.notify import webhook_payload
from tests.server.escalation.conftest import (
    PLANTED_SENDER,
    PLANTED_TEXT,
    STAFF_INBOX,
    assert_no_content,
    caller_conversation,
    escalation_from,
    settings_for,
)

SETTINGS = settings_for(NOTIFY_WEBHOOK_URL="https://hooks.example.org/in")


def test_asked_for_person_in_plain_words_with_the_link() -> None:
    escalation = escalation_from(caller_conversation(), "asked_for_person")
    message = message_for(escalation, SETTINGS)
    link = f"{STAFF_INBOX}/conversations/{escalation.conversation_ref}"
    assert message.link == link
    assert message.text.startswith(
        "Someone using the assistant on the website asked to talk with a person.\n"
        f"Open the conversation: {link}\n"
    )
    assert "Time: 2024-05-01T12:34:56Z (UTC)" in message.text
    assert "Channel: website" in message.text
    assert f"Reference: {escalation.id}" in message.text
    assert message.subject == "Someone asked to talk with a person (website)"
    assert not message.urgent
    assert not message.subject.startswith("URGENT")


def test_crisis_is_urgent_in_subject_and_text() -> None:
    escalation = escalation_from(caller_conversation(), "crisis", channel="telegram")
    message = message_for(escalation, SETTINGS)
    assert escalation.urgent and message.urgent
    assert message.subject.startswith("URGENT:")
    assert message.text.startswith("URGENT: Someone using the assistant on Telegram may be in crisis.")
    assert "(telegram)" in message.subject


def test_repeated_misses_names_the_channel() -> None:
    escalation = escalation_from(caller_conversation(), "repeated_misses", channel="twilio")
    message = message_for(escalation, SETTINGS)
    assert not message.urgent
    assert "by text message (Twilio)" in message.text
    assert "not understood several times" in message.text


def test_no_content_in_message_or_payload() -> None:
    for reason in ("asked_for_person", "repeated_misses", "crisis"):
        escalation = escalation_from(caller_conversation(), reason)
        message = message_for(escalation, SETTINGS)
        assert_no_content(message.subject, message.text, webhook_payload(escalation, message))


@pytest.mark.parametrize("field", ["id", "channel", "conversation_ref"])
@pytest.mark.parametrize("value", [PLANTED_TEXT, PLANTED_SENDER, "", "x" * 129, "a/b"])
def test_free_text_cannot_ride_in_an_escalation_field(field: str, value: str) -> None:
    fields = {"id": "esc-1", "reason": "crisis", "channel": "website", "conversation_ref": "conv-1"}
    fields[field] = value
    with pytest.raises(ValueError):
        Escalation(**fields)


def test_escalation_checks_reason_and_time() -> None:
    with pytest.raises(ValueError, match="reason"):
        Escalation(id="e", reason="bored", channel="website", conversation_ref="c")
    with pytest.raises(ValueError, match="timezone"):
        Escalation(
            id="e", reason="crisis", channel="website", conversation_ref="c",
            created_at=dt.datetime(2024, 5, 1, 12, 0),
        )
    # Another zone is converted to UTC; the default is now, in UTC.
    paris = dt.timezone(dt.timedelta(hours=2))
    escalation = Escalation(
        id="e", reason="crisis", channel="website", conversation_ref="c",
        created_at=dt.datetime(2024, 5, 1, 14, 0, tzinfo=paris),
    )
    assert escalation.created_at_iso == "2024-05-01T12:00:00Z"
    fresh = Escalation(id="e", reason="crisis", channel="website", conversation_ref="c")
    assert abs(fresh.created_at.timestamp() - time.time()) < 5
    assert fresh.created_at.utcoffset() == dt.timedelta(0)


def test_message_needs_the_staff_inbox() -> None:
    escalation = escalation_from(caller_conversation(), "crisis")
    with pytest.raises(ValueError, match="STAFF_INBOX_URL"):
        message_for(escalation, NotificationSettings())


def test_signature_matches_the_documented_scheme() -> None:
    import hashlib
    import hmac

    body = b'{"text":"x"}'
    expected = hmac.new(b"k", b"1714566896." + body, hashlib.sha256).hexdigest()
    assert sign("k", "1714566896", body) == f"sha256={expected}"


def test_verify_signature_accepts_fresh_and_refuses_stale_or_altered() -> None:
    body = b'{"text":"hello"}'
    now = 1_714_566_896
    timestamp = str(now)
    signature = sign("k", timestamp, body)
    assert verify_signature("k", timestamp, signature, body, now=now + 299)
    assert not verify_signature("k", timestamp, signature, body, now=now + 301)
    assert not verify_signature("k", timestamp, signature, body, now=now - 301)
    assert not verify_signature("other", timestamp, signature, body, now=now)
    assert not verify_signature("k", timestamp, signature, body + b" ", now=now)
    assert not verify_signature("k", str(now + 1), signature, body, now=now)
    assert not verify_signature("k", None, signature, body, now=now)
    assert not verify_signature("k", "soon", signature, body, now=now)
