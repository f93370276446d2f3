"""Email against a real SMTP server run by the test (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import logging
import time

import pytest

from bot.server.escalation import Notifier
from tests.server.escalation.conftest import (
    FAST,
    STAFF_INBOX,
    Certificate,
    Inbox,
    SmtpServer,
    assert_no_content,
    caller_conversation,
    escalation_from,
    free_port,
    running_smtp,
    settings_for,
)


def email_env(server: SmtpServer, security: str = "none", **extra: str) -> dict:
    return {
        "NOTIFY_SMTP_HOST": server.host,
        "NOTIFY_SMTP_PORT": str(server.port),
        "NOTIFY_SMTP_SECURITY": security,
        "NOTIFY_EMAIL_FROM": "TMS assistant <assistant@example-clinic.org>",
        "NOTIFY_EMAIL_TO": "desk@example-clinic.org, nurse@example-clinic.org",
        **extra,
    }


async def test_mail_arrives_without_auth_or_tls(smtp_server: SmtpServer) -> None:
    notifier = Notifier(settings_for(**email_env(smtp_server)), **FAST)
    escalation = escalation_from(caller_conversation(), "asked_for_person")
    await notifier.notify(escalation)
    await notifier.drain()
    await notifier.close()

    inbox = smtp_server.inbox
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "assistant@example-clinic.org"
    assert sorted(envelope.rcpt_tos) == ["desk@example-clinic.org", "nurse@example-clinic.org"]
    mail = inbox.mails()[0]
    assert mail["Subject"] == "Someone asked to talk with a person (website)"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Importance"] is None
    body = mail.get_content()
    link = f"{STAFF_INBOX}/conversations/{escalation.conversation_ref}"
    assert f"Open the conversation: {link}" in body
    assert "Someone using the assistant on the website asked to talk with a person." in body
    assert "2024-05-01T12:34:56Z" in body
    assert_no_content(envelope.original_content, body)
    assert inbox.logins == []


async def test_crisis_mail_is_marked_urgent(smtp_server: SmtpServer) -> None:
    notifier = Notifier(settings_for(**email_env(smtp_server)), **FAST)
    await notifier.notify(escalation_from(caller_conversation(), "crisis", channel="twilio"))
    await notifier.drain()
    await notifier.close()

    (mail,) = smtp_server.inbox.mails()
    assert mail["Subject"].startswith("URGENT:")
    assert mail["Importance"] == "high"
    assert mail.get_content().startswith("URGENT: Someone using the assistant by text message")
    assert_no_content(smtp_server.inbox.envelopes[0].original_content)


async def test_login_when_user_and_password_are_set() -> None:
    inbox = Inbox()
    with running_smtp(inbox, authenticator=inbox.authenticate, auth_require_tls=False) as server:
        env = email_env(server, NOTIFY_SMTP_USER="assistant", NOTIFY_SMTP_PASSWORD="smtp-pass")
        notifier = Notifier(settings_for(**env), **FAST)
        await notifier.notify(escalation_from(caller_conversation(), "asked_for_person"))
        await notifier.drain()
        await notifier.close()
    assert inbox.logins == ["assistant"]
    assert len(inbox.envelopes) == 1


async def test_starttls_verified_against_the_server_certificate(certificate: Certificate) -> None:
    inbox = Inbox()
    with running_smtp(inbox, tls_context=certificate.server_context(), require_starttls=True) as server:
        settings = settings_for(**email_env(server, security="starttls"))
        notifier = Notifier(settings, ssl_context=certificate.client_context(), **FAST)
        await notifier.notify(escalation_from(caller_conversation(), "crisis"))
        await notifier.drain()
        await notifier.close()
    assert len(inbox.envelopes) == 1
    assert inbox.mails()[0]["Subject"].startswith("URGENT:")


async def test_starttls_refuses_an_unknown_certificate(
    certificate: Certificate, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Inbox()
    with running_smtp(inbox, tls_context=certificate.server_context()) as server:
        settings = settings_for(**email_env(server, security="starttls"), NOTIFY_MAX_ATTEMPTS="2")
        notifier = Notifier(settings, **FAST)  # system CAs: the self-signed certificate fails
        await notifier.notify(escalation_from(caller_conversation(), "crisis"))
        await notifier.drain()
        await notifier.close()
    assert inbox.envelopes == []
    assert "SSLCertVerificationError" in caplog.text


async def test_implicit_tls(certificate: Certificate) -> None:
    inbox = Inbox()
    with running_smtp(inbox, ssl_context=certificate.server_context()) as server:
        settings = settings_for(**email_env(server, security="tls"))
        notifier = Notifier(settings, ssl_context=certificate.client_context(), **FAST)
        await notifier.notify(escalation_from(caller_conversation(), "repeated_misses"))
        await notifier.drain()
        await notifier.close()
    assert len(inbox.envelopes) == 1


async def test_temporary_refusal_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.server.escalation")
    inbox = Inbox(fail_first=2)
    with running_smtp(inbox) as server:
        notifier = Notifier(settings_for(**email_env(server)), **FAST)
        await notifier.notify(escalation_from(caller_conversation(), "asked_for_person"))
        await notifier.drain()
        await notifier.close()
    assert inbox.attempts == 3
    assert len(inbox.envelopes) == 1
    assert "SMTPDataError(451)" in caplog.text
    assert "via=email attempt=3/5" in caplog.text


async def test_unreachable_server_gives_up_without_raising_or_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    closed = SmtpServer("127.0.0.1", free_port(), Inbox())
    notifier = Notifier(settings_for(**email_env(closed), NOTIFY_MAX_ATTEMPTS="3"), **FAST)
    escalation = escalation_from(caller_conversation(), "crisis")
    started = time.monotonic()
    await notifier.notify(escalation)
    assert time.monotonic() - started < 0.05
    await notifier.drain()
    await notifier.close()
    failures = [r for r in caplog.records if r.name == "bot.server.escalation.notify" and "via=email" in r.getMessage()]
    assert [r.levelname for r in failures] == ["WARNING", "WARNING", "ERROR"]
    assert "gave up" in failures[-1].getMessage()
    assert "ConnectionRefusedError" in failures[-1].getMessage()
    assert escalation.id in failures[-1].getMessage()
    assert_no_content(caplog.text, *(r.getMessage() for r in caplog.records))
