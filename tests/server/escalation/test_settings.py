"""NOTIFY_* variables: channels off when absent, a clear ValueError naming the variable when wrong."""

from __future__ import annotations

import os
from typing import Dict

import pytest

from bot.server.escalation import NotificationSettings

INBOX = {"STAFF_INBOX_URL": "https://staff.example-clinic.org/"}
EMAIL = {
    **INBOX,
    "NOTIFY_SMTP_HOST": "smtp.example-clinic.org",
    "NOTIFY_EMAIL_FROM": "Assistant <assistant@example-clinic.org>",
    "NOTIFY_EMAIL_TO": "desk@example-clinic.org, nurse@example-clinic.org ,",
}


def test_nothing_set_means_every_channel_off() -> None:
    settings = NotificationSettings.from_env({})
    assert settings.email is None
    assert settings.webhook is None
    assert not settings.enabled
    assert settings.max_attempts == 5


def test_email_defaults_and_recipient_list() -> None:
    settings = NotificationSettings.from_env(EMAIL)
    assert settings.enabled
    assert settings.email is not None
    assert settings.email.port == 587
    assert settings.email.security == "starttls"
    assert settings.email.recipients == ("desk@example-clinic.org", "nurse@example-clinic.org")
    assert settings.email.user is None
    assert settings.staff_inbox_url == "https://staff.example-clinic.org"
    assert settings.webhook is None


def test_every_variable_read() -> None:
    settings = NotificationSettings.from_env(
        {
            **EMAIL,
            "NOTIFY_SMTP_PORT": "465",
            "NOTIFY_SMTP_SECURITY": "TLS",
            "NOTIFY_SMTP_USER": "assistant",
            "NOTIFY_SMTP_PASSWORD": "hunter2-smtp",
            "NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XYZ",
            "NOTIFY_WEBHOOK_SECRET": "hunter2-hook",
            "NOTIFY_MAX_ATTEMPTS": "3",
        }
    )
    assert settings.email is not None and settings.webhook is not None
    assert (settings.email.port, settings.email.security) == (465, "tls")
    assert (settings.email.user, settings.email.password) == ("assistant", "hunter2-smtp")
    assert settings.webhook.url == "https://hooks.slack.com/services/T0/B0/XYZ"
    assert settings.webhook.secret == "hunter2-hook"
    assert settings.max_attempts == 3
    # Settings end up in logs and tracebacks: secrets stay out of repr.
    assert "hunter2" not in repr(settings)


def test_webhook_without_secret_is_allowed() -> None:
    settings = NotificationSettings.from_env({**INBOX, "NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/x"})
    assert settings.webhook is not None and settings.webhook.secret is None
    assert settings.email is None


def test_empty_values_count_as_absent() -> None:
    settings = NotificationSettings.from_env(
        {"NOTIFY_SMTP_HOST": "", "NOTIFY_WEBHOOK_URL": "  ", "NOTIFY_MAX_ATTEMPTS": ""}
    )
    assert not settings.enabled
    assert settings.max_attempts == 5


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({**EMAIL, "NOTIFY_SMTP_PORT": "smtp"}, "NOTIFY_SMTP_PORT"),
        ({**EMAIL, "NOTIFY_SMTP_PORT": "0"}, "NOTIFY_SMTP_PORT"),
        ({**EMAIL, "NOTIFY_SMTP_PORT": "70000"}, "NOTIFY_SMTP_PORT"),
        ({**EMAIL, "NOTIFY_SMTP_SECURITY": "ssl"}, "NOTIFY_SMTP_SECURITY"),
        ({**INBOX, "NOTIFY_WEBHOOK_URL": "ftp://hooks.example.org/x"}, "NOTIFY_WEBHOOK_URL"),
        ({**INBOX, "NOTIFY_WEBHOOK_URL": "hooks.example.org/x"}, "NOTIFY_WEBHOOK_URL"),
        ({**INBOX, "NOTIFY_WEBHOOK_URL": "https://"}, "NOTIFY_WEBHOOK_URL"),
        ({**INBOX, "NOTIFY_WEBHOOK_SECRET": "s"}, "NOTIFY_WEBHOOK_URL"),
        ({**INBOX, "NOTIFY_SMTP_HOST": "smtp.x.org", "NOTIFY_EMAIL_TO": "a@x.org"}, "NOTIFY_EMAIL_FROM"),
        ({**INBOX, "NOTIFY_SMTP_HOST": "smtp.x.org", "NOTIFY_EMAIL_FROM": "a@x.org"}, "NOTIFY_EMAIL_TO"),
        ({**EMAIL, "NOTIFY_EMAIL_TO": " , "}, "NOTIFY_EMAIL_TO"),
        ({**EMAIL, "NOTIFY_EMAIL_TO": "desk@x.org, not-an-address"}, "NOTIFY_EMAIL_TO"),
        ({**EMAIL, "NOTIFY_EMAIL_FROM": "a@x.org\r\nBcc: b@y.org"}, "NOTIFY_EMAIL_FROM"),
        ({**INBOX, "NOTIFY_EMAIL_TO": "a@x.org"}, "NOTIFY_SMTP_HOST"),
        ({**EMAIL, "NOTIFY_SMTP_USER": "assistant"}, "NOTIFY_SMTP_PASSWORD"),
        ({**EMAIL, "NOTIFY_SMTP_PASSWORD": "p"}, "NOTIFY_SMTP_USER"),
        (
            {**EMAIL, "NOTIFY_SMTP_SECURITY": "none", "NOTIFY_SMTP_USER": "u", "NOTIFY_SMTP_PASSWORD": "p"},
            "NOTIFY_SMTP_SECURITY",
        ),
        ({**EMAIL, "NOTIFY_MAX_ATTEMPTS": "0"}, "NOTIFY_MAX_ATTEMPTS"),
        ({**EMAIL, "NOTIFY_MAX_ATTEMPTS": "many"}, "NOTIFY_MAX_ATTEMPTS"),
        ({**EMAIL, "STAFF_INBOX_URL": ""}, "STAFF_INBOX_URL"),
        ({**EMAIL, "STAFF_INBOX_URL": "staff.example-clinic.org"}, "STAFF_INBOX_URL"),
    ],
)
def test_invalid_settings_name_the_variable(env: Dict[str, str], variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        NotificationSettings.from_env(env)


def test_webhook_url_error_does_not_echo_the_url() -> None:
    # Slack and Teams URLs are credentials.
    with pytest.raises(ValueError) as error:
        NotificationSettings.from_env({**INBOX, "NOTIFY_WEBHOOK_URL": "hooks.slack.com/T0/SECRETTOKEN"})
    assert "SECRETTOKEN" not in str(error.value)


def test_credentials_without_tls_allowed_to_this_machine_only() -> None:
    settings = NotificationSettings.from_env(
        {
            **EMAIL,
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_SECURITY": "none",
            "NOTIFY_SMTP_USER": "u",
            "NOTIFY_SMTP_PASSWORD": "p",
        }
    )
    assert settings.email is not None and settings.email.security == "none"


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("NOTIFY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("STAFF_INBOX_URL", "https://inbox.example.org")
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.org/in")
    monkeypatch.setenv("NOTIFY_MAX_ATTEMPTS", "2")
    settings = NotificationSettings.from_env()
    assert settings.webhook is not None and settings.webhook.url == "https://hooks.example.org/in"
    assert settings.max_attempts == 2
